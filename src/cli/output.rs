//! How results look: text for people, JSON (Lines) for scripts. Everything writes to a
//! `Write`, so tests never need a terminal.
//!
//! Tag values and paths come from files anyone can make, so text output never carries their
//! control characters raw: [`escape`] spells them out (`\e`, `\n`, `\x07`), as `ls -b` does. It
//! applies to every output that is not JSON, whether or not it goes to a terminal: `ls` and fd
//! escape only on a terminal, but here people read the text output and scripts read `--json`,
//! which keeps values exact, and one rule for both cases is one rule to test. The exception is
//! `--paths`, the byte-exact form for `xargs`: escaped only when stdout is a terminal.

use std::io::{self, IsTerminal, Write};
use std::os::unix::ffi::OsStrExt;

use serde_json::{Value, json};

use crate::db::{Group, GroupBy, Playlist, Problem, Root, Stats};
use crate::model::Track;
use crate::query::{Field, display_value};
use crate::scan::Summary;
use crate::template::Template;

pub enum ListMode {
    Text,
    Json,
    /// Byte-exact paths; `escape` is set when stdout is a terminal.
    Paths {
        escape: bool,
    },
    Template(Template),
}

impl ListMode {
    /// The mode the listing flags ask for; `--json`, `--paths` and `-f` exclude each other.
    /// `configured` is the configuration's template, used when no flag picks a mode.
    pub fn from_flags(
        json: bool,
        paths: bool,
        format: Option<&str>,
        configured: Option<&str>,
    ) -> Result<ListMode, crate::error::UsageError> {
        Ok(if json {
            ListMode::Json
        } else if paths {
            ListMode::Paths {
                escape: io::stdout().is_terminal(),
            }
        } else if let Some(text) = format {
            let t = Template::parse(text, &Field::spellings())
                .map_err(|e| crate::error::UsageError(format!("invalid --format: {e}")))?;
            ListMode::Template(t)
        } else if let Some(text) = configured {
            let t = Template::parse(text, &Field::names()).map_err(|e| {
                crate::error::UsageError(format!("invalid list.format in the configuration: {e}"))
            })?;
            ListMode::Template(t)
        } else {
            ListMode::Text
        })
    }
}

