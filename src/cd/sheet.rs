//! The text that describes an audio CD image: a cue sheet and a cdrdao TOC over the same raw
//! `.bin`, both with CD-TEXT. Pure: a layout and texts in, bytes out.
//!
//! - The `.bin` is 16-bit little-endian stereo (`FILE ... BINARY` in the cue). cdrdao reads raw
//!   files big-endian and its TOC has no byte-order keyword, so the TOC says at its top that it
//!   is burned with `cdrdao write --swap` (which `tapedeck cd --burn` does); both sheets cut the
//!   file on the same sector boundaries, so they describe the same samples.
//! - CD-TEXT is ISO 8859-1: characters outside it are spelled in ASCII (deunicode's tables),
//!   controls dropped, and each field is at most 80 characters (the cue sheet's limit). A cue
//!   sheet has no escape for `"`, so it becomes `'` there; the TOC escapes `"` and `\` and
//!   writes bytes above 127 as octal escapes.
//! - cdrdao needs an item either on every track and the disc or on none, so a songwriter is
//!   written everywhere (empty where unknown) as soon as one track has one.

use super::plan::{Layout, msf};

/// The CD-TEXT of the disc or of one track.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Text {
    pub title: String,
    pub performer: String,
    pub songwriter: Option<String>,
}

/// Longest CD-TEXT field written, in characters.
pub const MAX_TEXT: usize = 80;

/// `text` as ISO 8859-1 bytes (see the module notes).
pub fn latin1(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut count = 0;
    let mut push = |b: u8, out: &mut Vec<u8>| {
        if count < MAX_TEXT {
            out.push(b);
            count += 1;
        }
    };
    for c in text.chars() {
        let n = c as u32;
        if c.is_whitespace() {
            push(b' ', &mut out);
        } else if c.is_control() {
        } else if (0x20..0x7f).contains(&n) || (0xa0..=0xff).contains(&n) {
            push(n as u8, &mut out);
        } else if let Some(spelled) = deunicode::deunicode_char(c) {
            for b in spelled.bytes().filter(|b| (0x20..0x7f).contains(b)) {
                push(b, &mut out);
            }
        }
    }
    let end = out.iter().rposition(|b| *b != b' ').map_or(0, |i| i + 1);
    out.truncate(end);
    let start = out.iter().position(|b| *b != b' ').unwrap_or(out.len());
    out.drain(..start);
    out
}

/// What a sheet describes.
pub struct Sheet<'a> {
    /// The `.bin`'s file name (ASCII), beside the sheet.
    pub bin: &'a str,
    pub layout: &'a Layout,
    pub disc: &'a Text,
    pub tracks: &'a [Text],
}

impl Sheet<'_> {
    fn songwriters(&self) -> bool {
        self.tracks.iter().any(|t| t.songwriter.is_some()) || self.disc.songwriter.is_some()
    }
}

fn cue_string(text: &str) -> Vec<u8> {
    let mut out = vec![b'"'];
    out.extend(
        latin1(text)
            .into_iter()
            .map(|b| if b == b'"' { b'\'' } else { b }),
    );
    out.push(b'"');
    out
}

