//! Changing an MP3's loudness without re-encoding it, as mp3gain does: every Layer III granule
//! carries an 8-bit `global_gain` in the frame's side information, and one step of it scales
//! the decoded samples by 2^(1/4), which is 1.5 dB. Adding the same number of steps to every
//! granule of every frame changes the volume losslessly (and can be undone). Frames with a CRC
//! get it recomputed; the Xing/Info frame is left alone. Pure byte handling: the caller reads
//! and writes the file. Frame headers and the CRC are read with [`crate::container::mpeg`].

use crate::container::id3;
use crate::container::mpeg::{FrameHeader, crc16};

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

/// The next frame's header at the start of `b`: `Ok(None)` when no Layer III frame starts
/// there, an error for a free-format stream (no length in the header to step by).
fn header(b: &[u8]) -> Result<Option<FrameHeader>, GainError> {
    match FrameHeader::parse(b) {
        Some(h) if h.frame_len().is_none() => Err(GainError::FreeFormat),
        h => Ok(h),
    }
}

/// A frame's length (known: [`header`] refuses free format).
fn frame_len(h: &FrameHeader) -> usize {
    h.frame_len().expect("not free format")
}

/// Bit offsets of every `global_gain` in a frame's side information.
fn gain_offsets(h: &FrameHeader) -> Vec<usize> {
    let channels = if h.mono { 1 } else { 2 };
    let (start, granules, block) = if h.is_mpeg1() {
        (if h.mono { 18 } else { 20 }, 2, 59)
    } else {
        (if h.mono { 9 } else { 10 }, 1, 63)
    };
    let mut out = Vec::new();
    for g in 0..granules {
        for c in 0..channels {
            out.push(start + (g * channels + c) * block + 21);
        }
    }
    out
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

/// Where the MPEG frames start: after the ID3v2 tags, if there are any.
fn audio_start(data: &[u8]) -> usize {
    id3::skip_in(data)
}

/// Whether a valid frame of the same stream starts at `pos` and another follows it (or the
/// data ends right after it).
fn confirmed(data: &[u8], pos: usize, first: Option<&FrameHeader>) -> Option<FrameHeader> {
    let h = header(&data[pos..]).ok().flatten()?;
    if first.is_some_and(|f| !f.same_stream(&h)) || pos + frame_len(&h) > data.len() {
        return None;
    }
    let next = pos + frame_len(&h);
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
    let mut first: Option<FrameHeader> = None;
    let mut done = Adjusted::default();
    while pos + 4 <= data.len() {
        let h = match header(&data[pos..])? {
            Some(h)
                if first.is_none_or(|f| f.same_stream(&h)) && pos + frame_len(&h) <= data.len() =>
            {
                h
            }
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
        if side_end > pos + frame_len(&h) {
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
            for bit in gain_offsets(&h) {
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
        pos += frame_len(&h);
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
