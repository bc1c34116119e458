//! Query benchmark: `make bench` runs it after the scan benchmark (that is,
//! `cargo bench --locked --bench query`).
//!
//! Builds a synthetic library of a million tracks straight into SQLite under
//! `target/bench-query/` (kept between runs, rebuilt only when its marker file does not match).
//! No audio files are involved: `common/synth.rs` generates the tracks (the same on every run) and
//! writes them through the crate's own writer, 50,000 per transaction.
//!
//! Then, with a warm cache and best of 5 each, it times every case twice:
//!
//! - in-process, through the library API (`query::parse` and `Library::track_ids`, or the call the
//!   command makes), which is the SQL's share;
//! - the release `tapedeck` binary as a subprocess, start to exit, stdout to /dev/null.
//!
//! The cases: a typical field query (`artist:<name> year:1990..1999`), bare words of 3+ and of 2
//! letters, `ls --paths` of about 100,000 tracks, `ls -f '$title'` of the field query, `stats`
//! and `albums genre:<g>`. Targets are printed next to the figures with PASS or MISS, never
//! asserted: shared machines are noisy. Last, each query's plan (`EXPLAIN QUERY PLAN` of the SQL
//! the library runs) is printed with the rows SQLite stepped through in full table scans, so a
//! MISS comes with its reason.
//!
//! Environment:
//! - `BENCH_TRACKS`: tracks in the library (default 1000000; the query words are chosen for the
//!   default, so a smaller library matches proportionally fewer tracks).
//!
//! Layout of `target/bench-query/`:
//! - `library.db` (and its `-wal`/`-shm` while open): the synthetic library;
//! - `library.marker`: what was built, written last, so an interrupted build is redone.

mod common;

use common::synth::{ENSEMBLES, build_library};
use common::{env_count, load_average, thousands, verdict};

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rusqlite::{Connection, StatementStatus};
use tapedeck::db::query::Selection;
use tapedeck::db::{GroupBy, Library};
use tapedeck::query::{Field, Query};

const DEFAULT_TRACKS: usize = 1_000_000;
const RUNS: usize = 5;

// Targets in milliseconds (printed, never asserted).
const TARGET_FIELD_MS: f64 = 20.0;
const TARGET_BARE_MS: f64 = 100.0;
const TARGET_PATHS_MS: f64 = 1000.0;
const TARGET_TEMPLATE_MS: f64 = 50.0;

/// A bare word of 3+ letters that matches a few thousand tracks of the default library (a rare
/// title and album word; the table shows how many it matched).
const BARE_LONG: &str = "jukebox";
/// A bare word of 2 letters, shorter than the trigram index can serve; it too matches a few
/// thousand tracks, so the two bare words differ only in how they are searched.
const BARE_SHORT: &str = "ij";
/// Selects about 100,000 tracks of the default library, for `ls --paths`.
const WIDE_QUERY: &[&str] = &["year:2005..2009"];
/// The genre of `albums genre:<g>`.
const ALBUMS_GENRE: &str = "jazz";
/// The year range of the field query.
const FIELD_YEARS: &str = "year:1990..1999";

/// Best of `RUNS` after one warm-up run; returns the best time and the warm-up's result.
fn best_of<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let out = f();
    let best = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            let _ = f();
            started.elapsed()
        })
        .min()
        .unwrap();
    (best, out)
}

/// Runs `tapedeck --db DB ARGS` once with stdout captured (warm-up and line count), then `RUNS`
/// times with stdout to /dev/null. Returns the best wall time and the line count.
fn time_cli(exe: &Path, db: &Path, args: &[String]) -> (Duration, usize) {
    let cmd = || {
        let mut c = Command::new(exe);
        c.arg("--db")
            .arg(db)
            .args(args)
            .env_remove("TAPEDECK_DB")
            .stdin(Stdio::null());
        c
    };
    let out = cmd().output().expect("run tapedeck");
    assert!(
        out.status.success(),
        "tapedeck {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = out.stdout.iter().filter(|&&b| b == b'\n').count();
    let best = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            let status = cmd()
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("run tapedeck");
            let took = started.elapsed();
            assert!(status.success(), "tapedeck {} failed", args.join(" "));
            took
        })
        .min()
        .unwrap();
    (best, lines)
}

