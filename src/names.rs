//! Turning tag values into safe file and folder names.
//!
//! `tapedeck convert` and `tapedeck export` write each track to a relative path made from its
//! tags. Tag text is anything a tagger let through ("../../etc", "AC/DC", "CON", NUL, bidi
//! overrides, a thousand emoji), so every piece of it is cleaned before it becomes part of a path.
//! Pure string handling: nothing here touches the file system.
//!
//! - [`NameRules`] say which characters a name may hold ([`Charset`]) and how long a name and a
//!   whole relative path may be.
//! - [`component`] turns one value into one safe name.
//! - [`PathTemplate`] turns a `$field` template (`/` separates folders) into a relative path.
//! - [`Namer`] hands out unique paths for a batch, as a case-insensitive file system sees them.
//!
//! Rules every name follows, whatever the charset:
//! - never empty, never `.` or `..`, and never only invisible characters;
//! - no separator (`/`, and `\` too since Windows reads it as one), no control characters and no
//!   invisible formatting characters (bidi overrides and marks, zero-width space, byte order
//!   mark); whitespace of any kind becomes a space and runs of it collapse to one;
//! - no leading or trailing space, no leading dot (it would hide the file, and `tapedeck scan`
//!   skips hidden names), no trailing dot (Windows and FAT drop it);
//! - not a DOS device name (`CON`, `PRN`, `AUX`, `NUL`, `COM0`-`COM9`, `LPT0`-`LPT9`, also with
//!   an extension and in any case): those get a `_` in front;
//! - NFC (composed) Unicode, so the same text always gives the same bytes;
//! - at most [`NameRules::max_name`] bytes of UTF-8, cut on a character boundary and, where it is
//!   cheap to tell, not inside a character's combining marks, an emoji sequence or a flag.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::template::{Template, TemplateError};

/// Which characters a name may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// Any character a Unix file system takes, less the ones every charset removes (see the
    /// module notes). Names made this way may fail on FAT or Windows.
    Unicode,
    /// [`Charset::Unicode`] without the characters FAT and Windows refuse: `\ / : * ? " < > |`
    /// each become `_`. The default for `convert`, since its output is often copied to a stick.
    FatSafe,
    /// Only `A-Z a-z 0-9 _`, for head units that read nothing else. Accents and ligatures are
    /// spelled out first (é -> e, ß -> ss, æ -> ae, Ø -> O, ﬁ -> fi), apostrophes are dropped
    /// ("Don't" -> "Dont"), and every run of other characters and spaces becomes one `_`, with none
    /// at either end. Case is kept. A file name is the stem, a `.` and the extension (letters and
    /// digits), and nothing else; the disc separator of `$disc` becomes `_` ("2_05_Title").
    Ascii,
}

/// How names are made for one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRules {
    pub charset: Charset,
    /// The longest name (folder or file, extension included) in bytes of UTF-8. For ASCII names
    /// that is the number of characters; for others it also keeps a name within FAT's 255 UTF-16
    /// units, which never outnumber the UTF-8 bytes. Values below [`MIN_NAME`] count as
    /// [`MIN_NAME`].
    pub max_name: usize,
    /// The longest relative path in bytes of UTF-8, separators included (the destination folder
    /// itself not counted). [`PathTemplate::render`] shortens the longest names to fit, down to
    /// one byte each; a template with more names than that allows renders longer.
    pub max_path: usize,
}

/// The shortest name limit honoured: an 8.3 name, the shortest any device reads.
pub const MIN_NAME: usize = 12;

impl NameRules {
    /// `tapedeck convert`'s default: FAT-safe characters (converted music is often copied to a
    /// stick or shared with Windows), names up to 255 bytes (ext4's limit, and within FAT's), and
    /// paths up to 1024 bytes, which leaves room below Linux's 4096 for the destination folder.
    pub fn convert() -> NameRules {
        NameRules {
            charset: Charset::FatSafe,
            max_name: 255,
            max_path: 1024,
        }
    }

    /// A FAT32 stick: FAT-safe characters, names up to 255 bytes, and paths up to 240 bytes, so
    /// that a path on the stick stays within Windows' 260 even under a folder of its own.
    pub fn fat() -> NameRules {
        NameRules {
            charset: Charset::FatSafe,
            max_name: 255,
            max_path: 240,
        }
    }

    /// The strictest head units: only `A-Z a-z 0-9 _` and names up to 31 characters.
    pub fn car_strict() -> NameRules {
        NameRules {
            charset: Charset::Ascii,
            max_name: 31,
            max_path: 240,
        }
    }

    /// The name limit in force: [`NameRules::max_name`], at least [`MIN_NAME`].
    pub fn name_limit(&self) -> usize {
        self.max_name.max(MIN_NAME)
    }
}

impl Default for NameRules {
    fn default() -> NameRules {
        NameRules::convert()
    }
}

/// One safe name (a folder, or a file without an extension) for `value`, following the module's
/// rules and `rules`. A value with nothing usable in it becomes `_`.
pub fn component(value: &str, rules: &NameRules) -> String {
    finish(value, rules.charset, rules.name_limit(), "_")
}

/// Characters FAT and Windows refuse in a name (besides controls and `/`, refused everywhere).
const FAT_FORBIDDEN: &[char] = &['\\', ':', '*', '?', '"', '<', '>', '|'];

/// Invisible characters that reorder or hide text: bidi controls and marks, zero-width space,
/// word joiner and invisible operators, deprecated format controls, the byte order mark.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{180E}' | '\u{200B}' | '\u{200E}' | '\u{200F}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// Characters left out of names: controls, and characters that show nothing or hide or reorder
/// what is shown. (Whitespace controls such as tab become a space before this is asked.)
fn is_dropped(c: char) -> bool {
    c.is_control() || is_invisible_format(c) || is_noncharacter(c)
}

/// Unicode noncharacters, which some file systems refuse.
fn is_noncharacter(c: char) -> bool {
    let n = c as u32;
    (0xFDD0..=0xFDEF).contains(&n) || n & 0xFFFE == 0xFFFE
}

/// Characters that only modify their neighbour: a name must not end between them and it.
fn is_extender(c: char) -> bool {
    is_combining_mark(c)
        || matches!(c,
            '\u{200C}' | '\u{200D}' | '\u{FE00}'..='\u{FE0F}' | '\u{1F3FB}'..='\u{1F3FF}'
            | '\u{E0020}'..='\u{E007F}' | '\u{E0100}'..='\u{E01EF}')
}

fn is_regional_indicator(c: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&c)
}

/// A name made only of these shows nothing.
fn is_invisible(c: char) -> bool {
    c.is_whitespace() || is_extender(c)
}

/// ASCII spellings of letters that NFKD does not take apart.
fn transliterate(c: char) -> Option<&'static str> {
    Some(match c {
        'ß' => "ss",
        'ẞ' => "SS",
        'æ' => "ae",
        'Æ' => "AE",
        'ø' => "o",
        'Ø' => "O",
        'œ' => "oe",
        'Œ' => "OE",
        'đ' | 'ð' => "d",
        'Đ' | 'Ð' => "D",
        'þ' => "th",
        'Þ' => "Th",
        'ł' => "l",
        'Ł' => "L",
        'ħ' => "h",
        'Ħ' => "H",
        'ı' => "i",
        'ĸ' => "k",
        'ŋ' => "ng",
        'Ŋ' => "NG",
        'ŧ' => "t",
        'Ŧ' => "T",
        'ƒ' => "f",
        // Apostrophes vanish: "Don't" reads better as "Dont" than as "Don_t".
        '\'' | '\u{2018}' | '\u{2019}' | '\u{02BC}' | '`' | '\u{00B4}' => "",
        _ => return None,
    })
}

