//! Spawning a session: validate, insert its row, launch its runner; names derived from prompts.

use std::path::{Path, PathBuf};

use chrono::Utc;

use crate::{
    config::find_program,
    model::{Session, SessionId, Status},
    process::{self, LaunchError, RunnerLaunch, RunnerLock},
    store::{self, NewSession, Store, StoreError},
    worktree::{self},
};

use super::*;

/// The longest prompt: it goes to the agent as one command-line argument, and Linux refuses
/// an argument over 128 KiB (`MAX_ARG_STRLEN`, counting its terminating NUL) with E2BIG. Checked
/// before anything is created, so a too-long prompt never leaves a worktree behind.
pub const PROMPT_MAX_BYTES: usize = 128 * 1024 - 1;

/// A request to start a session.
#[derive(Debug, Clone)]
pub struct SpawnRequest {
    pub prompt: String,
    pub name: Option<String>,
    pub agent: Option<String>,
    pub base_ref: Option<String>,
    /// Any path inside the repository.
    pub repo: PathBuf,
    /// Cost limit in US dollars; the profile's when None.
    pub max_cost_usd: Option<f64>,
    /// Time limit in minutes; the profile's when None.
    pub max_minutes: Option<f64>,
    /// Trust the repository's setup command as it is now (`lulu spawn --trust-setup`).
    pub trust_setup: bool,
}

impl Sessions {
    pub fn spawn(&self, request: SpawnRequest) -> Result<Session, SpawnError> {
        let prompt = request.prompt.trim().to_owned();
        if prompt.is_empty() {
            return Err(SpawnError::EmptyPrompt);
        }
        if prompt.len() > PROMPT_MAX_BYTES {
            return Err(SpawnError::PromptTooLong {
                bytes: prompt.len(),
                limit: PROMPT_MAX_BYTES,
            });
        }
        let name = match request.name {
            Some(name) if name.trim().is_empty() => return Err(SpawnError::EmptyName),
            Some(name) => name.trim().to_owned(),
            None => derive_name(&prompt),
        };
        if let Some(character) = name.chars().find(|character| character.is_control()) {
            return Err(SpawnError::NameControlCharacter { character });
        }
        let repo = worktree::discover_repository(&request.repo)?;
        let agent_name = request
            .agent
            .unwrap_or_else(|| self.settings.default_agent.clone());
        let profile = self
            .profile(&agent_name)
            .ok_or_else(|| SpawnError::UnknownAgent {
                name: agent_name.clone(),
                known: self.known_agents(),
            })?;
        let program = &profile.command[0];
        if find_program(program, &profile.env).is_none() {
            return Err(SpawnError::AgentNotInstalled {
                name: agent_name,
                program: program.clone(),
            });
        }
        let base_ref = match request.base_ref.map(|base| base.trim().to_owned()) {
            Some(base) if base.is_empty() => return Err(SpawnError::EmptyBase),
            Some(base) => base,
            None => "HEAD".to_owned(),
        };
        let base_commit = worktree::resolve_commit(&repo, &base_ref)?;
        let limits = session_limits(profile, request.max_cost_usd, request.max_minutes)?;
        let mut command = profile.argv(&prompt);
        command.extend(profile.budget_arguments(limits.max_cost_usd));
        // Issue 14: lulu.toml / .worktreeinclude, and the setup command's trust.
        let provisioning = self.check_provisioning(&repo, request.trust_setup)?;

        let now = Utc::now();
        let id = SessionId::new();
        let (worktree_path, branch) = self.worktree_place(&repo, &name, &id);
        check_worktree_folder(&self.settings.worktree_root(&repo), &id)?;
        let mut store = self.store();
        // The lock is ours before the row exists, so no reconciliation can see a starting
        // session without a live owner.
        let lock = RunnerLock::acquire(&self.settings.state_dir, &id)?;
        let session = store.insert_session(&NewSession {
            id: id.clone(),
            created_at: now,
            name,
            repo,
            prompt: prompt.clone(),
            agent: agent_name,
            command,
            format: profile.format,
            env: profile.env.clone(),
            base_ref,
            base_commit,
            max_running: self.settings.max_running,
            limits,
        })?;
        self.record_base_branch(&mut store, &session)?;
        if !provisioning.is_empty() {
            store.set_provision(&id, &provisioning)?;
        }
        let launch = RunnerLaunch {
            state_dir: self.settings.state_dir.clone(),
            id: id.clone(),
            run: session.run,
            worktree: Some((worktree_path, branch)),
        };
        if let Err(error) = process::launch_runner(&launch, lock) {
            self.fail_unlaunched(&mut store, &session, &error)?;
            return Err(error.into());
        }
        Ok(session)
    }

