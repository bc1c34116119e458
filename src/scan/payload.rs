//! Where a file's audio payload lies, a fingerprint of it that ignores tags, the exact length
//! the container declares (an MP3's LAME/Info header, an MP4 edit list), and whether the file
//! is cut short of what its headers promise.
//!
//! The fingerprint is what lets a moved or retagged file keep its identity: editing tags rewrites
//! ID3 frames, Vorbis comments, RIFF INFO or the MP4 `moov` box, but leaves the coded audio bytes
//! alone. Each container is walked just far enough to find those bytes (the MP4 `mdat` box, the
//! FLAC frames after the metadata blocks, the WAV `data` and AIFF `SSND` chunks, the MPEG frames
//! between leading ID3v2 and trailing ID3v1/APE/Lyrics3 tags). Reads are bounded: at most three
//! 64 KiB windows of the payload are hashed, whatever the file's size, so fingerprinting costs the
//! same for a 3 MB MP3 and a 300 MB FLAC. The payload length is hashed too.

use std::io::{self, Read, Seek, SeekFrom};

use xxhash_rust::xxh3::Xxh3;

use crate::model::Container;

/// Bytes hashed from each of the start, middle and end of the payload.
const WINDOW: u64 = 64 * 1024;
/// How far past leading tags an MPEG frame sync is searched for.
const SYNC_SEARCH: usize = 8 * 1024;

/// A byte range of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub offset: u64,
    pub len: u64,
}

/// What this module learns about one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    pub fingerprint: [u8; 16],
    /// The playable length in seconds when the container states it exactly: an MP3's Xing/Info
    /// and LAME headers (encoder delay and padding removed), or an MP4 edit list (AAC priming
    /// removed). `None` when only an estimate is available.
    pub exact_duration: Option<f64>,
    /// Set when the file is shorter than its own headers say: a copy that was cut off.
    pub truncated: Option<String>,
    /// Whether an embedded picture is present, found from the tag structure without reading the
    /// picture itself (covers of several megabytes are common).
    pub has_cover: bool,
}

/// Locates the payload, hashes it and reads MP3 length information.
pub fn inspect<F: Read + Seek>(
    file: &mut F,
    file_len: u64,
    container: Container,
) -> io::Result<Payload> {
    let located = locate(file, file_len, container)?;
    let extent = located.map_or(
        Extent {
            offset: 0,
            len: file_len,
        },
        |l| l.extent,
    );
    let fingerprint = hash_extent(file, extent)?;
    let mut truncated = located.and_then(|l| l.declared).and_then(|declared| {
        (declared > extent.len).then(|| {
            format!(
                "truncated: the audio data should be {declared} bytes but the file holds {}",
                extent.len
            )
        })
    });
    let exact_duration = match container {
        Container::Mp3 => {
            let xing = mp3_length(file, extent)?;
            if let Some(x) = &xing {
                // Allow for the Info frame itself and for tags the stream count may include.
                if let Some(bytes) = x.stream_bytes
                    && bytes > extent.len + 4096
                    && truncated.is_none()
                {
                    truncated = Some(format!(
                        "truncated: the MP3 header promises {bytes} bytes of audio but the file holds {}",
                        extent.len
                    ));
                }
            }
            xing.and_then(|x| {
                (x.sample_rate > 0).then(|| x.frames as f64 / f64::from(x.sample_rate))
            })
        }
        Container::Mp4 => mp4_edit_duration(file, file_len)?,
        Container::Flac => {
            if truncated.is_none() {
                truncated = flac_truncation(file, file_len, extent)?;
            }
            None
        }
        _ => None,
    };
    let has_cover = match container {
        Container::Mp3 | Container::Adts => id3v2_has_picture(file, 0, file_len)?,
        Container::Flac => flac_has_picture(file, file_len)?,
        Container::Mp4 => mp4_has_cover(file, file_len)?,
        // WAV and AIFF covers are rare; the tag reader reports those.
        Container::Wav | Container::Aiff => false,
    };
    Ok(Payload {
        fingerprint,
        exact_duration,
        truncated,
        has_cover,
    })
}

/// Where the payload lies, and how long the container says it should be when that differs from
/// what is there (a cut-off file).
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

/// Hashes the payload length plus up to three windows of it.
pub fn hash_extent<F: Read + Seek>(file: &mut F, extent: Extent) -> io::Result<[u8; 16]> {
    let mut hasher = Xxh3::new();
    hasher.update(&extent.len.to_le_bytes());
    let mut buf = vec![0u8; WINDOW as usize];
    let starts: Vec<u64> = if extent.len <= 3 * WINDOW {
        (0..extent.len.div_ceil(WINDOW))
            .map(|i| i * WINDOW)
            .collect()
    } else {
        vec![0, extent.len / 2 - WINDOW / 2, extent.len - WINDOW]
    };
    for start in starts {
        let want = WINDOW.min(extent.len - start) as usize;
        file.seek(SeekFrom::Start(extent.offset + start))?;
        let got = read_up_to(file, &mut buf[..want])?;
        hasher.update(&buf[..got]);
    }
    Ok(hasher.digest128().to_le_bytes())
}

/// Finds the audio payload of a file, or `None` when the structure is not what the container
/// promises (the caller then hashes the whole file).
pub fn locate<F: Read + Seek>(
    file: &mut F,
    file_len: u64,
    container: Container,
) -> io::Result<Option<Located>> {
    Ok(match container {
        Container::Mp3 | Container::Adts => mpeg_extent(file, file_len)?.map(Located::from),
        Container::Flac => flac_extent(file, file_len)?.map(Located::from),
        Container::Wav => riff_extent(file, file_len)?,
        Container::Aiff => aiff_extent(file, file_len)?,
        Container::Mp4 => mp4_extent(file, file_len)?,
    })
}

