//! Talking to a running agent (issue 12): its pending permission requests, answering them, and
//! messages for it.

use crate::{
    model::{InputMode, Session, SessionId, Status},
    store::{Approval, ResolvedBy, StoreError},
};

use super::*;

/// The longest message `lulu/send` takes, in bytes.
pub const MESSAGE_MAX_BYTES: usize = 128 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ApprovalsError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApprovalsError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ApprovalsError::Lookup(error) => error.kind(),
            ApprovalsError::Store(_) => ErrorKind::Internal,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApproveError {
    #[error("no pending approval with id {0:?} (it was answered, timed out, or its session ended)")]
    NotPending(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApproveError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ApproveError::NotPending(_) => ErrorKind::NoSuchSession,
            ApproveError::Store(_) => ErrorKind::Internal,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("the message is empty")]
    EmptyMessage,
    #[error("the message is {0} bytes long; the limit is {MESSAGE_MAX_BYTES} bytes")]
    TooLong(usize),
    #[error("session {id} is {status}, not running; only a running agent takes messages")]
    NotRunning { id: SessionId, status: &'static str },
    #[error(
        "the agent {agent:?} of session {id} cannot take messages while it runs (only a profile with \"input\": \"stream-json\" can)"
    )]
    CannotTake { id: SessionId, agent: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SendError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            SendError::Lookup(error) => error.kind(),
            SendError::EmptyMessage | SendError::TooLong(_) => ErrorKind::InvalidInput,
            SendError::NotRunning { .. } => ErrorKind::NotRunning,
            SendError::CannotTake { .. } => ErrorKind::AgentCannotTake,
            SendError::Store(_) => ErrorKind::Internal,
        }
    }
}

/// An answer to a permission request.
#[derive(Debug, Clone)]
pub struct ApprovalAnswer {
    pub approval_id: String,
    pub allow: bool,
    /// Words for the agent (with a denial, they tell it why).
    pub message: Option<String>,
}

impl Sessions {
    /// Pending approvals, oldest first: of one session (id or unique prefix), or of all.
    pub fn approvals(&self, id: Option<&str>) -> Result<Vec<Approval>, ApprovalsError> {
        let store = self.store();
        match id {
            Some(id) => {
                let session = lookup(&store, id)?;
                Ok(store.pending_approvals(Some(&session.id))?)
            }
            None => Ok(store.pending_approvals(None)?),
        }
    }

    /// Answers a pending approval; the session's runner, woken, passes the answer to the agent.
    pub fn approve(&self, answer: ApprovalAnswer) -> Result<Approval, ApproveError> {
        let message = answer
            .message
            .as_deref()
            .map(str::trim)
            .filter(|message| !message.is_empty());
        let approval = self
            .store()
            .answer_approval(&answer.approval_id, answer.allow, ResolvedBy::User, message)?
            .ok_or(ApproveError::NotPending(answer.approval_id))?;
        crate::wake::wake_runner(&self.settings.state_dir, &approval.session_id);
        Ok(approval)
    }

    /// Queues a message for a running agent; its runner writes it to the agent, which takes it
    /// after what it is doing now. Messages keep their order.
    pub fn send(&self, id: &str, text: &str) -> Result<(), SendError> {
        if text.trim().is_empty() {
            return Err(SendError::EmptyMessage);
        }
        if text.len() > MESSAGE_MAX_BYTES {
            return Err(SendError::TooLong(text.len()));
        }
        let session = {
            let mut store = self.store();
            let session = lookup(&store, id)?;
            check_takes_messages(&session)?;
            store.queue_message(&session.id, session.run, text)?;
            session
        };
        // The committed row is there for the runner to read once woken.
        crate::wake::wake_runner(&self.settings.state_dir, &session.id);
        Ok(())
    }
}

/// Only a running stream-json agent takes messages.
fn check_takes_messages(session: &Session) -> Result<(), SendError> {
    if session.input != InputMode::StreamJson {
        return Err(SendError::CannotTake {
            id: session.id.clone(),
            agent: session.agent.clone(),
        });
    }
    if session.status != Status::Running {
        return Err(SendError::NotRunning {
            id: session.id.clone(),
            status: session.status.as_str(),
        });
    }
    Ok(())
}
