//! WAV through hound: little-endian signed integer PCM at 16 or 24 bits. hound writes the plain
//! `PCMWAVEFORMAT` header for mono and stereo 16-bit audio and `WAVE_FORMAT_EXTENSIBLE` for more
//! channels or 24 bits, as Microsoft's documentation asks.
//!
//! hound patches its sizes at absolute offsets, so the output must start empty (a new file).

use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};

use super::{
    EncodeError, Encoder, MAX_PCM_CHANNELS, Output, check_shape, check_whole_frames, pcm_bits,
};
use crate::audio::{Spec, to_int};

/// RIFF sizes are 32-bit: the header (68 bytes at most) plus data and pad must fit.
const MAX_DATA_BYTES: u64 = u32::MAX as u64 - 68 - 1;

/// The output, shared between hound (which owns its writer until `finalize` consumes it) and
/// this encoder (which appends the RIFF pad byte afterwards).
#[derive(Clone)]
struct Shared(Arc<Mutex<Box<dyn Output>>>);

impl Shared {
    fn lock(&self) -> std::io::Result<std::sync::MutexGuard<'_, Box<dyn Output>>> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("output lock poisoned"))
    }
}

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lock()?.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.lock()?.flush()
    }
}

impl Seek for Shared {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.lock()?.seek(pos)
    }
}

pub struct WavEncoder {
    writer: hound::WavWriter<BufWriter<Shared>>,
    out: Shared,
    channels: u16,
    bits: u16,
    data_bytes: u64,
}

