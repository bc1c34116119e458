//! Full-screen UI benchmark: `make bench` runs it (that is, `cargo bench --locked --bench ui`).
//!
//! 1. On the synthetic library of `common/synth.rs` (100,000 tracks by default, built straight
//!    into SQLite under `target/bench-ui/`, kept between runs behind a marker):
//!    - start to first full frame: the release `tapedeck ui` started in a tmux pane (a real
//!      terminal) with `TAPEDECK_TIMING`, which marks the first frame drawn (milliseconds since
//!      the process started); the median and best of several starts, and the wall time from
//!      launching it to the frame being on tmux's screen;
//!    - time per keystroke of an incremental search: the UI in this process (`ui::app::App`,
//!      its player service playing into memory) typing words into `/` in the library and the
//!      track views and into the live filter `L`, each key timed from the key event through
//!      reading the pages to drawing the frame (on ratatui's test backend, 120x40); a filter
//!      slow to apply (a one-letter word scans every row) waits for typing to pause, and the
//!      time it then takes is reported on its own line;
//!    - memory: the `tapedeck ui` process's peak resident set (`VmHWM`) once started, and after
//!      the track view (every id of the library) and a search and a filter.
//! 2. Side by side on the tree of real files the service benchmark uses (`target/bench-serve/`,
//!    built by whichever runs first): `tapedeck ui` on it, and ncmpcpp on MPD on the same tree
//!    (when both are installed; `make bench` installs them): launch to the artist list on
//!    screen, and resident memory (ncmpcpp alone, and MPD's).
//!
//! Figures are printed next to their targets with PASS or MISS, never asserted: these machines
//! are shared and noisy.
//!
//! Environment: `TAPEDECK_BENCH_UI_TRACKS` (default 100000) for part 1;
//! `TAPEDECK_BENCH_SERVE_TRACKS` (default 100000) for part 2's tree.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tapedeck::audio::gain;
use tapedeck::config::Config;
use tapedeck::db::Library;
use tapedeck::player::output::{MemoryOutput, Output};
use tapedeck::service::{self, Initial, Service};
use tapedeck::ui::app::App;
use tapedeck::ui::deck::Deck;
use tapedeck::ui::draw;

use common::mpd::{memory, start_mpd};
use common::synth::build_library;
use common::tree::{build_base, build_more, usable_fixtures};
use common::{bench_folder, env_count, load_average, on_path, scan_fresh, thousands, verdict};

const DEFAULT_TRACKS: usize = 100_000;
const STARTS: usize = 5;
/// Words typed into the search, letter by letter: common ones that match at once, a rare one,
/// and a field query.
const SEARCHES: &[&str] = &["night", "jukebox", "year:1994 blue"];
const FILTERS: &[&str] = &["genre:jazz", "year:1990..1999"];

