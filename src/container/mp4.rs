//! MP4 (ISO base media, .m4a): boxes read through the shared header reader, the largest `mdat`
//! (the coded audio), the first sound track and its sample entry type, the gapless trim (edit
//! list, or iTunes' `iTunSMPB`), whether `ilst` holds cover art; and [`Boxes`], which builds
//! boxes in memory for the .m4a writer (`convert::mp4`).

use std::io::{self, Read, Seek};

use super::{Extent, Header, Layout, Located, header_at, read_at};

/// At most this many children of one box are read.
const MAX_CHILDREN: usize = 4096;

/// One MP4 box: its type, where its body starts, how long the body is within its parent, and
/// how long its header says it is (more when the file is cut short).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mp4Box {
    pub kind: [u8; 4],
    /// Where its header starts.
    pub start: u64,
    pub offset: u64,
    pub len: u64,
    pub declared: u64,
}

impl Mp4Box {
    fn span(&self) -> (u64, u64) {
        (self.offset, self.len)
    }
}

/// The child boxes of an MP4 box body (`start..end`). Bounded in count, and a box that claims
/// more than its parent holds is cut to fit.
pub fn children<F: Read + Seek>(file: &mut F, start: u64, end: u64) -> io::Result<Vec<Mp4Box>> {
    let mut out = Vec::new();
    let mut offset = start;
    while out.len() < MAX_CHILDREN {
        let Some(h): Option<Header> = header_at(file, offset, end, Layout::IsoBox)? else {
            break;
        };
        out.push(Mp4Box {
            kind: h.kind,
            start: h.start,
            offset: h.body,
            len: h.len_within(end),
            declared: h.size,
        });
        offset = h.next(Layout::IsoBox);
    }
    Ok(out)
}

/// The first child of `parent` (body offset, length) of type `kind`.
pub fn child<F: Read + Seek>(
    file: &mut F,
    parent: (u64, u64),
    kind: &[u8; 4],
) -> io::Result<Option<(u64, u64)>> {
    Ok(children(file, parent.0, parent.0 + parent.1)?
        .into_iter()
        .find(|b| &b.kind == kind)
        .map(|b| b.span()))
}

/// The boxes in bytes held in memory: (type, body). A box that claims more than there is is cut
/// to what there is.
pub fn children_in(data: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut cursor = io::Cursor::new(data);
    children(&mut cursor, 0, data.len() as u64)
        .unwrap_or_default()
        .into_iter()
        .map(|b| {
            let at = b.offset as usize;
            (b.kind, &data[at..at + b.len as usize])
        })
        .collect()
}

