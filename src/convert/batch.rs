//! Carrying out a conversion plan: the run recorded in the library, the files to convert or copy
//! made on a worker pool (each converted into the run's scratch folder, or copied from its
//! source, then put in place in the output folder), the run stopped at the cancel flag or when
//! the output folder vanishes, a panic on one file costing only that file, and each finished
//! file recorded (so a later run skips it). It prints nothing: progress goes to a callback and
//! each file's outcome comes back as a typed value, for the caller to show.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::output::{self, OutputDir};
use super::plan::{self, Action, Job, Request};
use super::run::{self, ConvertError, Converted};
use crate::db::{ConversionStart, ConvertedFile, DbError, Library};
use crate::target::{self, Scratch};

/// Everything a batch needs.
pub struct Batch<'a> {
    /// The plan: every selected track's job (skips and refusals are counted, not run).
    pub jobs: &'a [Job],
    pub dir: &'a OutputDir,
    /// The output folder's absolute path, as the library records it.
    pub root: &'a Path,
    pub request: &'a Request,
    /// Each track's audio fingerprint, recorded with what was made from it.
    pub fingerprints: &'a HashMap<i64, Vec<u8>>,
    /// The selection as it was asked for (query text, playlist name), for the run's history.
    pub query: Option<&'a str>,
    pub playlist: Option<&'a str>,
    /// Files made at once.
    pub workers: usize,
    /// Set to stop: files not started are not attempted, and a conversion stops between chunks.
    pub cancel: &'a AtomicBool,
    /// Called on a worker thread, in no set order, as each file's work ends (made, failed or not
    /// attempted): for a progress display.
    pub progress: &'a (dyn Fn(&Job) + Sync),
    /// The time now, in seconds since the epoch, for what the library records.
    pub clock: fn() -> i64,
}

/// What became of one file the batch was to make.
#[derive(Debug)]
pub enum FileOutcome {
    /// Converted or copied (as the job says), put in place and recorded.
    Made(Converted),
    /// Not made, and why; the other files went on.
    Failed(ConvertError),
    /// Not made: the run was cancelled.
    Interrupted,
    /// Not made: the output folder is gone (a pulled stick), and nothing more was attempted.
    Gone(target::Error),
}

/// What a batch did.
#[derive(Debug)]
pub struct Report<'a> {
    /// Each file to make (the jobs that convert or copy), in plan order, and what became of it.
    pub files: Vec<(&'a Job, FileOutcome)>,
    pub converted: usize,
    pub copied: usize,
    /// Jobs the plan found done already, and jobs it refused.
    pub skipped: usize,
    pub refused: usize,
    pub failed: usize,
    /// Seconds of audio and bytes written (converted and copied files).
    pub audio_seconds: f64,
    pub bytes: u64,
    pub interrupted: bool,
    /// How long making the files took.
    pub elapsed: Duration,
}

impl Report<'_> {
    /// The error that said the output folder vanished, when it did.
    pub fn gone(&self) -> Option<&target::Error> {
        self.files.iter().rev().find_map(|(_, o)| match o {
            FileOutcome::Gone(e) => Some(e),
            _ => None,
        })
    }
}

