//! The `lulu` binary: parse the command line, set up logging, hand over to `cli`.
#![deny(clippy::print_stdout)]

use std::io::Write;

use clap::Parser;

mod cli;
mod demo;
mod logging;
mod render;

fn main() -> std::process::ExitCode {
    // SAFETY: the first thing lulu does, before any thread exists.
    unsafe { lulu_core::git_env::clear_git_redirections() };
    let cli = cli::Cli::parse();
    logging::init();
    match cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // Not eprintln!, which panics when stderr cannot be written (a runner's log on a full disk).
            let _ = writeln!(std::io::stderr(), "lulu: {}", cli::one_line(&error));
            tracing::debug!("{error:?}");
            std::process::ExitCode::FAILURE
        }
    }
}
