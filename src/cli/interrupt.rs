//! Ctrl-C and SIGTERM for the long commands (convert, export, play without a terminal): the
//! signal only sets a flag, and the command's own loop checks it, so work stops at a clean point
//! (workers between chunks, the player between events) and temporary files are removed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

extern "C" fn on_signal(_: libc::c_int) {
    if let Some(f) = FLAG.get() {
        f.store(true, Ordering::Release);
    }
}

/// Installs the handler (once) and returns the flag it sets.
pub fn flag() -> Arc<AtomicBool> {
    if FLAG.set(Arc::new(AtomicBool::new(false))).is_ok() {
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe; the flag
        // exists before the handler is installed.
        unsafe {
            libc::signal(libc::SIGINT, handler);
            libc::signal(libc::SIGTERM, handler);
        }
    }
    FLAG.get().expect("set above").clone()
}
