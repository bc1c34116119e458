//! `tapedeck playlist ...`: static and smart playlists stored in the library, and M3U/PLS import
//! and M3U8 export. Also resolves `-p NAME` for every command that selects tracks.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;

use super::{SelectArgs, Settings, now, output};
use crate::db::query::Selection;
use crate::db::{Library, Playlist};
use crate::error::UsageError;
use crate::playlist::PlaylistError;
use crate::playlist::file::{self as playlist_file, Entry};
use crate::query::{self, Query};
use crate::scan::walk::io_reason;

#[derive(Debug, Subcommand)]
pub enum PlaylistCmd {
    /// Create a playlist: static, or smart with --query
    New {
        /// The new playlist's name
        name: String,
        /// Make it a smart playlist: this query, evaluated each time it is used
        #[arg(long, value_name = "QUERY")]
        query: Option<String>,
        /// Sort order of a smart playlist, as in 'year+ album+'
        #[arg(long, value_name = "KEYS", requires = "query")]
        sort: Option<String>,
        /// Keep only the first N tracks of a smart playlist
        #[arg(long, value_name = "N", requires = "query")]
        limit: Option<u64>,
        /// Keep only as many tracks of a smart playlist as fit in this many minutes
        #[arg(long, value_name = "M", requires = "query")]
        minutes: Option<f64>,
    },
    /// Append the tracks a query selects (album order unless it sorts)
    Add {
        /// The static playlist to append to
        #[arg(value_name = "PLAYLIST")]
        name: String,
        #[command(flatten)]
        select: SelectArgs,
    },
    /// Remove entries by position (1 is the first), or the tracks a query selects
    Rm {
        /// The static playlist to remove from
        #[arg(value_name = "PLAYLIST")]
        name: String,
        /// Positions, or query terms
        #[arg(required = true)]
        what: Vec<String>,
    },
    /// Move the entry at FROM to position TO
    Move {
        /// The static playlist
        #[arg(value_name = "PLAYLIST")]
        name: String,
        /// Position of the entry to move (1 is the first, as `playlist show` numbers them)
        from: usize,
        /// Position it ends up at
        to: usize,
    },
    /// List a playlist's tracks in order, numbered by position
    Show {
        /// The playlist
        #[arg(value_name = "PLAYLIST")]
        name: String,
        /// One JSON object per track, per line, with its position
        #[arg(long)]
        json: bool,
        /// One absolute path per line, for piping
        #[arg(long, conflicts_with = "json")]
        paths: bool,
    },
    /// List playlists with their track counts (a smart playlist's evaluated now)
    Ls {
        /// One JSON object per playlist, per line
        #[arg(long, conflicts_with = "names")]
        json: bool,
        /// Only the names, one a line (for scripts and shell completion)
        #[arg(long)]
        names: bool,
    },
    /// Give a playlist another name
    Rename {
        /// The playlist's current name
        #[arg(value_name = "PLAYLIST")]
        name: String,
        /// Its new name
        new_name: String,
    },
    /// Delete a playlist (its tracks stay in the library)
    Delete {
        /// The playlist
        #[arg(value_name = "PLAYLIST")]
        name: String,
    },
    /// Read an M3U, M3U8 or PLS file into a static playlist
    Import {
        /// The playlist file
        file: PathBuf,
        /// Playlist name [default: the file name without extension]
        #[arg(long)]
        name: Option<String>,
    },
    /// Write a playlist as M3U8
    Export {
        /// The playlist
        #[arg(value_name = "PLAYLIST")]
        name: String,
        /// Output file (`-` for stdout)
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Write paths relative to this folder instead of absolute
        #[arg(long, value_name = "DIR")]
        relative_to: Option<PathBuf>,
        /// Replace FILE if it exists (never a track of the library)
        #[arg(long)]
        force: bool,
    },
}

impl PlaylistCmd {
    /// Whether the command changes the library (`ls`, `show` and `export` only read it).
    pub(super) fn writes_library(&self) -> bool {
        match self {
            PlaylistCmd::New { .. }
            | PlaylistCmd::Add { .. }
            | PlaylistCmd::Rm { .. }
            | PlaylistCmd::Move { .. }
            | PlaylistCmd::Rename { .. }
            | PlaylistCmd::Delete { .. }
            | PlaylistCmd::Import { .. } => true,
            PlaylistCmd::Show { .. } | PlaylistCmd::Ls { .. } | PlaylistCmd::Export { .. } => false,
        }
    }
}

