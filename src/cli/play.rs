//! `tapedeck play`, `render` and `devices`: building the queue from a query, playlist or paths,
//! driving the engine, the terminal controls and status line, and play history.

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result};
use crossterm::event::{self as term_event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::{cursor, terminal};

use super::{SelectArgs, Settings, output, playlist};
use crate::audio::{Spec, gain};
use crate::config::{Action, Bindings, Config};
use crate::db::Library;
use crate::db::query::Selection;
use crate::error::UsageError;
use crate::player::device::{self, DeviceOutput};
use crate::player::engine::{self, Command, Event, Options};
use crate::player::output::{Output, WavOutput};
use crate::player::queue::{Item, Queue, Repeat, Shuffle};
use crate::service::resume::ResumeError;
use crate::service::{self, Initial, Service, items};
use crate::text::{self, clock};

/// What to play and how: shared by `play` and `render`.
#[derive(Debug, Clone, clap::Args)]
pub struct QueueArgs {
    /// Query terms (as for `ls`), and/or files and folders to play
    #[arg(value_name = "QUERY|PATH")]
    pub terms: Vec<OsString>,
    /// Sort order, as in 'year+ album+ track+'
    #[arg(long, value_name = "KEYS")]
    pub sort: Option<String>,
    /// Take tracks from this playlist, in its order
    #[arg(short = 'p', long, value_name = "PLAYLIST")]
    pub playlist: Option<String>,
    /// Shuffle tracks
    #[arg(long, conflicts_with = "shuffle_albums")]
    pub shuffle: bool,
    /// Shuffle whole albums, each played in order
    #[arg(long)]
    pub shuffle_albums: bool,
    /// Repeat the queue or one track
    #[arg(long, value_enum, default_value_t = Repeat::Off)]
    pub repeat: Repeat,
    /// Start this far into the first track: 90, 1:30 or 1:02:03
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub start_at: Option<f64>,
    /// ReplayGain: album gain for albums in order and track gain when shuffled (auto), or fixed
    /// [default: the configuration's, else auto]
    #[arg(long, value_enum)]
    pub replaygain: Option<gain::Mode>,
    /// Added to every ReplayGain value, in dB [default: the configuration's, else 0]
    #[arg(long, value_name = "DB", allow_negative_numbers = true)]
    pub preamp: Option<f64>,
    /// Gain for tracks without ReplayGain tags, in dB [default: the configuration's, else 0]
    #[arg(long, value_name = "DB", allow_negative_numbers = true)]
    pub fallback_gain: Option<f64>,
    /// Let gain push peaks past full scale instead of lowering it to the tagged peak
    #[arg(long)]
    pub allow_clipping: bool,
}

/// The gain settings of the configuration (else the defaults).
pub(super) fn gain_settings(config: &Config) -> gain::Settings {
    gain::Settings {
        mode: config
            .replaygain
            .as_ref()
            .map(|s| s.value)
            .unwrap_or_default(),
        preamp_db: config.preamp.as_ref().map_or(0.0, |s| s.value),
        fallback_db: config.fallback_gain.as_ref().map_or(0.0, |s| s.value),
        prevent_clipping: true,
    }
}

impl QueueArgs {
    /// The gain settings: the flags, else the configuration's, else the defaults.
    fn gain(&self, config: &Config) -> gain::Settings {
        let configured = gain_settings(config);
        gain::Settings {
            mode: self.replaygain.unwrap_or(configured.mode),
            preamp_db: self.preamp.unwrap_or(configured.preamp_db),
            fallback_db: self.fallback_gain.unwrap_or(configured.fallback_db),
            prevent_clipping: !self.allow_clipping,
        }
    }

    fn shuffle_mode(&self) -> Shuffle {
        if self.shuffle {
            Shuffle::Tracks
        } else if self.shuffle_albums {
            Shuffle::Albums
        } else {
            Shuffle::Off
        }
    }
}

/// Parses 90, 90.5, 1:30 or 1:02:03 into seconds.
pub fn parse_time(s: &str) -> Result<f64, String> {
    let mut total = 0.0;
    let parts: Vec<&str> = s.trim().split(':').collect();
    if parts.len() > 3 {
        return Err(format!("{s:?} is not a time: use 90, 1:30 or 1:02:03"));
    }
    for (i, part) in parts.iter().enumerate() {
        let v: f64 = part
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| format!("{s:?} is not a time: use 90, 1:30 or 1:02:03"))?;
        if i > 0 && v >= 60.0 {
            return Err(format!("{s:?}: minutes and seconds go up to 59"));
        }
        total = total * 60.0 + v;
    }
    Ok(total)
}

/// Whether the settings prefer the gain `analyze` computed over files' own tags.
pub(super) fn prefer_computed(ctx: &Settings) -> bool {
    ctx.config.prefer_computed.as_ref().is_some_and(|s| s.value)
}

