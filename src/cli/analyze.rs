//! `tapedeck analyze`: parses the selection and options, plans and runs the analysis
//! (`crate::analyze`), stores each album's results in the library as it finishes, and prints
//! what was found.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::ProgressBar;

use super::output::{escape, escape_path};
use super::{SelectArgs, Settings, now, playlist, progress};
use crate::analyze::run::{self, Failure, TrackResult};
use crate::db::query::Selection;
use crate::model::Track;

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Analyse again tracks already analysed (whose audio has not changed since)
    #[arg(long)]
    pub force: bool,
    /// Decoding threads [default: the number of cores]
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Print the summary as one JSON object
    #[arg(long)]
    pub json: bool,
    /// Also write the ReplayGain 2.0 values into the selected files' own tags (the one command
    /// that changes your music files; files whose tags already say the same are left alone)
    #[arg(long)]
    pub write_tags: bool,
}

/// What `--write-tags` did.
#[derive(Default, serde::Serialize)]
struct TagsWritten {
    written: usize,
    already_matching: usize,
    not_analysed: usize,
    failed: usize,
}

/// Writes the selected tracks' ReplayGain values into their files, saying first how many files
/// it will change.
fn write_tags(ctx: &Settings, lib: &crate::db::Library, ids: &[i64]) -> Result<TagsWritten> {
    use crate::analyze::write;
    let mut done = TagsWritten::default();
    let mut todo = Vec::new();
    for t in lib.tracks_by_ids(ids)? {
        match write::wanted(&t) {
            None => done.not_analysed += 1,
            Some(want) if write::already_matches(&t, &want) => done.already_matching += 1,
            Some(want) => todo.push((t, want)),
        }
    }
    if !ctx.quiet {
        super::style::note(format_args!(
            "writing ReplayGain tags into {} ({} already say the same)",
            super::output::count(todo.len() as u64, "file", "files"),
            done.already_matching
        ));
    }
    let cancel = super::interrupt::flag();
    for (t, want) in &todo {
        if cancel.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
        match write::write_file(&t.path, t.size, t.mtime, want) {
            Ok(()) => done.written += 1,
            Err(e) => {
                done.failed += 1;
                super::style::error(format_args!(
                    "{}: tags not written: {}",
                    escape_path(&t.path),
                    escape(&e.to_string())
                ));
            }
        }
    }
    Ok(done)
}

struct Bar {
    bar: Option<ProgressBar>,
    started: Instant,
    audio: Mutex<f64>,
}

impl run::Progress for Bar {
    fn track_done(&self, seconds: f64) {
        let mut audio = self.audio.lock().expect("not poisoned");
        *audio += seconds;
        if let Some(bar) = &self.bar {
            let speed = *audio / self.started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!("{speed:.0}x real time"));
            bar.inc(1);
        }
    }
}

/// The analysis members of a track from one result (`at`: when it was analysed).
fn analysed(r: &TrackResult, at: i64) -> Option<Track> {
    let mut t = Track {
        analysed_at: Some(at),
        ..Track::default()
    };
    // Stored to a hundredth, as loudgain and rsgain print them.
    let cents = |v: Option<f64>| v.map(|v| (v * 100.0).round() / 100.0);
    match &r.outcome {
        Ok(m) => {
            t.loudness = cents(m.loudness.integrated);
            t.lra = cents(m.loudness.range);
            t.truepeak = cents(m.loudness.true_peak);
            t.samplepeak = cents(m.loudness.sample_peak);
            t.rg_track = cents(m.loudness.integrated.map(crate::analyze::loudness::gain));
            if let Some((gain, peak)) = r.album {
                t.rg_album = cents(Some(gain));
                t.album_truepeak = cents(Some(peak));
            }
            t.damage = m.damage.clone();
            t.chromaprint = m
                .fingerprint
                .as_deref()
                .map(crate::analyze::fingerprint::encode);
        }
        Err(Failure::Undecodable(why)) => t.damage = Some(format!("cannot be decoded: {why}")),
        Err(Failure::Interrupted | Failure::Unreadable(_)) => return None,
    }
    Some(t)
}

