//! What the encoder tests share: a deterministic test signal, encoding through the factory to
//! a temporary file, decoding with symphonia, and running the reference tools.

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