impl WavEncoder {
    pub fn new(spec: Spec, out: Box<dyn Output>) -> Result<WavEncoder, EncodeError> {
        check_shape(&spec, "WAV", MAX_PCM_CHANNELS)?;
        let bits = pcm_bits(&spec, "WAV")?;
        let out = Shared(Arc::new(Mutex::new(out)));
        let wav_spec = hound::WavSpec {
            channels: spec.channels,
            sample_rate: spec.rate,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let writer =
            hound::WavWriter::new(BufWriter::with_capacity(1 << 16, out.clone()), wav_spec)
                .map_err(hound_error)?;
        Ok(WavEncoder {
            writer,
            out,
            channels: spec.channels,
            bits,
            data_bytes: 0,
        })
    }
}

fn hound_error(e: hound::Error) -> EncodeError {
    match e {
        hound::Error::IoError(e) => EncodeError::Io(e),
        e => EncodeError::Encoder(e.to_string()),
    }
}

impl Encoder for WavEncoder {
    fn write(&mut self, samples: &[f32]) -> Result<(), EncodeError> {
        check_whole_frames(samples, self.channels)?;
        let bytes = samples.len() as u64 * u64::from(self.bits / 8);
        if self.data_bytes + bytes > MAX_DATA_BYTES {
            return Err(EncodeError::Unsupported(
                "WAV files cannot exceed 4 GiB; choose FLAC for audio this long".into(),
            ));
        }
        self.data_bytes += bytes;
        for &s in samples {
            self.writer
                .write_sample(to_int(s, self.bits))
                .map_err(hound_error)?;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(), EncodeError> {
        let WavEncoder {
            writer,
            out,
            data_bytes,
            ..
        } = *self;
        writer.finalize().map_err(hound_error)?;
        // A RIFF chunk of odd length is followed by a pad byte, counted in the RIFF size but not
        // in the chunk's; hound leaves it out, which breaks chunks appended later (tags).
        if data_bytes % 2 == 1 {
            let mut out = out.lock()?;
            let end = out.seek(SeekFrom::End(0))?;
            out.write_all(&[0])?;
            let riff_size = u32::try_from(end + 1 - 8)
                .map_err(|_| EncodeError::Encoder("WAV size overflow".into()))?;
            out.seek(SeekFrom::Start(4))?;
            out.write_all(&riff_size.to_le_bytes())?;
            out.seek(SeekFrom::Start(end + 1))?;
        }
        out.lock()?.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::audio::Spec;
    use crate::convert::encode::{EncodeError, Format, Settings, encoder};

    fn round_trip(frames: usize, channels: u16, rate: u32, bits: u16) {
        let (ints, floats) = signal(frames, channels, rate, bits);
        let spec = Spec {
            rate,
            channels,
            bits: Some(bits),
        };
        let file = encode(&Settings::new(Format::Wav), spec, &floats).unwrap();
        let what = format!("{channels} ch {rate} Hz {bits} bit");

        let d = decode(file.path());
        assert_eq!(
            (d.rate, d.channels),
            (rate, usize::from(channels)),
            "{what}"
        );
        assert_eq!(d.frames, frames, "{what}");
        let want = widen(&ints, bits);
        assert_same(&d.samples, &want, &format!("symphonia, {what}"));

        // The RIFF layout: sizes, and the pad byte after an odd data chunk.
        let bytes = std::fs::read(file.path()).unwrap();
        let data_len = ints.len() * usize::from(bits / 8);
        let riff = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
        assert_eq!(riff + 8, bytes.len(), "{what}: RIFF size");
        assert_eq!(bytes.len() % 2, 0, "{what}: even length");
        let data_at = bytes.windows(4).position(|w| w == b"data").unwrap();
        let chunk = u32::from_le_bytes(bytes[data_at + 4..data_at + 8].try_into().unwrap());
        assert_eq!(chunk as usize, data_len, "{what}: data chunk size");
        assert_eq!(
            bytes.len(),
            data_at + 8 + data_len + data_len % 2,
            "{what}: file ends after data and pad"
        );
        let extensible = u16::from_le_bytes([bytes[20], bytes[21]]) == 0xfffe;
        assert_eq!(extensible, channels > 2 || bits > 16, "{what}: format tag");

        if have("ffmpeg") {
            let got = ffmpeg_decode(file.path(), channels);
            assert_same(&got, &want, &format!("ffmpeg, {what}"));
        }
    }

    #[test]
    fn stereo_16_bit_44k_is_bit_exact() {
        round_trip(44100 * 2 + 333, 2, 44100, 16);
    }

    #[test]
    fn mono_24_bit_48k_is_bit_exact_and_padded() {
        round_trip(48000 + 333, 1, 48000, 24);
    }

    #[test]
    fn stereo_24_bit_and_mono_16_bit_are_bit_exact() {
        round_trip(44100 + 1, 2, 44100, 24);
        round_trip(48000 * 2 + 333, 1, 48000, 16);
    }

    #[test]
    fn six_channels_use_the_extensible_header() {
        round_trip(4801, 6, 48000, 16);
    }

    #[test]
    fn empty_input_is_a_valid_empty_file() {
        round_trip(0, 2, 44100, 16);
    }

    #[test]
    fn bad_shapes_are_errors() {
        let wav = Settings::new(Format::Wav);
        let out = || Box::new(std::io::Cursor::new(Vec::new()));
        for (rate, channels, bits) in [
            (0, 2, Some(16)),
            (44100, 0, Some(16)),
            (44100, 65, Some(16)),
            (44100, u16::MAX, Some(24)),
            (44100, 2, Some(8)),
            (44100, 2, Some(20)),
            (44100, 2, Some(32)),
        ] {
            let spec = Spec {
                rate,
                channels,
                bits,
            };
            assert!(
                matches!(encoder(&wav, spec, out()), Err(EncodeError::Unsupported(_))),
                "{spec:?}"
            );
        }
        let spec = Spec {
            rate: 44100,
            channels: 2,
            bits: None,
        };
        let mut enc = encoder(&wav, spec, out()).unwrap();
        assert!(matches!(
            enc.write(&[0.0, 0.1, 0.2]),
            Err(EncodeError::Encoder(_))
        ));
    }
}
