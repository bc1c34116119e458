//! The structure of the containers tapedeck reads and writes, one file per container: MP4 boxes
//! (`mp4`), MPEG audio frame headers and their Xing/Info/LAME extensions (`mpeg`), ID3v2 and
//! ID3v1 tags (`id3`), RIFF/RF64 WAV chunks (`riff`), AIFF chunks (`aiff`) and FLAC metadata
//! blocks (`flac`). Parsing only: bytes or a `Read + Seek` in, typed values out. What a caller
//! decides from them (a fingerprint, a trim, a gain change) lives with the caller: the scan
//! (`scan::payload`), the decoder, the converter and the exporter.
//!
//! The chunked containers share one header reader, [`header_at`]: RIFF and AIFF chunks (kind,
//! then a 32-bit body size, bodies padded to an even length) and MP4 boxes (a size that counts
//! the header, 0 for "to the end", 1 for a 64-bit size after the kind). Reads are bounded: a
//! size field is never trusted further than the bytes its parent holds.

pub mod aiff;
pub mod flac;
pub mod id3;
pub mod mp4;
pub mod mpeg;
pub mod riff;

use std::io::{self, Read, Seek, SeekFrom};

/// A byte range of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub offset: u64,
    pub len: u64,
}

/// Where a container's coded audio lies, and how long its headers say it should be when that is
/// more than the file holds (a copy that was cut off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    pub extent: Extent,
    pub declared: Option<u64>,
}

impl From<Extent> for Located {
    fn from(extent: Extent) -> Located {
        Located {
            extent,
            declared: None,
        }
    }
}

/// How a chunked container lays out its chunk headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// RIFF (WAV): kind, little-endian 32-bit body size; bodies padded to even length.
    Riff,
    /// IFF (AIFF): kind, big-endian 32-bit body size; bodies padded to even length.
    Iff,
    /// ISO base media (MP4): big-endian 32-bit size of the whole box, then the kind; size 1
    /// means a 64-bit size follows, size 0 means "to the end of the parent".
    IsoBox,
}

/// One chunk or box header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: [u8; 4],
    /// Where the header starts.
    pub start: u64,
    /// Where the body starts.
    pub body: u64,
    /// The body size the header declares (for a box of size 0, the rest of the parent).
    pub size: u64,
}

impl Header {
    /// Where the next sibling starts (after any padding byte).
    pub fn next(&self, layout: Layout) -> u64 {
        let pad = match layout {
            Layout::Riff | Layout::Iff => self.size & 1,
            Layout::IsoBox => 0,
        };
        self.body.saturating_add(self.size).saturating_add(pad)
    }

    /// The body length that lies within `end` (a parent's or the file's end).
    pub fn len_within(&self, end: u64) -> u64 {
        self.size.min(end.saturating_sub(self.body))
    }
}

/// Reads the chunk or box header at `offset`, which must end by `end`. `None` at the end, on a
/// short read, or on a box whose size is smaller than its own header.
pub fn header_at<F: Read + Seek>(
    file: &mut F,
    offset: u64,
    end: u64,
    layout: Layout,
) -> io::Result<Option<Header>> {
    if offset.saturating_add(8) > end {
        return Ok(None);
    }
    let mut head = [0u8; 16];
    let got = read_at(file, offset, &mut head)?;
    if got < 8 {
        return Ok(None);
    }
    let word = [head[4], head[5], head[6], head[7]];
    Ok(match layout {
        Layout::Riff | Layout::Iff => {
            let size = if layout == Layout::Riff {
                u32::from_le_bytes(word)
            } else {
                u32::from_be_bytes(word)
            };
            Some(Header {
                kind: head[..4].try_into().expect("4 bytes"),
                start: offset,
                body: offset + 8,
                size: u64::from(size),
            })
        }
        Layout::IsoBox => {
            let size32 = u64::from(u32::from_be_bytes(head[..4].try_into().expect("4 bytes")));
            let (header, size) = match size32 {
                0 => (8, end - offset),
                1 if got >= 16 => (16, u64::from_be_bytes(head[8..16].try_into().expect("8"))),
                1 => return Ok(None),
                s => (8, s),
            };
            if size < header {
                return Ok(None);
            }
            Some(Header {
                kind: word,
                start: offset,
                body: offset + header,
                size: size - header,
            })
        }
    })
}