fn read_up_to<F: Read>(file: &mut F, buf: &mut [u8]) -> io::Result<usize> {
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

fn read_at<F: Read + Seek>(file: &mut F, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    file.seek(SeekFrom::Start(offset))?;
    read_up_to(file, buf)
}

/// Skips ID3v2 tags at `offset` (several may be stacked), returning where the next data starts.
fn skip_id3v2<F: Read + Seek>(file: &mut F, mut offset: u64, file_len: u64) -> io::Result<u64> {
    let mut head = [0u8; 10];
    while read_at(file, offset, &mut head)? == 10 && &head[..3] == b"ID3" {
        let size = syncsafe(&head[6..10]);
        let footer = if head[5] & 0x10 != 0 { 10 } else { 0 };
        let next = offset + 10 + size + footer;
        if next > file_len {
            break;
        }
        offset = next;
    }
    Ok(offset)
}

/// Where the second and later of several ID3v2 tags stacked at the start of a file lie
/// (`(from, to)`), when there is more than one: readers that agree with mutagen and TagLib read
/// the first, so the rest is hidden from the tag reader (see [`Spliced`]).
pub fn stacked_id3v2<F: Read + Seek>(
    file: &mut F,
    file_len: u64,
) -> io::Result<Option<(u64, u64)>> {
    let mut head = [0u8; 10];
    if read_at(file, 0, &mut head)? < 10 || &head[..3] != b"ID3" {
        return Ok(None);
    }
    let footer = if head[5] & 0x10 != 0 { 10 } else { 0 };
    let first_end = 10 + syncsafe(&head[6..10]) + footer;
    if first_end >= file_len {
        return Ok(None);
    }
    let last_end = skip_id3v2(file, first_end, file_len)?;
    Ok((last_end > first_end).then_some((first_end, last_end)))
}

/// A reader that shows a file with the bytes `hole.0..hole.1` left out.
pub struct Spliced<R> {
    inner: R,
    hole: (u64, u64),
    len: u64,
    pos: u64,
}

impl<R: Read + Seek> Spliced<R> {
    /// `len` is the whole file's length.
    pub fn new(inner: R, hole: (u64, u64), len: u64) -> io::Result<Spliced<R>> {
        let mut s = Spliced {
            inner,
            hole,
            len: len - (hole.1 - hole.0),
            pos: 0,
        };
        s.seek(SeekFrom::Start(0))?;
        Ok(s)
    }

    fn real(&self, pos: u64) -> u64 {
        if pos < self.hole.0 {
            pos
        } else {
            pos + (self.hole.1 - self.hole.0)
        }
    }
}

impl<R: Read + Seek> Read for Spliced<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Up to the hole, or from after it.
        let room = if self.pos < self.hole.0 {
            (self.hole.0 - self.pos) as usize
        } else {
            buf.len()
        };
        let take = buf.len().min(room);
        let n = self.inner.read(&mut buf[..take])?;
        self.pos += n as u64;
        if self.pos == self.hole.0 {
            self.inner.seek(SeekFrom::Start(self.hole.1))?;
        }
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for Spliced<R> {
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
        let real = self.real(self.pos);
        self.inner.seek(SeekFrom::Start(real))?;
        Ok(self.pos)
    }
}

fn syncsafe(b: &[u8]) -> u64 {
    b.iter()
        .fold(0u64, |acc, &x| (acc << 7) | u64::from(x & 0x7f))
}

/// MPEG audio (MP3 and ADTS AAC): everything between leading ID3v2 tags and trailing
/// ID3v1, APEv2 and Lyrics3v2 tags.
fn mpeg_extent<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Option<Extent>> {
    let start = skip_id3v2(file, 0, file_len)?;
    let mut end = file_len;
    // Trailing tags can come in any order; peel them until none is left.
    loop {
        let before = end;
        if end >= start + 128 {
            let mut tag = [0u8; 3];
            read_at(file, end - 128, &mut tag)?;
            if &tag == b"TAG" {
                end -= 128;
            }
        }
        if end >= start + 32 {
            let mut footer = [0u8; 32];
            read_at(file, end - 32, &mut footer)?;
            if &footer[..8] == b"APETAGEX" {
                let size = u64::from(u32::from_le_bytes(footer[12..16].try_into().unwrap()));
                let flags = u32::from_le_bytes(footer[20..24].try_into().unwrap());
                let header = if flags & 0x8000_0000 != 0 { 32 } else { 0 };
                if size + header <= end - start {
                    end -= size + header;
                }
            }
        }
        if end >= start + 15 {
            let mut marker = [0u8; 15];
            read_at(file, end - 15, &mut marker)?;
            if &marker[6..] == b"LYRICS200"
                && let Some(size) = std::str::from_utf8(&marker[..6])
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                && size + 15 <= end - start
            {
                end -= size + 15;
            }
        }
        if end == before {
            break;
        }
    }
    Ok((end > start).then_some(Extent {
        offset: start,
        len: end - start,
    }))
}

