//! AIFF, written by hand: a `FORM`/`AIFF` file with a `COMM` chunk (the sample rate as an
//! 80-bit extended float) and one `SSND` chunk (offset and block size 0) of big-endian signed
//! PCM at 16 or 24 bits. The sizes that need the final length (FORM and SSND sizes, the frame
//! count in COMM) are written as 0 first and patched in `finish`, which also adds the pad byte
//! that follows a chunk of odd length.

use std::io::{Seek, SeekFrom, Write};

use super::{EncodeError, Encoder, Output};
use super::{check_shape, check_whole_frames, pcm_bits};
use crate::audio::{Spec, to_int};

/// Bytes from the start of the file to the first sample: FORM header (12), COMM chunk (8 + 18),
/// SSND header with offset and block size (16).
const HEADER_LEN: u64 = 12 + 26 + 16;
/// Where the patched fields sit, relative to the start of the file.
const FORM_SIZE_AT: u64 = 4;
const COMM_FRAMES_AT: u64 = 22;
const SSND_SIZE_AT: u64 = 42;
/// FORM's size field is 32-bit and counts everything after itself, pad byte included.
const MAX_DATA_BYTES: u64 = u32::MAX as u64 - (HEADER_LEN - 8) - 1;

pub struct AiffEncoder {
    out: Box<dyn Output>,
    /// Where the FORM chunk starts in the output.
    start: u64,
    channels: u16,
    bits: u16,
    data_bytes: u64,
    buf: Vec<u8>,
}

impl AiffEncoder {
    pub fn new(spec: Spec, mut out: Box<dyn Output>) -> Result<AiffEncoder, EncodeError> {
        check_shape(&spec, "AIFF", super::MAX_PCM_CHANNELS)?;
        let bits = pcm_bits(&spec, "AIFF")?;
        let start = out.stream_position()?;
        let mut header = Vec::with_capacity(HEADER_LEN as usize);
        header.extend_from_slice(b"FORM");
        header.extend_from_slice(&0u32.to_be_bytes());
        header.extend_from_slice(b"AIFF");
        header.extend_from_slice(b"COMM");
        header.extend_from_slice(&18u32.to_be_bytes());
        header.extend_from_slice(&spec.channels.to_be_bytes());
        header.extend_from_slice(&0u32.to_be_bytes());
        header.extend_from_slice(&bits.to_be_bytes());
        header.extend_from_slice(&extended(spec.rate));
        header.extend_from_slice(b"SSND");
        header.extend_from_slice(&0u32.to_be_bytes());
        header.extend_from_slice(&0u32.to_be_bytes()); // offset
        header.extend_from_slice(&0u32.to_be_bytes()); // block size
        debug_assert_eq!(header.len() as u64, HEADER_LEN);
        out.write_all(&header)?;
        Ok(AiffEncoder {
            out,
            start,
            channels: spec.channels,
            bits,
            data_bytes: 0,
            buf: Vec::new(),
        })
    }

    fn patch(&mut self, at: u64, value: u32) -> Result<(), EncodeError> {
        self.out.seek(SeekFrom::Start(self.start + at))?;
        self.out.write_all(&value.to_be_bytes())?;
        Ok(())
    }
}

/// An unsigned integer as an IEEE 754 80-bit extended float, big-endian: 15-bit biased exponent
/// (sign 0), then a 64-bit mantissa with its integer bit explicit. Exact for every `u32`.
pub(super) fn extended(value: u32) -> [u8; 10] {
    let mut out = [0u8; 10];
    if value == 0 {
        return out;
    }
    let shift = u64::from(value).leading_zeros();
    let exponent = 16383 + 63 - shift as u16;
    let mantissa = u64::from(value) << shift;
    out[..2].copy_from_slice(&exponent.to_be_bytes());
    out[2..].copy_from_slice(&mantissa.to_be_bytes());
    out
}

