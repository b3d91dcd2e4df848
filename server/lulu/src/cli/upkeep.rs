//! Keeping house: `gc` (reconciliation) and `agents` (the profiles and their programs).

use super::*;

pub(super) fn gc(global: &GlobalOptions, out: &mut impl Write) -> anyhow::Result<()> {
    let sessions = sessions(global)?;
    let report = sessions.reconcile(ReconcileOptions {
        sessions_only: false,
        remove_clean_orphans: true,
    })?;
    for id in &report.interrupted {
        writeln!(out, "interrupted  {id}  (its runner was gone)")?;
    }
    for path in &report.pruned {
        writeln!(
            out,
            "pruned       {}  (stale worktree metadata)",
            path.display()
        )?;
    }
    for path in &report.removed_orphans {
        writeln!(
            out,
            "removed      {}  (clean orphan worktree)",
            path.display()
        )?;
    }
    for orphan in &report.orphans {
        if report.removed_orphans.contains(&orphan.path) {
            continue;
        }
        let why = if orphan.registered {
            "orphan worktree with uncommitted work; kept"
        } else {
            "folder no session owns; kept"
        };
        writeln!(out, "orphan       {}  ({why})", orphan.path.display())?;
    }
    for problem in &report.problems {
        writeln!(out, "problem      {problem}")?;
    }
    if report.interrupted.is_empty()
        && report.pruned.is_empty()
        && report.orphans.is_empty()
        && report.problems.is_empty()
    {
        writeln!(out, "nothing to reconcile")?;
    }

    Ok(())
}

pub(super) fn agents(global: &GlobalOptions, out: &mut impl Write) -> anyhow::Result<()> {
    let sessions = sessions_for_reading(global)?;
    let default = &sessions.settings().default_agent;
    for agent in sessions.agents() {
        writeln!(
            out,
            "{}{:<10} {:<20} {:<14} {:<16} {}",
            if &agent.name == default { "* " } else { "  " },
            agent.name,
            agent.format,
            if agent.available {
                "available"
            } else {
                "not on PATH"
            },
            if agent.input == "stream-json" {
                "approvals, send"
            } else {
                "no approvals"
            },
            lulu_core::runner::shell_words(&agent.command)
        )?;
    }

    Ok(())
}
