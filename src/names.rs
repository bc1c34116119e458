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

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

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
    /// itself not counted). Long names are shortened to fit, down to one character each.
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
                ("日本語", "_"),
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
}
