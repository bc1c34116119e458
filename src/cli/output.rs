//! How results look: text for people, JSON (Lines) for scripts. Everything writes to a
//! `Write`, so tests never need a terminal.

use std::io::{self, Write};
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
    Paths,
    Template(Template),
}

impl ListMode {
    /// The mode the listing flags ask for; `--json`, `--paths` and `-f` exclude each other.
    pub fn from_flags(
        json: bool,
        paths: bool,
        format: Option<&str>,
    ) -> Result<ListMode, crate::error::UsageError> {
        Ok(if json {
            ListMode::Json
        } else if paths {
            ListMode::Paths
        } else if let Some(text) = format {
            let t = Template::parse(text, &Field::names())
                .map_err(|e| crate::error::UsageError(format!("invalid --format: {e}")))?;
            ListMode::Template(t)
        } else {
            ListMode::Text
        })
    }
}

/// One track: `artist - album - title`, a JSON object, or the raw path bytes.
pub fn track(out: &mut dyn Write, t: &Track, mode: &ListMode) -> io::Result<()> {
    match mode {
        ListMode::Template(template) => {
            let line =
                template.render(&|name| Field::lookup(name).and_then(|f| display_value(t, f)));
            writeln!(out, "{line}")
        }
        ListMode::Paths => path(out, &t.path),
        ListMode::Json => {
            serde_json::to_writer(&mut *out, &track_json(t))?;
            out.write_all(b"\n")
        }
        ListMode::Text => writeln!(
            out,
            "{} - {} - {}",
            t.artist.as_deref().unwrap_or("(no artist)"),
            t.album.as_deref().unwrap_or("(no album)"),
            t.title
        ),
    }
}

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
    writeln!(out, "tracks:    {}", s.tracks)?;
    writeln!(out, "albums:    {}", s.albums)?;
    writeln!(out, "artists:   {}", s.artists)?;
    writeln!(out, "duration:  {}", hms(s.duration))?;
    writeln!(out, "size:      {}", human_size(s.size))?;
    let formats: Vec<String> = s.formats.iter().map(|(f, n)| format!("{f} {n}")).collect();
    writeln!(
        out,
        "formats:   {}",
        if formats.is_empty() {
            "-".into()
        } else {
            formats.join(", ")
        }
    )?;
    writeln!(out, "problems:  {}", s.problems)
}

/// One artist, album or genre line.
pub fn group(out: &mut dyn Write, by: GroupBy, g: &Group, as_json: bool) -> io::Result<()> {
    if as_json {
        serde_json::to_writer(&mut *out, g)?;
        return writeln!(out);
    }
    let tracks = if g.tracks == 1 {
        "1 track".to_string()
    } else {
        format!("{} tracks", g.tracks)
    };
    match by {
        GroupBy::Album => {
            let year = g.year.map(|y| format!(" ({y})")).unwrap_or_default();
            let artist = g.artist.as_deref().unwrap_or("(no artist)");
            writeln!(
                out,
                "{artist} - {}{year}: {tracks}, {}",
                g.name,
                hms(g.duration)
            )
        }
        _ => writeln!(out, "{}: {tracks}", g.name),
    }
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
                extra.push_str(&format!(", sorted {s}"));
            }
            if let Some(n) = p.limit {
                extra.push_str(&format!(", at most {n} tracks"));
            }
            if let Some(m) = p.minutes {
                extra.push_str(&format!(", at most {m} minutes"));
            }
            writeln!(out, "{} (smart: {q}{extra})", p.name)
        }
        None => writeln!(out, "{} ({} tracks)", p.name, p.entries),
    }
}

pub fn problem(out: &mut dyn Write, p: &Problem, as_json: bool) -> io::Result<()> {
    if as_json {
        let v =
            json!({ "path": p.path.to_string_lossy(), "reason": p.reason, "seen_at": p.seen_at });
        serde_json::to_writer(&mut *out, &v)?;
        return writeln!(out);
    }
    writeln!(out, "{}: {}", p.path.display(), p.reason)
}

pub fn root(out: &mut dyn Write, r: &Root, as_json: bool) -> io::Result<()> {
    if as_json {
        let v = json!({ "path": r.path.to_string_lossy(), "last_scan": r.last_scan });
        serde_json::to_writer(&mut *out, &v)?;
        return writeln!(out);
    }
    writeln!(out, "{}", r.path.display())
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
        "seconds": s.seconds,
        "unavailable": s.unavailable.iter().map(|(p, r)| json!({"path": p.to_string_lossy(), "reason": r})).collect::<Vec<_>>(),
    })
}

fn hms(seconds: f64) -> String {
    let s = seconds.round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
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
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1_280_000), "1.3 MB");
    }
}
