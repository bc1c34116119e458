//! Playlist files: reading M3U, M3U8 and PLS, writing M3U8, and turning the locations they hold
//! into paths worth trying.
//!
//! Playlists come from other players, other machines and other decades, so reading is lenient:
//! any bytes parse to a list of entries (possibly empty), never to an error or a panic. Text is
//! UTF-8 when the whole file is valid UTF-8 and Windows-1252 otherwise, because that is what old
//! `.m3u` files written on Windows hold. Locations are kept as written, except that `file://` URLs
//! are decoded to the path they name; [`candidates`] turns a location into the paths to try, and
//! the caller, which owns the library and the file system, decides which one exists. Writing
//! produces M3U8 only: UTF-8, which every player reads.
//!
//! Pure string and path logic: nothing here opens a file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

/// The two playlist syntaxes. M3U8 is M3U in UTF-8, so it needs no variant of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaylistFormat {
    M3u,
    Pls,
}

/// One entry as written in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// A path (relative to the playlist's folder, or absolute) or a URL, as written; a `file://`
    /// URL is decoded to the path it names.
    pub location: String,
    /// The display title, usually "Artist - Title". `None` when absent or empty.
    pub title: Option<String>,
    /// Seconds. `None` when absent, unreadable or negative (-1 is the convention for "unknown").
    pub duration: Option<f64>,
}

/// Detects the format from the content, with the file name's extension as a hint: a first line of
/// `[playlist]` means PLS; so does a `.pls` name on a file with `FileN=` lines (some writers drop
/// the header). Everything else is read as M3U, whose plainest form is just a list of paths.
pub fn detect(name: &str, text: &str) -> PlaylistFormat {
    let first = lines(text).find(|line| !line.is_empty());
    if first.is_some_and(|line| line.eq_ignore_ascii_case("[playlist]")) {
        return PlaylistFormat::Pls;
    }
    let pls_name = Path::new(name)
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("pls"));
    if pls_name && lines(text).any(|line| matches!(pls_key(line), Some((Key::File, _, _)))) {
        return PlaylistFormat::Pls;
    }
    PlaylistFormat::M3u
}

/// Parses a playlist's bytes into its entries, in playlist order. `name` is the file name, used
/// only as a hint for [`detect`]. Never fails: what cannot be read is skipped.
pub fn parse(name: &str, bytes: &[u8]) -> Vec<Entry> {
    parse_at_most(name, bytes, usize::MAX).unwrap_or_default()
}

/// A playlist with more entries than the caller allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyEntries {
    /// The limit that was passed.
    pub limit: usize,
}

/// [`parse`], refusing a playlist of more than `limit` entries as soon as the entry after the
/// limit is read, so the entries held stay bounded whatever the input.
pub fn parse_at_most(name: &str, bytes: &[u8], limit: usize) -> Result<Vec<Entry>, TooManyEntries> {
    let text = decode(bytes);
    match detect(name, &text) {
        PlaylistFormat::M3u => parse_m3u(&text, limit),
        PlaylistFormat::Pls => parse_pls(&text, limit),
    }
    .ok_or(TooManyEntries { limit })
}

/// Lines split on `\n`, `\r\n` or a lone `\r`, trimmed of whitespace and of byte order marks (which
/// also appear mid-file when playlists were joined with `cat`). A CRLF pair yields an extra empty
/// line; every reader skips empty lines, so that costs nothing.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    // Two single-character splits rather than one on either character: a single character is
    // found with `memchr`, which keeps megabyte lines cheap even in unoptimized test builds.
    text.split('\n')
        .flat_map(|line| line.split('\r'))
        .map(|line| line.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}'))
}

/// Decodes a whole file. A UTF-16 byte order mark means UTF-16 (Windows "Unicode" text); otherwise
/// the bytes are UTF-8 when they are valid UTF-8, and Windows-1252 when not.
fn decode(bytes: &[u8]) -> String {
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => decode_8bit(rest),
        [0xFF, 0xFE, rest @ ..] => decode_utf16(rest, u16::from_le_bytes),
        [0xFE, 0xFF, rest @ ..] => decode_utf16(rest, u16::from_be_bytes),
        _ => decode_8bit(bytes),
    }
}

fn decode_utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// UTF-8 when valid, Windows-1252 otherwise. The choice is made for the whole input, not per
/// byte: a file that is not UTF-8 somewhere was not written as UTF-8 anywhere.
fn decode_8bit(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => bytes.iter().map(|&b| windows_1252(b)).collect(),
    }
}

/// Windows-1252 is Latin-1 except for 0x80..=0x9F, where Latin-1 has control characters and
/// Windows put typographic punctuation and a few letters. The five bytes Windows leaves undefined
/// map to the control character of the same number, as browsers do.
fn windows_1252(byte: u8) -> char {
    const HIGH: [char; 32] = [
        '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', // 0x80
        '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}', // 0x84
        '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', // 0x88
        '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}', // 0x8C
        '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', // 0x90
        '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}', // 0x94
        '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', // 0x98
        '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}', // 0x9C
    ];
    match byte {
        0x80..=0x9F => HIGH[usize::from(byte - 0x80)],
        _ => char::from(byte),
    }
}

