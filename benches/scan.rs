//! Scanner benchmark: `make bench` (that is, `cargo bench --locked --bench scan`).
//!
//! Builds a synthetic library under `target/bench-library/` (kept between runs, rebuilt only when
//! its marker file does not match), then times the release `tapedeck` binary against it, with a
//! warm cache, next to `find DIR -type f`:
//!
//! - a full scan into a fresh database (best of 3), in seconds and files per second;
//! - a no-change rescan (best of 3), and its ratio to `find -printf '%s %T@'` (which stats
//!   every file, as a rescan must);
//! - MPD's full database build and no-change update of the same tree, when `mpd` is installed
//!   (`make bench` installs it): the peer people run for a library;
//! - the peak RSS of the scanning process, from `wait4`.
//!
//! Then the tree is extended with hard links to the memory point (100,000 files by default) and a
//! full scan and rescan are measured there too. Targets are printed next to the figures with
//! PASS or MISS, never asserted: shared machines are noisy.
//!
//! Environment:
//! - `BENCH_FILES`: files in the base library (default 20000);
//! - `BENCH_RSS_FILES`: files at the memory point (default 100000; 0 skips it).
//!
//! Layout of `target/bench-library/`:
//! - `lib/base/Artist NNNN/Album NNNN/NN Title.ext`: copies of `fixtures/library/`, each with
//!   its own tags written through `tapedeck::tags::write`;
//! - `lib/more/...`: hard links to the base files under other artist folders, up to the memory
//!   point (the scanner indexes every path; it does not deduplicate hard links);
//! - `base.marker`, `more.marker`: what was built, so a later run can reuse it;
//! - `db-*`: throwaway databases, removed after use.

mod common;

use common::tree::{build_base, build_more, usable_fixtures};
use common::{bench_folder, env_count, load_average, on_path, thousands, verdict};

use std::fmt::Write as _;
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEFAULT_FILES: usize = 20_000;
const DEFAULT_RSS_FILES: usize = 100_000;
const RUNS: usize = 3;

// Targets (printed, never asserted).
const TARGET_FILES_PER_SEC: f64 = 25_000.0;
/// A no-change rescan next to `find -printf '%s %T@'`, which stats every file as a rescan must.
const TARGET_RESCAN_OVER_FIND: f64 = 1.5;
const TARGET_RSS_MB: f64 = 100.0;

/// `find DIR -type f` (with `stat_each`, `-printf '%s %T@\n'`, which stats every file as a
/// rescan must), output read through a pipe as `find | wc -l` would. Returns the time and the
/// number of lines.
fn time_find(dir: &Path, stat_each: bool) -> (Duration, usize) {
    let mut cmd = Command::new("find");
    cmd.arg(dir).args(["-type", "f"]);
    if stat_each {
        cmd.args(["-printf", "%s %T@\\n"]);
    }
    let started = Instant::now();
    let out = cmd.stderr(Stdio::inherit()).output().expect("run find");
    let took = started.elapsed();
    assert!(out.status.success(), "find failed");
    (took, out.stdout.iter().filter(|&&b| b == b'\n').count())
}

fn best_find(dir: &Path, stat_each: bool) -> (Duration, usize) {
    time_find(dir, stat_each); // warm the dentry and inode caches
    (0..RUNS)
        .map(|_| time_find(dir, stat_each))
        .min_by_key(|r| r.0)
        .unwrap()
}

/// One run of the binary: wall time, peak RSS in KiB, and the scan's own JSON summary.
struct Run {
    wall: Duration,
    rss_kib: u64,
    summary: serde_json::Value,
}

impl Run {
    fn count(&self, key: &str) -> u64 {
        self.summary[key].as_u64().unwrap_or(0)
    }
    /// The summary in a few words: what the scan did and its own timing (without process start).
    fn said(&self) -> String {
        let mut parts = Vec::new();
        for key in [
            "added",
            "updated",
            "moved",
            "removed",
            "unchanged",
            "problems",
        ] {
            let n = self.count(key);
            if n > 0 || key == "added" || key == "unchanged" {
                parts.push(format!("{key} {n}"));
            }
        }
        format!(
            "{}; {:.3} s inside",
            parts.join(", "),
            self.summary["seconds"].as_f64().unwrap_or(0.0)
        )
    }
}