/// Whether a command-line argument that names nothing on disk was meant as a file: it starts
/// like a path (`/`, `./`, `../`, `~/`), or is a relative path (`Music/x.flac`) ending in an
/// audio extension, and is not a field query (`path:/music`). A bare word such as `AC/DC` or
/// `song.flac` stays a query.
fn looks_like_a_path(term: &std::ffi::OsStr) -> bool {
    let text = term.to_string_lossy();
    if text.contains(':') {
        return false;
    }
    let starts = ["/", "./", "../", "~/"].iter().any(|p| text.starts_with(p));
    let ext = Path::new(term)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| {
            [
                "mp3", "flac", "m4a", "mp4", "aac", "wav", "aif", "aiff", "aifc", "alac",
            ]
            .contains(&e.to_ascii_lowercase().as_str())
        });
    // A bare `song.flac` stays a query: it finds the library track of that name.
    starts || (ext && text.contains('/'))
}

/// Resolves the arguments into queue items: paths that exist are played as files (library
/// tracks keep their history), the rest is a query. Also how many named files were left out
/// (each has said why): the command then ends with exit code 1, as when a file fails to play.
fn build_items(
    lib: &Library,
    args: &QueueArgs,
    prefer_computed: bool,
) -> Result<(Vec<Item>, usize)> {
    let mut query_terms = Vec::new();
    let mut paths = Vec::new();
    for term in &args.terms {
        let path = Path::new(term);
        if path.exists() {
            paths.push(path.to_path_buf());
        } else if looks_like_a_path(term) {
            return Err(UsageError(format!("no such file: {}", output::escape_path(path))).into());
        } else {
            query_terms.push(
                term.to_str()
                    .map(str::to_string)
                    .ok_or_else(|| UsageError(format!("no such file: {}", path.display())))?,
            );
        }
    }
    let mut files = Vec::new();
    for path in &paths {
        if path.is_dir() {
            files.extend(items::files_under(path));
        } else {
            files.push(path.clone());
        }
    }
    let files: Vec<PathBuf> = files
        .into_iter()
        .map(|f| std::fs::canonicalize(&f).unwrap_or(f))
        .collect();
    let mut items = Vec::with_capacity(files.len());
    let mut left_out = 0;
    for (path, item) in files
        .iter()
        .zip(items::for_paths(lib, &files, prefer_computed)?)
    {
        match item {
            Ok(item) => items.push(item),
            Err(why) => {
                left_out += 1;
                super::style::error(format_args!(
                    "{} {why}; not played",
                    output::escape_path(path)
                ));
            }
        }
    }
    let wants_query = !query_terms.is_empty() || args.playlist.is_some() || paths.is_empty();
    if wants_query {
        let select = SelectArgs {
            query: query_terms,
            sort: args.sort.clone(),
            playlist: args.playlist.clone(),
        };
        let (q, within) = playlist::resolve(lib, &select)?;
        let sel = Selection {
            query: Some(&q),
            random: false,
            limit: None,
            within,
        };
        items.extend(
            lib.tracks(&sel)?
                .iter()
                .map(|t| items::from_track(t, prefer_computed)),
        );
    }
    if items.is_empty() {
        if left_out > 0 {
            // Each file already said why; this is what the command line as a whole comes to.
            anyhow::bail!("nothing to play: every file named was left out");
        }
        let what = if args.terms.is_empty() && args.playlist.is_none() {
            "the library is empty: `tapedeck scan FOLDER` first, or name files to play"
        } else {
            "nothing matches"
        };
        return Err(UsageError(what.into()).into());
    }
    Ok((items, left_out))
}

/// The output the service's engines play through: the device is found once up front, so a
/// wrong name fails before anything plays; the first engine takes that one, later ones (after a
/// stop) find it again.
pub(super) fn device_factory(device_name: Option<&str>) -> Result<service::OutputFactory> {
    let first = DeviceOutput::new(device_name).map_err(|e| anyhow::anyhow!(e.0))?;
    let first = std::sync::Mutex::new(Some(first));
    let device = device_name.map(str::to_string);
    Ok(Arc::new(move || {
        let out = match first.lock().ok().and_then(|mut f| f.take()) {
            Some(d) => d,
            None => DeviceOutput::new(device.as_deref())?,
        };
        Ok(Box::new(out) as Box<dyn Output>)
    }))
}

/// `tapedeck play --enqueue`: the tracks go to the running service's queue.
pub fn enqueue(ctx: &Settings, args: &QueueArgs, out: &mut dyn Write) -> Result<()> {
    let lib = ctx.open_library()?;
    let (items, left_out) = build_items(&lib, args, prefer_computed(ctx))?;
    let paths: Vec<PathBuf> = items.into_iter().map(|i| i.path).collect();
    let n = super::remote::enqueue(ctx, &paths)?;
    if !ctx.quiet {
        writeln!(
            out,
            "added {n} track{} to the queue",
            if n == 1 { "" } else { "s" }
        )?;
    }
    if left_out > 0 {
        return Err(crate::error::AlreadyReported(crate::error::code::FAILURE).into());
    }
    Ok(())
}

