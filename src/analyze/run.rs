//! Decoding the planned tracks on a pool of workers. Workers take tracks in plan order (so an
//! album's tracks are decoded close together and few albums are open at once); the calling
//! thread gathers their results and, when an album's last track is done, measures the album
//! and hands the album's results to the caller's sink. A raised cancel flag stops the workers
//! between decoded chunks: every finished album is handed on, and the finished tracks of an
//! unfinished one are handed on with track values only (the album is done again next run).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use super::Unit;
use super::loudness::{self, Loudness, Meter};
use super::{fingerprint, integrity};
use crate::audio::decode::{Damage, Decoder};

/// What one track's decode found.
pub struct Measured {
    pub loudness: Loudness,
    /// Why the audio is damaged (`None`: nothing found).
    pub damage: Option<String>,
    /// Seconds of audio decoded.
    pub seconds: f64,
    /// The acoustic fingerprint of the first two minutes (`None`: too short, or a shape
    /// Chromaprint cannot take).
    pub fingerprint: Option<Vec<u32>>,
    meter: Meter,
}

/// Why a track could not be analysed at all (the file is gone or unreadable, or not audio the
/// decoder knows).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("interrupted")]
    Interrupted,
    #[error("cannot read: {0}")]
    Unreadable(String),
    /// The file is there and readable, but its audio cannot be decoded from the start: it is
    /// damaged (stored as such), not merely missed.
    #[error("cannot be decoded: {0}")]
    Undecodable(String),
}

/// One track's result, ready to store.
pub struct TrackResult {
    pub id: i64,
    pub path: std::path::PathBuf,
    pub outcome: Result<Measured, Failure>,
    /// ReplayGain 2.0 album gain and the album's true peak (dBTP), when the track is part of a
    /// finished album with measurable loudness.
    pub album: Option<(f64, f64)>,
}

/// Frames decoded between looks at the cancel flag and feeds to the meter.
const CHUNK_FRAMES: usize = 16_384;

/// Decodes one file through the meter and the integrity checks.
pub fn measure(path: &Path, cancel: &AtomicBool) -> Result<Measured, Failure> {
    let mut decoder = match Decoder::open_verifying(path) {
        Ok(d) => d,
        Err(e) => {
            // A file that is there and readable but does not decode is damaged; one that
            // cannot be read is a failure to report, not a property of its audio.
            return match std::fs::File::open(path) {
                Err(io) => Err(Failure::Unreadable(io.to_string())),
                Ok(_) => Err(Failure::Undecodable(e.to_string())),
            };
        }
    };
    let spec = decoder.spec();
    let mut meter =
        Meter::new(spec.channels, spec.rate).map_err(|e| Failure::Unreadable(e.to_string()))?;
    let mut printer = fingerprint::Printer::new(spec.rate, spec.channels);
    let channels = usize::from(spec.channels);
    let mut buf: Vec<f32> = Vec::with_capacity((CHUNK_FRAMES + 8192) * channels);
    let mut frames = 0u64;
    let mut stopped: Option<(String, u64)> = None;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(Failure::Interrupted);
        }
        buf.clear();
        let mut ended = false;
        while buf.len() < CHUNK_FRAMES * channels {
            match decoder.read(&mut buf) {
                Ok(0) => {
                    ended = true;
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    stopped = Some((e.to_string(), frames + (buf.len() / channels) as u64));
                    ended = true;
                    break;
                }
            }
        }
        frames += (buf.len() / channels) as u64;
        meter
            .add(&buf)
            .map_err(|e| Failure::Unreadable(e.to_string()))?;
        if let Some(p) = &mut printer {
            p.add(&buf);
        }
        if ended {
            break;
        }
    }
    let damage: Damage = decoder.finish();
    let damage = integrity::verdict(
        &damage,
        stopped.as_ref().map(|(why, at)| (why.as_str(), *at)),
        spec.rate,
    );
    Ok(Measured {
        loudness: meter.loudness(),
        damage,
        seconds: frames as f64 / f64::from(spec.rate),
        fingerprint: printer
            .map(fingerprint::Printer::finish)
            .filter(|f| !f.is_empty()),
        meter,
    })
}