/// Runs `tapedeck --db DB -q scan --json DIR` and collects its peak RSS with `wait4`. (`-q`
/// silences everything but the one-line JSON summary, which tells what the run did.)
fn run_scan(exe: &Path, db: &Path, dir: &Path) -> Run {
    let out_path = db.with_extension("stdout");
    let err_path = db.with_extension("stderr");
    let out_file = fs::File::create(&out_path).expect("create stdout file");
    let err_file = fs::File::create(&err_path).expect("create stderr file");
    let started = Instant::now();
    let child = Command::new(exe)
        .arg("--db")
        .arg(db)
        .args(["-q", "scan", "--json"])
        .arg(dir)
        .env_remove("TAPEDECK_DB")
        .stdin(Stdio::null())
        .stdout(out_file)
        .stderr(err_file)
        .spawn()
        .expect("start tapedeck");
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is a child of this process that nothing else waits for (`child` is never
        // waited on; dropping a `Child` does not reap it).
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        assert_eq!(e.kind(), std::io::ErrorKind::Interrupted, "wait4: {e}");
    }
    let wall = started.elapsed();
    drop(child);
    let read = |p: &Path| {
        let mut text = String::new();
        if let Ok(mut f) = fs::File::open(p) {
            let _ = f.read_to_string(&mut text);
        }
        let _ = fs::remove_file(p);
        text
    };
    let (stdout, stderr) = (read(&out_path), read(&err_path));
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if !ok || !stderr.trim().is_empty() {
        let shown: String = stderr.lines().take(10).collect::<Vec<_>>().join("\n    ");
        println!(
            "  tapedeck scan {} (wait status {status:#x}) said:\n    {shown}",
            dir.display()
        );
    }
    assert!(ok, "tapedeck scan failed on {}", dir.display());
    let summary = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("scan summary is not JSON ({e}): {stdout}"));
    Run {
        wall,
        rss_kib: usage.ru_maxrss as u64,
        summary,
    }
}

/// A fresh database folder under the bench root (same disk as the library).
fn fresh_db(bench_root: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("db-")
        .tempdir_in(bench_root)
        .expect("create db folder");
    let db = dir.path().join("library.db");
    (dir, db)
}

/// `tapedeck stats --json`: (tracks, problems), to check that the scan indexed every file.
fn stats(exe: &Path, db: &Path) -> (u64, u64) {
    let out = Command::new(exe)
        .arg("--db")
        .arg(db)
        .args(["stats", "--json"])
        .output()
        .expect("run stats");
    assert!(
        out.status.success(),
        "tapedeck stats failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stats JSON");
    (
        v["tracks"].as_u64().unwrap_or(0),
        v["problems"].as_u64().unwrap_or(0),
    )
}

/// Figures for one library size.
#[derive(Default)]
struct Point {
    files: usize,
    find: Duration,
    find_stat: Duration,
    full: Duration,
    full_rss_kib: u64,
    rescan: Duration,
    rescan_rss_kib: u64,
    indexed: u64,
    problems: u64,
    /// Every full scan added every file and every rescan left every file unchanged.
    runs_as_expected: bool,
    /// MPD's full database build and no-change update, when it ran.
    mpd: Option<(Duration, Duration)>,
}

impl Point {
    fn files_per_sec(&self) -> f64 {
        self.files as f64 / self.full.as_secs_f64()
    }
    fn rescan_over_find(&self) -> f64 {
        self.rescan.as_secs_f64() / self.find.as_secs_f64()
    }
    fn rescan_over_find_stat(&self) -> f64 {
        self.rescan.as_secs_f64() / self.find_stat.as_secs_f64()
    }
}

