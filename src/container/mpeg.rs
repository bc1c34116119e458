//! MPEG audio (MP3 and ADTS AAC files): Layer III frame headers, the Xing/Info and LAME headers
//! an encoder writes in the first frame, the frame CRC, and where the frames lie between leading
//! ID3v2 tags and trailing ID3v1, APEv2 and Lyrics3v2 tags.

use std::io::{self, Read, Seek};

use super::{Extent, id3, read_at};

/// How far into the payload the first frame sync is searched for.
pub const SYNC_SEARCH: usize = 8 * 1024;

const BITRATES_V1: [u32; 15] = [
    0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
];
const BITRATES_V2: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];

/// A Layer III frame header (the four bytes that start every frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5.
    pub version: u8,
    /// A 16-bit CRC follows the header.
    pub crc: bool,
    pub mono: bool,
    /// 0 is free format (no bitrate in the header).
    pub bitrate_index: u8,
    pub rate_index: u8,
    pub padding: bool,
}

impl FrameHeader {
    /// Parses a Layer III frame header; `None` for anything else (no sync, another layer, a
    /// reserved version, bitrate or sample rate).
    pub fn parse(h: &[u8]) -> Option<FrameHeader> {
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
        Some(FrameHeader {
            version,
            crc: h[1] & 1 == 0,
            mono: h[3] >> 6 == 0b11,
            bitrate_index,
            rate_index,
            padding: (h[2] >> 1) & 1 == 1,
        })
    }

    pub fn is_mpeg1(&self) -> bool {
        self.version == 3
    }

    pub fn sample_rate(&self) -> u32 {
        let base = [44100, 48000, 32000][self.rate_index as usize];
        match self.version {
            3 => base,
            2 => base / 2,
            _ => base / 4,
        }
    }

    /// The bitrate in kbit/s; `None` for a free-format stream.
    pub fn bitrate_kbps(&self) -> Option<u32> {
        let table = if self.is_mpeg1() {
            &BITRATES_V1
        } else {
            &BITRATES_V2
        };
        Some(table[self.bitrate_index as usize]).filter(|&k| k > 0)
    }

    /// The frame's length in bytes, header included; `None` for a free-format stream.
    pub fn frame_len(&self) -> Option<usize> {
        let factor = if self.is_mpeg1() { 144_000 } else { 72_000 };
        let len = factor * self.bitrate_kbps()? / self.sample_rate();
        Some(len as usize + usize::from(self.padding))
    }

    /// Decoded samples per channel in one frame.
    pub fn samples_per_frame(&self) -> u64 {
        if self.is_mpeg1() { 1152 } else { 576 }
    }

    /// The length of the side information that follows the header (and its CRC).
    pub fn side_info_len(&self) -> usize {
        match (self.is_mpeg1(), self.mono) {
            (true, true) => 17,
            (true, false) => 32,
            (false, true) => 9,
            (false, false) => 17,
        }
    }

    /// Whether `other` can be the next frame of the same stream.
    pub fn same_stream(&self, other: &FrameHeader) -> bool {
        self.version == other.version && self.rate_index == other.rate_index
    }
}

/// CRC-16 as MPEG audio uses it: polynomial 0x8005, start 0xFFFF, most significant bit first.
pub fn crc16(parts: &[&[u8]]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for part in parts {
        for &b in *part {
            for i in (0..8).rev() {
                let bit = u16::from((b >> i) & 1);
                let top = crc >> 15;
                crc <<= 1;
                if bit ^ top == 1 {
                    crc ^= 0x8005;
                }
            }
        }
    }
    crc
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

/// Reads the Xing/Info and LAME headers of the first frame of the frames at `extent`.
pub fn read_xing<F: Read + Seek>(file: &mut F, extent: Extent) -> io::Result<Option<Xing>> {
    let mut buf = vec![0u8; SYNC_SEARCH.min(extent.len as usize)];
    let got = read_at(file, extent.offset, &mut buf)?;
    Ok(parse_xing(&buf[..got]))
}

/// Parses the first frame's header and its Xing/Info and LAME extensions from `buf`, which starts
/// at or a little before the first frame.
pub fn parse_xing(buf: &[u8]) -> Option<Xing> {
    let sync = buf
        .windows(4)
        .position(|w| w[0] == 0xff && w[1] & 0xe0 == 0xe0 && FrameHeader::parse(w).is_some())?;
    let header = &buf[sync..];
    let h = FrameHeader::parse(header)?;
    let xing = header.get(4 + h.side_info_len()..)?;
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
    let mut total = frames * h.samples_per_frame();
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
        sample_rate: h.sample_rate(),
        stream_bytes,
    })
}

