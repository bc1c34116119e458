//! Walking a root: which files are music, which entries are hidden, and which parts of the tree
//! could not be read. Only `stat` happens here; no file is opened.
//!
//! Symbolic links are followed (libraries often link in folders from other drives); walkdir
//! detects loops, which become problem records instead of endless walks. FIFOs, sockets and
//! devices are never opened, even when their names end in `.mp3`.
//!
//! A folder that tapedeck writes into (a `convert --to` or `export --to` target) holds a
//! [`TARGET_MARKER`] folder at its top. Its files are copies of the library, not sources, so it
//! is skipped whole unless the caller asks for targets.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use walkdir::WalkDir;

use crate::model::{is_hidden_name, is_music_name};

/// A music file found by the walk, with the facts that decide whether it must be read.
#[derive(Debug, Clone)]
pub struct SeenFile {
    pub path: PathBuf,
    pub size: i64,
    pub mtime: i64,
}

/// Something under a root that cannot be indexed, found without opening any file.
#[derive(Debug, Clone)]
pub struct WalkProblem {
    pub path: PathBuf,
    pub reason: String,
}

/// The folder convert and export keep at the top of a folder they write into.
pub const TARGET_MARKER: &str = crate::target::DIR;

/// Whether `dir` is a folder tapedeck writes into: it holds a [`TARGET_MARKER`] folder.
pub fn is_target(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir.join(TARGET_MARKER)).is_ok_and(|m| m.is_dir())
}

#[derive(Debug, Default)]
pub struct Walked {
    pub files: Vec<SeenFile>,
    /// Hidden files and folders skipped (a skipped folder counts once).
    pub hidden: u64,
    /// Folders skipped because tapedeck writes into them (see [`is_target`]).
    pub targets: Vec<PathBuf>,
    pub problems: Vec<WalkProblem>,
    /// Paths whose contents could not be listed: what the library knows under them is kept.
    pub unreadable: Vec<PathBuf>,
}

/// Modification time in nanoseconds since the epoch.
pub fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(meta.mtime_nsec())
}

/// Walks one root. `seen` is called with the running count of music files found. `take` is
/// offered each music file as it is found: it keeps the ones it wants handled now (a file the
/// library does not know yet goes straight to the readers) and hands back the rest, which are
/// `stat`ed and listed in `out.files`.
pub fn walk(
    root: &Path,
    include_hidden: bool,
    include_targets: bool,
    out: &mut Walked,
    mut seen: impl FnMut(usize),
    mut take: impl FnMut(PathBuf) -> Option<PathBuf>,
) {
    let mut found = 0usize;
    let mut hidden = 0u64;
    let mut targets: Vec<PathBuf> = Vec::new();
    let mut candidates: Vec<PathBuf> = Vec::new();
    let walker = WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            if !include_hidden && e.depth() > 0 && is_hidden_name(e.file_name().as_bytes()) {
                hidden += 1;
                return false;
            }
            // One extra `stat` per folder (not per file); the root itself may be a target too.
            if !include_targets && e.file_type().is_dir() && is_target(e.path()) {
                targets.push(e.path().to_path_buf());
                return false;
            }
            true
        });
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                let path = err.path().unwrap_or(root).to_path_buf();
                let reason = if let Some(ancestor) = err.loop_ancestor() {
                    format!("symbolic link loop back to {}", ancestor.display())
                } else if let Some(io) = err.io_error() {
                    match std::fs::symlink_metadata(&path) {
                        Ok(m)
                            if m.file_type().is_symlink() && std::fs::metadata(&path).is_err() =>
                        {
                            // A dangling link is only worth a word when it looks like music.
                            if !is_music_name(path.as_os_str().as_bytes()) {
                                continue;
                            }
                            "broken symbolic link".to_string()
                        }
                        Ok(m) if m.is_dir() => format!("cannot read folder: {}", io_reason(io)),
                        _ => format!("cannot read: {}", io_reason(io)),
                    }
                } else {
                    err.to_string()
                };
                out.unreadable.push(path.clone());
                out.problems.push(WalkProblem { path, reason });
                continue;
            }
        };
        let ft = entry.file_type();
        if ft.is_dir() || !is_music_name(entry.file_name().as_bytes()) {
            continue;
        }
        if !ft.is_file() {
            out.problems.push(WalkProblem {
                path: entry.into_path(),
                reason: format!("not a regular file: {}", kind_of(&ft)),
            });
            continue;
        }
        found += 1;
        seen(found);
        if let Some(path) = take(entry.into_path()) {
            candidates.push(path);
        }
    }
    out.hidden += hidden;
    out.targets.extend(targets);
    // Size and mtime need a `stat` per file, which is most of a no-change rescan; the directory
    // walk itself gets file types from the directory entries. Spread the stats over the cores.
    let stats: Vec<std::io::Result<(i64, i64)>> = candidates
        .par_iter()
        .map(|p| std::fs::metadata(p).map(|m| (m.len() as i64, mtime_ns(&m))))
        .collect();
    out.files.reserve(candidates.len());
    for (path, stat) in candidates.into_iter().zip(stats) {
        match stat {
            Ok((size, mtime)) => out.files.push(SeenFile { path, size, mtime }),
            Err(e) => {
                out.unreadable.push(path.clone());
                out.problems.push(WalkProblem {
                    path,
                    reason: format!("cannot read: {}", io_reason(&e)),
                });
            }
        }
    }
}

/// What a file type is, in words: "a named pipe (FIFO)", "a socket", "a device", "a folder".
pub fn kind_of(ft: &std::fs::FileType) -> &'static str {
    if ft.is_fifo() {
        "a named pipe (FIFO)"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "a device"
    } else if ft.is_dir() {
        "a folder"
    } else if ft.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// An I/O error in lowercase words without the "(os error 13)" suffix.
pub fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        PermissionDenied => "permission denied".into(),
        NotFound => "not found".into(),
        _ => {
            let text = e.to_string();
            let text = match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            let mut chars = text.chars();
            match chars.next() {
                Some(c) => c.to_lowercase().chain(chars).collect(),
                None => text,
            }
        }
    }
}