/// A letter of another script in ASCII letters and digits (`上` is `Shang_`, `Ω` is `O`), as
/// the deunicode tables spell it, anything else in the spelling becoming `_`; `None` when the
/// tables have no spelling with a letter or digit in it.
fn spelled_in_ascii(c: char) -> Option<String> {
    let spelled = deunicode::deunicode_char(c)?;
    if !spelled.bytes().any(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    Some(
        spelled
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect(),
    )
}

/// Maps every character of `text` to what `charset` allows, without trimming or collapsing: the
/// result holds no separator, control or invisible formatting character, and whitespace is a
/// plain space (`_` for ASCII). Mapping twice changes nothing.
fn map_text(text: &str, charset: Charset) -> String {
    let mut out = String::with_capacity(text.len());
    match charset {
        Charset::Ascii => {
            for c in text.nfkd() {
                if is_combining_mark(c) {
                    continue;
                }
                match transliterate(c) {
                    Some(spelled) => out.push_str(spelled),
                    None if c.is_ascii_alphanumeric() || c == '_' => out.push(c),
                    // Letters of other scripts are spelled in Latin letters (CJK by their
                    // pinyin, Greek and Cyrillic letter by letter), so a name keeps its words.
                    None if c.is_alphabetic() => match spelled_in_ascii(c) {
                        Some(spelled) => out.push_str(&spelled),
                        None => out.push('_'),
                    },
                    None if is_dropped(c) && !c.is_whitespace() => {}
                    None => out.push('_'),
                }
            }
        }
        Charset::Unicode | Charset::FatSafe => {
            // Composing first lets the mapping see final characters; composing again mends a
            // sequence that a dropped character used to split ("e", RLO, combining acute).
            let first = map_unicode(text.nfc(), charset);
            out = map_unicode(first.nfc(), charset);
        }
    }
    out
}

fn map_unicode(chars: impl Iterator<Item = char>, charset: Charset) -> String {
    let mut out = String::new();
    for c in chars {
        if c == '/' || c == '\\' || (charset == Charset::FatSafe && FAT_FORBIDDEN.contains(&c)) {
            out.push('_');
        } else if c.is_whitespace() {
            out.push(' ');
        } else if !is_dropped(c) {
            out.push(c);
        }
    }
    out
}

/// Maps `text` and tidies it as a whole name: whitespace runs collapse, and nothing that a name
/// must not start or end with is left at either end.
fn tidy(text: &str, charset: Charset) -> String {
    let mapped = map_text(text, charset);
    let gap = if charset == Charset::Ascii { '_' } else { ' ' };
    let mut out = String::with_capacity(mapped.len());
    let mut in_gap = false;
    for c in mapped.chars() {
        let is_gap = c == ' ' || (charset == Charset::Ascii && c == '_');
        if is_gap {
            if !in_gap {
                out.push(gap);
            }
        } else {
            out.push(c);
        }
        in_gap = is_gap;
    }
    let edge = |c: char| c == ' ' || c == '.' || (charset == Charset::Ascii && c == '_');
    out.trim_matches(edge).to_string()
}

/// The longest start of a tidy `text` within `budget` bytes, cut on a character boundary and
/// not inside a grapheme where that can be told cheaply (combining marks, variation selectors,
/// emoji modifiers and ZWJ sequences, flag pairs), keeping at least one character when one fits.
/// Ends it would leave with a space or dot (or `_` in ASCII) are trimmed, never to nothing.
fn cut(text: &str, budget: usize, charset: Charset) -> String {
    if text.len() <= budget {
        return text.to_string();
    }
    let mut end = budget;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    while let Some(prev) = text[..end].chars().next_back() {
        let next = text[end..].chars().next();
        let splits = next.is_some_and(is_extender)
            || prev == '\u{200D}'
            || (next.is_some_and(is_regional_indicator)
                && text[..end]
                    .chars()
                    .rev()
                    .take_while(|&c| is_regional_indicator(c))
                    .count()
                    % 2
                    == 1);
        if !splits || end == prev.len_utf8() {
            break;
        }
        end -= prev.len_utf8();
    }
    let mut out = &text[..end];
    while out.chars().count() > 1
        && out.ends_with(|c: char| c == ' ' || c == '.' || (charset == Charset::Ascii && c == '_'))
    {
        out = &out[..out.len() - 1];
    }
    out.to_string()
}

/// DOS device names: Windows opens the device instead of a file named so, extension or not.
fn is_reserved(name: &str) -> bool {
    let base = name.split('.').next().unwrap_or("").trim_end_matches(' ');
    let upper = base.to_uppercase();
    if matches!(
        upper.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$" | "CLOCK$"
    ) {
        return true;
    }
    let mut chars = upper.chars();
    let head: String = chars.by_ref().take(3).collect();
    let tail: Vec<char> = chars.collect();
    (head == "COM" || head == "LPT")
        && tail.len() == 1
        && (tail[0].is_ascii_digit() || matches!(tail[0], '¹' | '²' | '³'))
}

/// `text` as a whole name within `budget` bytes (at least one), or `fallback` made into one when
/// nothing usable is left, or `_` as the last resort.
fn finish(text: &str, charset: Charset, budget: usize, fallback: &str) -> String {
    let budget = budget.max(1);
    let mut name = cut(&tidy(text, charset), budget, charset);
    if !name.chars().any(|c| !is_invisible(c)) {
        name = cut(&tidy(fallback, charset), budget, charset);
        if !name.chars().any(|c| !is_invisible(c)) {
            name = "_".to_string();
        }
    }
    if is_reserved(&name) {
        // No device name starts with `_`, and cutting keeps the `_`.
        name = cut(&format!("_{name}"), budget, charset);
    }
    name
}

/// The path template `convert` and `export` use unless told otherwise.
pub const DEFAULT_TEMPLATE: &str = "$albumartist/$album/$disc$track $title";

/// A path template: `$field` templates (see [`crate::template`]) separated by `/` into folder
/// names and a file name (the last part, to which the extension is added).
///
/// Every field's value is cleaned for the target charset before it joins the text around it, and
/// each name is cleaned again as a whole, so no value can add a separator or step out of the
/// destination. What the fields render:
/// - `$track`: the track number with at least two digits, more when [`Numbering::track_width`]
///   asks; nothing when the track has no number.
/// - `$disc`: the disc number and a `-` on a multi-disc album ("2-" makes "2-05 Title"), a
///   missing disc counting as disc 1; nothing on a single-disc album.
/// - `$albumartist`: the album artist, or the track artist when there is none.
/// - any other field: whatever the caller's lookup gives.
///
/// A name that comes out empty takes a fallback. When the fields it uses had no value at all,
/// that is "Unknown Artist" (for `$albumartist`, `$artist`), "Unknown Composer",
/// "Unknown Album", "Unknown Title", "Unknown Genre", or "Unknown" for other fields, after the
/// first field in the name other than `$disc` and `$track`. When they had values that the charset
/// cannot show (Japanese text in ASCII names), or the name uses no such field, it is `_`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    template: Template,
    /// The name used when the fields this segment uses have no value.
    fallback: &'static str,
}