// Targets (printed, never asserted).
const TARGET_FIRST_FRAME_MS: f64 = 200.0;
const TARGET_KEY_MS: f64 = 16.0;
const TARGET_RSS_MB: f64 = 80.0;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// A tmux server of the benchmark's own.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new(name: &str) -> Tmux {
        Tmux {
            socket: format!("tapedeck-bench-{name}-{}", std::process::id()),
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.env("TERM", "xterm-256color").args(["-L", &self.socket]);
        c
    }

    /// Starts `command` (run by `sh -c`, which `exec`s it) in a 120x40 pane; returns its pid.
    fn start(&self, command: &str) -> u32 {
        let ok = self
            .cmd()
            .args(["new-session", "-d", "-s", "b", "-x", "120", "-y", "40"])
            .args(["sh", "-c", &format!("exec {command}")])
            .status()
            .expect("run tmux")
            .success();
        assert!(ok, "tmux did not start");
        let out = self
            .cmd()
            .args(["display-message", "-p", "-t", "b", "#{pane_pid}"])
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a pane pid")
    }

    fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "b"])
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the screen until `done` says so; the time it took, or `None` after `limit`.
    fn wait(&self, limit: Duration, done: impl Fn(&str) -> bool) -> Option<Duration> {
        let started = Instant::now();
        loop {
            if done(&self.screen()) {
                return Some(started.elapsed());
            }
            if started.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let _ = self.cmd().args(["send-keys", "-t", "b", k]).status();
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    fn type_text(&self, text: &str) {
        let _ = self
            .cmd()
            .args(["send-keys", "-t", "b", "-l", text])
            .status();
        std::thread::sleep(Duration::from_millis(60));
    }

    fn stop(&self) {
        let _ = self
            .cmd()
            .arg("kill-server")
            .stderr(std::process::Stdio::null())
            .status();
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The shell command that runs `tapedeck ui` on `db` with its own runtime folder, playing
/// nowhere, with timing marks written to `timing`.
fn ui_command(exe: &Path, db: &Path, work: &Path, timing: &Path) -> String {
    let alsa = work.join("alsa.conf");
    std::fs::write(
        &alsa,
        "pcm.!default { type file slave.pcm \"null\" file \"/dev/null\" format \"raw\" }\n",
    )
    .expect("write the ALSA configuration");
    format!(
        "env TAPEDECK_TIMING=1 TAPEDECK_DB='{}' XDG_RUNTIME_DIR='{}' XDG_CONFIG_HOME='{}' \
         ALSA_CONFIG_PATH='/usr/share/alsa/alsa.conf:{}' DBUS_SESSION_BUS_ADDRESS= '{}' ui --fresh \
         2>'{}'",
        db.display(),
        work.display(),
        work.display(),
        alsa.display(),
        exe.display(),
        timing.display()
    )
}

/// The `first frame` mark, in milliseconds since the process started.
fn first_frame_mark(timing: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(timing).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("timing: first frame: "))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

fn is_frame(screen: &str) -> bool {
    screen.contains("Album artists (") && screen.contains("? help")
}

/// What the starts in tmux measured.
struct Starts {
    /// The `first frame` marks, ms.
    marks: Vec<f64>,
    /// Launch to the frame on tmux's screen, ms.
    walls: Vec<f64>,
    /// (VmRSS, VmHWM) in MiB once started, and after the track view, a search and a filter.
    started_mem: (f64, f64),
    used_mem: (f64, f64),
}

/// Starts `tapedeck ui` in tmux `STARTS` times: the marks, the launch-to-screen times, and the
/// process's memory after the first start and after using the track view, search and filter.
fn starts(exe: &Path, db: &Path, work: &Path) -> Starts {
    let mut marks = Vec::new();
    let mut walls = Vec::new();
    let mut started_mem = (f64::NAN, f64::NAN);
    let mut used_mem = (f64::NAN, f64::NAN);
    for run in 0..STARTS {
        let timing = work.join(format!("timing-{run}.txt"));
        let tmux = Tmux::new("ui");
        let launched = Instant::now();
        let pid = tmux.start(&ui_command(exe, db, work, &timing));
        let shown = tmux.wait(Duration::from_secs(30), is_frame);
        let wall = launched.elapsed();
        if shown.is_none() {
            println!(
                "  start {run}: the first frame never showed:\n{}",
                tmux.screen()
            );
            tmux.stop();
            continue;
        }
        walls.push(wall.as_secs_f64() * 1000.0);
        if let Some(m) = first_frame_mark(&timing) {
            marks.push(m);
        }
        if run == 0 {
            std::thread::sleep(Duration::from_millis(300));
            started_mem = memory(pid);
            // The track view holds every id; then a search and a filter.
            tmux.keys(&["2"]);
            tmux.wait(Duration::from_secs(30), |s| s.contains("Tracks: "));
            tmux.keys(&["/"]);
            tmux.type_text("night");
            tmux.keys(&["Enter", "1", "L"]);
            tmux.type_text("year:1990..1999");
            tmux.keys(&["Enter", "2"]);
            std::thread::sleep(Duration::from_millis(500));
            used_mem = memory(pid);
        }
        tmux.keys(&["q"]);
        tmux.stop();
    }
    Starts {
        marks,
        walls,
        started_mem,
        used_mem,
    }
}

/// The UI in this process on `db`, its player playing into memory.
fn app_on(db: &Path) -> App {
    let out = MemoryOutput::new();
    let settings = service::Settings {
        gain: gain::Settings::default(),
        volume: 100,
        prefer_computed: false,
        output: Arc::new(move || Ok(Box::new(out.clone()) as Box<dyn Output>)),
        seed: 1,
    };
    let player = Service::start(
        Library::open(db).expect("open the library"),
        settings,
        Initial::default(),
    );
    App::new(
        Library::open_read_only(db).expect("open the library"),
        db.to_path_buf(),
        Deck::local(player, false),
        &Config::default(),
    )
}

/// One key through the UI and a full redraw, timed.
fn timed_key(app: &mut App, term: &mut Terminal<TestBackend>, code: KeyCode) -> f64 {
    let t = Instant::now();
    app.key(KeyEvent::new(code, KeyModifiers::NONE));
    app.fit(draw::list_rows(40));
    term.draw(|f| draw::draw(f, app)).expect("draw");
    t.elapsed().as_secs_f64() * 1000.0
}

/// Types each word into the prompt `opener` opens, letter by letter; the time of each key.
fn type_words(
    app: &mut App,
    term: &mut Terminal<TestBackend>,
    opener: char,
    words: &[&str],
) -> Vec<f64> {
    let mut times = Vec::new();
    for w in words {
        timed_key(app, term, KeyCode::Char(opener));
        for c in w.chars() {
            times.push(timed_key(app, term, KeyCode::Char(c)));
        }
        // Esc: the search goes back to where it started, the filter to none.
        timed_key(app, term, KeyCode::Esc);
    }
    times
}

/// Types each filter into `L` letter by letter: the time of each key, and of each filter applied
/// once typing paused (a filter that is slow to apply waits for the pause).
fn type_filters(
    app: &mut App,
    term: &mut Terminal<TestBackend>,
    filters: &[&str],
) -> (Vec<f64>, Vec<f64>) {
    let (mut keys, mut applied) = (Vec::new(), Vec::new());
    for w in filters {
        timed_key(app, term, KeyCode::Char('L'));
        for c in w.chars() {
            keys.push(timed_key(app, term, KeyCode::Char(c)));
            if app.filter_due.is_some() {
                let t = Instant::now();
                app.apply_filter();
                app.fit(draw::list_rows(40));
                term.draw(|f| draw::draw(f, app)).expect("draw");
                applied.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        timed_key(app, term, KeyCode::Esc);
    }
    (keys, applied)
}

struct Keys {
    what: String,
    median: f64,
    p90: f64,
    max: f64,
    n: usize,
}

fn keystrokes(db: &Path) -> Vec<Keys> {
    let mut app = app_on(db);
    let mut term = Terminal::new(TestBackend::new(120, 40)).expect("test terminal");
    app.fit(draw::list_rows(40));
    term.draw(|f| draw::draw(f, &mut app)).expect("draw");
    // Warm the page cache and the statements once.
    type_words(&mut app, &mut term, '/', SEARCHES);
    let mut out = Vec::new();
    let mut row = |what: &str, mut v: Vec<f64>| {
        out.push(Keys {
            what: what.to_string(),
            median: median(&mut v),
            p90: percentile(&mut v, 0.9),
            max: percentile(&mut v, 1.0),
            n: v.len(),
        });
    };
    row(
        "search, library view",
        type_words(&mut app, &mut term, '/', SEARCHES),
    );
    timed_key(&mut app, &mut term, KeyCode::Char('2'));
    row(
        "search, track view",
        type_words(&mut app, &mut term, '/', SEARCHES),
    );
    timed_key(&mut app, &mut term, KeyCode::Char('1'));
    let (keys, applied) = type_filters(&mut app, &mut term, FILTERS);
    row("live filter, library view", keys);
    if !applied.is_empty() {
        row("  applied once typing paused", applied);
    }
    let mut moves = Vec::new();
    for _ in 0..50 {
        moves.push(timed_key(&mut app, &mut term, KeyCode::Down));
    }
    row("moving down the artists", moves);
    timed_key(&mut app, &mut term, KeyCode::Char('2'));
    let mut pages = Vec::new();
    for _ in 0..30 {
        pages.push(timed_key(&mut app, &mut term, KeyCode::PageDown));
    }
    row("paging the track view", pages);
    app.deck.shutdown();
    out
}

/// Launch to the artist list on screen for ncmpcpp on MPD, and its memory; `None` when it
/// never showed.
fn ncmpcpp_start(socket: &Path, first_artist: &str) -> Option<(f64, (f64, f64))> {
    let tmux = Tmux::new("ncmpcpp");
    let launched = Instant::now();
    let pid = tmux.start(&format!(
        "env HOME=/nonexistent ncmpcpp -h '{}' -s media_library",
        socket.display()
    ));
    let shown = tmux.wait(Duration::from_secs(60), |s| s.contains(first_artist));
    let wall = launched.elapsed().as_secs_f64() * 1000.0;
    std::thread::sleep(Duration::from_millis(300));
    let mem = memory(pid);
    if shown.is_none() {
        println!(
            "  ncmpcpp never showed {first_artist:?}:\n{}",
            tmux.screen()
        );
    }
    tmux.stop();
    shown.map(|_| (wall, mem))
}

fn main() {
    let bench_started = Instant::now();
    let tracks = env_count("TAPEDECK_BENCH_UI_TRACKS", DEFAULT_TRACKS).max(1);
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_tapedeck"));
    let root = bench_folder("bench-ui", "run-");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("== tapedeck ui benchmark");
    println!("  binary: {}", exe.display());
    println!("  load average (1 min) at the start: {}", load_average());
    if !on_path("tmux") {
        println!("  tmux is not installed (make bench installs it): nothing to measure");
        return;
    }

    println!(
        "\n== 1. synthetic library ({} tracks)",
        thousands(tracks as f64)
    );
    let db = build_library(&root, tracks);
    let work = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(&root)
        .expect("create a work folder");
    let Starts {
        mut marks,
        mut walls,
        started_mem,
        used_mem,
    } = starts(&exe, &db, work.path());
    let keys = keystrokes(&db);

    println!("\n== 2. side by side with ncmpcpp on MPD, on the service benchmark's tree");
    let serve_tracks = env_count("TAPEDECK_BENCH_SERVE_TRACKS", 100_000).max(1);
    let side = if on_path("mpd") && on_path("ncmpcpp") {
        let tree_root = bench_folder("bench-serve", "run-");
        let fixture_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/library");
        let fixtures = usable_fixtures(&fixture_root, &tree_root.join("probe"));
        let base = serve_tracks.min(10_000);
        let (planned, artists) = build_base(&tree_root, &fixtures, base);
        if serve_tracks > base {
            build_more(&tree_root, &planned, artists, serve_tracks);
        }
        let lib = tree_root.join("lib");
        let tree_db = work.path().join("tree.db");
        let t = Instant::now();
        scan_fresh(&exe, &tree_db, &[&lib]);
        println!("  scanned the tree in {:.1} s", t.elapsed().as_secs_f64());
        let first_artist = Library::open_read_only(&tree_db)
            .ok()
            .and_then(|l| l.headings(Default::default(), None).ok())
            .and_then(|h| h.into_iter().map(|h| h.name).find(|n| !n.is_empty()))
            .unwrap_or_default();
        let ours_work = work.path().join("tree-ui");
        std::fs::create_dir_all(&ours_work).expect("make a folder");
        let tmux = Tmux::new("tree");
        let launched = Instant::now();
        let pid = tmux.start(&ui_command(
            &exe,
            &tree_db,
            &ours_work,
            &ours_work.join("timing.txt"),
        ));
        let ours = tmux
            .wait(Duration::from_secs(30), |s| {
                s.contains(&first_artist) && is_frame(s)
            })
            .map(|_| launched.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(300));
        let ours_mem = memory(pid);
        tmux.keys(&["q"]);
        tmux.stop();
        match start_mpd(&lib, &tree_root.join("mpd.db"), work.path()) {
            Ok((mut mpd, socket)) => {
                let theirs = ncmpcpp_start(&socket, &first_artist);
                let mpd_mem = memory(mpd.id());
                let _ = mpd.kill();
                let _ = mpd.wait();
                Some((ours, ours_mem, theirs, mpd_mem))
            }
            Err(e) => {
                println!("  MPD could not be measured: {e}");
                None
            }
        }
    } else {
        println!("  mpd or ncmpcpp is not installed (make bench installs them): skipped");
        None
    };

    println!(
        "\n== results ({} tracks, release build, warm cache, {cores} cores)",
        thousands(tracks as f64)
    );
    if marks.is_empty() || walls.is_empty() {
        println!("  the UI never drew its first frame");
    } else {
        let best = marks.iter().copied().fold(f64::INFINITY, f64::min);
        let m = median(&mut marks);
        println!(
            "  start to first full frame (process start to the frame drawn, {} starts): median \
             {m:.1} ms, best {best:.1} ms   target < {TARGET_FIRST_FRAME_MS:.0} ms {}",
            marks.len(),
            verdict(m < TARGET_FIRST_FRAME_MS)
        );
        println!(
            "  launch to the frame on tmux's screen (adds tmux and polling): median {:.1} ms",
            median(&mut walls)
        );
    }
    println!("  per keystroke (key handled, pages read, frame drawn at 120x40):");
    println!(
        "    {:<30}{:>10}{:>10}{:>10}{:>7}",
        "", "median", "p90", "max", "keys"
    );
    for k in &keys {
        println!(
            "    {:<30}{:>7.2} ms{:>7.2} ms{:>7.2} ms{:>7}",
            k.what, k.median, k.p90, k.max, k.n
        );
    }
    let search_median = keys
        .iter()
        .filter(|k| k.what.starts_with("search"))
        .map(|k| k.median)
        .fold(0.0, f64::max);
    println!(
        "    incremental search: the slower view's median {search_median:.2} ms   target < \
         {TARGET_KEY_MS:.0} ms {}",
        verdict(search_median < TARGET_KEY_MS)
    );
    println!(
        "  memory: {:.1} MiB resident once started (peak {:.1}); peak {:.1} MiB after the track \
         view, a search and a filter   target < {TARGET_RSS_MB:.0} MB {}",
        started_mem.0,
        started_mem.1,
        used_mem.1,
        verdict(used_mem.1 * 1.048_576 < TARGET_RSS_MB)
    );
    if let Some((ours, ours_mem, theirs, mpd_mem)) = side {
        println!(
            "  on the tree of {} real files, launch to the artist list on screen:",
            thousands(serve_tracks as f64)
        );
        let show = |v: Option<f64>| v.map_or("never".to_string(), |v| format!("{v:.0} ms"));
        println!(
            "    tapedeck ui {:>10}   resident {:.1} MiB (player included)",
            show(ours),
            ours_mem.0
        );
        match theirs {
            Some((wall, mem)) => {
                println!(
                    "    ncmpcpp     {:>10}   resident {:.1} MiB, and MPD {:.1} MiB",
                    show(Some(wall)),
                    mem.0,
                    mpd_mem.0
                );
                if let Some(o) = ours {
                    println!("    ratio (ncmpcpp / tapedeck): {:.2}x", wall / o);
                }
            }
            None => println!("    ncmpcpp: the artist list never showed"),
        }
    }
    println!(
        "  (shared machine, load {} at the end: ratios within this run are the reliable part)",
        load_average()
    );
    println!(
        "  benchmark took {:.0} s",
        bench_started.elapsed().as_secs_f64()
    );
}
