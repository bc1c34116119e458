//! Text made safe and measured for a terminal: tag and path text with its control characters
//! escaped (so a tag cannot drive the terminal), and the columns a string takes (wide CJK and
//! emoji count two). Pure: used by every front end that prints, the command line and the
//! full-screen UI alike.

use std::borrow::Cow;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Text made safe to print: C0 controls (including ESC and newline), DEL and C1 controls are
/// written as escapes (`\e`, `\n`, `\t`, `\r`, `\x07`, `\u{9b}`), so a tag cannot move the
/// cursor, set the window title, clear the screen or fake a line of output. Everything else,
/// including non-ASCII letters, is kept, and so is a backslash: the result is for reading, not
/// for decoding back (`--json` is). Borrowed when there is nothing to escape.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// A path made safe to print: [`escape`] for its text, and `\xNN` for each byte that is not
/// UTF-8 (where `Path::display` would show a replacement character).
pub fn escape_path(path: &Path) -> Cow<'_, str> {
    let bytes = path.as_os_str().as_bytes();
    if let Ok(text) = std::str::from_utf8(bytes) {
        return escape(text);
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_escaped(&mut out, c);
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    Cow::Owned(out)
}

fn is_control(c: char) -> bool {
    matches!(c, '\0'..='\x1f' | '\x7f'..='\u{9f}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\x1b' => out.push_str("\\e"),
        '\0'..='\x1f' | '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
        '\u{80}'..='\u{9f}' => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        _ => out.push(c),
    }
}

/// A time in seconds as a clock shows it, truncated to the second: `m:ss`, `h:mm:ss` from an
/// hour on (the player's position and lengths, on the status line and in the UI).
pub fn clock(secs: f64) -> String {
    let s = if secs.is_finite() && secs > 0.0 {
        secs as u64
    } else {
        0
    };
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// The columns `s` takes on a terminal.
pub fn width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// The longest start of `s` that takes at most `room` columns.
pub fn cut_to(s: &str, room: usize) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > room {
            return &s[..i];
        }
        used += w;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_spelled_out() {
        let cases: &[(&str, &str)] = &[
            ("plain", "plain"),
            ("Björk — 日本語 ♫", "Björk — 日本語 ♫"),
            ("\x1b]0;pwned\x07\x1b[2J", "\\e]0;pwned\\x07\\e[2J"),
            ("two\nlines\r\tand", "two\\nlines\\r\\tand"),
            ("\0\x01\x1f\x7f", "\\x00\\x01\\x1f\\x7f"),
            ("c1 \u{9b}31m \u{85}", "c1 \\u{9b}31m \\u{85}"),
            // The first printable characters on either side of the control ranges stay.
            (" ~\u{a0}", " ~\u{a0}"),
            ("back\\slash", "back\\slash"),
        ];
        for (raw, shown) in cases {
            assert_eq!(escape(raw), *shown, "{raw:?}");
        }
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn paths_escape_controls_and_bytes_that_are_not_utf8() {
        use std::ffi::OsStr;
        let p = |b: &[u8]| Path::new(OsStr::from_bytes(b)).to_path_buf();
        assert_eq!(escape_path(&p(b"/m/caf\xe9.flac")), "/m/caf\\xe9.flac");
        assert_eq!(
            escape_path(&p(b"/m/\x1b[2J\xff\xfe\n.mp3")),
            "/m/\\e[2J\\xff\\xfe\\n.mp3"
        );
        assert_eq!(
            escape_path(&p("/m/Ünïcødé ♫.flac".as_bytes())),
            "/m/Ünïcødé ♫.flac"
        );
    }

    #[test]
    fn clocks_truncate_to_the_second_and_show_hours_past_one() {
        assert_eq!(clock(187.9), "3:07");
        assert_eq!(clock(3723.0), "1:02:03");
        assert_eq!(clock(-1.0), "0:00");
        assert_eq!(clock(f64::NAN), "0:00");
    }

    #[test]
    fn widths_count_wide_characters_twice_and_cuts_never_split_one() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("日本語"), 6);
        assert_eq!(width("🎵x"), 3);
        assert_eq!(cut_to("日本語", 5), "日本");
        assert_eq!(cut_to("日本語", 6), "日本語");
        assert_eq!(cut_to("abc", 0), "");
    }
}
