//! The settings file, `config.toml`: defaults for the options people set once (list formats,
//! sort, ReplayGain, volume, output device, export profile, convert settings) and the player's
//! key bindings. Pure: text in, [`Config`] or a typed [`ConfigError`] out, each setting with the
//! line it came from. Where the file is and how flags override it is the command line's
//! business; an absent file is simply no settings.
//!
//! Every key is checked: an unknown one is an error with the closest known key suggested, and a
//! value of the wrong type or outside its range is an error naming the key and its line.

use std::fmt;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::audio::gain;
use crate::convert::encode::Format;
use crate::query::{ALBUM_FIELDS, Field};
use crate::template::{Template, closest};

/// The file's name in the configuration folder.
pub const FILE_NAME: &str = "config.toml";

/// The tables and the keys each holds (`keys` holds the player's actions, [`Action::ALL`];
/// `ui_keys` the full-screen UI's, [`UiAction::ALL`]).
const TABLES: &[(&str, &[&str])] = &[
    ("list", &["format", "album_format", "sort"]),
    (
        "play",
        &["replaygain", "preamp", "fallback_gain", "volume", "device"],
    ),
    ("gain", &["prefer_computed"]),
    ("export", &["profile"]),
    ("convert", &["format", "bitrate", "template"]),
    ("keys", &[]),
    ("ui_keys", &[]),
];

/// A value and the line of the file it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting<T> {
    pub value: T,
    pub line: usize,
}

/// Everything the file sets; `None` where it says nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// `[list] format`: the `ls` template.
    pub list_format: Option<Setting<String>>,
    /// `[list] album_format`: the template of `ls --albums` and `albums`.
    pub album_format: Option<Setting<String>>,
    /// `[list] sort`: the order of `ls` when neither the query nor `--sort` gives one.
    pub sort: Option<Setting<String>>,
    pub replaygain: Option<Setting<gain::Mode>>,
    pub preamp: Option<Setting<f64>>,
    pub fallback_gain: Option<Setting<f64>>,
    pub volume: Option<Setting<u8>>,
    pub device: Option<Setting<String>>,
    /// `[gain] prefer_computed`: the gain `analyze` computed over a file's own ReplayGain tags,
    /// in play, render, convert, export and cd (without it, computed gain is the fallback).
    pub prefer_computed: Option<Setting<bool>>,
    /// `[export] profile`: for a device that has none yet.
    pub profile: Option<Setting<String>>,
    pub convert_format: Option<Setting<Format>>,
    pub bitrate: Option<Setting<u32>>,
    pub template: Option<Setting<String>>,
    /// `[keys]`: the actions the file binds, each with its keys.
    pub keys: Vec<(Action, Setting<Vec<Key>>)>,
    /// `[ui_keys]`: the same for the full-screen UI.
    pub ui_keys: Vec<(UiAction, Setting<Vec<Key>>)>,
}