/// FLAC: the frames after the `fLaC` marker and its metadata blocks.
fn flac_extent<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Option<Extent>> {
    let start = skip_id3v2(file, 0, file_len)?;
    let mut magic = [0u8; 4];
    if read_at(file, start, &mut magic)? < 4 || &magic != b"fLaC" {
        return Ok(None);
    }
    let mut offset = start + 4;
    // 128 is the number of block types; a well-formed file has far fewer blocks, and the bound
    // keeps a hostile chain of empty blocks from costing more than a few reads.
    for _ in 0..1024 {
        let mut header = [0u8; 4];
        if read_at(file, offset, &mut header)? < 4 {
            return Ok(None);
        }
        let len = u64::from(u32::from_be_bytes([0, header[1], header[2], header[3]]));
        offset += 4 + len;
        if offset > file_len {
            return Ok(None);
        }
        if header[0] & 0x80 != 0 {
            let (_, end) = trailing_id3v1(file, offset, file_len)?;
            return Ok(Some(Extent {
                offset,
                len: end - offset,
            }));
        }
    }
    Ok(None)
}

/// Compares the sample count STREAMINFO promises with where the last complete-looking frame
/// header near the end of the file says the audio stops.
fn flac_truncation<F: Read + Seek>(
    file: &mut F,
    file_len: u64,
    extent: Extent,
) -> io::Result<Option<String>> {
    let start = skip_id3v2(file, 0, file_len)?;
    let mut info = [0u8; 4 + 4 + 34];
    if read_at(file, start, &mut info)? < info.len() || &info[..4] != b"fLaC" || info[4] & 0x7f != 0
    {
        return Ok(None);
    }
    let si = &info[8..];
    let fixed_block = u64::from(u16::from_be_bytes([si[0], si[1]]));
    let total = (u64::from(si[13] & 0x0f) << 32)
        | u64::from(u32::from_be_bytes(si[14..18].try_into().unwrap()));
    if total == 0 {
        return Ok(None);
    }
    let tail_len = extent.len.min(64 * 1024);
    let mut tail = vec![0u8; tail_len as usize];
    let got = read_at(file, extent.offset + extent.len - tail_len, &mut tail)?;
    tail.truncate(got);
    let mut end_sample = None;
    for i in (0..tail.len().saturating_sub(16)).rev() {
        if tail[i] == 0xff
            && tail[i + 1] & 0xfe == 0xf8
            && let Some(end) = flac_frame_end(&tail[i..], fixed_block)
        {
            end_sample = Some(end);
            break;
        }
    }
    Ok(match end_sample {
        Some(end) if end + fixed_block < total => Some(format!(
            "truncated: the FLAC header promises {total} samples but the audio stops near sample {end}"
        )),
        _ => None,
    })
}

/// Parses a FLAC frame header (checked by its CRC-8) and returns the sample just past the frame.
fn flac_frame_end(h: &[u8], fixed_block: u64) -> Option<u64> {
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

fn trailing_id3v1<F: Read + Seek>(
    file: &mut F,
    start: u64,
    file_len: u64,
) -> io::Result<(bool, u64)> {
    if file_len >= start + 128 {
        let mut tag = [0u8; 3];
        read_at(file, file_len - 128, &mut tag)?;
        if &tag == b"TAG" {
            return Ok((true, file_len - 128));
        }
    }
    Ok((false, file_len))
}

/// Walks IFF-style chunks (`id`, size, body padded to even length) from `offset`, returning the
/// body extent of the first chunk named `want`.
fn find_chunk<F: Read + Seek>(
    file: &mut F,
    mut offset: u64,
    end: u64,
    want: &[u8; 4],
    big_endian: bool,
) -> io::Result<Option<Located>> {
    while offset + 8 <= end {
        let mut head = [0u8; 8];
        if read_at(file, offset, &mut head)? < 8 {
            return Ok(None);
        }
        let raw = [head[4], head[5], head[6], head[7]];
        let size = u64::from(if big_endian {
            u32::from_be_bytes(raw)
        } else {
            u32::from_le_bytes(raw)
        });
        let body = offset + 8;
        if &head[..4] == want {
            // A truncated file, or a streaming writer's 0xFFFFFFFF placeholder: take what is there.
            let len = size.min(end.saturating_sub(body));
            let declared = (size > len && size != 0xFFFF_FFFF).then_some(size);
            return Ok(Some(Located {
                extent: Extent { offset: body, len },
                declared,
            }));
        }
        offset = body + size + (size & 1);
    }
    Ok(None)
}

/// Four bytes of a file to read differently: where, and what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patch {
    pub offset: u64,
    pub bytes: [u8; 4],
}

