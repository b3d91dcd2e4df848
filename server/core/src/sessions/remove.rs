//! Removing a session: its worktree, branch, runtime files and row, never losing work unless forced.

use crate::{
    model::SessionId,
    process::{self},
    repo_lock::RepositoryLock,
    worktree::{self, RemoveMode},
};

use super::*;

#[derive(Debug, Clone, Copy, Default)]
pub struct RemoveOptions {
    /// Cancel a running session and discard uncommitted work and unmerged commits.
    pub force: bool,
    pub delete_branch: bool,
}

impl Sessions {
    /// Removes a session: its worktree (refusing to lose work unless forced), optionally its
    /// branch, then its row and transcript.
    pub fn remove(&self, id: &str, options: RemoveOptions) -> Result<(), RemoveError> {
        let mut session = lookup(&self.store(), id)?;
        if !session.status.is_ended() {
            if !options.force {
                return Err(RemoveError::Active {
                    id: session.id.clone(),
                    status: session.status.as_str(),
                });
            }
            session = self.cancel(session.id.as_str())?;
            if !session.status.is_ended() {
                return Err(RemoveError::DidNotStop { id: session.id });
            }
        }
        if !session.repo.exists() {
            // The repository itself is gone: there is no worktree or branch left to lose.
            self.store().delete_ended_session(&session.id)?;
            self.remove_runtime_files(&session.id);
            return Ok(());
        }
        let worktree_exists = session
            .worktree_path
            .as_deref()
            .is_some_and(|path| path.exists());
        // Check everything that could lose work before touching anything.
        if !options.force {
            if let Some(path) = session.worktree_path.as_deref()
                && worktree_exists
            {
                refuse_uncommitted(path)?;
            }
            if let Some(branch) = session.branch.as_deref()
                && options.delete_branch
            {
                self.refuse_unmerged(&session, branch)?;
            }
        }
        let _held = RepositoryLock::acquire(&session.repo)?;
        if let Some(path) = session.worktree_path.as_deref() {
            let mode = if options.force {
                RemoveMode::DiscardChanges
            } else {
                RemoveMode::Safe
            };
            worktree::remove_worktree(&session.repo, path, mode)?;
        }
        if let (Some(branch), true) = (session.branch.as_deref(), options.delete_branch) {
            match worktree::delete_branch(&session.repo, branch) {
                Ok(()) | Err(worktree::DeleteBranchError::BranchNotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        self.store().delete_ended_session(&session.id)?;
        self.remove_runtime_files(&session.id);
        Ok(())
    }

    /// Refuses to delete a branch with commits that are not merged (a landed branch counts as
    /// merged up to the commit that landed; a branch already gone has none).
    fn refuse_unmerged(&self, session: &Session, branch: &str) -> Result<(), RemoveError> {
        let merged_up_to = self
            .store()
            .session_branches(&session.id)?
            .landed
            .map_or_else(|| session.base_ref.clone(), |landed| landed.source_commit);
        let count = match worktree::unmerged_commits(&session.repo, branch, &merged_up_to) {
            Ok(count) => count,
            Err(worktree::UnmergedError::BranchNotFound { .. }) => 0,
            Err(error) => return Err(error.into()),
        };
        if count > 0 {
            return Err(RemoveError::Unmerged {
                branch: branch.to_owned(),
                base: session.base_ref.clone(),
                count,
            });
        }
        Ok(())
    }

    fn remove_runtime_files(&self, id: &SessionId) {
        for path in [
            process::lock_path(&self.settings.state_dir, id),
            process::log_path(&self.settings.state_dir, id),
            crate::agent_record::record_path(&self.settings.state_dir, id),
            crate::wake::wake_path(&self.settings.state_dir, id),
        ] {
            std::fs::remove_file(path).ok();
        }
    }
}

/// Refuses to remove a worktree with uncommitted or untracked files, naming the first three.
fn refuse_uncommitted(path: &Path) -> Result<(), RemoveError> {
    let changes = worktree::uncommitted_changes(path)?;
    if changes.is_empty() {
        return Ok(());
    }
    let all: Vec<&String> = changes.changed.iter().chain(&changes.untracked).collect();
    let mut sample = all
        .iter()
        .take(3)
        .map(|path| path.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if all.len() > 3 {
        sample.push_str(", …");
    }
    Err(RemoveError::Uncommitted {
        path: path.to_owned(),
        count: all.len(),
        sample,
    })
}
