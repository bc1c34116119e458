//! Convert benchmark (`cargo bench --bench convert`, part of `make bench`).
//!
//! Eight one-minute FLAC files (pink noise and a tone, 44.1 kHz stereo 16-bit, made once with
//! ffmpeg) are scanned into a library, then converted by the release binary into a fresh
//! folder each time:
//!
//! - FLAC to MP3 320k CBR with one worker (`-j 1`) and with all cores, next to
//!   `ffmpeg -c:a libmp3lame -b:a 320k` on the same files, one process at a time and one per
//!   core at once (target: at least as fast per core as ffmpeg, and near-linear scaling);
//! - FLAC to ALAC and to AAC (256k) with all cores.
//!
//! Speed is audio seconds per wall-clock second ("x real time"). Best of 2 each. Targets are
//! printed with PASS or MISS, never asserted: shared machines are noisy, so compare the ratios.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{load_average, verdict};

const FILES: usize = 8;
const SECONDS: f64 = 60.0;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-convert");
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "== convert benchmark ({FILES} x {SECONDS} s FLAC; {cores} cores; load average {})",
        load_average()
    );
    // cargo bench builds the binary with the bench (optimised) profile.
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_tapedeck"));
    let sources = make_sources(&src);
    if sources.is_empty() {
        println!("  ffmpeg is needed to make the sources; skipped");
        return;
    }
    let db = root.join("library.db");
    common::scan_fresh(&exe, &db, &[&src]);
    let audio = FILES as f64 * SECONDS;

    println!("\n-- FLAC to MP3 320k CBR (x real time)");
    let one = best(|| convert(&exe, &db, &root, &["--format", "mp3", "-j", "1"]));
    let all = best(|| {
        convert(
            &exe,
            &db,
            &root,
            &["--format", "mp3", "-j", &cores.to_string()],
        )
    });
    println!("  tapedeck, 1 worker:      {:>6.0}x", audio / one);
    println!(
        "  tapedeck, {cores} workers:     {:>6.0}x   scaling {:.2} of {cores}",
        audio / all,
        one / all
    );
    if ffmpeg_has_lame() {
        let f_one = best(|| ffmpeg(&sources, &root, 1));
        let f_all = best(|| ffmpeg(&sources, &root, cores));
        println!("  ffmpeg, 1 process:       {:>6.0}x", audio / f_one);
        println!("  ffmpeg, {cores} processes:     {:>6.0}x", audio / f_all);
        println!(
            "  per core vs ffmpeg: {:.2}x   target >= 1: {}",
            f_one / one,
            verdict(one <= f_one)
        );
    } else {
        println!("  (ffmpeg with libmp3lame not installed: no comparison)");
    }
    println!(
        "  scaling target near-linear (>= {:.1} of {cores}): {}",
        cores as f64 * 0.8,
        verdict(one / all >= cores as f64 * 0.8)
    );

    println!("\n-- other formats, {cores} workers (x real time)");
    for (name, args) in [
        ("ALAC", vec!["--format", "alac"]),
        ("AAC 256k", vec!["--format", "aac"]),
        ("FLAC level 5", vec!["--format", "flac"]),
    ] {
        let mut a = args.clone();
        let j = cores.to_string();
        a.extend(["-j", j.as_str()]);
        let t = best(|| convert(&exe, &db, &root, &a));
        println!("  FLAC to {name:<12} {:>6.0}x", audio / t);
    }
}

fn make_sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for i in 0..FILES {
        let path = dir.join(format!("{:02} Track {i}.flac", i + 1));
        if !path.is_file() {
            let ok = Command::new("ffmpeg")
                .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
                .arg(format!(
                    "anoisesrc=color=pink:amplitude=0.3:duration={SECONDS}:sample_rate=44100:seed={i}"
                ))
                .args(["-f", "lavfi", "-i"])
                .arg(format!("sine=f={}:d={SECONDS}:sample_rate=44100", 220 + 110 * i))
                .args(["-filter_complex", "amix=inputs=2,aformat=channel_layouts=stereo:sample_fmts=s16"])
                .args(["-metadata", &format!("title=Track {i}"), "-metadata", "album=Bench", "-metadata", "artist=Bench"])
                .args(["-metadata", &format!("track={}", i + 1)])
                .arg(&path)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return Vec::new();
            }
        }
        out.push(path);
    }
    out
}

fn best(mut f: impl FnMut() -> f64) -> f64 {
    (0..2).map(|_| f()).fold(f64::MAX, f64::min)
}

/// Runs a conversion into a fresh folder; returns the wall-clock seconds.
fn convert(exe: &Path, db: &Path, root: &Path, args: &[&str]) -> f64 {
    let out = root.join("out");
    let _ = std::fs::remove_dir_all(&out);
    // A fresh library copy each time, so nothing is skipped as already converted.
    let run_db = root.join("run.db");
    let _ = std::fs::remove_file(&run_db);
    std::fs::copy(db, &run_db).unwrap();
    let t = Instant::now();
    let status = Command::new(exe)
        .arg("--db")
        .arg(&run_db)
        .args(["convert", "-q", "--to"])
        .arg(&out)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert!(status.success(), "convert {args:?} failed");
    secs
}

fn ffmpeg_has_lame() -> bool {
    Command::new("ffmpeg")
        .args(["-v", "error", "-hide_banner", "-encoders"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("libmp3lame"))
}

/// ffmpeg on every source, `parallel` processes at a time; returns the wall-clock seconds.
fn ffmpeg(sources: &[PathBuf], root: &Path, parallel: usize) -> f64 {
    let out = root.join("ffmpeg-out");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let t = Instant::now();
    for batch in sources.chunks(parallel) {
        let children: Vec<_> = batch
            .iter()
            .map(|s| {
                Command::new("ffmpeg")
                    .args(["-v", "error", "-y", "-threads", "1", "-i"])
                    .arg(s)
                    .args(["-c:a", "libmp3lame", "-b:a", "320k"])
                    .arg(out.join(s.file_name().unwrap()).with_extension("mp3"))
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
    }
    t.elapsed().as_secs_f64()
}
