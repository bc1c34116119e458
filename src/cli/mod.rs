//! The command line: clap parsing, resolving settings (which library, which roots), and running
//! each command with its output going to a writer. Errors are returned, never printed here;
//! [`crate::error`] turns them into messages and exit codes.

mod analyze;
mod cd;
mod completions;
mod config;
mod convert;
mod export;
mod help;
mod interrupt;
mod output;
mod play;
mod playlist;
mod progress;
mod remote;
mod serve;
mod style;
mod ui;

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use crate::clock::now;
use crate::db::query::Selection;
use crate::db::{GroupBy, Library};
use crate::error::{AlreadyReported, UsageError};
use crate::scan::{self, ScanLock, ScanOptions};

/// Manage and play the music you own, offline.
#[derive(Debug, Parser)]
#[command(
    name = "tapedeck",
    version,
    about,
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Args {
    /// The library database [default: $XDG_DATA_HOME/tapedeck/library.db]
    #[arg(long, global = true, env = "TAPEDECK_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Print only errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more detail (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When to colour messages: auto (on a terminal, unless NO_COLOR is set; CLICOLOR_FORCE
    /// forces it), always or never
    #[arg(long, global = true, value_name = "WHEN", value_enum, default_value_t = style::ColorWhen::Auto)]
    pub color: style::ColorWhen,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Index music folders into the library (all remembered folders when none is given)
    Scan {
        /// Folders (or files) to index; they are remembered for later scans
        paths: Vec<PathBuf>,
        /// Also index hidden files and folders (names starting with a dot)
        #[arg(long)]
        include_hidden: bool,
        /// Also index folders tapedeck writes into (convert and export targets, which hold a
        /// .tapedeck folder)
        #[arg(long)]
        include_targets: bool,
        /// Reader threads [default: twice the cores, 4 to 16]
        #[arg(short, long, value_name = "N")]
        jobs: Option<usize>,
        /// Print the summary as JSON
        #[arg(long)]
        json: bool,
    },
    /// List tracks (album order unless the query sorts)
    Ls {
        #[command(flatten)]
        select: SelectArgs,
        /// One JSON object per line
        #[arg(long, conflicts_with_all = ["paths", "format"])]
        json: bool,
        /// One absolute path per line, for piping
        #[arg(long, conflicts_with = "format")]
        paths: bool,
        /// Output template, as in '$artist - $title ($year)'; with --albums, of album fields
        /// (`tapedeck help templates`) [default: the configuration's]
        #[arg(short, long, value_name = "TEMPLATE")]
        format: Option<String>,
        /// One line per album, with its track count and duration (-a, as in beets)
        #[arg(short = 'a', long)]
        albums: bool,
        /// At most N lines
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
        /// N picked at random (tracks, or albums with --albums)
        #[arg(long, value_name = "N", conflicts_with = "limit")]
        random: Option<u64>,
    },
    /// List artists with track counts
    Artists {
        #[command(flatten)]
        select: SelectArgs,
        /// One JSON object per artist, per line
        #[arg(long)]
        json: bool,
    },
    /// List albums with track counts and durations
    Albums {
        #[command(flatten)]
        select: SelectArgs,
        /// One JSON object per album, per line
        #[arg(long, conflicts_with = "format")]
        json: bool,
        /// Output template of album fields, as in '$albumartist - $album ($year)'
        /// [default: the configuration's]
        #[arg(short, long, value_name = "TEMPLATE")]
        format: Option<String>,
    },
    /// List genres with track counts
    Genres {
        #[command(flatten)]
        select: SelectArgs,
        /// One JSON object per genre, per line
        #[arg(long)]
        json: bool,
    },
    /// Show totals for the library, or for the tracks a query selects
    Stats {
        #[command(flatten)]
        select: SelectArgs,
        /// Print the totals as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Static and smart playlists
    #[command(subcommand)]
    Playlist(playlist::PlaylistCmd),
    /// List files that could not be indexed, and files `analyze` found damaged, and why
    Problems {
        /// One JSON object per file, per line
        #[arg(long)]
        json: bool,
    },
    /// Rate the tracks a query selects, 0 (no rating) to 5: `tapedeck rate artist:björk 5`
    Rate {
        /// Query terms, then the rating (0-5) as the last argument
        #[arg(value_name = "QUERY... RATING", required = true, num_args = 1..)]
        terms: Vec<String>,
        /// Rate the tracks of this playlist (with the query, within it)
        #[arg(short = 'p', long = "playlist", value_name = "PLAYLIST")]
        playlist: Option<String>,
        /// Print what changed as JSON lines
        #[arg(long)]
        json: bool,
    },
    /// List the folders the library indexes (`roots add PATH`, `roots rm PATH` change them)
    Roots {
        #[command(subcommand)]
        cmd: Option<RootsCmd>,
        /// One JSON object per folder, per line
        #[arg(long)]
        json: bool,
    },
    /// Play tracks: a query, a playlist, or files and folders
    Play {
        #[command(flatten)]
        queue: play::QueueArgs,
        /// Output device (see `tapedeck devices`) [default: the configuration's, else the
        /// system's]
        #[arg(long, value_name = "NAME")]
        device: Option<String>,
        /// Volume in percent [default: the configuration's, else 100]
        #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(0..=100))]
        volume: Option<u8>,
        /// Continue the last queue where it stopped
        #[arg(long)]
        resume: bool,
        /// Hand the tracks to the running `tapedeck serve` (added to its queue) instead of
        /// playing here
        #[arg(long, conflicts_with = "resume")]
        enqueue: bool,
    },
    /// Run the player as a service: MPD clients (mpc, ncmpcpp, phone apps), media keys
    /// (MPRIS) and the remote commands (status, next, queue...) control it
    Serve(serve::ServeArgs),
    /// Browse, search, queue and play in a full-screen terminal UI (on the running service, or
    /// on one of its own)
    Ui(ui::UiArgs),
    /// Show what the running service plays
    Status {
        /// One JSON object
        #[arg(long)]
        json: bool,
    },
    /// Pause the running service
    Pause,
    /// Pause or go on (the running service)
    Toggle,
    /// Stop the running service's playback (the queue stays)
    Stop,
    /// Skip to the next track (the running service)
    Next,
    /// Back to the start of the track, or the previous one in its first seconds
    Prev,
    /// Seek in the current track: 1:30, or +10 / -10 seconds
    Seek {
        /// A time in the track (90, 1:30), or +N / -N seconds from where it is
        #[arg(value_name = "TIME", allow_hyphen_values = true)]
        time: String,
    },
    /// Show or set the running service's volume: 0 to 100, +5 or -5
    Volume {
        /// 0 to 100, or +N / -N to change it by N
        #[arg(value_name = "PERCENT", allow_hyphen_values = true)]
        value: Option<String>,
    },
    /// The running service's queue: list, add, clear, remove, move
    #[command(subcommand)]
    Queue(remote::QueueCmd),
    /// Write what `play` would play to a WAV file, as fast as possible
    Render {
        #[command(flatten)]
        queue: play::QueueArgs,
        /// The WAV file to write
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Replace FILE if it exists (never a track of the library or an input of the render)
        #[arg(long)]
        force: bool,
    },
    /// Measure loudness (EBU R128, ReplayGain 2.0 track and album gain), check the audio for
    /// damage and take an acoustic fingerprint (for `dupes`), decoding each selected track
    /// once; whole albums are analysed together. Results go into the library, never the files
    Analyze(analyze::AnalyzeArgs),
    /// List groups of tracks that are the same recording (by acoustic fingerprint, from
    /// `analyze`), best copy first: lossless over lossy, higher bitrate, more complete tags.
    /// Only lists; nothing is deleted or moved. Remasters, live versions and edits are expected
    /// to differ and are not grouped
    Dupes {
        #[command(flatten)]
        select: SelectArgs,
        /// Share of equal fingerprint bits (0.5 to 1) from which two tracks count as the same
        /// recording; unrelated audio scores about 0.5
        #[arg(long, value_name = "SCORE", default_value_t = crate::analyze::dupes::THRESHOLD,
              value_parser = parse_threshold)]
        threshold: f64,
        /// One JSON object per group, per line
        #[arg(long)]
        json: bool,
    },
    /// Convert tracks to another format into a folder
    Convert(convert::ConvertArgs),
    /// List past conversions and the CD images made
    Converted {
        /// One JSON object per conversion run, per line
        #[arg(long)]
        json: bool,
    },
    /// Copy tracks to a USB stick or car stick and keep it in sync (see `profiles`)
    Export(export::ExportArgs),
    /// Make audio CD images (.bin/.cue/.toc with CD-TEXT) of tracks, and burn them
    Cd(cd::CdArgs),
    /// List the devices exported to: profile, last sync, tracks and size
    Exports {
        /// One JSON object per device, per line
        #[arg(long)]
        json: bool,
    },
    /// List the device profiles `export` knows, with their settings
    Profiles {
        /// One JSON object per profile, per line
        #[arg(long)]
        json: bool,
    },
    /// List audio output devices
    Devices {
        /// One JSON object per device, per line
        #[arg(long)]
        json: bool,
    },
    /// Show the effective settings and where each comes from (default, configuration file,
    /// flag or environment)
    Config {
        /// One JSON object: each setting with its value and where it came from
        #[arg(long)]
        json: bool,
    },
    /// Help on a topic (query, templates) or a command: `tapedeck help query`
    Help {
        /// A topic (query, templates), or a command and its subcommands
        #[arg(value_name = "TOPIC|COMMAND")]
        topic: Vec<String>,
    },
    /// Print the manual page (roff) to stdout: `tapedeck man | man -l -`
    Man,
    /// Print a shell completion script (formats, modes, profiles and playlist names complete)
    Completions {
        /// The shell to print the script for
        #[arg(value_enum)]
        shell: Shell,
    },
}

