//! CD benchmark (`cargo bench --bench cd`, part of `make bench`).
//!
//! - An 80-minute audio CD image from FLAC: fifteen 5:15 tracks of one album (pink noise and a
//!   tone, 44.1 kHz stereo 16-bit, made once with ffmpeg: one file encoded, the others copies
//!   of its stream with their own tags), made by the release binary into a fresh folder, next to
//!   doing the same by hand: ffmpeg decoding the files into one raw image, and shntool writing
//!   the cue sheet (when installed).
//! - A 700 MB MP3 CD image: 320k MP3 files (again one encoded, the rest stream copies) which the
//!   car profile copies with its tags rewritten, then xorriso; next to `cp` and xorriso on the
//!   same files by hand.
//!
//! Speed is audio seconds per wall-clock second ("x real time") and MB/s. Best of 2 each.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::load_average;

const TRACKS: usize = 15;
const TRACK_SECONDS: u32 = 315;
const MP3_SECONDS: u32 = 600;
/// About 700 MB of 320k MP3: 30 ten-minute files of 24 MB.
const MP3_FILES: usize = 30;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-cd");
    std::fs::create_dir_all(&root).unwrap();
    println!("== cd benchmark (load average {})", load_average());
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_tapedeck"));
    let flac_dir = root.join("flac");
    let mp3_dir = root.join("mp3");
    if !make_sources(&flac_dir, "flac", TRACKS, TRACK_SECONDS)
        || !make_sources(&mp3_dir, "mp3", MP3_FILES, MP3_SECONDS)
    {
        println!("  ffmpeg is needed to make the sources; skipped");
        return;
    }
    let db = root.join("library.db");
    common::scan_fresh(&exe, &db, &[&flac_dir, &mp3_dir]);

    let audio = (TRACKS as u32 * TRACK_SECONDS) as f64;
    println!("\n-- 80-minute audio CD image from FLAC ({TRACKS} x {TRACK_SECONDS} s)");
    let ours = best(|| tapedeck_cd(&exe, &db, &root, &["--audio", "format:flac"]));
    println!(
        "  tapedeck cd --audio:       {ours:>6.2}s  {:>5.0}x real time",
        audio / ours
    );
    let theirs = best(|| by_hand_audio(&flac_dir, &root));
    println!(
        "  ffmpeg{} by hand:  {theirs:>6.2}s  {:>5.0}x real time",
        if has("shntool") {
            " + shntool"
        } else {
            "          "
        },
        audio / theirs
    );

    let bytes: u64 = std::fs::read_dir(&mp3_dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    let mb = bytes as f64 / 1e6;
    println!("\n-- {mb:.0} MB MP3 CD image ({MP3_FILES} x 320k MP3, car profile)");
    let ours = best(|| tapedeck_cd(&exe, &db, &root, &["--mp3", "--size", "800", "format:mp3"]));
    println!(
        "  tapedeck cd --mp3:         {ours:>6.2}s  {:>5.0} MB/s",
        mb / ours
    );
    let theirs = best(|| by_hand_iso(&mp3_dir, &root));
    println!(
        "  cp + xorriso by hand:      {theirs:>6.2}s  {:>5.0} MB/s",
        mb / theirs
    );
}