/// Why a configuration file was refused. `file` is set by [`load`]; `line` and `key` are set
/// for errors that have them.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    /// The key in dotted form, as in `list.format`.
    pub key: Option<String>,
    pub kind: ErrorKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ErrorKind {
    /// The file could not be read.
    Read(String),
    /// Not TOML.
    Syntax(String),
    /// A key or table that means nothing here, with the closest known one.
    UnknownKey { suggestion: Option<String> },
    /// A value of another TOML type than the key takes.
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
    /// A value of the right type that is not allowed (out of range, unknown name).
    BadValue(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            if let Some(line) = self.line {
                write!(f, ", line {line}")?;
            }
            f.write_str(": ")?;
        } else if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        let key = self.key.as_deref().unwrap_or("?");
        match &self.kind {
            ErrorKind::Read(why) => write!(f, "cannot read the file: {why}"),
            ErrorKind::Syntax(why) => write!(f, "not valid TOML: {why}"),
            ErrorKind::UnknownKey { suggestion } => {
                write!(f, "unknown key `{key}`")?;
                match suggestion {
                    Some(s) => write!(f, ": did you mean `{s}`?"),
                    None => write!(f, " (the keys are listed in the README)"),
                }
            }
            ErrorKind::WrongType { expected, found } => {
                write!(f, "`{key}` takes {expected}, not {found}")
            }
            ErrorKind::BadValue(why) => write!(f, "`{key}`: {why}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The file the settings are read from: `$TAPEDECK_CONFIG` when set, else `config.toml` in
/// `config_dir` (`$XDG_CONFIG_HOME/tapedeck`).
pub fn path(env: Option<&std::ffi::OsStr>, config_dir: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = env.filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    config_dir.map(|d| d.join(FILE_NAME))
}

/// Reads and parses the file at `path`; a missing file is an empty configuration.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
        Err(e) => {
            return Err(ConfigError {
                file: Some(path.to_path_buf()),
                line: None,
                key: None,
                kind: ErrorKind::Read(e.to_string()),
            });
        }
    };
    parse(&text).map_err(|mut e| {
        e.file = Some(path.to_path_buf());
        e
    })
}

/// The 1-based line holding byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// Every key the file may hold, dotted (`list.format`, `keys.next`).
pub fn known_keys() -> Vec<String> {
    let mut all = Vec::new();
    for (table, keys) in TABLES {
        if *table == "keys" {
            all.extend(Action::ALL.iter().map(|a| format!("keys.{}", a.name())));
        } else if *table == "ui_keys" {
            all.extend(
                UiAction::ALL
                    .iter()
                    .map(|a| format!("ui_keys.{}", a.name())),
            );
        } else {
            all.extend(keys.iter().map(|k| format!("{table}.{k}")));
        }
    }
    all
}

/// Parses the file's text.
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    let doc = DeTable::parse(text).map_err(|e| ConfigError {
        file: None,
        line: e.span().map(|s| line_of(text, s.start)),
        key: None,
        kind: ErrorKind::Syntax(e.message().trim().to_string()),
    })?;
    let mut config = Config::default();
    let table_names: Vec<&str> = TABLES.iter().map(|(t, _)| *t).collect();
    for (name, value) in doc.get_ref().iter() {
        let name_text: &str = name.get_ref();
        let at = line_of(text, name.span().start);
        if name_text == "profiles" {
            return Err(ConfigError {
                file: None,
                line: Some(at),
                key: Some(name_text.to_string()),
                kind: ErrorKind::BadValue(format!(
                    "device profiles go in {}, beside this file",
                    crate::export::profile::FILE_NAME
                )),
            });
        }
        let Some((_, keys)) = TABLES.iter().find(|(t, _)| *t == name_text) else {
            // A key written outside its table (`volume = 80` at the top) is most likely meant
            // for the table that has it.
            let dotted = known_keys();
            let dotted_refs: Vec<&str> = dotted.iter().map(String::as_str).collect();
            let suggestion = dotted_refs
                .iter()
                .find(|k| k.rsplit('.').next() == Some(name_text))
                .map(|k| k.to_string())
                .or_else(|| closest(name_text, &table_names).map(|t| format!("[{t}]")));
            return Err(ConfigError {
                file: None,
                line: Some(at),
                key: Some(name_text.to_string()),
                kind: ErrorKind::UnknownKey { suggestion },
            });
        };
        let DeValue::Table(entries) = value.get_ref() else {
            return Err(ConfigError {
                file: None,
                line: Some(at),
                key: Some(name_text.to_string()),
                kind: ErrorKind::WrongType {
                    expected: "a table",
                    found: type_name(value.get_ref()),
                },
            });
        };
        for (key, v) in entries.iter() {
            let key_text: &str = key.get_ref();
            let dotted = format!("{name_text}.{key_text}");
            let setting = Entry {
                text,
                key: &dotted,
                line: line_of(text, key.span().start),
                value: v,
            };
            if name_text == Action::TABLE {
                config.keys.push(setting.binding::<Action>(key_text)?);
                continue;
            }
            if name_text == UiAction::TABLE {
                config.ui_keys.push(setting.binding::<UiAction>(key_text)?);
                continue;
            }
            if !keys.contains(&key_text) {
                return Err(
                    setting.unknown(closest(key_text, keys).map(|s| format!("{name_text}.{s}")))
                );
            }
            match dotted.as_str() {
                "list.format" => {
                    config.list_format = Some(setting.template(&Field::names(), "a track field")?)
                }
                "list.album_format" => {
                    config.album_format = Some(setting.template(ALBUM_FIELDS, "an album field")?)
                }
                "list.sort" => {
                    let s = setting.string()?;
                    crate::query::parse_sort(&s.value).map_err(|e| setting.bad(e.to_string()))?;
                    config.sort = Some(s);
                }
                "play.replaygain" => {
                    let s = setting.string()?;
                    let mode = match s.value.as_str() {
                        "auto" => gain::Mode::Auto,
                        "track" => gain::Mode::Track,
                        "album" => gain::Mode::Album,
                        "off" => gain::Mode::Off,
                        other => {
                            return Err(setting.bad(format!(
                                "`{other}` is not a mode: auto, track, album or off"
                            )));
                        }
                    };
                    config.replaygain = Some(Setting {
                        value: mode,
                        line: s.line,
                    });
                }
                "play.preamp" => config.preamp = Some(setting.decibels()?),
                "play.fallback_gain" => config.fallback_gain = Some(setting.decibels()?),
                "play.volume" => {
                    let n = setting.integer(0, 100, "a percentage, 0 to 100")?;
                    config.volume = Some(Setting {
                        value: n.value as u8,
                        line: n.line,
                    });
                }
                "play.device" => config.device = Some(setting.string()?),
                "gain.prefer_computed" => config.prefer_computed = Some(setting.boolean()?),
                "export.profile" => config.profile = Some(setting.string()?),
                "convert.format" => {
                    let s = setting.string()?;
                    let Some(f) = Format::parse(&s.value) else {
                        return Err(setting.bad(format!(
                            "`{}` is not a format: mp3, aac, flac, alac, wav or aiff",
                            s.value
                        )));
                    };
                    config.convert_format = Some(Setting {
                        value: f,
                        line: s.line,
                    });
                }
                "convert.bitrate" => {
                    let n = setting.integer(32, 320, "kbps, 32 to 320")?;
                    config.bitrate = Some(Setting {
                        value: n.value as u32,
                        line: n.line,
                    });
                }
                "convert.template" => {
                    let s = setting.string()?;
                    crate::names::PathTemplate::parse(&s.value)
                        .map_err(|e| setting.bad(e.to_string()))?;
                    config.template = Some(s);
                }
                _ => unreachable!("every key of TABLES is handled"),
            }
        }
    }
    check_bindings(&config.keys)?;
    check_bindings(&config.ui_keys)?;
    Ok(config)
}

