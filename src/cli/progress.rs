//! The scan's progress display: a bar on a terminal, nothing when piped. Per-file problems are
//! printed as they are found, above the bar, unless the user asked for quiet.

use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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
                .suspend(|| eprintln!("warning: {}: {reason}", path.display()));
        }
    }
}
