//! Player benchmark (`cargo bench --bench play`, part of `make bench`).
//!
//! 1. Decode speed per format, in times real time on one core: a minute of stereo 44.1 kHz
//!    music-like noise encoded with ffmpeg to each format, decoded whole with the player's
//!    decoder, best of 3.
//! 2. Start-up: time from process start to the first sample handed to the output, for
//!    `tapedeck play QUERY` on a library of 100,000 tracks (synthetic rows written through the
//!    library's own writer, plus one real file the query selects), with the output on ALSA's
//!    null device. The binary prints the milestone itself (`TAPEDECK_TIMING`). Median of 5.
//! 3. CPU time per minute of FLAC playback: `tapedeck play` of a one-minute FLAC into ALSA's
//!    null device (unpaced, so the figure is the work, not the idle time), user+system CPU of
//!    the process, scaled per minute of audio. Best of 3.
//!
//! Targets are printed with PASS or MISS, never asserted. Needs ffmpeg (skips what it cannot
//! make without it).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{load_average, verdict};
use tapedeck::db::{FileRecord, Library};
use tapedeck::model::Track;

const LIBRARY_TRACKS: usize = 100_000;
const TARGET_START_MS: f64 = 150.0;
const TARGET_CPU_PER_MIN: f64 = 1.0;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-play");
    std::fs::create_dir_all(&root).unwrap();
    println!("== player benchmark (load average {})", load_average());
    // cargo bench builds the binary with the bench (optimised) profile.
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_tapedeck"));
    let sources = make_sources(&root);
    decode_speed(&sources);
    let alsa = root.join("null.conf");
    std::fs::write(
        &alsa,
        "pcm.!default { type null }\nctl.!default { type hw card 0 }\n",
    )
    .unwrap();
    if let Some(flac) = sources.iter().find(|(f, _)| *f == "FLAC") {
        start_up(&root, &exe, &alsa, &flac.1);
        cpu_per_minute(&root, &exe, &alsa, &flac.1);
    }
}

/// One minute of audio in every format (made once, kept between runs).
fn make_sources(root: &Path) -> Vec<(&'static str, PathBuf)> {
    let formats: [(&str, &str, &[&str]); 6] = [
        ("FLAC", "flac", &["-c:a", "flac"]),
        ("MP3 320k", "mp3", &["-c:a", "libmp3lame", "-b:a", "320k"]),
        ("AAC 256k", "m4a", &["-c:a", "aac", "-b:a", "256k"]),
        ("ALAC", "alac.m4a", &["-c:a", "alac"]),
        ("WAV", "wav", &["-c:a", "pcm_s16le"]),
        ("AIFF", "aiff", &["-c:a", "pcm_s16be"]),
    ];
    let mut out = Vec::new();
    for (name, ext, codec) in formats {
        let path = root.join(format!("minute.{ext}"));
        if !path.is_file() {
            // Pink noise with a tone: compresses like music, not like silence.
            let ok = Command::new("ffmpeg")
                .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
                .arg("anoisesrc=color=pink:amplitude=0.3:duration=60:sample_rate=44100")
                .args(["-f", "lavfi", "-i", "sine=f=440:d=60:sample_rate=44100"])
                .args([
                    "-filter_complex",
                    "amix=inputs=2,aformat=channel_layouts=stereo",
                ])
                .args(codec)
                .arg(&path)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                println!("  (ffmpeg could not make {name}; skipped)");
                continue;
            }
        }
        out.push((name, path));
    }
    out
}

