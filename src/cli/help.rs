//! `tapedeck help [TOPIC|COMMAND...]` and `tapedeck man`: help topics (the query language,
//! `$field` templates) beside clap's help for each command, and the manual page, made from the
//! clap definitions with clap_mangen so it never drifts from the binary.

use std::io::Write;

use anyhow::Result;
use clap::CommandFactory;

use super::Args;
use crate::error::UsageError;

/// The help topics: name, one-line summary, text.
pub const TOPICS: &[(&str, &str, &str)] = &[
    ("query", "the query language", QUERY),
    (
        "templates",
        "$field templates: -f, album lines, file names",
        TEMPLATES,
    ),
];

const QUERY: &str = "\
Every command that selects tracks (ls, albums, artists, genres, stats, play, render, rate,
convert, export, playlist add) takes a query: each command-line argument is one term, and
terms are ANDed. The syntax is beets'.

  beyonce                   a bare word: title, artist, album, album artist, genre or path
                            contains it, ignoring case and accents
  artist:beatles            the field contains the text (case- and accent-insensitive); any of
                            several artists
  artist:=Björk             exactly, case-sensitive
  artist:=~björk            exactly, ignoring case and accents
  title::^Love              a regular expression (on the composed form of the text)
  ^genre:rock, -genre:rock  negation (also matches tracks with no genre); `-` needs a `--`
                            before it on the command line
  ^genre:  /  genre:        the field is missing / present
  year:1990..1999           numeric ranges (inclusive): year:..1980, track:3
  length:..4:30             lengths; also bitrate:..192k, samplerate:96k, size:..10M
  added:-1w..               dates (UTC) and spans back from now (h d w m y);
                            played:2024-01..2024-06
  has:cover                 flags and formats: compilation:true, format:flac
  a b , c                   a standalone `,` separates alternatives: (a and b) or c
  year+ title-              sort terms; also --sort 'year+ album+ track+'

Fields: title, artist, album, albumartist, genre, composer, path, format, codec, date,
mb_trackid, mb_albumid, year, track, tracktotal, disc, disctotal, length, bitrate, samplerate,
bitdepth, channels, size, plays, skips, rating, added, played, compilation, cover, replaygain,
id.

The default order is album order: album artist, year, album, disc (missing counts as 1),
track; `[list] sort` in the configuration file changes it for ls. A query has at most 500
terms. A mistake is pointed at with a caret, and a misspelt field gets a suggestion.

Examples:
  tapedeck ls beatles year:1965..1969
  tapedeck ls artist:björk ^genre:remix year-
  tapedeck play genre:jazz , genre:blues --shuffle
  tapedeck ls -- -genre:rock
";

const TEMPLATES: &str = "\
A template is text with fields in it: `$name`, or `${name}` when letters follow (`${title}s`);
`$$` is a literal `$`. A field that is not known is an error with a suggestion; a field a
track has no value for renders as nothing.

Track lines (ls -f, and `[list] format` in the configuration file) take the query fields
(`tapedeck help query`), shown as they display:
  tapedeck ls -f '$artist - $title ($year)'
  tapedeck ls -f '$length $bitrate $path' format:mp3

Album lines (ls --albums / ls -a, albums, and `[list] album_format`) take album fields:
  albumartist (or artist), album, year, tracks, length (m:ss) and duration (h:mm:ss) of the
  whole album, formats (or format: its tracks' formats, as flac,mp3), and genre (when its
  tracks share one).
  tapedeck albums -f '$albumartist - $album ($year), $tracks tracks'

File names (convert --template, export --template, a profile's template, and
`[convert] template`) take the track fields; `/` separates folders. `$track` is the track
number zero-padded to the album's width (at least 2), and `$disc` is the disc number and a
dash on multi-disc albums only (nothing otherwise). `$albumartist` falls back to `$artist`.
Every value is cleaned before it becomes part of a path (no separators, `..`, control
characters, reserved names; length-limited). The default is
  $albumartist/$album/$disc$track $title
";

/// `tapedeck help`: a topic, or clap's long help for a command (`help playlist new`).
pub fn help(path: &[String], out: &mut dyn Write) -> Result<()> {
    let mut cmd = Args::command();
    cmd.build();
    if let [one] = path
        && let Some((_, _, text)) = TOPICS.iter().find(|(name, ..)| name == one)
    {
        out.write_all(text.as_bytes())?;
        return Ok(());
    }
    let mut current = &cmd;
    for word in path {
        match current.find_subcommand(word) {
            Some(sub) => current = sub,
            None => {
                let mut names: Vec<&str> = TOPICS.iter().map(|(n, ..)| *n).collect();
                names.extend(current.get_subcommands().map(|c| c.get_name()));
                let mut message = format!("no help topic or command `{word}`");
                if let Some(s) = crate::template::closest(word, &names) {
                    message.push_str(&format!(": did you mean `{s}`?"));
                }
                message.push_str(&format!("; topics: {}", topic_names()));
                return Err(UsageError(message).into());
            }
        }
    }
    let mut current = current.clone();
    write!(out, "{}", current.render_long_help())?;
    if path.is_empty() {
        writeln!(out, "\nHelp topics (tapedeck help TOPIC):")?;
        for (name, summary, _) in TOPICS {
            writeln!(out, "  {name:<10} {summary}")?;
        }
    }
    Ok(())
}

