//! Player service benchmark: `make bench` runs it (that is, `cargo bench --locked --bench serve`).
//!
//! Builds a synthetic tree under `target/bench-serve/` the way the scan benchmark does (tagged
//! copies of `fixtures/library/` under `lib/base/`, hard links to them under `lib/more/`, kept
//! between runs behind marker files), plus `lib/long/`: a few 20-second WAV files for the
//! playback measurement. It scans the tree into a fresh library, starts the release
//! `tapedeck serve` on it (playing through ALSA's file device, paced to real time by `pv` and
//! written to /dev/null), and measures with a raw MPD client written here (send a line, read up
//! to `OK` or `ACK`) on the service's Unix socket:
//!
//! 1. `status` round trip, median and p99 over many requests on one connection;
//! 2. `listallinfo` of the whole library: from sending it to the final `OK`, and the bytes read;
//! 3. `search title <common word>`: median of several, and how many songs matched;
//! 4. idle wake-up: client A waits in `idle player` while client B sends `next` (a queue of the
//!    long tracks playing, with repeat on); the time from B's send to A reading
//!    `changed: player`;
//! 5. the service's resident memory (`VmRSS`, `VmHWM` from `/proc/PID/status`) once the library
//!    is open, and again after the `listallinfo` runs.
//!
//! When `mpd` is installed (`make bench` installs it), MPD runs on the same tree with a
//! configuration of its own (null audio output, no state file, no automatic update, its database
//! kept in `target/bench-serve/mpd.db` and brought up to date with `update` first), and the same
//! five measurements are taken from it; both are printed side by side with ratios. Targets are
//! printed next to the figures with PASS or MISS, never asserted: shared machines are noisy.
//!
//! Environment:
//! - `TAPEDECK_BENCH_SERVE_TRACKS`: tracks in the library besides the long ones (default
//!   100000; at most 10000 of them are tagged copies, the rest hard links).

mod common;

use common::mpd::{Client, field, memory, start_mpd};
use common::tree::{build_base, build_more, usable_fixtures};
use common::{bench_folder, env_count, load_average, on_path, scan_fresh, thousands, verdict};

use std::fmt::Write as _;
use std::fs;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DEFAULT_TRACKS: usize = 100_000;
/// Tagged copies at most; the rest of the tracks are hard links to them.
const MAX_BASE: usize = 10_000;
/// The long tracks the idle measurement plays.
const LONG_TRACKS: usize = 4;
const LONG_SECS: usize = 20;

const STATUS_REQUESTS: usize = 2_000;
const LISTALL_RUNS: usize = 3;
const SEARCH_RUNS: usize = 10;
const IDLE_RUNS: usize = 20;
/// A word in about one title in ten of the generated library ("Night", and "Midnight").
const SEARCH_WORD: &str = "night";

// Targets (printed, never asserted).
const TARGET_STATUS_MS: f64 = 1.0;
const TARGET_LISTALL_S: f64 = 2.0;
const TARGET_SEARCH_MS: f64 = 50.0;
const TARGET_IDLE_MS: f64 = 20.0;
const TARGET_RSS_MB: f64 = 60.0;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// What one server measured.
#[derive(Default)]
struct Figures {
    status_median_ms: f64,
    status_p99_ms: f64,
    listall_s: f64,
    listall_bytes: usize,
    listall_songs: usize,
    search_ms: f64,
    search_songs: usize,
    idle_median_ms: f64,
    idle_max_ms: f64,
    /// (VmRSS, VmHWM) in MiB once the library is open, and after `listallinfo`.
    loaded: (f64, f64),
    after: (f64, f64),
}

