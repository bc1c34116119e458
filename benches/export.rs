//! Export benchmark (`cargo bench --bench export`, part of `make bench`).
//!
//! Synthetic MP3s (one short ffmpeg tone, copied with a byte of audio changed per copy so each
//! has its own fingerprint, and a hand-made ID3v2.3 tag with distinct title, album and track)
//! are scanned into a library and exported with the `stick` profile (MP3 copied as it is) by
//! the release binary to a plain folder and to an exFAT file system (exfat-fuse on a loop
//! device; FAT32 through fusefat is too slow to say anything about tapedeck):
//!
//! - a no-change re-sync of 5,000 exported tracks (target: under 1 s, start-up included);
//! - export throughput when copying as-is, as a ratio to `cp -r` of the same files in the same
//!   run (target: within 1.5x), for the 5,000 small files and for 100 files of 2 MB. Both sides
//!   end with their data flushed (`sync -f` after `cp -r`), since export flushes what it writes
//!   before it says the stick is safe to remove.
//!
//! Figures are printed with PASS or MISS, never asserted. `EXPORT_TRACKS` changes the count;
//! `EXPORT_BASELINE=/path/to/tapedeck` prints the same figures for another build beside this
//! one (what a change costs, measured in the same run).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{env_count, load_average, thousands, verdict};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-export");
    std::fs::create_dir_all(&root).unwrap();
    let tracks = env_count("EXPORT_TRACKS", 5000);
    println!(
        "== export benchmark ({} tracks; load average {})",
        thousands(tracks as f64),
        load_average()
    );
    // cargo bench builds the binary with the bench (optimised) profile.
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_tapedeck"));
    let mut exes = vec![("tapedeck", exe.clone())];
    if let Ok(b) = std::env::var("EXPORT_BASELINE") {
        println!("   baseline: {b} (the same figures, to measure what a change costs)");
        exes.push(("baseline", PathBuf::from(b)));
    }
    let Some(small) = make_base(&root, "base-small.mp3", 0.3) else {
        panic!("ffmpeg with libmp3lame is needed to make the sources (make bench installs it)");
    };
    let big = make_base(&root, "base-big.mp3", 62.0).unwrap();

    let music = root.join("small");
    make_library(&small, &music, tracks, 50);
    let small_size = dir_size(&music);
    let big_music = root.join("big");
    make_library(&big, &big_music, 100, 20);
    let big_size = dir_size(&big_music);
    // Each binary its own library (a baseline may not read a newer library's schema).
    let exes: Vec<Exe> = exes
        .into_iter()
        .map(|(name, exe)| {
            let small_db = root.join(format!("small-{name}.db"));
            let big_db = root.join(format!("big-{name}.db"));
            scan(&exe, &small_db, &music);
            scan(&exe, &big_db, &big_music);
            Exe {
                name,
                exe,
                small_db,
                big_db,
            }
        })
        .collect();

    // A plain folder, then an exFAT file system (exfat-fuse through a loop device: what sticks
    // over 32 GB come as).
    let exfat = Exfat::new(&root, 1024);
    let places: Vec<(&str, PathBuf)> = match &exfat {
        Some(x) => vec![("plain folder", root.clone()), ("exFAT", x.mnt.clone())],
        None => vec![("plain folder", root.clone())],
    };
    for (place, dir) in &places {
        println!(
            "\n-- {place}: copying as-is, {} small MP3s ({:.1} MB), stick profile",
            thousands(tracks as f64),
            small_size as f64 / 1e6
        );
        let (cp, exports) = compare(&exes, false, &music, dir);
        throughput_lines(small_size, cp, &exports);

        println!(
            "\n-- {place}: no-change re-sync of {} tracks (best of 3, start-up included)",
            thousands(tracks as f64)
        );
        let mut first = None;
        for Exe {
            name,
            exe,
            small_db: db,
            ..
        } in &exes
        {
            // Each binary re-syncs its own fresh export.
            let out = dir.join("export-out");
            let _ = std::fs::remove_dir_all(&out);
            std::fs::create_dir_all(&out).unwrap();
            export_once(exe, &db, &out);
            let resync = (0..3)
                .map(|_| {
                    let t = Instant::now();
                    let output = Command::new(exe)
                        .arg("--db")
                        .arg(&db)
                        .args(["export", "--json", "--to"])
                        .arg(&out)
                        .output()
                        .unwrap();
                    let secs = t.elapsed().as_secs_f64();
                    assert!(output.status.success(), "re-sync failed");
                    let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
                    assert_eq!(v["kept"], tracks, "the re-sync should keep every track");
                    assert_eq!(v["added"], 0);
                    secs
                })
                .fold(f64::MAX, f64::min);
            let vs = first.map_or(String::new(), |f: f64| {
                format!("   tapedeck / baseline = {:.2}x", f / resync)
            });
            println!(
                "  {name:<9} {resync:.3} s   target < 1 s: {}{vs}",
                verdict(resync < 1.0)
            );
            first.get_or_insert(resync);
            let _ = std::fs::remove_dir_all(&out);
        }

        println!(
            "\n-- {place}: copying as-is, 100 MP3s of {:.1} MB ({:.0} MB), stick profile",
            big_size as f64 / 1e8,
            big_size as f64 / 1e6
        );
        let (cp, exports) = compare(&exes, true, &big_music, dir);
        throughput_lines(big_size, cp, &exports);
        let _ = std::fs::remove_dir_all(dir.join("export-out"));
        let _ = std::fs::remove_dir_all(dir.join("cp-out"));
    }
    drop(exfat);
}

