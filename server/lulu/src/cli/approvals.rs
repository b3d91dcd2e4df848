//! `lulu approvals`, `lulu approve`, `lulu send` (issue 12).

use lulu_core::sessions::ApprovalAnswer;

use super::*;

/// `lulu approvals [ID] [--json]`: pending permission requests, oldest first.
pub(super) fn list(
    global: &GlobalOptions,
    args: ApprovalsArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let sessions = sessions(global)?;
    reconcile_sessions(&sessions);
    let approvals = sessions.approvals(args.id.as_deref())?;
    if args.json {
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
    global: &GlobalOptions,
    args: ApproveArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let sessions = sessions(global)?;
    let allow = !args.deny;
    let approval = sessions.approve(ApprovalAnswer {
        approval_id: args.approval_id,
        allow,
        message: args.message,
    })?;
    let verb = if allow { "allowed" } else { "denied" };
    writeln!(out, "{verb} {}", approval.summary)?;
    Ok(())
}

/// `lulu send ID TEXT...`.
pub(super) fn send(
    global: &GlobalOptions,
    args: SendArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let sessions = sessions(global)?;
    sessions.send(&args.id, &args.text.join(" "))?;
    writeln!(out, "sent")?;
    Ok(())
}
