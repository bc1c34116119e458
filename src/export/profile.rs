//! Device profiles: everything a player or head unit accepts, in one value. The built-in
//! profiles (`car`, `car-strict`, `stick`) live here, and user-defined ones are read from a TOML
//! file (`profiles.toml` beside `config.toml`, in `$XDG_CONFIG_HOME/tapedeck`), each either complete or on top of a
//! built-in (`base = "car"`). Parsing and describing only: no files are written here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::audio::gain;
use crate::convert::encode::{Format, Settings};
use crate::names::{Charset, NameRules};

/// What the profile does with the cover picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "mode", content = "max_px")]
pub enum Cover {
    /// Copied as it is.
    Keep,
    /// Left out.
    Drop,
    /// Fitted into this many pixels as a baseline JPEG.
    Fit(u32),
}

/// The playlist file format written for `-p`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlaylistKind {
    /// `.m3u` (extended M3U).
    M3u,
    /// `.m3u8` (the same, always UTF-8).
    M3u8,
    /// Playlists are not written.
    None,
}

/// The text encoding of playlist files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextEncoding {
    #[serde(rename = "utf-8")]
    Utf8,
    /// ISO-8859-1: characters outside it become `?` in titles (paths never hold them, as the
    /// profile's names are then ASCII or FAT-safe and checked).
    #[serde(rename = "latin-1")]
    Latin1,
}

/// One device profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    pub name: String,
    pub description: String,
    /// Source formats (`mp3`, `aac`, `flac`, `alac`, `wav`, `aiff`) copied as they are.
    pub copy: Vec<String>,
    /// What everything else is encoded to.
    #[serde(serialize_with = "ser_format")]
    pub format: Format,
    /// MP3 CBR or AAC bitrate in kbps (`None`: the format's default).
    pub bitrate: Option<u32>,
    /// MP3 VBR quality instead of a bitrate.
    pub vbr: Option<u8>,
    /// Sources above this sample rate are encoded down to it, never copied.
    pub max_sample_rate: Option<u32>,
    /// Bit depth of lossless output (16 or 24; `None`: the source's).
    pub bit_depth: Option<u16>,
    #[serde(serialize_with = "ser_charset")]
    pub charset: Charset,
    /// The longest file or folder name, in bytes (characters for ASCII).
    pub max_name: usize,
    /// The longest path on the device, in bytes.
    pub max_path: usize,
    pub files_per_folder: Option<usize>,
    pub max_folders: Option<usize>,
    /// Folder levels below the top: 2 allows `Artist/Album/01 Title.mp3`.
    pub max_depth: Option<usize>,
    pub max_files: Option<usize>,
    pub template: String,
    pub id3v23: bool,
    pub id3v1: bool,
    pub cover: Cover,
    /// Bake this ReplayGain into the audio (no gain tags are then written).
    #[serde(serialize_with = "ser_gain")]
    pub gain: Option<gain::Mode>,
    pub playlist: PlaylistKind,
    /// `/` or `\` between the names of a playlist entry.
    pub playlist_separator: char,
    pub playlist_encoding: TextEncoding,
    /// The most entries in one playlist file; longer playlists are split into parts.
    pub playlist_entries: Option<usize>,
    /// Space left free on the device, in MB.
    pub reserve_mb: u64,
}

fn ser_format<S: serde::Serializer>(f: &Format, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(f.name())
}

fn ser_charset<S: serde::Serializer>(c: &Charset, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(charset_name(*c))
}

fn ser_gain<S: serde::Serializer>(g: &Option<gain::Mode>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(gain_name(*g))
}

fn charset_name(c: Charset) -> &'static str {
    match c {
        Charset::Unicode => "unicode",
        Charset::FatSafe => "fat",
        Charset::Ascii => "ascii",
    }
}

fn gain_name(g: Option<gain::Mode>) -> &'static str {
    match g {
        Some(gain::Mode::Track) => "track",
        Some(gain::Mode::Album) => "album",
        Some(gain::Mode::Auto) => "auto",
        Some(gain::Mode::Off) | None => "off",
    }
}

/// The template every built-in profile uses: album folders, files numbered in play order.
pub const CAR_TEMPLATE: &str = "$albumartist/$album/$disc$track $title";