/// Why a batch could not run. Per-file failures are not errors: they are in the report.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("cannot start the workers")]
    Workers(#[source] rayon::ThreadPoolBuildError),
    #[error("cannot make a scratch folder")]
    Scratch(#[source] std::io::Error),
    /// The library could not record the run.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Runs the plan: records the run's start, makes every file to convert or copy, then records
/// each finished file and the run's counts in one transaction.
pub fn run<'a>(lib: &mut Library, b: &Batch<'a>) -> Result<Report<'a>, BatchError> {
    let format = b.request.encode.format;
    let key = b.request.key();
    let mut run_settings = key.clone();
    if !b.request.copy.is_empty() {
        let names: Vec<&str> = b.request.copy.iter().map(|f| f.name()).collect();
        run_settings.push_str(&format!(" copy={}", names.join(",")));
    }
    let count = |a: fn(&Action) -> bool| b.jobs.iter().filter(|j| a(&j.action)).count();
    let skipped = count(|a| *a == Action::Skip);
    let refused = count(|a| matches!(a, Action::Refuse(_)));
    let run_id = lib.write(|w| {
        w.start_conversion(
            &ConversionStart {
                target: &b.root.to_string_lossy(),
                format: format.name(),
                settings: &run_settings,
                query: b.query,
                playlist: b.playlist,
                selected: b.jobs.len(),
            },
            (b.clock)(),
        )
    })?;
    let todo: Vec<&Job> = b
        .jobs
        .iter()
        .filter(|j| matches!(j.action, Action::Convert | Action::Copy))
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(b.workers.max(1))
        .thread_name(|i| format!("convert-{i}"))
        .build()
        .map_err(BatchError::Workers)?;
    let started = Instant::now();
    let scratch = Scratch::new().map_err(BatchError::Scratch)?;
    // The output folder vanished (a pulled stick): the rest is not attempted.
    let vanished = AtomicBool::new(false);
    let results: Vec<Result<Converted, ConvertError>> = pool.install(|| {
        todo.par_iter()
            .enumerate()
            .map(|(i, job)| {
                let r = make(b, &scratch, &vanished, &key, i, job);
                (b.progress)(job);
                r
            })
            .collect()
    });
    let elapsed = started.elapsed();
    let mut report = Report {
        files: Vec::with_capacity(todo.len()),
        converted: 0,
        copied: 0,
        skipped,
        refused,
        failed: 0,
        audio_seconds: 0.0,
        bytes: 0,
        interrupted: false,
        elapsed,
    };
    for (job, r) in todo.into_iter().zip(results) {
        let outcome = match r {
            Ok(c) => {
                if job.action == Action::Copy {
                    report.copied += 1;
                } else {
                    report.converted += 1;
                }
                report.audio_seconds += c.seconds;
                report.bytes += c.size;
                FileOutcome::Made(c)
            }
            Err(ConvertError::Interrupted) => {
                report.interrupted = true;
                FileOutcome::Interrupted
            }
            Err(ConvertError::Write(e @ target::Error::Gone { .. })) => FileOutcome::Gone(e),
            Err(e) => {
                report.failed += 1;
                FileOutcome::Failed(e)
            }
        };
        report.files.push((job, outcome));
    }
    lib.write(|w| {
        for (job, outcome) in &report.files {
            let FileOutcome::Made(c) = outcome else {
                continue;
            };
            let copy = job.action == Action::Copy;
            w.record_converted(
                &b.root.join(&job.output),
                &ConvertedFile {
                    fingerprint: b
                        .fingerprints
                        .get(&job.track.id)
                        .cloned()
                        .unwrap_or_default(),
                    settings: if copy {
                        plan::COPY_KEY.to_string()
                    } else {
                        key.clone()
                    },
                    track_id: Some(job.track.id),
                    size: c.size as i64,
                },
                (b.clock)(),
            )?;
        }
        w.finish_conversion(
            run_id,
            [
                report.converted + report.copied,
                report.skipped,
                report.refused,
                report.failed,
            ],
            (b.clock)(),
        )
    })?;
    Ok(report)
}

