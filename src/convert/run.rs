//! Converting one file: decode, bake gain, resample, encode into a file in the run's private
//! scratch folder and carry the tags over. Putting it in place on the target is the caller's
//! (through `crate::target`); an error or an interruption removes the scratch file.

use std::fs;
use std::io::BufWriter;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use super::encode;
use super::plan::{Request, output_bits, output_rate};
use crate::audio::decode::Decoder;
use crate::audio::resample::Resampler;
use crate::audio::{Spec, gain};
use crate::model::Track;
use crate::tags::{self, CoverPolicy, TransferOptions};

/// Why converting one file failed. Callers match on the variant.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// Ctrl-C: stopped between chunks.
    #[error("interrupted")]
    Interrupted,
    /// The source or the encoder failed (the message says how).
    #[error("{0}")]
    Failed(String),
    /// Writing the output failed.
    #[error(transparent)]
    Write(#[from] crate::target::Error),
}

impl From<String> for ConvertError {
    fn from(s: String) -> ConvertError {
        ConvertError::Failed(s)
    }
}

/// What converting one file produced.
#[derive(Debug, Clone)]
pub struct Converted {
    pub size: u64,
    /// Seconds of audio written.
    pub seconds: f64,
}

/// Removes the file unless disarmed.
struct Guard<'a>(&'a Path, bool);

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if !self.1 {
            let _ = fs::remove_file(self.0);
        }
    }
}

/// Converts `track` into a new file at `path`, a name in a [`crate::target::Scratch`] folder
/// (private to this run, on the computer): the caller copies it onto its target. `cancel` stops
/// it between chunks; on any error the file is removed.
pub fn convert_one(
    track: &Track,
    path: &Path,
    request: &Request,
    cancel: &AtomicBool,
) -> Result<Converted, ConvertError> {
    let mut guard = Guard(path, false);
    let r = encode_into(track, path, request, cancel)?;
    guard.1 = true;
    Ok(r)
}

fn encode_into(
    track: &Track,
    path: &Path,
    request: &Request,
    cancel: &AtomicBool,
) -> Result<Converted, ConvertError> {
    let mut decoder = Decoder::open(&track.path).map_err(|e| e.0)?;
    let source = decoder.spec();
    let format = request.encode.format;
    let rate = output_rate(format, source.rate, request.sample_rate);
    let bits = output_bits(request.bit_depth, source.bits.map(|b| b.min(255) as u8));
    let spec = Spec {
        rate,
        channels: source.channels,
        bits: Some(bits),
    };
    let scale = request
        .apply_gain
        .map_or(1.0, |mode| gain::bake(mode, &track.into()).scale);
    let mut resampler = if rate != source.rate {
        Some(Resampler::new(source.rate, rate, source.channels)?)
    } else {
        None
    };
    let werr = |e: std::io::Error| ConvertError::Write(crate::target::Error::io(path, e));
    let file = crate::target::Scratch::create(path).map_err(werr)?;
    let mut encoder = encode::encoder(
        &request.encode,
        spec,
        Box::new(BufWriter::with_capacity(1 << 20, file)),
    )
    .map_err(|e| e.to_string())?;
    let mut decoded = Vec::new();
    let mut resampled = Vec::new();
    let mut frames: u64 = 0;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(ConvertError::Interrupted);
        }
        decoded.clear();
        let n = decoder.read(&mut decoded).map_err(|e| e.0)?;
        let last = n == 0;
        gain::apply(&mut decoded, scale);
        let chunk: &[f32] = match &mut resampler {
            Some(r) => {
                resampled.clear();
                r.push(&decoded, &mut resampled);
                if last {
                    r.finish(&mut resampled);
                }
                &resampled
            }
            None => &decoded,
        };
        frames += (chunk.len() / usize::from(spec.channels)) as u64;
        encoder.write(chunk).map_err(|e| e.to_string())?;
        if last {
            break;
        }
    }
    if decoder.truncated() {
        return Err("the file ends early (truncated); not converted"
            .to_string()
            .into());
    }
    encoder.finish().map_err(|e| e.to_string())?;
    let options = TransferOptions {
        id3v23: request.id3v23,
        id3v1: request.id3v1,
        replaygain: request.apply_gain.is_none(),
        cover: match request.cover_max {
            Some(max_px) => CoverPolicy::Fit { max_px },
            None => CoverPolicy::Keep,
        },
    };
    tags::transfer(&track.path, path, &options).map_err(|e| e.to_string())?;
    let size = fs::metadata(path).map_err(werr)?.len();
    Ok(Converted {
        size,
        seconds: frames as f64 / f64::from(rate),
    })
}
