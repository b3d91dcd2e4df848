//! Worktrees ready to work in (issue 14): a repository's `lulu.toml` / `.worktreeinclude`
//! ([`config`]), copying its ignored files into new worktrees ([`include`]), its setup command
//! ([`setup`]) once the user trusted it ([`trust`]), port leases ([`ports`]), and the runner's
//! hooks that put them together ([`hook`]).

pub mod config;
pub mod hook;
pub mod include;
pub mod ports;
pub mod setup;
pub mod trust;

pub use config::{RepoConfigError, RepoProvisioning, read_repo_provisioning};
pub use trust::{TrustError, setup_hash};