/// The first chunk named `want` among the chunks from `offset` to `end`: its body, cut to what
/// the file holds, and the size it declares when that is more (a truncated file; a streaming
/// writer's 0xFFFFFFFF placeholder is not counted as a promise).
pub fn find_chunk<F: Read + Seek>(
    file: &mut F,
    mut offset: u64,
    end: u64,
    want: &[u8; 4],
    layout: Layout,
) -> io::Result<Option<Located>> {
    while let Some(h) = header_at(file, offset, end, layout)? {
        if &h.kind == want {
            let len = h.len_within(end);
            let declared = (h.size > len && h.size != 0xFFFF_FFFF).then_some(h.size);
            return Ok(Some(Located {
                extent: Extent {
                    offset: h.body,
                    len,
                },
                declared,
            }));
        }
        offset = h.next(layout);
    }
    Ok(None)
}

/// Reads into `buf` until it is full or the file ends; returns how much was read.
pub fn read_up_to<F: Read>(file: &mut F, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// [`read_up_to`] from `offset`.
pub fn read_at<F: Read + Seek>(file: &mut F, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    file.seek(SeekFrom::Start(offset))?;
    read_up_to(file, buf)
}

/// Four bytes of a file to read differently: where, and what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patch {
    pub offset: u64,
    pub bytes: [u8; 4],
}

/// What readers that trust a file's headers (the tag reader, the decoder) should see in place
/// of the file's own bytes: an unfinished or RF64 WAV header made plain
/// ([`riff::wav_header_patches`]), and the FLAC metadata blocks a reader should not take tags
/// from ([`flac::later_comment_patches`]). Empty for other files.
pub fn read_patches<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Vec<Patch>> {
    let mut patches = riff::wav_header_patches(file, file_len)?;
    patches.extend(flac::later_comment_patches(file, file_len)?);
    Ok(patches)
}

/// A reader that shows [`Patch`]ed bytes in place of the file's own.
pub struct Patched<R> {
    inner: R,
    patches: Vec<Patch>,
    pos: u64,
}

impl<R: Read + Seek> Patched<R> {
    pub fn new(mut inner: R, patches: Vec<Patch>) -> io::Result<Patched<R>> {
        let pos = inner.stream_position()?;
        Ok(Patched {
            inner,
            patches,
            pos,
        })
    }
}

impl<R: Read> Read for Patched<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for p in &self.patches {
            for (i, b) in p.bytes.iter().enumerate() {
                let at = p.offset + i as u64;
                if at >= self.pos && at < self.pos + n as u64 {
                    buf[(at - self.pos) as usize] = *b;
                }
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for Patched<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = self.inner.seek(to)?;
        Ok(self.pos)
    }
}

/// One piece of a [`Pieces`] view: a stretch of the file, or bytes made for the view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    File { start: u64, end: u64 },
    Bytes(Vec<u8>),
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Piece::File { start, end } => end - start,
            Piece::Bytes(b) => b.len() as u64,
        }
    }
}

/// A reader that shows a file laid out differently: the pieces one after another. Tag readers
/// see through it what the file means where its layout is one they do not follow (a second
/// ID3v2 tag left out, an MP4 `meta` box moved to where iTunes puts it).
pub struct Pieces<R> {
    inner: R,
    pieces: Vec<Piece>,
    /// Where each piece starts in the view.
    starts: Vec<u64>,
    len: u64,
    pos: u64,
}

impl<R: Read + Seek> Pieces<R> {
    pub fn new(inner: R, pieces: Vec<Piece>) -> Pieces<R> {
        let mut starts = Vec::with_capacity(pieces.len());
        let mut len = 0;
        for p in &pieces {
            starts.push(len);
            len += p.len();
        }
        Pieces {
            inner,
            pieces,
            starts,
            len,
            pos: 0,
        }
    }

    /// The file with the bytes `hole.0..hole.1` left out; `len` is the file's length.
    pub fn without(inner: R, hole: (u64, u64), len: u64) -> Pieces<R> {
        Pieces::new(
            inner,
            vec![
                Piece::File {
                    start: 0,
                    end: hole.0,
                },
                Piece::File {
                    start: hole.1,
                    end: len,
                },
            ],
        )
    }
}