    pub(super) fn fail_unlaunched(
        &self,
        store: &mut Store,
        session: &Session,
        error: &LaunchError,
    ) -> Result<(), StoreError> {
        let reason = format!("could not start the session's runner: {error}");
        let termination = store::Termination {
            status: Status::Failed,
            outcome: crate::model::Outcome::SpawnFailed,
            exit_code: None,
            signal: None,
            failure_reason: Some(crate::model::one_line_reason(&reason)),
            failure_detail: Some(crate::error_chain(error)),
        };
        store.finish_run(&session.id, session.run, &termination)?;
        Ok(())
    }

    /// Where a session's worktree goes and what its branch is called.
    pub(super) fn worktree_place(
        &self,
        repo: &Path,
        name: &str,
        id: &SessionId,
    ) -> (PathBuf, String) {
        let folder = format!("{}-{}", slug(name), id.short_tail());
        let path = self.settings.worktree_root(repo).join(&folder);
        (path, format!("lulu/{folder}"))
    }
}

/// The host channel and limits of a new session: the request's limits, else the profile's.
fn session_limits(
    profile: &crate::config::AgentProfile,
    max_cost_usd: Option<f64>,
    max_minutes: Option<f64>,
) -> Result<store::SessionLimits, SpawnError> {
    let check = |field: &'static str, value: Option<f64>| match value {
        Some(value) if !value.is_finite() || value <= 0.0 => {
            Err(SpawnError::BadLimit { field, value })
        }
        other => Ok(other),
    };
    Ok(store::SessionLimits {
        input: profile.input,
        approval_timeout: profile.approval_timeout,
        max_cost_usd: check("maxCostUsd", max_cost_usd)?.or(profile.max_cost_usd),
        max_minutes: check("maxMinutes", max_minutes)?.or(profile.max_minutes),
    })
}

/// Checks, before anything is created, that worktrees can be made in `root` (it is created if
/// missing, as the runner would): a folder that is a file, read-only, or on a file system like
/// `/proc` is refused now with its reason instead of failing the session later.
fn check_worktree_folder(root: &Path, id: &SessionId) -> Result<(), SpawnError> {
    let refused = |source| SpawnError::WorktreeFolder {
        path: root.to_owned(),
        source,
    };
    std::fs::create_dir_all(root).map_err(refused)?;
    if !root.is_dir() {
        return Err(refused(std::io::Error::from(
            std::io::ErrorKind::NotADirectory,
        )));
    }
    let probe = root.join(format!(".lulu-probe-{id}"));
    std::fs::create_dir(&probe).map_err(refused)?;
    match std::fs::remove_dir(&probe) {
        // `lulu gc` may have taken it for an empty orphan meanwhile: gone is what we want.
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(refused(error)),
        _ => Ok(()),
    }
}

/// A human name from a prompt: its first line, at most about 60 characters, cut at a word.
pub fn derive_name(prompt: &str) -> String {
    const MAX: usize = 60;
    let line = prompt
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("session");
    let line: String = line
        .chars()
        .map(|character| {
            if character.is_control() {
                ' '
            } else {
                character
            }
        })
        .collect();
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut name = String::new();
    for word in words {
        let extra = if name.is_empty() { 0 } else { 1 };
        if name.chars().count() + extra + word.chars().count() > MAX {
            if name.is_empty() {
                name = word.chars().take(MAX - 1).collect();
            }
            name.push('…');
            break;
        }
        if extra == 1 {
            name.push(' ');
        }
        name.push_str(word);
    }
    name
}

/// A branch- and folder-safe slug of a name: lowercase ASCII letters, digits and dashes.
pub fn slug(name: &str) -> String {
    const MAX: usize = 40;
    let mut slug = String::new();
    for character in name.chars() {
        if character.is_ascii_alphanumeric() {
            slug.push(character.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= MAX {
            break;
        }
    }
    let slug = slug.trim_matches('-').to_owned();
    if slug.is_empty() {
        "session".to_owned()
    } else {
        slug
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(prompt: &str, expected_name: &str, expected_slug: &str) {
        let name = derive_name(prompt);
        assert_eq!(name, expected_name);
        assert_eq!(slug(&name), expected_slug);
    }

    #[test]
    fn names_and_slugs() {
        check(
            "Add a --verbose flag to the CLI",
            "Add a --verbose flag to the CLI",
            "add-a-verbose-flag-to-the-cli",
        );
        check("\n  Fix   CI\nmore detail", "Fix CI", "fix-ci");
        check("ÜÖ 日本", "ÜÖ 日本", "session");
        check(
            "Refactor the store so that every write goes through one transaction helper and nothing else",
            "Refactor the store so that every write goes through one…",
            "refactor-the-store-so-that-every-write-g",
        );
    }
}