/// What a WAV's header must say for readers that trust it (the tag reader, the decoder):
/// - a `data` chunk that says 0 bytes, or the 0xFFFFFFFF placeholder, while audio follows (a
///   recorder or stream writer that never went back to fill the size in): the rest of the file;
/// - an RF64 file (broadcast recorders; sizes in its `ds64` chunk): shown as plain RIFF, with
///   the sizes from `ds64` (a `data` chunk past 4 GiB is cut to what 32 bits can say).
///
/// Empty for any other file.
pub fn wav_header_patches<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Vec<Patch>> {
    let mut head = [0u8; 12];
    if read_at(file, 0, &mut head)? < 12 || &head[8..12] != b"WAVE" {
        return Ok(Vec::new());
    }
    let rf64 = match &head[..4] {
        b"RIFF" => false,
        b"RF64" => true,
        _ => return Ok(Vec::new()),
    };
    let mut patches = Vec::new();
    let mut data_size_64 = None;
    if rf64 {
        patches.push(Patch {
            offset: 0,
            bytes: *b"RIFF",
        });
        patches.push(Patch {
            offset: 4,
            bytes: u32::try_from(file_len - 8)
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        });
    }
    let mut offset = 12;
    while offset + 8 <= file_len {
        let mut chunk = [0u8; 8];
        if read_at(file, offset, &mut chunk)? < 8 {
            break;
        }
        let size = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        let body = offset + 8;
        if rf64 && &chunk[..4] == b"ds64" {
            let mut ds = [0u8; 16];
            if read_at(file, body, &mut ds)? == 16 {
                data_size_64 = Some(u64::from_le_bytes(ds[8..16].try_into().expect("8 bytes")));
            }
        }
        if &chunk[..4] == b"data" {
            let rest = file_len - body;
            let wanted = match data_size_64 {
                Some(d) if size == u32::MAX => Some(d.min(rest)),
                _ if (size == 0 || size == u32::MAX) && rest > 0 => Some(rest),
                _ => None,
            };
            if let Some(w) = wanted {
                let fixed = u32::try_from(w).unwrap_or(u32::MAX - 1) & !1;
                patches.push(Patch {
                    offset: offset + 4,
                    bytes: fixed.to_le_bytes(),
                });
            }
            break;
        }
        offset = body + u64::from(size) + u64::from(size & 1);
    }
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

fn riff_extent<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Option<Located>> {
    let mut head = [0u8; 12];
    if read_at(file, 0, &mut head)? < 12 || &head[8..12] != b"WAVE" {
        return Ok(None);
    }
    if &head[..4] != b"RIFF" && &head[..4] != b"RF64" {
        return Ok(None);
    }
    find_chunk(file, 12, file_len, b"data", false)
}

fn aiff_extent<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Option<Located>> {
    let mut head = [0u8; 12];
    if read_at(file, 0, &mut head)? < 12 || &head[..4] != b"FORM" {
        return Ok(None);
    }
    if &head[8..12] != b"AIFF" && &head[8..12] != b"AIFC" {
        return Ok(None);
    }
    find_chunk(file, 12, file_len, b"SSND", true)
}

/// MP4: the largest top-level `mdat` box.
fn mp4_extent<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Option<Located>> {
    Ok(mp4_children(file, 0, file_len)?
        .into_iter()
        .filter(|b| &b.kind == b"mdat")
        .max_by_key(|b| b.len)
        .map(|b| Located {
            extent: Extent {
                offset: b.offset,
                len: b.len,
            },
            declared: (b.declared > b.len).then_some(b.declared),
        }))
}

/// One MP4 box: its type, where its body starts, how long the body is within its parent, and
/// how long its header says it is (more when the file is cut short).
struct Mp4Box {
    kind: [u8; 4],
    offset: u64,
    len: u64,
    declared: u64,
}

/// The child boxes of an MP4 box body. Bounded in count, and a box that claims more than its
/// parent holds is cut to fit.
fn mp4_children<F: Read + Seek>(file: &mut F, start: u64, end: u64) -> io::Result<Vec<Mp4Box>> {
    let mut out = Vec::new();
    let mut offset = start;
    while offset + 8 <= end && out.len() < 4096 {
        let mut head = [0u8; 16];
        let got = read_at(file, offset, &mut head)?;
        if got < 8 {
            break;
        }
        let size32 = u64::from(u32::from_be_bytes(head[..4].try_into().unwrap()));
        let (header, size) = match size32 {
            0 => (8, end - offset),
            1 if got >= 16 => (16, u64::from_be_bytes(head[8..16].try_into().unwrap())),
            1 => break,
            s => (8, s),
        };
        if size < header {
            break;
        }
        out.push(Mp4Box {
            kind: head[4..8].try_into().unwrap(),
            offset: offset + header,
            len: (size - header).min(end.saturating_sub(offset + header)),
            declared: size - header,
        });
        offset = offset.saturating_add(size);
    }
    Ok(out)
}

fn mp4_child<F: Read + Seek>(
    file: &mut F,
    parent: (u64, u64),
    kind: &[u8; 4],
) -> io::Result<Option<(u64, u64)>> {
    Ok(mp4_children(file, parent.0, parent.0 + parent.1)?
        .into_iter()
        .find(|b| &b.kind == kind)
        .map(|b| (b.offset, b.len)))
}

/// The playable length of the first sound track, in seconds (see [`mp4_trim`]).
fn mp4_edit_duration<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Option<f64>> {
    Ok(mp4_trim(file, file_len)?.map(|t| t.frames as f64 / f64::from(t.timescale)))
}

/// Which decoded frames of an MP4 sound track are the music: `skip` priming frames, then
/// `frames` frames, both in the track's media timescale (the sample rate in practice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mp4Trim {
    pub skip: u64,
    pub frames: u64,
    pub timescale: u32,
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().unwrap())
}

fn be_u64(b: &[u8]) -> u64 {
    u64::from_be_bytes(b[..8].try_into().unwrap())
}

