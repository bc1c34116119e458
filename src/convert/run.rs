//! Converting one file: decode, bake gain, resample, encode into a temporary file beside the
//! target, carry the tags over, then rename into place. The target name never holds a partial
//! file: an error or an interruption removes the temporary file.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::encode;
use super::plan::{Request, output_bits, output_rate};
use crate::audio::decode::Decoder;
use crate::audio::resample::Resampler;
use crate::audio::{Spec, gain};
use crate::model::Track;
use crate::tags::{self, CoverPolicy, TransferOptions};

/// The suffix of temporary files (hidden, so a scan or a player ignores them).
pub const PART_SUFFIX: &str = ".tapedeck-part";

/// What converting one file produced.
#[derive(Debug, Clone)]
pub struct Converted {
    pub size: u64,
    /// Seconds of audio written.
    pub seconds: f64,
}

/// The temporary name for `target`: a hidden file in the same folder.
pub fn part_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}{PART_SUFFIX}"))
}

/// Removes the temporary file unless disarmed.
struct PartGuard<'a>(&'a Path, bool);

impl Drop for PartGuard<'_> {
    fn drop(&mut self) {
        if !self.1 {
            let _ = fs::remove_file(self.0);
        }
    }
}

/// Converts `track` into `target` (an absolute path). `cancel` stops it between chunks.
pub fn convert_one(
    track: &Track,
    target: &Path,
    request: &Request,
    cancel: &AtomicBool,
) -> Result<Converted, String> {
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
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
    let part = part_path(target);
    let mut guard = PartGuard(&part, false);
    let file = File::create(&part).map_err(|e| format!("cannot write {}: {e}", part.display()))?;
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
            return Err("interrupted".into());
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
        return Err("the file ends early (truncated); not converted".into());
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
    tags::transfer(&track.path, &part, &options).map_err(|e| e.to_string())?;
    let file = File::options()
        .write(true)
        .open(&part)
        .map_err(|e| format!("cannot write {}: {e}", part.display()))?;
    file.sync_all()
        .map_err(|e| format!("cannot write {}: {e}", part.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    fs::rename(&part, target).map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    guard.1 = true;
    Ok(Converted {
        size,
        seconds: frames as f64 / f64::from(rate),
    })
}

/// Removes temporary files left in `dir` by an interrupted run (not recursive: the folders a
/// plan writes to are cleaned one by one).
pub fn clean_parts(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(PART_SUFFIX) {
            let _ = fs::remove_file(e.path());
        }
    }
}