/// Track and disc numbers for `$track` and `$disc`, which depend on the album as well as the
/// track.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Numbering {
    pub track: Option<u32>,
    /// The number of digits `$track` is padded to; fewer than 2 counts as 2.
    pub track_width: usize,
    pub disc: Option<u32>,
    /// Whether the album has more than one disc, so that `$disc` shows.
    pub multi_disc: bool,
}

impl Numbering {
    /// Numbering from a track's own tags: `$track` as wide as the larger of the track number and
    /// the track total (at least 2 digits), and a multi-disc album when the disc total or the
    /// disc number is above 1. A caller that knows the whole album (say, that some of its tracks
    /// are on disc 2 though none has a disc total) can set the fields itself.
    pub fn new(
        track: Option<u32>,
        track_total: Option<u32>,
        disc: Option<u32>,
        disc_total: Option<u32>,
    ) -> Numbering {
        let widest = track.max(track_total).unwrap_or(0);
        Numbering {
            track,
            track_width: widest.to_string().len().max(2),
            disc,
            multi_disc: disc_total.unwrap_or(0) > 1 || disc.unwrap_or(0) > 1,
        }
    }
}

impl PathTemplate {
    /// Parses a template whose fields are the query language's field names (as `ls -f` takes).
    /// `/` separates names; an empty name (`//`, or `/` at either end) and a name that is only
    /// `.` or `..` are errors.
    pub fn parse(text: &str) -> Result<PathTemplate, TemplateError> {
        let known = crate::query::Field::names();
        // Parsing the whole first reports a bad field with its offset in what the user wrote.
        // Once that succeeds every `/` is literal text (`$`, `$$` and `${...}` never hold one),
        // so each piece parses on its own.
        Template::parse(text, &known)?;
        let mut segments = Vec::new();
        let mut start: usize = 0;
        for piece in text.split('/') {
            let trimmed = piece.trim();
            if trimmed.is_empty() {
                let offset = start.saturating_sub(1);
                return Err(TemplateError {
                    message: format!(
                        "empty name at {offset}: a path template has no `//` and neither starts nor ends with `/`"
                    ),
                    offset,
                });
            }
            if trimmed == "." || trimmed == ".." {
                return Err(TemplateError {
                    message: format!("`{trimmed}` at {start} is not a folder name"),
                    offset: start,
                });
            }
            let template = Template::parse(piece, &known).map_err(|e| TemplateError {
                offset: e.offset + start,
                message: e.message,
            })?;
            let fallback = template
                .fields()
                .into_iter()
                .find(|f| *f != "track" && *f != "disc")
                .map_or("_", fallback_for);
            segments.push(Segment { template, fallback });
            start += piece.len() + 1;
        }
        Ok(PathTemplate { segments })
    }

    /// The field names the template needs from the caller's lookup, in order of first use:
    /// `artist` comes along with `albumartist`, which falls back to it. `$track` and `$disc` are
    /// listed too, though [`Numbering`] supplies them.
    pub fn fields(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for segment in &self.segments {
            for name in segment.template.fields() {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        if names.contains(&"albumartist") && !names.contains(&"artist") {
            names.push("artist");
        }
        names
    }

    /// The relative path for one track: each folder name and the file name (stem, `.`, `ext`)
    /// follow `rules`, and the whole stays within [`NameRules::max_path`] where one character per
    /// name allows. `ext` is given without its dot (one is dropped if given); it keeps only letters
    /// and digits, and it is never cut to make a long name fit: the stem is. An empty `ext`
    /// makes a file name without a dot.
    pub fn render(
        &self,
        fields: &dyn Fn(&str) -> Option<String>,
        numbering: Numbering,
        ext: &str,
        rules: &NameRules,
    ) -> PathBuf {
        let charset = rules.charset;
        let limit = rules.name_limit();
        let ext = clean_ext(ext, charset, limit);
        let ext_part = if ext.is_empty() { 0 } else { ext.len() + 1 };
        // A value with nothing to show counts as missing.
        let value = |name: &str| {
            fields(name).filter(|v| tidy(v, Charset::Unicode).chars().any(|c| !is_invisible(c)))
        };

        let last = self.segments.len() - 1;
        let mut names = Vec::with_capacity(self.segments.len());
        let mut fallbacks = Vec::with_capacity(self.segments.len());
        for (i, segment) in self.segments.iter().enumerate() {
            let had_value = Cell::new(false);
            let lookup = |name: &str| match name {
                "track" => numbering.track.map(|t| {
                    let width = numbering.track_width.max(2);
                    format!("{t:0width$}")
                }),
                "disc" => numbering
                    .multi_disc
                    .then(|| format!("{}-", numbering.disc.unwrap_or(1))),
                _ => {
                    let found = value(name).or_else(|| {
                        if name == "albumartist" {
                            value("artist")
                        } else {
                            None
                        }
                    })?;
                    had_value.set(true);
                    Some(map_text(&found, charset))
                }
            };
            let text = segment.template.render(&lookup);
            let fallback = if had_value.get() {
                "_"
            } else {
                segment.fallback
            };
            let budget = if i == last { limit - ext_part } else { limit };
            names.push(finish(&text, charset, budget, fallback));
            fallbacks.push(fallback);
        }
        fit_path(&mut names, &fallbacks, ext_part, rules);

        let mut path = PathBuf::new();
        for name in &names[..last] {
            path.push(name);
        }
        if ext.is_empty() {
            path.push(&names[last]);
        } else {
            path.push(format!("{}.{ext}", names[last]));
        }
        path
    }
}

/// The name used when a segment's first field has no value.
fn fallback_for(field: &str) -> &'static str {
    match field {
        "albumartist" | "artist" => "Unknown Artist",
        "composer" => "Unknown Composer",
        "album" => "Unknown Album",
        "title" => "Unknown Title",
        "genre" => "Unknown Genre",
        _ => "Unknown",
    }
}

/// An extension as the charset allows it: letters and digits only, short enough to leave a
/// dot and one character of stem within the name limit.
fn clean_ext(ext: &str, charset: Charset, limit: usize) -> String {
    let kept: String = match charset {
        Charset::Ascii => ext.nfkd().filter(char::is_ascii_alphanumeric).collect(),
        // Composed again after filtering: taking a character out from between two marks can
        // leave them out of canonical order.
        Charset::Unicode | Charset::FatSafe => {
            let letters: String = ext.nfc().filter(|c| c.is_alphanumeric()).collect();
            letters.nfc().collect()
        }
    };
    cut(&kept, limit - 2, charset)
}

/// Shortens the longest names (the file's stem among them, never its extension) until the path
/// fits [`NameRules::max_path`]: every name longer than some cap is cut to it, the cap as large
/// as fits. When even one byte per name is too much, that is what the names get.
fn fit_path(names: &mut [String], fallbacks: &[&str], ext_part: usize, rules: &NameRules) {
    let fixed = ext_part + names.len() - 1;
    let total = names.iter().map(String::len).sum::<usize>() + fixed;
    if total <= rules.max_path {
        return;
    }
    let room = rules.max_path.saturating_sub(fixed);
    let fits = |cap: usize| names.iter().map(|n| n.len().min(cap)).sum::<usize>() <= room;
    let (mut lo, mut hi) = (1, names.iter().map(String::len).max().unwrap_or(1));
    if fits(lo) {
        // The largest cap that fits lies in lo..=hi; hi itself does not fit.
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if fits(mid) { lo = mid } else { hi = mid }
        }
    }
    for (name, fallback) in names.iter_mut().zip(fallbacks) {
        if name.len() > lo {
            *name = finish(name, rules.charset, lo, fallback);
        }
    }
}