/// The gapless trim of the first sound track. The edit list is the standard place (ffmpeg and
/// iTunes write it): its first non-empty edit's media time is the priming, and the sum of the
/// non-empty edits, converted from the movie's timescale to the track's, is the length. When
/// the edit list trims nothing, an iTunes `iTunSMPB` atom (delay, padding, length) is used.
/// Decoders that do not apply these (symphonia among them) play the priming as silence.
pub fn mp4_trim<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Option<Mp4Trim>> {
    let Some(moov) = mp4_child(file, (0, file_len), b"moov")? else {
        return Ok(None);
    };
    let Some(mvhd) = mp4_child(file, moov, b"mvhd")? else {
        return Ok(None);
    };
    let mut head = [0u8; 24];
    if read_at(file, mvhd.0, &mut head)? < 24 {
        return Ok(None);
    }
    let movie_scale = if head[0] == 1 {
        be_u32(&head[20..])
    } else {
        be_u32(&head[12..])
    };
    let smpb = mp4_itunsmpb(file, moov)?;
    let Some((trak, mdia)) = mp4_sound_track(file, moov)? else {
        return Ok(None);
    };
    let Some(mdhd) = mp4_child(file, mdia, b"mdhd")? else {
        return Ok(None);
    };
    let mut mh = [0u8; 32];
    if read_at(file, mdhd.0, &mut mh)? < 32 {
        return Ok(None);
    }
    let (media_scale, media_len) = if mh[0] == 1 {
        (be_u32(&mh[20..]), be_u64(&mh[24..]))
    } else {
        (be_u32(&mh[12..]), u64::from(be_u32(&mh[16..])))
    };
    if media_scale == 0 {
        return Ok(None);
    }
    let edit = match mp4_child(file, trak, b"edts")? {
        Some(edts) => match mp4_child(file, edts, b"elst")? {
            Some(elst) => mp4_edits(file, elst)?,
            None => None,
        },
        None => None,
    };
    if let Some((skip, duration)) = edit
        && movie_scale > 0
        && duration > 0
    {
        let frames =
            (u128::from(duration) * u128::from(media_scale) / u128::from(movie_scale)) as u64;
        let trims = skip > 0 || frames < media_len;
        if trims || smpb.is_none() {
            return Ok(Some(Mp4Trim {
                skip,
                frames,
                timescale: media_scale,
            }));
        }
    }
    Ok(smpb.map(|(skip, frames)| Mp4Trim {
        skip,
        frames,
        timescale: media_scale,
    }))
}

/// The sample entry type of an MP4 file's first sound track (`mp4a`, `alac`, `ac-3`, `Opus`...),
/// to name a codec the tag reader does not know.
pub fn mp4_sound_codec<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Option<[u8; 4]>> {
    let Some(moov) = mp4_child(file, (0, file_len), b"moov")? else {
        return Ok(None);
    };
    let Some((_, mdia)) = mp4_sound_track(file, moov)? else {
        return Ok(None);
    };
    let Some(minf) = mp4_child(file, mdia, b"minf")? else {
        return Ok(None);
    };
    let Some(stbl) = mp4_child(file, minf, b"stbl")? else {
        return Ok(None);
    };
    let Some(stsd) = mp4_child(file, stbl, b"stsd")? else {
        return Ok(None);
    };
    // Version and flags, entry count, then the first entry's size and type.
    let mut head = [0u8; 16];
    Ok((read_at(file, stsd.0, &mut head)? == 16).then(|| [head[12], head[13], head[14], head[15]]))
}

/// A track's `trak` and `mdia` boxes (body offset and length).
type Mp4Track = ((u64, u64), (u64, u64));

/// The first sound track in `moov` (handler `soun`).
fn mp4_sound_track<F: Read + Seek>(file: &mut F, moov: (u64, u64)) -> io::Result<Option<Mp4Track>> {
    for b in mp4_children(file, moov.0, moov.0 + moov.1)? {
        if &b.kind != b"trak" {
            continue;
        }
        let trak = (b.offset, b.len);
        let Some(mdia) = mp4_child(file, trak, b"mdia")? else {
            continue;
        };
        let Some(hdlr) = mp4_child(file, mdia, b"hdlr")? else {
            continue;
        };
        let mut handler = [0u8; 12];
        if read_at(file, hdlr.0, &mut handler)? == 12 && &handler[8..12] == b"soun" {
            return Ok(Some((trak, mdia)));
        }
    }
    Ok(None)
}

/// The first non-empty edit's media time and the total duration of non-empty edits.
fn mp4_edits<F: Read + Seek>(file: &mut F, elst: (u64, u64)) -> io::Result<Option<(u64, u64)>> {
    let mut buf = vec![0u8; elst.1.min(8 + 20 * 1024) as usize];
    let got = read_at(file, elst.0, &mut buf)?;
    let buf = &buf[..got];
    if buf.len() < 8 {
        return Ok(None);
    }
    let v1 = buf[0] == 1;
    let count = be_u32(&buf[4..]) as usize;
    let entry = if v1 { 20 } else { 12 };
    let mut total: u64 = 0;
    let mut skip = None;
    for i in 0..count.min(1024) {
        let Some(e) = buf.get(8 + i * entry..8 + (i + 1) * entry) else {
            break;
        };
        let (duration, media_time) = if v1 {
            (be_u64(e), i64::from_be_bytes(e[8..16].try_into().unwrap()))
        } else {
            (u64::from(be_u32(e)), i64::from(be_u32(&e[4..]) as i32))
        };
        if media_time >= 0 {
            skip.get_or_insert(media_time as u64);
            total = total.saturating_add(duration);
        }
    }
    Ok(skip.map(|s| (s, total)))
}