impl Command {
    /// Whether the command changes the library. The others open it read-only, so they work on a
    /// library the user cannot write and never create one; `render` is among them, since it
    /// keeps no play history.
    fn writes_library(&self) -> bool {
        match self {
            Command::Scan { .. }
            | Command::Rate { .. }
            | Command::Roots { cmd: Some(_), .. }
            | Command::Play { enqueue: false, .. }
            | Command::Serve(_)
            | Command::Ui(_)
            | Command::Convert(_)
            | Command::Cd(_)
            | Command::Analyze(_)
            | Command::Export(_) => true,
            Command::Playlist(cmd) => cmd.writes_library(),
            Command::Ls { .. }
            | Command::Artists { .. }
            | Command::Albums { .. }
            | Command::Genres { .. }
            | Command::Stats { .. }
            | Command::Problems { .. }
            | Command::Roots { cmd: None, .. }
            | Command::Play { enqueue: true, .. }
            | Command::Status { .. }
            | Command::Pause
            | Command::Toggle
            | Command::Stop
            | Command::Next
            | Command::Prev
            | Command::Seek { .. }
            | Command::Volume { .. }
            | Command::Queue(_)
            | Command::Render { .. }
            | Command::Converted { .. }
            | Command::Dupes { .. }
            | Command::Exports { .. }
            | Command::Profiles { .. }
            | Command::Devices { .. }
            | Command::Config { .. }
            | Command::Help { .. }
            | Command::Man
            | Command::Completions { .. } => false,
        }
    }
}