/// MPEG audio (MP3 and ADTS AAC): everything between leading ID3v2 tags and trailing ID3v1,
/// APEv2 and Lyrics3v2 tags, which can come in any order.
pub fn frames_extent<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Option<Extent>> {
    let start = id3::skip(file, 0, file_len)?;
    let mut end = file_len;
    // Peel trailing tags until none is left.
    loop {
        let before = end;
        if id3::v1_before(file, start, end)? {
            end -= id3::V1_LEN;
        }
        if end >= start + 32 {
            let mut footer = [0u8; 32];
            read_at(file, end - 32, &mut footer)?;
            if &footer[..8] == b"APETAGEX" {
                let size = u64::from(u32::from_le_bytes(footer[12..16].try_into().expect("4")));
                let flags = u32::from_le_bytes(footer[20..24].try_into().expect("4"));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn frame_headers() {
        // (bytes, version, rate, kbps, frame length, side info)
        type Case = ([u8; 4], u8, u32, Option<u32>, Option<usize>, usize);
        let cases: [Case; 4] = [
            ([0xff, 0xfb, 0x90, 0x00], 3, 44100, Some(128), Some(417), 32),
            ([0xff, 0xfb, 0x92, 0xc0], 3, 44100, Some(128), Some(418), 17),
            ([0xff, 0xf3, 0x84, 0x00], 2, 24000, Some(64), Some(192), 17),
            ([0xff, 0xfb, 0x00, 0x00], 3, 44100, None, None, 32),
        ];
        for (bytes, version, rate, kbps, len, side) in cases {
            let h = FrameHeader::parse(&bytes).unwrap();
            assert_eq!(
                (
                    h.version,
                    h.sample_rate(),
                    h.bitrate_kbps(),
                    h.frame_len(),
                    h.side_info_len()
                ),
                (version, rate, kbps, len, side),
                "{bytes:02x?}"
            );
        }
        // Layer II, a reserved version, bitrate 15, rate 3, no sync.
        for bad in [
            [0xff, 0xfd, 0x90, 0x00],
            [0xff, 0xeb, 0x90, 0x00],
            [0xff, 0xfb, 0xf0, 0x00],
            [0xff, 0xfb, 0x9c, 0x00],
            [0xfe, 0xfb, 0x90, 0x00],
        ] {
            assert_eq!(FrameHeader::parse(&bad), None, "{bad:02x?}");
        }
    }

    #[test]
    fn crc_matches_the_standard_check_value() {
        // CRC-16/CMS (poly 0x8005, init 0xFFFF, not reflected): check value 0xAEE7.
        assert_eq!(crc16(&[b"1234", b"56789"]), 0xAEE7);
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
        let (delay, padding) = (576u32, 1404u32);
        lame.extend([
            (delay >> 4) as u8,
            (((delay & 0xf) << 4) | (padding >> 8)) as u8,
            (padding & 0xff) as u8,
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

    use crate::container::id3::test_tag as id3v2;

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
        let len = file.len() as u64;
        assert_eq!(
            frames_extent(&mut Cursor::new(&file), len).unwrap(),
            Some(Extent {
                offset: 310,
                len: 1000
            })
        );
    }
}