/// Told about each finished track, from the gathering thread.
pub trait Progress {
    fn track_done(&self, seconds: f64);
}

/// Runs the plan on `workers` threads. `sink` gets each unit's results (from this thread, in
/// the order units finish); an error from it stops the run and is returned.
pub fn run<E>(
    units: &[Unit],
    workers: usize,
    cancel: &AtomicBool,
    progress: &dyn Progress,
    mut sink: impl FnMut(Vec<TrackResult>) -> Result<(), E>,
) -> Result<(), E> {
    let jobs: Vec<(usize, usize)> = units
        .iter()
        .enumerate()
        .flat_map(|(u, unit)| (0..unit.tracks.len()).map(move |t| (u, t)))
        .collect();
    let (job_tx, job_rx) = crossbeam_channel::unbounded();
    for j in &jobs {
        job_tx.send(*j).expect("the receiver is alive");
    }
    drop(job_tx);
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    // A sink error stops the workers as Ctrl-C does.
    let stop = AtomicBool::new(false);
    let mut outcome = Ok(());
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            let job_rx = job_rx.clone();
            let done_tx = done_tx.clone();
            let stop = &stop;
            scope.spawn(move || {
                for (u, t) in job_rx.iter() {
                    let track = &units[u].tracks[t];
                    let r = if cancel.load(Ordering::Relaxed) || stop.load(Ordering::Relaxed) {
                        Err(Failure::Interrupted)
                    } else {
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            measure(&track.path, cancel)
                        }))
                        .unwrap_or_else(|_| {
                            Err(Failure::Unreadable(
                                "the decoder failed unexpectedly on this file".into(),
                            ))
                        })
                    };
                    if done_tx.send((u, t, r)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        let mut pending: Vec<Vec<Option<Result<Measured, Failure>>>> = units
            .iter()
            .map(|u| (0..u.tracks.len()).map(|_| None).collect())
            .collect();
        let mut left: Vec<usize> = units.iter().map(|u| u.tracks.len()).collect();
        for (u, t, r) in done_rx.iter() {
            if let Ok(m) = &r {
                progress.track_done(m.seconds);
            }
            pending[u][t] = Some(r);
            left[u] -= 1;
            if left[u] == 0 && outcome.is_ok() {
                let results = std::mem::take(&mut pending[u]);
                if let Err(e) = sink(finish_unit(&units[u], results)) {
                    outcome = Err(e);
                    stop.store(true, Ordering::Relaxed);
                }
            }
        }
    });
    outcome
}

/// A unit's results with album values added: album loudness gated over every track of the
/// album that was measured, when none was interrupted or failed.
fn finish_unit(unit: &Unit, results: Vec<Option<Result<Measured, Failure>>>) -> Vec<TrackResult> {
    let outcomes: Vec<Result<Measured, Failure>> = results
        .into_iter()
        .map(|r| r.unwrap_or(Err(Failure::Interrupted)))
        .collect();
    // An undecodable track adds no audio to the album; a missing result leaves it unfinished.
    let complete = outcomes
        .iter()
        .all(|r| !matches!(r, Err(Failure::Interrupted | Failure::Unreadable(_))));
    let album = (unit.album && complete)
        .then(|| {
            let measured = || outcomes.iter().filter_map(|r| r.as_ref().ok());
            let lufs = loudness::album_loudness(measured().map(|m| &m.meter))?;
            let peak = measured()
                .filter_map(|m| m.loudness.true_peak)
                .reduce(f64::max)?;
            Some((loudness::gain(lufs), peak))
        })
        .flatten();
    unit.tracks
        .iter()
        .zip(outcomes)
        .map(|(t, outcome)| TrackResult {
            id: t.id,
            path: t.path.clone(),
            outcome,
            album,
        })
        .collect()
}