/// `tapedeck devices`.
pub fn devices(json: bool, out: &mut dyn Write) -> Result<()> {
    let list = device::list().map_err(|e| anyhow::anyhow!(e.0))?;
    if list.is_empty() && !json {
        super::style::warn(
            "no audio output devices found; `tapedeck render QUERY -o out.wav` writes to a file",
        );
    }
    let width = list
        .iter()
        .map(|d| d.name.chars().count())
        .max()
        .unwrap_or(0);
    for d in &list {
        if json {
            serde_json::to_writer(&mut *out, d)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", device_line(d, width))?;
        }
    }
    if !json && !list.is_empty() && io::stdout().is_terminal() {
        writeln!(
            out,
            "(* plays without --device; pick another with --device NAME)"
        )?;
    }
    Ok(())
}

/// One device in `tapedeck devices`: `* NAME  DESCRIPTION (CHANNELS, RATES)`, the name padded
/// to `width`, the default marked with `*`.
fn device_line(d: &device::DeviceInfo, width: usize) -> String {
    let rates: Vec<String> = d
        .rates
        .iter()
        .map(|(a, b)| {
            if a == b {
                format!("{a}")
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    let mut line = format!(
        "{} {:<width$}  {}",
        if d.default { "*" } else { " " },
        output::escape(&d.name),
        output::escape(&d.description),
    );
    if d.max_channels > 0 {
        line.push_str(&format!(
            " ({} ch, {} Hz)",
            d.max_channels,
            rates.join(", ")
        ));
    }
    line.trim_end().to_string()
}

/// `tapedeck render`: the play pipeline into a WAV file, as fast as it goes.
pub fn render(
    ctx: &Settings,
    args: &QueueArgs,
    output: &Path,
    force: bool,
    out: &mut dyn Write,
) -> Result<()> {
    if args.repeat != Repeat::Off {
        return Err(UsageError("--repeat would render forever; leave it out".into()).into());
    }
    let lib = ctx.open_library()?;
    let (items, left_out) = build_items(&lib, args, prefer_computed(ctx))?;
    let count = items.len();
    let queue_paths: Vec<PathBuf> = items.iter().map(|i| i.path.clone()).collect();
    let queue = Queue::new(items, args.shuffle_mode(), Repeat::Off, seed());
    let options = Options {
        gain: args.gain(&ctx.config),
        start_at: args.start_at.unwrap_or(0.0),
        volume: 100,
    };
    // Never written onto an input of the render or a library track, even with --force.
    let mut protected: Vec<PathBuf> = queue_paths;
    if let Ok(full) = std::fs::canonicalize(output)
        && lib.track_id_by_path(&full)?.is_some()
    {
        protected.push(full);
    }
    let mut file =
        crate::target::OutputFile::create(output, force, &protected).map_err(|e| match e {
            crate::target::Error::Exists { .. } => anyhow::anyhow!(
                "{} exists; pass --force to replace it (`render` never replaces a track)",
                output.display()
            ),
            e => e.into(),
        })?;
    let handle = engine::start(
        queue,
        Box::new(WavOutput::new(file.take_file(), output)),
        options,
    );
    let mut failed = 0;
    let mut output_failed = None;
    let mut done = 0;
    let mut first: Option<(Spec, Spec)> = None;
    for event in handle.events.iter() {
        match event {
            Event::Started {
                item,
                gain,
                source,
                output,
                ..
            } => {
                done += 1;
                first.get_or_insert((source, output));
                if !ctx.quiet {
                    writeln!(
                        out,
                        "{}",
                        track_line(done, count, &item, &gain, source, output)
                    )?;
                    out.flush()?;
                }
            }
            Event::Error { path, message } => {
                failed += 1;
                super::style::error(format_args!(
                    "{}: {}",
                    output::escape_path(&path),
                    output::escape(&message)
                ));
            }
            Event::Warning { path, message } => super::style::warn(format_args!(
                "{}: {}",
                output::escape_path(&path),
                output::escape(&message)
            )),
            Event::OutputFailed(m) => output_failed = Some(m),
            Event::Ended => break,
            _ => {}
        }
    }
    handle.join();
    // Dropping `file` without committing removes the temporary file.
    if let Some(m) = output_failed {
        anyhow::bail!("cannot write {}: {m}", output.display());
    }
    if first.is_none() {
        anyhow::bail!("nothing could be rendered: every file failed");
    }
    file.commit()?;
    if failed > 0 || left_out > 0 {
        return Err(crate::error::AlreadyReported(crate::error::code::FAILURE).into());
    }
    Ok(())
}

pub(super) fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

/// The one line per track printed when not on a terminal.
fn track_line(
    n: usize,
    total: usize,
    item: &Item,
    gain: &gain::Applied,
    source: Spec,
    output: Spec,
) -> String {
    let mut line = format!("[{n}/{total}] ");
    if let Some(a) = &item.artist {
        line.push_str(&output::escape(a));
        line.push_str(" - ");
    }
    line.push_str(&output::escape(&item.title));
    if let Some(al) = &item.album {
        line.push_str(&format!(" ({})", output::escape(al)));
    }
    line.push_str(&format!(
        "  {} {}",
        output::escape(&item.format),
        source.describe()
    ));
    if output.rate != source.rate {
        line.push_str(&format!(" -> {}", output.describe()));
    }
    let g = gain.describe();
    if !g.is_empty() {
        line.push_str("  ");
        line.push_str(&g);
    }
    line
}

/// Puts the terminal back however the player ends (return, error or panic).
struct RawMode;

impl RawMode {
    fn enter() -> Result<RawMode> {
        terminal::enable_raw_mode().context("cannot set up the terminal")?;
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
        let _ = crossterm::execute!(io::stderr(), cursor::Hide);
        Ok(RawMode)
    }
}

fn restore_terminal() {
    let _ = terminal::disable_raw_mode();
    let _ = crossterm::execute!(io::stderr(), cursor::Show);
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore_terminal();
        eprintln!();
    }
}

/// The command a key press asks for, through the configured bindings; Ctrl-C always stops.
fn key_command(key: KeyEvent, bindings: &Bindings) -> Option<Command> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        return Some(Command::Stop);
    }
    let key = crate::ui::keys::key_of(key.code)?;
    Some(match bindings.action(key)? {
        Action::Pause => Command::TogglePause,
        Action::Next => Command::Next,
        Action::Previous => Command::Previous,
        Action::SeekForward => Command::SeekBy(5.0),
        Action::SeekBack => Command::SeekBy(-5.0),
        Action::SeekForwardLong => Command::SeekBy(60.0),
        Action::SeekBackLong => Command::SeekBy(-60.0),
        Action::VolumeUp => Command::VolumeBy(5),
        Action::VolumeDown => Command::VolumeBy(-5),
        Action::Shuffle => Command::ToggleShuffle,
        Action::Repeat => Command::CycleRepeat,
        Action::Quit => Command::Stop,
    })
}