impl Command {
    /// Whether a missing library file is an error rather than an empty library: commands that
    /// only show what the library holds say so (a misspelt `--db` must not look like an empty
    /// collection); `render` plays named files without one.
    fn needs_existing_library(&self) -> bool {
        !self.writes_library()
            && !self.only_talks_to_the_service()
            && !matches!(
                self,
                Command::Render { .. }
                    | Command::Profiles { .. }
                    | Command::Devices { .. }
                    | Command::Config { .. }
                    | Command::Help { .. }
                    | Command::Man
                    | Command::Completions { .. }
            )
    }
}

impl Command {
    /// Whether the command only talks to a running service (and needs no library of its own).
    fn only_talks_to_the_service(&self) -> bool {
        matches!(
            self,
            Command::Status { .. }
                | Command::Pause
                | Command::Toggle
                | Command::Stop
                | Command::Next
                | Command::Prev
                | Command::Seek { .. }
                | Command::Volume { .. }
                | Command::Queue(
                    remote::QueueCmd::List { .. }
                        | remote::QueueCmd::Clear
                        | remote::QueueCmd::Remove { .. }
                        | remote::QueueCmd::Move { .. }
                )
        )
    }
}

/// `tapedeck roots add|rm`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum RootsCmd {
    /// Remember a folder to index (the next `tapedeck scan` reads it)
    Add {
        /// The folder
        path: PathBuf,
    },
    /// Forget a folder and the tracks under it (asks for --yes when it holds tracks)
    Rm {
        /// The folder, as `tapedeck roots` lists it
        path: PathBuf,
        /// Go ahead although the folder's tracks (and their play counts and ratings) are
        /// forgotten
        #[arg(long)]
        yes: bool,
    },
}

