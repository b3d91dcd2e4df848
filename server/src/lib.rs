//! Lulu: run several AI coding agents at once, each in its own git worktree.
//!
//! See ARCHITECTURE.md for the map of this crate.
#![deny(clippy::print_stdout)]

pub mod model;
pub mod protocol;
pub mod worktree;
