//! The one place where errors become messages and exit codes.
//!
//! Library code returns typed errors; the command line wraps them with context. This module
//! decides what the user reads on stderr and what number the shell sees.

use std::io;

use crate::convert::run::ConvertError;
use crate::scan::ScanError;
use crate::target;

/// Exit codes. Scripts may rely on these.
pub mod code {
    /// Success, including output cut short by a closed pipe (`tapedeck ls | head`).
    pub const OK: u8 = 0;
    /// Something failed; the message says what.
    pub const FAILURE: u8 = 1;
    /// The command line was wrong (clap uses the same code).
    pub const USAGE: u8 = 2;
    /// The library or a target is busy: another scan holds the library's lock, or another
    /// convert or export writes into the same folder.
    pub const BUSY: u8 = 3;
}

/// Something else holds what the command needs (another `tapedeck serve` on the library).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BusyError(pub String);

/// A mistake on the command line, found after clap has parsed it (a path that does not exist).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// An error whose message has already been shown (clap prints its own usage errors).
#[derive(Debug, thiserror::Error)]
#[error("already reported")]
pub struct AlreadyReported(pub u8);

/// True when the error is a write to a pipe whose reader has gone away.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Maps an error to its exit code.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if is_broken_pipe(err) {
        return code::OK;
    }
    for cause in err.chain() {
        if let Some(AlreadyReported(code)) = cause.downcast_ref::<AlreadyReported>() {
            return *code;
        }
        if cause.downcast_ref::<UsageError>().is_some()
            || cause.downcast_ref::<crate::config::ConfigError>().is_some()
        {
            return code::USAGE;
        }
        if cause.downcast_ref::<BusyError>().is_some() {
            return code::BUSY;
        }
        if let Some(ScanError::Busy(_)) = cause.downcast_ref::<ScanError>() {
            return code::BUSY;
        }
        if let Some(e) = cause.downcast_ref::<target::Error>() {
            return match e {
                target::Error::Busy { .. } => code::BUSY,
                _ => code::FAILURE,
            };
        }
        if let Some(ConvertError::Write(target::Error::Busy { .. })) =
            cause.downcast_ref::<ConvertError>()
        {
            return code::BUSY;
        }
    }
    code::FAILURE
}

/// Formats an error and its causes for stderr: "error: what failed: because", the label in
/// bold red when `color` (the command line decides, as clap does for its own errors). `None`
/// when there is nothing to print (a closed pipe, or a message already shown).
pub fn message(err: &anyhow::Error, color: bool) -> Option<String> {
    if is_broken_pipe(err)
        || err
            .chain()
            .any(|c| c.downcast_ref::<AlreadyReported>().is_some())
    {
        return None;
    }
    let label = if color {
        "\x1b[1;31merror:\x1b[0m"
    } else {
        "error:"
    };
    let mut out = format!("{label} {err}");
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let pipe =
            anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe)).context("writing");
        assert_eq!(exit_code(&pipe), code::OK);
        let usage = anyhow::Error::new(UsageError("no such folder".into()));
        assert_eq!(exit_code(&usage), code::USAGE);
        let busy = anyhow::Error::new(ScanError::Busy("x".into())).context("scan");
        assert_eq!(exit_code(&busy), code::BUSY);
        assert_eq!(exit_code(&anyhow::anyhow!("boom")), code::FAILURE);
        assert_eq!(
            message(&anyhow::anyhow!("inner").context("outer"), false).as_deref(),
            Some("error: outer: inner")
        );
        assert_eq!(
            message(&anyhow::anyhow!("inner").context("outer"), true).as_deref(),
            Some("\x1b[1;31merror:\x1b[0m outer: inner")
        );
        assert_eq!(exit_code(&AlreadyReported(2).into()), 2);
    }
}