pub fn analyze(ctx: &Settings, args: &AnalyzeArgs, out: &mut dyn Write) -> Result<()> {
    let mut lib = ctx.open_library()?;
    let (q, within) = playlist::resolve(&lib, &args.select)?;
    let ids = lib.track_ids(&Selection {
        query: Some(&q),
        random: false,
        limit: None,
        within,
    })?;
    if ids.is_empty() {
        return Err(crate::error::UsageError("nothing matches".into()).into());
    }
    // The whole library (albums are analysed whole), without the fingerprints, which are a
    // few kilobytes a track and not needed to plan.
    let mut library = Vec::new();
    lib.for_each_track(&Selection::default(), |mut t| {
        t.chromaprint = None;
        library.push(t);
        Ok(())
    })?
    .expect("collecting cannot fail");
    let by_id: std::collections::HashMap<i64, &Track> = library.iter().map(|t| (t.id, t)).collect();
    let selected: Vec<Track> = ids
        .iter()
        .filter_map(|id| by_id.get(id).map(|t| (*t).clone()))
        .collect();
    drop(by_id);
    let units = crate::analyze::plan(library, &selected, args.force);
    let todo: usize = units.iter().map(|u| u.tracks.len()).sum();
    let skipped = selected.len().saturating_sub(
        units
            .iter()
            .flat_map(|u| &u.tracks)
            .filter(|t| selected.iter().any(|s| s.id == t.id))
            .count(),
    );
    let workers = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let cancel = super::interrupt::flag();
    let bar = Bar {
        bar: progress::counting_bar(
            todo as u64,
            "tracks",
            !ctx.quiet && std::io::stderr().is_terminal(),
        ),
        started: Instant::now(),
        audio: Mutex::new(0.0),
    };
    let mut analysed_n = 0usize;
    let mut damaged = Vec::new();
    let mut failed = 0usize;
    let mut interrupted = false;
    let mut albums = 0usize;
    let report = |line: String| match &bar.bar {
        Some(b) => b.suspend(|| eprintln!("{line}")),
        None => eprintln!("{line}"),
    };
    run::run(
        &units,
        workers,
        &cancel,
        &bar,
        |results: Vec<TrackResult>| {
            let at = now();
            if results.iter().any(|r| r.album.is_some()) {
                albums += 1;
            }
            lib.write(|w| {
                for r in &results {
                    match &r.outcome {
                        Err(Failure::Interrupted) => interrupted = true,
                        Err(e @ Failure::Unreadable(_)) => {
                            failed += 1;
                            report(format!(
                                "{} {}: {}",
                                super::style::label("error", super::style::stderr()),
                                escape_path(&r.path),
                                escape(&e.to_string())
                            ));
                        }
                        _ => {}
                    }
                    if let Some(t) = analysed(r, at) {
                        analysed_n += 1;
                        if let Some(why) = &t.damage {
                            if !ctx.quiet {
                                report(format!(
                                    "{} {}: {}",
                                    super::style::label("damaged", super::style::stderr()),
                                    escape_path(&r.path),
                                    escape(why)
                                ));
                            }
                            damaged.push((r.path.clone(), why.clone()));
                        }
                        w.set_analysis(r.id, &t)?;
                    }
                }
                Ok::<_, crate::db::DbError>(())
            })
        },
    )
    .context("cannot store the analysis")?;
    if let Some(b) = &bar.bar {
        b.finish_and_clear();
    }
    let tags = if args.write_tags && !interrupted {
        Some(write_tags(ctx, &lib, &ids)?)
    } else {
        None
    };
    let elapsed = bar.started.elapsed().as_secs_f64();
    let audio = *bar.audio.lock().expect("not poisoned");
    let speed = audio / elapsed.max(1e-6);
    if args.json {
        let damaged: Vec<serde_json::Value> = damaged
            .iter()
            .map(|(p, why)| serde_json::json!({"path": p.to_string_lossy(), "reason": why}))
            .collect();
        serde_json::to_writer(
            &mut *out,
            &serde_json::json!({
                "selected": selected.len(),
                "analysed": analysed_n,
                "albums": albums,
                "skipped": skipped,
                "damaged": damaged,
                "failed": failed,
                "interrupted": interrupted,
                "audio_seconds": audio,
                "seconds": elapsed,
                "tags": tags,
            }),
        )?;
        writeln!(out)?;
    } else if !ctx.quiet {
        let mut line = format!("analysed {analysed_n} tracks");
        if albums > 0 {
            line.push_str(&format!(" ({albums} albums)"));
        }
        for (n, what) in [
            (damaged.len(), "damaged"),
            (skipped, "skipped (already analysed)"),
            (failed, "failed"),
        ] {
            if n > 0 {
                line.push_str(&format!(", {n} {what}"));
            }
        }
        if audio > 0.0 {
            line.push_str(&format!(
                ": {} of audio in {elapsed:.1} s ({speed:.0}x real time)",
                super::convert::hms(audio)
            ));
        }
        writeln!(out, "{line}")?;
        if let Some(t) = &tags {
            writeln!(
                out,
                "ReplayGain tags: {} written, {} already said the same, {} not analysed, {} failed",
                t.written, t.already_matching, t.not_analysed, t.failed
            )?;
        }
    }
    if interrupted {
        return Err(anyhow::anyhow!(
            "interrupted: finished albums are kept; run the same command again to do the rest"
        ));
    }
    if failed > 0 || tags.is_some_and(|t| t.failed > 0) {
        return Err(crate::error::AlreadyReported(crate::error::code::FAILURE).into());
    }
    Ok(())
}