/// One key's value, for reading it as the type the key takes.
struct Entry<'a, 'i> {
    text: &'a str,
    key: &'a str,
    line: usize,
    value: &'a Spanned<DeValue<'i>>,
}

impl Entry<'_, '_> {
    fn error(&self, kind: ErrorKind) -> ConfigError {
        ConfigError {
            file: None,
            line: Some(self.line),
            key: Some(self.key.to_string()),
            kind,
        }
    }

    fn unknown(&self, suggestion: Option<String>) -> ConfigError {
        self.error(ErrorKind::UnknownKey { suggestion })
    }

    fn bad(&self, why: String) -> ConfigError {
        let mut e = self.error(ErrorKind::BadValue(why));
        // A multi-line value's mistake is reported where the value starts.
        e.line = Some(line_of(self.text, self.value.span().start));
        e
    }

    fn wrong(&self, expected: &'static str) -> ConfigError {
        self.error(ErrorKind::WrongType {
            expected,
            found: type_name(self.value.get_ref()),
        })
    }

    fn string(&self) -> Result<Setting<String>, ConfigError> {
        match self.value.get_ref() {
            DeValue::String(s) => Ok(Setting {
                value: s.to_string(),
                line: self.line,
            }),
            _ => Err(self.wrong("a string")),
        }
    }

    fn template(&self, fields: &[&str], what: &str) -> Result<Setting<String>, ConfigError> {
        let s = self.string()?;
        Template::parse(&s.value, fields)
            .map_err(|e| self.bad(format!("{e} (each `$name` must be {what})")))?;
        Ok(s)
    }

    fn boolean(&self) -> Result<Setting<bool>, ConfigError> {
        match self.value.get_ref() {
            DeValue::Boolean(b) => Ok(Setting {
                value: *b,
                line: self.line,
            }),
            _ => Err(self.wrong("true or false")),
        }
    }

    fn integer(&self, min: i64, max: i64, range: &str) -> Result<Setting<i64>, ConfigError> {
        let DeValue::Integer(n) = self.value.get_ref() else {
            return Err(self.wrong("an integer"));
        };
        match i64::from_str_radix(n.as_str(), n.radix()) {
            Ok(v) if (min..=max).contains(&v) => Ok(Setting {
                value: v,
                line: self.line,
            }),
            _ => Err(self.bad(format!("{} is out of range: {range}", n.as_str()))),
        }
    }

    /// A gain in dB: an integer or a float, within ±60.
    fn decibels(&self) -> Result<Setting<f64>, ConfigError> {
        let v = match self.value.get_ref() {
            DeValue::Integer(n) => i64::from_str_radix(n.as_str(), n.radix())
                .ok()
                .map(|v| v as f64),
            DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
            _ => return Err(self.wrong("a number of dB")),
        };
        match v {
            Some(v) if (-60.0..=60.0).contains(&v) => Ok(Setting {
                value: v,
                line: self.line,
            }),
            _ => Err(self.bad("dB must be within -60 to 60".into())),
        }
    }

    /// An action of `A`'s table (this entry's key) with its keys.
    fn binding<A: Bound>(&self, name: &str) -> Result<(A, Setting<Vec<Key>>), ConfigError> {
        let Some(action) = A::ALL.iter().copied().find(|a| a.name() == name) else {
            let names: Vec<&str> = A::ALL.iter().map(|a| a.name()).collect();
            return Err(self.unknown(closest(name, &names).map(|s| format!("{}.{s}", A::TABLE))));
        };
        Ok((action, self.keys()?))
    }

    /// A key name or an array of them.
    fn keys(&self) -> Result<Setting<Vec<Key>>, ConfigError> {
        let names: Vec<&str> = match self.value.get_ref() {
            DeValue::String(s) => vec![s.as_ref()],
            DeValue::Array(items) => {
                let mut names = Vec::new();
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::String(s) => names.push(s.as_ref()),
                        _ => return Err(self.wrong("a key name or an array of key names")),
                    }
                }
                names
            }
            _ => return Err(self.wrong("a key name or an array of key names")),
        };
        if names.is_empty() {
            return Err(self.bad("an action needs at least one key".into()));
        }
        let keys = names
            .iter()
            .map(|n| Key::parse(n).ok_or_else(|| self.bad(Key::explain(n))))
            .collect::<Result<Vec<Key>, _>>()?;
        Ok(Setting {
            value: keys,
            line: self.line,
        })
    }
}