/// The keys, as `?` or `h` lists them.
const KEYS_HELP: &str = "keys: space pause, n/p next/previous, left/right seek 5 s, up/down 60 s, \
                         g go to a time (g 1:30 Enter), +/- volume, s shuffle, r repeat, \
                         ? or h this help, q quit";

/// What a key asks of the player. (One per key press, so its size does not matter.)
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
enum KeyAction {
    Send(Command),
    /// Show [`KEYS_HELP`].
    Help,
    /// The time being typed after `g` changed (or was cancelled): draw the line again.
    Redraw,
    /// The typed time was not a time.
    Mistake(String),
    Nothing,
}

/// Reads keys through the configured bindings, with one piece of state: the time typed after
/// `g`, until Enter or Esc. A bound key wins over `g`, `?` and `h`.
struct Keys {
    typing: Option<String>,
    bindings: Bindings,
}

impl Keys {
    fn key(&mut self, key: KeyEvent) -> KeyAction {
        if key.kind == KeyEventKind::Release {
            return KeyAction::Nothing;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let Some(text) = &mut self.typing else {
            if let Some(c) = key_command(key, &self.bindings) {
                return KeyAction::Send(c);
            }
            return match key.code {
                KeyCode::Char('g') if !ctrl => {
                    self.typing = Some(String::new());
                    KeyAction::Redraw
                }
                KeyCode::Char('?') | KeyCode::Char('h') if !ctrl => KeyAction::Help,
                _ => KeyAction::Nothing,
            };
        };
        match key.code {
            KeyCode::Char('c') if ctrl => KeyAction::Send(Command::Stop),
            KeyCode::Char(c) if c.is_ascii_digit() || c == ':' || c == '.' => {
                text.push(c);
                KeyAction::Redraw
            }
            KeyCode::Backspace => {
                text.pop();
                KeyAction::Redraw
            }
            KeyCode::Esc => {
                self.typing = None;
                KeyAction::Redraw
            }
            KeyCode::Enter => {
                let text = self.typing.take().unwrap_or_default();
                if text.is_empty() {
                    return KeyAction::Redraw;
                }
                match parse_time(&text) {
                    Ok(secs) => KeyAction::Send(Command::SeekTo(secs)),
                    Err(e) => KeyAction::Mistake(e),
                }
            }
            _ => KeyAction::Nothing,
        }
    }

    /// The line shown while a time is typed.
    fn prompt(&self) -> Option<String> {
        self.typing
            .as_ref()
            .map(|t| format!("go to: {t}_  (90, 1:30 or 1:02:03; Enter goes, Esc cancels)"))
    }
}

/// What the status line can show, escaped and formatted; [`status_line`] picks what fits.
#[derive(Debug, Clone, Default)]
struct StatusFields {
    paused: bool,
    /// Position in the play order and the queue's length.
    queue: Option<(usize, usize)>,
    artist: Option<String>,
    title: String,
    album: Option<String>,
    /// `1:02 / 4:30`.
    time: String,
    /// Format and rate, as in `flac 44.1 kHz/16`.
    spec: String,
    gain: String,
    volume: u8,
    shuffle: bool,
    repeat: &'static str,
}

/// Parts the status line leaves out when it is too narrow, first to go first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Spec,
    Gain,
    Album,
    Volume,
    Modes,
    Artist,
    Queue,
}