fn measure(exe: &Path, bench_root: &Path, dir: &Path, files: usize, runs: usize) -> Point {
    let mut p = Point {
        files,
        runs_as_expected: true,
        ..Point::default()
    };
    let (find, found) = best_find(dir, false);
    p.find = find;
    println!(
        "  find -type f: {found} files, best of {RUNS}: {:.3} s",
        find.as_secs_f64()
    );
    let (find_stat, _) = best_find(dir, true);
    p.find_stat = find_stat;
    println!(
        "  find -type f -printf '%s %T@' (stats every file, as a rescan must): best of {RUNS}: {:.3} s",
        find_stat.as_secs_f64()
    );
    if found != files {
        println!("  warning: find saw {found} files, the plan has {files}");
    }

    let mut last_db = None;
    for i in 0..runs {
        let (guard, db) = fresh_db(bench_root);
        let r = run_scan(exe, &db, dir);
        println!(
            "  full scan {}/{runs}: {:.2} s, {:.0} files/s, peak RSS {:.1} MiB ({})",
            i + 1,
            r.wall.as_secs_f64(),
            files as f64 / r.wall.as_secs_f64(),
            r.rss_kib as f64 / 1024.0,
            r.said()
        );
        p.runs_as_expected &= r.count("added") == files as u64;
        if i == 0 || r.wall < p.full {
            p.full = r.wall;
        }
        p.full_rss_kib = p.full_rss_kib.max(r.rss_kib);
        if i == 0 {
            (p.indexed, p.problems) = stats(exe, &db);
            println!(
                "  library after it: {} tracks, {} problems (expected {files} and 0)",
                p.indexed, p.problems
            );
        }
        last_db = Some((guard, db)); // the previous one is dropped (removed) here
    }
    let (_guard, db) = last_db.expect("at least one full scan");
    for i in 0..RUNS {
        let r = run_scan(exe, &db, dir);
        println!(
            "  no-change rescan {}/{RUNS}: {:.3} s, peak RSS {:.1} MiB ({})",
            i + 1,
            r.wall.as_secs_f64(),
            r.rss_kib as f64 / 1024.0,
            r.said()
        );
        p.runs_as_expected &= r.count("unchanged") == files as u64
            && r.count("added") + r.count("updated") + r.count("removed") == 0;
        if i == 0 || r.wall < p.rescan {
            p.rescan = r.wall;
        }
        p.rescan_rss_kib = p.rescan_rss_kib.max(r.rss_kib);
    }
    if on_path("mpd") {
        p.mpd = mpd_times(bench_root, dir, files);
    }
    p
}

