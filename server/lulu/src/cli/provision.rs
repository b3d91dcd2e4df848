//! `lulu trust`, `lulu gc --older-than`, and what provisioning adds to `show` and `ls` (issue 14).

use std::io::BufRead;

use lulu_core::{
    model::Session,
    sessions::{GcOptions, ProvisionState, parse_age},
};

use super::*;

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Remove the worktrees of sessions ended at least this long ago (7d, 12h, 30m) that hold
    /// nothing that is not in a commit (no uncommitted change, no untracked file, no ignored
    /// file the main checkout lacks); their branches and rows are kept.
    #[arg(long, value_name = "AGE")]
    pub older_than: Option<String>,
    /// With --older-than: only say what would be removed.
    #[arg(long, requires = "older_than")]
    pub dry_run: bool,
    /// With --older-than: also remove ignored files in no commit (build output, node_modules,
    /// an edited .env) instead of keeping their worktree.
    #[arg(long, requires = "older_than")]
    pub include_ignored: bool,
}

#[derive(Debug, Args)]
pub struct TrustArgs {
    /// Any path inside the repository (default: the current directory).
    pub repo: Option<PathBuf>,
    /// Trust it without asking (needed without a terminal).
    #[arg(long)]
    pub yes: bool,
}

/// `lulu gc [--older-than AGE [--dry-run]]`: reconciliation, then the old clean worktrees.
pub(super) fn gc(global: &GlobalOptions, args: GcArgs, out: &mut impl Write) -> anyhow::Result<()> {
    super::upkeep::gc(global, &mut *out)?;
    let Some(older_than) = args.older_than else {
        return Ok(());
    };
    let sessions = sessions(global)?;
    let older_than =
        parse_age(&older_than).map_err(|problem| anyhow::anyhow!("--older-than: {problem}"))?;
    let options = GcOptions {
        older_than,
        dry_run: args.dry_run,
        include_ignored: args.include_ignored,
    };
    gc_worktrees(&sessions, options, out)
}

/// `lulu trust [REPO] [--yes]`: shows the setup command and asks.
pub(super) fn trust(
    global: &GlobalOptions,
    args: TrustArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let sessions = sessions(global)?;
    let repo = match args.repo {
        Some(repo) => repo,
        None => current_dir()?,
    };
    let yes = args.yes;
    let info = sessions.setup_info(&repo)?;
    let (Some(setup), Some(hash)) = (&info.setup, &info.setup_hash) else {
        writeln!(
            out,
            "{} has no setup command (no `setup` in its lulu.toml); nothing to trust",
            info.repo.display()
        )?;
        return Ok(());
    };
    writeln!(out, "repository: {}", info.repo.display())?;
    writeln!(
        out,
        "setup command (runs with `sh -c` in each new worktree):"
    )?;
    for line in setup.lines() {
        writeln!(out, "    {line}")?;
    }
    writeln!(out, "hash: {hash}")?;
    if info.trusted {
        writeln!(out, "already trusted")?;
        return Ok(());
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "not trusting the setup command of {} without a terminal to ask on; run `lulu trust --yes` to trust it as shown",
                info.repo.display()
            );
        }
        write!(out, "Trust this command for this repository? [y/N] ")?;
        out.flush()?;
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .context("could not read the answer")?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            writeln!(out, "not trusted")?;
            return Ok(());
        }
    }
    sessions.trust_setup(&info.repo, hash)?;
    writeln!(out, "trusted")?;
    Ok(())
}

/// `lulu gc --older-than AGE [--dry-run] [--include-ignored]`: the worktrees of old ended
/// sessions that hold nothing that is not in a commit.
fn gc_worktrees(
    sessions: &Sessions,
    options: GcOptions,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let report = sessions.gc_worktrees(options)?;
    let verb = if options.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for (id, path) in &report.removed {
        writeln!(
            out,
            "{verb} worktree {}  ({id}; branch kept, `lulu continue` re-creates it)",
            path.display()
        )?;
    }
    for kept in &report.kept {
        let hint = match kept.ignored_files {
            0 => "",
            1 => "; --include-ignored removes it",
            _ => "; --include-ignored removes them",
        };
        writeln!(out, "kept    {}  ({}{hint})", kept.id, kept.reason)?;
    }
    if report.removed.is_empty() && report.kept.is_empty() {
        writeln!(out, "no ended session's worktree is that old")?;
    }
    Ok(())
}

/// `lulu show`'s session and what provisioning knows about it.
pub(super) fn show(
    sessions: &Sessions,
    id: &str,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let session = sessions.session(id)?;
    let state = sessions.provision_state(&session.id)?;
    if json {
        let mut detail = protocol::session_detail(&session, &state);
        detail.branches = protocol::BranchDetail::from(&sessions.branch_status(&session)?);
        detail.pending_approvals = sessions
            .approvals(Some(session.id.as_str()))?
            .iter()
            .map(protocol::Approval::from)
            .collect();
        detail.runs = Some(
            sessions
                .runs(session.id.as_str())?
                .iter()
                .map(protocol::RunSummary::from)
                .collect(),
        );
        serde_json::to_writer_pretty(&mut *out, &detail)?;
        writeln!(out)?;
        return Ok(());
    }
    let text = crate::render::session_detail(&session, Utc::now());
    let text = super::land::detail_with_branches(&text, sessions, session.id.as_str());
    write!(out, "{}", with_provision(&text, &session, &state))?;
    let runs = sessions.runs(session.id.as_str())?;
    write!(out, "{}", crate::render::run_history(&runs, Utc::now()))?;
    Ok(())
}

/// Adds the ports line and marks a worktree gc removed, after the worktree line.
fn with_provision(text: &str, session: &Session, state: &ProvisionState) -> String {
    let mut result = String::new();
    for line in text.lines() {
        if line.starts_with("worktree:") && state.worktree_gone {
            let path = session
                .worktree_path
                .as_ref()
                .map(|path| path.display().to_string())
                .unwrap_or_default();
            result.push_str(&format!(
                "worktree:     {path} (removed by gc; `lulu continue` re-creates it from the branch)\n"
            ));
        } else {
            result.push_str(line);
            result.push('\n');
        }
        if line.starts_with("worktree:") {
            let ports = if state.ports.is_empty() {
                "-".to_owned()
            } else {
                state
                    .ports
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            result.push_str(&format!("ports:        {ports}\n"));
        }
    }
    result
}

/// `lulu ls`: names of sessions whose worktree gc removed say so.
pub(super) fn mark_collected(sessions: &Sessions, rows: &mut [Session]) {
    let Ok(collected) = sessions.collected_worktrees() else {
        return;
    };
    for row in rows.iter_mut() {
        if collected.contains(&row.id) {
            row.name.push_str(" (worktree removed)");
        }
    }
}