/// One track: `artist - album - title`, a JSON object, or the raw path bytes.
/// `n` and the word for it: `1 track`, `2 tracks`.
pub fn count(n: impl TryInto<u64>, one: &str, many: &str) -> String {
    let n: u64 = n.try_into().unwrap_or(u64::MAX);
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A playlist entry with its position (1 is the first): `  3. artist - album - title` padded
/// to `width` digits, or the track's JSON object with a `position` key.
pub fn numbered_track(
    out: &mut dyn Write,
    position: usize,
    width: usize,
    t: &Track,
    as_json: bool,
) -> io::Result<()> {
    if as_json {
        let mut v = track_json(t);
        if let Value::Object(map) = &mut v {
            map.insert("position".into(), Value::from(position));
        }
        serde_json::to_writer(&mut *out, &v)?;
        return out.write_all(b"\n");
    }
    write!(out, "{position:>width$}. ")?;
    track(out, t, &ListMode::Text)
}

pub fn track(out: &mut dyn Write, t: &Track, mode: &ListMode) -> io::Result<()> {
    match mode {
        ListMode::Template(template) => {
            let line = template.render(&|name| {
                Field::lookup(name)
                    .and_then(|f| display_value(t, f))
                    .map(|v| escape(&v).into_owned())
            });
            writeln!(out, "{line}")
        }
        ListMode::Paths {
            escape: on_terminal,
        } => {
            if *on_terminal {
                writeln!(out, "{}", escape_path(&t.path))
            } else {
                path(out, &t.path)
            }
        }
        ListMode::Json => {
            serde_json::to_writer(&mut *out, &track_json(t))?;
            out.write_all(b"\n")
        }
        ListMode::Text => writeln!(
            out,
            "{} - {} - {}",
            escape(t.artist.as_deref().unwrap_or("(no artist)")),
            escape(t.album.as_deref().unwrap_or("(no album)")),
            escape(&t.title)
        ),
    }
}

pub use crate::text::{escape, escape_path};

/// A path, byte-exact, on its own line.
pub fn path(out: &mut dyn Write, p: &std::path::Path) -> io::Result<()> {
    out.write_all(p.as_os_str().as_bytes())?;
    out.write_all(b"\n")
}

/// The JSON shape of a track. Paths that are not UTF-8 are shown with replacement characters;
/// `ls --paths` prints them byte-exact.
pub fn track_json(t: &Track) -> Value {
    let mut v = serde_json::to_value(t).expect("track rows serialise");
    if let Value::Object(map) = &mut v {
        map.insert(
            "path".into(),
            Value::String(t.path.to_string_lossy().into_owned()),
        );
    }
    v
}

pub fn stats(out: &mut dyn Write, s: &Stats, as_json: bool) -> io::Result<()> {
    if as_json {
        let formats: serde_json::Map<String, Value> = s
            .formats
            .iter()
            .map(|(f, n)| (f.clone(), json!(n)))
            .collect();
        let v = json!({
            "tracks": s.tracks,
            "albums": s.albums,
            "artists": s.artists,
            "duration": s.duration,
            "size": s.size,
            "formats": formats,
            "problems": s.problems,
        });
        serde_json::to_writer(&mut *out, &v)?;
        return writeln!(out);
    }
    let formats: Vec<String> = s
        .formats
        .iter()
        .map(|(f, n)| format!("{} {n}", escape(f)))
        .collect();
    let rows = [
        ("tracks", s.tracks.to_string()),
        ("albums", s.albums.to_string()),
        ("artists", s.artists.to_string()),
        ("duration", hms(s.duration)),
        ("size", human_size(s.size)),
        (
            "formats",
            if formats.is_empty() {
                "-".into()
            } else {
                formats.join(", ")
            },
        ),
        ("problems", s.problems.to_string()),
    ];
    for (name, value) in rows {
        writeln!(out, "{}{value}", heading(&format!("{name}:"), 11))?;
    }
    Ok(())
}

/// A label padded to `width`, bold when stdout is coloured (see `style`).
pub fn heading(text: &str, width: usize) -> String {
    let pad = " ".repeat(width.saturating_sub(text.chars().count()));
    if super::style::stdout() {
        format!("\x1b[1m{text}\x1b[0m{pad}")
    } else {
        format!("{text}{pad}")
    }
}

/// One artist, album or genre line.
pub fn group(out: &mut dyn Write, by: GroupBy, g: &Group, as_json: bool) -> io::Result<()> {
    if as_json {
        serde_json::to_writer(&mut *out, g)?;
        return writeln!(out);
    }
    let tracks = count(g.tracks, "track", "tracks");
    match by {
        GroupBy::Album => {
            let year = g.year.map(|y| format!(" ({y})")).unwrap_or_default();
            let artist = escape(g.artist.as_deref().unwrap_or("(no artist)"));
            writeln!(
                out,
                "{artist} - {}{year}: {tracks}, {}",
                escape(&g.name),
                hms(g.duration)
            )
        }
        _ => writeln!(out, "{}: {tracks}", escape(&g.name)),
    }
}

/// One album line through a template of [`crate::query::ALBUM_FIELDS`].
pub fn album(out: &mut dyn Write, g: &Group, template: &Template) -> io::Result<()> {
    let line = template.render(&|name| {
        let value = match name {
            "albumartist" | "artist" => g.artist.clone(),
            "album" => Some(g.name.clone()),
            "year" => g.year.map(|y| y.to_string()),
            "tracks" => Some(g.tracks.to_string()),
            "duration" => Some(hms(g.duration)),
            "length" => Some(minutes(g.duration)),
            "formats" | "format" => g.formats.clone(),
            "genre" => g.genre.clone(),
            _ => None,
        };
        value.map(|v| escape(&v).into_owned())
    });
    writeln!(out, "{line}")
}

/// Parses an album template (`-f` of `ls --albums` and `albums`, or the configuration's).
pub fn album_template(text: &str, origin: &str) -> Result<Template, crate::error::UsageError> {
    Template::parse(text, crate::query::ALBUM_FIELDS).map_err(|e| {
        crate::error::UsageError(format!(
            "invalid {origin}: {e} (album fields: {})",
            crate::query::ALBUM_FIELDS.join(", ")
        ))
    })
}

pub fn playlist(out: &mut dyn Write, p: &Playlist, as_json: bool) -> io::Result<()> {
    if as_json {
        serde_json::to_writer(&mut *out, p)?;
        return writeln!(out);
    }
    match &p.query {
        Some(q) => {
            let mut extra = String::new();
            if let Some(s) = &p.sort {
                extra.push_str(&format!(", sorted {}", escape(s)));
            }
            if let Some(n) = p.limit {
                extra.push_str(&format!(", at most {}", count(n, "track", "tracks")));
            }
            if let Some(m) = p.minutes {
                let unit = if m == 1.0 { "minute" } else { "minutes" };
                extra.push_str(&format!(", at most {m} {unit}"));
            }
            writeln!(
                out,
                "{} (smart: {}{extra}; {})",
                escape(&p.name),
                escape(q),
                count(p.entries, "track", "tracks")
            )
        }
        None => writeln!(
            out,
            "{} ({})",
            escape(&p.name),
            count(p.entries, "track", "tracks")
        ),
    }
}

pub fn problem(out: &mut dyn Write, p: &Problem, as_json: bool) -> io::Result<()> {
    if as_json {
        let v =
            json!({ "path": p.path.to_string_lossy(), "reason": p.reason, "seen_at": p.seen_at });
        serde_json::to_writer(&mut *out, &v)?;
        return writeln!(out);
    }
    writeln!(out, "{}: {}", escape_path(&p.path), escape(&p.reason))
}

pub fn root(out: &mut dyn Write, r: &Root, as_json: bool) -> io::Result<()> {
    if as_json {
        let v = json!({ "path": r.path.to_string_lossy(), "last_scan": r.last_scan });
        serde_json::to_writer(&mut *out, &v)?;
        return writeln!(out);
    }
    writeln!(out, "{}", escape_path(&r.path))
}

pub fn summary_line(s: &Summary) -> String {
    format!(
        "added {}, updated {}, moved {}, removed {}, unchanged {}, problems {}, hidden skipped {}, {:.2} s",
        s.added, s.updated, s.moved, s.removed, s.unchanged, s.problems, s.hidden, s.seconds
    )
}

pub fn summary_json(s: &Summary) -> Value {
    json!({
        "added": s.added,
        "updated": s.updated,
        "moved": s.moved,
        "removed": s.removed,
        "unchanged": s.unchanged,
        "problems": s.problems,
        "hidden": s.hidden,
        "targets_skipped": s.targets.iter().map(|p| p.to_string_lossy()).collect::<Vec<_>>(),
        "seconds": s.seconds,
        "unavailable": s.unavailable.iter().map(|(p, r)| json!({"path": p.to_string_lossy(), "reason": r})).collect::<Vec<_>>(),
    })
}

fn hms(seconds: f64) -> String {
    let s = seconds.round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// `m:ss`, or `h:mm:ss` from an hour on.
fn minutes(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        hms(seconds)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(hms(3725.4), "1:02:05");
        assert_eq!(minutes(185.0), "3:05");
        assert_eq!(minutes(3725.4), "1:02:05");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1_280_000), "1.3 MB");
    }
}