fn toc_string(text: &str) -> Vec<u8> {
    let mut out = vec![b'"'];
    for b in latin1(text) {
        match b {
            b'"' | b'\\' => out.extend([b'\\', b]),
            0x80.. => out.extend(format!("\\{b:03o}").bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
    out
}

/// The cue sheet: one `FILE` with every track's index points.
pub fn cue(s: &Sheet) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::new();
    let songwriters = s.songwriters();
    let field = |out: &mut Vec<u8>, indent: &str, key: &str, value: &str| {
        out.extend(format!("{indent}{key} ").bytes());
        out.extend(cue_string(value));
        out.extend(b"\r\n");
    };
    field(&mut out, "", "TITLE", &s.disc.title);
    field(&mut out, "", "PERFORMER", &s.disc.performer);
    if songwriters {
        field(
            &mut out,
            "",
            "SONGWRITER",
            s.disc.songwriter.as_deref().unwrap_or(""),
        );
    }
    out.extend(format!("FILE \"{}\" BINARY\r\n", s.bin).bytes());
    for (i, (p, t)) in s.layout.tracks.iter().zip(s.tracks).enumerate() {
        out.extend(format!("  TRACK {:02} AUDIO\r\n", i + 1).bytes());
        field(&mut out, "    ", "TITLE", &t.title);
        field(&mut out, "    ", "PERFORMER", &t.performer);
        if songwriters {
            field(
                &mut out,
                "    ",
                "SONGWRITER",
                t.songwriter.as_deref().unwrap_or(""),
            );
        }
        if let Some(i0) = p.index0 {
            out.extend(format!("    INDEX 00 {}\r\n", msf(i0)).bytes());
        }
        out.extend(format!("    INDEX 01 {}\r\n", msf(p.index1)).bytes());
    }
    out
}

/// The cdrdao TOC: one track per span of the `.bin`, pregaps as `START`, CD-TEXT in language 0.
pub fn toc(s: &Sheet) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::new();
    let songwriters = s.songwriters();
    out.extend(
        format!(
            "// \"{}\" holds 16-bit little-endian samples: burn with `cdrdao write --swap`.\n\
             CD_DA\n\n",
            s.bin
        )
        .bytes(),
    );
    let text_block = |out: &mut Vec<u8>, indent: &str, t: &Text| {
        let mut item = |key: &str, value: &str| {
            out.extend(format!("{indent}    {key} ").bytes());
            out.extend(toc_string(value));
            out.push(b'\n');
        };
        item("TITLE", &t.title);
        item("PERFORMER", &t.performer);
        if songwriters {
            item("SONGWRITER", t.songwriter.as_deref().unwrap_or(""));
        }
    };
    out.extend(b"CD_TEXT {\n  LANGUAGE_MAP {\n    0 : EN\n  }\n  LANGUAGE 0 {\n");
    text_block(&mut out, "", s.disc);
    out.extend(b"  }\n}\n");
    for (i, (p, t)) in s.layout.tracks.iter().zip(s.tracks).enumerate() {
        let span = s.layout.track_span(i);
        out.extend(
            format!(
                "\n// Track {}\nTRACK AUDIO\nCD_TEXT {{\n  LANGUAGE 0 {{\n",
                i + 1
            )
            .bytes(),
        );
        text_block(&mut out, "", t);
        out.extend(b"  }\n}\n");
        out.extend(
            format!(
                "FILE \"{}\" {} {}\n",
                s.bin,
                msf(span.start),
                msf(span.end - span.start)
            )
            .bytes(),
        );
        if let Some(i0) = p.index0 {
            out.extend(format!("START {}\n", msf(p.index1 - i0)).bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::plan::{Item, SECTOR, layout};
    use super::*;

    #[test]
    fn text_becomes_latin1() {
        let long = "x".repeat(100);
        let cases: [(&str, &[u8]); 7] = [
            ("Plain", b"Plain"),
            ("Björk", b"Bj\xf6rk"),
            ("Œuvre", b"OEuvre"),
            ("東京", b"Dong Jing "),
            ("a\tb\u{7}c", b"a bc"),
            ("  padded  ", b"padded"),
            (&long, &[b'x'; 80]),
        ];
        for (input, want) in cases {
            assert_eq!(latin1(input), want.trim_ascii_end(), "{input:?}");
        }
    }

    fn sheet_parts() -> (Layout, Text, Vec<Text>) {
        let items = vec![
            Item {
                frames: 400 * SECTOR + 10,
                album: Some("a".into()),
            },
            Item {
                frames: 400 * SECTOR,
                album: Some("a".into()),
            },
            Item {
                frames: 400 * SECTOR,
                album: Some("b".into()),
            },
        ];
        let disc = Text {
            title: "Mix \"live\"".into(),
            performer: "Various".into(),
            songwriter: None,
        };
        let tracks = vec![
            Text {
                title: "One".into(),
                performer: "Björk".into(),
                songwriter: Some("Back\\slash".into()),
            },
            Text {
                title: "Two".into(),
                performer: "B".into(),
                songwriter: None,
            },
            Text {
                title: "Three".into(),
                performer: "C".into(),
                songwriter: None,
            },
        ];
        (layout(&items, 150), disc, tracks)
    }

    #[test]
    fn cue_sheet_lists_indexes_and_text() {
        let (l, disc, tracks) = sheet_parts();
        let s = Sheet {
            bin: "Mix.bin",
            layout: &l,
            disc: &disc,
            tracks: &tracks,
        };
        let lines: [&[u8]; 20] = [
            b"TITLE \"Mix 'live'\"",
            b"PERFORMER \"Various\"",
            b"SONGWRITER \"\"",
            b"FILE \"Mix.bin\" BINARY",
            b"  TRACK 01 AUDIO",
            b"    TITLE \"One\"",
            b"    PERFORMER \"Bj\xf6rk\"",
            b"    SONGWRITER \"Back\\slash\"",
            b"    INDEX 01 00:00:00",
            b"  TRACK 02 AUDIO",
            b"    TITLE \"Two\"",
            b"    PERFORMER \"B\"",
            b"    SONGWRITER \"\"",
            b"    INDEX 01 00:05:25",
            b"  TRACK 03 AUDIO",
            b"    TITLE \"Three\"",
            b"    PERFORMER \"C\"",
            b"    SONGWRITER \"\"",
            b"    INDEX 00 00:10:51",
            b"    INDEX 01 00:12:51",
        ];
        let mut want: Vec<u8> = Vec::new();
        for l in lines {
            want.extend_from_slice(l);
            want.extend_from_slice(b"\r\n");
        }
        assert_eq!(
            String::from_utf8_lossy(&cue(&s)),
            String::from_utf8_lossy(&want)
        );
    }

    #[test]
    fn toc_cuts_the_same_spans() {
        let (l, disc, tracks) = sheet_parts();
        let s = Sheet {
            bin: "Mix.bin",
            layout: &l,
            disc: &disc,
            tracks: &tracks,
        };
        let text = String::from_utf8(toc(&s)).unwrap();
        let files: Vec<&str> = text.lines().filter(|l| l.starts_with("FILE")).collect();
        assert_eq!(
            files,
            [
                "FILE \"Mix.bin\" 00:00:00 00:05:25",
                "FILE \"Mix.bin\" 00:05:25 00:05:26",
                "FILE \"Mix.bin\" 00:10:51 00:07:25",
            ]
        );
        assert!(text.contains("START 00:02:00\n"));
        assert!(text.contains("PERFORMER \"Bj\\366rk\""));
        assert!(text.contains("SONGWRITER \"Back\\\\slash\""));
        assert!(text.contains("TITLE \"Mix \\\"live\\\"\""));
        assert_eq!(text.matches("SONGWRITER").count(), 4);
    }
}
