//! ID3 tags as containers: where ID3v2 tags (several may be stacked at the start of a file) begin
//! and end, whether one holds a picture (from the frame headers alone), and the 128-byte ID3v1
//! tag at a file's end. The frames' text is the tag reader's business (`tags.rs`).

use std::io::{self, Read, Seek};

use super::read_at;

/// An ID3v2 tag header (the first 10 bytes of a tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagHeader {
    /// The major version: 2, 3 or 4.
    pub version: u8,
    pub flags: u8,
    /// The size of the tag after the header (not counting a footer).
    pub size: u64,
}

impl TagHeader {
    /// Parses a tag header; `None` when `head` does not start with `ID3`.
    pub fn parse(head: &[u8]) -> Option<TagHeader> {
        if head.len() < 10 || &head[..3] != b"ID3" {
            return None;
        }
        Some(TagHeader {
            version: head[3],
            flags: head[5],
            size: syncsafe(&head[6..10]),
        })
    }

    /// Header, body and footer (ID3v2.4 may end a tag with a 10-byte copy of the header).
    pub fn total_len(&self) -> u64 {
        let footer = if self.flags & 0x10 != 0 { 10 } else { 0 };
        10 + self.size + footer
    }

    pub fn has_extended_header(&self) -> bool {
        self.flags & 0x40 != 0
    }
}

/// The tag header at `offset`, if a tag starts there.
pub fn header_at<F: Read + Seek>(file: &mut F, offset: u64) -> io::Result<Option<TagHeader>> {
    let mut head = [0u8; 10];
    Ok(if read_at(file, offset, &mut head)? == 10 {
        TagHeader::parse(&head)
    } else {
        None
    })
}

/// A 28-bit "syncsafe" integer (seven bits per byte), as ID3v2 stores sizes.
pub fn syncsafe(b: &[u8]) -> u64 {
    b.iter()
        .fold(0u64, |acc, &x| (acc << 7) | u64::from(x & 0x7f))
}

/// Skips ID3v2 tags at `offset` (several may be stacked), returning where the next data starts.
/// A tag that claims to run past the end of the file is not skipped.
pub fn skip<F: Read + Seek>(file: &mut F, mut offset: u64, file_len: u64) -> io::Result<u64> {
    while let Some(tag) = header_at(file, offset)? {
        let next = offset + tag.total_len();
        if next > file_len {
            break;
        }
        offset = next;
    }
    Ok(offset)
}

/// [`skip`] over bytes in memory: where the data after the leading ID3v2 tags starts.
pub fn skip_in(data: &[u8]) -> usize {
    skip(&mut io::Cursor::new(data), 0, data.len() as u64).map_or(0, |end| end as usize)
}

/// Where the second and later of several ID3v2 tags stacked at the start of a file lie
/// (`(from, to)`), when there is more than one: readers that agree with mutagen and TagLib read
/// the first, so the rest is hidden from the tag reader (see [`super::Pieces`]).
pub fn stacked<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Option<(u64, u64)>> {
    let Some(first) = header_at(file, 0)? else {
        return Ok(None);
    };
    let first_end = first.total_len();
    if first_end >= file_len {
        return Ok(None);
    }
    let last_end = skip(file, first_end, file_len)?;
    Ok((last_end > first_end).then_some((first_end, last_end)))
}

/// Whether the ID3v2 tags at `offset` hold a picture frame (APIC, or PIC in ID3v2.2). Only the
/// frame headers are read.
pub fn has_picture<F: Read + Seek>(
    file: &mut F,
    mut offset: u64,
    file_len: u64,
) -> io::Result<bool> {
    while let Some(tag) = header_at(file, offset)? {
        let version = tag.version;
        let end = (offset + 10 + tag.size).min(file_len);
        let mut at = offset + 10;
        if tag.has_extended_header() && version >= 3 {
            let mut ext = [0u8; 4];
            read_at(file, at, &mut ext)?;
            at += if version == 4 {
                syncsafe(&ext)
            } else {
                4 + u64::from(u32::from_be_bytes(ext))
            };
        }
        let (header_len, id_len) = if version == 2 {
            (6u64, 3usize)
        } else {
            (10, 4)
        };
        for _ in 0..4096 {
            if at + header_len > end {
                break;
            }
            let mut fh = [0u8; 10];
            read_at(file, at, &mut fh[..header_len as usize])?;
            let id = &fh[..id_len];
            if id.iter().all(|&b| b == 0) {
                break; // padding
            }
            if id == b"APIC" || id == b"PIC" {
                return Ok(true);
            }
            let frame_len = match version {
                2 => u64::from(u32::from_be_bytes([0, fh[3], fh[4], fh[5]])),
                3 => u64::from(u32::from_be_bytes(fh[4..8].try_into().expect("4 bytes"))),
                _ => syncsafe(&fh[4..8]),
            };
            at += header_len + frame_len;
        }
        offset += tag.total_len();
    }
    Ok(false)
}

