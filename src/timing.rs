//! Start-up timing for benchmarks: with `TAPEDECK_TIMING` set, milestones are printed to stderr
//! as milliseconds since the process started.

use std::sync::OnceLock;
use std::time::Instant;

static START: OnceLock<Instant> = OnceLock::new();

/// Records the process start; the binary calls this first thing.
pub fn init() {
    START.get_or_init(Instant::now);
}

/// Prints `label` with the elapsed time, when timing was asked for.
pub fn mark(label: &str) {
    if let Some(start) = START.get()
        && std::env::var_os("TAPEDECK_TIMING").is_some()
    {
        eprintln!(
            "timing: {label}: {:.1} ms",
            start.elapsed().as_secs_f64() * 1000.0
        );
    }
}