fn parse(terms: &[String]) -> Query {
    tapedeck::query::parse(terms, now()).unwrap_or_else(|e| panic!("bad bench query: {e}"))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Which figure a target judges.
#[derive(Clone, Copy, PartialEq)]
enum Judge {
    InProcess,
    Process,
}

/// One measured case.
struct Case {
    name: String,
    /// The command as a user types it (after `tapedeck --db DB`).
    args: Vec<String>,
    /// The query terms, for the plan; `None` for commands without a track selection plan.
    terms: Option<Vec<String>>,
    in_process: Duration,
    process: Duration,
    /// Tracks (or lines) the case produced.
    rows: usize,
    target: Option<(Judge, f64)>,
}

impl Case {
    fn pass(&self) -> Option<bool> {
        self.target.map(|(j, ms)| {
            let d = if j == Judge::InProcess {
                self.in_process
            } else {
                self.process
            };
            d.as_secs_f64() * 1000.0 < ms
        })
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Measures a track listing: in-process `track_ids`, and `tapedeck ARGS` as a process.
fn ids_case(
    exe: &Path,
    db: &Path,
    lib: &Library,
    name: &str,
    cmd: &[&str],
    terms: &[String],
    target: Option<(Judge, f64)>,
) -> Case {
    let (in_process, rows) = best_of(|| {
        let q = parse(terms);
        lib.track_ids(&Selection {
            query: Some(&q),
            ..Default::default()
        })
        .expect("track_ids")
        .len()
    });
    let mut args = strings(cmd);
    args.extend(terms.iter().cloned());
    let (process, _) = time_cli(exe, db, &args);
    Case {
        name: name.into(),
        args,
        terms: Some(terms.to_vec()),
        in_process,
        process,
        rows,
        target,
    }
}

fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1000.0;
    if v < 10.0 {
        format!("{v:.2} ms")
    } else if v < 1000.0 {
        format!("{v:.1} ms")
    } else {
        format!("{:.2} s", v / 1000.0)
    }
}

/// The shell-quoted command line of a case, for the table.
fn shown(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if a.chars()
                .all(|c| c.is_alphanumeric() || "-:.=_/".contains(c))
            {
                a.clone()
            } else {
                format!("'{a}'")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A searchable name for the field query: the invented word (surname or band name) of the album
/// artist of some non-compilation track from the 1990s, half-way through the library.
fn pick_artist_word(conn: &Connection, tracks: usize) -> String {
    let artist: String = conn
        .query_row(
            "SELECT albumartist FROM tracks WHERE id >= ?1 AND compilation = 0 AND albumartist IS NOT NULL \
             AND year BETWEEN 1990 AND 1999 LIMIT 1",
            [(tracks / 2) as i64],
            |r| r.get(0),
        )
        .expect("a track from the 1990s");
    let skip: HashSet<&str> = ENSEMBLES
        .iter()
        .flat_map(|e| e.split(' '))
        .chain(["The"])
        .collect();
    artist
        .split(' ')
        .rfind(|w| !skip.contains(w))
        .unwrap_or(&artist)
        .to_lowercase()
}

/// `EXPLAIN QUERY PLAN` of the statement `Library::track_ids` runs for `terms`, then the statement
/// run once with SQLite's counters: rows stepped in full table scans, VM steps, sorts.
fn explain(conn: &Connection, terms: &[String], out: &mut String) {
    let q = parse(terms);
    let sel = Selection {
        query: Some(&q),
        ..Default::default()
    };
    let (sql, params) = tapedeck::db::query::select_tracks(&sel, "t.id", false);
    let _ = writeln!(out, "  SQL: {sql}");
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .expect("prepare plan");
    let rows: Vec<(i64, i64, String)> = stmt
        .query_map(rusqlite::params_from_iter(params.iter()), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(3)?))
        })
        .expect("plan")
        .collect::<Result<_, _>>()
        .expect("plan rows");
    // Indent each step under its parent.
    let mut depth: Vec<(i64, usize)> = Vec::new();
    for (id, parent, detail) in rows {
        let level = depth
            .iter()
            .find(|(i, _)| *i == parent)
            .map_or(0, |(_, l)| l + 1);
        depth.push((id, level));
        let _ = writeln!(out, "    {}{detail}", "  ".repeat(level));
    }
    let mut stmt = conn.prepare(&sql).expect("prepare");
    let started = Instant::now();
    let n = stmt
        .query_map(rusqlite::params_from_iter(params.iter()), |r| {
            r.get::<_, i64>(0)
        })
        .expect("run")
        .count();
    let took = started.elapsed();
    let _ = writeln!(
        out,
        "    -> {n} rows in {}; rows stepped in full scans: {}, VM steps: {}, sorts: {}",
        ms(took),
        thousands(f64::from(stmt.get_status(StatementStatus::FullscanStep))),
        thousands(f64::from(stmt.get_status(StatementStatus::VmStep))),
        stmt.get_status(StatementStatus::Sort)
    );
}

fn main() {
    let bench_started = Instant::now();
    let tracks = env_count("BENCH_TRACKS", DEFAULT_TRACKS).max(1000);
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_tapedeck"));
    // target/<profile>/tapedeck: the library goes in target/, next to the build.
    let target_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target folder")
        .to_path_buf();
    let root = target_dir.join("bench-query");
    fs::create_dir_all(&root).expect("create bench folder");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    println!("== tapedeck query benchmark");
    println!("  binary: {}", exe.display());
    println!(
        "  load average (1 min) at the start: {} on {cores} cores",
        load_average()
    );
    println!("  library: {} (BENCH_TRACKS={tracks})", root.display());

    println!("\n== 1. synthetic library");
    let db = build_library(&root, tracks);
    let lib = Library::open(&db).expect("open the bench library");
    // A second connection, with the library's SQL functions, for picking names and for plans.
    let conn = Connection::open(&db).expect("open for plans");
    tapedeck::db::query::register_functions(&conn).expect("register functions");
    let artist = pick_artist_word(&conn, tracks);
    println!("  field query artist: `{artist}` (a word of an album artist from the 1990s)");

    println!("\n== 2. measuring (warm cache, best of {RUNS}; one warm-up run first)");
    let field_terms = strings(&[&format!("artist:{artist}"), FIELD_YEARS]);
    let mut cases = Vec::new();
    let mut add = |c: Case| {
        println!(
            "  {:<28} in-process {:>9}, process {:>9}, {} rows",
            c.name,
            ms(c.in_process),
            ms(c.process),
            thousands(c.rows as f64)
        );
        cases.push(c);
    };
    add(ids_case(
        &exe,
        &db,
        &lib,
        "field query",
        &["ls"],
        &field_terms,
        Some((Judge::InProcess, TARGET_FIELD_MS)),
    ));
    add(ids_case(
        &exe,
        &db,
        &lib,
        "bare word, 3+ letters",
        &["ls"],
        &strings(&[BARE_LONG]),
        Some((Judge::InProcess, TARGET_BARE_MS)),
    ));
    add(ids_case(
        &exe,
        &db,
        &lib,
        "bare word, 2 letters",
        &["ls"],
        &strings(&[BARE_SHORT]),
        Some((Judge::InProcess, TARGET_BARE_MS)),
    ));

    // ls --paths: in-process is the same listing written to a sink.
    {
        let terms = strings(WIDE_QUERY);
        let (in_process, rows) = best_of(|| {
            let q = parse(&terms);
            let mut sink = std::io::sink();
            let mut n = 0usize;
            lib.for_each_track(
                &Selection {
                    query: Some(&q),
                    ..Default::default()
                },
                |t| {
                    n += 1;
                    sink.write_all(t.path.as_os_str().as_bytes())?;
                    sink.write_all(b"\n")
                },
            )
            .expect("list")
            .expect("write");
            n
        });
        let mut args = strings(&["ls", "--paths"]);
        args.extend(terms.iter().cloned());
        let (process, lines) = time_cli(&exe, &db, &args);
        if lines != rows {
            println!(
                "  warning: ls --paths printed {lines} lines, the library API listed {rows} tracks"
            );
        }
        add(Case {
            name: "ls --paths, ~100k tracks".into(),
            args,
            terms: Some(terms),
            in_process,
            process,
            rows,
            target: Some((Judge::Process, TARGET_PATHS_MS)),
        });
    }
    // ls -f '$title': in-process renders the same template.
    {
        let names = Field::names();
        let template = tapedeck::template::Template::parse("$title", &names).expect("template");
        let (in_process, rows) = best_of(|| {
            let q = parse(&field_terms);
            let mut sink = std::io::sink();
            let mut n = 0usize;
            lib.for_each_track(
                &Selection {
                    query: Some(&q),
                    ..Default::default()
                },
                |t| {
                    n += 1;
                    let line = template.render(&|name| {
                        Field::lookup(name).and_then(|f| tapedeck::query::display_value(&t, f))
                    });
                    writeln!(sink, "{line}")
                },
            )
            .expect("list")
            .expect("write");
            n
        });
        let mut args = strings(&["ls", "-f", "$title"]);
        args.extend(field_terms.iter().cloned());
        let (process, _) = time_cli(&exe, &db, &args);
        add(Case {
            name: "ls -f '$title', field query".into(),
            args,
            terms: None,
            in_process,
            process,
            rows,
            target: Some((Judge::Process, TARGET_TEMPLATE_MS)),
        });
    }
    {
        let (in_process, tracks_seen) =
            best_of(|| lib.stats(None, false).expect("stats").tracks as usize);
        let args = strings(&["stats"]);
        let (process, _) = time_cli(&exe, &db, &args);
        add(Case {
            name: "stats".into(),
            args,
            terms: None,
            in_process,
            process,
            rows: tracks_seen,
            target: None,
        });
    }
    {
        let terms = strings(&[&format!("genre:{ALBUMS_GENRE}")]);
        let (in_process, rows) = best_of(|| {
            let q = parse(&terms);
            lib.groups(GroupBy::Album, Some(&q), false)
                .expect("groups")
                .len()
        });
        let mut args = strings(&["albums"]);
        args.extend(terms.iter().cloned());
        let (process, _) = time_cli(&exe, &db, &args);
        add(Case {
            name: "albums (lines)".into(),
            args,
            terms: Some(terms),
            in_process,
            process,
            rows,
            target: None,
        });
    }
    {
        // Process start and exit without a library, then with opening it: the floor under every
        // process figure.
        let (version, _) = best_of(|| {
            Command::new(&exe)
                .arg("--version")
                .stdout(Stdio::null())
                .status()
                .expect("run tapedeck")
        });
        let (roots, _) = time_cli(&exe, &db, &strings(&["roots"]));
        println!(
            "  process floor: `tapedeck --version` {}, `tapedeck --db DB roots` (opens the library) {}",
            ms(version),
            ms(roots)
        );
    }

    // The table.
    let mut t = String::new();
    let _ = writeln!(
        t,
        "\n== results ({} tracks, release build, warm cache, {cores} cores; best of {RUNS} runs each)",
        thousands(tracks as f64)
    );
    let _ = writeln!(
        t,
        "{:<30}{:>12}{:>12}{:>10}   {:<28}command (after tapedeck --db DB)",
        "", "in-process", "process", "rows", "target"
    );
    for c in &cases {
        let target = match c.target {
            Some((j, ms_)) => {
                let what = if j == Judge::InProcess {
                    "in-process"
                } else {
                    "process"
                };
                format!("< {ms_:.0} ms {what} {}", verdict(c.pass().unwrap()))
            }
            None => "(information)".into(),
        };
        let _ = writeln!(
            t,
            "{:<30}{:>12}{:>12}{:>10}   {:<28}{}",
            c.name,
            ms(c.in_process),
            ms(c.process),
            thousands(c.rows as f64),
            target,
            shown(&c.args)
        );
    }
    print!("{t}");

    // Plans: always printed; a MISS is explained by them.
    println!(
        "\n== query plans (EXPLAIN QUERY PLAN of Library::track_ids's statement, then one run of it)"
    );
    println!(
        "  (`albums` groups the tracks of the same WHERE clause; `ls -f` shares the field query's plan)"
    );
    let mut seen = HashSet::new();
    for c in &cases {
        let Some(terms) = &c.terms else { continue };
        if !seen.insert(terms.clone()) {
            continue;
        }
        let mut out = String::new();
        let mark = match c.pass() {
            Some(false) => " (MISS)",
            _ => "",
        };
        let _ = writeln!(out, "- {}{mark}: {}", c.name, shown(terms));
        explain(&conn, terms, &mut out);
        print!("{out}");
    }

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
