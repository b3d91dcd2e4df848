//! The core crate's integration tests, one test binary, against real repositories made by
//! `tests/fixtures/make-repo.sh` with real `git` as the oracle.

mod land;
mod support;
mod worktree;
