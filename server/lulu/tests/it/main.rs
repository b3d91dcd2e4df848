//! The `lulu` binary's integration tests, one test binary: the protocol through `lulu serve`
//! and sessions through the CLI, sharing one client and fixture support.

mod approvals;
mod docs;
mod hostile;
mod land;
mod protocol;
mod provision;
mod quiet;
mod review;
mod sessions;
mod support;
