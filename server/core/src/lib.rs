//! Lulu's core: sessions and their runs, the SQLite store, git worktrees (gix), agent processes
//! and their output. It knows nothing of JSON-RPC, LSP or the command line: the `lulu-lsp` crate
//! and the `lulu` binary convert at their boundaries. See ARCHITECTURE.md for the map.
#![deny(clippy::print_stdout)]

pub mod agent_host;
pub mod agent_output;
pub mod agent_record;
pub mod agent_view;
pub mod config;
pub mod git_env;
pub mod model;
pub mod process;
pub mod provision;
pub mod repo_lock;
pub mod runner;
pub mod sessions;
pub mod store;
pub mod wake;
pub mod worktree;

/// An error and its causes, one per line: the full detail kept for a person to read.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!("\ncaused by: {cause}"));
        source = cause.source();
    }
    text
}

/// The operating system's or SQLite's words at the root of an error, if one of those lies in its
/// chain ("No space left on device (os error 28)", "database or disk is full"): the part of a
/// failure a person can act on, where lulu's own messages say which thing was at fault.
pub fn system_root_cause(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut found = None;
    let mut cause = error.source();
    while let Some(current) = cause {
        if current.is::<std::io::Error>() || current.is::<rusqlite::Error>() {
            found = Some(current.to_string());
        }
        cause = current.source();
    }
    found
}

/// The innermost cause of an error (the error itself when it has none): the most specific words
/// there are, such as "No space left on device (os error 28)".
pub fn innermost_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost = error;
    while let Some(cause) = innermost.source() {
        innermost = cause;
    }
    innermost.to_string()
}