fn parse_m3u(text: &str, limit: usize) -> Option<Vec<Entry>> {
    let mut entries = Vec::new();
    // The `#EXTINF` line describes the next location line, even across other directives
    // (`#EXTGRP`, `#EXTVLCOPT`) in between; a second `#EXTINF` replaces the first.
    let mut info: Option<(Option<f64>, Option<String>)> = None;
    for line in lines(text) {
        if line.is_empty() {
            continue;
        }
        if line.starts_with('#') {
            if let Some(rest) = strip_prefix_ignore_case(line, "#EXTINF:") {
                info = Some(parse_extinf(rest));
            }
            continue;
        }
        let (duration, title) = info.take().unwrap_or_default();
        let location = location(line);
        if !location.is_empty() {
            if entries.len() == limit {
                return None;
            }
            entries.push(Entry {
                location,
                title,
                duration,
            });
        }
    }
    Some(entries)
}

/// Reads what follows `#EXTINF:`: a duration, optional `key="value"` attributes (IPTV lists), a
/// comma, and the title. Commas inside quoted attribute values do not end the attributes. Without
/// a comma the line is a bare duration, or, when it does not start with a number, a bare title.
fn parse_extinf(rest: &str) -> (Option<f64>, Option<String>) {
    let (head, title) = match split_at_title_comma(rest) {
        Some((head, title)) => (head, Some(title)),
        None => (rest, None),
    };
    let first_word = head.split_whitespace().next().unwrap_or("");
    let number = first_word.parse::<f64>().ok();
    let title = match title {
        Some(title) => non_empty(title),
        None if number.is_none() => non_empty(rest),
        None => None,
    };
    (number.and_then(duration), title)
}

/// The first comma outside double quotes. When the quotes do not pair up the line is malformed,
/// and the first comma is the best guess.
fn split_at_title_comma(text: &str) -> Option<(&str, &str)> {
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => return Some((&text[..i], &text[i + 1..])),
            _ => {}
        }
    }
    if quoted { text.split_once(',') } else { None }
}

fn duration(seconds: f64) -> Option<f64> {
    (seconds.is_finite() && seconds >= 0.0).then_some(seconds)
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// A location as the entry keeps it: `file://` URLs decoded to paths, everything else as written.
fn location(text: &str) -> String {
    file_url_path(text).unwrap_or_else(|| text.to_string())
}

/// The path a `file:` URL names: `file:///home/a%20b.mp3` is `/home/a b.mp3`,
/// `file://localhost/x` is `/x`, `file:///C:/x` is `C:/x` and `file://server/share/x` is the UNC
/// path `//server/share/x`. Percent escapes are bytes, decoded like the file (UTF-8, else
/// Windows-1252); a `%` not followed by two hex digits is kept as it is.
fn file_url_path(text: &str) -> Option<String> {
    let rest = strip_prefix_ignore_case(text, "file:")?;
    if !rest.starts_with('/') {
        return None;
    }
    let path = match rest.strip_prefix("//") {
        Some(after) => {
            let (host, path) = after.split_at(after.find('/').unwrap_or(after.len()));
            if host.is_empty() || host.eq_ignore_ascii_case("localhost") {
                path.to_string()
            } else {
                format!("//{host}{path}")
            }
        }
        None => rest.to_string(),
    };
    let path = decode_8bit(&percent_decode(&path));
    match path.strip_prefix('/') {
        Some(windows) if drive_rest(windows).is_some() => Some(windows.to_string()),
        _ => Some(path),
    }
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', high, low]) => hex_value(*high)
                .zip(hex_value(*low))
                .map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).map(|v| v as u8)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    File,
    Title,
    Length,
}

/// Reads a PLS line `FileN=`, `TitleN=` or `LengthN=` (any case) into (key, N, value). Other lines
/// (the header, `NumberOfEntries`, `Version`, comments) give `None`.
fn pls_key(line: &str) -> Option<(Key, u64, &str)> {
    let (key, value) = line.split_once('=')?;
    let key = key.trim();
    let digits = key.find(|c: char| c.is_ascii_digit())?;
    let (word, number) = key.split_at(digits);
    let kind = if word.eq_ignore_ascii_case("file") {
        Key::File
    } else if word.eq_ignore_ascii_case("title") {
        Key::Title
    } else if word.eq_ignore_ascii_case("length") {
        Key::Length
    } else {
        return None;
    };
    // `parse` rejects a sign, trailing letters and numbers too large to be an index.
    if !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((kind, number.parse().ok()?, value.trim()))
}

/// PLS entries are keyed by number, so they are gathered first and ordered by number afterwards:
/// keys may come in any order, numbering may have gaps, and `NumberOfEntries` is often wrong, so
/// it is not trusted. A number with a title but no file is not an entry. When a key repeats, the
/// last value wins, as in any INI file.
/// `None` when more than `limit` entry numbers are seen (counted as they appear, whether or not
/// the number has a `FileN=` line).
fn parse_pls(text: &str, limit: usize) -> Option<Vec<Entry>> {
    #[derive(Default)]
    struct Slot<'a> {
        file: Option<&'a str>,
        title: Option<&'a str>,
        length: Option<&'a str>,
    }
    let mut slots: BTreeMap<u64, Slot> = BTreeMap::new();
    for line in lines(text) {
        let Some((key, number, value)) = pls_key(line) else {
            continue;
        };
        if slots.len() == limit && !slots.contains_key(&number) {
            return None;
        }
        let slot = slots.entry(number).or_default();
        match key {
            Key::File => slot.file = Some(value),
            Key::Title => slot.title = Some(value),
            Key::Length => slot.length = Some(value),
        }
    }
    let entries = slots
        .into_values()
        .filter_map(|slot| {
            let location = location(slot.file?);
            if location.is_empty() {
                return None;
            }
            Some(Entry {
                location,
                title: slot.title.and_then(non_empty),
                duration: slot.length.and_then(|l| l.parse().ok()).and_then(duration),
            })
        })
        .collect();
    Some(entries)
}

