//! Reconciliation: settling runs whose runner died, pruning stale worktree metadata, reporting orphan folders.

use std::path::PathBuf;

use crate::{
    model::SessionId,
    process::{self},
    repo_lock::RepositoryLock,
    runner::settle_dead_runner,
    worktree::{self, OrphanFolder, RemoveMode},
};

use super::*;

#[derive(Debug, Clone, Copy, Default)]
pub struct ReconcileOptions {
    /// Only settle sessions whose runner died; leave worktrees alone (cheap, for the CLI).
    pub sessions_only: bool,
    /// Delete orphan worktree folders that hold nothing to lose (`lulu gc`); otherwise they are
    /// only reported.
    pub remove_clean_orphans: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ReconcileReport {
    /// Sessions whose runner had died, now failed/interrupted.
    pub interrupted: Vec<SessionId>,
    /// Stale worktree registrations pruned (their folders were gone).
    pub pruned: Vec<PathBuf>,
    /// Folders under a worktree root that no session owns.
    pub orphans: Vec<OrphanFolder>,
    /// Orphans deleted because they were clean (only with `remove_clean_orphans`).
    pub removed_orphans: Vec<PathBuf>,
    /// Repositories that could not be reconciled, with why.
    pub problems: Vec<String>,
}

impl Sessions {
    /// Settles sessions whose runner died (failed/interrupted), prunes stale worktree
    /// metadata, and reports (optionally removes, when clean) worktree folders no session
    /// owns.
    pub fn reconcile(&self, options: ReconcileOptions) -> Result<ReconcileReport, ReconcileError> {
        let mut store = self.store();
        let mut report = ReconcileReport::default();
        for session in store.active_sessions()? {
            let liveness = |id: &SessionId| {
                process::runner_alive(&self.settings.state_dir, id).map_err(|source| {
                    ReconcileError::Liveness {
                        id: id.clone(),
                        source,
                    }
                })
            };
            if liveness(&session.id)? {
                continue;
            }
            if settle_dead_runner(
                &mut store,
                &self.settings.state_dir,
                &session.id,
                session.run,
            )? {
                tracing::info!(id = %session.id, "session interrupted: its runner is gone");
                report.interrupted.push(session.id.clone());
            }
        }
        // Ports of sessions that are no longer live go back (issue 14).
        store.release_stale_ports()?;
        drop(store);
        if options.sessions_only {
            return Ok(report);
        }
        // The connection is taken for each query only: git work does not hold it.
        let repositories = self.store().repositories()?;
        for repo in repositories {
            if !repo.exists() {
                continue;
            }
            let owned = self.store().worktree_paths_of_repo(&repo)?;
            let mut roots: Vec<PathBuf> = vec![self.settings.worktree_root(&repo)];
            for path in &owned {
                if let Some(parent) = path.parent()
                    && !roots.iter().any(|root| root == parent)
                {
                    roots.push(parent.to_owned());
                }
            }
            let _held = match RepositoryLock::acquire(&repo) {
                Ok(held) => held,
                Err(error) => {
                    report.problems.push(error.to_string());
                    continue;
                }
            };
            for root in roots {
                match worktree::reconcile(&repo, &root, &owned) {
                    Ok(found) => {
                        report.pruned.extend(found.pruned);
                        for orphan in found.orphans {
                            if options.remove_clean_orphans && orphan.clean {
                                let removed = if orphan.registered {
                                    worktree::remove_worktree(&repo, &orphan.path, RemoveMode::Safe)
                                        .map_err(|error| error.to_string())
                                } else {
                                    std::fs::remove_dir(&orphan.path)
                                        .map_err(|error| error.to_string())
                                };
                                match removed {
                                    Ok(()) => report.removed_orphans.push(orphan.path.clone()),
                                    Err(error) => report.problems.push(format!(
                                        "could not remove {}: {error}",
                                        orphan.path.display()
                                    )),
                                }
                            }
                            report.orphans.push(orphan);
                        }
                    }
                    Err(error) => report.problems.push(error.to_string()),
                }
            }
        }
        Ok(report)
    }
}