/// The playlist called `name`, or a usage error with the closest name.
pub(super) fn find(lib: &Library, name: &str) -> Result<Playlist> {
    crate::playlist::find(lib, name).map_err(error)
}

/// The tracks of a playlist in order, a smart playlist's query evaluated now.
pub(super) fn track_ids(lib: &Library, p: &Playlist) -> Result<Vec<i64>> {
    crate::playlist::track_ids(lib, p, now()).map_err(error)
}

/// A playlist error as the command line reports it: a missing playlist is a usage error that
/// says how to list them.
fn error(e: PlaylistError) -> anyhow::Error {
    match e {
        e @ PlaylistError::NotFound { .. } => {
            UsageError(format!("{e}; `tapedeck playlist ls` lists them")).into()
        }
        e => e.into(),
    }
}

fn static_only(p: &Playlist) -> Result<()> {
    if p.query.is_some() {
        return Err(UsageError(format!(
            "`{}` is a smart playlist: its tracks come from its query",
            p.name
        ))
        .into());
    }
    Ok(())
}

/// The tracks a command's query and `-p NAME` select, in album order; none is a usage error
/// ("nothing matches").
pub fn selected_tracks(lib: &Library, select: &SelectArgs) -> Result<Vec<crate::model::Track>> {
    let (q, within) = resolve(lib, select)?;
    let tracks = lib.tracks(&Selection {
        query: Some(&q),
        random: false,
        limit: None,
        within,
    })?;
    if tracks.is_empty() {
        return Err(UsageError("nothing matches".into()).into());
    }
    Ok(tracks)
}

/// Resolves `-p NAME` and the query terms of a command into a query and whether it draws from a
/// loaded playlist.
pub fn resolve(lib: &Library, select: &SelectArgs) -> Result<(Query, bool)> {
    let q = select.parse()?;
    let Some(name) = &select.playlist else {
        return Ok((q, false));
    };
    let p = find(lib, name)?;
    lib.load_selection(&track_ids(lib, &p)?)?;
    Ok((q, true))
}

fn positions(what: &[String], len: usize) -> Option<Result<Vec<usize>>> {
    let nums: Option<Vec<usize>> = what.iter().map(|w| w.parse().ok()).collect();
    let nums = nums?;
    Some(
        nums.into_iter()
            .map(|n| {
                if n == 0 || n > len {
                    Err(
                        UsageError(format!("no entry at position {n}: the playlist has {len}"))
                            .into(),
                    )
                } else {
                    Ok(n - 1)
                }
            })
            .collect(),
    )
}