/// `iTunSMPB` (moov/udta/meta/ilst/----): " 00000000 DELAY PADDING LENGTH ..." in hex.
fn mp4_itunsmpb<F: Read + Seek>(file: &mut F, moov: (u64, u64)) -> io::Result<Option<(u64, u64)>> {
    let Some(udta) = mp4_child(file, moov, b"udta")? else {
        return Ok(None);
    };
    let Some(meta) = mp4_child(file, udta, b"meta")? else {
        return Ok(None);
    };
    // `meta` is a full box: four bytes of version and flags before its children.
    let meta = (meta.0 + 4, meta.1.saturating_sub(4));
    let Some(ilst) = mp4_child(file, meta, b"ilst")? else {
        return Ok(None);
    };
    for item in mp4_children(file, ilst.0, ilst.0 + ilst.1)? {
        if &item.kind != b"----" || item.len > 4096 {
            continue;
        }
        let parts = mp4_children(file, item.offset, item.offset + item.len)?;
        let mut named = false;
        let mut text = None;
        for part in parts {
            let mut body = vec![0u8; part.len as usize];
            let got = read_at(file, part.offset, &mut body)?;
            body.truncate(got);
            match &part.kind {
                b"name" if body.len() >= 4 => named = &body[4..] == b"iTunSMPB",
                b"data" if body.len() >= 8 => {
                    text = Some(String::from_utf8_lossy(&body[8..]).into_owned())
                }
                _ => {}
            }
        }
        if let (true, Some(text)) = (named, text) {
            let fields: Vec<u64> = text
                .split_whitespace()
                .map_while(|f| u64::from_str_radix(f, 16).ok())
                .collect();
            if let [_, delay, _padding, length, ..] = fields[..]
                && length > 0
            {
                return Ok(Some((delay, length)));
            }
        }
    }
    Ok(None)
}

/// Whether the ID3v2 tags at `offset` hold a picture frame (APIC, or PIC in ID3v2.2). Only the
/// frame headers are read.
fn id3v2_has_picture<F: Read + Seek>(
    file: &mut F,
    mut offset: u64,
    file_len: u64,
) -> io::Result<bool> {
    let mut head = [0u8; 10];
    while read_at(file, offset, &mut head)? == 10 && &head[..3] == b"ID3" {
        let version = head[3];
        let flags = head[5];
        let size = syncsafe(&head[6..10]);
        let end = (offset + 10 + size).min(file_len);
        let mut at = offset + 10;
        if flags & 0x40 != 0 && version >= 3 {
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
                3 => u64::from(u32::from_be_bytes(fh[4..8].try_into().unwrap())),
                _ => syncsafe(&fh[4..8]),
            };
            at += header_len + frame_len;
        }
        let footer = if flags & 0x10 != 0 { 10 } else { 0 };
        offset = offset + 10 + size + footer;
    }
    Ok(false)
}

/// Whether a FLAC file has a PICTURE metadata block.
fn flac_has_picture<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<bool> {
    if id3v2_has_picture(file, 0, file_len)? {
        return Ok(true);
    }
    let mut offset = skip_id3v2(file, 0, file_len)?;
    let mut magic = [0u8; 4];
    if read_at(file, offset, &mut magic)? < 4 || &magic != b"fLaC" {
        return Ok(false);
    }
    offset += 4;
    for _ in 0..1024 {
        let mut header = [0u8; 4];
        if read_at(file, offset, &mut header)? < 4 {
            break;
        }
        if header[0] & 0x7f == 6 {
            return Ok(true);
        }
        offset += 4 + u64::from(u32::from_be_bytes([0, header[1], header[2], header[3]]));
        if header[0] & 0x80 != 0 || offset > file_len {
            break;
        }
    }
    Ok(false)
}

/// Whether an MP4 file has iTunes cover art (`moov/udta/meta/ilst/covr`).
fn mp4_has_cover<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<bool> {
    let Some(moov) = mp4_child(file, (0, file_len), b"moov")? else {
        return Ok(false);
    };
    let Some(udta) = mp4_child(file, moov, b"udta")? else {
        return Ok(false);
    };
    let Some(meta) = mp4_child(file, udta, b"meta")? else {
        return Ok(false);
    };
    // iTunes writes `meta` as a full box (4 bytes of version and flags before its children);
    // QuickTime-style files do not.
    let mut first = [0u8; 8];
    read_at(file, meta.0, &mut first)?;
    let meta = if &first[4..8] == b"hdlr" {
        meta
    } else {
        (meta.0 + 4, meta.1.saturating_sub(4))
    };
    let Some(ilst) = mp4_child(file, meta, b"ilst")? else {
        return Ok(false);
    };
    Ok(mp4_child(file, ilst, b"covr")?.is_some_and(|(_, len)| len > 16))
}

/// What an MP3's Xing/Info and LAME headers say about the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Xing {
    /// Decoded frames (samples per channel), encoder delay and padding removed.
    pub frames: u64,
    pub sample_rate: u32,
    /// The stream size the encoder wrote, when it recorded one.
    pub stream_bytes: Option<u64>,
}

/// Reads the Xing/Info and LAME headers of the first MPEG frame.
fn mp3_length<F: Read + Seek>(file: &mut F, extent: Extent) -> io::Result<Option<Xing>> {
    let mut buf = vec![0u8; SYNC_SEARCH.min(extent.len as usize)];
    let got = read_at(file, extent.offset, &mut buf)?;
    Ok(parse_xing(&buf[..got]))
}