impl<R: Read + Seek> Read for Pieces<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let i = self.starts.partition_point(|&s| s <= self.pos) - 1;
        let within = self.pos - self.starts[i];
        let room = (self.pieces[i].len() - within).min(buf.len() as u64) as usize;
        let n = match &self.pieces[i] {
            Piece::Bytes(b) => {
                let at = within as usize;
                buf[..room].copy_from_slice(&b[at..at + room]);
                room
            }
            Piece::File { start, .. } => {
                self.inner.seek(SeekFrom::Start(start + within))?;
                self.inner.read(&mut buf[..room])?
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for Pieces<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => i128::from(p),
            SeekFrom::Current(d) => i128::from(self.pos) + i128::from(d),
            SeekFrom::End(d) => i128::from(self.len) + i128::from(d),
        };
        if target < 0 {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        self.pos = target as u64;
        Ok(self.pos)
    }
}

/// How a tag reader should see the file, when not as it is: without the ID3v2 tags stacked after
/// the first (the first is the file's, as mutagen and TagLib read it), or with an MP4 `meta` box
/// that sits outside `moov/udta` moved there.
pub fn tag_view<F: Read + Seek>(file: &mut F, len: u64) -> io::Result<Option<Vec<Piece>>> {
    if let Some(hole) = id3::stacked(file, len)? {
        return Ok(Some(vec![
            Piece::File {
                start: 0,
                end: hole.0,
            },
            Piece::File {
                start: hole.1,
                end: len,
            },
        ]));
    }
    mp4::meta_moved_to_udta(file, len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn pieces_read_and_seek_across_file_stretches_and_made_bytes() {
        let file: Vec<u8> = (0u8..100).collect();
        let pieces = vec![
            Piece::File { start: 10, end: 20 },
            Piece::Bytes(b"abc".to_vec()),
            Piece::File {
                start: 90,
                end: 100,
            },
        ];
        let mut view = Pieces::new(Cursor::new(&file), pieces);
        let mut all = Vec::new();
        view.read_to_end(&mut all).unwrap();
        let mut want: Vec<u8> = (10u8..20).collect();
        want.extend_from_slice(b"abc");
        want.extend(90u8..100);
        assert_eq!(all, want);
        for (at, &byte) in want.iter().enumerate() {
            view.seek(SeekFrom::Start(at as u64)).unwrap();
            let mut one = [0u8; 1];
            view.read_exact(&mut one).unwrap();
            assert_eq!(one[0], byte, "at {at}");
        }
        assert_eq!(view.seek(SeekFrom::End(-1)).unwrap(), want.len() as u64 - 1);
        let mut hole = Pieces::without(Cursor::new(&file), (5, 95), 100);
        let mut rest = Vec::new();
        hole.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, [0, 1, 2, 3, 4, 95, 96, 97, 98, 99]);
    }

    #[test]
    fn one_header_reader_for_chunks_and_boxes() {
        // (bytes, layout, kind, body, size, next)
        type Case<'a> = (&'a [u8], Layout, &'a [u8; 4], u64, u64, u64);
        let cases: [Case; 5] = [
            (b"data\x03\0\0\0abc\0", Layout::Riff, b"data", 8, 3, 12),
            (b"SSND\0\0\0\x04wxyz", Layout::Iff, b"SSND", 8, 4, 12),
            (b"\0\0\0\x0cmdatabcd", Layout::IsoBox, b"mdat", 8, 4, 12),
            (
                b"\0\0\0\x01mdat\0\0\0\0\0\0\0\x12ab",
                Layout::IsoBox,
                b"mdat",
                16,
                2,
                18,
            ),
            (b"\0\0\0\0free1234", Layout::IsoBox, b"free", 8, 4, 12),
        ];
        for (bytes, layout, kind, body, size, next) in cases {
            let len = bytes.len() as u64;
            let h = header_at(&mut Cursor::new(bytes), 0, len, layout)
                .unwrap()
                .unwrap();
            assert_eq!(
                (&h.kind, h.body, h.size, h.next(layout)),
                (kind, body, size, next),
                "{layout:?} {:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        // A box smaller than its header, and a header cut short, are the end.
        for bytes in [&b"\0\0\0\x04mdat\0\0\0\0"[..], b"\0\0\0\x01mdat\0\0"] {
            let len = bytes.len() as u64;
            assert_eq!(
                header_at(&mut Cursor::new(bytes), 0, len, Layout::IsoBox).unwrap(),
                None
            );
        }
    }
}