pub fn run(ctx: &Settings, cmd: PlaylistCmd, out: &mut dyn Write) -> Result<()> {
    let mut lib = ctx.open_library()?;
    match cmd {
        PlaylistCmd::New {
            name,
            query,
            sort,
            limit,
            minutes,
        } => {
            if name.trim().is_empty() {
                return Err(UsageError("a playlist needs a name".into()).into());
            }
            if let Some(q) = &query {
                query::parse_str(q, now())
                    .map_err(|e| UsageError(format!("invalid --query: {e}")))?;
            }
            if let Some(sort) = &sort {
                query::parse_sort(sort).map_err(|e| UsageError(format!("invalid --sort: {e}")))?;
            }
            if lib.playlist(&name)?.is_some() {
                return Err(UsageError(format!("a playlist named `{name}` already exists")).into());
            }
            let p = Playlist {
                id: 0,
                name,
                query,
                sort,
                limit,
                minutes,
                entries: 0,
            };
            lib.write(|w| w.create_playlist(&p, now()).map_err(anyhow::Error::from))?;
            if !ctx.quiet {
                writeln!(
                    out,
                    "created {} playlist `{}`",
                    if p.query.is_some() { "smart" } else { "static" },
                    output::escape(&p.name)
                )?;
            }
        }
        PlaylistCmd::Add { name, select } => {
            let p = find(&lib, &name)?;
            static_only(&p)?;
            let (q, within) = resolve(&lib, &select)?;
            let add = lib.track_ids(&Selection {
                query: Some(&q),
                within,
                ..Selection::default()
            })?;
            let mut ids = lib.playlist_entries(p.id)?;
            ids.extend(&add);
            lib.write(|w| {
                w.set_playlist_entries(p.id, &ids)
                    .map_err(anyhow::Error::from)
            })?;
            if !ctx.quiet {
                writeln!(
                    out,
                    "added {} to `{}` ({} in all)",
                    output::count(add.len(), "track", "tracks"),
                    output::escape(&p.name),
                    ids.len()
                )?;
            }
        }
        PlaylistCmd::Rm { name, what } => {
            let p = find(&lib, &name)?;
            static_only(&p)?;
            let ids = lib.playlist_entries(p.id)?;
            let keep: Vec<i64> = match positions(&what, ids.len()) {
                Some(pos) => {
                    let pos = pos?;
                    ids.iter()
                        .enumerate()
                        .filter(|(i, _)| !pos.contains(i))
                        .map(|(_, id)| *id)
                        .collect()
                }
                None => {
                    let q = query::parse(&what, now())
                        .map_err(|e| UsageError(format!("invalid query: {e}")))?;
                    let drop: std::collections::HashSet<i64> = lib
                        .track_ids(&Selection {
                            query: Some(&q),
                            ..Selection::default()
                        })?
                        .into_iter()
                        .collect();
                    ids.iter()
                        .copied()
                        .filter(|id| !drop.contains(id))
                        .collect()
                }
            };
            let removed = ids.len() - keep.len();
            lib.write(|w| {
                w.set_playlist_entries(p.id, &keep)
                    .map_err(anyhow::Error::from)
            })?;
            if !ctx.quiet {
                writeln!(
                    out,
                    "removed {} from `{}` ({} left)",
                    output::count(removed, "entry", "entries"),
                    output::escape(&p.name),
                    keep.len()
                )?;
            }
        }
        PlaylistCmd::Move { name, from, to } => {
            let p = find(&lib, &name)?;
            static_only(&p)?;
            let mut ids = lib.playlist_entries(p.id)?;
            let len = ids.len();
            for n in [from, to] {
                if n == 0 || n > len {
                    return Err(UsageError(format!(
                        "no entry at position {n}: the playlist has {len}"
                    ))
                    .into());
                }
            }
            let id = ids.remove(from - 1);
            ids.insert(to - 1, id);
            lib.write(|w| {
                w.set_playlist_entries(p.id, &ids)
                    .map_err(anyhow::Error::from)
            })?;
            if !ctx.quiet {
                writeln!(
                    out,
                    "moved entry {from} of `{}` to position {to}",
                    output::escape(&p.name)
                )?;
            }
        }
        PlaylistCmd::Show { name, json, paths } => {
            let p = find(&lib, &name)?;
            let ids = track_ids(&lib, &p)?;
            lib.load_selection(&ids)?;
            let mode = output::ListMode::from_flags(
                json,
                paths,
                None,
                ctx.config.list_format.as_ref().map(|s| s.value.as_str()),
            )?;
            let sel = Selection {
                within: true,
                ..Selection::default()
            };
            if paths {
                super::list_tracks(&lib, &sel, &mode, out)?;
            } else {
                // Numbered as `move` and `rm` count: 1 is the first entry.
                let width = ids.len().to_string().len();
                let mut position = 0;
                lib.for_each_track(&sel, |t| {
                    position += 1;
                    output::numbered_track(out, position, width, &t, json)
                })??;
            }
        }
        PlaylistCmd::Ls { json, names } => {
            for mut p in lib.playlists()? {
                if names {
                    writeln!(out, "{}", output::escape(&p.name))?;
                    continue;
                }
                // A smart playlist's count is what its query selects now.
                if p.query.is_some() {
                    match track_ids(&lib, &p) {
                        Ok(ids) => p.entries = ids.len() as u64,
                        Err(e) => super::style::warn(format_args!("{e:#}")),
                    }
                }
                output::playlist(out, &p, json)?;
            }
        }
        PlaylistCmd::Rename { name, new_name } => {
            let p = find(&lib, &name)?;
            if let Some(other) = lib.playlist(&new_name)?
                && other.id != p.id
            {
                return Err(
                    UsageError(format!("a playlist named `{new_name}` already exists")).into(),
                );
            }
            lib.write(|w| {
                w.rename_playlist(p.id, &new_name)
                    .map_err(anyhow::Error::from)
            })?;
            if !ctx.quiet {
                writeln!(
                    out,
                    "renamed playlist `{}` to `{}`",
                    output::escape(&p.name),
                    output::escape(&new_name)
                )?;
            }
        }
        PlaylistCmd::Delete { name } => {
            let p = find(&lib, &name)?;
            lib.write(|w| w.delete_playlist(p.id).map_err(anyhow::Error::from))?;
            if !ctx.quiet {
                let (kind, size) = match &p.query {
                    Some(_) => ("smart ", String::new()),
                    None => (
                        "",
                        format!(" ({})", output::count(p.entries, "entry", "entries")),
                    ),
                };
                writeln!(
                    out,
                    "deleted {kind}playlist `{}`{size}; its tracks stay in the library",
                    output::escape(&p.name)
                )?;
            }
        }
        PlaylistCmd::Import { file, name } => import(ctx, &mut lib, &file, name, out)?,
        PlaylistCmd::Export {
            name,
            output,
            relative_to,
            force,
        } => {
            let p = find(&lib, &name)?;
            lib.load_selection(&track_ids(&lib, &p)?)?;
            let base = match &relative_to {
                Some(dir) => Some(std::fs::canonicalize(dir).map_err(|e| {
                    UsageError(format!(
                        "--relative-to {}: {}",
                        dir.display(),
                        crate::scan::walk::io_reason(&e)
                    ))
                })?),
                None => None,
            };
            let mut entries = Vec::new();
            lib.for_each_track(
                &Selection {
                    within: true,
                    ..Selection::default()
                },
                |t| {
                    let location = match &base {
                        Some(b) => playlist_file::relative_path(&t.path, b)
                            .unwrap_or_else(|| t.path.clone()),
                        None => t.path.clone(),
                    };
                    let title = match &t.artist {
                        Some(a) => format!("{a} - {}", t.title),
                        None => t.title.clone(),
                    };
                    entries.push(Entry {
                        location: location.to_string_lossy().into_owned(),
                        title: Some(title),
                        duration: Some(t.duration),
                    });
                    Ok(())
                },
            )??;
            let text = playlist_file::write_m3u8(&entries);
            if output.as_os_str() == "-" {
                out.write_all(text.as_bytes())?;
            } else {
                write_new(&lib, &output, text.as_bytes(), force)?;
                if !ctx.quiet {
                    writeln!(
                        out,
                        "wrote {} to {}",
                        output::count(entries.len(), "entry", "entries"),
                        output.display()
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// Writes a file through a temporary name in the same folder, so a reader never sees half of
/// it. An existing file is replaced only with `force`, and a library track never.
fn write_new(lib: &Library, path: &Path, data: &[u8], force: bool) -> Result<()> {
    let mut protected = Vec::new();
    if let Ok(full) = std::fs::canonicalize(path)
        && lib.track_id_by_path(&full)?.is_some()
    {
        protected.push(full);
    }
    let mut file =
        crate::target::OutputFile::create(path, force, &protected).map_err(|e| match e {
            crate::target::Error::Exists { .. } => {
                anyhow::anyhow!("{} exists; pass --force to replace it", path.display())
            }
            e => e.into(),
        })?;
    file.file()
        .write_all(data)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.commit()?;
    Ok(())
}

/// The largest playlist file `import` reads: a playlist of 100,000 entries with titles is a few
/// megabytes.
const MAX_PLAYLIST_BYTES: u64 = 16 * 1024 * 1024;
/// The most entries an imported playlist may have.
const MAX_PLAYLIST_ENTRIES: usize = 100_000;

/// Reads a playlist file for `import`: only a regular file (a FIFO, device, socket or folder is
/// refused by name without being opened for reading, and the open itself cannot block), and at
/// most [`MAX_PLAYLIST_BYTES`], even if the file grows while it is read.
fn read_playlist_file(file: &Path) -> Result<Vec<u8>> {
    let refuse = |why: String| -> anyhow::Error {
        UsageError(format!(
            "cannot import {}: {why}",
            output::escape_path(file)
        ))
        .into()
    };
    let too_big = || {
        refuse(format!(
            "it is larger than {} MiB, the most a playlist file may be",
            MAX_PLAYLIST_BYTES >> 20
        ))
    };
    let meta = std::fs::metadata(file).map_err(|e| refuse(io_reason(&e)))?;
    if !meta.is_file() {
        return Err(refuse(format!(
            "it is {}, not a playlist file",
            crate::scan::walk::kind_of(&meta.file_type())
        )));
    }
    if meta.len() > MAX_PLAYLIST_BYTES {
        return Err(too_big());
    }
    // Opened non-blocking and checked again: it may have been replaced since the look above.
    let (handle, _) = crate::scan::open_regular(file).map_err(|e| refuse(io_reason(&e)))?;
    let mut bytes = Vec::new();
    handle
        .take(MAX_PLAYLIST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| refuse(io_reason(&e)))?;
    if bytes.len() as u64 > MAX_PLAYLIST_BYTES {
        return Err(too_big());
    }
    Ok(bytes)
}

/// 100000 as "100,000".
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn import(
    ctx: &Settings,
    lib: &mut Library,
    file: &Path,
    name: Option<String>,
    out: &mut dyn Write,
) -> Result<()> {
    let bytes = read_playlist_file(file)?;
    let name = match name {
        Some(n) => n,
        None => file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "imported".into()),
    };
    if lib.playlist(&name)?.is_some() {
        bail!(UsageError(format!(
            "a playlist named `{}` already exists; choose another with --name",
            output::escape(&name)
        )));
    }
    let base = std::fs::canonicalize(file)?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let entries =
        playlist_file::parse_at_most(&file.to_string_lossy(), &bytes, MAX_PLAYLIST_ENTRIES)
            .map_err(|e| {
                UsageError(format!(
                    "cannot import {}: it has more than {} entries, the most a playlist may have",
                    output::escape_path(file),
                    thousands(e.limit)
                ))
            })?;
    let mut ids = Vec::new();
    let mut missing = 0;
    for e in &entries {
        let found = if playlist_file::is_remote(&e.location) {
            None
        } else {
            let mut found = None;
            for cand in playlist_file::candidates(&e.location, &base) {
                if let Some(id) = lib.track_id_by_path(&cand)? {
                    found = Some(id);
                    break;
                }
                // The library stores canonical paths; a playlist may reach a file through a link.
                if let Ok(real) = std::fs::canonicalize(&cand)
                    && let Some(id) = lib.track_id_by_path(&real)?
                {
                    found = Some(id);
                    break;
                }
            }
            found
        };
        match found {
            Some(id) => ids.push(id),
            None => {
                missing += 1;
                let why = if playlist_file::is_remote(&e.location) {
                    "a stream, not a file"
                } else {
                    "not in the library"
                };
                super::style::warn(format_args!(
                    "{}: entry `{}` is {why}",
                    output::escape_path(file),
                    output::escape(&e.location)
                ));
            }
        }
    }
    let p = Playlist {
        id: 0,
        name: name.clone(),
        query: None,
        sort: None,
        limit: None,
        minutes: None,
        entries: 0,
    };
    lib.write(|w| -> Result<()> {
        let id = w.create_playlist(&p, now())?;
        w.set_playlist_entries(id, &ids)?;
        Ok(())
    })?;
    if !ctx.quiet {
        writeln!(
            out,
            "imported {} of {} into `{}`; {missing} not found",
            ids.len(),
            output::count(entries.len(), "entry", "entries"),
            output::escape(&name)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn positions_are_one_based_and_checked() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            positions(&args(&["1", "3"]), 3).unwrap().unwrap(),
            vec![0, 2]
        );
        assert!(positions(&args(&["4"]), 3).unwrap().is_err());
        assert!(positions(&args(&["0"]), 3).unwrap().is_err());
        assert!(positions(&args(&["artist:x"]), 3).is_none());
    }
}