/// A text frame (`T???` other than `TXXX`) of an ID3v2.3 or v2.4 tag: its id and its values
/// (NUL-separated values split, as mutagen splits them in both versions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextFrame {
    pub id: [u8; 4],
    pub values: Vec<String>,
}

/// The text frames of the ID3v2.3 or v2.4 tag at `offset`, in file order, duplicates included
/// (the tag reader keeps only the last of several frames with one id; mutagen and TagLib join
/// their values in order). Empty for other versions, and for a tag or frame stored
/// unsynchronised, compressed or encrypted (rare; those are left to the tag reader). At most
/// 1 MiB of the tag is read.
pub fn text_frames<F: Read + Seek>(file: &mut F, offset: u64) -> io::Result<Vec<TextFrame>> {
    let Some(tag) = header_at(file, offset)? else {
        return Ok(Vec::new());
    };
    if !matches!(tag.version, 3 | 4) || tag.flags & 0x80 != 0 {
        return Ok(Vec::new());
    }
    let mut body = vec![0u8; tag.size.min(1 << 20) as usize];
    let got = read_at(file, offset + 10, &mut body)?;
    body.truncate(got);
    let mut at = 0usize;
    if tag.has_extended_header() && body.len() >= 4 {
        let ext: [u8; 4] = body[..4].try_into().expect("4 bytes");
        at = if tag.version == 4 {
            syncsafe(&ext) as usize
        } else {
            4 + u32::from_be_bytes(ext) as usize
        };
    }
    let mut out = Vec::new();
    while let Some(head) = body.get(at..at + 10) {
        let id: [u8; 4] = head[..4].try_into().expect("4 bytes");
        if !id
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            break; // padding, or garbage
        }
        let len = if tag.version == 4 {
            syncsafe(&head[4..8]) as usize
        } else {
            u32::from_be_bytes(head[4..8].try_into().expect("4 bytes")) as usize
        };
        let Some(content) = body.get(at + 10..at + 10 + len) else {
            break;
        };
        // v2.3: compression, encryption, grouping; v2.4: also unsynchronisation and a data
        // length indicator. Such frames are left alone.
        let odd = if tag.version == 4 {
            head[9] & 0x4f != 0
        } else {
            head[9] & 0xe0 != 0
        };
        if id[0] == b'T' && &id != b"TXXX" && !odd && !content.is_empty() {
            out.push(TextFrame {
                id,
                values: decode_text(content[0], &content[1..]),
            });
        }
        at += 10 + len;
    }
    Ok(out)
}

/// The frames of the ID3v2.3 or v2.4 tag at `offset`: where each starts, and its header. Empty
/// for other versions and for a tag stored unsynchronised. At most 4096 frames.
pub fn frames<F: Read + Seek>(file: &mut F, offset: u64) -> io::Result<Vec<(u64, [u8; 10])>> {
    let Some(tag) = header_at(file, offset)? else {
        return Ok(Vec::new());
    };
    if !matches!(tag.version, 3 | 4) || tag.flags & 0x80 != 0 {
        return Ok(Vec::new());
    }
    let end = offset + 10 + tag.size;
    let mut at = offset + 10;
    if tag.has_extended_header() {
        let mut ext = [0u8; 4];
        read_at(file, at, &mut ext)?;
        at += if tag.version == 4 {
            syncsafe(&ext)
        } else {
            4 + u64::from(u32::from_be_bytes(ext))
        };
    }
    let mut out = Vec::new();
    while out.len() < 4096 && at + 10 <= end {
        let mut head = [0u8; 10];
        if read_at(file, at, &mut head)? < 10
            || !head[..4]
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            break; // the end, padding, or garbage
        }
        let len = if tag.version == 4 {
            syncsafe(&head[4..8])
        } else {
            u64::from(u32::from_be_bytes(head[4..8].try_into().expect("4 bytes")))
        };
        out.push((at, head));
        at += 10 + len;
    }
    Ok(out)
}