/// The largest top-level `mdat` box.
pub fn mdat_extent<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Option<Located>> {
    Ok(children(file, 0, file_len)?
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

/// `moov/udta/meta/ilst`, if there is one.
fn ilst<F: Read + Seek>(file: &mut F, moov: (u64, u64)) -> io::Result<Option<(u64, u64)>> {
    let Some(udta) = child(file, moov, b"udta")? else {
        return Ok(None);
    };
    let Some(meta) = child(file, udta, b"meta")? else {
        return Ok(None);
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
    child(file, meta, b"ilst")
}

/// A `meta` box holding `ilst` outside `moov/udta`: directly in `moov` (`kids` are its
/// children), else in a track's `udta`.
fn meta_elsewhere<F: Read + Seek>(file: &mut F, kids: &[Mp4Box]) -> io::Result<Option<Mp4Box>> {
    let has_ilst = |file: &mut F, meta: &Mp4Box| -> io::Result<bool> {
        Ok(ilst_in(file, meta.span())?.is_some())
    };
    // Directly in `moov`, else in a track's `udta`.
    let mut found = None;
    for k in kids.iter().filter(|k| &k.kind == b"meta") {
        if has_ilst(file, k)? {
            found = Some(*k);
            break;
        }
    }
    if found.is_none() {
        'tracks: for trak in kids.iter().filter(|k| &k.kind == b"trak") {
            let Some(udta) = child(file, trak.span(), b"udta")? else {
                continue;
            };
            for m in children(file, udta.0, udta.0 + udta.1)?
                .iter()
                .filter(|m| &m.kind == b"meta")
            {
                if has_ilst(file, m)? {
                    found = Some(*m);
                    break 'tracks;
                }
            }
        }
    }
    Ok(found)
}

/// The `ilst` of a `meta` box, full (iTunes) or not (QuickTime).
fn ilst_in<F: Read + Seek>(file: &mut F, meta: (u64, u64)) -> io::Result<Option<(u64, u64)>> {
    for skip in [0u64, 4] {
        if meta.1 > skip
            && let Some(found) = child(file, (meta.0 + skip, meta.1 - skip), b"ilst")?
        {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// A `meta` box holding `ilst` (the iTunes tags) outside `moov/udta`, where some writers put
/// it (directly in `moov`, as ffprobe and QuickTime read it, or in a track's `udta`), when
/// `moov/udta` has none: the file laid out with that `meta` in a `udta` at the end of `moov`
/// (and `moov`'s own `udta`, which holds no tags then, left out), for a tag reader that looks
/// only in `moov/udta/meta`. `None` when the file needs no such view.
pub fn meta_moved_to_udta<F: Read + Seek>(
    file: &mut F,
    file_len: u64,
) -> io::Result<Option<Vec<super::Piece>>> {
    use super::Piece;
    // Only an MP4 file (it starts with `ftyp`) is looked into: this runs for every file a
    // scan reads.
    let mut head = [0u8; 8];
    if read_at(file, 0, &mut head)? < 8 || &head[4..8] != b"ftyp" {
        return Ok(None);
    }
    let top = children(file, 0, file_len)?;
    if top.first().is_none_or(|b| &b.kind != b"ftyp") {
        return Ok(None);
    }
    let Some(moov) = top.iter().find(|b| &b.kind == b"moov") else {
        return Ok(None);
    };
    if moov.declared != moov.len || ilst(file, moov.span())?.is_some() {
        return Ok(None);
    }
    let kids = children(file, moov.offset, moov.offset + moov.len)?;
    let found = meta_elsewhere(file, &kids)?;
    let Some(meta) = found else {
        return Ok(None);
    };
    // Whole boxes, header and body.
    let whole = |b: &Mp4Box| -> (u64, u64) { (b.start, b.offset + b.len) };
    let meta_whole = whole(&meta);
    let meta_len = meta_whole.1 - meta_whole.0;
    let mut pieces = Vec::new();
    pieces.push(Piece::File {
        start: 0,
        end: moov.start,
    });
    let kept: Vec<(u64, u64)> = kids
        .iter()
        .filter(|k| &k.kind != b"udta" && !(k.kind == meta.kind && k.offset == meta.offset))
        .map(whole)
        .collect();
    let kept_len: u64 = kept.iter().map(|(a, b)| b - a).sum();
    let udta_len = 8 + meta_len;
    let moov_len = 8 + kept_len + udta_len;
    let (Ok(moov_len32), Ok(udta_len32)) = (u32::try_from(moov_len), u32::try_from(udta_len))
    else {
        return Ok(None);
    };
    let mut header = moov_len32.to_be_bytes().to_vec();
    header.extend_from_slice(b"moov");
    pieces.push(Piece::Bytes(header));
    for (start, end) in kept {
        pieces.push(Piece::File { start, end });
    }
    let mut udta = udta_len32.to_be_bytes().to_vec();
    udta.extend_from_slice(b"udta");
    pieces.push(Piece::Bytes(udta));
    pieces.push(Piece::File {
        start: meta_whole.0,
        end: meta_whole.1,
    });
    pieces.push(Piece::File {
        start: moov.offset + moov.len,
        end: file_len,
    });
    Ok(Some(pieces))
}

/// Whether the file has iTunes cover art (`moov/udta/meta/ilst/covr` with data in it).
pub fn has_cover<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<bool> {
    let Some(moov) = child(file, (0, file_len), b"moov")? else {
        return Ok(false);
    };
    let ilst = match ilst(file, moov)? {
        Some(found) => Some(found),
        None => {
            let kids = children(file, moov.0, moov.0 + moov.1)?;
            match meta_elsewhere(file, &kids)? {
                Some(meta) => ilst_in(file, meta.span())?,
                None => None,
            }
        }
    };
    let Some(ilst) = ilst else {
        return Ok(false);
    };
    Ok(child(file, ilst, b"covr")?.is_some_and(|(_, len)| len > 16))
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
    u32::from_be_bytes(b[..4].try_into().expect("4 bytes"))
}

fn be_u64(b: &[u8]) -> u64 {
    u64::from_be_bytes(b[..8].try_into().expect("8 bytes"))
}

/// The gapless trim of the first sound track. The edit list is the standard place (ffmpeg and
/// iTunes write it): its first non-empty edit's media time is the priming, and the sum of the
/// non-empty edits, converted from the movie's timescale to the track's, is the length. When
/// the edit list trims nothing, an iTunes `iTunSMPB` atom (delay, padding, length) is used.
/// Decoders that do not apply these (symphonia among them) play the priming as silence.
pub fn trim<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Option<Mp4Trim>> {
    let Some(moov) = child(file, (0, file_len), b"moov")? else {
        return Ok(None);
    };
    let Some(mvhd) = child(file, moov, b"mvhd")? else {
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
    let smpb = itunsmpb_in(file, moov)?;
    let Some((trak, mdia)) = sound_track(file, moov)? else {
        return Ok(None);
    };
    let Some(mdhd) = child(file, mdia, b"mdhd")? else {
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
    let edit = match child(file, trak, b"edts")? {
        Some(edts) => match child(file, edts, b"elst")? {
            Some(elst) => edits(file, elst)?,
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

/// The sample entry type of the first sound track (`mp4a`, `alac`, `ac-3`, `Opus`...), to name a
/// codec the tag reader does not know.
pub fn sound_codec<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Option<[u8; 4]>> {
    let Some(moov) = child(file, (0, file_len), b"moov")? else {
        return Ok(None);
    };
    let Some((_, mdia)) = sound_track(file, moov)? else {
        return Ok(None);
    };
    let Some(minf) = child(file, mdia, b"minf")? else {
        return Ok(None);
    };
    let Some(stbl) = child(file, minf, b"stbl")? else {
        return Ok(None);
    };
    let Some(stsd) = child(file, stbl, b"stsd")? else {
        return Ok(None);
    };
    // Version and flags, entry count, then the first entry's size and type.
    let mut head = [0u8; 16];
    Ok((read_at(file, stsd.0, &mut head)? == 16).then(|| [head[12], head[13], head[14], head[15]]))
}

/// A track's `trak` and `mdia` boxes (body offset and length).
type Track = ((u64, u64), (u64, u64));

/// The first sound track in `moov` (handler `soun`).
fn sound_track<F: Read + Seek>(file: &mut F, moov: (u64, u64)) -> io::Result<Option<Track>> {
    for b in children(file, moov.0, moov.0 + moov.1)? {
        if &b.kind != b"trak" {
            continue;
        }
        let trak = b.span();
        let Some(mdia) = child(file, trak, b"mdia")? else {
            continue;
        };
        let Some(hdlr) = child(file, mdia, b"hdlr")? else {
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
fn edits<F: Read + Seek>(file: &mut F, elst: (u64, u64)) -> io::Result<Option<(u64, u64)>> {
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
            (
                be_u64(e),
                i64::from_be_bytes(e[8..16].try_into().expect("8 bytes")),
            )
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

/// `iTunSMPB` (moov/udta/meta/ilst/----): " 00000000 DELAY PADDING LENGTH ..." in hex; returns
/// the delay and the length.
fn itunsmpb_in<F: Read + Seek>(file: &mut F, moov: (u64, u64)) -> io::Result<Option<(u64, u64)>> {
    let Some(udta) = child(file, moov, b"udta")? else {
        return Ok(None);
    };
    let Some(meta) = child(file, udta, b"meta")? else {
        return Ok(None);
    };
    // `meta` is a full box: four bytes of version and flags before its children.
    let meta = (meta.0 + 4, meta.1.saturating_sub(4));
    let Some(ilst) = child(file, meta, b"ilst")? else {
        return Ok(None);
    };
    for item in children(file, ilst.0, ilst.0 + ilst.1)? {
        if &item.kind != b"----" || item.len > 4096 {
            continue;
        }
        let parts = children(file, item.offset, item.offset + item.len)?;
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

/// The `iTunSMPB` value: delay, padding and frame count in iTunes' exact layout.
pub fn itunsmpb(priming: u32, padding: u64, frames: u64) -> String {
    format!(
        " 00000000 {priming:08X} {padding:08X} {frames:016X} 00000000 00000000 00000000 00000000 \
         00000000 00000000 00000000 00000000"
    )
}

/// Boxes built in memory: [`Boxes::boxed`] writes a size placeholder, the body, then the size.
#[derive(Default)]
pub struct Boxes {
    pub buf: Vec<u8>,
}

impl Boxes {
    /// A box of type `kind` whose body `body` writes. The whole box must stay under 4 GiB.
    pub fn boxed(&mut self, kind: &[u8; 4], body: impl FnOnce(&mut Boxes)) {
        let start = self.buf.len();
        self.u32(0);
        self.bytes(kind);
        body(self);
        let size = (self.buf.len() - start) as u32;
        self.buf[start..start + 4].copy_from_slice(&size.to_be_bytes());
    }

    /// A "full box": version and flags come first.
    pub fn full(&mut self, kind: &[u8; 4], version: u8, flags: u32, body: impl FnOnce(&mut Boxes)) {
        self.boxed(kind, |b| {
            b.u32((u32::from(version) << 24) | (flags & 0xff_ffff));
            body(b);
        });
    }

    pub fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_be_bytes());
    }

    /// A time-like field of a version 0 (32-bit) or 1 (64-bit) box.
    pub fn sized(&mut self, version: u8, v: u64) {
        if version == 1 {
            self.u64(v);
        } else {
            self.u32(v as u32);
        }
    }
}

/// The full-box version a time-like value needs: 1 (64-bit fields) past 32 bits.
pub fn version_for(v: u64) -> u8 {
    if v > u64::from(u32::MAX) { 1 } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn extent(bytes: &[u8]) -> Option<Extent> {
        mdat_extent(&mut Cursor::new(bytes), bytes.len() as u64)
            .unwrap()
            .map(|l| l.extent)
    }

    #[test]
    fn mp4_boxes() {
        let mut mp4 = b"\0\0\0\x0cftypM4A ".to_vec();
        mp4.extend(b"\0\0\0\x0cmdatabcd");
        mp4.extend(b"\0\0\0\x08moov");
        assert_eq!(extent(&mp4), Some(Extent { offset: 20, len: 4 }));
        let kinds: Vec<[u8; 4]> = children_in(&mp4).into_iter().map(|(k, _)| k).collect();
        assert_eq!(kinds, [*b"ftyp", *b"mdat", *b"moov"]);
        // A zero-sized box must not loop forever.
        assert_eq!(extent(b"\0\0\0\x04mdat\0\0\0\0"), None);
    }

    #[test]
    fn built_boxes_read_back() {
        let mut b = Boxes::default();
        b.boxed(b"moov", |b| {
            b.full(b"mvhd", 1, 0, |b| b.sized(1, 7));
            b.boxed(b"udta", |_| {});
        });
        let top = children_in(&b.buf);
        assert_eq!(top.len(), 1);
        assert_eq!(&top[0].0, b"moov");
        let inner = children_in(top[0].1);
        assert_eq!(&inner[0].0, b"mvhd");
        assert_eq!(inner[0].1, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]);
        assert_eq!((&inner[1].0, inner[1].1.len()), (b"udta", 0));
        assert_eq!(
            (version_for(u64::from(u32::MAX)), version_for(1 << 32)),
            (0, 1)
        );
    }

    #[test]
    fn itunsmpb_has_the_itunes_layout() {
        assert_eq!(
            itunsmpb(0x840, 0x1ca, 0x3f1a36),
            " 00000000 00000840 000001CA 00000000003F1A36 00000000 00000000 00000000 00000000 \
             00000000 00000000 00000000 00000000"
        );
    }
}