/// A binary to measure, with its own libraries of the small and the big files.
struct Exe {
    name: &'static str,
    exe: PathBuf,
    small_db: PathBuf,
    big_db: PathBuf,
}

/// An exFAT image mounted with exfat-fuse through a loop device; `None` (with a note) where
/// that cannot be done (not root, no loop devices).
struct Exfat {
    mnt: PathBuf,
    dev: String,
}

impl Exfat {
    fn new(root: &Path, mb: u64) -> Option<Exfat> {
        let img = root.join("exfat.img");
        let mnt = root.join("exfat");
        let _ = Command::new("umount").arg(&mnt).status();
        std::fs::create_dir_all(&mnt).unwrap();
        let f = std::fs::File::create(&img).unwrap();
        f.set_len(mb << 20).unwrap();
        drop(f);
        let quiet = |c: &mut Command| c.stdout(Stdio::null()).stderr(Stdio::null()).status();
        if !quiet(Command::new("mkfs.exfat").arg(&img)).is_ok_and(|s| s.success()) {
            println!("  (mkfs.exfat is missing: exFAT figures left out)");
            return None;
        }
        let out = Command::new("losetup")
            .args(["-f", "--show"])
            .arg(&img)
            .output()
            .ok()?;
        if !out.status.success() {
            println!("  (no loop device: exFAT figures left out)");
            return None;
        }
        let dev = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !quiet(Command::new("mount.exfat-fuse").arg(&dev).arg(&mnt)).is_ok_and(|s| s.success()) {
            let _ = Command::new("losetup").args(["-d", &dev]).status();
            println!("  (exfat-fuse cannot mount: exFAT figures left out)");
            return None;
        }
        Some(Exfat { mnt, dev })
    }
}

impl Drop for Exfat {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mnt).status();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
    }
}

fn export_once(exe: &Path, db: &Path, target: &Path) -> f64 {
    let t = Instant::now();
    let ok = Command::new(exe)
        .arg("--db")
        .arg(db)
        .args(["export", "-q", "--profile", "stick", "--to"])
        .arg(target)
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "export failed");
    t.elapsed().as_secs_f64()
}

fn throughput_lines(bytes: u64, cp: f64, exports: &[(&str, f64)]) {
    println!(
        "  cp -r + sync: {:.2} s ({:.0} MB/s)",
        cp,
        bytes as f64 / 1e6 / cp
    );
    for (name, export) in exports {
        let vs = match exports.first() {
            Some((_, first)) if *name != exports[0].0 => {
                format!("   tapedeck / baseline = {:.2}x", first / export)
            }
            _ => String::new(),
        };
        println!(
            "  {name:<9} {:.2} s ({:.0} MB/s)   export / cp -r = {:.2}x   target <= 1.5x: {}{vs}",
            export,
            bytes as f64 / 1e6 / export,
            export / cp,
            verdict(export / cp <= 1.5)
        );
    }
}

