//! Cancelling a session, and continuing an ended one with a new run.

use std::time::{Duration, Instant};

use crate::{
    config::find_program,
    model::{NewEvent, Session},
    process::{self, RunnerLaunch, RunnerLock},
    runner::cancelled_termination,
};

use super::*;

impl Sessions {
    /// Ends a starting or running session as failed/cancelled. Waits (a bounded time) for the
    /// runner to stop the agent, and returns the row as it then is. An ended session is
    /// returned unchanged.
    pub fn cancel(&self, id: &str) -> Result<Session, CancelError> {
        let (session, run) = {
            let mut store = self.store();
            let session = lookup(&store, id)?;
            if session.status.is_ended() {
                return Ok(session);
            }
            let Some(run) = store.request_cancel(&session.id)? else {
                return Ok(reload(&store, &session.id)?);
            };
            (session, run)
        };
        crate::wake::wake_runner(&self.settings.state_dir, &session.id);
        let alive =
            process::runner_alive(&self.settings.state_dir, &session.id).map_err(|source| {
                CancelError::Liveness {
                    id: session.id.clone(),
                    source,
                }
            })?;
        if !alive {
            // No runner, so no agent: settle it here.
            let mut store = self.store();
            store.finish_run(&session.id, run, &cancelled_termination(None, None))?;
            // Its place in the queue is free.
            if let Err(error) = crate::wake::wake_queued(&store, &self.settings.state_dir) {
                tracing::warn!(%error, "could not wake the queued runners");
            }
            return Ok(reload(&store, &session.id)?);
        }
        let deadline = Instant::now() + self.cancel_grace + Duration::from_secs(3);
        while Instant::now() < deadline {
            // The connection is taken for each look only: other requests go on meanwhile.
            let current = reload(&self.store(), &session.id)?;
            if current.status.is_ended() || current.run != run {
                return Ok(current);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Ok(reload(&self.store(), &session.id)?)
    }

    /// Starts a new run of an ended session in the same worktree, resuming the agent's
    /// conversation where the agent supports it.
    pub fn continue_session(&self, id: &str, prompt: String) -> Result<Session, ContinueError> {
        let prompt = prompt.trim().to_owned();
        let session = lookup(&self.store(), id)?;
        if prompt.is_empty() {
            return Err(ContinueError::EmptyPrompt);
        }
        if prompt.len() > PROMPT_MAX_BYTES {
            return Err(ContinueError::PromptTooLong {
                bytes: prompt.len(),
                limit: PROMPT_MAX_BYTES,
            });
        }
        if !session.status.is_ended() {
            return Err(ContinueError::Active {
                id: session.id.clone(),
                status: session.status.as_str(),
            });
        }
        let profile = self
            .profile(&session.agent)
            .ok_or_else(|| ContinueError::UnknownAgent {
                id: session.id.clone(),
                name: session.agent.clone(),
            })?;
        let program = &profile.command[0];
        if find_program(program, &profile.env).is_none() {
            return Err(ContinueError::AgentNotInstalled {
                name: session.agent.clone(),
                program: program.clone(),
            });
        }
        let mut command = profile.continue_argv(&prompt, session.agent_session_id.as_deref());
        command.extend(profile.budget_arguments(session.max_cost_usd));
        let lock = RunnerLock::acquire(&self.settings.state_dir, &session.id)?;
        let event = NewEvent::lulu("status", format!("continuing: {prompt}"));
        let mut store = self.store();
        let Some(run) = store.begin_next_run(
            &session.id,
            &prompt,
            &command,
            self.settings.max_running,
            &event,
        )?
        else {
            let current = reload(&store, &session.id)?;
            return Err(ContinueError::Active {
                id: current.id.clone(),
                status: current.status.as_str(),
            });
        };
        // The profile may have gained (or lost) the host channel since the last run.
        store.set_input_mode(&session.id, profile.input, profile.approval_timeout)?;
        let worktree = match &session.worktree_path {
            Some(_) => None,
            None => Some(self.worktree_place(&session.repo, &session.name, &session.id)),
        };
        let launch = RunnerLaunch {
            state_dir: self.settings.state_dir.clone(),
            id: session.id.clone(),
            run,
            worktree,
        };
        let current = reload(&store, &session.id)?;
        if let Err(error) = process::launch_runner(&launch, lock) {
            self.fail_unlaunched(&mut store, &current, &error)?;
            return Err(error.into());
        }
        Ok(current)
    }
}