/// Two actions the file binds to the same key.
fn check_bindings<A: Bound>(keys: &[(A, Setting<Vec<Key>>)]) -> Result<(), ConfigError> {
    for (i, (action, set)) in keys.iter().enumerate() {
        for key in &set.value {
            if let Some((other, _)) = keys[..i].iter().find(|(_, s)| s.value.contains(key)) {
                return Err(ConfigError {
                    file: None,
                    line: Some(set.line),
                    key: Some(format!("{}.{}", A::TABLE, action.name())),
                    kind: ErrorKind::BadValue(format!(
                        "`{}` is also bound to `{}.{}`",
                        key.name(),
                        A::TABLE,
                        other.name()
                    )),
                });
            }
        }
    }
    Ok(())
}

/// What a key press asks the player to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Pause,
    Next,
    Previous,
    SeekForward,
    SeekBack,
    SeekForwardLong,
    SeekBackLong,
    VolumeUp,
    VolumeDown,
    Shuffle,
    Repeat,
    Quit,
}

/// A set of actions keys are bound to, in its own table of the file.
pub trait Bound: Copy + PartialEq + std::fmt::Debug + 'static {
    /// Every action, in the order help lists them.
    const ALL: &'static [Self];
    /// The table of the file that binds them.
    const TABLE: &'static str;
    /// The action's key in its table.
    fn name(self) -> &'static str;
    /// The keys bound when the file says nothing.
    fn default_keys(self) -> &'static [Key];
    /// What the file binds.
    fn configured(config: &Config) -> &[(Self, Setting<Vec<Key>>)];
}

impl Bound for Action {
    const ALL: &'static [Action] = &[
        Action::Pause,
        Action::Next,
        Action::Previous,
        Action::SeekForward,
        Action::SeekBack,
        Action::SeekForwardLong,
        Action::SeekBackLong,
        Action::VolumeUp,
        Action::VolumeDown,
        Action::Shuffle,
        Action::Repeat,
        Action::Quit,
    ];
    const TABLE: &'static str = "keys";

    fn configured(config: &Config) -> &[(Action, Setting<Vec<Key>>)] {
        &config.keys
    }

    fn name(self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Next => "next",
            Action::Previous => "previous",
            Action::SeekForward => "seek_forward",
            Action::SeekBack => "seek_back",
            Action::SeekForwardLong => "seek_forward_long",
            Action::SeekBackLong => "seek_back_long",
            Action::VolumeUp => "volume_up",
            Action::VolumeDown => "volume_down",
            Action::Shuffle => "shuffle",
            Action::Repeat => "repeat",
            Action::Quit => "quit",
        }
    }

    fn default_keys(self) -> &'static [Key] {
        match self {
            Action::Pause => &[Key::Char(' ')],
            Action::Next => &[Key::Char('n')],
            Action::Previous => &[Key::Char('p')],
            Action::SeekForward => &[Key::Right],
            Action::SeekBack => &[Key::Left],
            Action::SeekForwardLong => &[Key::Up],
            Action::SeekBackLong => &[Key::Down],
            Action::VolumeUp => &[Key::Char('+'), Key::Char('=')],
            Action::VolumeDown => &[Key::Char('-')],
            Action::Shuffle => &[Key::Char('s')],
            Action::Repeat => &[Key::Char('r')],
            Action::Quit => &[Key::Char('q'), Key::Esc],
        }
    }
}

/// What a key press asks the full-screen UI to do (`tapedeck ui`; `[ui_keys]` in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UiAction {
    Library,
    Tracks,
    Playlists,
    Queue,
    Problems,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextColumn,
    PreviousColumn,
    Play,
    Append,
    PlayNext,
    Pause,
    Next,
    Previous,
    SeekForward,
    SeekBack,
    VolumeUp,
    VolumeDown,
    Shuffle,
    Repeat,
    Search,
    SearchNext,
    SearchPrevious,
    Filter,
    Sort,
    Shelf,
    Delete,
    MoveUp,
    MoveDown,
    Clear,
    ShuffleQueue,
    Save,
    Scan,
    Help,
    Quit,
}