fn topic_names() -> String {
    TOPICS
        .iter()
        .map(|(n, ..)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `tapedeck man`: tapedeck(1) in roff. clap_mangen writes the name, synopsis, description
/// and global options; every command with its options (one page for all: clap_mangen's own
/// list of commands points at a page per command), the help topics, the files and the
/// environment follow.
pub fn man(out: &mut dyn Write) -> Result<()> {
    use roff::{Roff, bold, italic, roman};
    let mut cmd = Args::command();
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone()).manual("tapedeck manual");
    let mut head = Vec::new();
    man.render_title(&mut head)?;
    man.render_name_section(&mut head)?;
    man.render_synopsis_section(&mut head)?;
    man.render_description_section(&mut head)?;
    man.render_options_section(&mut head)?;
    out.write_all(&head)?;

    let mut roff = Roff::default();
    roff.control("SH", ["COMMANDS"]);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        command_section(&mut roff, sub, "tapedeck");
    }
    for (name, summary, text) in TOPICS {
        roff.control("SH", [name.to_uppercase().as_str()]);
        roff.text([
            italic(*summary),
            roman(" (also "),
            bold(format!("tapedeck help {name}")),
            roman(")"),
        ]);
        roff.control("PP", []);
        roff.control("nf", []);
        for line in text.lines() {
            roff.text([roman(line)]);
        }
        roff.control("fi", []);
    }
    roff.control("SH", ["FILES"]);
    for (path, what) in [
        (
            "~/.local/share/tapedeck/library.db",
            "the library ($XDG_DATA_HOME/tapedeck; --db or TAPEDECK_DB picks another)",
        ),
        (
            "~/.config/tapedeck/config.toml",
            "settings ($XDG_CONFIG_HOME/tapedeck, or the file TAPEDECK_CONFIG names); `tapedeck config` shows them",
        ),
        (
            "~/.config/tapedeck/profiles.toml",
            "device profiles for export, beside config.toml",
        ),
        (
            "$XDG_RUNTIME_DIR/tapedeck/socket",
            "where `tapedeck serve` listens for MPD clients and the remote commands (socket-<hash> for a library named by --db)",
        ),
    ] {
        roff.control("TP", []);
        roff.text([bold(path)]);
        roff.text([roman(what)]);
    }
    roff.control("SH", ["ENVIRONMENT"]);
    for (var, what) in [
        ("TAPEDECK_DB", "the library file, as --db"),
        ("TAPEDECK_CONFIG", "the settings file"),
        (
            "DBUS_SESSION_BUS_ADDRESS",
            "the session bus play and serve are published on for media keys (MPRIS); without one they play unpublished",
        ),
        (
            "TAPEDECK_DEBUG",
            "when set, says on stderr why the player could not be published on the session bus",
        ),
        (
            "TAPEDECK_SOCKET",
            "the socket serve listens on and the remote commands (status, next, queue...) talk to",
        ),
        (
            "TAPEDECK_PASSWORD",
            "the password TCP clients of serve must send, as --password",
        ),
        (
            "XDG_DATA_HOME, XDG_CONFIG_HOME, XDG_RUNTIME_DIR",
            "where the library, the settings and the service's socket live",
        ),
    ] {
        roff.control("TP", []);
        roff.text([bold(var)]);
        roff.text([roman(what)]);
    }
    roff.control("SH", ["EXIT STATUS"]);
    roff.text([roman(
        "0 on success (also when a pipe closes early), 1 when something failed, 2 for a \
         mistake on the command line or in the settings file, 3 when the library or a target \
         folder is busy.",
    )]);
    roff.to_writer(out)?;
    Ok(())
}

/// One command: its name and arguments, what it does, and its options; then its own commands.
fn command_section(roff: &mut roff::Roff, cmd: &clap::Command, parent: &str) {
    use roff::{bold, italic, roman};
    let name = format!("{parent} {}", cmd.get_name());
    roff.control("SS", [name.as_str()]);
    if let Some(about) = cmd.get_long_about().or(cmd.get_about()) {
        roff.text([roman(about.to_string())]);
    }
    for arg in cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !a.is_global_set())
    {
        let id = arg.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        let mut label = Vec::new();
        if let Some(s) = arg.get_short() {
            label.push(bold(format!("-{s}")));
        }
        if let Some(l) = arg.get_long() {
            if !label.is_empty() {
                label.push(roman(", "));
            }
            label.push(bold(format!("--{l}")));
        }
        let takes_value = arg.get_action().takes_values();
        if takes_value {
            let value = arg
                .get_value_names()
                .and_then(|v| v.first())
                .map(|v| v.to_string())
                .unwrap_or_else(|| id.to_uppercase());
            if !label.is_empty() {
                label.push(roman(" "));
            }
            label.push(italic(value));
        }
        roff.control("TP", []);
        roff.text(label);
        let mut help = arg
            .get_long_help()
            .or(arg.get_help())
            .map(|h| h.to_string())
            .unwrap_or_else(|| match id {
                "json" => "Print JSON (one object per line for lists)".into(),
                _ => String::new(),
            });
        let values: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| v.get_name().to_string())
            .collect();
        if takes_value && !values.is_empty() {
            help.push_str(&format!(" [values: {}]", values.join(", ")));
        }
        roff.text([roman(help)]);
    }
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() != "help" {
            command_section(roff, sub, &name);
        }
    }
}
