//! The `lulu` binary's integration tests, one test binary: the protocol through `lulu serve`
//! and sessions through the CLI, sharing one client and fixture support.

mod approvals;
mod docs;
mod protocol;
mod sessions;
mod support;