/// MPD building its database of `dir` from nothing, then a no-change `update`, timed from the
/// start of the process to the moment it reports the database done (through its own protocol on
/// a Unix socket). `None`, with the reason printed, when MPD could not be run.
fn mpd_times(bench_root: &Path, dir: &Path, files: usize) -> Option<(Duration, Duration)> {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;
    let work = tempfile::Builder::new()
        .prefix("db-mpd-")
        .tempdir_in(bench_root)
        .ok()?;
    let sock = work.path().join("socket");
    let conf = work.path().join("mpd.conf");
    fs::write(
        &conf,
        format!(
            "music_directory \"{}\"\ndb_file \"{}\"\nlog_file \"/dev/null\"\n\
             pid_file \"{}\"\nbind_to_address \"{}\"\n\
             audio_output {{\n  type \"null\"\n  name \"null\"\n}}\n",
            dir.display(),
            work.path().join("db").display(),
            work.path().join("pid").display(),
            sock.display()
        ),
    )
    .ok()?;
    let started = Instant::now();
    let mut mpd = Command::new("mpd")
        .arg("--no-daemon")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let result = (|| -> Result<(Duration, Duration), String> {
        let stream = loop {
            match UnixStream::connect(&sock) {
                Ok(s) => break s,
                Err(_) if started.elapsed() < Duration::from_secs(30) => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(e) => return Err(format!("no socket: {e}")),
            }
        };
        let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        let mut writer = stream;
        let mut line = String::new();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        // One request: the response's lines up to `OK`.
        let mut ask = |what: &str| -> Result<Vec<String>, String> {
            writer
                .write_all(format!("{what}\n").as_bytes())
                .map_err(|e| e.to_string())?;
            let mut lines = Vec::new();
            loop {
                let mut l = String::new();
                if reader.read_line(&mut l).map_err(|e| e.to_string())? == 0 {
                    return Err("MPD closed the connection".into());
                }
                let l = l.trim_end().to_string();
                if l == "OK" {
                    return Ok(lines);
                }
                if l.starts_with("ACK") {
                    return Err(l);
                }
                lines.push(l);
            }
        };
        let updating = |ask: &mut dyn FnMut(&str) -> Result<Vec<String>, String>| {
            ask("status").map(|l| l.iter().any(|l| l.starts_with("updating_db:")))
        };
        // A missing database is built at start-up.
        loop {
            let songs = ask("stats")?
                .iter()
                .find_map(|l| {
                    l.strip_prefix("songs: ")
                        .and_then(|n| n.parse::<usize>().ok())
                })
                .unwrap_or(0);
            if songs > 0 && !updating(&mut ask)? {
                if songs != files {
                    println!("  MPD indexed {songs} of {files} files");
                }
                break;
            }
            if started.elapsed() > Duration::from_secs(600) {
                return Err("the database build took over 10 minutes".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let full = started.elapsed();
        let update_started = Instant::now();
        ask("update")?;
        while updating(&mut ask)? {
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok((full, update_started.elapsed()))
    })();
    let _ = mpd.kill();
    let _ = mpd.wait();
    match result {
        Ok((full, update)) => {
            println!(
                "  MPD: database built in {:.2} s ({:.0} files/s), no-change update {:.3} s",
                full.as_secs_f64(),
                files as f64 / full.as_secs_f64(),
                update.as_secs_f64()
            );
            Some((full, update))
        }
        Err(e) => {
            println!("  MPD could not be timed: {e}");
            None
        }
    }
}

fn main() {
    let bench_started = Instant::now();
    let files = env_count("BENCH_FILES", DEFAULT_FILES).max(1);
    let rss_files = env_count("BENCH_RSS_FILES", DEFAULT_RSS_FILES);

    let exe = PathBuf::from(env!("CARGO_BIN_EXE_tapedeck"));
    // Databases left behind by an interrupted run go.
    let bench_root = bench_folder("bench-library", "db-");
    let fixture_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/library");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    println!("== tapedeck scan benchmark");
    println!("  binary: {}", exe.display());
    println!("  load average (1 min) at the start: {}", load_average());
    println!(
        "  cores: {cores} (scan reader threads by default: {})",
        (cores * 2).clamp(4, 16)
    );
    println!(
        "  library: {} (BENCH_FILES={files}, BENCH_RSS_FILES={rss_files})",
        bench_root.display()
    );
    println!(
        "  mpd: {}",
        if on_path("mpd") {
            "installed: its database build is timed on the same tree"
        } else {
            "not installed (make bench installs it): compared with find only"
        }
    );

    println!("\n== 1. synthetic library");
    let fixtures = usable_fixtures(&fixture_root, &bench_root.join("probe"));
    let (planned, artists) = build_base(&bench_root, &fixtures, files);
    let do_rss = rss_files > files;
    if do_rss {
        build_more(&bench_root, &planned, artists, rss_files);
    } else {
        println!(
            "  BENCH_RSS_FILES ({rss_files}) is not above BENCH_FILES: the memory point is skipped"
        );
    }

    let lib = bench_root.join("lib");
    println!("\n== 2. {files} files ({})", lib.join("base").display());
    let small = measure(&exe, &bench_root, &lib.join("base"), files, RUNS);
    let large = do_rss.then(|| {
        println!(
            "\n== 3. {rss_files} files ({}; {} of them hard links)",
            lib.display(),
            rss_files - files
        );
        measure(&exe, &bench_root, &lib, rss_files, RUNS)
    });

    // The table.
    let mut t = String::new();
    let cols: Vec<&Point> = std::iter::once(&small).chain(large.as_ref()).collect();
    let _ = writeln!(
        t,
        "\n== results (release build, warm cache, {cores} cores; best of {RUNS} runs each)"
    );
    let _ = write!(t, "{:<30}", "");
    for p in &cols {
        let _ = write!(t, "{:>18}", format!("{} files", thousands(p.files as f64)));
    }
    let _ = writeln!(t, "   target");
    let row = |t: &mut String, name: &str, cells: Vec<String>, target: &str| {
        let _ = write!(t, "{name:<30}");
        for c in cells {
            let _ = write!(t, "{c:>18}");
        }
        let _ = writeln!(t, "   {target}");
    };
    let secs = |d: Duration| format!("{:.3} s", d.as_secs_f64());
    row(
        &mut t,
        "find -type f",
        cols.iter().map(|p| secs(p.find)).collect(),
        "",
    );
    row(
        &mut t,
        "find -type f -printf size,mtime",
        cols.iter().map(|p| secs(p.find_stat)).collect(),
        "(stats every file)",
    );
    row(
        &mut t,
        "full scan, fresh db",
        cols.iter().map(|p| secs(p.full)).collect(),
        "",
    );
    row(
        &mut t,
        "  files/s",
        cols.iter()
            .map(|p| {
                format!(
                    "{} {}",
                    thousands(p.files_per_sec()),
                    verdict(p.files_per_sec() >= TARGET_FILES_PER_SEC)
                )
            })
            .collect(),
        &format!(">= {} files/s", thousands(TARGET_FILES_PER_SEC)),
    );
    row(
        &mut t,
        "  peak RSS",
        cols.iter()
            .map(|p| {
                let mb = p.full_rss_kib as f64 / 1024.0;
                if p.files == rss_files {
                    format!("{mb:.1} MiB {}", verdict(mb < TARGET_RSS_MB))
                } else {
                    format!("{mb:.1} MiB")
                }
            })
            .collect(),
        &format!(
            "< {TARGET_RSS_MB:.0} MiB at {} files",
            thousands(rss_files as f64)
        ),
    );
    row(
        &mut t,
        "no-change rescan",
        cols.iter().map(|p| secs(p.rescan)).collect(),
        "",
    );
    row(
        &mut t,
        "  rescan / find -printf",
        cols.iter()
            .map(|p| {
                format!(
                    "{:.2}x {}",
                    p.rescan_over_find_stat(),
                    verdict(p.rescan_over_find_stat() <= TARGET_RESCAN_OVER_FIND)
                )
            })
            .collect(),
        &format!("<= {TARGET_RESCAN_OVER_FIND:.1}x find -printf '%s %T@'"),
    );
    row(
        &mut t,
        "  rescan / find -type f",
        cols.iter()
            .map(|p| format!("{:.2}x", p.rescan_over_find()))
            .collect(),
        "(for reference: no stat)",
    );
    row(
        &mut t,
        "  peak RSS",
        cols.iter()
            .map(|p| format!("{:.1} MiB", p.rescan_rss_kib as f64 / 1024.0))
            .collect(),
        "",
    );
    row(
        &mut t,
        "MPD full database build",
        cols.iter()
            .map(|p| match p.mpd {
                Some((full, _)) => format!(
                    "{} ({:.1}x)",
                    secs(full),
                    full.as_secs_f64() / p.full.as_secs_f64()
                ),
                None => "not run".into(),
            })
            .collect(),
        "(MPD's time, and how many times tapedeck's)",
    );
    row(
        &mut t,
        "MPD no-change update",
        cols.iter()
            .map(|p| match p.mpd {
                Some((_, update)) => format!(
                    "{} ({:.1}x)",
                    secs(update),
                    update.as_secs_f64() / p.rescan.as_secs_f64()
                ),
                None => "not run".into(),
            })
            .collect(),
        "",
    );
    row(
        &mut t,
        "tracks / problems in db",
        cols.iter()
            .map(|p| {
                let ok = p.indexed == p.files as u64 && p.problems == 0 && p.runs_as_expected;
                format!(
                    "{} / {}{}",
                    p.indexed,
                    p.problems,
                    if ok { "" } else { " (!)" }
                )
            })
            .collect(),
        "every file, 0 problems",
    );
    if cols.iter().any(|p| !p.runs_as_expected) {
        let _ = writeln!(
            t,
            "  (!) a full scan did not add every file, or a rescan did not find every file unchanged: see above"
        );
    }
    print!("{t}");
    println!(
        "\n  whole benchmark (library build included): {:.1} s",
        bench_started.elapsed().as_secs_f64()
    );
    println!(
        "  load average (1 min) at the end: {} on {cores} cores",
        load_average()
    );
    println!("  targets are informative only; nothing here fails on a MISS");
}
