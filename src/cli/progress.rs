//! Progress displays: a bar on a terminal, nothing when piped. The scan's names its phase
//! (walking, reading, settling) with an estimate from the average rate of the reading phase, and
//! prints per-file problems (unless the user asked for quiet) and, under `-v`, each change above
//! it as they are found; convert and export count what they have done.

use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::output::{escape, escape_path};
use crate::scan::{Change, Progress};

pub struct ScanProgress {
    bar: ProgressBar,
    report_problems: bool,
    list_changes: bool,
}

impl ScanProgress {
    /// `show_bar`: draw the bar (stderr is a terminal and not quiet); `report_problems`: print
    /// each problem; `list_changes`: print each track added, updated, moved or removed.
    pub fn new(show_bar: bool, report_problems: bool, list_changes: bool) -> ScanProgress {
        let target = if show_bar {
            ProgressDrawTarget::stderr_with_hz(10)
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            ProgressStyle::with_template("{spinner} walking: {pos} music files found")
                .expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(100));
        ScanProgress {
            bar,
            report_problems,
            list_changes,
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn line(&self, text: String) {
        self.bar.suspend(|| eprintln!("{text}"));
    }
}

impl Progress for ScanProgress {
    fn walked(&self, files_seen: u64) {
        self.bar.set_position(files_seen);
    }

    fn reading(&self, to_read: u64) {
        self.bar.set_style(
            ProgressStyle::with_template("reading: {bar:30} {pos}/{len} files, {rate}, {left}")
                .expect("valid template")
                .with_key(
                    "rate",
                    |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let secs = state.elapsed().as_secs_f64();
                        let rate = if secs > 0.0 {
                            state.pos() as f64 / secs
                        } else {
                            0.0
                        };
                        let _ = write!(w, "{rate:.0} files/s");
                    },
                )
                .with_key(
                    "left",
                    |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let len = state.len().unwrap_or(0);
                        let _ = write!(w, "{}", time_left(state.pos(), len, state.elapsed()));
                    },
                ),
        );
        self.bar.set_length(to_read);
        self.bar.set_position(0);
        // The rate and the estimate count from here, not from the start of the walk.
        self.bar.reset_elapsed();
        self.bar.reset_eta();
    }

    fn read_one(&self) {
        self.bar.inc(1);
    }

    fn settling(&self) {
        self.bar.set_style(
            ProgressStyle::with_template(
                "{spinner} settling: moves and removals, {pos} files read",
            )
            .expect("valid template"),
        );
    }

    fn problem(&self, path: &Path, reason: &str) {
        if self.report_problems {
            self.line(format!(
                "{} {}: {}",
                super::style::label("warning", super::style::stderr()),
                escape_path(path),
                escape(reason)
            ));
        }
    }

    fn changed(&self, change: Change<'_>) {
        if self.list_changes {
            self.line(change_line(change));
        }
    }
}

/// One line naming a change, paths escaped: `added: PATH`, `moved: OLD -> NEW`.
pub fn change_line(change: Change<'_>) -> String {
    match change {
        Change::Added(p) => format!("added: {}", escape_path(p)),
        Change::Updated(p) => format!("updated: {}", escape_path(p)),
        Change::Moved { from, to } => {
            format!("moved: {} -> {}", escape_path(from), escape_path(to))
        }
        Change::Removed(p) => format!("removed: {}", escape_path(p)),
    }
}

/// What is left of a phase that has done `done` of `len` in `elapsed`, at its average rate so
/// far. An estimate needs a second of history and one item in a hundred: before that (and when
/// there is no rate) it says so instead of guessing, since a burst of cached files at the start
/// would promise far too little.
pub fn time_left(done: u64, len: u64, elapsed: Duration) -> String {
    if done >= len {
        return "done".into();
    }
    let secs = elapsed.as_secs_f64();
    if done == 0 || secs < 1.0 || done * 100 < len {
        return "estimating time left".into();
    }
    let left = (secs * (len - done) as f64 / done as f64).ceil() as u64;
    let text = match left {
        0..60 => format!("{left}s"),
        60..3600 => format!("{}m {:02}s", left / 60, left % 60),
        _ => format!("{}h {:02}m", left / 3600, left % 3600 / 60),
    };
    format!("about {text} left")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_is_estimated_from_the_average_rate() {
        let s = Duration::from_secs;
        let cases = [
            (0, 100, s(5), "estimating time left"),
            (50, 100, Duration::from_millis(500), "estimating time left"),
            (5, 1000, s(10), "estimating time left"),
            (100, 100, s(3), "done"),
            (0, 0, s(0), "done"),
            (50, 100, s(10), "about 10s left"),
            (1, 3, s(30), "about 1m 00s left"),
            (10, 1000, s(60), "about 1h 39m left"),
            (333, 1000, s(10), "about 21s left"),
        ];
        for (done, len, elapsed, want) in cases {
            assert_eq!(
                time_left(done, len, elapsed),
                want,
                "{done}/{len} in {elapsed:?}"
            );
        }
    }

    #[test]
    fn changes_are_named_with_escaped_paths() {
        let cases = [
            (
                Change::Added(Path::new("/m/a\nb.flac")),
                r"added: /m/a\nb.flac",
            ),
            (Change::Updated(Path::new("/m/x.mp3")), "updated: /m/x.mp3"),
            (
                Change::Moved {
                    from: Path::new("/a.mp3"),
                    to: Path::new("/b\u{7}.mp3"),
                },
                r"moved: /a.mp3 -> /b\x07.mp3",
            ),
            (
                Change::Removed(Path::new("/m/\u{1b}[31m.mp3")),
                r"removed: /m/\e[31m.mp3",
            ),
        ];
        for (change, want) in cases {
            assert_eq!(change_line(change), want);
        }
    }
}