/// Makes the `i`th file to make: converted into the scratch folder and put in place, or copied.
/// A panic is caught and costs only this file.
fn make(
    b: &Batch<'_>,
    scratch: &Scratch,
    vanished: &AtomicBool,
    key: &str,
    i: usize,
    job: &Job,
) -> Result<Converted, ConvertError> {
    if b.cancel.load(Ordering::Relaxed) {
        return Err(ConvertError::Interrupted);
    }
    if vanished.load(Ordering::Relaxed) {
        let root = b.root.to_path_buf();
        return Err(target::Error::Gone { root }.into());
    }
    let made = scratch.path(i, b.request.encode.format.extension());
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if job.action == Action::Copy {
            return copy_one(b.dir, job, b.fingerprints, vanished);
        }
        let c = run::convert_one(&job.track, &made, b.request, b.cancel)?;
        // Replacing is allowed only where the plan found a file of ours.
        let replace = output::replaceable(b.dir, &job.output);
        let entry = output::entry(
            job.track.id,
            b.fingerprints
                .get(&job.track.id)
                .map_or(&[][..], Vec::as_slice),
            key,
        );
        let size = b.dir.install(&made, &job.output, entry, replace);
        scratch.discard(&made);
        if let Err(target::Error::Gone { .. }) = &size {
            vanished.store(true, Ordering::Relaxed);
        }
        Ok(Converted { size: size?, ..c })
    }))
    .unwrap_or_else(|_| {
        scratch.discard(&made);
        Err(ConvertError::Failed(
            "the converter failed unexpectedly on this file".into(),
        ))
    })
}