const DROP_ORDER: [Part; 7] = [
    Part::Spec,
    Part::Gain,
    Part::Album,
    Part::Volume,
    Part::Modes,
    Part::Artist,
    Part::Queue,
];

/// The status line for a terminal `width` columns wide (it stays one column short, so it never
/// wraps). The title comes first: the format, the gain, the album, the volume, shuffle and
/// repeat, the artist and the queue position are left out in that order until it fits, and only
/// then is the title shortened (ending in `~`). The time is always shown.
fn status_line(f: &StatusFields, width: usize) -> String {
    let max = width.saturating_sub(1);
    let compose = |dropped: &[Part], title: &str| -> String {
        let has = |p: Part| !dropped.contains(&p);
        let mut s = String::from(if f.paused { "|| " } else { "> " });
        if let (Some((n, total)), true) = (f.queue, has(Part::Queue)) {
            s.push_str(&format!("[{n}/{total}] "));
        }
        if let (Some(a), true) = (&f.artist, has(Part::Artist)) {
            s.push_str(a);
            s.push_str(" - ");
        }
        s.push_str(title);
        if let (Some(al), true) = (&f.album, has(Part::Album)) {
            s.push_str(&format!(" [{al}]"));
        }
        s.push_str(&format!("  {}", f.time));
        if has(Part::Spec) && !f.spec.is_empty() {
            s.push_str(&format!("  {}", f.spec));
        }
        if has(Part::Gain) && !f.gain.is_empty() {
            s.push_str(&format!("  {}", f.gain));
        }
        if has(Part::Volume) {
            s.push_str(&format!("  vol {}%", f.volume));
        }
        if has(Part::Modes) {
            if f.shuffle {
                s.push_str("  shuffle");
            }
            if f.repeat != "off" && !f.repeat.is_empty() {
                s.push_str(&format!("  repeat {}", f.repeat));
            }
        }
        s
    };
    let mut dropped: Vec<Part> = Vec::new();
    let mut line = compose(&dropped, &f.title);
    for part in DROP_ORDER {
        if text::width(&line) <= max {
            return line;
        }
        dropped.push(part);
        line = compose(&dropped, &f.title);
    }
    if text::width(&line) <= max {
        return line;
    }
    // Shorten the title by what is missing.
    let over = text::width(&line) - max;
    let keep = text::width(&f.title).saturating_sub(over + 1);
    if keep > 0 {
        let title = format!("{}~", text::cut_to(&f.title, keep));
        line = compose(&dropped, &title);
    }
    text::cut_to(&line, max).to_string()
}

/// What the status line shows.
#[derive(Default)]
struct Status {
    item: Option<Item>,
    queue: Option<(usize, usize)>,
    gain: String,
    spec: String,
    position: f64,
    duration: f64,
    paused: bool,
    volume: u8,
    shuffle: bool,
    repeat: &'static str,
}

impl Status {
    fn line(&self, width: usize) -> String {
        let Some(item) = &self.item else {
            return String::new();
        };
        let fields = StatusFields {
            paused: self.paused,
            queue: self.queue,
            artist: item
                .artist
                .as_deref()
                .map(|a| output::escape(a).into_owned()),
            title: output::escape(&item.title).into_owned(),
            album: item
                .album
                .as_deref()
                .map(|a| output::escape(a).into_owned()),
            time: format!("{} / {}", clock(self.position), clock(self.duration)),
            spec: self.spec.clone(),
            gain: self.gain.clone(),
            volume: self.volume,
            shuffle: self.shuffle,
            repeat: self.repeat,
        };
        status_line(&fields, width)
    }
}

