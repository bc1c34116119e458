//! The `tapedeck` binary: run the command line and turn its result into an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    tapedeck::timing::init();
    match tapedeck::cli::run(std::env::args_os()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(message) = tapedeck::error::message(&err, tapedeck::cli::stderr_color()) {
                eprintln!("{message}");
            }
            ExitCode::from(tapedeck::error::exit_code(&err))
        }
    }
}
