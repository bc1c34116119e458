//! Timing for benchmarks: with `TAPEDECK_TIMING` set, milestones are printed to stderr as
//! milliseconds since the process started, with the CPU time the calling thread has used.

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
            "timing: {label}: {:.1} ms (this thread's CPU: {:.1} ms)",
            start.elapsed().as_secs_f64() * 1000.0,
            thread_cpu_ms()
        );
    }
}

/// The CPU time (user and system) the calling thread has used, in milliseconds.
fn thread_cpu_ms() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0;
    if ok {
        ts.tv_sec as f64 * 1000.0 + ts.tv_nsec as f64 / 1e6
    } else {
        0.0
    }
}