/// `tapedeck play`.
pub fn play(
    ctx: &Settings,
    args: &QueueArgs,
    device_name: Option<&str>,
    volume: Option<u8>,
    resume: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let lib = ctx.open_library()?;
    let mut left_out = 0;
    let mut gain_settings = args.gain(&ctx.config);
    let configured_volume = ctx.config.volume.as_ref().map(|s| s.value);
    let (initial, volume) = if resume {
        if !args.terms.is_empty() || args.playlist.is_some() {
            return Err(UsageError(
                "--resume continues the last queue; leave out the query".into(),
            )
            .into());
        }
        // What the listener set last time stands, unless a flag says otherwise now.
        let r = service::resume::load(&lib, prefer_computed(ctx)).map_err(|e| match e {
            ResumeError::Nothing | ResumeError::Gone => UsageError(e.to_string()).into(),
            e => anyhow::Error::from(e),
        })?;
        for (path, why) in &r.left_out {
            super::style::warn(format_args!(
                "{} {why}; left out of the queue",
                output::escape_path(path)
            ));
        }
        if let (None, Some(mode)) = (args.replaygain, r.replaygain) {
            gain_settings.mode = mode;
        }
        let volume = volume.or(r.volume).or(configured_volume).unwrap_or(100);
        let repeat = if args.repeat != Repeat::Off {
            args.repeat
        } else {
            r.repeat
        };
        let initial = Initial {
            items: r.items,
            order: Some(r.order),
            cursor: r.cursor,
            position: r.position,
            shuffle: r.shuffle,
            repeat,
            single: r.single,
            consume: r.consume,
        };
        (initial, volume)
    } else {
        let (items, n) = build_items(&lib, args, prefer_computed(ctx))?;
        left_out = n;
        let volume = volume.or(configured_volume).unwrap_or(100);
        let initial = Initial {
            items,
            position: args.start_at.unwrap_or(0.0),
            shuffle: args.shuffle_mode(),
            repeat: args.repeat,
            ..Initial::default()
        };
        (initial, volume)
    };
    let factory = device_factory(device_name)?;
    let settings = service::Settings {
        gain: gain_settings,
        volume,
        prefer_computed: prefer_computed(ctx),
        output: factory,
        seed: seed(),
    };
    let (repeat, shuffled) = (initial.repeat, initial.shuffle != Shuffle::Off);
    let player = Service::start(lib, settings, initial);
    let events = player.events();
    let interactive = io::stdin().is_terminal() && io::stderr().is_terminal() && !ctx.quiet;
    player.play(None).map_err(|e| anyhow::anyhow!("{e}"))?;
    // Media keys and desktop panels see the player while it plays (when there is a session
    // bus); published once sound is on its way, so the bus never delays the first sample.
    let _mpris = service::mpris::publish(&player);
    let _raw = if interactive {
        Some(RawMode::enter()?)
    } else {
        None
    };
    // What the keys want shown: the time being typed, and help or a mistake to print once.
    let screen: Arc<std::sync::Mutex<Screen>> = Arc::default();
    if interactive {
        let player = player.clone();
        let bindings = Bindings::new(&ctx.config);
        let screen = screen.clone();
        std::thread::spawn(move || {
            let mut keys = Keys {
                typing: None,
                bindings,
            };
            loop {
                match term_event::poll(Duration::from_millis(200)) {
                    Ok(true) => {
                        let Ok(term_event::Event::Key(key)) = term_event::read() else {
                            continue;
                        };
                        let action = keys.key(key);
                        if let Ok(mut screen) = screen.lock() {
                            screen.prompt = keys.prompt();
                            match &action {
                                KeyAction::Help => screen.print = Some(KEYS_HELP.to_string()),
                                KeyAction::Mistake(m) => screen.print = Some(m.clone()),
                                _ => {}
                            }
                            screen.dirty = true;
                        }
                        if let KeyAction::Send(c) = action {
                            let stop = matches!(c, Command::Stop);
                            player.command(c);
                            if stop {
                                return;
                            }
                        }
                    }
                    Ok(false) => {}
                    Err(_) => return,
                }
            }
        });
    }
    let mut status = Status {
        volume,
        repeat: repeat.name(),
        shuffle: shuffled,
        ..Status::default()
    };
    let mut failed = 0;
    let mut output_error = None;
    let interrupted = super::interrupt::flag();
    loop {
        let event = match events.recv_timeout(Duration::from_millis(100)) {
            Ok(e) => e,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if interrupted.swap(false, Ordering::AcqRel) {
                    player.stop();
                }
                if player.status().state == service::State::Stop {
                    break;
                }
                // Keys typed while paused still show.
                if interactive && screen.lock().is_ok_and(|s| s.dirty) {
                    draw(&status, &screen);
                }
                continue;
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        };
        match event {
            Event::Started {
                position,
                total,
                item,
                gain,
                source,
                output,
                at,
                ..
            } => {
                status.queue = Some((position, total));
                status.spec = format!("{} {}", output::escape(&item.format), source.describe());
                if output.rate != source.rate {
                    status.spec.push_str(&format!(" -> {}", output.describe()));
                }
                status.gain = gain.describe();
                status.position = at;
                status.duration = item.duration;
                if !interactive && !ctx.quiet {
                    writeln!(
                        out,
                        "{}",
                        track_line(position, total, &item, &gain, source, output)
                    )?;
                    out.flush()?;
                }
                status.item = Some(item);
            }
            Event::Position { secs, duration, .. } => {
                status.position = secs;
                if duration > 0.0 {
                    status.duration = duration;
                }
            }
            Event::Error { path, message } => {
                failed += 1;
                report(interactive, "error", &path, &message);
            }
            Event::Warning { path, message } => report(interactive, "warning", &path, &message),
            Event::Paused(p) => status.paused = p,
            Event::Volume(v) => status.volume = v,
            Event::Modes {
                shuffle, repeat, ..
            } => {
                status.shuffle = shuffle != Shuffle::Off;
                status.repeat = repeat.name();
            }
            Event::OutputFailed(m) => output_error = Some(m),
            Event::Ended => break,
            Event::Finished { .. } => {}
        }
        if interactive {
            draw(&status, &screen);
        }
    }
    player.shutdown();
    if let Some(m) = output_error {
        anyhow::bail!("{m}");
    }
    if failed > 0 || left_out > 0 {
        return Err(crate::error::AlreadyReported(crate::error::code::FAILURE).into());
    }
    Ok(())
}