impl Bound for UiAction {
    const ALL: &'static [UiAction] = &[
        UiAction::Library,
        UiAction::Tracks,
        UiAction::Playlists,
        UiAction::Queue,
        UiAction::Problems,
        UiAction::Up,
        UiAction::Down,
        UiAction::PageUp,
        UiAction::PageDown,
        UiAction::Top,
        UiAction::Bottom,
        UiAction::NextColumn,
        UiAction::PreviousColumn,
        UiAction::Play,
        UiAction::Append,
        UiAction::PlayNext,
        UiAction::Pause,
        UiAction::Next,
        UiAction::Previous,
        UiAction::SeekForward,
        UiAction::SeekBack,
        UiAction::VolumeUp,
        UiAction::VolumeDown,
        UiAction::Shuffle,
        UiAction::Repeat,
        UiAction::Search,
        UiAction::SearchNext,
        UiAction::SearchPrevious,
        UiAction::Filter,
        UiAction::Sort,
        UiAction::Shelf,
        UiAction::Delete,
        UiAction::MoveUp,
        UiAction::MoveDown,
        UiAction::Clear,
        UiAction::ShuffleQueue,
        UiAction::Save,
        UiAction::Scan,
        UiAction::Help,
        UiAction::Quit,
    ];
    const TABLE: &'static str = "ui_keys";

    fn configured(config: &Config) -> &[(UiAction, Setting<Vec<Key>>)] {
        &config.ui_keys
    }

    fn name(self) -> &'static str {
        match self {
            UiAction::Library => "library",
            UiAction::Tracks => "tracks",
            UiAction::Playlists => "playlists",
            UiAction::Queue => "queue",
            UiAction::Problems => "problems",
            UiAction::Up => "up",
            UiAction::Down => "down",
            UiAction::PageUp => "page_up",
            UiAction::PageDown => "page_down",
            UiAction::Top => "top",
            UiAction::Bottom => "bottom",
            UiAction::NextColumn => "next_column",
            UiAction::PreviousColumn => "previous_column",
            UiAction::Play => "play",
            UiAction::Append => "append",
            UiAction::PlayNext => "play_next",
            UiAction::Pause => "pause",
            UiAction::Next => "next",
            UiAction::Previous => "previous",
            UiAction::SeekForward => "seek_forward",
            UiAction::SeekBack => "seek_back",
            UiAction::VolumeUp => "volume_up",
            UiAction::VolumeDown => "volume_down",
            UiAction::Shuffle => "shuffle",
            UiAction::Repeat => "repeat",
            UiAction::Search => "search",
            UiAction::SearchNext => "search_next",
            UiAction::SearchPrevious => "search_previous",
            UiAction::Filter => "filter",
            UiAction::Sort => "sort",
            UiAction::Shelf => "shelf",
            UiAction::Delete => "delete",
            UiAction::MoveUp => "move_up",
            UiAction::MoveDown => "move_down",
            UiAction::Clear => "clear",
            UiAction::ShuffleQueue => "shuffle_queue",
            UiAction::Save => "save",
            UiAction::Scan => "scan",
            UiAction::Help => "help",
            UiAction::Quit => "quit",
        }
    }

    fn default_keys(self) -> &'static [Key] {
        use Key::*;
        match self {
            UiAction::Library => &[Char('1')],
            UiAction::Tracks => &[Char('2')],
            UiAction::Playlists => &[Char('3')],
            UiAction::Queue => &[Char('4')],
            UiAction::Problems => &[Char('5')],
            UiAction::Up => &[Up, Char('k')],
            UiAction::Down => &[Down, Char('j')],
            UiAction::PageUp => &[PageUp],
            UiAction::PageDown => &[PageDown],
            UiAction::Top => &[Home, Char('g')],
            UiAction::Bottom => &[End, Char('G')],
            UiAction::NextColumn => &[Tab, Char('l')],
            UiAction::PreviousColumn => &[BackTab, Char('h')],
            UiAction::Play => &[Enter],
            UiAction::Append => &[Char('a')],
            UiAction::PlayNext => &[Char('e')],
            UiAction::Pause => &[Char(' '), Char('c')],
            UiAction::Next => &[Char('b')],
            UiAction::Previous => &[Char('z'), Char('p')],
            UiAction::SeekForward => &[Right, Char('.')],
            UiAction::SeekBack => &[Left, Char(',')],
            UiAction::VolumeUp => &[Char('+'), Char('=')],
            UiAction::VolumeDown => &[Char('-')],
            UiAction::Shuffle => &[Char('s')],
            UiAction::Repeat => &[Char('r')],
            UiAction::Search => &[Char('/')],
            UiAction::SearchNext => &[Char('n')],
            UiAction::SearchPrevious => &[Char('N')],
            UiAction::Filter => &[Char('L')],
            UiAction::Sort => &[Char('o')],
            UiAction::Shelf => &[Char('t')],
            UiAction::Delete => &[Char('d'), Delete],
            UiAction::MoveUp => &[Char('K')],
            UiAction::MoveDown => &[Char('J')],
            UiAction::Clear => &[Char('C')],
            UiAction::ShuffleQueue => &[Char('S')],
            UiAction::Save => &[Char('w')],
            UiAction::Scan => &[Char('u')],
            UiAction::Help => &[Char('?')],
            UiAction::Quit => &[Char('q')],
        }
    }
}

/// A key, as the file names it: one character, or a named key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Left,
    Right,
    Up,
    Down,
    Esc,
    Enter,
    Tab,
    Backspace,
    Home,
    End,
    PageUp,
    PageDown,
    BackTab,
    Delete,
}

