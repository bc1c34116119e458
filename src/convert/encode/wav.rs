//! WAV through hound: little-endian signed integer PCM at 16 or 24 bits. hound writes the plain
//! `PCMWAVEFORMAT` header for mono and stereo 16-bit audio and `WAVE_FORMAT_EXTENSIBLE` for more
//! channels or 24 bits, as Microsoft's documentation asks.
//!
//! hound patches its sizes at absolute offsets, so the output must start empty (a new file).
//!
//! Also home to what the PCM-style encoders (WAV, AIFF, FLAC) share: choosing the bit depth and
//! checking that a write holds whole frames.

use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};

use super::{EncodeError, Encoder, Output};
use crate::audio::{Spec, to_int};

/// The bit depth a PCM or lossless format writes: `spec.bits`, 16 when the source has none (a
/// lossy or float source), and only 16 or 24.
pub(super) fn pcm_bits(spec: &Spec, format: &str) -> Result<u16, EncodeError> {
    match spec.bits.unwrap_or(16) {
        bits @ (16 | 24) => Ok(bits),
        bits => Err(EncodeError::Unsupported(format!(
            "{format} is written at 16 or 24 bits per sample, not {bits}"
        ))),
    }
}

/// The most channels WAV and AIFF are written with: far beyond music, well inside the 16-bit
/// block alignment WAV stores.
pub(super) const MAX_PCM_CHANNELS: u16 = 64;

/// Refuses a sample rate or channel count the format cannot describe.
pub(super) fn check_shape(spec: &Spec, format: &str, max_channels: u16) -> Result<(), EncodeError> {
    if spec.rate == 0 {
        return Err(EncodeError::Unsupported(format!(
            "{format} needs a sample rate above 0 Hz"
        )));
    }
    if spec.channels == 0 || spec.channels > max_channels {
        return Err(EncodeError::Unsupported(format!(
            "{format} holds 1 to {max_channels} channels, not {}",
            spec.channels
        )));
    }
    Ok(())
}

/// Refuses a write that does not hold a whole number of frames.
pub(super) fn check_whole_frames(samples: &[f32], channels: u16) -> Result<(), EncodeError> {
    if !samples.len().is_multiple_of(usize::from(channels)) {
        return Err(EncodeError::Encoder(format!(
            "{} samples are not a whole number of {channels}-channel frames",
            samples.len()
        )));
    }
    Ok(())
}

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

/// What the encoder tests share: a deterministic test signal, encoding through the factory to a
/// temporary file, decoding with symphonia, and running the reference tools.
#[cfg(test)]
pub(super) mod testkit {
    use std::io::Cursor;
    use std::path::Path;
    use std::process::Command;

    use symphonia::core::codecs::audio::AudioDecoderOptions;
    use symphonia::core::formats::FormatOptions;
    use symphonia::core::formats::probe::Hint;
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::meta::MetadataOptions;

    use crate::audio::{Spec, from_int, to_int};
    use crate::convert::encode::{EncodeError, Settings, encoder};