/// Parses the first frame's header and its Xing/Info and LAME extensions from `buf`, which starts
/// at or a little before the first frame.
pub fn parse_xing(buf: &[u8]) -> Option<Xing> {
    let sync = buf
        .windows(4)
        .position(|w| w[0] == 0xff && w[1] & 0xe0 == 0xe0 && frame_header(w).is_some())?;
    let header = &buf[sync..];
    let (version1, sample_rate, mono) = frame_header(header)?;
    let side_info = match (version1, mono) {
        (true, false) => 32,
        (true, true) => 17,
        (false, false) => 17,
        (false, true) => 9,
    };
    let xing = header.get(4 + side_info..)?;
    if !(xing.starts_with(b"Xing") || xing.starts_with(b"Info")) {
        return None;
    }
    let flags = u32::from_be_bytes(xing.get(4..8)?.try_into().ok()?);
    if flags & 1 == 0 {
        return None;
    }
    let frames = u64::from(u32::from_be_bytes(xing.get(8..12)?.try_into().ok()?));
    let mut at = 12;
    let mut stream_bytes = None;
    if flags & 2 != 0 {
        stream_bytes = Some(u64::from(u32::from_be_bytes(
            xing.get(12..16)?.try_into().ok()?,
        )));
        at += 4;
    }
    if flags & 4 != 0 {
        at += 100;
    }
    if flags & 8 != 0 {
        at += 4;
    }
    let samples_per_frame: u64 = if version1 { 1152 } else { 576 };
    let mut total = frames * samples_per_frame;
    if let Some(lame) = xing.get(at..at + 24) {
        // The LAME extension carries encoder delay and padding as two 12-bit numbers. Decoders
        // also drop the 529-sample decoder delay, which this count already reflects, because
        // the Info frame itself (not counted in `frames`) is not audio.
        let d = &lame[21..24];
        let delay = (u64::from(d[0]) << 4) | (u64::from(d[1]) >> 4);
        let padding = ((u64::from(d[1]) & 0x0f) << 8) | u64::from(d[2]);
        if delay + padding < total {
            total -= delay + padding;
        }
    }
    Some(Xing {
        frames: total,
        sample_rate,
        stream_bytes,
    })
}

/// Decodes an MPEG layer III frame header: (is MPEG-1, sample rate, is mono).
fn frame_header(h: &[u8]) -> Option<(bool, u32, bool)> {
    if h.len() < 4 || h[0] != 0xff || h[1] & 0xe0 != 0xe0 {
        return None;
    }
    let version = (h[1] >> 3) & 0b11;
    let layer = (h[1] >> 1) & 0b11;
    if version == 0b01 || layer != 0b01 {
        return None;
    }
    let bitrate_index = h[2] >> 4;
    let rate_index = (h[2] >> 2) & 0b11;
    if bitrate_index == 0b1111 || rate_index == 0b11 {
        return None;
    }
    let base = [44100, 48000, 32000][rate_index as usize];
    let sample_rate = match version {
        0b11 => base,
        0b10 => base / 2,
        _ => base / 4,
    };
    let mono = h[3] >> 6 == 0b11;
    Some((version == 0b11, sample_rate, mono))
}