/// Copies a source in place of a conversion: opened as a regular file (never blocking on a
/// FIFO that replaced it since the scan), and put in place like a converted file.
fn copy_one(
    dir: &OutputDir,
    job: &Job,
    fingerprints: &HashMap<i64, Vec<u8>>,
    vanished: &AtomicBool,
) -> Result<Converted, ConvertError> {
    let (input, _) = crate::scan::open_regular(&job.track.path).map_err(|e| {
        ConvertError::Failed(format!(
            "cannot read it: {}",
            crate::scan::walk::io_reason(&e)
        ))
    })?;
    let replace = output::replaceable(dir, &job.output);
    let entry = output::entry(
        job.track.id,
        fingerprints
            .get(&job.track.id)
            .map_or(&[][..], Vec::as_slice),
        plan::COPY_KEY,
    );
    let size = dir.install_from(input, &job.output, entry, replace);
    if let Err(target::Error::Gone { .. }) = &size {
        vanished.store(true, Ordering::Relaxed);
    }
    Ok(Converted {
        size: size?,
        seconds: job.track.duration,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::convert::encode::{Format, Settings};
    use crate::model::Track;

    fn job(id: i64, path: PathBuf, output: &str, action: Action) -> Job {
        Job {
            track: Track {
                id,
                path,
                duration: 2.5,
                ..Track::default()
            },
            output: PathBuf::from(output),
            action,
        }
    }

    fn request() -> Request {
        Request {
            encode: Settings::new(Format::Flac),
            sample_rate: None,
            bit_depth: None,
            apply_gain: None,
            allow_lossy_source: false,
            id3v23: false,
            id3v1: false,
            cover_max: None,
            copy: vec![Format::Mp3],
        }
    }

    /// Runs `jobs` into `dir/out` (a library beside it) with the cancel flag as given, and hands
    /// `check` the library, the report, the calls to the progress callback and the output root.
    fn batch(
        dir: &Path,
        jobs: &[Job],
        cancel: bool,
        check: impl FnOnce(&Library, &Report<'_>, usize, &Path),
    ) {
        let out = dir.join("out");
        let mut lib = Library::open(&dir.join("lib.db")).unwrap();
        let od = OutputDir::open(&out, false, Box::new(|_| None)).unwrap();
        let root = od.root(&out);
        let fingerprints: HashMap<i64, Vec<u8>> =
            jobs.iter().map(|j| (j.track.id, vec![7])).collect();
        let ticks = AtomicUsize::new(0);
        let request = request();
        let cancel = AtomicBool::new(cancel);
        let tick = |_: &Job| {
            ticks.fetch_add(1, Ordering::Relaxed);
        };
        let report = run(
            &mut lib,
            &Batch {
                jobs,
                dir: &od,
                root: &root,
                request: &request,
                fingerprints: &fingerprints,
                query: Some("artist:x"),
                playlist: None,
                workers: 2,
                cancel: &cancel,
                progress: &tick,
                clock: || 7,
            },
        )
        .unwrap();
        check(&lib, &report, ticks.load(Ordering::Relaxed), &root);
    }

    /// A report's files as (source file name, outcome).
    fn named<'a>(r: &'a Report<'_>) -> Vec<(String, &'a FileOutcome)> {
        r.files
            .iter()
            .map(|(j, o)| {
                (
                    j.track
                        .path
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                    o,
                )
            })
            .collect()
    }

    #[test]
    fn each_file_is_reported_and_each_finished_one_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("a.mp3");
        std::fs::write(&src, b"eleven byte").unwrap();
        let jobs = [
            job(1, src.clone(), "x/a.mp3", Action::Copy),
            job(2, dir.path().join("missing.mp3"), "x/b.mp3", Action::Copy),
            job(3, src.clone(), "x/c.flac", Action::Skip),
            job(4, src.clone(), "x/d.flac", Action::Refuse("lossy".into())),
        ];
        batch(dir.path(), &jobs, false, |lib, r, ticks, root| {
            let files = named(r);
            assert_eq!(files.len(), 2, "{files:?}");
            assert!(matches!(&files[0], (n, FileOutcome::Made(c)) if n == "a.mp3" && c.size == 11));
            assert!(
                matches!(&files[1], (n, FileOutcome::Failed(ConvertError::Failed(why)))
                if n == "missing.mp3" && why.starts_with("cannot read it")),
                "{files:?}"
            );
            assert_eq!(
                (
                    r.converted,
                    r.copied,
                    r.skipped,
                    r.refused,
                    r.failed,
                    r.bytes
                ),
                (0, 1, 1, 1, 1, 11)
            );
            assert_eq!((r.audio_seconds, r.interrupted, ticks), (2.5, false, 2));
            assert_eq!(std::fs::read(root.join("x/a.mp3")).unwrap(), b"eleven byte");
            assert!(!root.join("x/b.mp3").exists());
            let runs = lib.conversions().unwrap();
            assert_eq!(runs.len(), 1);
            let c = &runs[0];
            assert_eq!(
                (
                    c.selected,
                    c.written,
                    c.skipped,
                    c.refused,
                    c.failed,
                    c.finished_at
                ),
                (4, 1, 1, 1, 1, Some(7))
            );
            assert_eq!(c.settings, format!("{} copy=mp3", request().key()));
            assert_eq!(c.query.as_deref(), Some("artist:x"));
            let recorded = lib.converted_files_under(root).unwrap();
            assert_eq!(recorded.len(), 1, "{recorded:?}");
            assert_eq!(recorded[0].0, root.join("x/a.mp3"));
            assert_eq!(recorded[0].1.settings, plan::COPY_KEY);
            assert_eq!((recorded[0].1.track_id, recorded[0].1.size), (Some(1), 11));
        });
    }

    #[test]
    fn a_cancelled_batch_attempts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("a.mp3");
        std::fs::write(&src, b"eleven byte").unwrap();
        let jobs = [
            job(1, src.clone(), "x/a.mp3", Action::Copy),
            job(2, dir.path().join("b.wav"), "x/b.flac", Action::Convert),
        ];
        batch(dir.path(), &jobs, true, |lib, r, ticks, root| {
            let files = named(r);
            assert!(
                files
                    .iter()
                    .all(|(_, o)| matches!(o, FileOutcome::Interrupted)),
                "{files:?}"
            );
            assert_eq!(
                (files.len(), r.interrupted, r.failed, ticks),
                (2, true, 0, 2)
            );
            assert!(!root.join("x").exists());
            assert!(lib.converted_files_under(root).unwrap().is_empty());
            assert_eq!(lib.conversions().unwrap()[0].written, 0);
        });
    }
}