/// The five measurements against the server at `socket`, whose process is `pid`; `top` is the
/// URI of the tree's folder (tapedeck names each root after its folder, MPD's music directory
/// is the top itself).
fn measure(name: &str, socket: &Path, pid: u32, top: &str) -> Figures {
    let mut f = Figures::default();
    let mut c = Client::connect(socket);
    let stats = c.ask("stats");
    println!(
        "  {name}: {} songs in its database",
        field(&stats, "songs").unwrap_or("?")
    );
    // The library is open and answered once; let the process settle.
    std::thread::sleep(Duration::from_millis(200));
    f.loaded = memory(pid);
    println!(
        "  {name}: memory with the library open: VmRSS {:.1} MiB, VmHWM {:.1} MiB",
        f.loaded.0, f.loaded.1
    );

    // 1. status
    for _ in 0..50 {
        c.ask("status");
    }
    let mut times = Vec::with_capacity(STATUS_REQUESTS);
    for _ in 0..STATUS_REQUESTS {
        let t = Instant::now();
        c.send("status");
        c.read(false);
        times.push(ms(t.elapsed()));
    }
    f.status_median_ms = median(&mut times);
    f.status_p99_ms = percentile(&mut times, 0.99);
    println!(
        "  {name}: status x{STATUS_REQUESTS}: median {:.3} ms, p99 {:.3} ms",
        f.status_median_ms, f.status_p99_ms
    );

    // 2. listallinfo
    let mut runs = Vec::new();
    for i in 0..LISTALL_RUNS {
        let t = Instant::now();
        c.send("listallinfo");
        let a = c.read(false);
        let took = t.elapsed().as_secs_f64();
        println!(
            "  {name}: listallinfo {}/{LISTALL_RUNS}: {took:.3} s, {} bytes, {} songs",
            i + 1,
            thousands(a.bytes as f64),
            thousands(a.files as f64)
        );
        runs.push(took);
        f.listall_bytes = a.bytes;
        f.listall_songs = a.files;
    }
    f.listall_s = median(&mut runs);
    std::thread::sleep(Duration::from_millis(200));
    f.after = memory(pid);
    println!(
        "  {name}: memory after listallinfo: VmRSS {:.1} MiB, VmHWM {:.1} MiB",
        f.after.0, f.after.1
    );

    // 3. search
    let request = format!("search title \"{SEARCH_WORD}\"");
    let mut times = Vec::new();
    for _ in 0..SEARCH_RUNS {
        let t = Instant::now();
        c.send(&request);
        let a = c.read(false);
        times.push(ms(t.elapsed()));
        f.search_songs = a.files;
    }
    f.search_ms = median(&mut times);
    println!(
        "  {name}: {request} x{SEARCH_RUNS}: median {:.2} ms, {} songs",
        f.search_ms,
        thousands(f.search_songs as f64)
    );

    // 4. idle wake-up after `next`
    c.ask("clear");
    c.ask(&format!("add \"{top}long\""));
    c.ask("repeat 1");
    c.ask("play 0");
    let mut waiter = Client::connect(socket);
    let mut times = Vec::new();
    let mut stale = 0;
    while times.len() < IDLE_RUNS {
        // Let the last change's trailing events arrive, then wait for a change.
        std::thread::sleep(Duration::from_millis(60));
        waiter.send("idle player");
        std::thread::sleep(Duration::from_millis(30));
        if waiter.pending() {
            // A change from before this round (an earlier `next` still settling).
            waiter.read(false);
            stale += 1;
            assert!(stale < 200, "{name}: idle keeps waking without a change");
            continue;
        }
        let t = Instant::now();
        c.send("next");
        let a = waiter.read(true);
        let took = ms(t.elapsed());
        c.read(false);
        assert!(
            a.lines.iter().any(|l| l == "changed: player"),
            "{name}: idle answered {:?}",
            a.lines
        );
        times.push(took);
    }
    c.ask("stop");
    f.idle_max_ms = times.iter().copied().fold(0.0, f64::max);
    f.idle_median_ms = median(&mut times);
    println!(
        "  {name}: idle player -> next x{IDLE_RUNS}: median {:.2} ms, max {:.2} ms ({stale} stale wake-ups skipped)",
        f.idle_median_ms, f.idle_max_ms
    );
    f
}

fn wait_for_socket(socket: &Path, child: &mut Child, what: &str, limit: Duration) {
    let started = Instant::now();
    while UnixStream::connect(socket).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening: {status}");
        }
        assert!(started.elapsed() < limit, "{what} did not start listening");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A 16-bit stereo WAV of a quiet tone.
fn long_wav(path: &Path, secs: usize, freq: f64) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create a WAV");
    for i in 0..secs * 44100 {
        let v = ((i as f64 * freq * std::f64::consts::TAU / 44100.0).sin() * 4000.0) as i16;
        w.write_sample(v).expect("write a WAV");
        w.write_sample(v).expect("write a WAV");
    }
    w.finalize().expect("finish a WAV");
}