/// Whether a location is a URL of something other than a local file (`http://`, `https://`,
/// `rtsp://` and so on): a stream or a web resource that no path can stand for.
pub fn is_remote(location: &str) -> bool {
    let Some((scheme, _)) = location.split_once("://") else {
        return false;
    };
    // One letter before a colon is a Windows drive, not a scheme.
    scheme.len() >= 2
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !scheme.eq_ignore_ascii_case("file")
}

/// What follows the drive in a Windows drive path (`C:\Music` or `C:/Music` gives `\Music` or
/// `/Music`). A letter and colon with no separator after them (`a:b.mp3`) is a file name.
fn drive_rest(location: &str) -> Option<&str> {
    let bytes = location.as_bytes();
    let is_drive = bytes.len() >= 2
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && matches!(bytes.get(2), None | Some(b'/' | b'\\'));
    is_drive.then(|| &location[2..])
}

/// Candidate paths for an entry, in the order to try them, given the folder holding the
/// playlist. Relative locations are joined to `base_dir`; absolute ones are kept. A location with
/// backslashes (written on Windows) is also tried with slashes. A Windows drive path
/// (`C:\Music\a.mp3`) is kept only where the host system reads drive letters, and as a last
/// resort its part after the drive is tried under `base_dir` (`Music/a.mp3`), for a library
/// copied over with its folder layout. A `file://` URL is tried as the path it names; any other
/// URL gives no candidates (see [`is_remote`]).
///
/// Candidates are normalized lexically (`a/./b/../c` is `a/c`), because the library stores paths
/// without such components; a `..` that crosses a symbolic link may therefore name a different
/// folder than the system would reach. No candidate appears twice.
pub fn candidates(location: &str, base_dir: &Path) -> Vec<PathBuf> {
    let location = file_url_path(location).unwrap_or_else(|| location.to_string());
    if location.is_empty() || is_remote(&location) {
        return Vec::new();
    }
    let mut forms = vec![location.clone()];
    if location.contains('\\') {
        forms.push(location.replace('\\', "/"));
    }
    let mut out: Vec<PathBuf> = Vec::new();
    let mut push = |path: PathBuf| {
        let path = normalize(&path);
        if !out.contains(&path) {
            out.push(path);
        }
    };
    for form in &forms {
        let path = Path::new(form);
        if drive_rest(form).is_some() || form.starts_with('\\') {
            // Rooted the Windows way: meaningful only where the host agrees, and never relative
            // to the playlist, which would name a folder called `C:`.
            if path.is_absolute() {
                push(path.to_path_buf());
            }
        } else if path.has_root() {
            push(path.to_path_buf());
        } else {
            push(base_dir.join(path));
        }
    }
    if let Some(rest) = drive_rest(&location) {
        let rest = rest.replace('\\', "/");
        let rest = rest.trim_start_matches('/');
        if !rest.is_empty() {
            push(base_dir.join(rest));
        }
    }
    out
}

/// Removes `.` components and resolves `..` against the component before it, without asking the
/// file system. A `..` at the root stays at the root; at the start of a relative path it is kept.
fn normalize(path: &Path) -> PathBuf {
    let mut parts: Vec<Component> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match parts.last() {
                Some(Component::Normal(_)) => {
                    parts.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => parts.push(component),
            },
            _ => parts.push(component),
        }
    }
    if parts.is_empty() {
        return PathBuf::from(".");
    }
    parts.iter().collect()
}

/// How an extended M3U file is laid out: its line ending, and the separator between the
/// components of relative paths (devices that expect Windows paths want `\\`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct M3uStyle {
    pub line_end: &'static str,
    pub separator: char,
}

impl M3uStyle {
    /// `\n` and `/`: what [`write_m3u8`] writes.
    pub const UNIX: M3uStyle = M3uStyle {
        line_end: "\n",
        separator: '/',
    };
}

/// Writes an M3U8 playlist: `#EXTM3U`, then for each entry an `#EXTINF:<seconds>,<title>` line
/// (omitted when the entry has neither) and its location. Seconds are rounded to whole numbers,
/// -1 when unknown; line breaks in titles become spaces. `\n` line endings, no byte order mark.
///
/// A location the format could not carry as written is rewritten to one that reads back to the
/// same file: an absolute path with a line break, leading or trailing white space, or a leading
/// `#` becomes a `file://` URL; a relative one with a leading `#`, leading white space or a
/// leading `file:` gets `./` in front. A relative location with a line break or trailing white
/// space has no faithful form: its line breaks become spaces, and trailing space is lost on
/// reading.
pub fn write_m3u8(entries: &[Entry]) -> String {
    write_m3u(entries, M3uStyle::UNIX)
}

