//! The caller's git environment: variables that point git at another repository, index or
//! object store. Git hooks and some editors set them (`GIT_DIR`, `GIT_WORK_TREE`,
//! `GIT_INDEX_FILE`, ...); inherited by an agent they would make its `git commit` work on the
//! user's repository instead of the session's worktree, and gix reads some of them too. lulu
//! removes them from its own environment at startup, so neither its gix calls nor any process
//! it starts (runners, agents) sees them.
//!
//! Kept on purpose: `GIT_CEILING_DIRECTORIES` and `GIT_DISCOVERY_ACROSS_FILESYSTEM` only limit
//! or widen how far discovery climbs, which cannot make git use another repository (a worktree
//! holds its own `.git` at its top, where discovery starts), and users set them on purpose (slow
//! network mounts); `GIT_CONFIG_*` carry configuration, not a place.

/// The variables that redirect git to another repository, work tree, index or object store.
pub const GIT_REDIRECTIONS: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_SHALLOW_FILE",
    "GIT_GRAFT_FILE",
    "GIT_REPLACE_REF_BASE",
    "GIT_QUARANTINE_PATH",
    "GIT_INTERNAL_SUPER_PREFIX",
];

/// Removes [`GIT_REDIRECTIONS`] from this process's environment.
///
/// # Safety
/// Call it before any other thread exists (first thing in `main`): changing the environment
/// while another thread reads it is undefined behaviour.
pub unsafe fn clear_git_redirections() {
    for name in GIT_REDIRECTIONS {
        if std::env::var_os(name).is_some() {
            // SAFETY: the caller promises no other thread exists yet.
            unsafe { std::env::remove_var(name) };
        }
    }
}
