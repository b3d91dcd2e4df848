//! The `lulu` binary: parse the command line, set up logging, hand over to `cli`.
#![deny(clippy::print_stdout)]

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = lulu::cli::Cli::parse();
    lulu::logging::init();
    match lulu::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("lulu: {}", lulu::cli::one_line(&error));
            tracing::debug!("{error:?}");
            std::process::ExitCode::FAILURE
        }
    }
}