/// Which tracks a command works on.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SelectArgs {
    /// Query terms, each argument one term: `beatles`, `artist:Björk`, `year:1990..1999`,
    /// `^genre:` (negate with ^, or with - after a `--`)
    #[arg(value_name = "QUERY")]
    pub query: Vec<String>,
    /// Sort order, as in 'year+ album+ track+' (trailing `field+`/`field-` terms work too)
    #[arg(long, value_name = "KEYS")]
    pub sort: Option<String>,
    /// Take tracks from this playlist, in its order
    #[arg(short = 'p', long, value_name = "PLAYLIST")]
    pub playlist: Option<String>,
}

fn parse_threshold(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.5..=1.0).contains(&v) => Ok(v),
        _ => Err("a share from 0.5 to 1, as in 0.8".into()),
    }
}

impl SelectArgs {
    /// Parses the query and sort; a mistake is a usage error with a caret under it.
    fn parse(&self) -> Result<crate::query::Query> {
        let now = now();
        let mut q = crate::query::parse(&self.query, now)
            .map_err(|e| UsageError(format!("invalid query: {e}")))?;
        if let Some(sort) = &self.sort {
            q.sort = crate::query::parse_sort(sort)
                .map_err(|e| UsageError(format!("invalid --sort: {e}")))?;
        }
        Ok(q)
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

/// Where a setting's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Default,
    Flag,
    Env,
}

/// Settings resolved from the arguments, the environment and the configuration file.
struct Settings {
    db_path: PathBuf,
    db_source: Source,
    /// The configuration file (absent: defaults), and what it sets.
    config_path: Option<PathBuf>,
    config: crate::config::Config,
    quiet: bool,
    verbose: u8,
    /// The command only reads the library (see [`Command::writes_library`]).
    read_only: bool,
    /// A missing library file is an error (see [`Command::needs_existing_library`]).
    library_required: bool,
}

impl Settings {
    /// Opens the library the way the command needs it: read-write (created when missing) for a
    /// command that changes it, read-only otherwise. A read-only command on a library that does
    /// not exist creates nothing: it is an error for the commands that show the library, and an
    /// empty library for `render`.
    fn open_library(&self) -> Result<Library> {
        if self.read_only {
            if let Err(e) = std::fs::metadata(&self.db_path)
                && e.kind() == io::ErrorKind::NotFound
            {
                if self.library_required {
                    return Err(anyhow::anyhow!(
                        "there is no library at {}: `tapedeck scan FOLDER` makes one (or is \
                         --db / TAPEDECK_DB misspelt?)",
                        self.db_path.display()
                    ));
                }
                return Library::empty().context("cannot make an empty library in memory");
            }
            return Library::open_read_only(&self.db_path)
                .with_context(|| format!("cannot read the library {}", self.db_path.display()));
        }
        if let Some(parent) = self.db_path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| {
                format!("cannot create the library folder {}", parent.display())
            })?;
        }
        Library::open(&self.db_path)
            .with_context(|| format!("cannot open the library {}", self.db_path.display()))
    }
}

impl Settings {
    /// The album template: `-f`, else the configuration's unless `--json` is asked for; `None`
    /// for the built-in line.
    fn album_template(
        &self,
        flag: Option<&str>,
        json: bool,
    ) -> Result<Option<crate::template::Template>> {
        if let Some(text) = flag {
            return Ok(Some(output::album_template(text, "--format")?));
        }
        match &self.config.album_format {
            Some(s) if !json => Ok(Some(output::album_template(
                &s.value,
                "list.album_format in the configuration",
            )?)),
            _ => Ok(None),
        }
    }
}

fn default_db_path() -> Result<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "tapedeck")
        .context("cannot find a home folder for the library; pass --db PATH or set TAPEDECK_DB")?;
    Ok(dirs.data_dir().join("library.db"))
}

/// Whether error messages on stderr are coloured (decided by [`run`] before anything is printed).
pub fn stderr_color() -> bool {
    style::stderr()
}

