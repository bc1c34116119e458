//! The remote commands: `status`, `pause`, `toggle`, `stop`, `next`, `prev`, `seek`, `volume`,
//! `queue` and `play --enqueue`, sent to a running `tapedeck serve` over its socket (the MPD
//! protocol, through `mpd::client`), with what comes back printed.

use std::io::Write;

use anyhow::Result;
use serde_json::json;

use super::{SelectArgs, Settings, output, play, playlist};
use crate::error::UsageError;
use crate::mpd::client::{Client, ClientError, field, songs};
use crate::text;

/// `tapedeck queue ...`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum QueueCmd {
    /// List the queue, the current track marked
    List {
        /// One JSON object per entry, per line
        #[arg(long)]
        json: bool,
    },
    /// Add the tracks a query (or a playlist) selects to the end of the queue
    Add {
        #[command(flatten)]
        select: SelectArgs,
    },
    /// Empty the queue
    Clear,
    /// Remove entries by position (1 is the first): `3`, or `3-7`
    Remove {
        /// Positions (1 is the first) or ranges (3-7)
        #[arg(value_name = "POSITION", required = true)]
        positions: Vec<String>,
    },
    /// Move the entry at FROM to TO (positions from 1)
    Move {
        /// The entry's position now
        from: usize,
        /// Where it goes
        to: usize,
    },
}

fn connect(ctx: &Settings) -> Result<Client> {
    Ok(Client::connect(&super::serve::socket_path(ctx))?)
}

/// Sends one command and reports an `ACK` as the service's message.
fn send(client: &mut Client, args: &[&str]) -> Result<Vec<(String, String)>> {
    client.command(args).map_err(refused)
}

/// A client error as the command reports it: an `ACK` is what the service said.
fn refused(e: ClientError) -> anyhow::Error {
    match e {
        ClientError::Ack { message, .. } => anyhow::anyhow!("the player service says: {message}"),
        e => e.into(),
    }
}

/// `tapedeck status`.
pub fn status(ctx: &Settings, json: bool, out: &mut dyn Write) -> Result<()> {
    let mut client = connect(ctx)?;
    let status = send(&mut client, &["status"])?;
    let song = send(&mut client, &["currentsong"])?;
    let get = |k| field(&status, k);
    let num = |k| get(k).and_then(|v| v.parse::<f64>().ok());
    let on = |k| get(k) == Some("1");
    if json {
        let song_json = (!song.is_empty()).then(|| {
            json!({
                "file": field(&song, "file"),
                "title": field(&song, "Title"),
                "artist": field(&song, "Artist"),
                "album": field(&song, "Album"),
                "albumartist": field(&song, "AlbumArtist"),
                "date": field(&song, "Date"),
                "track": field(&song, "Track"),
            })
        });
        let v = json!({
            "state": get("state"),
            "position": num("song").map(|p| p as u64 + 1),
            "length": num("playlistlength").map(|n| n as u64),
            "elapsed": num("elapsed"),
            "duration": num("duration"),
            "volume": num("volume").map(|n| n as u64),
            "repeat": on("repeat"),
            "random": on("random"),
            "single": on("single"),
            "consume": on("consume"),
            "error": get("error"),
            "song": song_json,
        });
        writeln!(out, "{v}")?;
        return Ok(());
    }
    let state = match get("state") {
        Some("play") => "playing",
        Some("pause") => "paused",
        _ => "stopped",
    };
    match field(&song, "Title").or(field(&song, "file")) {
        Some(title) => {
            let artist = field(&song, "Artist").map_or(String::new(), |a| format!("{a} - "));
            let album = field(&song, "Album").map_or(String::new(), |a| format!(" ({a})"));
            writeln!(
                out,
                "{state}: {}{}{}",
                output::escape(&artist),
                output::escape(title),
                output::escape(&album)
            )?;
            let place = match (num("song"), num("playlistlength")) {
                (Some(p), Some(n)) => format!("  [{}/{}]", p as u64 + 1, n as u64),
                _ => String::new(),
            };
            writeln!(
                out,
                "{} / {}{place}",
                text::clock(num("elapsed").unwrap_or(0.0)),
                text::clock(num("duration").unwrap_or(0.0))
            )?;
        }
        None => writeln!(out, "{state}")?,
    }
    let yes = |k| if on(k) { "on" } else { "off" };
    writeln!(
        out,
        "volume {}%  repeat {}  random {}  single {}  consume {}",
        num("volume").unwrap_or(0.0) as u64,
        yes("repeat"),
        yes("random"),
        yes("single"),
        yes("consume")
    )?;
    if let Some(e) = get("error") {
        super::style::warn(format_args!("{}", output::escape(e)));
    }
    Ok(())
}

/// `tapedeck pause`, `toggle`, `stop`, `next`, `prev`.
pub fn simple(ctx: &Settings, command: &[&str]) -> Result<()> {
    let mut client = connect(ctx)?;
    send(&mut client, command)?;
    Ok(())
}

/// `tapedeck seek TIME`: to a time in the current track, or by `+N`/`-N` seconds.
pub fn seek(ctx: &Settings, time: &str) -> Result<()> {
    let (sign, rest) = match time.chars().next() {
        Some(c @ ('+' | '-')) => (Some(c), &time[1..]),
        _ => (None, time),
    };
    let secs = play::parse_time(rest).map_err(UsageError)?;
    let arg = match sign {
        Some(c) => format!("{c}{secs}"),
        None => format!("{secs}"),
    };
    simple(ctx, &["seekcur", &arg])
}

