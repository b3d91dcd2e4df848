//! Logging: `tracing` to stderr only (stdout is the protocol), filtered by `LULU_LOG`
//! (default `warn`; a runner logs at `info` into its session's log file).

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_env("LULU_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}