/// [`write_m3u8`] with another line ending or path separator. Only relative paths take the
/// separator; absolute paths and URLs are written as they are.
pub fn write_m3u(entries: &[Entry], style: M3uStyle) -> String {
    let mut out = format!("#EXTM3U{}", style.line_end);
    for entry in entries {
        if entry.title.is_some() || entry.duration.is_some() {
            let seconds = entry
                .duration
                .and_then(duration)
                .map_or(-1, |d| d.round() as i64);
            let title = entry.title.as_deref().map(one_line).unwrap_or_default();
            let _ = write!(out, "#EXTINF:{seconds},{title}{}", style.line_end);
        }
        let location = writable_location(&entry.location);
        let relative = !entry.location.starts_with('/') && !is_remote(entry.location.trim());
        if style.separator != '/' && relative {
            out.push_str(&location.replace('/', &style.separator.to_string()));
        } else {
            out.push_str(&location);
        }
        out.push_str(style.line_end);
    }
    out
}

fn one_line(text: &str) -> String {
    text.replace("\r\n", " ").replace(['\r', '\n'], " ")
}

fn writable_location(location: &str) -> String {
    if is_remote(location.trim()) {
        return one_line(location.trim());
    }
    // What reading would trim away, or read as something other than a path.
    let trimmed = |c: char| c.is_whitespace() || c == '\u{feff}';
    let unsafe_start = location.starts_with(|c: char| c == '#' || trimmed(c))
        || strip_prefix_ignore_case(location, "file:").is_some();
    let unsafe_end = location.ends_with(trimmed);
    let breaks = location.contains('\n') || location.contains('\r');
    if !(unsafe_start || unsafe_end || breaks) {
        return location.to_string();
    }
    if location.starts_with('/') {
        return file_url(location);
    }
    format!("./{}", one_line(location))
}

/// A `file://` URL for an absolute path. Everything but unreserved characters and `/` is escaped,
/// which is more than needed and keeps the rule simple.
fn file_url(path: &str) -> String {
    let mut url = String::from("file://");
    for &byte in path.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'/' | b'-' | b'.' | b'_' | b'~') {
            url.push(char::from(byte));
        } else {
            let _ = write!(url, "%{byte:02X}");
        }
    }
    url
}