/// What makes the frame at `at` (with header `head`) one that every reader skips: an
/// experimental id (`XBAD`) and no flags, its size and bytes unchanged, so nothing else moves.
pub fn left_out(at: u64, head: &[u8; 10]) -> [super::Patch; 2] {
    [
        super::Patch {
            offset: at,
            bytes: *b"XBAD",
        },
        super::Patch {
            offset: at + 6,
            bytes: [head[6], head[7], 0, 0],
        },
    ]
}

/// The values of a text frame's body, given its encoding byte: Latin-1, UTF-16 with a byte
/// order mark, UTF-16BE, UTF-8. NUL separates values; empty values at the end are dropped.
fn decode_text(encoding: u8, bytes: &[u8]) -> Vec<String> {
    let text = match encoding {
        0 => bytes.iter().map(|&b| char::from(b)).collect(),
        1 | 2 => {
            let mut units: Vec<u16> = Vec::with_capacity(bytes.len() / 2);
            let mut big = encoding == 2;
            for pair in bytes.chunks_exact(2) {
                match (pair[0], pair[1]) {
                    (0xff, 0xfe) if encoding == 1 => big = false,
                    (0xfe, 0xff) if encoding == 1 => big = true,
                    (a, b) => units.push(if big {
                        u16::from_be_bytes([a, b])
                    } else {
                        u16::from_le_bytes([a, b])
                    }),
                }
            }
            String::from_utf16_lossy(&units)
        }
        _ => String::from_utf8_lossy(bytes).into_owned(),
    };
    let mut values: Vec<String> = text.split('\0').map(str::to_string).collect();
    while values.last().is_some_and(String::is_empty) {
        values.pop();
    }
    values
}

/// The length of an ID3v1 tag.
pub const V1_LEN: u64 = 128;

/// Whether an ID3v1 tag ends the bytes before `end` (and after `start`).
pub fn v1_before<F: Read + Seek>(file: &mut F, start: u64, end: u64) -> io::Result<bool> {
    if end < start + V1_LEN {
        return Ok(false);
    }
    let mut tag = [0u8; 3];
    read_at(file, end - V1_LEN, &mut tag)?;
    Ok(&tag == b"TAG")
}