const NAMED: &[(&str, Key)] = &[
    ("space", Key::Char(' ')),
    ("left", Key::Left),
    ("right", Key::Right),
    ("up", Key::Up),
    ("down", Key::Down),
    ("esc", Key::Esc),
    ("enter", Key::Enter),
    ("tab", Key::Tab),
    ("backspace", Key::Backspace),
    ("home", Key::Home),
    ("end", Key::End),
    ("pageup", Key::PageUp),
    ("pagedown", Key::PageDown),
    ("backtab", Key::BackTab),
    ("delete", Key::Delete),
];

impl Key {
    /// One printable character (case matters: `N` is shift-n), or a name such as `space`.
    pub fn parse(text: &str) -> Option<Key> {
        let mut chars = text.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            return (!c.is_control()).then_some(Key::Char(c));
        }
        let lower = text.to_ascii_lowercase();
        NAMED.iter().find(|(n, _)| *n == lower).map(|(_, k)| *k)
    }

    fn explain(text: &str) -> String {
        let names: Vec<&str> = NAMED.iter().map(|(n, _)| *n).collect();
        let mut why = format!(
            "`{text}` is not a key: use one character or {}",
            names.join(", ")
        );
        if let Some(s) = closest(&text.to_ascii_lowercase(), &names) {
            why.push_str(&format!(" (did you mean `{s}`?)"));
        }
        why
    }

    /// The name the file would use.
    pub fn name(self) -> String {
        if let Some((n, _)) = NAMED.iter().find(|(_, k)| *k == self) {
            return n.to_string();
        }
        match self {
            Key::Char(c) => c.to_string(),
            _ => unreachable!("every other key is named"),
        }
    }
}

/// The player's key map: the defaults with the file's bindings over them. A key the file binds
/// is taken away from the action that had it by default.
#[derive(Debug, Clone, PartialEq)]
pub struct Bindings<A: Bound = Action> {
    map: Vec<(Key, A)>,
}

impl<A: Bound> Bindings<A> {
    pub fn new(config: &Config) -> Bindings<A> {
        let configured = A::configured(config);
        let bound: Vec<Key> = configured
            .iter()
            .flat_map(|(_, s)| s.value.clone())
            .collect();
        let mut map = Vec::new();
        for &action in A::ALL {
            match configured.iter().find(|(a, _)| *a == action) {
                Some((_, s)) => map.extend(s.value.iter().map(|k| (*k, action))),
                None => map.extend(
                    action
                        .default_keys()
                        .iter()
                        .filter(|k| !bound.contains(k))
                        .map(|k| (*k, action)),
                ),
            }
        }
        Bindings { map }
    }

    pub fn action(&self, key: Key) -> Option<A> {
        self.map.iter().find(|(k, _)| *k == key).map(|(_, a)| *a)
    }

