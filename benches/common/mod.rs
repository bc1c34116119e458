//! Helpers the benchmarks share: reading counts from the environment, printing figures, and
//! scanning folders into a fresh library.

#![allow(dead_code)]

/// A count from the environment (`20_000` and `20,000` allowed), or `default`.
pub fn env_count(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(s) if !s.trim().is_empty() => s
            .trim()
            .replace(['_', ','], "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={s} is not a number")),
        _ => default,
    }
}

/// The 1-minute load average, to judge how quiet the machine was.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

pub fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

/// A whole number with thousands separators: 1,000,000.
pub fn thousands(n: f64) -> String {
    let s = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Scans `folders` into a fresh library at `db` (any old one removed) with the binary `exe`.
pub fn scan_fresh(exe: &std::path::Path, db: &std::path::Path, folders: &[&std::path::Path]) {
    let _ = std::fs::remove_file(db);
    let ok = std::process::Command::new(exe)
        .arg("--db")
        .arg(db)
        .args(["scan", "-q"])
        .args(folders)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "scan failed");
}

pub mod mpd;
pub mod synth;
pub mod tree;

/// Whether a program is on the PATH (a peer the benchmark runs beside tapedeck).
pub fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(name).is_file()))
}

/// The benchmark's folder `name` in `target/`, next to the build (made when missing), with the
/// folders an interrupted run left there (named `leftover…`) removed.
pub fn bench_folder(name: &str, leftover: &str) -> std::path::PathBuf {
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_tapedeck"));
    // target/<profile>/tapedeck
    let root = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target folder")
        .join(name);
    std::fs::create_dir_all(&root).expect("create bench folder");
    for e in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().starts_with(leftover) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    root
}
