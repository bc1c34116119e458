//! Changing an MP3's loudness without re-encoding it, as mp3gain does: every Layer III granule
//! carries an 8-bit `global_gain` in the frame's side information, and one step of it scales
//! the decoded samples by 2^(1/4), which is 1.5 dB. Adding the same number of steps to every
//! granule of every frame changes the volume losslessly (and can be undone). Frames with a CRC
//! get it recomputed; the Xing/Info frame is left alone. Pure byte handling: the caller reads
//! and writes the file.

/// Why the gain could not be changed in place (the caller then re-encodes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GainError {
    #[error("no MPEG Layer III frames found")]
    NoFrames,
    #[error("free-format MP3 (no bitrate in the frame headers)")]
    FreeFormat,
}

/// What [`apply`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Adjusted {
    pub frames: usize,
    pub granules: usize,
    /// Granules whose gain hit 0 or 255 and so changed by less than asked.
    pub clamped: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    /// 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5.
    version: u8,
    crc: bool,
    mono: bool,
    len: usize,
    rate_index: u8,
}

const BITRATES_V1: [u32; 15] = [
    0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
];
const BITRATES_V2: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];

fn header(b: &[u8]) -> Result<Option<Header>, GainError> {
    if b.len() < 4 || b[0] != 0xFF || b[1] & 0xE0 != 0xE0 {
        return Ok(None);
    }
    let version = (b[1] >> 3) & 3;
    let layer = (b[1] >> 1) & 3;
    let bitrate_index = (b[2] >> 4) as usize;
    let rate_index = (b[2] >> 2) & 3;
    if version == 1 || layer != 1 || bitrate_index == 15 || rate_index == 3 {
        return Ok(None);
    }
    if bitrate_index == 0 {
        return Err(GainError::FreeFormat);
    }
    let rate = match version {
        3 => [44100, 48000, 32000][rate_index as usize],
        2 => [22050, 24000, 16000][rate_index as usize],
        _ => [11025, 12000, 8000][rate_index as usize],
    };
    let (kbps, factor) = if version == 3 {
        (BITRATES_V1[bitrate_index], 144_000)
    } else {
        (BITRATES_V2[bitrate_index], 72_000)
    };
    let padding = usize::from((b[2] >> 1) & 1);
    Ok(Some(Header {
        version,
        crc: b[1] & 1 == 0,
        mono: b[3] >> 6 == 3,
        len: (factor * kbps / rate) as usize + padding,
        rate_index,
    }))
}

impl Header {
    fn side_info_len(&self) -> usize {
        match (self.version == 3, self.mono) {
            (true, true) => 17,
            (true, false) => 32,
            (false, true) => 9,
            (false, false) => 17,
        }
    }

    /// Bit offsets of every `global_gain` in the side information.
    fn gain_offsets(&self) -> Vec<usize> {
        let channels = if self.mono { 1 } else { 2 };
        let (start, granules, block) = if self.version == 3 {
            (if self.mono { 18 } else { 20 }, 2, 59)
        } else {
            (if self.mono { 9 } else { 10 }, 1, 63)
        };
        let mut out = Vec::new();
        for g in 0..granules {
            for c in 0..channels {
                out.push(start + (g * channels + c) * block + 21);
            }
        }
        out
    }

    fn same_stream(&self, other: &Header) -> bool {
        self.version == other.version && self.rate_index == other.rate_index
    }
}

fn read_bits8(data: &[u8], bit: usize) -> u8 {
    let byte = bit / 8;
    let shift = bit % 8;
    let word = (u16::from(data[byte]) << 8) | u16::from(*data.get(byte + 1).unwrap_or(&0));
    (word >> (8 - shift)) as u8
}