/// The built-in profiles, in the order `tapedeck profiles` lists them.
pub fn builtins() -> Vec<Profile> {
    let car = Profile {
        name: "car".into(),
        description: "car head units: MP3 320k CBR, FAT-safe names, ID3v2.3 and ID3v1, \
                      500 px baseline covers, album gain baked in, relative M3U"
            .into(),
        copy: vec!["mp3".into()],
        format: Format::Mp3,
        bitrate: Some(320),
        vbr: None,
        max_sample_rate: Some(48000),
        bit_depth: None,
        charset: Charset::FatSafe,
        max_name: 255,
        max_path: 240,
        files_per_folder: None,
        max_folders: None,
        max_depth: Some(8),
        max_files: None,
        template: CAR_TEMPLATE.into(),
        id3v23: true,
        id3v1: true,
        cover: Cover::Fit(500),
        gain: Some(gain::Mode::Album),
        playlist: PlaylistKind::M3u,
        playlist_separator: '/',
        playlist_encoding: TextEncoding::Utf8,
        playlist_entries: None,
        reserve_mb: 0,
    };
    let strict = Profile {
        name: "car-strict".into(),
        description: "the pickiest head units: as car, with ASCII names (A-Z 0-9 _) of at most \
                      31 characters, 255 files per folder, two folder levels, 250-entry playlists"
            .into(),
        charset: Charset::Ascii,
        max_name: 31,
        files_per_folder: Some(255),
        max_depth: Some(2),
        playlist_encoding: TextEncoding::Latin1,
        playlist_entries: Some(250),
        ..car.clone()
    };
    let stick = Profile {
        name: "stick".into(),
        description: "a USB stick for computers and modern players: every format copied as it \
                      is, tags and covers untouched, FAT-safe names, M3U8 playlists"
            .into(),
        copy: ["mp3", "aac", "flac", "alac", "wav", "aiff"]
            .map(String::from)
            .to_vec(),
        format: Format::Flac,
        bitrate: None,
        max_sample_rate: None,
        max_depth: None,
        id3v23: false,
        id3v1: false,
        cover: Cover::Keep,
        gain: None,
        playlist: PlaylistKind::M3u8,
        ..car.clone()
    };
    vec![car, strict, stick]
}

impl Profile {
    /// The encoder settings for sources that are not copied.
    pub fn encode(&self) -> Settings {
        let mut s = Settings::new(self.format);
        s.bitrate = self.bitrate;
        s.vbr = self.vbr;
        s
    }

    pub fn name_rules(&self) -> NameRules {
        NameRules {
            charset: self.charset,
            max_name: self.max_name,
            max_path: self.max_path,
        }
    }

    /// Whether a source of this format (and rate) is copied as it is.
    pub fn copies(&self, format: &str, sample_rate: Option<u32>) -> bool {
        self.copy.iter().any(|c| c.eq_ignore_ascii_case(format))
            && match (self.max_sample_rate, sample_rate) {
                (Some(max), Some(rate)) => rate <= max,
                _ => true,
            }
    }

    /// A canonical description of the tag settings (part of every file's tag key: changing
    /// them retags).
    pub fn tag_key(&self) -> String {
        let cover = match self.cover {
            Cover::Keep => "keep".to_string(),
            Cover::Drop => "drop".to_string(),
            Cover::Fit(px) => format!("fit{px}"),
        };
        format!(
            "id3v23={} id3v1={} cover={cover} gain={}",
            self.id3v23,
            self.id3v1,
            gain_name(self.gain)
        )
    }

    /// Whether copying a file as it is must still rewrite its tags.
    pub fn rewrites_tags(&self) -> bool {
        self.id3v23 || self.id3v1 || self.cover != Cover::Keep || self.gain.is_some()
    }