/// `tapedeck dupes`: groups of the selected tracks that are the same recording.
pub fn dupes(
    ctx: &Settings,
    select: &SelectArgs,
    threshold: f64,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    use crate::analyze::{dupes, fingerprint};
    let lib = ctx.open_library()?;
    let tracks = playlist::selected_tracks(&lib, select)?;
    let prints: Vec<(&Track, Vec<u32>)> = tracks
        .iter()
        .filter_map(|t| Some((t, fingerprint::decode(t.chromaprint.as_deref()?)?)))
        .collect();
    let unprinted = tracks.len() - prints.len();
    if unprinted > 0 && !ctx.quiet {
        super::style::note(format_args!(
            "{unprinted} of {} tracks have no fingerprint yet (`tapedeck analyze` makes them)",
            tracks.len()
        ));
    }
    let groups = dupes::groups(&prints, threshold);
    for g in &groups {
        if json {
            let copies: Vec<serde_json::Value> = g
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "path": c.track.path.to_string_lossy(),
                        "score": (c.score * 1000.0).round() / 1000.0,
                        "format": c.track.format,
                        "bitrate": c.track.bitrate,
                        "title": c.track.title,
                        "artist": c.track.artist,
                        "album": c.track.album,
                    })
                })
                .collect();
            serde_json::to_writer(&mut *out, &serde_json::json!({ "copies": copies }))?;
            writeln!(out)?;
            continue;
        }
        for (i, c) in g.iter().enumerate() {
            let mark = if i == 0 {
                "best ".to_string()
            } else {
                format!("{:.0}%  ", c.score * 100.0)
            };
            let kbps = c
                .track
                .bitrate
                .map(|b| format!(" {b}k"))
                .unwrap_or_default();
            writeln!(
                out,
                "{mark}{}{kbps}  {}",
                escape(&c.track.format),
                escape_path(&c.track.path)
            )?;
        }
        writeln!(out)?;
    }
    if !json && !ctx.quiet {
        let copies: usize = groups.iter().map(|g| g.len() - 1).sum();
        writeln!(
            out,
            "{} recordings with more than one copy ({copies} extra copies)",
            groups.len()
        )?;
    }
    Ok(())
}