#[cfg(test)]
mod tests {

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
        let hole = stacked_id3v2(&mut std::io::Cursor::new(&file), len)
            .unwrap()
            .expect("three tags");
        assert_eq!(hole, (15, 15 + 17 + 15));
        let mut view = Spliced::new(std::io::Cursor::new(&file), hole, len).unwrap();
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
            stacked_id3v2(&mut std::io::Cursor::new(&one), one.len() as u64)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn an_unfinished_wav_data_size_is_read_as_the_rest_of_the_file() {
        let mut wav = b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0".to_vec();
        wav.extend([0u8; 16]);
        wav.extend(b"data\0\0\0\0");
        wav.extend([7u8; 100]);
        let len = wav.len() as u64;
        let patches = wav_header_patches(&mut std::io::Cursor::new(&wav), len).unwrap();
        assert_eq!(
            patches,
            [Patch {
                offset: 40,
                bytes: 100u32.to_le_bytes()
            }]
        );
        // Read in pieces that split the patched bytes, and after a seek: the patch shows.
        let mut r = Patched::new(std::io::Cursor::new(&wav), patches).unwrap();
        let mut got = Vec::new();
        let mut piece = [0u8; 3];
        loop {
            let n = r.read(&mut piece).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&piece[..n]);
        }
        assert_eq!(&got[40..44], &100u32.to_le_bytes());
        assert_eq!(&got[..40], &wav[..40]);
        r.seek(SeekFrom::Start(41)).unwrap();
        let mut two = [0u8; 2];
        r.read_exact(&mut two).unwrap();
        assert_eq!(two, [0, 0]);
        // A finished file is left alone.
        wav[40..44].copy_from_slice(&100u32.to_le_bytes());
        assert!(
            wav_header_patches(&mut std::io::Cursor::new(&wav), len)
                .unwrap()
                .is_empty()
        );
        // RF64: shown as RIFF, with the data size from ds64.
        let mut rf = b"RF64\xff\xff\xff\xffWAVEds64\x1c\0\0\0".to_vec();
        rf.extend(0u64.to_le_bytes());
        rf.extend(100u64.to_le_bytes());
        rf.extend(0u64.to_le_bytes());
        rf.extend([0u8; 4]);
        let data_at = rf.len() as u64;
        rf.extend(b"data\xff\xff\xff\xff");
        rf.extend([7u8; 100]);
        let len = rf.len() as u64;
        let patches = wav_header_patches(&mut std::io::Cursor::new(&rf), len).unwrap();
        let mut r = Patched::new(std::io::Cursor::new(&rf), patches).unwrap();
        let mut view = Vec::new();
        r.read_to_end(&mut view).unwrap();
        assert_eq!(&view[..4], b"RIFF");
        assert_eq!(&view[4..8], &((len - 8) as u32).to_le_bytes());
        let at = data_at as usize + 4;
        assert_eq!(&view[at..at + 4], &100u32.to_le_bytes());
    }

    use super::*;
    use std::io::Cursor;

    fn extent(bytes: &[u8], container: Container) -> Option<Extent> {
        let len = bytes.len() as u64;
        locate(&mut Cursor::new(bytes), len, container)
            .unwrap()
            .map(|l| l.extent)
    }

    fn id3v2(body: usize) -> Vec<u8> {
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

    #[test]
    fn mpeg_payload_excludes_id3v2_id3v1_and_ape() {
        let audio = vec![0xAB; 1000];
        let mut file = id3v2(300);
        file.extend(&audio);
        let mut ape = vec![0u8; 32];
        ape[..8].copy_from_slice(b"APETAGEX");
        ape[12..16].copy_from_slice(&(32u32 + 20).to_le_bytes());
        file.extend(std::iter::repeat_n(b'a', 20));
        file.extend(&ape);
        let mut v1 = vec![0u8; 128];
        v1[..3].copy_from_slice(b"TAG");
        file.extend(&v1);
        assert_eq!(
            extent(&file, Container::Mp3),
            Some(Extent {
                offset: 310,
                len: 1000
            })
        );
    }

    #[test]
    fn tag_edits_do_not_change_the_fingerprint() {
        let audio: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let fp = |tag_len: usize| {
            let mut file = id3v2(tag_len);
            file.extend(&audio);
            let len = file.len() as u64;
            inspect(&mut Cursor::new(file), len, Container::Mp3)
                .unwrap()
                .fingerprint
        };
        assert_eq!(fp(10), fp(5000));
        let mut other = audio.clone();
        other[150_000] ^= 1;
        let mut file = id3v2(10);
        file.extend(&other);
        let len = file.len() as u64;
        let changed = inspect(&mut Cursor::new(file), len, Container::Mp3)
            .unwrap()
            .fingerprint;
        assert_ne!(
            changed,
            fp(10),
            "a change in the middle window must change the fingerprint"
        );
    }

    #[test]
    fn riff_and_aiff_chunks() {
        let mut wav = b"RIFF\0\0\0\0WAVE".to_vec();
        wav.extend(b"LIST\x03\0\0\0abc\0"); // odd size, padded
        wav.extend(b"data\x04\0\0\0wxyz");
        assert_eq!(
            extent(&wav, Container::Wav),
            Some(Extent { offset: 32, len: 4 })
        );

        let mut aiff = b"FORM\0\0\0\0AIFF".to_vec();
        aiff.extend(b"NAME\0\0\0\x02hi");
        aiff.extend(b"SSND\0\0\0\x10");
        aiff.extend([0u8; 16]);
        assert_eq!(
            extent(&aiff, Container::Aiff),
            Some(Extent {
                offset: 30,
                len: 16
            })
        );
    }

    #[test]
    fn absurd_chunk_sizes_are_clamped_not_trusted() {
        let mut wav = b"RIFF\0\0\0\0WAVE".to_vec();
        wav.extend(b"data\xf0\xff\xff\x7f1234");
        assert_eq!(
            extent(&wav, Container::Wav),
            Some(Extent { offset: 20, len: 4 })
        );
        let len = wav.len() as u64;
        let p = inspect(&mut Cursor::new(&wav), len, Container::Wav).unwrap();
        assert!(p.truncated.unwrap().contains("truncated"));
        let mut wav = b"RIFF\0\0\0\0WAVE".to_vec();
        wav.extend(b"fmt \xf0\xff\xff\x7f1234");
        assert_eq!(extent(&wav, Container::Wav), None);
    }

    #[test]
    fn flac_blocks_and_mp4_boxes() {
        let mut flac = b"fLaC".to_vec();
        flac.extend([0x00, 0, 0, 2, 1, 2]); // STREAMINFO stand-in, not last
        flac.extend([0x84, 0, 0, 1, 9]); // last block
        flac.extend(b"frames");
        assert_eq!(
            extent(&flac, Container::Flac),
            Some(Extent { offset: 15, len: 6 })
        );
        assert_eq!(extent(b"fLaC\x00\x00\xff\xff", Container::Flac), None);

        let mut mp4 = b"\0\0\0\x0cftypM4A ".to_vec();
        mp4.extend(b"\0\0\0\x0cmdatabcd");
        mp4.extend(b"\0\0\0\x08moov");
        assert_eq!(
            extent(&mp4, Container::Mp4),
            Some(Extent { offset: 20, len: 4 })
        );
        // A zero-sized box must not loop forever.
        assert_eq!(extent(b"\0\0\0\x04mdat\0\0\0\0", Container::Mp4), None);
    }

    #[test]
    fn lame_header_gives_the_exact_length() {
        // MPEG-1 layer III, 128 kbps, 44.1 kHz, stereo.
        let mut frame = vec![0xff, 0xfb, 0x90, 0x00];
        frame.extend([0u8; 32]);
        frame.extend(b"Info");
        frame.extend(1u32.to_be_bytes()); // frames field only
        frame.extend(40u32.to_be_bytes());
        let mut lame = b"LAME3.100".to_vec();
        lame.extend([0u8; 12]);
        // delay 576, padding 1404
        lame.extend([
            (576 >> 4) as u8,
            (((576 & 0xf) << 4) | (1404 >> 8)) as u8,
            (1404 & 0xff) as u8,
        ]);
        frame.extend(lame);
        assert_eq!(
            parse_xing(&frame),
            Some(Xing {
                frames: 40 * 1152 - 576 - 1404,
                sample_rate: 44100,
                stream_bytes: None
            })
        );
        assert_eq!(parse_xing(b"no frame here"), None);
    }
}