/// Parses `args` and runs the command.
pub fn run(args: impl IntoIterator<Item = OsString>) -> Result<()> {
    let args: Vec<OsString> = args.into_iter().collect();
    // Colour is decided before clap parses, so its usage errors follow the same choice.
    let when = style::from_args(&args);
    style::init(when);
    let parsed = Args::command()
        .color(when.for_clap())
        .try_get_matches_from(args)
        .and_then(|m| <Args as clap::FromArgMatches>::from_arg_matches(&m));
    let args = match parsed {
        Ok(args) => args,
        Err(e) => {
            // Help and version go to stdout with success; real mistakes exit with clap's code.
            e.print().context("printing usage")?;
            return match e.exit_code() {
                0 => Ok(()),
                code => Err(AlreadyReported(code.clamp(1, 255) as u8).into()),
            };
        }
    };
    let config_path = crate::config::path(
        std::env::var_os("TAPEDECK_CONFIG").as_deref(),
        directories::ProjectDirs::from("", "", "tapedeck")
            .as_ref()
            .map(|d| d.config_dir()),
    );
    // Help, the manual and completions work whatever the settings file holds.
    let needs_config = !matches!(
        args.command,
        Command::Help { .. } | Command::Man | Command::Completions { .. }
    );
    let config = match &config_path {
        Some(p) if needs_config => crate::config::load(p)?,
        _ => crate::config::Config::default(),
    };
    let db_source = match &args.db {
        None => Source::Default,
        Some(p) if std::env::var_os("TAPEDECK_DB").is_some_and(|e| *e == *p.as_os_str()) => {
            Source::Env
        }
        Some(_) => Source::Flag,
    };
    let ctx = Settings {
        db_path: match &args.db {
            Some(p) => p.clone(),
            None => default_db_path()?,
        },
        db_source,
        config_path,
        config,
        quiet: args.quiet,
        verbose: args.verbose,
        read_only: !args.command.writes_library(),
        library_required: args.command.needs_existing_library(),
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = dispatch(&ctx, args.command, &mut out);
    let flushed = out.flush().map_err(anyhow::Error::from);
    result.and(flushed)
}

fn dispatch(ctx: &Settings, command: Command, out: &mut dyn Write) -> Result<()> {
    match command {
        Command::Scan {
            paths,
            include_hidden,
            include_targets,
            jobs,
            json,
        } => cmd_scan(
            ctx,
            &paths,
            ScanOptions {
                include_hidden,
                include_targets,
                jobs: jobs.unwrap_or(0),
            },
            json,
            out,
        ),
        Command::Ls {
            select,
            json,
            paths,
            format,
            albums,
            limit,
            random,
        } => {
            if albums {
                let template = ctx.album_template(format.as_deref(), json)?;
                let lib = ctx.open_library()?;
                let (q, within) = playlist::resolve(&lib, &select)?;
                let mut groups = lib.groups(GroupBy::Album, Some(&q), within)?;
                if let Some(n) = random {
                    shuffle(&mut groups);
                    groups.truncate(n as usize);
                } else if let Some(n) = limit {
                    groups.truncate(n as usize);
                }
                for g in &groups {
                    match &template {
                        Some(t) => output::album(out, g, t)?,
                        None => output::group(out, GroupBy::Album, g, json)?,
                    }
                }
                return Ok(());
            }
            let mode = output::ListMode::from_flags(
                json,
                paths,
                format.as_deref(),
                ctx.config.list_format.as_ref().map(|s| s.value.as_str()),
            )?;
            let lib = ctx.open_library()?;
            let (mut q, within) = playlist::resolve(&lib, &select)?;
            // The configured order applies where neither the query, --sort nor a playlist's
            // own order says anything.
            if let Some(s) = &ctx.config.sort
                && q.sort.is_empty()
                && select.playlist.is_none()
            {
                q.sort = crate::query::parse_sort(&s.value)
                    .map_err(|e| UsageError(format!("invalid list.sort: {e}")))?;
            }
            // On a terminal, an empty library says what to do; scripts get empty output.
            if !json && io::stdout().is_terminal() && lib.stats(None, false)?.tracks == 0 {
                writeln!(out, "the library is empty: `tapedeck scan FOLDER` first")?;
                return Ok(());
            }
            let sel = Selection {
                query: Some(&q),
                random: random.is_some(),
                limit: random.or(limit),
                within,
            };
            list_tracks(&lib, &sel, &mode, out)
        }
        Command::Artists { select, json } => list_groups(ctx, GroupBy::Artist, &select, json, out),
        Command::Albums {
            select,
            json,
            format,
        } => {
            let Some(template) = ctx.album_template(format.as_deref(), json)? else {
                return list_groups(ctx, GroupBy::Album, &select, json, out);
            };
            let lib = ctx.open_library()?;
            let (q, within) = playlist::resolve(&lib, &select)?;
            for g in lib.groups(GroupBy::Album, Some(&q), within)? {
                output::album(out, &g, &template)?;
            }
            Ok(())
        }
        Command::Genres { select, json } => list_groups(ctx, GroupBy::Genre, &select, json, out),
        Command::Stats { select, json } => {
            let lib = ctx.open_library()?;
            let (q, within) = playlist::resolve(&lib, &select)?;
            output::stats(out, &lib.stats(Some(&q), within)?, json)?;
            Ok(())
        }
        Command::Playlist(cmd) => playlist::run(ctx, cmd, out),
        Command::Problems { json } => {
            let lib = ctx.open_library()?;
            let mut problems = lib.problems()?;
            problems.extend(lib.damaged()?.into_iter().map(|mut p| {
                p.reason = format!("damaged audio: {}", p.reason);
                p
            }));
            problems.sort_by(|a, b| a.path.cmp(&b.path));
            if problems.is_empty() && !json && io::stdout().is_terminal() {
                writeln!(
                    out,
                    "no problems: every file under the roots was indexed, and none analysed \
                     was found damaged"
                )?;
            }
            for p in problems {
                output::problem(out, &p, json)?;
            }
            Ok(())
        }
        Command::Rate {
            mut terms,
            playlist,
            json,
        } => {
            let last = terms.pop().unwrap_or_default();
            let rating: u8 = match last.parse::<u8>() {
                Ok(r) if r <= 5 => r,
                _ => {
                    return Err(UsageError(format!(
                        "the last argument is the rating, 0 (none) to 5; `{last}` is not one"
                    ))
                    .into());
                }
            };
            let new = (rating > 0).then_some(rating);
            let mut lib = ctx.open_library()?;
            let select = SelectArgs {
                query: terms,
                sort: None,
                playlist,
            };
            if select.query.is_empty() && select.playlist.is_none() {
                return Err(UsageError(
                    "name the tracks to rate with a query or -p PLAYLIST (all of them: `tapedeck \
                     rate '' 3` is not a thing)"
                        .into(),
                )
                .into());
            }
            let tracks = playlist::selected_tracks(&lib, &select)?;
            let changed: Vec<&crate::model::Track> =
                tracks.iter().filter(|t| t.rating != new).collect();
            lib.write(|w| changed.iter().try_for_each(|t| w.set_rating(t.id, new)))?;
            for t in &changed {
                if json {
                    serde_json::to_writer(
                        &mut *out,
                        &serde_json::json!({
                            "id": t.id,
                            "path": t.path.to_string_lossy(),
                            "title": t.title,
                            "old": t.rating,
                            "new": new,
                        }),
                    )?;
                    writeln!(out)?;
                } else if !ctx.quiet {
                    let show = |r: Option<u8>| r.map_or("none".to_string(), |r| r.to_string());
                    writeln!(
                        out,
                        "{}: {} -> {}",
                        output::escape(&t.title),
                        show(t.rating),
                        show(new)
                    )?;
                }
            }
            if !json && !ctx.quiet {
                writeln!(
                    out,
                    "rated {} {} ({} already were)",
                    output::count(changed.len(), "track", "tracks"),
                    new.map_or("none".to_string(), |r| r.to_string()),
                    tracks.len() - changed.len()
                )?;
            }
            Ok(())
        }
        Command::Roots { cmd: None, json } => {
            let lib = ctx.open_library()?;
            for r in lib.roots()? {
                output::root(out, &r, json)?;
            }
            Ok(())
        }
        Command::Roots {
            cmd: Some(RootsCmd::Add { path }),
            ..
        } => {
            let full = std::fs::canonicalize(&path).map_err(|e| {
                UsageError(format!(
                    "{}: {}",
                    path.display(),
                    crate::scan::walk::io_reason(&e)
                ))
            })?;
            if !full.is_dir() {
                return Err(UsageError(format!("{}: not a folder", path.display())).into());
            }
            let lib = ctx.open_library()?;
            lib.add_root(&full, now())?;
            if !ctx.quiet {
                writeln!(
                    out,
                    "added {}; `tapedeck scan` indexes it",
                    output::escape_path(&full)
                )?;
            }
            Ok(())
        }
        Command::Roots {
            cmd: Some(RootsCmd::Rm { path, yes }),
            ..
        } => {
            let mut lib = ctx.open_library()?;
            let roots = lib.roots()?;
            // The folder may be gone (that is often why it is removed): match as written too.
            let wanted = [
                std::fs::canonicalize(&path).ok(),
                std::path::absolute(&path).ok(),
            ];
            let Some(root) = roots
                .iter()
                .find(|r| wanted.iter().flatten().any(|w| *w == r.path))
                .map(|r| r.path.clone())
            else {
                let names: Vec<String> =
                    roots.iter().map(|r| r.path.display().to_string()).collect();
                return Err(UsageError(format!(
                    "{} is not a root; the roots are: {}",
                    path.display(),
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ))
                .into());
            };
            // Tracks under this root and under no other.
            let others: Vec<&PathBuf> = roots
                .iter()
                .map(|r| &r.path)
                .filter(|p| **p != root)
                .collect();
            let doomed: Vec<i64> = lib
                .known_files()?
                .into_iter()
                .filter(|f| {
                    f.path.starts_with(&root) && !others.iter().any(|o| f.path.starts_with(o))
                })
                .map(|f| f.id)
                .collect();
            if !doomed.is_empty() && !yes {
                return Err(UsageError(format!(
                    "{} holds {}; pass --yes to forget them with the folder (their play \
                     counts and ratings are lost)",
                    output::escape_path(&root),
                    output::count(doomed.len(), "track", "tracks")
                ))
                .into());
            }
            lib.write(|w| {
                for id in &doomed {
                    w.delete_track(*id)?;
                }
                w.remove_root(&root)
            })?;
            if !ctx.quiet {
                writeln!(
                    out,
                    "removed {} and its {}",
                    output::escape_path(&root),
                    output::count(doomed.len(), "track", "tracks")
                )?;
            }
            Ok(())
        }
        Command::Play {
            queue,
            enqueue: true,
            ..
        } => play::enqueue(ctx, &queue, out),
        Command::Serve(args) => serve::serve(ctx, &args),
        Command::Ui(args) => ui::ui(ctx, &args),
        Command::Status { json } => remote::status(ctx, json, out),
        Command::Pause => remote::simple(ctx, &["pause", "1"]),
        Command::Toggle => remote::simple(ctx, &["pause"]),
        Command::Stop => remote::simple(ctx, &["stop"]),
        Command::Next => remote::simple(ctx, &["next"]),
        Command::Prev => remote::simple(ctx, &["previous"]),
        Command::Seek { time } => remote::seek(ctx, &time),
        Command::Volume { value } => remote::volume(ctx, value.as_deref(), out),
        Command::Queue(cmd) => remote::queue(ctx, cmd, out),
        Command::Play {
            queue,
            device,
            volume,
            resume,
            ..
        } => {
            let device = device.or(ctx.config.device.as_ref().map(|s| s.value.clone()));
            play::play(ctx, &queue, device.as_deref(), volume, resume, out)
        }
        Command::Render {
            queue,
            output,
            force,
        } => play::render(ctx, &queue, &output, force, out),
        Command::Devices { json } => play::devices(json, out),
        Command::Convert(args) => convert::convert(ctx, &args, out),
        Command::Analyze(args) => analyze::analyze(ctx, &args, out),
        Command::Dupes {
            select,
            threshold,
            json,
        } => analyze::dupes(ctx, &select, threshold, json, out),
        Command::Converted { json } => convert::converted(ctx, json, out),
        Command::Export(args) => export::export(ctx, &args, out),
        Command::Cd(args) => cd::cd(ctx, &args, out),
        Command::Exports { json } => export::exports(ctx, json, out),
        Command::Profiles { json } => export::profiles_cmd(ctx, json, out),
        Command::Config { json } => config::show(ctx, json, out),
        Command::Help { topic } => help::help(&topic, out),
        Command::Man => help::man(out),
        Command::Completions { shell } => completions::run(shell, out),
    }
}

/// Writes the tracks a selection picks in the given mode.
fn list_tracks(
    lib: &Library,
    sel: &Selection<'_>,
    mode: &output::ListMode,
    out: &mut dyn Write,
) -> Result<()> {
    match mode {
        output::ListMode::Paths { escape: false } => {
            lib.for_each_path(sel, |p| output::path(out, p))??
        }
        _ => lib.for_each_track(sel, |t| output::track(out, &t, mode))??,
    }
    Ok(())
}

fn list_groups(
    ctx: &Settings,
    by: GroupBy,
    select: &SelectArgs,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let lib = ctx.open_library()?;
    let (q, within) = playlist::resolve(&lib, select)?;
    for g in lib.groups(by, Some(&q), within)? {
        output::group(out, by, &g, json)?;
    }
    Ok(())
}

/// Shuffles in place with a generator seeded from the clock: a random pick needs variety, not
/// cryptographic quality.
fn shuffle<T>(items: &mut [T]) {
    let mut state = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0x9e37_79b9_7f4a_7c15, |d| d.as_nanos() as u64)
        | 1;
    for i in (1..items.len()).rev() {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let r = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
        items.swap(i, (r % (i as u64 + 1)) as usize);
    }
}

