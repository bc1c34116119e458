//! FLAC: the `fLaC` marker (after any ID3v2 tags a careless tagger put in front), the metadata
//! blocks that follow it (STREAMINFO, VORBIS_COMMENT, PICTURE...), where the frames start, and
//! frame headers checked by their CRC-8.

use std::io::{self, Read, Seek};

use super::{Extent, Patch, id3, read_at};

pub const STREAMINFO: u8 = 0;
pub const VORBIS_COMMENT: u8 = 4;
pub const PADDING: u8 = 1;
pub const PICTURE: u8 = 6;

/// At most this many metadata blocks are walked: there are 128 block types, a well-formed file
/// has far fewer blocks, and the bound keeps a hostile chain of empty blocks cheap.
const MAX_BLOCKS: usize = 1024;

/// One metadata block header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub kind: u8,
    pub last: bool,
    /// Where the 4-byte block header starts.
    pub start: u64,
    /// The body length the header declares.
    pub len: u64,
}

impl Block {
    pub fn body(&self) -> u64 {
        self.start + 4
    }

    pub fn end(&self) -> u64 {
        self.start + 4 + self.len
    }
}

/// The metadata blocks of a FLAC file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Where `fLaC` is.
    pub marker: u64,
    /// Every block header read, in file order (the last may claim more than the file holds).
    pub blocks: Vec<Block>,
    /// Where the frames start: after the block flagged last, when the chain is whole and within
    /// the file.
    pub frames: Option<u64>,
}

/// Reads the metadata block headers (not their bodies). `None` when the file has no `fLaC`
/// marker where one should be.
pub fn metadata<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Option<Metadata>> {
    let marker = id3::skip(file, 0, file_len)?;
    let mut magic = [0u8; 4];
    if read_at(file, marker, &mut magic)? < 4 || &magic != b"fLaC" {
        return Ok(None);
    }
    let mut blocks = Vec::new();
    let mut frames = None;
    let mut offset = marker + 4;
    for _ in 0..MAX_BLOCKS {
        let mut header = [0u8; 4];
        if read_at(file, offset, &mut header)? < 4 {
            break;
        }
        let block = Block {
            kind: header[0] & 0x7f,
            last: header[0] & 0x80 != 0,
            start: offset,
            len: u64::from(u32::from_be_bytes([0, header[1], header[2], header[3]])),
        };
        blocks.push(block);
        offset = block.end();
        if offset > file_len {
            break;
        }
        if block.last {
            frames = Some(offset);
            break;
        }
    }
    Ok(Some(Metadata {
        marker,
        blocks,
        frames,
    }))
}

/// The frames after the metadata blocks, up to a trailing ID3v1 tag.
pub fn frames_extent<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Option<Extent>> {
    let Some(offset) = metadata(file, file_len)?.and_then(|m| m.frames) else {
        return Ok(None);
    };
    let end = if id3::v1_before(file, offset, file_len)? {
        file_len - id3::V1_LEN
    } else {
        file_len
    };
    Ok(Some(Extent {
        offset,
        len: end - offset,
    }))
}

/// Whether the file has a PICTURE block (or a picture in ID3v2 tags in front of it).
pub fn has_picture<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<bool> {
    if id3::has_picture(file, 0, file_len)? {
        return Ok(true);
    }
    Ok(metadata(file, file_len)?.is_some_and(|m| m.blocks.iter().any(|b| b.kind == PICTURE)))
}

/// Patches that show every VORBIS_COMMENT block after the first as PADDING. A file should have
/// one; when a tagger added a second instead of replacing the first, mutagen and TagLib read the
/// first, and so should every reader here.
pub fn later_comment_patches<F: Read + Seek>(
    file: &mut F,
    file_len: u64,
) -> io::Result<Vec<Patch>> {
    let Some(meta) = metadata(file, file_len)? else {
        return Ok(Vec::new());
    };
    Ok(meta
        .blocks
        .iter()
        .filter(|b| b.kind == VORBIS_COMMENT)
        .skip(1)
        .map(|b| {
            let len = (b.len as u32).to_be_bytes();
            Patch {
                offset: b.start,
                bytes: [u8::from(b.last) << 7 | PADDING, len[1], len[2], len[3]],
            }
        })
        .collect())
}

/// What STREAMINFO says about the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamInfo {
    /// The block size when it is fixed (minimum block size).
    pub min_block: u64,
    /// Samples per channel; 0 when unknown.
    pub total_samples: u64,
}

/// STREAMINFO, when it is the first block as the format requires.
pub fn stream_info<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Option<StreamInfo>> {
    let start = id3::skip(file, 0, file_len)?;
    let mut info = [0u8; 4 + 4 + 34];
    if read_at(file, start, &mut info)? < info.len()
        || &info[..4] != b"fLaC"
        || info[4] & 0x7f != STREAMINFO
    {
        return Ok(None);
    }
    let si = &info[8..];
    Ok(Some(StreamInfo {
        min_block: u64::from(u16::from_be_bytes([si[0], si[1]])),
        total_samples: (u64::from(si[13] & 0x0f) << 32)
            | u64::from(u32::from_be_bytes(si[14..18].try_into().expect("4 bytes"))),
    }))
}

