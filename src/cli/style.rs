//! Colour in tapedeck's own messages (`error:`, `warning:`, `hint:`, `note:` on stderr, the
//! labels of `stats`), decided once per run by the rules clap follows for its own messages, so
//! the two always agree: colour on a terminal, none when piped, none with `NO_COLOR` set, always
//! with `CLICOLOR_FORCE` set; `--color always|never` overrides the environment, and is passed
//! to clap too.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

/// `--color`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless NO_COLOR is set (or always, with CLICOLOR_FORCE)
    #[default]
    Auto,
    /// Always, even into a pipe or a file
    Always,
    /// Never
    Never,
}

impl ColorWhen {
    pub fn for_clap(self) -> clap::ColorChoice {
        match self {
            ColorWhen::Auto => clap::ColorChoice::Auto,
            ColorWhen::Always => clap::ColorChoice::Always,
            ColorWhen::Never => clap::ColorChoice::Never,
        }
    }
}

/// What the environment says about colour, read once.
#[derive(Debug, Clone, Copy, Default)]
pub struct ColorEnv {
    /// `NO_COLOR` set and not empty.
    pub no_color: bool,
    /// `CLICOLOR_FORCE` set and not empty.
    pub force: bool,
    /// `CLICOLOR=0`.
    pub clicolor_off: bool,
    /// `TERM` names a terminal that shows colour (or `CLICOLOR` is set, or a CI runner).
    pub term_colors: bool,
}

impl ColorEnv {
    pub fn read() -> ColorEnv {
        let clicolor = anstyle_query::clicolor();
        ColorEnv {
            no_color: anstyle_query::no_color(),
            force: anstyle_query::clicolor_force(),
            clicolor_off: clicolor == Some(false),
            term_colors: anstyle_query::term_supports_color()
                || clicolor == Some(true)
                || anstyle_query::is_ci(),
        }
    }
}

/// Whether a stream gets colour (the rule clap's output stream applies).
pub fn decide(when: ColorWhen, env: ColorEnv, terminal: bool) -> bool {
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            !env.no_color && (env.force || (!env.clicolor_off && terminal && env.term_colors))
        }
    }
}

static STDOUT: AtomicBool = AtomicBool::new(false);
static STDERR: AtomicBool = AtomicBool::new(false);

/// Decides for stdout and stderr; called once, before anything is printed.
pub fn init(when: ColorWhen) {
    let env = ColorEnv::read();
    STDOUT.store(
        decide(when, env, std::io::stdout().is_terminal()),
        Ordering::Relaxed,
    );
    STDERR.store(
        decide(when, env, std::io::stderr().is_terminal()),
        Ordering::Relaxed,
    );
}

/// Whether stderr gets colour.
pub fn stderr() -> bool {
    STDERR.load(Ordering::Relaxed)
}

/// Whether stdout gets colour.
pub fn stdout() -> bool {
    STDOUT.load(Ordering::Relaxed)
}

/// The `--color` a raw command line asks for, read before clap parses it (clap's own usage
/// errors are printed during parsing): the last `--color WHEN` or `--color=WHEN` before `--`.
/// An unknown value is left for clap to refuse.
pub fn from_args<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> ColorWhen {
    let mut when = ColorWhen::Auto;
    let mut iter = args.iter().map(|a| a.as_ref().to_str().unwrap_or(""));
    while let Some(arg) = iter.next() {
        if arg == "--" {
            break;
        }
        let value = match arg.strip_prefix("--color") {
            Some("") => iter.next().unwrap_or(""),
            Some(v) => match v.strip_prefix('=') {
                Some(v) => v,
                None => continue,
            },
            None => continue,
        };
        if let Ok(w) = <ColorWhen as clap::ValueEnum>::from_str(value, false) {
            when = w;
        }
    }
    when
}

/// A message's label (`error:`, `warning:`): bold, and coloured by kind when `color`.
pub fn label(word: &str, color: bool) -> String {
    if !color {
        return format!("{word}:");
    }
    // The colours clap gives its own labels: errors red, warnings yellow, tips green.
    let code = match word {
        "error" => "1;31",
        "warning" => "1;33",
        "hint" | "note" => "1;32",
        _ => "1",
    };
    format!("\x1b[{code}m{word}:\x1b[0m")
}

/// Prints `error: TEXT` on stderr: one thing that failed while the run goes on.
pub fn error(text: impl std::fmt::Display) {
    eprintln!("{} {text}", label("error", stderr()));
}

/// Prints `warning: TEXT` on stderr.
pub fn warn(text: impl std::fmt::Display) {
    eprintln!("{} {text}", label("warning", stderr()));
}

/// Prints `hint: TEXT` on stderr.
pub fn hint(text: impl std::fmt::Display) {
    eprintln!("{} {text}", label("hint", stderr()));
}

/// Prints `note: TEXT` on stderr.
pub fn note(text: impl std::fmt::Display) {
    eprintln!("{} {text}", label("note", stderr()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_follows_clap_rules() {
        let plain = ColorEnv {
            term_colors: true,
            ..ColorEnv::default()
        };
        let no_color = ColorEnv {
            no_color: true,
            ..plain
        };
        let force = ColorEnv {
            force: true,
            ..ColorEnv::default()
        };
        let dumb = ColorEnv::default();
        let off = ColorEnv {
            clicolor_off: true,
            ..plain
        };
        use ColorWhen::*;
        let cases = [
            (Auto, plain, true, true),
            (Auto, plain, false, false),
            (Auto, no_color, true, false),
            (Auto, force, false, true),
            (
                Auto,
                ColorEnv {
                    no_color: true,
                    ..force
                },
                false,
                false,
            ),
            (Auto, dumb, true, false),
            (Auto, off, true, false),
            (Always, no_color, false, true),
            (Never, force, true, false),
            (Never, plain, true, false),
        ];
        for (when, env, terminal, want) in cases {
            assert_eq!(
                decide(when, env, terminal),
                want,
                "{when:?} {env:?} {terminal}"
            );
        }
    }

    #[test]
    fn color_flag_is_read_before_parsing() {
        let cases: &[(&[&str], ColorWhen)] = &[
            (&["tapedeck", "ls"], ColorWhen::Auto),
            (&["tapedeck", "--color", "never", "ls"], ColorWhen::Never),
            (&["tapedeck", "ls", "--color=always"], ColorWhen::Always),
            (
                &["tapedeck", "--color=never", "--color", "always"],
                ColorWhen::Always,
            ),
            (&["tapedeck", "ls", "--", "--color=never"], ColorWhen::Auto),
            (&["tapedeck", "--color=purple"], ColorWhen::Auto),
            (&["tapedeck", "--colour=never"], ColorWhen::Auto),
        ];
        for (args, want) in cases {
            assert_eq!(from_args(args), *want, "{args:?}");
        }
    }

    #[test]
    fn labels() {
        assert_eq!(label("error", false), "error:");
        assert_eq!(label("error", true), "\x1b[1;31merror:\x1b[0m");
        assert_eq!(label("warning", true), "\x1b[1;33mwarning:\x1b[0m");
    }
}