/// What the key reader asks the screen to show.
#[derive(Debug, Default)]
struct Screen {
    /// The time being typed after `g`, shown instead of the status.
    prompt: Option<String>,
    /// A line to print once above the status (the keys' help, a mistyped time).
    print: Option<String>,
    /// Something changed since the last draw.
    dirty: bool,
}

/// Draws the status line (or the time being typed) on stderr, printing any pending line above it.
fn draw(status: &Status, screen: &std::sync::Mutex<Screen>) {
    let width = terminal::size().map_or(80, |(w, _)| usize::from(w));
    let mut err = io::stderr();
    let (prompt, print) = match screen.lock() {
        Ok(mut s) => {
            s.dirty = false;
            (s.prompt.clone(), s.print.take())
        }
        Err(_) => (None, None),
    };
    if let Some(text) = print {
        let _ = crossterm::execute!(err, terminal::Clear(terminal::ClearType::CurrentLine));
        let _ = write!(err, "\r{text}\r\n");
    }
    let line = match prompt {
        Some(p) => text::cut_to(&p, width.saturating_sub(1)).to_string(),
        None => status.line(width),
    };
    let _ = write!(err, "\r{line}");
    let _ = crossterm::execute!(err, terminal::Clear(terminal::ClearType::UntilNewLine));
}