/// Parses a FLAC frame header (checked by its CRC-8) and returns the sample just past the frame.
pub fn frame_end(h: &[u8], fixed_block: u64) -> Option<u64> {
    if h.len() < 5 || h[0] != 0xff || h[1] & 0xfe != 0xf8 {
        return None;
    }
    let variable = h[1] & 1 == 1;
    let bs_code = h[2] >> 4;
    let sr_code = h[2] & 0x0f;
    if bs_code == 0 || sr_code == 0x0f || h[3] >> 4 > 10 || (h[3] >> 1) & 7 == 3 || h[3] & 1 != 0 {
        return None;
    }
    // The frame or sample number, UTF-8 style: the leading ones give the length.
    let first = h[4];
    let extra = first.leading_ones() as usize;
    if extra == 1 || extra > 7 {
        return None;
    }
    let mut number = if extra == 0 {
        u64::from(first)
    } else {
        u64::from(first & (0x7f >> extra))
    };
    let mut at = 5;
    for _ in 1..extra.max(1) {
        let b = *h.get(at)?;
        if b & 0xc0 != 0x80 {
            return None;
        }
        number = (number << 6) | u64::from(b & 0x3f);
        at += 1;
    }
    let block = match bs_code {
        1 => 192,
        2..=5 => 576 << (bs_code - 2),
        6 => {
            at += 1;
            u64::from(*h.get(at - 1)?) + 1
        }
        7 => {
            at += 2;
            u64::from(u16::from_be_bytes([*h.get(at - 2)?, *h.get(at - 1)?])) + 1
        }
        _ => 256 << (bs_code - 8),
    };
    at += match sr_code {
        12 => 1,
        13 | 14 => 2,
        _ => 0,
    };
    let crc = *h.get(at)?;
    let computed = h[..at].iter().fold(0u8, |mut c, &b| {
        c ^= b;
        for _ in 0..8 {
            c = if c & 0x80 != 0 {
                (c << 1) ^ 0x07
            } else {
                c << 1
            };
        }
        c
    });
    if crc != computed {
        return None;
    }
    Some(if variable {
        number + block
    } else {
        number * fixed_block + block
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Read};

    fn extent(bytes: &[u8]) -> Option<Extent> {
        frames_extent(&mut Cursor::new(bytes), bytes.len() as u64).unwrap()
    }

    #[test]
    fn flac_blocks() {
        let mut flac = b"fLaC".to_vec();
        flac.extend([0x00, 0, 0, 2, 1, 2]); // STREAMINFO stand-in, not last
        flac.extend([0x84, 0, 0, 1, 9]); // last block
        flac.extend(b"frames");
        assert_eq!(extent(&flac), Some(Extent { offset: 15, len: 6 }));
        let m = metadata(&mut Cursor::new(&flac), flac.len() as u64)
            .unwrap()
            .unwrap();
        let kinds: Vec<(u8, bool, u64, u64)> = m
            .blocks
            .iter()
            .map(|b| (b.kind, b.last, b.start, b.len))
            .collect();
        assert_eq!(kinds, [(0, false, 4, 2), (4, true, 10, 1)]);
        assert_eq!(extent(b"fLaC\x00\x00\xff\xff"), None);
        assert_eq!(extent(b"OggS\x00\x00\xff\xff"), None);
    }

    #[test]
    fn only_the_first_vorbis_comment_block_is_shown() {
        let mut flac = b"fLaC".to_vec();
        flac.extend([0x00, 0, 0, 2, 1, 2]); // STREAMINFO stand-in
        flac.extend([0x04, 0, 0, 1, b'a']); // the first comment block
        flac.extend([0x04, 0, 0, 1, b'b']); // a second one
        flac.extend([0x84, 0, 0, 1, b'c']); // a third, flagged last
        flac.extend(b"frames");
        let len = flac.len() as u64;
        let patches = later_comment_patches(&mut Cursor::new(&flac), len).unwrap();
        assert_eq!(
            patches,
            [
                Patch {
                    offset: 15,
                    bytes: [0x01, 0, 0, 1]
                },
                Patch {
                    offset: 20,
                    bytes: [0x81, 0, 0, 1]
                }
            ]
        );
        let mut view = Vec::new();
        crate::container::Patched::new(Cursor::new(&flac), patches)
            .unwrap()
            .read_to_end(&mut view)
            .unwrap();
        let m = metadata(&mut Cursor::new(&view), len).unwrap().unwrap();
        let kinds: Vec<u8> = m.blocks.iter().map(|b| b.kind).collect();
        assert_eq!(kinds, [STREAMINFO, VORBIS_COMMENT, PADDING, PADDING]);
        assert_eq!(m.frames, Some(25));
        // One block: nothing to hide.
        flac[15] = 0x01;
        flac[20] = 0x81;
        assert!(
            later_comment_patches(&mut Cursor::new(&flac), len)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn frame_headers_are_checked_by_their_crc() {
        // A fixed-blocksize frame header: 4096-sample blocks (code 12), 44.1 kHz (9), stereo,
        // 16-bit, frame number 3, then its CRC-8.
        let mut h = vec![0xff, 0xf8, 0xc9, 0x18, 0x03];
        let crc = h.iter().fold(0u8, |mut c, &b| {
            c ^= b;
            for _ in 0..8 {
                c = if c & 0x80 != 0 {
                    (c << 1) ^ 0x07
                } else {
                    c << 1
                };
            }
            c
        });
        h.push(crc);
        assert_eq!(frame_end(&h, 4096), Some(4 * 4096));
        h[5] ^= 1;
        assert_eq!(frame_end(&h, 4096), None);
    }
}