/// `tapedeck serve` on `db`, playing through ALSA's file device paced by pv into /dev/null.
fn start_tapedeck(exe: &Path, db: &Path, work: &Path) -> (Child, PathBuf) {
    let conf = work.join("alsa.conf");
    fs::write(
        &conf,
        "pcm.!default { type file slave.pcm \"null\" file \"|pv -q -L 352800 > /dev/null\" \
         format \"raw\" }\n",
    )
    .expect("write the ALSA configuration");
    let socket = work.join("tapedeck.socket");
    let mut child = Command::new(exe)
        .arg("--db")
        .arg(db)
        .args(["-q", "serve", "--fresh", "--socket"])
        .arg(&socket)
        .env(
            "ALSA_CONFIG_PATH",
            format!("/usr/share/alsa/alsa.conf:{}", conf.display()),
        )
        .env("TAPEDECK_CONFIG", work.join("config.toml"))
        .env("XDG_RUNTIME_DIR", work)
        .env_remove("TAPEDECK_DB")
        .env_remove("TAPEDECK_PASSWORD")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start tapedeck serve");
    wait_for_socket(
        &socket,
        &mut child,
        "tapedeck serve",
        Duration::from_secs(30),
    );
    (child, socket)
}

fn stop_tapedeck(mut child: Child) {
    // SAFETY: signalling our own child by its id.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn main() {
    let bench_started = Instant::now();
    let tracks = env_count("TAPEDECK_BENCH_SERVE_TRACKS", DEFAULT_TRACKS).max(1);
    let base = tracks.min(MAX_BASE);

    let exe = PathBuf::from(env!("CARGO_BIN_EXE_tapedeck"));
    let bench_root = bench_folder("bench-serve", "run-");
    let fixture_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/library");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mpd = on_path("mpd");

    println!("== tapedeck serve benchmark");
    println!("  binary: {}", exe.display());
    println!("  load average (1 min) at the start: {}", load_average());
    println!(
        "  library: {} (TAPEDECK_BENCH_SERVE_TRACKS={tracks}: {base} tagged copies, {} hard links, \
         and {LONG_TRACKS} WAV files of {LONG_SECS} s)",
        bench_root.display(),
        tracks - base
    );
    println!(
        "  mpd: {}",
        if mpd {
            "installed: measured on the same tree"
        } else {
            "not installed (make bench installs it): tapedeck alone"
        }
    );

    println!("\n== 1. synthetic library");
    let fixtures = usable_fixtures(&fixture_root, &bench_root.join("probe"));
    let (planned, artists) = build_base(&bench_root, &fixtures, base);
    if tracks > base {
        build_more(&bench_root, &planned, artists, tracks);
    }
    let lib = bench_root.join("lib");
    let long = lib.join("long");
    fs::create_dir_all(&long).expect("create the long tracks' folder");
    for i in 1..=LONG_TRACKS {
        let path = long.join(format!("Long {i}.wav"));
        if !path.is_file() {
            let tmp = long.join(format!(".Long {i}.wav.tmp"));
            long_wav(&tmp, LONG_SECS, 220.0 * i as f64);
            fs::rename(&tmp, &path).expect("rename a WAV");
        }
    }
    let total = tracks + LONG_TRACKS;

    let work = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(&bench_root)
        .expect("create a work folder");
    let db = work.path().join("library.db");
    let t = Instant::now();
    scan_fresh(&exe, &db, &[&lib]);
    println!(
        "  scanned {} files into a fresh library in {:.1} s",
        thousands(total as f64),
        t.elapsed().as_secs_f64()
    );

    println!("\n== 2. tapedeck serve");
    let (child, socket) = start_tapedeck(&exe, &db, work.path());
    let ours = measure("tapedeck", &socket, child.id(), "lib/");
    stop_tapedeck(child);

    let theirs = if mpd {
        println!("\n== 3. MPD on the same tree");
        match start_mpd(&lib, &bench_root.join("mpd.db"), work.path()) {
            Ok((mut child, socket)) => {
                let f = measure("MPD", &socket, child.id(), "");
                let _ = child.kill();
                let _ = child.wait();
                Some(f)
            }
            Err(e) => {
                println!("  MPD could not be measured: {e}");
                None
            }
        }
    } else {
        None
    };

    // The table.
    let mut t = String::new();
    let _ = writeln!(
        t,
        "\n== results ({} songs, release build, warm cache, {cores} cores)",
        thousands(total as f64)
    );
    let _ = writeln!(
        t,
        "{:<34}{:>16}{:>16}{:>10}   target",
        "", "tapedeck", "MPD", "ratio"
    );
    let row = |t: &mut String,
               name: &str,
               ours: f64,
               theirs: Option<f64>,
               unit: &str,
               target: Option<f64>| {
        let cell = |v: f64| {
            if unit == "ms" {
                format!("{v:.3} ms")
            } else if unit == "s" {
                format!("{v:.3} s")
            } else if unit == "MiB" {
                format!("{v:.1} MiB")
            } else {
                thousands(v)
            }
        };
        let _ = write!(t, "{name:<34}{:>16}", cell(ours));
        match theirs {
            Some(v) => {
                let _ = write!(t, "{:>16}{:>10}", cell(v), format!("{:.2}x", ours / v));
            }
            None => {
                let _ = write!(t, "{:>16}{:>10}", "-", "-");
            }
        }
        match target {
            Some(limit) => {
                let _ = writeln!(t, "   < {limit} {unit} {}", verdict(ours < limit));
            }
            None => {
                let _ = writeln!(t);
            }
        }
    };
    let m = theirs.as_ref();
    row(
        &mut t,
        "1. status median",
        ours.status_median_ms,
        m.map(|f| f.status_median_ms),
        "ms",
        Some(TARGET_STATUS_MS),
    );
    row(
        &mut t,
        "   status p99",
        ours.status_p99_ms,
        m.map(|f| f.status_p99_ms),
        "ms",
        None,
    );
    row(
        &mut t,
        &format!("2. listallinfo (median of {LISTALL_RUNS})"),
        ours.listall_s,
        m.map(|f| f.listall_s),
        "s",
        Some(TARGET_LISTALL_S),
    );
    row(
        &mut t,
        "   bytes",
        ours.listall_bytes as f64,
        m.map(|f| f.listall_bytes as f64),
        "",
        None,
    );
    row(
        &mut t,
        "   songs",
        ours.listall_songs as f64,
        m.map(|f| f.listall_songs as f64),
        "",
        None,
    );
    row(
        &mut t,
        &format!("3. search title \"{SEARCH_WORD}\""),
        ours.search_ms,
        m.map(|f| f.search_ms),
        "ms",
        Some(TARGET_SEARCH_MS),
    );
    row(
        &mut t,
        "   songs matched",
        ours.search_songs as f64,
        m.map(|f| f.search_songs as f64),
        "",
        None,
    );
    row(
        &mut t,
        "4. idle wake-up after next",
        ours.idle_median_ms,
        m.map(|f| f.idle_median_ms),
        "ms",
        Some(TARGET_IDLE_MS),
    );
    row(
        &mut t,
        &format!("   max of {IDLE_RUNS}"),
        ours.idle_max_ms,
        m.map(|f| f.idle_max_ms),
        "ms",
        None,
    );
    row(
        &mut t,
        "5. VmRSS, library open",
        ours.loaded.0,
        m.map(|f| f.loaded.0),
        "MiB",
        Some(TARGET_RSS_MB),
    );
    row(
        &mut t,
        "   VmHWM, library open",
        ours.loaded.1,
        m.map(|f| f.loaded.1),
        "MiB",
        None,
    );
    row(
        &mut t,
        "   VmRSS after listallinfo",
        ours.after.0,
        m.map(|f| f.after.0),
        "MiB",
        Some(TARGET_RSS_MB),
    );
    row(
        &mut t,
        "   VmHWM after listallinfo",
        ours.after.1,
        m.map(|f| f.after.1),
        "MiB",
        Some(TARGET_RSS_MB),
    );
    let _ = writeln!(
        t,
        "  ratio: tapedeck's figure over MPD's (below 1: tapedeck is faster or smaller)"
    );
    if let Some(f) = m
        && (f.listall_songs != ours.listall_songs || f.search_songs != ours.search_songs)
    {
        let _ = writeln!(
            t,
            "  note: the two servers disagree on the songs listed or matched (MPD reads a WAV or AIFF \
             file's own INFO or NAME chunk, tapedeck the ID3 chunk the tree's generator wrote)"
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
    println!(
        "  the machine may be shared and noisy: the absolute figures move with its load, the \
         ratios to MPD (measured in the same run) are the reliable part"
    );
    println!("  targets are informative only; nothing here fails on a MISS");
}