    /// Settings as `name: value` lines, for `tapedeck profiles`.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        let opt = |v: Option<usize>| v.map_or("no limit".to_string(), |n| n.to_string());
        let encode = match (self.format, self.vbr, self.bitrate) {
            (Format::Mp3, Some(v), _) => format!("mp3 VBR V{v}"),
            (Format::Mp3, None, b) => format!("mp3 {}k CBR", b.unwrap_or(320)),
            (Format::Aac, _, b) => format!("aac {}k", b.unwrap_or(256)),
            (f, _, _) => f.name().to_string(),
        };
        vec![
            (
                "copied as they are",
                if self.copy.is_empty() {
                    "nothing".into()
                } else {
                    self.copy.join(", ")
                },
            ),
            ("other formats become", encode),
            (
                "max sample rate",
                self.max_sample_rate
                    .map_or("any".into(), |r| format!("{r} Hz")),
            ),
            (
                "names",
                format!(
                    "{}, at most {} {}, paths at most {}",
                    match self.charset {
                        Charset::Unicode => "any characters",
                        Charset::FatSafe => "FAT-safe",
                        Charset::Ascii => "ASCII A-Z a-z 0-9 _",
                    },
                    self.max_name,
                    if self.charset == Charset::Ascii {
                        "characters"
                    } else {
                        "bytes"
                    },
                    self.max_path
                ),
            ),
            ("template", self.template.clone()),
            ("files per folder", opt(self.files_per_folder)),
            ("folders", opt(self.max_folders)),
            ("folder levels", opt(self.max_depth)),
            ("files", opt(self.max_files)),
            (
                "tags",
                match (self.id3v23, self.id3v1) {
                    (true, true) => "ID3v2.3 and ID3v1 (MP3)".into(),
                    (true, false) => "ID3v2.3 (MP3)".into(),
                    (false, true) => "ID3v2.4 and ID3v1 (MP3)".into(),
                    (false, false) => "as the source's".into(),
                },
            ),
            (
                "cover",
                match self.cover {
                    Cover::Keep => "kept".into(),
                    Cover::Drop => "left out".into(),
                    Cover::Fit(px) => format!("at most {px} px, baseline JPEG"),
                },
            ),
            (
                "ReplayGain",
                match self.gain {
                    None | Some(gain::Mode::Off) => "tags kept, not applied".into(),
                    Some(m) => format!("{} gain baked into the audio", gain_name(Some(m))),
                },
            ),
            (
                "playlists",
                match self.playlist {
                    PlaylistKind::None => "not written".into(),
                    kind => format!(
                        "{}, relative paths with `{}`, {}, {}",
                        if kind == PlaylistKind::M3u {
                            "M3U"
                        } else {
                            "M3U8"
                        },
                        self.playlist_separator,
                        match self.playlist_encoding {
                            TextEncoding::Utf8 => "UTF-8",
                            TextEncoding::Latin1 => "ISO-8859-1",
                        },
                        self.playlist_entries
                            .map_or("any length".into(), |n| format!("at most {n} entries"))
                    ),
                },
            ),
            ("space kept free", format!("{} MB", self.reserve_mb)),
        ]
    }
}

