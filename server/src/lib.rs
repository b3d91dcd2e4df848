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
pub mod runner;
pub mod store;
pub mod supervisor;
pub mod worktree;