fn write_bits8(data: &mut [u8], bit: usize, value: u8) {
    let byte = bit / 8;
    let shift = bit % 8;
    if shift == 0 {
        data[byte] = value;
        return;
    }
    let hi_mask = 0xFFu8 >> shift;
    data[byte] = (data[byte] & !hi_mask) | (value >> shift);
    let lo_mask = 0xFFu8 << (8 - shift);
    data[byte + 1] = (data[byte + 1] & !lo_mask) | (value << (8 - shift));
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

/// Where the MPEG frames start: after an ID3v2 tag, if there is one.
fn audio_start(data: &[u8]) -> usize {
    if data.len() >= 10 && &data[..3] == b"ID3" {
        let size = data[6..10]
            .iter()
            .fold(0usize, |acc, &b| (acc << 7) | usize::from(b & 0x7F));
        let footer = if data[5] & 0x10 != 0 { 10 } else { 0 };
        return (10 + size + footer).min(data.len());
    }
    0
}

/// Whether a valid frame of the same stream starts at `pos` and another follows it (or the
/// data ends right after it).
fn confirmed(data: &[u8], pos: usize, first: Option<&Header>) -> Option<Header> {
    let h = header(&data[pos..]).ok().flatten()?;
    if first.is_some_and(|f| !f.same_stream(&h)) || pos + h.len > data.len() {
        return None;
    }
    let next = pos + h.len;
    if next == data.len()
        || header(&data[next..])
            .ok()
            .flatten()
            .is_some_and(|n| n.same_stream(&h))
    {
        Some(h)
    } else {
        None
    }
}

/// Adds `steps` (1.5 dB each, negative is quieter) to the global gain of every granule of
/// every Layer III frame in `data`, a whole MP3 file.
pub fn apply(data: &mut [u8], steps: i32) -> Result<Adjusted, GainError> {
    let mut pos = audio_start(data);
    let mut first: Option<Header> = None;
    let mut done = Adjusted::default();
    while pos + 4 <= data.len() {
        let h = match header(&data[pos..])? {
            Some(h) if first.is_none_or(|f| f.same_stream(&h)) && pos + h.len <= data.len() => h,
            _ => {
                // Lost sync (junk between frames, or the tags at the end): look for two frames
                // in a row.
                match (pos + 1..data.len().saturating_sub(4))
                    .find(|&p| confirmed(data, p, first.as_ref()).is_some())
                {
                    Some(p) => {
                        pos = p;
                        continue;
                    }
                    None => break,
                }
            }
        };
        let side = pos + 4 + if h.crc { 2 } else { 0 };
        let side_end = side + h.side_info_len();
        if side_end > pos + h.len {
            break;
        }
        let is_info = first.is_none() && {
            let tag = &data[side_end..(side_end + 4).min(data.len())];
            tag == b"Xing" || tag == b"Info" || data.get(pos + 36..pos + 40) == Some(b"VBRI")
        };
        if first.is_none() {
            first = Some(h);
        }
        if !is_info {
            let info = &mut data[side..side_end];
            for bit in h.gain_offsets() {
                let old = i32::from(read_bits8(info, bit));
                let new = (old + steps).clamp(0, 255);
                if new - old != steps {
                    done.clamped += 1;
                }
                write_bits8(info, bit, new as u8);
                done.granules += 1;
            }
            if h.crc {
                let crc = crc16(&[&data[pos + 2..pos + 4], &data[side..side_end]]);
                data[pos + 4..pos + 6].copy_from_slice(&crc.to_be_bytes());
            }
            done.frames += 1;
        }
        pos += h.len;
    }
    if done.frames == 0 {
        return Err(GainError::NoFrames);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_standard_check_value() {
        // CRC-16/CMS (poly 0x8005, init 0xFFFF, not reflected): check value 0xAEE7.
        assert_eq!(crc16(&[b"1234", b"56789"]), 0xAEE7);
    }

    #[test]
    fn bits_round_trip_at_every_offset() {
        for bit in 0..24 {
            let mut d = [0xA5u8, 0x5A, 0xC3, 0x3C];
            let before = d;
            let v = read_bits8(&d, bit);
            write_bits8(&mut d, bit, v.wrapping_add(7));
            assert_eq!(read_bits8(&d, bit), v.wrapping_add(7), "bit {bit}");
            write_bits8(&mut d, bit, v);
            assert_eq!(d, before, "bit {bit}");
        }
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(apply(&mut [0u8; 1000], 2), Err(GainError::NoFrames));
        let mut text = b"not an mp3 at all".repeat(50);
        assert_eq!(apply(&mut text, 2), Err(GainError::NoFrames));
    }

    /// Peak of a decoded file.
    fn peak(path: &std::path::Path) -> f32 {
        let mut d = crate::audio::decode::Decoder::open(path).unwrap();
        let mut buf = Vec::new();
        let mut peak = 0f32;
        loop {
            buf.clear();
            if d.read(&mut buf).unwrap() == 0 {
                break;
            }
            peak = buf.iter().fold(peak, |p, s| p.max(s.abs()));
        }
        peak
    }

    #[test]
    fn gain_steps_scale_the_decoded_audio() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/library/mp3/id3v23.mp3");
        let dir = tempfile::tempdir().unwrap();
        let before = peak(&src);
        for steps in [-4, 2] {
            let mut data = std::fs::read(&src).unwrap();
            let tag_end = audio_start(&data);
            let done = apply(&mut data, steps).unwrap();
            assert!(done.frames > 30 && done.clamped == 0, "{done:?}");
            // The tag and the Info frame are untouched.
            let orig = std::fs::read(&src).unwrap();
            assert_eq!(data[..tag_end + 100], orig[..tag_end + 100]);
            let out = dir.path().join(format!("g{steps}.mp3"));
            std::fs::write(&out, &data).unwrap();
            let ratio = peak(&out) / before;
            let expected = 10f32.powf(steps as f32 * 1.5 / 20.0);
            assert!(
                (ratio / expected - 1.0).abs() < 0.02,
                "steps {steps}: ratio {ratio}, expected {expected}"
            );
        }
    }
}