/// A profile as written in the configuration file: every setting optional, on top of `base`
/// (a built-in or an earlier profile), or of `stick` when there is none.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
struct ProfileText {
    base: Option<String>,
    description: Option<String>,
    copy: Option<Vec<String>>,
    format: Option<String>,
    bitrate: Option<u32>,
    vbr: Option<u8>,
    max_sample_rate: Option<u32>,
    bit_depth: Option<u16>,
    charset: Option<String>,
    max_name: Option<usize>,
    max_path: Option<usize>,
    files_per_folder: Option<usize>,
    max_folders: Option<usize>,
    max_depth: Option<usize>,
    max_files: Option<usize>,
    template: Option<String>,
    id3v23: Option<bool>,
    id3v1: Option<bool>,
    /// A number of pixels, `"keep"` or `"drop"`.
    cover: Option<toml::Value>,
    gain: Option<String>,
    playlist: Option<PlaylistKind>,
    playlist_separator: Option<String>,
    playlist_encoding: Option<TextEncoding>,
    playlist_entries: Option<usize>,
    reserve_mb: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigText {
    #[serde(default)]
    profiles: BTreeMap<String, ProfileText>,
}

/// The profiles file's name, beside the settings file (`config.toml`).
pub const FILE_NAME: &str = "profiles.toml";

/// Where user-defined profiles are read from: `profiles.toml` in the folder of the settings
/// file (`$XDG_CONFIG_HOME/tapedeck`, or the folder of the file `TAPEDECK_CONFIG` names).
pub fn path_beside(config_file: &Path) -> PathBuf {
    config_file
        .parent()
        .unwrap_or(Path::new(""))
        .join(FILE_NAME)
}

/// The built-in profiles followed by those of the configuration file at `path` (when it
/// exists). A user profile with a built-in's name replaces it.
pub fn load(path: Option<&Path>) -> Result<Vec<Profile>, String> {
    let mut all = builtins();
    let Some(path) = path else {
        return Ok(all);
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(all),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let user = parse_config(&text, &all).map_err(|e| format!("{}: {e}", path.display()))?;
    for p in user {
        match all.iter_mut().find(|q| q.name == p.name) {
            Some(q) => *q = p,
            None => all.push(p),
        }
    }
    Ok(all)
}

/// Parses a configuration file's text into profiles, resolving each `base` against `known`
/// and the profiles defined before it in the file.
pub fn parse_config(text: &str, known: &[Profile]) -> Result<Vec<Profile>, String> {
    let config: ConfigText = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut out: Vec<Profile> = Vec::new();
    let mut pending: Vec<(String, ProfileText)> = config.profiles.into_iter().collect();
    // Bases may be defined later in the file: resolve in rounds.
    while !pending.is_empty() {
        let before = pending.len();
        let mut rest = Vec::new();
        for (name, p) in pending {
            let base_name = p.base.clone().unwrap_or_else(|| "stick".into());
            let base = out
                .iter()
                .chain(known)
                .find(|q| q.name == base_name)
                .cloned();
            match base {
                Some(b) if base_name != name || known.iter().any(|q| q.name == name) => {
                    out.push(apply(&name, b, p)?)
                }
                _ => rest.push((name, p)),
            }
        }
        if rest.len() == before {
            let (name, p) = &rest[0];
            return Err(format!(
                "profile `{name}`: no profile named `{}` to base it on",
                p.base.as_deref().unwrap_or("stick")
            ));
        }
        pending = rest;
    }
    Ok(out)
}

fn apply(name: &str, base: Profile, t: ProfileText) -> Result<Profile, String> {
    let err = |what: String| format!("profile `{name}`: {what}");
    let mut p = base;
    p.name = name.to_string();
    p.description = t.description.unwrap_or_else(|| {
        format!(
            "user profile based on {}",
            t.base.as_deref().unwrap_or("stick")
        )
    });
    if let Some(c) = t.copy {
        for f in &c {
            if Format::parse(f).is_none() {
                return Err(err(format!(
                    "copy: unknown format `{f}` (mp3, aac, flac, alac, wav, aiff)"
                )));
            }
        }
        p.copy = c.iter().map(|f| f.to_ascii_lowercase()).collect();
    }
    if let Some(f) = t.format {
        p.format = Format::parse(&f).ok_or_else(|| {
            err(format!(
                "format: unknown format `{f}` (mp3, aac, flac, alac, wav, aiff)"
            ))
        })?;
    }
    if t.bitrate.is_some() {
        p.bitrate = t.bitrate;
    }
    if t.vbr.is_some() {
        p.vbr = t.vbr;
    }
    if let Some(b) = p.bitrate {
        let ok = match p.format {
            Format::Mp3 => [
                32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
            ]
            .contains(&b),
            Format::Aac => (64..=320).contains(&b),
            _ => true,
        };
        if !ok {
            return Err(err(format!(
                "bitrate {b} does not suit {}",
                p.format.name()
            )));
        }
    }
    if matches!(p.vbr, Some(v) if v > 9) {
        return Err(err("vbr is 0 (best) to 9".into()));
    }
    if t.max_sample_rate.is_some() {
        p.max_sample_rate = t.max_sample_rate;
    }
    if let Some(b) = t.bit_depth {
        if b != 16 && b != 24 {
            return Err(err("bit_depth is 16 or 24".into()));
        }
        p.bit_depth = Some(b);
    }
    if let Some(c) = t.charset {
        p.charset = match c.to_ascii_lowercase().as_str() {
            "unicode" => Charset::Unicode,
            "fat" | "fat-safe" | "fatsafe" => Charset::FatSafe,
            "ascii" => Charset::Ascii,
            other => {
                return Err(err(format!(
                    "charset: `{other}` is not one of fat, ascii, unicode"
                )));
            }
        };
    }
    set(&mut p.max_name, t.max_name);
    set(&mut p.max_path, t.max_path);
    if p.max_name < crate::names::MIN_NAME {
        return Err(err(format!(
            "max_name must be at least {}",
            crate::names::MIN_NAME
        )));
    }
    for (field, v) in [
        (&mut p.files_per_folder, t.files_per_folder),
        (&mut p.max_folders, t.max_folders),
        (&mut p.max_depth, t.max_depth),
        (&mut p.max_files, t.max_files),
        (&mut p.playlist_entries, t.playlist_entries),
    ] {
        if let Some(v) = v {
            // 0 means "no limit" in the file.
            *field = (v > 0).then_some(v);
        }
    }
    if let Some(tpl) = t.template {
        crate::names::PathTemplate::parse(&tpl).map_err(|e| err(format!("template: {e}")))?;
        p.template = tpl;
    }
    set(&mut p.id3v23, t.id3v23);
    set(&mut p.id3v1, t.id3v1);
    if let Some(c) = t.cover {
        p.cover = match &c {
            toml::Value::Integer(px) if (16..=10000).contains(px) => Cover::Fit(*px as u32),
            toml::Value::String(s) if s == "keep" => Cover::Keep,
            toml::Value::String(s) if s == "drop" => Cover::Drop,
            other => {
                return Err(err(format!(
                    "cover: `{other:?}` is not a size in pixels (16-10000), \"keep\" or \"drop\""
                )));
            }
        };
    }
    if let Some(g) = t.gain {
        p.gain = match g.to_ascii_lowercase().as_str() {
            "off" | "none" => None,
            "track" => Some(gain::Mode::Track),
            "album" => Some(gain::Mode::Album),
            other => {
                return Err(err(format!(
                    "gain: `{other}` is not one of off, track, album"
                )));
            }
        };
    }
    set(&mut p.playlist, t.playlist);
    if let Some(s) = t.playlist_separator {
        p.playlist_separator = match s.as_str() {
            "/" => '/',
            "\\" => '\\',
            other => {
                return Err(err(format!("playlist_separator: `{other}` is not / or \\")));
            }
        };
    }
    set(&mut p.playlist_encoding, t.playlist_encoding);
    set(&mut p.reserve_mb, t.reserve_mb);
    Ok(p)
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_have_the_documented_settings() {
        let all = builtins();
        let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["car", "car-strict", "stick"]);
        let car = &all[0];
        assert_eq!((car.format, car.bitrate), (Format::Mp3, Some(320)));
        assert!(car.id3v23 && car.id3v1 && car.gain.is_some());
        assert_eq!(car.cover, Cover::Fit(500));
        assert!(car.copies("mp3", Some(44100)));
        assert!(!car.copies("flac", Some(44100)));
        assert!(!car.copies("mp3", Some(96000)));
        let strict = &all[1];
        assert_eq!(strict.name_rules(), NameRules::car_strict());
        assert_eq!(
            (strict.files_per_folder, strict.max_depth),
            (Some(255), Some(2))
        );
        let stick = &all[2];
        assert!(stick.copies("flac", Some(192000)) && stick.copies("aac", None));
        assert!(!stick.rewrites_tags());
        assert_eq!(stick.name_rules(), NameRules::fat());
    }

    #[test]
    fn config_profiles_build_on_a_base() {
        let text = r#"
            [profiles.old-sony]
            base = "car-strict"
            max_name = 12
            files_per_folder = 99
            cover = "drop"
            playlist_separator = "\\"

            [profiles.phone]
            copy = ["mp3", "aac"]
            format = "aac"
            bitrate = 192
            gain = "track"
        "#;
        let ps = parse_config(text, &builtins()).unwrap();
        let sony = ps.iter().find(|p| p.name == "old-sony").unwrap();
        assert_eq!(sony.charset, Charset::Ascii);
        assert_eq!((sony.max_name, sony.files_per_folder), (12, Some(99)));
        assert_eq!(sony.cover, Cover::Drop);
        assert_eq!(sony.playlist_separator, '\\');
        let phone = ps.iter().find(|p| p.name == "phone").unwrap();
        assert_eq!((phone.format, phone.bitrate), (Format::Aac, Some(192)));
        assert_eq!(phone.gain, Some(gain::Mode::Track));
        assert_eq!(phone.copy, ["mp3", "aac"]);
    }

    #[test]
    fn config_mistakes_are_named() {
        let check = |text: &str, wanted: &str| {
            let e = parse_config(text, &builtins()).unwrap_err();
            assert!(e.contains(wanted), "{e}");
        };
        check("[profiles.x]\nbase = \"nope\"", "no profile named `nope`");
        check("[profiles.x]\nformat = \"ogg\"", "unknown format `ogg`");
        check(
            "[profiles.x]\nbitrate = 321\nformat = \"mp3\"",
            "bitrate 321",
        );
        check("[profiles.x]\ncharset = \"ebcdic\"", "charset");
        check("[profiles.x]\ncolour = 1", "colour");
        check("[profiles.x]\nmax_name = 3", "max_name");
        check("[profiles.x]\ntemplate = \"$nope\"", "template");
    }
}