/// `path` relative to the folder `base`, reached with `..` components where needed, computed
/// lexically, component by component (both are normalized first, so `base/x/..` works). `None`
/// when either path is not absolute, or when they share no root (two Windows drives).
pub fn relative_path(path: &Path, base: &Path) -> Option<PathBuf> {
    if !path.is_absolute() || !base.is_absolute() {
        return None;
    }
    let path = normalize(path);
    let base = normalize(base);
    let path: Vec<Component> = path.components().collect();
    let base: Vec<Component> = base.components().collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let is_root = |c: &Component| matches!(c, Component::RootDir | Component::Prefix(_));
    if base[common..].iter().any(is_root) || path[common..].iter().any(is_root) {
        return None;
    }
    let mut relative = PathBuf::new();
    for _ in common..base.len() {
        relative.push("..");
    }
    for component in &path[common..] {
        relative.push(component);
    }
    if relative.as_os_str().is_empty() {
        relative.push(".");
    }
    Some(relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Expected<'a> = &'a [(&'a str, Option<&'a str>, Option<f64>)];

    fn check(name: &str, bytes: &[u8], expected: Expected) {
        let got = parse(name, bytes);
        let got: Vec<(&str, Option<&str>, Option<f64>)> = got
            .iter()
            .map(|e| (e.location.as_str(), e.title.as_deref(), e.duration))
            .collect();
        assert_eq!(
            got,
            expected,
            "{name}: {:?}",
            String::from_utf8_lossy(bytes)
        );
    }

    #[test]
    fn decodes_utf8_then_windows_1252() {
        let cases: &[(&[u8], &str)] = &[
            (b"abc", "abc"),
            (b"caf\xC3\xA9", "café"),
            (b"caf\xE9", "café"),
            (b"\x80", "€"),
            (b"\x81\x8D\x8F\x90\x9D", "\u{81}\u{8D}\u{8F}\u{90}\u{9D}"),
            (b"\x85\x91\x92\x93\x94\x96\x97\x99", "…‘’“”–—™"),
            (b"\x8A\x8C\x8E\x9A\x9C\x9E\x9F", "ŠŒŽšœžŸ"),
            (b"\xA0\xFF", "\u{A0}ÿ"),
            // One invalid byte makes the whole file Windows-1252, including bytes that would have
            // been valid UTF-8 on their own.
            (b"\xC3\xA9 \xE9", "Ã© é"),
            (b"\xEF\xBB\xBFabc", "abc"),
            (b"\xEF\xBB\xBFcaf\xE9", "café"),
            (b"\xFF\xFEa\x00\xE9\x00", "aé"),
            (b"\xFE\xFF\x00a\x00\xE9", "aé"),
            (b"\xFF\xFEa\x00b", "a"),
            (b"\xFF\xFE\x00\xD8", "\u{FFFD}"),
            (b"", ""),
        ];
        for (bytes, expected) in cases {
            assert_eq!(decode(bytes), *expected, "bytes {bytes:?}");
        }
    }

    #[test]
    fn reads_m3u() {
        let cases: &[(&[u8], Expected)] = &[
            (b"", &[]),
            (
                b"a.mp3\nb.mp3\n",
                &[("a.mp3", None, None), ("b.mp3", None, None)],
            ),
            (
                b"  a.mp3  \n\n\n\tb.mp3",
                &[("a.mp3", None, None), ("b.mp3", None, None)],
            ),
            (
                b"#EXTM3U\n#EXTINF:123,Artist - Title\n/music/a.mp3\n#EXTINF:7,B\nb.mp3\n",
                &[
                    ("/music/a.mp3", Some("Artist - Title"), Some(123.0)),
                    ("b.mp3", Some("B"), Some(7.0)),
                ],
            ),
            (
                b"#EXTINF:-1,Radio\nhttp://example.com/stream",
                &[("http://example.com/stream", Some("Radio"), None)],
            ),
            (
                b"#extinf:12.5, spaced \na.mp3",
                &[("a.mp3", Some("spaced"), Some(12.5))],
            ),
            (
                b"#EXTINF:0,Zero\na.mp3",
                &[("a.mp3", Some("Zero"), Some(0.0))],
            ),
            (
                b"#EXTINF:123,A, B, C\na.mp3",
                &[("a.mp3", Some("A, B, C"), Some(123.0))],
            ),
            (
                b"#EXTINF:123 tvg-id=\"x\" tvg-name=\"A, B\",Title\na.mp3",
                &[("a.mp3", Some("Title"), Some(123.0))],
            ),
            (
                b"#EXTINF:-1 group-title=\"News\",Channel\nrtsp://h/c",
                &[("rtsp://h/c", Some("Channel"), None)],
            ),
            (
                b"#EXTINF:5 a=\"unclosed,Title\na.mp3",
                &[("a.mp3", Some("Title"), Some(5.0))],
            ),
            // Without a comma: a bare duration, or a bare title.
            (b"#EXTINF:123\na.mp3", &[("a.mp3", None, Some(123.0))]),
            (b"#EXTINF:-1\na.mp3", &[("a.mp3", None, None)]),
            (
                b"#EXTINF:Just A Title\na.mp3",
                &[("a.mp3", Some("Just A Title"), None)],
            ),
            (b"#EXTINF:\na.mp3", &[("a.mp3", None, None)]),
            (b"#EXTINF:,\na.mp3", &[("a.mp3", None, None)]),
            (b"#EXTINF:abc,T\na.mp3", &[("a.mp3", Some("T"), None)]),
            (b"#EXTINF:inf,T\na.mp3", &[("a.mp3", Some("T"), None)]),
            (b"#EXTINF:NaN,T\na.mp3", &[("a.mp3", Some("T"), None)]),
            (b"#EXTINF:1e999,T\na.mp3", &[("a.mp3", Some("T"), None)]),
            // The information belongs to the next location, across other directives; a second
            // `#EXTINF` replaces the first, and one with no location after it is dropped.
            (
                b"#EXTINF:1,T\n#EXTGRP:g\n# comment\na.mp3\nb.mp3",
                &[("a.mp3", Some("T"), Some(1.0)), ("b.mp3", None, None)],
            ),
            (
                b"#EXTINF:1,First\n#EXTINF:2,Second\na.mp3",
                &[("a.mp3", Some("Second"), Some(2.0))],
            ),
            (b"a.mp3\n#EXTINF:1,Orphan\n", &[("a.mp3", None, None)]),
            (b"#EXTM3U\n#PLAYLIST:Mix\n#EXTALB:x\n", &[]),
            // Line endings and byte order marks.
            (
                b"\xEF\xBB\xBF#EXTM3U\r\n#EXTINF:3,T\r\na.mp3\r\nb.mp3\r\n",
                &[("a.mp3", Some("T"), Some(3.0)), ("b.mp3", None, None)],
            ),
            (
                b"#EXTINF:3,T\ra.mp3\rb.mp3",
                &[("a.mp3", Some("T"), Some(3.0)), ("b.mp3", None, None)],
            ),
            (
                b"a.mp3\n\xEF\xBB\xBF#EXTM3U\nb.mp3",
                &[("a.mp3", None, None), ("b.mp3", None, None)],
            ),
            (b"\xEF\xBB\xBFa.mp3", &[("a.mp3", None, None)]),
            // Old files in Windows-1252.
            (
                b"#EXTINF:10,Beyonc\xE9 \x96 D\xE9j\xE0 Vu\nBeyonc\xE9\\D\xE9j\xE0 Vu.mp3",
                &[(
                    "Beyoncé\\Déjà Vu.mp3",
                    Some("Beyoncé – Déjà Vu"),
                    Some(10.0),
                )],
            ),
            (b"\x80.mp3", &[("€.mp3", None, None)]),
            // file:// URLs become paths.
            (
                b"file:///home/u/a%20b.mp3",
                &[("/home/u/a b.mp3", None, None)],
            ),
            (b"FILE:///a%C3%A9.mp3", &[("/aé.mp3", None, None)]),
            (b"file:///a%E9.mp3", &[("/aé.mp3", None, None)]),
            (b"file://localhost/x.mp3", &[("/x.mp3", None, None)]),
            (
                b"file:///C:/Music/a%20b.mp3",
                &[("C:/Music/a b.mp3", None, None)],
            ),
            (
                b"file://server/share/a.mp3",
                &[("//server/share/a.mp3", None, None)],
            ),
            (b"file:/x/y.mp3", &[("/x/y.mp3", None, None)]),
            (
                b"file:///100%.mp3\nfile:///%4g%2",
                &[("/100%.mp3", None, None), ("/%4g%2", None, None)],
            ),
            (b"file:a.mp3", &[("file:a.mp3", None, None)]),
            (
                b"file://\nfile:///\n#EXTINF:1,T\nfile://localhost\nb.mp3",
                &[("/", None, None), ("b.mp3", None, None)],
            ),
            (b"file:///%2B%2b%+1%ZZ", &[("/++%+1%ZZ", None, None)]),
        ];
        for (bytes, expected) in cases {
            check("list.m3u", bytes, expected);
        }
    }

    #[test]
    fn reads_pls() {
        let cases: &[(&[u8], Expected)] = &[
            (b"[playlist]\n", &[]),
            (
                b"[playlist]\nFile1=a.mp3\nTitle1=A\nLength1=100\n\
                  File2=http://h/s\nTitle2=S\nLength2=-1\nNumberOfEntries=2\nVersion=2\n",
                &[
                    ("a.mp3", Some("A"), Some(100.0)),
                    ("http://h/s", Some("S"), None),
                ],
            ),
            // Any order, any case, ordered by number (not as text: 10 comes after 9).
            (
                b"[Playlist]\ntitle10=Ten\nFILE10=ten.mp3\nfile9=nine.mp3\nLENGTH9=9\n\
                  File1 = one.mp3 \n",
                &[
                    ("one.mp3", None, None),
                    ("nine.mp3", None, Some(9.0)),
                    ("ten.mp3", Some("Ten"), None),
                ],
            ),
            // Gaps in the numbering, a title without a file, a wrong entry count.
            (
                b"[playlist]\nNumberOfEntries=1\nFile2=b.mp3\nTitle3=No file\n\
                  File7=g.mp3\nFile007=g2.mp3\nFile5=\n",
                &[("b.mp3", None, None), ("g2.mp3", None, None)],
            ),
            (
                b"\xEF\xBB\xBF[playlist]\r\nFile1=a.mp3\r\nTitle1=Caf\xC3\xA9\r\n",
                &[("a.mp3", Some("Café"), None)],
            ),
            (
                b"[playlist]\rFile1=Caf\xE9.mp3\rLength1=abc",
                &[("Café.mp3", None, None)],
            ),
            (
                b"[playlist]\nFile1=file:///m/a%23b.mp3\nFile2=C:\\M\\x.mp3",
                &[("/m/a#b.mp3", None, None), ("C:\\M\\x.mp3", None, None)],
            ),
            (b"[playlist]\nFile1=a=b.mp3\n", &[("a=b.mp3", None, None)]),
            (
                b"[playlist]\nFile1=file://\nFile2=b.mp3",
                &[("b.mp3", None, None)],
            ),
            (
                b"[playlist]\n; comment\nFile-1=x\nFile+2=y\nFilex=z\nFile1x=w\n\
                  File99999999999999999999999=big\nFiles1=s\n",
                &[],
            ),
            (
                b"[playlist]\nFile18446744073709551615=max.mp3\nFile0=zero.mp3",
                &[("zero.mp3", None, None), ("max.mp3", None, None)],
            ),
        ];
        for (bytes, expected) in cases {
            check("list.pls", bytes, expected);
            // The header decides, whatever the file is called.
            if bytes
                .windows(10)
                .any(|w| w.eq_ignore_ascii_case(b"[playlist]"))
            {
                check("list.m3u", bytes, expected);
            }
        }
    }

    #[test]
    fn detects_the_format() {
        let cases: &[(&str, &str, PlaylistFormat)] = &[
            ("a.pls", "[playlist]\nFile1=a.mp3", PlaylistFormat::Pls),
            ("a.m3u", "[playlist]\nFile1=a.mp3", PlaylistFormat::Pls),
            ("a", "\u{feff}\n\n  [PLAYLIST]  \n", PlaylistFormat::Pls),
            ("a.PLS", "File1=a.mp3\n", PlaylistFormat::Pls),
            (
                "dir/a.pls",
                "numberofentries=1\nfile1=a.mp3\n",
                PlaylistFormat::Pls,
            ),
            ("a.pls", "a.mp3\nb.mp3\n", PlaylistFormat::M3u),
            ("a.m3u", "File1=a.mp3\n", PlaylistFormat::M3u),
            ("a.m3u8", "#EXTM3U\n[playlist]\n", PlaylistFormat::M3u),
            ("a.m3u", "", PlaylistFormat::M3u),
            ("", "x", PlaylistFormat::M3u),
        ];
        for (name, text, expected) in cases {
            assert_eq!(detect(name, text), *expected, "{name} {text:?}");
        }
    }

    #[test]
    fn lists_candidates() {
        let base = Path::new("/home/u/lists");
        let cases: &[(&str, &[&str])] = &[
            ("a.mp3", &["/home/u/lists/a.mp3"]),
            (" a.mp3", &["/home/u/lists/ a.mp3"]),
            ("./a.mp3", &["/home/u/lists/a.mp3"]),
            ("../Music/a.mp3", &["/home/u/Music/a.mp3"]),
            ("../../../../../a.mp3", &["/a.mp3"]),
            ("/srv/music/a.mp3", &["/srv/music/a.mp3"]),
            ("/srv/music/../other/./a.mp3", &["/srv/other/a.mp3"]),
            (
                "Music\\a.mp3",
                &["/home/u/lists/Music\\a.mp3", "/home/u/lists/Music/a.mp3"],
            ),
            (
                "..\\Music\\a.mp3",
                &["/home/u/lists/..\\Music\\a.mp3", "/home/u/Music/a.mp3"],
            ),
            ("\\Music\\a.mp3", &["/Music/a.mp3"]),
            ("\\\\server\\share\\a.mp3", &["/server/share/a.mp3"]),
            ("C:\\Music\\a.mp3", &["/home/u/lists/Music/a.mp3"]),
            ("C:/Music/a.mp3", &["/home/u/lists/Music/a.mp3"]),
            ("c:\\\\Music\\a.mp3", &["/home/u/lists/Music/a.mp3"]),
            ("C:\\", &[]),
            ("a:b.mp3", &["/home/u/lists/a:b.mp3"]),
            ("file:///srv/a%20b.mp3", &["/srv/a b.mp3"]),
            ("file:///C:/Music/a.mp3", &["/home/u/lists/Music/a.mp3"]),
            ("http://example.com/a.mp3", &[]),
            ("HTTPS://example.com/a.mp3", &[]),
            ("rtsp://h/s", &[]),
            ("", &[]),
            (".", &["/home/u/lists"]),
        ];
        for (location, expected) in cases {
            let expected: Vec<PathBuf> = expected.iter().map(PathBuf::from).collect();
            assert_eq!(
                candidates(location, base),
                expected,
                "location {location:?}"
            );
        }
        assert_eq!(
            candidates("a.mp3", Path::new("lists")),
            vec![PathBuf::from("lists/a.mp3")]
        );
        assert_eq!(
            candidates("../a.mp3", Path::new("")),
            vec![PathBuf::from("../a.mp3")]
        );
    }

    #[test]
    fn tells_remote_locations() {
        let cases: &[(&str, bool)] = &[
            ("http://h/a.mp3", true),
            ("https://h/a.mp3", true),
            ("mms://h/a", true),
            ("svn+ssh://h/a", true),
            ("file:///a.mp3", false),
            ("C://a.mp3", false),
            ("/a://b.mp3", false),
            ("a b://c", false),
            ("a.mp3", false),
            ("://x", false),
        ];
        for (location, expected) in cases {
            assert_eq!(is_remote(location), *expected, "location {location:?}");
        }
    }

    fn entry(location: &str, title: Option<&str>, duration: Option<f64>) -> Entry {
        Entry {
            location: location.into(),
            title: title.map(str::to_string),
            duration,
        }
    }

    #[test]
    fn writes_m3u8() {
        let cases: &[(Vec<Entry>, &str)] = &[
            (vec![], "#EXTM3U\n"),
            (
                vec![
                    entry("/m/a.mp3", Some("Artist - Title"), Some(123.4)),
                    entry("b.mp3", None, None),
                    entry("c.mp3", Some("C"), None),
                    entry("d.mp3", None, Some(59.5)),
                    entry("e.mp3", Some("Two\nlines\r\nhere\r"), Some(-3.0)),
                    entry("http://h/s", Some("Radio"), Some(f64::NAN)),
                ],
                "#EXTM3U\n#EXTINF:123,Artist - Title\n/m/a.mp3\nb.mp3\n#EXTINF:-1,C\nc.mp3\n\
                 #EXTINF:60,\nd.mp3\n#EXTINF:-1,Two lines here \ne.mp3\n\
                 #EXTINF:-1,Radio\nhttp://h/s\n",
            ),
            (
                vec![entry("/m/#1 hit.mp3", None, None)],
                "#EXTM3U\n/m/#1 hit.mp3\n",
            ),
            (
                vec![entry("#1 hit.mp3", None, None)],
                "#EXTM3U\n./#1 hit.mp3\n",
            ),
            (
                vec![entry(" lead.mp3", None, None)],
                "#EXTM3U\n./ lead.mp3\n",
            ),
            (
                vec![entry("file:x.mp3", None, None)],
                "#EXTM3U\n./file:x.mp3\n",
            ),
            (
                vec![entry("/m/new\nline.mp3", None, None)],
                "#EXTM3U\nfile:///m/new%0Aline.mp3\n",
            ),
            (
                vec![entry("/m/trail ", None, None)],
                "#EXTM3U\nfile:///m/trail%20\n",
            ),
            (
                vec![entry("/m/100% é.mp3 ", None, None)],
                "#EXTM3U\nfile:///m/100%25%20%C3%A9.mp3%20\n",
            ),
            (
                vec![entry("rel\nbreak.mp3", None, None)],
                "#EXTM3U\n./rel break.mp3\n",
            ),
            (
                vec![entry(" http://h/s\n", None, None)],
                "#EXTM3U\nhttp://h/s\n",
            ),
        ];
        for (entries, expected) in cases {
            assert_eq!(write_m3u8(entries), *expected, "entries {entries:?}");
        }
    }

    #[test]
    fn m3u_styles_change_line_ends_and_relative_separators_only() {
        let style = M3uStyle {
            line_end: "\r\n",
            separator: '\\',
        };
        let entries = [
            entry("A/B.mp3", Some("T"), Some(1.4)),
            entry("#x/y.mp3", None, None),
            entry("/abs/z.mp3", None, None),
            entry("http://h/s/t", None, None),
        ];
        assert_eq!(
            write_m3u(&entries, style),
            "#EXTM3U\r\n#EXTINF:1,T\r\nA\\B.mp3\r\n.\\#x\\y.mp3\r\n/abs/z.mp3\r\n\
             http://h/s/t\r\n"
        );
        assert_eq!(write_m3u(&entries, M3uStyle::UNIX), write_m3u8(&entries));
    }

    #[test]
    fn written_playlists_read_back() {
        let entries = vec![
            entry("/m/a.mp3", Some("Artist - Title, with comma"), Some(123.0)),
            entry("/m/#hash.mp3", None, None),
            entry("/m/new\nline.mp3", Some("T"), Some(0.0)),
            entry("/m/ spaced ", None, Some(5.0)),
            entry("/m/file:odd.mp3", None, None),
            entry("rel/ü.mp3", Some("Ü"), None),
            entry("http://h/s", Some("Radio"), None),
        ];
        assert_eq!(parse("out.m3u8", write_m3u8(&entries).as_bytes()), entries);
        // Relative locations that needed a `./` read back as the same file.
        for location in ["#1.mp3", " lead.mp3", "file:x.mp3"] {
            let read = parse(
                "out.m3u8",
                write_m3u8(&[entry(location, None, None)]).as_bytes(),
            );
            assert_eq!(read.len(), 1);
            let base = Path::new("/b");
            assert_eq!(
                candidates(&read[0].location, base),
                vec![base.join(location)]
            );
        }
    }

    #[test]
    fn relative_paths() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("/m/a.mp3", "/m", Some("a.mp3")),
            ("/m/x/y/a.mp3", "/m", Some("x/y/a.mp3")),
            ("/m/a.mp3", "/m/lists", Some("../a.mp3")),
            ("/m/a.mp3", "/m/lists/deep/", Some("../../a.mp3")),
            ("/other/a.mp3", "/m/lists", Some("../../other/a.mp3")),
            ("/a.mp3", "/", Some("a.mp3")),
            ("/m", "/m", Some(".")),
            ("/m/x/../a.mp3", "/m/./lists/..", Some("a.mp3")),
            ("/m/ab/c.mp3", "/m/a", Some("../ab/c.mp3")),
            ("m/a.mp3", "/m", None),
            ("/m/a.mp3", "m", None),
            ("", "/", None),
        ];
        for (path, base, expected) in cases {
            assert_eq!(
                relative_path(Path::new(path), Path::new(base)),
                expected.map(PathBuf::from),
                "path {path:?} base {base:?}"
            );
        }
    }

    #[test]
    fn hostile_input_never_panics() {
        let long = "x".repeat(1 << 20);
        let fixed: Vec<Vec<u8>> = vec![
            long.clone().into_bytes(),
            format!("#EXTINF:{long}\na.mp3").into_bytes(),
            format!("#EXTINF:1,{long}\na.mp3").into_bytes(),
            format!("#EXTINF:{}", "\"".repeat(1 << 20)).into_bytes(),
            format!("[playlist]\nFile1={long}\nTitle1={long}").into_bytes(),
            format!("file:///{}", "%".repeat(1 << 20)).into_bytes(),
            "\r".repeat(1 << 16).into_bytes(),
            b"#EXTINF:".to_vec(),
            b"#EXTINF".to_vec(),
            b"#".to_vec(),
            b"=".to_vec(),
            b"[playlist]\n=\nFile=\n1=\nFile1".to_vec(),
            b"file:///%".to_vec(),
            b"file:///%E".to_vec(),
            b"file:///%\xE9".to_vec(),
            b"\xEF\xBB".to_vec(),
            b"\xEF\xBB\xBF".to_vec(),
            b"\xFF\xFE\x00".to_vec(),
            b"\xFE\xFF\xD8\x00\xDC".to_vec(),
            vec![0xFF; 4096],
            vec![0; 4096],
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            // xorshift64: enough randomness to shake the parsers, and the same on every run.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // Random bytes drawn mostly from the characters the parsers care about, so that the
        // interesting paths are taken often.
        const ALPHABET: &[u8] =
            b"#EXTINF:M3U,-1 \"=\r\n[playlist]FileTitleLength0123456789%/\\.:\xE9\x80\xC3\xEF\xBB\xBF";
        let random: Vec<Vec<u8>> = (0..2000)
            .map(|_| {
                let len = (next() % 300) as usize;
                (0..len)
                    .map(|_| {
                        let r = next();
                        let byte = (r >> 8) as u8;
                        if r % 4 == 0 {
                            byte
                        } else {
                            ALPHABET[usize::from(byte) % ALPHABET.len()]
                        }
                    })
                    .collect()
            })
            .collect();
        for bytes in fixed.iter().chain(&random) {
            for name in ["list.m3u", "list.pls"] {
                for e in parse(name, bytes) {
                    candidates(&e.location, Path::new("/base"));
                    write_m3u8(&[e]);
                }
            }
            let text = String::from_utf8_lossy(bytes);
            candidates(&text, Path::new("/base"));
            let _ = relative_path(Path::new(&*text), Path::new("/base"));
        }
        assert_eq!(
            parse("a.m3u", long.as_bytes()),
            vec![entry(&long, None, None)]
        );
    }

    #[test]
    fn a_limit_refuses_the_entry_after_it() {
        let m3u = "#EXTM3U\n#EXTINF:1,One\na.mp3\n\nb.mp3\n# comment\nc.mp3\n";
        assert_eq!(parse_at_most("x.m3u", m3u.as_bytes(), 3).unwrap().len(), 3);
        assert_eq!(
            parse_at_most("x.m3u", m3u.as_bytes(), 2),
            Err(TooManyEntries { limit: 2 })
        );
        let pls = "[playlist]\nFile1=a.mp3\nTitle1=A\nFile2=b.mp3\nLength2=3\nFile3=c.mp3\n";
        assert_eq!(parse_at_most("x.pls", pls.as_bytes(), 3).unwrap().len(), 3);
        assert_eq!(
            parse_at_most("x.pls", pls.as_bytes(), 2),
            Err(TooManyEntries { limit: 2 })
        );
        assert!(parse_at_most("x.m3u", b"", 0).unwrap().is_empty());
    }
}