/// `tapedeck volume [N|+N|-N]`.
pub fn volume(ctx: &Settings, value: Option<&str>, out: &mut dyn Write) -> Result<()> {
    let mut client = connect(ctx)?;
    if let Some(v) = value {
        let bad = || UsageError(format!("{v:?} is not a volume: use 0 to 100, +5 or -5"));
        let (relative, digits) = match v.chars().next() {
            Some('+' | '-') => (true, &v[1..]),
            _ => (false, v),
        };
        let n: i64 = digits.parse().map_err(|_| bad())?;
        if relative {
            let n = if v.starts_with('-') { -n } else { n };
            send(&mut client, &["volume", &n.to_string()])?;
        } else {
            if n > 100 {
                return Err(bad().into());
            }
            send(&mut client, &["setvol", &n.to_string()])?;
        }
    }
    let status = send(&mut client, &["status"])?;
    writeln!(out, "volume {}%", field(&status, "volume").unwrap_or("0"))?;
    Ok(())
}

/// Hands tracks (absolute paths) to the running service's queue, in one command list.
pub fn enqueue(ctx: &Settings, paths: &[std::path::PathBuf]) -> Result<usize> {
    let mut client = connect(ctx)?;
    let mut commands = Vec::with_capacity(paths.len());
    for p in paths {
        let Some(text) = p.to_str() else {
            super::style::warn(format_args!(
                "{} is not UTF-8 and cannot be named to the service; left out",
                output::escape_path(p)
            ));
            continue;
        };
        commands.push(vec!["add".to_string(), text.to_string()]);
    }
    for chunk in commands.chunks(1000) {
        client.command_list(chunk).map_err(refused)?;
    }
    Ok(commands.len())
}

/// `tapedeck queue ...`.
pub fn queue(ctx: &Settings, cmd: QueueCmd, out: &mut dyn Write) -> Result<()> {
    match cmd {
        QueueCmd::List { json } => {
            let mut client = connect(ctx)?;
            let status = send(&mut client, &["status"])?;
            let current = field(&status, "song").and_then(|s| s.parse::<usize>().ok());
            let pairs = send(&mut client, &["playlistinfo"])?;
            let entries = songs(pairs);
            for (i, e) in entries.iter().enumerate() {
                let duration = field(e, "duration").and_then(|d| d.parse::<f64>().ok());
                if json {
                    let v = json!({
                        "position": i + 1,
                        "id": field(e, "Id").and_then(|d| d.parse::<u64>().ok()),
                        "current": current == Some(i),
                        "file": field(e, "file"),
                        "title": field(e, "Title"),
                        "artist": field(e, "Artist"),
                        "album": field(e, "Album"),
                        "duration": duration,
                    });
                    writeln!(out, "{v}")?;
                } else {
                    let mark = if current == Some(i) { ">" } else { " " };
                    let title = field(e, "Title").or(field(e, "file")).unwrap_or("");
                    let artist = field(e, "Artist").map_or(String::new(), |a| format!("{a} - "));
                    writeln!(
                        out,
                        "{mark}{:>4}. {}{} ({})",
                        i + 1,
                        output::escape(&artist),
                        output::escape(title),
                        text::clock(duration.unwrap_or(0.0))
                    )?;
                }
            }
            Ok(())
        }
        QueueCmd::Add { select } => {
            let lib = ctx.open_library()?;
            let tracks = playlist::selected_tracks(&lib, &select)?;
            let paths: Vec<_> = tracks.into_iter().map(|t| t.path).collect();
            let n = enqueue(ctx, &paths)?;
            if !ctx.quiet {
                writeln!(out, "added {n} track{}", if n == 1 { "" } else { "s" })?;
            }
            Ok(())
        }
        QueueCmd::Clear => simple(ctx, &["clear"]),
        QueueCmd::Remove { positions } => {
            let mut commands = Vec::new();
            // From the end, so earlier removals do not shift later positions.
            let mut ranges = Vec::new();
            for p in &positions {
                let bad = || UsageError(format!("{p:?} is not a position: use 3 or 3-7"));
                let (a, b) = match p.split_once('-') {
                    Some((a, b)) => (a.parse::<usize>(), b.parse::<usize>()),
                    None => (p.parse::<usize>(), p.parse::<usize>()),
                };
                let (a, b) = (a.map_err(|_| bad())?, b.map_err(|_| bad())?);
                if a == 0 || b < a {
                    return Err(bad().into());
                }
                ranges.push((a - 1, b));
            }
            ranges.sort_unstable_by(|x, y| y.cmp(x));
            for (a, b) in ranges {
                commands.push(vec!["delete".to_string(), format!("{a}:{b}")]);
            }
            let mut client = connect(ctx)?;
            client.command_list(&commands).map_err(refused)?;
            Ok(())
        }
        QueueCmd::Move { from, to } => {
            if from == 0 || to == 0 {
                return Err(UsageError("positions start at 1".into()).into());
            }
            simple(
                ctx,
                &["move", &(from - 1).to_string(), &(to - 1).to_string()],
            )
        }
    }
}