/// `cp -r` then a flush, and a fresh export of the same files by each binary, into `dir`;
/// best of 2 each, alternating.
fn compare(exes: &[Exe], big: bool, music: &Path, dir: &Path) -> (f64, Vec<(&'static str, f64)>) {
    let mut cp = f64::MAX;
    let mut best: Vec<(&str, f64)> = exes.iter().map(|e| (e.name, f64::MAX)).collect();
    for _ in 0..2 {
        let target = dir.join("cp-out");
        let _ = std::fs::remove_dir_all(&target);
        sync_fs(dir);
        let t = Instant::now();
        let ok = Command::new("cp")
            .arg("-r")
            .arg(music)
            .arg(&target)
            .status()
            .unwrap()
            .success();
        sync_fs(&target);
        cp = cp.min(t.elapsed().as_secs_f64());
        assert!(ok);
        let _ = std::fs::remove_dir_all(&target);
        for (n, e) in exes.iter().enumerate() {
            let target = dir.join("export-out");
            let _ = std::fs::remove_dir_all(&target);
            std::fs::create_dir_all(&target).unwrap();
            sync_fs(dir);
            let db = if big { &e.big_db } else { &e.small_db };
            let secs = export_once(&e.exe, db, &target);
            best[n].1 = best[n].1.min(secs);
        }
    }
    (cp, best)
}

fn sync_fs(path: &Path) {
    let _ = Command::new("sync").arg("-f").arg(path).status();
}

fn dir_size(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.metadata().map_or(0, |m| m.len()))
        .sum()
}

/// One untagged MP3 tone of `secs` seconds, made once.
fn make_base(root: &Path, name: &str, secs: f64) -> Option<Vec<u8>> {
    let path = root.join(name);
    if !path.is_file() {
        let ok = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg(format!("sine=frequency=440:duration={secs}"))
            .args(["-ac", "2", "-c:a", "libmp3lame", "-b:a", "256k"])
            .args(["-id3v2_version", "0", "-write_id3v1", "0"])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return None;
        }
    }
    std::fs::read(&path).ok()
}

/// An ID3v2.3 tag with Latin-1 text frames.
fn id3(frames: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (id, text) in frames {
        body.extend_from_slice(id.as_bytes());
        body.extend_from_slice(&(text.len() as u32 + 1).to_be_bytes());
        body.extend_from_slice(&[0, 0, 0]);
        body.extend_from_slice(text.as_bytes());
    }
    let n = body.len() as u32;
    let mut tag = b"ID3\x03\x00\x00".to_vec();
    tag.extend_from_slice(&[
        ((n >> 21) & 0x7F) as u8,
        ((n >> 14) & 0x7F) as u8,
        ((n >> 7) & 0x7F) as u8,
        (n & 0x7F) as u8,
    ]);
    tag.extend(body);
    tag
}

/// `count` copies of `base`, `per_album` to an album folder, each with its own tags and one
/// audio byte changed (so each has its own fingerprint). Made once.
fn make_library(base: &[u8], dir: &Path, count: usize, per_album: usize) {
    let marker = dir.join(format!(".made-{count}"));
    if marker.exists() {
        return;
    }
    let _ = std::fs::remove_dir_all(dir);
    for i in 0..count {
        let album = i / per_album;
        let n = i % per_album + 1;
        let folder = dir.join(format!("Album {album:03}"));
        std::fs::create_dir_all(&folder).unwrap();
        let mut audio = base.to_vec();
        let at = audio.len() - 40;
        audio[at] ^= (i & 0xFF) as u8;
        audio[at + 1] ^= (i >> 8) as u8;
        let mut file = id3(&[
            ("TIT2", &format!("Song {i}")),
            ("TPE1", &format!("Artist {}", album % 37)),
            ("TALB", &format!("Album {album:03}")),
            ("TRCK", &n.to_string()),
        ]);
        file.extend(audio);
        std::fs::write(folder.join(format!("{n:02}.mp3")), file).unwrap();
    }
    std::fs::write(marker, b"").unwrap();
}

fn scan(exe: &Path, db: &Path, music: &Path) {
    common::scan_fresh(exe, db, &[music]);
}