/// A per-file message on stderr (`error:` or `warning:`), above the status line when there is
/// one.
fn report(interactive: bool, kind: &str, path: &Path, message: &str) {
    let label = super::style::label(kind, super::style::stderr());
    if interactive {
        let _ = crossterm::execute!(
            io::stderr(),
            terminal::Clear(terminal::ClearType::CurrentLine)
        );
        eprint!(
            "\r{label} {}: {}\r\n",
            output::escape_path(path),
            output::escape(message)
        );
    } else {
        eprintln!(
            "{label} {}: {}",
            output::escape_path(path),
            output::escape(message)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> StatusFields {
        StatusFields {
            paused: false,
            queue: Some((3, 27)),
            artist: Some("Kraftwerk".into()),
            title: "Electric Highway Nights".into(),
            album: Some("Computer World (Remastered)".into()),
            time: "1:02 / 4:30".into(),
            spec: "flac 44.1 kHz/16 -> 48 kHz".into(),
            gain: "-6.2 dB album".into(),
            volume: 80,
            shuffle: true,
            repeat: "all",
        }
    }

    #[test]
    fn the_status_line_gives_the_title_priority() {
        let f = fields();
        let cases = [
            (
                120,
                "> [3/27] Kraftwerk - Electric Highway Nights [Computer World (Remastered)]  \
                 1:02 / 4:30  vol 80%  shuffle  repeat all",
            ),
            (
                80,
                "> [3/27] Kraftwerk - Electric Highway Nights  1:02 / 4:30  shuffle  repeat all",
            ),
            (
                70,
                "> [3/27] Kraftwerk - Electric Highway Nights  1:02 / 4:30",
            ),
            (40, "> Electric Highway Nights  1:02 / 4:30"),
            (30, "> Electric High~  1:02 / 4:30"),
        ];
        for (width, want) in cases {
            let line = status_line(&f, width);
            assert_eq!(line, want, "at {width} columns");
            assert!(text::width(&line) < width, "{width}: {line}");
        }
        // Wide enough for everything, everything shows.
        let all = status_line(&f, 200);
        for part in [
            "flac 44.1 kHz/16 -> 48 kHz",
            "[Computer World (Remastered)]",
            "[3/27]",
        ] {
            assert!(all.contains(part), "{all}");
        }
        // Paused, no album, repeat off, full volume; wide characters count as two columns.
        let f = StatusFields {
            paused: true,
            album: None,
            title: "日本語のタイトル".into(),
            shuffle: false,
            repeat: "off",
            ..fields()
        };
        let line = status_line(&f, 40);
        assert_eq!(line, "|| [3/27] 日本語のタイトル  1:02 / 4:30");
        assert!(text::width(&line) < 40);
        let line = status_line(&f, 20);
        assert_eq!(line, "|| 日~  1:02 / 4:30");
        // Too narrow even for the time: cut, never wrapped.
        assert!(text::width(&status_line(&f, 10)) <= 9);
        assert_eq!(status_line(&f, 0), "");
    }

    fn press(keys: &mut Keys, code: KeyCode) -> KeyAction {
        keys.key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn keys_seek_to_a_typed_time_and_show_help() {
        let mut keys = Keys {
            typing: None,
            bindings: Bindings::new(&Config::default()),
        };
        assert_eq!(press(&mut keys, KeyCode::Char('?')), KeyAction::Help);
        assert_eq!(press(&mut keys, KeyCode::Char('h')), KeyAction::Help);
        assert_eq!(
            press(&mut keys, KeyCode::Char('n')),
            KeyAction::Send(Command::Next)
        );
        assert_eq!(press(&mut keys, KeyCode::Char('g')), KeyAction::Redraw);
        for c in "1:3x0".chars() {
            press(&mut keys, KeyCode::Char(c));
        }
        // Letters are not part of a time, and do not reach the player while typing.
        assert_eq!(
            keys.prompt().unwrap(),
            "go to: 1:30_  (90, 1:30 or 1:02:03; Enter goes, Esc cancels)"
        );
        assert_eq!(press(&mut keys, KeyCode::Char('q')), KeyAction::Nothing);
        assert_eq!(
            press(&mut keys, KeyCode::Enter),
            KeyAction::Send(Command::SeekTo(90.0))
        );
        assert_eq!(keys.prompt(), None);
        // Backspace, Esc, a mistake, an empty Enter.
        press(&mut keys, KeyCode::Char('g'));
        press(&mut keys, KeyCode::Char('7'));
        press(&mut keys, KeyCode::Backspace);
        press(&mut keys, KeyCode::Char('5'));
        assert_eq!(
            press(&mut keys, KeyCode::Enter),
            KeyAction::Send(Command::SeekTo(5.0))
        );
        press(&mut keys, KeyCode::Char('g'));
        press(&mut keys, KeyCode::Char('4'));
        assert_eq!(press(&mut keys, KeyCode::Esc), KeyAction::Redraw);
        assert_eq!(keys.prompt(), None);
        assert_eq!(
            press(&mut keys, KeyCode::Char('q')),
            KeyAction::Send(Command::Stop)
        );
        press(&mut keys, KeyCode::Char('g'));
        for c in "1:75".chars() {
            press(&mut keys, KeyCode::Char(c));
        }
        assert!(
            matches!(press(&mut keys, KeyCode::Enter), KeyAction::Mistake(m) if m.contains("59"))
        );
        press(&mut keys, KeyCode::Char('g'));
        assert_eq!(press(&mut keys, KeyCode::Enter), KeyAction::Redraw);
        assert_eq!(
            keys.key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            KeyAction::Send(Command::Stop)
        );
    }

    #[test]
    fn keys_follow_the_configured_bindings() {
        let press = |code, modifiers| KeyEvent::new(code, modifiers);
        let none = KeyModifiers::NONE;
        let defaults = Bindings::new(&Config::default());
        let cases: &[(KeyCode, Option<Command>)] = &[
            (KeyCode::Char(' '), Some(Command::TogglePause)),
            (KeyCode::Char('n'), Some(Command::Next)),
            (KeyCode::Right, Some(Command::SeekBy(5.0))),
            (KeyCode::Down, Some(Command::SeekBy(-60.0))),
            (KeyCode::Char('='), Some(Command::VolumeBy(5))),
            (KeyCode::Esc, Some(Command::Stop)),
            (KeyCode::Char('z'), None),
            (KeyCode::F(1), None),
        ];
        for (code, want) in cases {
            assert_eq!(
                key_command(press(*code, none), &defaults),
                *want,
                "{code:?}"
            );
        }
        let config = crate::config::parse("[keys]\nnext = 'l'\nquit = 'c'\n").unwrap();
        let mine = Bindings::new(&config);
        assert_eq!(
            key_command(press(KeyCode::Char('l'), none), &mine),
            Some(Command::Next)
        );
        assert_eq!(key_command(press(KeyCode::Char('n'), none), &mine), None);
        assert_eq!(key_command(press(KeyCode::Char('q'), none), &mine), None);
        assert_eq!(
            key_command(press(KeyCode::Char('c'), none), &mine),
            Some(Command::Stop)
        );
        // Ctrl-C quits whatever is bound.
        let ctrl_c = press(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(key_command(ctrl_c, &mine), Some(Command::Stop));
        let mut release = press(KeyCode::Char('l'), none);
        release.kind = KeyEventKind::Release;
        assert_eq!(key_command(release, &mine), None);
    }

    #[test]
    fn times_parse_in_the_usual_forms() {
        assert_eq!(parse_time("90"), Ok(90.0));
        assert_eq!(parse_time("1:30"), Ok(90.0));
        assert_eq!(parse_time("1:02:03"), Ok(3723.0));
        assert_eq!(parse_time("0:05.5"), Ok(5.5));
        assert!(parse_time("1:75").is_err());
        assert!(parse_time("abc").is_err());
        assert!(parse_time("-3").is_err());
        assert!(parse_time("1:2:3:4").is_err());
    }

    #[test]
    fn arguments_that_look_like_files_are_told_apart_from_queries() {
        for (arg, file) in [
            ("/home/me/Music/nosuch.flac", true),
            ("./x", true),
            ("Music/song.MP3", true),
            ("song.flac", false),
            ("AC/DC", false),
            ("path:/music/a.flac", false),
            ("beatles", false),
            ("year:1990..1999", false),
        ] {
            assert_eq!(looks_like_a_path(std::ffi::OsStr::new(arg)), file, "{arg}");
        }
    }
}