/// How many folder levels a relative path goes down: 0 for a file at the top, 2 for
/// `Artist/Album/01 Title.mp3`. Only names count (not `.`, `..` or a root).
pub fn depth(path: &Path) -> usize {
    path.components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count()
        .saturating_sub(1)
}

/// Hands out unique paths for one batch of files, as a case-insensitive file system sees them.
///
/// Two paths are the same when their names match after NFC and case folding (FAT, and macOS and
/// Windows by default, fold case). A file whose path was handed out or reserved before gets
/// " (2)", " (3)"... before its extension (`_2`, `_3` for [`Charset::Ascii`]), its stem cut to
/// keep the name within the rules' limits. Folders are not numbered but shared: a folder that
/// differs from an earlier one only in case is spelled as that one was first ("ABBA" and
/// "Abba" both go to "ABBA"), so output looks the same on case-sensitive and case-insensitive
/// targets. The same paths in the same order always give the same answers.
#[derive(Debug, Clone)]
pub struct Namer {
    rules: NameRules,
    /// Folded paths of files handed out or reserved.
    files: HashSet<String>,
    /// Folded paths of folders, with the spelling first seen.
    folders: HashMap<String, PathBuf>,
}

impl Namer {
    pub fn new(rules: NameRules) -> Namer {
        Namer {
            rules,
            files: HashSet::new(),
            folders: HashMap::new(),
        }
    }

    /// Marks a file that already exists on the target (relative to its root), so that no path
    /// handed out later names it.
    pub fn reserve(&mut self, existing: PathBuf) {
        let names = plain_names(&existing);
        let Some((file, folders)) = names.split_last() else {
            return;
        };
        let mut path = PathBuf::new();
        for folder in folders {
            path = self.folder(&path, folder);
        }
        path.push(file);
        self.files.insert(fold_path(&path));
    }

    /// A path for `wanted`, a relative path such as [`PathTemplate::render`] makes: `wanted`
    /// itself when no file handed out or reserved before has the same folded path, else with a
    /// number added. Anything in `wanted` other than plain names (a root, `.`, `..`) is dropped.
    pub fn assign(&mut self, wanted: PathBuf) -> PathBuf {
        let mut names = plain_names(&wanted);
        if names.is_empty() {
            names.push("_".to_string());
        }
        let (file, folders) = names.split_last().expect("one name at least");
        let mut path = PathBuf::new();
        for folder in folders {
            path = self.folder(&path, folder);
        }
        let name = if self.is_taken(&path.join(file)) {
            self.numbered(&path, file, true)
        } else {
            file.clone()
        };
        path.push(name);
        self.files.insert(fold_path(&path));
        path
    }

    /// `parent/name` as a folder: the spelling seen first for it, or a new folder, numbered if a
    /// file has its name.
    fn folder(&mut self, parent: &Path, name: &str) -> PathBuf {
        let wanted = parent.join(name);
        if let Some(known) = self.folders.get(&fold_path(&wanted)) {
            return known.clone();
        }
        let path = if self.files.contains(&fold_path(&wanted)) {
            let numbered = parent.join(self.numbered(parent, name, false));
            // Later paths through the same folder go to the same numbered folder.
            self.folders.insert(fold_path(&wanted), numbered.clone());
            numbered
        } else {
            wanted
        };
        self.folders.insert(fold_path(&path), path.clone());
        path
    }

    fn is_taken(&self, path: &Path) -> bool {
        let key = fold_path(path);
        self.files.contains(&key) || self.folders.contains_key(&key)
    }

    /// The first of `name (2)`, `name (3)`... in `parent` that nothing has taken, within the name
    /// limit and, where the parent leaves room, the path limit. With `has_ext` the number goes
    /// before the extension.
    fn numbered(&self, parent: &Path, name: &str, has_ext: bool) -> String {
        let (stem, ext) = if has_ext { split_ext(name) } else { (name, "") };
        let ascii = self.rules.charset == Charset::Ascii;
        let parent_len = parent.as_os_str().len();
        let path_room = if parent_len == 0 {
            self.rules.max_path
        } else {
            self.rules.max_path.saturating_sub(parent_len + 1)
        };
        let budget = self.rules.name_limit().min(path_room.max(1));
        let ext_part = if ext.is_empty() { 0 } else { ext.len() + 1 };
        for n in 2u64.. {
            let suffix = if ascii {
                format!("_{n}")
            } else {
                format!(" ({n})")
            };
            let room = budget.saturating_sub(ext_part + suffix.len());
            let stem = cut(stem, room, self.rules.charset);
            let mut candidate = if stem.is_empty() {
                suffix.trim_start().to_string()
            } else {
                stem + &suffix
            };
            if !ext.is_empty() {
                candidate.push('.');
                candidate.push_str(ext);
            }
            if !self.is_taken(&parent.join(&candidate)) {
                return candidate;
            }
        }
        unreachable!("some number is free")
    }
}

/// The plain names in `path`, in order.
fn plain_names(path: &Path) -> Vec<String> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect()
}

/// A file name's stem and extension. An extension is what follows the last dot when it is one
/// to eight letters or digits and something comes before the dot, as in the names
/// [`PathTemplate::render`] makes; "Vol. 2" has none.
fn split_ext(name: &str) -> (&str, &str) {
    match name.rsplit_once('.') {
        Some((stem, ext))
            if !stem.is_empty()
                && (1..=8).contains(&ext.chars().count())
                && ext.chars().all(char::is_alphanumeric) =>
        {
            (stem, ext)
        }
        _ => (name, ""),
    }
}

