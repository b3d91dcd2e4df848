//! Lulu: run several AI coding agents at once, each in its own git worktree.
//!
//! See ARCHITECTURE.md for the map of this crate.
#![deny(clippy::print_stdout)]

pub mod agent_output;
pub mod cli;
pub mod config;
pub mod demo;
pub mod logging;
pub mod lsp;
pub mod model;
pub mod process;
pub mod protocol;
pub mod render;
pub mod repo_lock;
pub mod runner;
pub mod store;
pub mod supervisor;
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