/// An ID3v2.3 tag with a body of `body` bytes of filler, for tests that need one in front of audio.
#[cfg(test)]
pub fn test_tag(body: usize) -> Vec<u8> {
    let mut v = b"ID3\x03\x00\x00".to_vec();
    let s = body as u32;
    v.extend([
        (s >> 21) as u8 & 0x7f,
        (s >> 14) as u8 & 0x7f,
        (s >> 7) as u8 & 0x7f,
        s as u8 & 0x7f,
    ]);
    v.extend(std::iter::repeat_n(b'x', body));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::Pieces;
    use std::io::{Cursor, Read, Seek, SeekFrom};

    #[test]
    fn stacked_id3v2_tags_are_hidden_after_the_first() {
        let tag = |text: &[u8]| {
            let mut t = b"ID3\x03\0\0\0\0\0".to_vec();
            t.push(text.len() as u8);
            t.extend_from_slice(text);
            t
        };
        let mut file = tag(b"first");
        file.extend(tag(b"second!"));
        file.extend(tag(b"third"));
        file.extend(b"AUDIO");
        let len = file.len() as u64;
        let hole = stacked(&mut Cursor::new(&file), len)
            .unwrap()
            .expect("three tags");
        assert_eq!(hole, (15, 15 + 17 + 15));
        assert_eq!(skip_in(&file), 15 + 17 + 15);
        let mut view = Pieces::without(Cursor::new(&file), hole, len);
        let mut got = Vec::new();
        view.read_to_end(&mut got).unwrap();
        let mut want = tag(b"first");
        want.extend(b"AUDIO");
        assert_eq!(got, want);
        view.seek(SeekFrom::End(-5)).unwrap();
        let mut tail = Vec::new();
        view.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, b"AUDIO");
        view.seek(SeekFrom::Start(12)).unwrap();
        let mut a = [0u8; 5];
        view.read_exact(&mut a).unwrap();
        assert_eq!(&a, b"rstAU");
        // One tag: nothing hidden.
        let one = [tag(b"only"), b"AUDIO".to_vec()].concat();
        assert!(
            stacked(&mut Cursor::new(&one), one.len() as u64)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn duplicate_text_frames_are_all_read_in_order() {
        let frame = |id: &[u8], enc: u8, text: &[u8]| {
            let mut f = id.to_vec();
            f.extend(((text.len() + 1) as u32).to_be_bytes());
            f.extend([0, 0, enc]);
            f.extend(text);
            f
        };
        let mut frames = frame(b"TPE1", 0, b"piman");
        frames.extend(frame(b"TXXX", 0, b"ARTISTS\0x"));
        frames.extend(frame(b"TPE1", 1, b"\xff\xfej\0z\0i\0g\0\0\0k\0"));
        frames.extend(frame(b"TPE2", 2, b"\0A\0B"));
        frames.extend(frame(b"TCOM", 3, "é\0".as_bytes()));
        frames.extend([0u8; 10]);
        let mut tag = b"ID3\x03\0\0".to_vec();
        tag.extend((frames.len() as u32).to_be_bytes().map(|b| b & 0x7f)); // small: fits
        tag.extend(&frames);
        let got: Vec<(String, Vec<String>)> = text_frames(&mut Cursor::new(&tag), 0)
            .unwrap()
            .into_iter()
            .map(|f| (String::from_utf8_lossy(&f.id).into_owned(), f.values))
            .collect();
        let want: Vec<(String, Vec<String>)> = [
            ("TPE1", vec!["piman"]),
            ("TPE1", vec!["jzig", "k"]),
            ("TPE2", vec!["AB"]),
            ("TCOM", vec!["é"]),
        ]
        .into_iter()
        .map(|(id, v)| (id.to_string(), v.into_iter().map(String::from).collect()))
        .collect();
        assert_eq!(got, want);
        // A v2.2 tag is not read here.
        tag[3] = 2;
        assert!(text_frames(&mut Cursor::new(&tag), 0).unwrap().is_empty());
    }

    #[test]
    fn headers_sizes_and_pictures() {
        // (tag bytes, version, total length)
        let footer = b"ID3\x04\0\x10\0\0\x01\x00";
        let cases: [(&[u8], u8, u64); 3] = [
            (b"ID3\x03\0\0\0\0\0\x05", 3, 15),
            (b"ID3\x02\0\0\0\0\x01\x01", 2, 10 + 129),
            (footer, 4, 10 + 128 + 10),
        ];
        for (bytes, version, total) in cases {
            let h = TagHeader::parse(bytes).unwrap();
            assert_eq!((h.version, h.total_len()), (version, total));
        }
        assert_eq!(TagHeader::parse(b"TAG\x03\0\0\0\0\0\x05"), None);
        // A v2.3 tag holding a TIT2 frame then an APIC frame; a v2.2 one with PIC.
        let mut v23 = b"ID3\x03\0\0\0\0\0\x1e".to_vec();
        v23.extend(b"TIT2\0\0\0\x02\0\0\0a");
        v23.extend(b"APIC\0\0\0\x02\0\0\0b");
        v23.extend([0u8; 6]);
        let len = v23.len() as u64;
        assert!(has_picture(&mut Cursor::new(&v23), 0, len).unwrap());
        let mut v22 = b"ID3\x02\0\0\0\0\0\x0e".to_vec();
        v22.extend(b"TT2\0\0\x02\0a");
        v22.extend(b"PIC\0\0\0");
        assert!(has_picture(&mut Cursor::new(&v22), 0, v22.len() as u64).unwrap());
        v23[22..26].copy_from_slice(b"TPE1");
        assert!(!has_picture(&mut Cursor::new(&v23), 0, len).unwrap());
    }
}
