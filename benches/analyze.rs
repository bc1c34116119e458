//! Analysis benchmark (`cargo bench --bench analyze`, part of `make bench`).
//!
//! Three albums of four one-minute FLAC tracks (music-like noise with a tone, made once with
//! ffmpeg) are analysed by `tapedeck analyze --force` on one worker and on every core, and,
//! in the same run on the same files, measured by loudgain (track and album gain, one process
//! per album, as it is used) and by ffmpeg's `ebur128` filter (one process per file). Speeds
//! are in times real time. Then the cost of each of the three analyses on one core, in
//! process: decoding alone (with the MD5 check), decoding with the loudness meter, decoding
//! with the fingerprint.
//!
//! Targets, printed with PASS or MISS, never asserted: the whole pass (loudness, integrity and
//! fingerprint) at least as fast per core as loudgain's loudness alone, and near-linear scaling
//! (at least 80% of the cores' worth).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{load_average, verdict};
use tapedeck::analyze::fingerprint::Printer;
use tapedeck::analyze::loudness::Meter;
use tapedeck::audio::decode::Decoder;

const ALBUMS: usize = 3;
const TRACKS: usize = 4;
const SECONDS: usize = 60;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-analyze");
    let music = root.join("music");
    std::fs::create_dir_all(&music).unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "== analysis benchmark (load average {}, {cores} cores)",
        load_average()
    );
    let albums = make_albums(&music);
    let files: Vec<PathBuf> = albums.iter().flatten().cloned().collect();
    let audio = (files.len() * SECONDS) as f64;
    println!(
        "  {} FLAC tracks in {} albums, {audio:.0} s of audio",
        files.len(),
        albums.len()
    );
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_tapedeck"));
    let db = root.join("library.db");
    let _ = std::fs::remove_file(&db);
    run(&exe, &db, &["scan", "-q", music.to_str().unwrap()]);
    let ours = |jobs: usize| -> f64 {
        let start = Instant::now();
        run(
            &exe,
            &db,
            &["analyze", "-q", "--force", "-j", &jobs.to_string()],
        );
        audio / start.elapsed().as_secs_f64()
    };
    let one = best_of(3, || ours(1));
    let all = best_of(3, || ours(cores));
    println!("  tapedeck analyze, 1 worker:        {one:7.0}x real time (all three analyses)");
    println!("  tapedeck analyze, {cores} workers:       {all:7.0}x real time");
    let loudgain = best_of(3, || {
        let start = Instant::now();
        for album in &albums {
            let ok = Command::new("loudgain")
                .args(["-a", "-q", "-s", "s"])
                .args(album)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "loudgain failed (installed by make deps)");
        }
        audio / start.elapsed().as_secs_f64()
    });
    println!(
        "  loudgain -a (track + album):        {loudgain:7.0}x real time (loudness only, 1 core)"
    );
    let ffmpeg = best_of(3, || {
        let start = Instant::now();
        for f in &files {
            let ok = Command::new("ffmpeg")
                .args(["-nostats", "-v", "error", "-i"])
                .arg(f)
                .args(["-af", "ebur128=peak=true", "-f", "null", "-"])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "ffmpeg failed");
        }
        audio / start.elapsed().as_secs_f64()
    });
    println!(
        "  ffmpeg -af ebur128=peak=true:       {ffmpeg:7.0}x real time (loudness only, 1 core)"
    );
    println!("  cost of each analysis on one core (seconds of CPU per hour of audio):");
    let per_hour = |speed: f64| 3600.0 / speed;
    let decode = best_of(3, || in_process(&files, false, false));
    let meter = best_of(3, || in_process(&files, true, false));
    let print = best_of(3, || in_process(&files, false, true));
    println!(
        "    decoding and integrity (MD5):     {:7.1} s",
        per_hour(decode)
    );
    println!(
        "    loudness (EBU R128, true peak):   {:7.1} s",
        per_hour(meter) - per_hour(decode)
    );
    println!(
        "    fingerprint (first 2 minutes):    {:7.1} s",
        per_hour(print) - per_hour(decode)
    );
    println!(
        "  target: whole pass per core >= loudgain's loudness: {one:.0}x vs {loudgain:.0}x {}",
        verdict(one >= loudgain)
    );
    let scaling = all / one;
    println!(
        "  target: near-linear scaling: {scaling:.2}x on {cores} cores {}",
        verdict(scaling >= 0.8 * cores as f64)
    );
}

fn run(exe: &Path, db: &Path, args: &[&str]) {
    let ok = Command::new(exe)
        .arg("--db")
        .arg(db)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "tapedeck {args:?} failed");
}

fn best_of(n: usize, mut f: impl FnMut() -> f64) -> f64 {
    (0..n).map(|_| f()).fold(0.0, f64::max)
}

/// Decodes every file on this thread, feeding the meter and/or the fingerprint; times real
/// time.
fn in_process(files: &[PathBuf], meter: bool, print: bool) -> f64 {
    let start = Instant::now();
    let mut audio = 0.0;
    for f in files {
        let mut d = Decoder::open_verifying(f).unwrap();
        let spec = d.spec();
        let mut m = meter.then(|| Meter::new(spec.channels, spec.rate).unwrap());
        let mut p = if print {
            Printer::new(spec.rate, spec.channels)
        } else {
            None
        };
        let mut buf = Vec::new();
        let mut frames = 0usize;
        loop {
            buf.clear();
            let n = d.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            frames += n;
            if let Some(m) = &mut m {
                m.add(&buf).unwrap();
            }
            if let Some(p) = &mut p {
                p.add(&buf);
            }
        }
        if let Some(p) = p {
            std::hint::black_box(p.finish());
        }
        if let Some(m) = m {
            std::hint::black_box(m.loudness());
        }
        assert_eq!(d.finish().checksum_ok, Some(true));
        audio += frames as f64 / f64::from(spec.rate);
    }
    audio / start.elapsed().as_secs_f64()
}

/// The albums' files (made once, kept between runs).
fn make_albums(music: &Path) -> Vec<Vec<PathBuf>> {
    (0..ALBUMS)
        .map(|a| {
            (0..TRACKS)
                .map(|t| {
                    let path = music.join(format!("album{a}/{t:02}.flac"));
                    if !path.is_file() {
                        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                        let seed = a * TRACKS + t;
                        let ok = Command::new("ffmpeg")
                            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
                            .arg(format!(
                                "anoisesrc=color=pink:amplitude=0.{}:duration={SECONDS}:seed={seed}",
                                2 + seed % 5
                            ))
                            .args(["-f", "lavfi", "-i"])
                            .arg(format!("sine=f={}:d={SECONDS}", 220 + 55 * seed))
                            .args(["-filter_complex", "amix=inputs=2,aformat=channel_layouts=stereo"])
                            .args(["-metadata", &format!("album=Album {a}")])
                            .args(["-metadata", "artist=Bench"])
                            .args(["-metadata", &format!("track={}", t + 1)])
                            .arg(&path)
                            .status()
                            .is_ok_and(|s| s.success());
                        assert!(ok, "ffmpeg could not make {}", path.display());
                    }
                    path
                })
                .collect()
        })
        .collect()
}