/// A path as a case-insensitive file system compares it: NFC, then case folded (upper case then
/// lower case, so that "ß" meets "SS" and "ς" meets "σ"), name by name.
fn fold_path(path: &Path) -> String {
    let mut key = String::new();
    for name in plain_names(path) {
        if !key.is_empty() {
            key.push('/');
        }
        let upper: String = name.nfc().flat_map(char::to_uppercase).collect();
        key.extend(upper.chars().flat_map(char::to_lowercase).nfc());
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(charset: Charset, max_name: usize) -> NameRules {
        NameRules {
            charset,
            max_name,
            max_path: 4096,
        }
    }

    fn check_table(charset: Charset, cases: &[(&str, &str)]) {
        let rules = rules(charset, 255);
        for (value, expected) in cases {
            assert_eq!(
                component(value, &rules),
                *expected,
                "{charset:?} value {value:?}"
            );
        }
    }

    #[test]
    fn hostile_values_unicode() {
        check_table(
            Charset::Unicode,
            &[
                ("Bohemian Rhapsody", "Bohemian Rhapsody"),
                ("../../etc", "_.._etc"),
                ("a/b", "a_b"),
                ("a\\b", "a_b"),
                ("What? Yes: \"no\" <x> | *", "What? Yes: \"no\" <x> | *"),
                ("AUX", "_AUX"),
                ("aux", "_aux"),
                ("CON.txt", "_CON.txt"),
                ("con .txt", "_con .txt"),
                ("COM1", "_COM1"),
                ("COM10", "COM10"),
                ("LPT9.mp3", "_LPT9.mp3"),
                ("CONCERT", "CONCERT"),
                ("x\0y", "xy"),
                ("\u{202e}", "_"),
                ("a\u{202e}b\u{200b}c\u{feff}", "abc"),
                ("  ", "_"),
                ("", "_"),
                (".", "_"),
                ("..", "_"),
                ("...And Justice for All", "And Justice for All"),
                (".hack", "hack"),
                ("Jr.", "Jr"),
                ("Vol. 2", "Vol. 2"),
                ("  lots \t of\n\n space  ", "lots of space"),
                ("a\u{a0}\u{3000}b", "a b"),
                ("\u{200d}\u{301}", "_"),
                ("🎸🎶", "🎸🎶"),
                ("e\u{301}", "é"),
                ("e\u{202e}\u{301}", "é"),
                ("Ελληνικά 日本語", "Ελληνικά 日本語"),
                ("/", "_"),
                ("\u{7f}\u{85}\u{9f}", "_"),
            ],
        );
    }

    #[test]
    fn hostile_values_fat_safe() {
        check_table(
            Charset::FatSafe,
            &[
                ("../../etc", "_.._etc"),
                ("AC/DC", "AC_DC"),
                ("What? Yes: \"no\" <x> | *", "What_ Yes_ _no_ _x_ _ _"),
                ("???", "___"),
                ("a\\b", "a_b"),
                ("NUL", "_NUL"),
                ("nul.tar.gz", "_nul.tar.gz"),
                ("COM¹", "_COM¹"),
                ("x\0y", "xy"),
                ("\u{202e}", "_"),
                ("  ", "_"),
                (".", "_"),
                ("..", "_"),
                ("trailing. . ", "trailing"),
                ("Beyonce\u{301}", "Beyoncé"),
                ("🎸 & 🎶", "🎸 & 🎶"),
                ("Sigur Rós", "Sigur Rós"),
            ],
        );
    }

    /// What the transliteration tables say, so a change in the crate shows here first.
    #[test]
    fn other_scripts_are_spelled_as_the_tables_spell_them() {
        let cases = [
            // 旅 is lǚ, which the tables write as "Lv".
            ("上海旅人", "Shang Hai Lv Ren"),
            ("Ωκεανός", "Okeanos"),
            ("Кино", "Kino"),
            ("日本語", "Ri Ben Yu"),
        ];
        for (text, spelled) in cases {
            assert_eq!(deunicode::deunicode(text), spelled, "{text}");
            assert_eq!(
                component(text, &rules(Charset::Ascii, 100)),
                spelled.replace(' ', "_"),
                "{text}"
            );
        }
    }

    #[test]
    fn hostile_values_ascii() {
        check_table(
            Charset::Ascii,
            &[
                ("Bohemian Rhapsody", "Bohemian_Rhapsody"),
                ("../../etc", "etc"),
                ("AC/DC", "AC_DC"),
                ("Beyoncé", "Beyonce"),
                ("Straße", "Strasse"),
                ("Æsir Øl", "AEsir_Ol"),
                ("ﬁne ①", "fine_1"),
                ("Don't Stop", "Dont_Stop"),
                ("Simon & Garfunkel", "Simon_Garfunkel"),
                ("AUX", "_AUX"),
                ("CON.txt", "CON_txt"),
                ("COM¹", "_COM1"),
                ("x\0y", "xy"),
                ("a\u{202e}b\tc", "ab_c"),
                ("\u{202e}", "_"),
                ("  ", "_"),
                (".", "_"),
                ("..", "_"),
                ("🎸🎶", "_"),
                ("日本語", "Ri_Ben_Yu"),
                ("上海旅人", "Shang_Hai_Lv_Ren"),
                ("Ωκεανός", "Okeanos"),
                ("Кино — Группа крови", "Kino_Gruppa_krovi"),
                ("Björk 上海", "Bjork_Shang_Hai"),
                ("__init__", "init"),
                ("Ｆｕｌｌ　ｗｉｄｔｈ", "Full_width"),
            ],
        );
    }

    #[test]
    fn long_values_are_cut_within_the_limit() {
        let unicode = rules(Charset::Unicode, 20);
        let long = "é".repeat(100);
        let cut = component(&long, &unicode);
        assert_eq!(cut, "é".repeat(10));

        // Never inside a combining sequence, an emoji ZWJ sequence or a flag.
        let decomposed = format!("{}q\u{0323}\u{0302}", "x".repeat(17));
        assert_eq!(component(&decomposed, &unicode), "x".repeat(17));
        let family = "👨\u{200d}👩\u{200d}👧";
        assert_eq!(
            component(&format!("{}{family}", "x".repeat(12)), &unicode),
            "x".repeat(12)
        );
        let flags = "🇫🇷🇩🇪🇮🇹";
        assert_eq!(
            component(&format!("ab{flags}"), &unicode),
            format!("ab{}", "🇫🇷🇩🇪")
        );

        // A cut that ends in a space or dot loses it.
        assert_eq!(
            component("abcdefghij. klmnopqrstuvwxyz", &unicode),
            "abcdefghij. klmnopqr"
        );
        assert_eq!(
            component("abcdefghijklmnopqrs. xyz", &unicode),
            "abcdefghijklmnopqrs"
        );

        let ascii = rules(Charset::Ascii, 12);
        assert_eq!(component("Concert hall in Paris", &ascii), "Concert_hall");
        assert_eq!(component("Concert hall_in Paris", &ascii), "Concert_hall");
        assert_eq!(component("Concert hal_ in Paris", &ascii), "Concert_hal");
        assert_eq!(rules(Charset::Ascii, 3).name_limit(), MIN_NAME);
    }

    #[test]
    fn reserved_names() {
        for name in [
            "CON",
            "con",
            "Aux.mp3",
            "NUL.tar.gz",
            "COM0",
            "lpt1",
            "PRN ",
            "CLOCK$",
        ] {
            assert!(is_reserved(name), "{name}");
        }
        for name in [
            "CONCERT", "COM", "COM10", "LPTX", "_CON", "xCON", "CON_x", "",
        ] {
            assert!(!is_reserved(name), "{name}");
        }
        assert_eq!(finish("concert", Charset::Unicode, 3, "_"), "_co");
    }

    fn tags(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    fn queen() -> impl Fn(&str) -> Option<String> {
        tags(&[
            ("albumartist", "Queen"),
            ("artist", "Queen"),
            ("album", "A Night at the Opera"),
            ("title", "Bohemian Rhapsody"),
            ("year", "1975"),
        ])
    }

    fn render_default(
        lookup: &dyn Fn(&str) -> Option<String>,
        numbering: Numbering,
        ext: &str,
        rules: &NameRules,
    ) -> String {
        let template = PathTemplate::parse(DEFAULT_TEMPLATE).unwrap();
        let path = template.render(lookup, numbering, ext, rules);
        path.to_str().unwrap().to_string()
    }

    #[test]
    fn default_template() {
        let numbering = Numbering::new(Some(11), Some(12), Some(1), Some(1));
        assert_eq!(
            render_default(&queen(), numbering, "flac", &NameRules::convert()),
            "Queen/A Night at the Opera/11 Bohemian Rhapsody.flac"
        );
        assert_eq!(
            render_default(&queen(), numbering, ".mp3", &NameRules::car_strict()),
            "Queen/A_Night_at_the_Opera/11_Bohemian_Rhapsody.mp3"
        );
        assert_eq!(
            PathTemplate::parse(DEFAULT_TEMPLATE).unwrap().fields(),
            ["albumartist", "album", "disc", "track", "title", "artist"]
        );
    }

    #[test]
    fn track_numbers_are_padded() {
        let cases: &[(Option<u32>, Option<u32>, &str)] = &[
            (Some(5), Some(9), "05 T.mp3"),
            (Some(5), None, "05 T.mp3"),
            (Some(7), Some(120), "007 T.mp3"),
            (Some(120), Some(7), "120 T.mp3"),
            (Some(1234), None, "1234 T.mp3"),
            (None, Some(12), "T.mp3"),
        ];
        let lookup = tags(&[("title", "T")]);
        let template = PathTemplate::parse("$disc$track $title").unwrap();
        for (track, total, expected) in cases {
            let numbering = Numbering::new(*track, *total, None, None);
            let path = template.render(&lookup, numbering, "mp3", &NameRules::convert());
            assert_eq!(path, Path::new(expected), "track {track:?} of {total:?}");
        }
        // A width below 2 still pads to 2.
        let numbering = Numbering {
            track: Some(3),
            ..Numbering::default()
        };
        let path = template.render(&lookup, numbering, "mp3", &NameRules::convert());
        assert_eq!(path, Path::new("03 T.mp3"));
    }

    #[test]
    fn disc_prefix_only_on_multi_disc_albums() {
        let lookup = tags(&[("title", "Title")]);
        let template = PathTemplate::parse("$disc$track $title").unwrap();
        let cases: &[(Option<u32>, Option<u32>, &str)] = &[
            (Some(2), Some(2), "2-05 Title"),
            (Some(1), Some(2), "1-05 Title"),
            (Some(1), Some(1), "05 Title"),
            (None, None, "05 Title"),
            (Some(3), None, "3-05 Title"),
        ];
        for (disc, total, expected) in cases {
            let numbering = Numbering::new(Some(5), Some(10), *disc, *total);
            let path = template.render(&lookup, numbering, "", &NameRules::convert());
            assert_eq!(path, Path::new(expected), "disc {disc:?} of {total:?}");
        }
        // The caller may know the album spans discs when this track has no disc number.
        let numbering = Numbering {
            multi_disc: true,
            ..Numbering::new(Some(5), None, None, None)
        };
        let render = |rules: &NameRules| template.render(&lookup, numbering, "mp3", rules);
        assert_eq!(render(&NameRules::convert()), Path::new("1-05 Title.mp3"));
        assert_eq!(
            render(&NameRules::car_strict()),
            Path::new("1_05_Title.mp3")
        );
    }

    #[test]
    fn missing_values_fall_back() {
        let numbering = Numbering::new(Some(1), None, None, None);
        let rules = NameRules::convert();
        // The album artist falls back to the artist.
        let lookup = tags(&[("artist", "Björk"), ("album", "Post"), ("title", "Army")]);
        assert_eq!(
            render_default(&lookup, numbering, "mp3", &rules),
            "Björk/Post/01 Army.mp3"
        );
        let lookup = tags(&[("albumartist", "  "), ("album", ""), ("title", "\u{202e}")]);
        assert_eq!(
            render_default(&lookup, Numbering::default(), "mp3", &rules),
            "Unknown Artist/Unknown Album/Unknown Title.mp3"
        );
        assert_eq!(
            render_default(
                &lookup,
                Numbering::default(),
                "mp3",
                &NameRules::car_strict()
            ),
            "Unknown_Artist/Unknown_Album/Unknown_Title.mp3"
        );
        // Values that the charset cannot show are not missing; letters of other scripts are
        // spelled in Latin letters.
        let lookup = tags(&[
            ("albumartist", "坂本龍一"),
            ("album", "?"),
            ("title", "🎸🎶"),
        ]);
        assert_eq!(
            render_default(&lookup, numbering, "mp3", &NameRules::car_strict()),
            "Ban_Ben_Long_Yi/_/01.mp3"
        );
        let template = PathTemplate::parse("$year/$disc$track").unwrap();
        let path = template.render(&lookup, Numbering::default(), "mp3", &rules);
        assert_eq!(path, Path::new("Unknown/_.mp3"));
    }

    #[test]
    fn hostile_values_stay_inside() {
        let lookup = tags(&[
            ("albumartist", "../../etc"),
            ("album", ".."),
            ("title", "a/b\0c"),
        ]);
        let numbering = Numbering::new(Some(5), None, None, None);
        assert_eq!(
            render_default(&lookup, numbering, "mp3", &NameRules::convert()),
            "_.._etc/Unknown Album/05 a_bc.mp3"
        );
        let lookup = tags(&[("albumartist", "AUX"), ("album", "CON"), ("title", "")]);
        assert_eq!(
            render_default(&lookup, Numbering::default(), "../mp3", &NameRules::fat()),
            "_AUX/_CON/Unknown Title.mp3"
        );
        let lookup = tags(&[("albumartist", "x"), ("album", "x"), ("title", "nul")]);
        assert_eq!(
            render_default(&lookup, Numbering::default(), "", &NameRules::fat()),
            "x/x/_nul"
        );
    }

    #[test]
    fn long_names_keep_their_extension() {
        let title = "An Extremely Long Title That Goes On and On ".repeat(10);
        let lookup = tags(&[("albumartist", "A"), ("album", "B"), ("title", &title)]);
        let numbering = Numbering::new(Some(3), None, None, None);
        let car = render_default(&lookup, numbering, "mp3", &NameRules::car_strict());
        assert_eq!(car, "A/B/03_An_Extremely_Long_Title.mp3");
        let name = Path::new(&car).file_name().unwrap().len();
        assert!(name <= 31, "{car}");

        let fat = render_default(&lookup, numbering, "flac", &NameRules::fat());
        let name = Path::new(&fat).file_name().unwrap().to_str().unwrap();
        assert!(
            name.len() <= 255 && name.ends_with(" An Extre.flac"),
            "{name}"
        );
    }

    #[test]
    fn long_paths_are_shortened() {
        let long = "word ".repeat(60);
        let lookup = tags(&[("albumartist", &long), ("album", "Short"), ("title", &long)]);
        let rules = NameRules {
            max_path: 60,
            ..NameRules::convert()
        };
        let path = render_default(&lookup, Numbering::default(), "mp3", &rules);
        assert!(path.len() <= 60, "{path} is {} bytes", path.len());
        assert_eq!(
            path,
            "word word word word word/Short/word word word word word.mp3"
        );
        // Deeper than one byte per name allows: one byte each, as near as can be.
        let template =
            PathTemplate::parse("$album/$album/$album/$album/$album/$album/$title").unwrap();
        let rules = NameRules {
            max_path: 10,
            ..NameRules::convert()
        };
        let path = template.render(&lookup, Numbering::default(), "mp3", &rules);
        assert_eq!(path, Path::new("S/S/S/S/S/S/w.mp3"));
    }

    #[test]
    fn template_errors() {
        let cases: &[(&str, &str, usize)] = &[
            ("/$title", "empty name at 0", 0),
            ("$album//$title", "empty name at 6", 6),
            ("$album/", "empty name at 6", 6),
            ("$album/ /$title", "empty name at 6", 6),
            ("", "empty name at 0", 0),
            ("../$title", "`..` at 0 is not a folder name", 0),
            ("$album/./$title", "`.` at 7 is not a folder name", 7),
            (
                "$album/$titel",
                "unknown field `$titel` at 7: did you mean `$title`?",
                7,
            ),
        ];
        for (text, message, offset) in cases {
            let error = PathTemplate::parse(text).unwrap_err();
            assert!(
                error.message.starts_with(message),
                "{text:?}: {}",
                error.message
            );
            assert_eq!(error.offset, *offset, "{text:?}");
        }
        assert!(PathTemplate::parse("$$/${title}s .. x").is_ok());
    }

    #[test]
    fn depths() {
        assert_eq!(depth(Path::new("a.mp3")), 0);
        assert_eq!(depth(Path::new("A/B/01 x.mp3")), 2);
        assert_eq!(depth(Path::new("")), 0);
    }

    fn assign_all(namer: &mut Namer, paths: &[&str]) -> Vec<String> {
        paths
            .iter()
            .map(|p| {
                let path = namer.assign(PathBuf::from(p));
                path.to_str().unwrap().to_string()
            })
            .collect()
    }

    #[test]
    fn namer_numbers_repeats() {
        let mut namer = Namer::new(NameRules::convert());
        let out = assign_all(
            &mut namer,
            &[
                "A/B/01 x.mp3",
                "A/B/01 x.mp3",
                "A/B/01 X.MP3",
                "A/B/01 x.mp3",
                "A/C/01 x.mp3",
                "A/B/01 x (2).mp3",
                "A/B/Vol. 2",
                "A/B/Vol. 2",
            ],
        );
        assert_eq!(
            out,
            [
                "A/B/01 x.mp3",
                "A/B/01 x (2).mp3",
                "A/B/01 X (3).MP3",
                "A/B/01 x (4).mp3",
                "A/C/01 x.mp3",
                "A/B/01 x (2) (2).mp3",
                "A/B/Vol. 2",
                "A/B/Vol. 2 (2)",
            ]
        );
    }

    #[test]
    fn namer_folds_case_and_normalization() {
        let mut namer = Namer::new(NameRules::convert());
        let out = assign_all(
            &mut namer,
            &[
                "ABBA/Gold/Café.mp3",
                "Abba/GOLD/Cafe\u{301}.mp3",
                "abba/gold/CAFÉ.mp3",
                "Straße.mp3",
                "STRASSE.mp3",
                "Σίσυφος.mp3",
                "ΣΊΣΥΦΟΣ.mp3",
            ],
        );
        assert_eq!(
            out,
            [
                "ABBA/Gold/Café.mp3",
                "ABBA/Gold/Cafe\u{301} (2).mp3",
                "ABBA/Gold/CAFÉ (3).mp3",
                "Straße.mp3",
                "STRASSE (2).mp3",
                "Σίσυφος.mp3",
                "ΣΊΣΥΦΟΣ (2).mp3",
            ]
        );
    }

    #[test]
    fn namer_respects_reserved_names_and_limits() {
        let mut namer = Namer::new(NameRules::car_strict());
        namer.reserve(PathBuf::from("MUSIC/Song.mp3"));
        namer.reserve(PathBuf::from("MUSIC/Song_2.mp3"));
        let long = "Abcdefghijklmnopqrstuvwxyz1.mp3";
        assert_eq!(long.len(), 31);
        let out = assign_all(
            &mut namer,
            &["music/song.mp3", long, long, "MUSIC", "Music/x/y.mp3"],
        );
        assert_eq!(
            out,
            [
                "MUSIC/song_3.mp3",
                long,
                "Abcdefghijklmnopqrstuvwxy_2.mp3",
                "MUSIC_2",
                "MUSIC/x/y.mp3",
            ]
        );
        // A file where a folder is.
        let mut namer = Namer::new(NameRules::convert());
        let out = assign_all(&mut namer, &["A/B.mp3/x.mp3", "A/B.mp3", "A", "", "/../x"]);
        assert_eq!(out, ["A/B.mp3/x.mp3", "A/B (2).mp3", "A (2)", "_", "x"]);
        // A folder where a file is.
        let out = assign_all(&mut namer, &["C", "c/x.mp3", "C/x.mp3", "C/y.mp3", "C (2)"]);
        assert_eq!(
            out,
            [
                "C",
                "c (2)/x.mp3",
                "c (2)/x (2).mp3",
                "c (2)/y.mp3",
                "C (2) (2)"
            ]
        );
    }
}

/// Properties of every rendered and assigned path, for hostile tag values and any rules.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;
    use regex::Regex;
    use std::sync::LazyLock;
    use unicode_normalization::is_nfc;

    const PIECES: &[&str] = &[
        "/",
        "..",
        ".",
        "\0",
        "\u{202e}",
        "\u{200b}",
        "\u{feff}",
        " ",
        "  ",
        "\t",
        "\n",
        "\u{85}",
        "\u{7f}",
        "\u{a0}",
        "CON",
        "aux",
        "Lpt1",
        "nul.txt",
        "COM¹",
        "é",
        "e\u{301}",
        "\u{301}",
        "ß",
        "SS",
        "Ø",
        "ﬁ",
        "😀",
        "👨\u{200d}👩",
        "\u{200d}",
        "\u{fe0f}",
        "🇫🇷",
        "?",
        ":",
        "*",
        "\\",
        "\"",
        "<",
        "|",
        "a",
        "Z",
        "9",
        "_",
        "-",
        "(2)",
        "日本",
        "Σ",
        "ς",
        "$title",
        "\u{fffe}",
    ];

    const TEMPLATES: &[&str] = &[
        DEFAULT_TEMPLATE,
        "$title",
        "$artist/$year - $album/$track. $title",
        "$genre/$albumartist/$album ($year)/$disc$track - $artist - $title",
        "x/$album/.. $year/$title",
        "$$ ${title}s/.$album./$disc$track",
    ];

    const FIELDS: &[&str] = &["albumartist", "artist", "album", "title", "year", "genre"];

    fn hostile() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            prop::collection::vec(prop::sample::select(PIECES), 0..12).prop_map(|p| p.concat()),
            prop::collection::vec(prop::sample::select(PIECES), 0..150).prop_map(|p| p.concat()),
            "[a-zA-Z .]{0,400}",
        ]
    }

    fn any_rules() -> impl Strategy<Value = NameRules> {
        (
            prop::sample::select(&[Charset::Unicode, Charset::FatSafe, Charset::Ascii][..]),
            0usize..300,
            0usize..700,
        )
            .prop_map(|(charset, max_name, max_path)| NameRules {
                charset,
                max_name,
                max_path,
            })
    }

    fn any_numbering() -> impl Strategy<Value = Numbering> {
        (
            prop::option::of(0u32..2000),
            0usize..6,
            prop::option::of(0u32..20),
            any::<bool>(),
        )
            .prop_map(|(track, track_width, disc, multi_disc)| Numbering {
                track,
                track_width,
                disc,
                multi_disc,
            })
    }

    fn any_ext() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(&["mp3", "flac", "m4a", "", ".ogg", "../x", "ö", "a/b", "\0"][..])
                .prop_map(str::to_string),
            hostile(),
        ]
    }

    fn lookup(values: Vec<Option<String>>) -> impl Fn(&str) -> Option<String> {
        move |name: &str| {
            let i = FIELDS.iter().position(|f| *f == name)?;
            values[i].clone()
        }
    }

    /// Everything a name must be, whatever made it.
    fn check_name(name: &str, rules: &NameRules) -> Result<(), TestCaseError> {
        prop_assert!(!name.is_empty() && name != "." && name != "..", "{name:?}");
        prop_assert!(name.len() <= rules.name_limit(), "{name:?} over the limit");
        for c in name.chars() {
            prop_assert!(
                !matches!(c, '/' | '\\' | '\0')
                    && !c.is_control()
                    && !is_invisible_format(c)
                    && !is_noncharacter(c)
                    && (c == ' ' || !c.is_whitespace()),
                "{name:?} holds {c:?}"
            );
            if rules.charset != Charset::Unicode {
                prop_assert!(!FAT_FORBIDDEN.contains(&c), "{name:?} holds {c:?}");
            }
        }
        prop_assert!(
            name.chars().any(|c| !is_invisible(c)),
            "{name:?} is invisible"
        );
        prop_assert!(!name.starts_with([' ', '.']), "{name:?}");
        prop_assert!(!name.ends_with([' ', '.']), "{name:?}");
        prop_assert!(!name.contains("  "), "{name:?}");
        prop_assert!(!is_reserved(name), "{name:?} is a device name");
        prop_assert!(is_nfc(name), "{name:?} is not NFC");
        Ok(())
    }

    /// The strict alphabet: `A-Z a-z 0-9 _`, and one dot before a file's extension.
    fn check_ascii(path: &Path) -> Result<(), TestCaseError> {
        static FOLDER: LazyLock<Regex> = LazyLock::new(|| Regex::new("^[A-Za-z0-9_]+$").unwrap());
        static FILE: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9]+)?$").unwrap());
        let (folder, file) = (&*FOLDER, &*FILE);
        let names = plain_names(path);
        let (last, folders) = names.split_last().unwrap();
        for name in folders {
            prop_assert!(folder.is_match(name), "folder {name:?}");
        }
        prop_assert!(file.is_match(last), "file {last:?}");
        Ok(())
    }

    fn check_path(path: &Path, rules: &NameRules) -> Result<(), TestCaseError> {
        prop_assert!(path.is_relative());
        prop_assert!(
            path.components().all(|c| matches!(c, Component::Normal(_))),
            "{path:?}"
        );
        let text = path.to_str().unwrap();
        for name in text.split('/') {
            check_name(name, rules)?;
        }
        // Joined onto a destination and resolved name by name (no file system), it stays inside.
        let base = Path::new("/media/stick/Music");
        let joined = base.join(path);
        let mut resolved: Vec<Component> = Vec::new();
        for c in joined.components() {
            match c {
                Component::ParentDir => {
                    resolved.pop();
                }
                Component::CurDir => {}
                other => resolved.push(other),
            }
        }
        let resolved: PathBuf = resolved.iter().collect();
        prop_assert!(
            resolved.starts_with(base) && resolved != base,
            "{resolved:?}"
        );
        if rules.charset == Charset::Ascii {
            check_ascii(path)?;
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn components_are_safe(value in hostile(), rules in any_rules()) {
            let name = component(&value, &rules);
            check_name(&name, &rules)?;
            if rules.charset == Charset::Ascii {
                check_ascii(Path::new(&name))?;
            }
            // A safe name stays as it is.
            prop_assert_eq!(component(&name, &rules), name);
        }

        #[test]
        fn rendered_paths_are_safe(
            template in prop::sample::select(TEMPLATES),
            values in prop::collection::vec(prop::option::of(hostile()), FIELDS.len()),
            numbering in any_numbering(),
            ext in any_ext(),
            rules in any_rules(),
        ) {
            let template = PathTemplate::parse(template).unwrap();
            let path = template.render(&lookup(values), numbering, &ext, &rules);
            check_path(&path, &rules)?;
            let names = plain_names(&path);
            prop_assert_eq!(names.len(), template.segments.len());
            let ext = clean_ext(&ext, rules.charset, rules.name_limit());
            if !ext.is_empty() {
                let dotted = format!(".{ext}");
                prop_assert!(names.last().unwrap().ends_with(&dotted), "{:?}", names);
            }
            let ext_part = if ext.is_empty() { 0 } else { ext.len() + 1 };
            if 2 * names.len() - 1 + ext_part <= rules.max_path {
                prop_assert!(path.as_os_str().len() <= rules.max_path, "{path:?}");
            }
        }

    }

    proptest! {
        // Each case renders and assigns a batch twice: fewer cases cover as much.
        #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

        #[test]
        fn namer_never_repeats(
            picks in prop::collection::vec((0usize..3, 0usize..10, 0usize..10, 0u32..3), 1..40),
            // Files on a target: one shape, since a real target has no file where a folder is.
            reserved in prop::collection::vec((Just(0usize), 0usize..10, 0usize..10, 0u32..3), 0..5),
            rules in any_rules(),
        ) {
            let pool = [
                "a".to_string(), "A".to_string(), "é".to_string(), "E\u{301}".to_string(),
                "CON".to_string(), "x".repeat(300), "ß".to_string(), "SS".to_string(),
                String::new(), "../".to_string(),
            ];
            // Shapes that collide as files, as folders, and files with folders.
            let shapes = [
                (PathTemplate::parse("$artist/$track $title").unwrap(), "mp3"),
                (PathTemplate::parse("$artist/$title").unwrap(), "MP3"),
                (PathTemplate::parse("$title").unwrap(), ""),
            ];
            let render = |&(shape, artist, title, track): &(usize, usize, usize, u32)| {
                let (artist, title) = (pool[artist].clone(), pool[title].clone());
                let fields = move |name: &str| match name {
                    "artist" => Some(artist.clone()),
                    "title" => Some(title.clone()),
                    _ => None,
                };
                let numbering = Numbering::new(Some(track), None, None, None);
                let (template, ext) = &shapes[shape];
                template.render(&fields, numbering, ext, &rules)
            };
            let run = || {
                let mut namer = Namer::new(rules.clone());
                for wanted in &reserved {
                    namer.reserve(render(wanted));
                }
                picks.iter().map(|p| namer.assign(render(p))).collect::<Vec<_>>()
            };
            let assigned = run();
            prop_assert_eq!(&assigned, &run(), "not deterministic");

            let mut files = HashSet::new();
            for wanted in &reserved {
                files.insert(fold_path(&render(wanted)));
            }
            let mut folders = HashSet::new();
            for path in &assigned {
                for name in plain_names(path) {
                    check_name(&name, &rules)?;
                }
                if rules.charset == Charset::Ascii {
                    check_ascii(path)?;
                }
                prop_assert!(files.insert(fold_path(path)), "{path:?} handed out twice");
                if let Some(parent) = path.parent() {
                    folders.insert(fold_path(parent));
                }
            }
            prop_assert!(files.is_disjoint(&folders), "a file where a folder is");
        }

        #[test]
        fn tracks_are_zero_padded(track in 0u32..100_000, total in prop::option::of(0u32..100_000)) {
            let template = PathTemplate::parse("$track").unwrap();
            let numbering = Numbering::new(Some(track), total, None, None);
            let path = template.render(&|_| None, numbering, "", &NameRules::convert());
            let text = path.to_str().unwrap();
            let widest = track.max(total.unwrap_or(0));
            prop_assert_eq!(text.len(), widest.to_string().len().max(2));
            prop_assert_eq!(text.parse::<u32>().unwrap(), track);
        }
    }
}
