//! Progress displays: a bar on a terminal, nothing when piped. The scan's shows files seen and
//! prints per-file problems above it as they are found (unless the user asked for quiet);
//! convert and export count what they have done.

use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::output::{escape, escape_path};
use crate::scan::Progress;

pub struct ScanProgress {
    bar: ProgressBar,
    report_problems: bool,
}

impl ScanProgress {
    pub fn new(show_bar: bool, report_problems: bool) -> ScanProgress {
        let target = if show_bar {
            ProgressDrawTarget::stderr_with_hz(10)
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            ProgressStyle::with_template("{spinner} walking: {pos} music files seen")
                .expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(100));
        ScanProgress {
            bar,
            report_problems,
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for ScanProgress {
    fn walked(&self, files_seen: u64) {
        self.bar.set_position(files_seen);
    }

    fn reading(&self, to_read: u64) {
        self.bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} files read, {rate}, {eta} left")
                .expect("valid template")
                .with_key(
                    "rate",
                    |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0} files/s", state.per_sec());
                    },
                ),
        );
        self.bar.set_length(to_read);
        self.bar.set_position(0);
        self.bar.reset_eta();
    }

    fn read_one(&self) {
        self.bar.inc(1);
    }

    fn problem(&self, path: &Path, reason: &str) {
        if self.report_problems {
            self.bar
                .suspend(|| eprintln!("warning: {}: {}", escape_path(path), escape(reason)));
        }
    }
}

/// A bar counting `len` items of `unit` (with elapsed time and ETA, and room for a message such
/// as the speed); `None` when it should not show or there is nothing to count.
pub fn counting_bar(len: u64, unit: &str, show: bool) -> Option<ProgressBar> {
    if !show || len == 0 {
        return None;
    }
    let bar = ProgressBar::new(len);
    let template =
        format!("{{bar:30}} {{pos}}/{{len}} {unit}  {{msg}}  {{elapsed}} elapsed, ETA {{eta}}");
    bar.set_style(
        ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(250));
    Some(bar)
}