impl Encoder for AiffEncoder {
    fn write(&mut self, samples: &[f32]) -> Result<(), EncodeError> {
        check_whole_frames(samples, self.channels)?;
        let width = usize::from(self.bits / 8);
        if self.data_bytes + (samples.len() * width) as u64 > MAX_DATA_BYTES {
            return Err(EncodeError::Unsupported(
                "AIFF files cannot exceed 4 GiB; choose FLAC for audio this long".into(),
            ));
        }
        self.buf.clear();
        self.buf.reserve(samples.len() * width);
        for &s in samples {
            let v = to_int(s, self.bits);
            // The low `width` bytes of the big-endian i32.
            self.buf.extend_from_slice(&v.to_be_bytes()[4 - width..]);
        }
        self.out.write_all(&self.buf)?;
        self.data_bytes += self.buf.len() as u64;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), EncodeError> {
        let pad = self.data_bytes % 2;
        if pad == 1 {
            self.out.write_all(&[0])?;
        }
        let frames = self.data_bytes / u64::from(self.bits / 8) / u64::from(self.channels);
        // Checked against MAX_DATA_BYTES on every write, so these fit.
        let form = (HEADER_LEN - 8 + self.data_bytes + pad) as u32;
        let ssnd = (8 + self.data_bytes) as u32;
        let end = self.start + HEADER_LEN + self.data_bytes + pad;
        self.patch(FORM_SIZE_AT, form)?;
        self.patch(COMM_FRAMES_AT, frames as u32)?;
        self.patch(SSND_SIZE_AT, ssnd)?;
        self.out.seek(SeekFrom::Start(end))?;
        self.out.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;
    use crate::convert::encode::{Format, Settings, encoder};

    #[test]
    fn extended_rates_match_known_encodings() {
        // 44100 Hz as written by every AIFF tool: 400E AC44 0000 0000 0000.
        assert_eq!(extended(44100), [0x40, 0x0e, 0xac, 0x44, 0, 0, 0, 0, 0, 0]);
        assert_eq!(extended(48000), [0x40, 0x0e, 0xbb, 0x80, 0, 0, 0, 0, 0, 0]);
        assert_eq!(extended(1), [0x3f, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(extended(0), [0; 10]);
    }

    fn round_trip(frames: usize, channels: u16, rate: u32, bits: u16) {
        let (ints, floats) = signal(frames, channels, rate, bits);
        let spec = Spec {
            rate,
            channels,
            bits: Some(bits),
        };
        let file = encode(&Settings::new(Format::Aiff), spec, &floats).unwrap();
        let what = format!("{channels} ch {rate} Hz {bits} bit");

        let bytes = std::fs::read(file.path()).unwrap();
        let data_len = ints.len() * usize::from(bits / 8);
        let be32 = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        assert_eq!(&bytes[..4], b"FORM");
        assert_eq!(&bytes[8..12], b"AIFF");
        assert_eq!(be32(4) + 8, bytes.len(), "{what}: FORM size");
        assert_eq!(bytes.len() % 2, 0, "{what}: even length");
        assert_eq!(be32(22), frames, "{what}: COMM frame count");
        assert_eq!(be32(42), data_len + 8, "{what}: SSND size");
        assert_eq!(bytes.len(), 54 + data_len + data_len % 2, "{what}: length");

        let want = widen(&ints, bits);
        let d = decode(file.path());
        assert_eq!(
            (d.rate, d.channels),
            (rate, usize::from(channels)),
            "{what}"
        );
        assert_eq!(d.frames, frames, "{what}");
        assert_same(&d.samples, &want, &format!("symphonia, {what}"));

        if have("ffmpeg") {
            let got = ffmpeg_decode(file.path(), channels);
            assert_same(&got, &want, &format!("ffmpeg, {what}"));
        }
        if have("sox") {
            // sox reads the header on its own terms: rate, channels, bits, length.
            let info = std::process::Command::new("sox")
                .args(["--i", "-r"])
                .arg(file.path())
                .output()
                .unwrap();
            let rate_read = String::from_utf8_lossy(&info.stdout).trim().to_string();
            assert_eq!(rate_read, rate.to_string(), "{what}: sox rate");
            let info = std::process::Command::new("sox")
                .args(["--i", "-s"])
                .arg(file.path())
                .output()
                .unwrap();
            let samples_read = String::from_utf8_lossy(&info.stdout).trim().to_string();
            assert_eq!(samples_read, frames.to_string(), "{what}: sox length");
        }
    }

    #[test]
    fn stereo_16_bit_44k_is_bit_exact() {
        round_trip(44100 * 2 + 333, 2, 44100, 16);
    }

    #[test]
    fn mono_24_bit_48k_is_bit_exact_and_padded() {
        round_trip(48000 * 2 + 333, 1, 48000, 24);
    }

    #[test]
    fn stereo_24_bit_and_mono_16_bit_are_bit_exact() {
        round_trip(44100 + 1, 2, 44100, 24);
        round_trip(48000 + 333, 1, 48000, 16);
        round_trip(999, 3, 22050, 24);
    }

    #[test]
    fn bad_shapes_are_errors() {
        let aiff = Settings::new(Format::Aiff);
        let out = || Box::new(std::io::Cursor::new(Vec::new()));
        for (rate, channels, bits) in [
            (0, 2, Some(16)),
            (44100, 0, Some(16)),
            (44100, 40000, Some(16)),
            (44100, 2, Some(8)),
            (44100, 2, Some(32)),
        ] {
            let spec = Spec {
                rate,
                channels,
                bits,
            };
            assert!(
                matches!(
                    encoder(&aiff, spec, out()),
                    Err(EncodeError::Unsupported(_))
                ),
                "{spec:?}"
            );
        }
        let spec = Spec {
            rate: 44100,
            channels: 2,
            bits: Some(24),
        };
        let mut enc = encoder(&aiff, spec, out()).unwrap();
        assert!(matches!(enc.write(&[0.5]), Err(EncodeError::Encoder(_))));
    }
}
