//! `lulu approvals`, `lulu approve`, `lulu send` (issue 12).

use std::io::Write;

use lulu_core::sessions::{ApprovalAnswer, Sessions};
use lulu_lsp::protocol;

use super::write_json;

/// `lulu approvals [ID] [--json]`: pending permission requests, oldest first.
pub(super) fn list(
    sessions: &Sessions,
    id: Option<&str>,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let approvals = sessions.approvals(id)?;
    if json {
        let wire: Vec<protocol::Approval> =
            approvals.iter().map(protocol::Approval::from).collect();
        return write_json(out, &protocol::ApprovalsResult { approvals: wire });
    }
    if approvals.is_empty() {
        writeln!(out, "no pending approvals")?;
        return Ok(());
    }
    for approval in &approvals {
        let session_name = sessions
            .session(approval.session_id.as_str())
            .map(|session| session.name)
            .unwrap_or_default();
        writeln!(
            out,
            "{}  {}  {}  ({session_name})",
            approval.id,
            approval.requested_at.format("%H:%M:%S"),
            approval.summary
        )?;
    }
    Ok(())
}

/// `lulu approve APPROVAL_ID [--deny] [-m MESSAGE]`.
pub(super) fn approve(
    sessions: &Sessions,
    answer: ApprovalAnswer,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let allow = answer.allow;
    let approval = sessions.approve(answer)?;
    writeln!(
        out,
        "{} {}",
        if allow { "allowed" } else { "denied" },
        approval.summary
    )?;
    Ok(())
}

/// `lulu send ID TEXT...`.
pub(super) fn send(
    sessions: &Sessions,
    id: &str,
    text: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    sessions.send(id, text)?;
    writeln!(out, "sent")?;
    Ok(())
}