fn has(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn best(mut f: impl FnMut() -> f64) -> f64 {
    (0..2).map(|_| f()).fold(f64::INFINITY, f64::min)
}

/// `count` files of `secs` seconds in `dir` (made once): one encoded by ffmpeg, the others
/// copies of its stream with their own tags.
fn make_sources(dir: &Path, ext: &str, count: usize, secs: u32) -> bool {
    std::fs::create_dir_all(dir).unwrap();
    let first = dir.join(format!("01.{ext}"));
    if !first.exists() {
        let mut c = Command::new("ffmpeg");
        c.args(["-loglevel", "error", "-y", "-f", "lavfi", "-i"])
            .arg(format!(
                "anoisesrc=color=pink:amplitude=0.3:duration={secs}"
            ))
            .args(["-f", "lavfi", "-i"])
            .arg(format!("sine=frequency=440:duration={secs}"))
            .args([
                "-filter_complex",
                "amix=inputs=2",
                "-ac",
                "2",
                "-ar",
                "44100",
            ]);
        if ext == "mp3" {
            c.args(["-c:a", "libmp3lame", "-b:a", "320k"]);
        } else {
            c.args(["-sample_fmt", "s16"]);
        }
        let tmp = dir.join(format!("tmp.{ext}"));
        if !c.arg(&tmp).status().is_ok_and(|s| s.success()) {
            return false;
        }
        for n in 1..=count {
            let ok = Command::new("ffmpeg")
                .args(["-loglevel", "error", "-y", "-i"])
                .arg(&tmp)
                .args(["-map_metadata", "-1", "-c", "copy"])
                .args(["-metadata", &format!("title=Part {n}")])
                .args(["-metadata", &format!("track={n}")])
                .args(["-metadata", &format!("album=Bench {ext}")])
                .args(["-metadata", "artist=Bench"])
                .arg(dir.join(format!("{n:02}.{ext}")))
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return false;
            }
        }
        std::fs::remove_file(&tmp).unwrap();
    }
    true
}

fn fresh(root: &Path, name: &str) -> PathBuf {
    let out = root.join(name);
    let _ = std::fs::remove_dir_all(&out);
    out
}

fn tapedeck_cd(exe: &Path, db: &Path, root: &Path, args: &[&str]) -> f64 {
    let out = fresh(root, "out");
    let start = Instant::now();
    let ok = Command::new(exe)
        .arg("--db")
        .arg(db)
        .args(["cd", "-q", "--to"])
        .arg(&out)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "tapedeck cd {args:?} failed");
    start.elapsed().as_secs_f64()
}

fn sorted_files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

/// ffmpeg decodes every file into one raw image; shntool writes a cue sheet from WAVs.
fn by_hand_audio(dir: &Path, root: &Path) -> f64 {
    let out = fresh(root, "by-hand");
    std::fs::create_dir_all(&out).unwrap();
    let files = sorted_files(dir, "flac");
    let list = out.join("list.txt");
    let text: String = files
        .iter()
        .map(|f| format!("file '{}'\n", f.display()))
        .collect();
    std::fs::write(&list, text).unwrap();
    let start = Instant::now();
    let ok = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-f", "concat", "-safe", "0", "-i"])
        .arg(&list)
        .args(["-f", "s16le", "-ar", "44100", "-ac", "2"])
        .arg(out.join("disc.bin"))
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ffmpeg failed");
    if has("shntool") {
        // shntool reads WAV: the per-track decode it needs is part of doing it by hand.
        for f in &files {
            let wav = out.join(f.file_name().unwrap()).with_extension("wav");
            let ok = Command::new("ffmpeg")
                .args(["-loglevel", "error", "-i"])
                .arg(f)
                .arg(&wav)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok);
        }
        let cue = std::fs::File::create(out.join("disc.cue")).unwrap();
        let ok = Command::new("shntool")
            .arg("cue")
            .args(sorted_files(&out, "wav"))
            .stdout(cue)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "shntool failed");
    }
    start.elapsed().as_secs_f64()
}

/// `cp` of the files into a tree, then xorriso's ISO of it.
fn by_hand_iso(dir: &Path, root: &Path) -> f64 {
    let out = fresh(root, "by-hand");
    let tree = out.join("tree/Bench/Bench mp3");
    std::fs::create_dir_all(&tree).unwrap();
    let start = Instant::now();
    for f in sorted_files(dir, "mp3") {
        std::fs::copy(&f, tree.join(f.file_name().unwrap())).unwrap();
    }
    let ok = Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-J", "-R", "-o"])
        .arg(out.join("disc.iso"))
        .arg(out.join("tree"))
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "xorriso failed");
    start.elapsed().as_secs_f64()
}
