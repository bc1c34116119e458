//! Where the engine's samples go: the [`Output`] seam, with an in-memory output for tests and a
//! WAV writer for `tapedeck render`. The sound-card output lives in `device.rs`.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::audio::Spec;

/// Why an output failed, in words meant for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OutputError(pub String);

/// A sink for interleaved `f32` frames.
///
/// The engine opens it at each track's spec; the output answers with the spec it really runs
/// at (a device may refuse a rate, a file keeps its first one), and the engine converts to
/// that. `played` counts the frames that have actually left (been heard, or written), which is
/// what positions, track changes and play history are based on.
pub trait Output: Send {
    /// Opens or reopens the stream. Everything written before has been played (the engine
    /// drains first).
    fn open(&mut self, wanted: Spec) -> Result<Spec, OutputError>;
    /// Accepts as many samples (whole frames) as there is room for, waiting briefly for room;
    /// returns how many it took.
    fn write(&mut self, samples: &[f32]) -> Result<usize, OutputError>;
    /// Frames played since the stream was opened.
    fn played(&self) -> u64;
    /// Discards what was written but not yet played (seek, skip). Outputs that play what they
    /// are given at once hold nothing to discard.
    fn discard(&mut self) {}
    fn set_paused(&mut self, _paused: bool) {}
    /// Waits until everything written has been played.
    fn drain(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
    /// Ends the stream (flushes a file).
    fn close(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
}

/// Collects every sample in memory, as fast as it comes. Tests read `samples`; `rates`, when
/// set, is the only rates it accepts (to exercise resampling).
#[derive(Default, Clone)]
pub struct MemoryOutput {
    pub samples: Arc<Mutex<Vec<f32>>>,
    pub opened: Arc<Mutex<Vec<Spec>>>,
    pub rates: Option<Vec<u32>>,
    played: u64,
    channels: u16,
}

impl MemoryOutput {
    pub fn new() -> MemoryOutput {
        MemoryOutput::default()
    }

    /// An output that runs only at these rates (the first is its default).
    pub fn with_rates(rates: &[u32]) -> MemoryOutput {
        MemoryOutput {
            rates: Some(rates.to_vec()),
            ..MemoryOutput::default()
        }
    }
}

impl Output for MemoryOutput {
    fn open(&mut self, wanted: Spec) -> Result<Spec, OutputError> {
        let mut spec = wanted;
        if let Some(rates) = &self.rates
            && !rates.contains(&wanted.rate)
        {
            spec.rate = rates[0];
        }
        self.channels = spec.channels;
        self.played = 0;
        self.opened.lock().unwrap().push(spec);
        Ok(spec)
    }

    fn write(&mut self, samples: &[f32]) -> Result<usize, OutputError> {
        self.samples.lock().unwrap().extend_from_slice(samples);
        self.played += (samples.len() / usize::from(self.channels.max(1))) as u64;
        Ok(samples.len())
    }

    fn played(&self) -> u64 {
        self.played
    }
}

/// Writes a WAV file at the first track's rate and bit depth (32-bit float for lossy sources,
/// whose decoded samples have no integer depth); later tracks are converted to it.
pub struct WavOutput {
    path: PathBuf,
    file: Option<File>,
    writer: Option<hound::WavWriter<BufWriter<File>>>,
    spec: Option<Spec>,
    played: u64,
}

impl WavOutput {
    /// Writes into `file` (opened by the caller's safe-write layer); `path` names it in
    /// messages.
    pub fn new(file: File, path: &Path) -> WavOutput {
        WavOutput {
            path: path.to_path_buf(),
            file: Some(file),
            writer: None,
            spec: None,
            played: 0,
        }
    }
}

fn wav_error(path: &Path, e: hound::Error) -> OutputError {
    OutputError(format!("{}: {e}", path.display()))
}

impl Output for WavOutput {
    fn open(&mut self, wanted: Spec) -> Result<Spec, OutputError> {
        if let Some(spec) = self.spec {
            return Ok(spec);
        }
        let bits = wanted.bits.map(|b| b.clamp(8, 24));
        let spec = Spec { bits, ..wanted };
        let wav = hound::WavSpec {
            channels: spec.channels,
            sample_rate: spec.rate,
            bits_per_sample: bits.unwrap_or(32),
            sample_format: if bits.is_some() {
                hound::SampleFormat::Int
            } else {
                hound::SampleFormat::Float
            },
        };
        let file = self
            .file
            .take()
            .ok_or_else(|| OutputError(format!("{}: already written", self.path.display())))?;
        let writer = hound::WavWriter::new(BufWriter::new(file), wav)
            .map_err(|e| wav_error(&self.path, e))?;
        self.writer = Some(writer);
        self.spec = Some(spec);
        Ok(spec)
    }

    fn write(&mut self, samples: &[f32]) -> Result<usize, OutputError> {
        let (Some(writer), Some(spec)) = (self.writer.as_mut(), self.spec) else {
            return Err(OutputError("output not open".into()));
        };
        let result = match spec.bits {
            Some(bits) => samples
                .iter()
                .try_for_each(|&s| writer.write_sample(crate::audio::to_int(s, bits))),
            None => samples.iter().try_for_each(|&s| writer.write_sample(s)),
        };
        result.map_err(|e| wav_error(&self.path, e))?;
        self.played += (samples.len() / usize::from(spec.channels)) as u64;
        Ok(samples.len())
    }

    fn played(&self) -> u64 {
        self.played
    }

    fn close(&mut self) -> Result<(), OutputError> {
        if let Some(writer) = self.writer.take() {
            writer.finalize().map_err(|e| wav_error(&self.path, e))?;
        }
        Ok(())
    }
}