    /// The keys bound to an action, in the file's names.
    pub fn keys(&self, action: A) -> Vec<String> {
        self.map
            .iter()
            .filter(|(_, a)| *a == action)
            .map(|(k, _)| k.name())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> ConfigError {
        parse(text).expect_err(text)
    }

    #[test]
    fn every_key_is_read_with_its_line() {
        let text = "\
# tapedeck
[list]
format = '$artist - $title'
album_format = '$albumartist - $album ($year)'
sort = 'year+ title-'

[play]
replaygain = 'track'
preamp = -3
fallback_gain = -6.5
volume = 80
device = 'default'

[export]
profile = 'stick'

[convert]
format = 'aac'
bitrate = 192
template = '$artist/$title'

[keys]
next = 'l'
quit = ['x', 'esc']
";
        let c = parse(text).unwrap();
        let line = |s: &Option<Setting<String>>| s.as_ref().map(|s| (s.value.clone(), s.line));
        assert_eq!(line(&c.list_format), Some(("$artist - $title".into(), 3)));
        assert_eq!(
            line(&c.album_format),
            Some(("$albumartist - $album ($year)".into(), 4))
        );
        assert_eq!(line(&c.sort), Some(("year+ title-".into(), 5)));
        assert_eq!(
            c.replaygain.as_ref().map(|s| s.value),
            Some(gain::Mode::Track)
        );
        assert_eq!(
            c.preamp.as_ref().map(|s| (s.value, s.line)),
            Some((-3.0, 9))
        );
        assert_eq!(c.fallback_gain.as_ref().map(|s| s.value), Some(-6.5));
        assert_eq!(c.volume.as_ref().map(|s| s.value), Some(80));
        assert_eq!(line(&c.device), Some(("default".into(), 12)));
        assert_eq!(line(&c.profile), Some(("stick".into(), 15)));
        assert_eq!(
            c.convert_format.as_ref().map(|s| s.value),
            Some(Format::Aac)
        );
        assert_eq!(c.bitrate.as_ref().map(|s| s.value), Some(192));
        assert_eq!(line(&c.template), Some(("$artist/$title".into(), 20)));
        let b = Bindings::new(&c);
        assert_eq!(b.action(Key::Char('l')), Some(Action::Next));
        assert_eq!(
            b.action(Key::Char('n')),
            None,
            "the default key is replaced"
        );
        assert_eq!(b.action(Key::Char('x')), Some(Action::Quit));
        assert_eq!(b.action(Key::Char('q')), None);
        assert_eq!(b.action(Key::Esc), Some(Action::Quit));
        assert_eq!(b.action(Key::Char(' ')), Some(Action::Pause));
    }

    #[test]
    fn an_empty_file_sets_nothing_and_defaults_bind_every_action() {
        assert_eq!(parse("").unwrap(), Config::default());
        assert_eq!(parse("# nothing\n[list]\n").unwrap(), Config::default());
        let b = Bindings::new(&Config::default());
        for &a in Action::ALL {
            for k in a.default_keys() {
                assert_eq!(b.action(*k), Some(a), "{a:?}");
            }
        }
        let ui = Bindings::<UiAction>::new(&Config::default());
        for &a in UiAction::ALL {
            for k in a.default_keys() {
                assert_eq!(ui.action(*k), Some(a), "{a:?} shares {k:?}");
            }
        }
    }

    #[test]
    fn a_bound_key_leaves_its_default_action() {
        let c = parse("[keys]\nnext = 'p'\n").unwrap();
        let b = Bindings::new(&c);
        assert_eq!(b.action(Key::Char('p')), Some(Action::Next));
        assert!(b.keys(Action::Previous).is_empty());
    }

    /// (text, line, key, suggestion)
    const UNKNOWN: &[(&str, usize, &str, Option<&str>)] = &[
        (
            "[list]\nfromat = 'x'\n",
            2,
            "list.fromat",
            Some("list.format"),
        ),
        (
            "\n\n[play]\nvolume = 3\nprempa = 1\n",
            5,
            "play.prempa",
            Some("play.preamp"),
        ),
        ("[lsit]\nformat = 'x'\n", 1, "lsit", Some("[list]")),
        ("volume = 80\n", 1, "volume", Some("play.volume")),
        ("[keys]\nnxet = 'n'\n", 2, "keys.nxet", Some("keys.next")),
        ("[convert]\nwhatever = 1\n", 2, "convert.whatever", None),
    ];

    #[test]
    fn unknown_keys_name_their_line_and_the_closest_key() {
        for (text, line, key, suggestion) in UNKNOWN {
            let e = err(text);
            assert_eq!(e.line, Some(*line), "{text:?}");
            assert_eq!(e.key.as_deref(), Some(*key), "{text:?}");
            assert_eq!(
                e.kind,
                ErrorKind::UnknownKey {
                    suggestion: suggestion.map(String::from)
                },
                "{text:?}"
            );
            let shown = e.to_string();
            assert!(
                shown.starts_with(&format!("line {line}: unknown key `{key}`")),
                "{shown}"
            );
            if let Some(s) = suggestion {
                assert!(shown.contains(&format!("did you mean `{s}`?")), "{shown}");
            }
        }
    }

    /// (text, line, key, expected, found)
    const WRONG_TYPE: &[(&str, usize, &str, &str, &str)] = &[
        (
            "[play]\nvolume = '80'\n",
            2,
            "play.volume",
            "an integer",
            "a string",
        ),
        (
            "[play]\npreamp = true\n",
            2,
            "play.preamp",
            "a number of dB",
            "a boolean",
        ),
        (
            "[list]\n\nformat = 3\n",
            3,
            "list.format",
            "a string",
            "an integer",
        ),
        ("list = 3\n", 1, "list", "a table", "an integer"),
        (
            "[keys]\nnext = 1\n",
            2,
            "keys.next",
            "a key name or an array of key names",
            "an integer",
        ),
        (
            "[convert]\nbitrate = 1.5\n",
            2,
            "convert.bitrate",
            "an integer",
            "a float",
        ),
    ];

    #[test]
    fn wrong_types_name_the_key_the_line_and_both_types() {
        for (text, line, key, expected, found) in WRONG_TYPE {
            let e = err(text);
            assert_eq!(e.line, Some(*line), "{text:?}");
            assert_eq!(e.key.as_deref(), Some(*key), "{text:?}");
            assert_eq!(e.kind, ErrorKind::WrongType { expected, found }, "{text:?}");
            assert!(
                e.to_string()
                    .contains(&format!("`{key}` takes {expected}, not {found}"))
            );
        }
    }

    /// (text, line, key, part of the reason)
    const BAD_VALUE: &[(&str, usize, &str, &str)] = &[
        ("[play]\nvolume = 101\n", 2, "play.volume", "0 to 100"),
        (
            "[play]\nreplaygain = 'loud'\n",
            2,
            "play.replaygain",
            "auto, track, album or off",
        ),
        ("[play]\npreamp = 99.0\n", 2, "play.preamp", "-60 to 60"),
        (
            "[list]\nformat = '$titel'\n",
            2,
            "list.format",
            "did you mean `$title`?",
        ),
        (
            "[list]\nalbum_format = '$tilte'\n",
            2,
            "list.album_format",
            "unknown field",
        ),
        ("[list]\nsort = 'yaer+'\n", 2, "list.sort", "year"),
        (
            "[convert]\nformat = 'ogg'\n",
            2,
            "convert.format",
            "mp3, aac",
        ),
        (
            "[convert]\nbitrate = 1000\n",
            2,
            "convert.bitrate",
            "32 to 320",
        ),
        (
            "[keys]\nnext = 'rigth'\n",
            2,
            "keys.next",
            "did you mean `right`?",
        ),
        ("[keys]\nnext = []\n", 2, "keys.next", "at least one key"),
        (
            "[keys]\nnext = 'x'\nquit = 'x'\n",
            3,
            "keys.quit",
            "also bound to `keys.next`",
        ),
        (
            "[ui_keys]\nsearch = 'f'\nfilter = 'f'\n",
            2,
            "ui_keys.search",
            "also bound to `ui_keys.filter`",
        ),
        (
            "\n[profiles.car]\nbase = 'car'\n",
            2,
            "profiles",
            "profiles.toml",
        ),
    ];

    #[test]
    fn bad_values_name_the_key_the_line_and_the_reason() {
        for (text, line, key, reason) in BAD_VALUE {
            let e = err(text);
            assert_eq!(e.line, Some(*line), "{text:?}");
            assert_eq!(e.key.as_deref(), Some(*key), "{text:?}");
            assert!(matches!(e.kind, ErrorKind::BadValue(_)), "{text:?}: {e:?}");
            assert!(e.to_string().contains(reason), "{text:?}: {e}");
        }
    }

    #[test]
    fn syntax_errors_give_the_line() {
        let e = err("[list]\nformat = 'x'\nsort = \n");
        assert!(matches!(e.kind, ErrorKind::Syntax(_)), "{e:?}");
        assert_eq!(e.line, Some(3));
        let e = err("[list]\nformat = 'x'\nformat = 'y'\n");
        assert!(matches!(e.kind, ErrorKind::Syntax(_)), "{e:?}");
        assert_eq!(e.line, Some(3));
    }

    #[test]
    fn the_file_is_named_in_errors_and_a_missing_file_is_no_settings() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        assert_eq!(load(&p).unwrap(), Config::default());
        std::fs::write(&p, "[play]\nvolum = 3\n").unwrap();
        let e = load(&p).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}, line 2: unknown key `play.volum`: did you mean `play.volume`?",
                p.display()
            )
        );
    }

    #[test]
    fn the_path_is_the_variable_else_the_config_folder() {
        use std::ffi::OsStr;
        let dir = Path::new("/home/u/.config/tapedeck");
        assert_eq!(
            path(Some(OsStr::new("/x/c.toml")), Some(dir)),
            Some(PathBuf::from("/x/c.toml"))
        );
        assert_eq!(
            path(Some(OsStr::new("")), Some(dir)),
            Some(dir.join("config.toml"))
        );
        assert_eq!(path(None, Some(dir)), Some(dir.join("config.toml")));
        assert_eq!(path(None, None), None);
    }

    #[test]
    fn key_names() {
        let cases: &[(&str, Option<Key>)] = &[
            ("n", Some(Key::Char('n'))),
            ("N", Some(Key::Char('N'))),
            ("space", Some(Key::Char(' '))),
            (" ", Some(Key::Char(' '))),
            ("Left", Some(Key::Left)),
            ("pagedown", Some(Key::PageDown)),
            ("ß", Some(Key::Char('ß'))),
            ("\t", None),
            ("ctrl-x", None),
            ("", None),
        ];
        for (text, key) in cases {
            assert_eq!(Key::parse(text), *key, "{text:?}");
        }
        assert_eq!(Key::Char(' ').name(), "space");
        assert_eq!(Key::Char('+').name(), "+");
    }

    #[test]
    fn the_ui_keys_are_bound_like_the_players() {
        let c = parse("[ui_keys]\nsearch = ['f', 'F']\nquit = 'esc'\n").unwrap();
        let b = Bindings::<UiAction>::new(&c);
        assert_eq!(b.action(Key::Char('f')), Some(UiAction::Search));
        assert_eq!(b.action(Key::Char('F')), Some(UiAction::Search));
        assert_eq!(
            b.action(Key::Char('/')),
            None,
            "the file's keys replace the default"
        );
        assert_eq!(b.action(Key::Esc), Some(UiAction::Quit));
        assert_eq!(b.action(Key::Char('q')), None);
        // The player's own table is untouched.
        assert_eq!(
            Bindings::<Action>::new(&c).action(Key::Char('q')),
            Some(Action::Quit)
        );
        let e = err("[ui_keys]\nserch = '/'\n");
        assert_eq!(e.key.as_deref(), Some("ui_keys.serch"));
        assert!(e.to_string().contains("ui_keys.search"), "{e}");
    }
}