/// Makes a user-given path absolute and checks that it exists.
fn resolve_root(path: &Path) -> Result<PathBuf> {
    match std::fs::canonicalize(path) {
        Ok(p) => Ok(p),
        Err(e) => Err(UsageError(format!(
            "cannot scan {}: {}",
            path.display(),
            scan::walk::io_reason(&e)
        ))
        .into()),
    }
}

fn cmd_scan(
    ctx: &Settings,
    paths: &[PathBuf],
    opts: ScanOptions,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let roots = paths
        .iter()
        .map(|p| resolve_root(p))
        .collect::<Result<Vec<_>>>()?;
    let mut lib = ctx.open_library()?;
    let _lock = ScanLock::acquire(&ctx.db_path)?;
    if roots.is_empty() && lib.roots()?.is_empty() {
        return Err(UsageError(
            "no folders to scan yet: name one, as in `tapedeck scan ~/Music`".into(),
        )
        .into());
    }
    let show_bar = !ctx.quiet && io::stderr().is_terminal();
    let progress = progress::ScanProgress::new(show_bar, !ctx.quiet, ctx.verbose > 0);
    let summary = scan::scan(&mut lib, &roots, &opts, &progress, now()).context("scan failed")?;
    progress.finish();
    if !ctx.quiet {
        for dir in &summary.targets {
            style::note(format_args!(
                "skipped {}: tapedeck writes there (convert/export target); --include-targets to index it",
                output::escape_path(dir)
            ));
        }
    }
    for (root, reason) in &summary.unavailable {
        style::warn(format_args!(
            "{} {reason}; its tracks are kept, nothing under it was removed",
            output::escape_path(root)
        ));
    }
    if json {
        serde_json::to_writer(&mut *out, &output::summary_json(&summary))?;
        writeln!(out)?;
    } else if !ctx.quiet {
        writeln!(out, "{}", output::summary_line(&summary))?;
        out.flush()?;
        if summary.problems > 0 {
            // The hint goes with the count, so a piped summary stays one line.
            style::hint(format_args!(
                "`tapedeck problems` lists the files that could not be indexed"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every subcommand, argument and flag says what it is in `--help`.
    #[test]
    fn every_command_argument_and_flag_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", cmd.get_name()).trim().to_string();
            if cmd
                .get_about()
                .is_none_or(|a| a.to_string().trim().is_empty())
            {
                missing.push(format!("`{path}`"));
            }
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if arg
                    .get_help()
                    .is_none_or(|h| h.to_string().trim().is_empty())
                {
                    missing.push(format!("`{path}` argument `{id}`"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_name() != "help" {
                    walk(sub, &path, missing);
                }
            }
        }
        let mut missing = Vec::new();
        let cmd = Args::command();
        walk(&cmd, "", &mut missing);
        assert!(missing.is_empty(), "no help text:\n{}", missing.join("\n"));
        // The walk sees nested subcommands and flattened arguments.
        let playlist = cmd.find_subcommand("playlist").unwrap();
        assert!(playlist.find_subcommand("rename").is_some());
        let ls = cmd.find_subcommand("ls").unwrap();
        assert!(ls.get_arguments().any(|a| a.get_id() == "sort"));
    }
}