    /// A deterministic signal: per channel a different sine plus white noise, with full-scale
    /// extremes sprinkled in. Returns the integer samples at `bits` and the same as `f32`.
    pub fn signal(frames: usize, channels: u16, rate: u32, bits: u16) -> (Vec<i32>, Vec<f32>) {
        let mut seed = 0x2545_f491_4f6c_dd1du64 ^ (frames as u64) ^ u64::from(rate);
        let max = (1i64 << (bits - 1)) - 1;
        let mut ints = Vec::with_capacity(frames * usize::from(channels));
        for i in 0..frames {
            for c in 0..channels {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let noise = (seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
                let freq = 220.0 * f64::from(c + 1) + 110.0;
                let t = i as f64 / f64::from(rate);
                let v = 0.6 * (2.0 * std::f64::consts::PI * freq * t).sin() + 0.2 * noise;
                let int = match i % 9973 {
                    5 => max as i32,
                    6 => (-max - 1) as i32,
                    _ => to_int(v as f32, bits),
                };
                ints.push(int);
            }
        }
        let floats = ints.iter().map(|&v| from_int(v, bits)).collect();
        (ints, floats)
    }

    /// Encodes `samples` through the factory into a temporary file, in writes of uneven sizes.
    pub fn encode(
        settings: &Settings,
        spec: Spec,
        samples: &[f32],
    ) -> Result<tempfile::NamedTempFile, EncodeError> {
        let file = tempfile::Builder::new()
            .suffix(&format!(".{}", settings.format.extension()))
            .tempfile()?;
        let out = Box::new(file.reopen()?);
        let mut enc = encoder(settings, spec, out)?;
        let ch = usize::from(spec.channels);
        let mut pos = 0;
        for n in [1usize, 4095, 4096, 10_000, 333, 1 << 16].iter().cycle() {
            if pos >= samples.len() {
                break;
            }
            let end = (pos + n * ch).min(samples.len());
            enc.write(&samples[pos..end])?;
            pos = end;
        }
        enc.finish()?;
        Ok(file)
    }

    pub struct Decoded {
        pub rate: u32,
        pub channels: usize,
        /// Interleaved, full-scale `i32` (a 16-bit sample `v` reads as `v << 16`).
        pub samples: Vec<i32>,
        pub frames: usize,
        /// The decoder's MD5 check where the format has one (FLAC).
        pub verified: Option<bool>,
    }

    /// Decodes a whole file with symphonia, exactly as a player would (gapless trimming on).
    pub fn decode(path: &Path) -> Decoded {
        let bytes = std::fs::read(path).unwrap();
        let mss = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let mut reader = symphonia::default::get_probe()
            .probe(
                &hint,
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .expect("symphonia opens the file");
        let track = reader.tracks()[0].clone();
        let params = track
            .codec_params
            .as_ref()
            .unwrap()
            .audio()
            .unwrap()
            .clone();
        let mut decoder = symphonia::default::get_codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default().verify(true))
            .expect("symphonia has the decoder");
        let mut samples = Vec::new();
        let mut buf: Vec<i32> = Vec::new();
        let mut frames = 0;
        let mut rate = params.sample_rate.unwrap_or(0);
        let mut channels = params.channels.as_ref().map_or(0, |c| c.count());
        while let Some(packet) = reader.next_packet().expect("reads packets") {
            if packet.track_id != track.id {
                continue;
            }
            let decoded = decoder.decode(&packet).expect("decodes");
            rate = decoded.spec().rate();
            channels = decoded.spec().channels().count();
            frames += decoded.frames();
            decoded.copy_to_vec_interleaved(&mut buf);
            samples.extend_from_slice(&buf);
        }
        let verified = decoder.finalize().verify_ok;
        Decoded {
            rate,
            channels,
            samples,
            frames,
            verified,
        }
    }

    /// Whether a reference tool is installed; prints a note when it is not.
    pub fn have(tool: &str) -> bool {
        let ok = Command::new(tool)
            .arg("--help")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok();
        if !ok {
            eprintln!("note: {tool} is not installed; skipping its check");
        }
        ok
    }

    /// Decodes with ffmpeg to interleaved full-scale `i32` (how ffmpeg widens 16 and 24-bit
    /// integers: a left shift, exact). Returns the samples and the channel count.
    pub fn ffmpeg_decode(path: &Path, channels: u16) -> Vec<i32> {
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(path)
            .args(["-f", "s32le", "-acodec", "pcm_s32le", "-"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ffmpeg failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout.len() % (4 * usize::from(channels)), 0);
        out.stdout
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }

    /// The input widened to full-scale `i32`, as decoders report it.
    pub fn widen(ints: &[i32], bits: u16) -> Vec<i32> {
        ints.iter().map(|&v| v << (32 - bits)).collect()
    }

    /// Asserts two sample streams are equal, naming the first difference rather than printing
    /// millions of samples.
    pub fn assert_same(got: &[i32], want: &[i32], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: sample count");
        if let Some(i) = got.iter().zip(want).position(|(a, b)| a != b) {
            panic!(
                "{what}: sample {i} differs: got {}, want {}",
                got[i], want[i]
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testkit::*;
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