fn decode_speed(sources: &[(&'static str, PathBuf)]) {
    println!("\n-- decode speed, one core (times real time; best of 3)");
    for (name, path) in sources {
        let mut best = f64::MAX;
        let mut frames = 0;
        for _ in 0..3 {
            let t = Instant::now();
            let (spec, samples) = tapedeck::audio::decode::decode_all(path).expect("decode");
            best = best.min(t.elapsed().as_secs_f64());
            frames = samples.len() / usize::from(spec.channels);
        }
        let audio = frames as f64 / 44100.0;
        println!(
            "  {name:<9} {:>7.0}x  ({audio:.0} s of audio in {:.1} ms)",
            audio / best,
            best * 1000.0
        );
    }
}

/// Writes the synthetic library plus one real track (made once).
fn library(root: &Path, exe: &Path, real: &Path) -> PathBuf {
    let db = root.join("library.db");
    let marker = root.join("library.marker");
    let want = format!("tracks={LIBRARY_TRACKS} real={}", real.display());
    if db.is_file() && std::fs::read_to_string(&marker).is_ok_and(|m| m == want) {
        return db;
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let mut lib = Library::open(&db).unwrap();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for chunk in 0..(LIBRARY_TRACKS / 10_000) {
        lib.write(|w| {
            for i in 0..10_000 {
                let n = chunk * 10_000 + i;
                let artist = format!("Artist {}", next() % 5_000);
                let album = format!("Album {}", n / 10);
                let mut fp = [0u8; 16];
                fp[..8].copy_from_slice(&next().to_le_bytes());
                w.insert_track(
                    &FileRecord::new(
                        fp,
                        Track {
                            path: PathBuf::from(format!(
                                "/music/{artist}/{album}/{:02} Song {n}.flac",
                                n % 10 + 1
                            )),
                            size: 30_000_000,
                            mtime: 1_700_000_000,
                            title: format!("Song {n}"),
                            artist: Some(artist.clone()),
                            artists: vec![artist.clone()],
                            album: Some(album),
                            albumartist: Some(artist),
                            track: Some((n % 10 + 1) as u32),
                            year: Some(1960 + (n % 60) as i32),
                            genre: Some(["Rock", "Jazz", "Pop", "Folk"][n % 4].into()),
                            duration: 240.0,
                            codec: "flac".into(),
                            format: "flac".into(),
                            container: "flac".into(),
                            ..Track::default()
                        },
                    ),
                    1_700_000_000,
                )?;
            }
            Ok::<_, tapedeck::db::DbError>(())
        })
        .unwrap();
    }
    drop(lib);
    let status = Command::new(exe)
        .args(["-q", "--db"])
        .arg(&db)
        .arg("scan")
        .arg(real.parent().unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::write(&marker, want).unwrap();
    db
}

fn start_up(root: &Path, exe: &Path, alsa: &Path, flac: &Path) {
    println!(
        "\n-- start-up: process start to first sample handed to the output ({LIBRARY_TRACKS} tracks)"
    );
    // The real track sits in its own folder so the scan adds only it.
    let real_dir = root.join("real");
    std::fs::create_dir_all(&real_dir).unwrap();
    let real = real_dir.join("benchmark-tune.flac");
    if !real.is_file() {
        std::fs::copy(flac, &real).unwrap();
    }
    let db = library(root, exe, &real);
    let mut times = Vec::new();
    for _ in 0..5 {
        let out = Command::new(exe)
            .args(["--db"])
            .arg(&db)
            .args(["play", "-q", "--start-at", "58", "benchmark-tune"])
            .env("TAPEDECK_TIMING", "1")
            .env(
                "ALSA_CONFIG_PATH",
                format!("/usr/share/alsa/alsa.conf:{}", alsa.display()),
            )
            .stdout(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let ms = stderr
            .lines()
            .find_map(|l| l.strip_prefix("timing: first sample handed to the output: "))
            // "4.1 ms (this thread's CPU: 1.1 ms)"
            .and_then(|v| v.split_once(" ms")?.0.parse::<f64>().ok());
        match ms {
            Some(ms) => times.push(ms),
            None => {
                println!("  no timing line: {stderr}");
                return;
            }
        }
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "  median {median:.1} ms (runs: {})   target < {TARGET_START_MS} ms: {}",
        times
            .iter()
            .map(|t| format!("{t:.1}"))
            .collect::<Vec<_>>()
            .join(", "),
        verdict(median < TARGET_START_MS)
    );
}

fn cpu_per_minute(root: &Path, exe: &Path, alsa: &Path, flac: &Path) {
    println!("\n-- CPU time per minute of FLAC playback (null device, unpaced; best of 3)");
    let db = root.join("cpu.db");
    let mut best = f64::MAX;
    for _ in 0..3 {
        let child = Command::new(exe)
            .args(["--db"])
            .arg(&db)
            .args(["play", "-q", "--replaygain", "off"])
            .arg(flac)
            .env(
                "ALSA_CONFIG_PATH",
                format!("/usr/share/alsa/alsa.conf:{}", alsa.display()),
            )
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let mut status = 0;
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: waits for our own child and fills a zeroed rusage.
        unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        let cpu = usage.ru_utime.tv_sec as f64
            + usage.ru_utime.tv_usec as f64 / 1e6
            + usage.ru_stime.tv_sec as f64
            + usage.ru_stime.tv_usec as f64 / 1e6;
        best = best.min(cpu);
    }
    println!(
        "  {best:.3} s of CPU per minute of audio   target < {TARGET_CPU_PER_MIN} s: {}",
        verdict(best < TARGET_CPU_PER_MIN)
    );
}
