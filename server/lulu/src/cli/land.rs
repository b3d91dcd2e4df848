//! `lulu land`, `lulu sync`, `lulu push`, and the branch lines of `lulu show`.

use std::io::Write;

use anyhow::bail;
use clap::{Args, ValueEnum};

use lulu_core::{
    sessions::{
        BranchStatus, LandOptions, PullRequest, PushOptions, Sessions, SyncOptions, SyncResultKind,
    },
    worktree::LandStrategy,
};
use lulu_lsp::protocol;

use super::{GlobalOptions, sessions, write_json};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StrategyArg {
    Squash,
    Rebase,
    Merge,
}

impl From<StrategyArg> for LandStrategy {
    fn from(strategy: StrategyArg) -> Self {
        match strategy {
            StrategyArg::Squash => LandStrategy::Squash,
            StrategyArg::Rebase => LandStrategy::Rebase,
            StrategyArg::Merge => LandStrategy::Merge,
        }
    }
}

#[derive(Debug, Args)]
pub struct LandArgs {
    id: String,
    /// How the session's commits arrive: one squashed commit, its commits replayed, or a merge commit.
    #[arg(long, value_enum, default_value = "squash")]
    strategy: StrategyArg,
    /// The branch to land into (default: the branch the session started from).
    #[arg(long, value_name = "BRANCH")]
    into: Option<String>,
    /// The commit message (squash and merge; default: the session's name and prompt).
    #[arg(long, short)]
    message: Option<String>,
    /// Print the result as JSON (lulu/land's result).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    id: String,
    /// Leave conflicts in the worktree for you; do not hand them to the agent.
    #[arg(long)]
    no_agent: bool,
    /// Print the result as JSON (lulu/sync's result).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    id: String,
    /// The remote to push to.
    #[arg(long, default_value = "origin")]
    remote: String,
    /// Open a pull request with `gh` after pushing.
    #[arg(long)]
    pr: bool,
    /// Open the pull request as a draft.
    #[arg(long, requires = "pr")]
    draft: bool,
    /// The pull request's title (default: the session's name).
    #[arg(long, requires = "pr")]
    title: Option<String>,
    /// Print the result as JSON (lulu/push's result).
    #[arg(long)]
    json: bool,
}

pub fn land(global: &GlobalOptions, args: LandArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let sessions = sessions(global)?;
    let result = sessions.land(
        &args.id,
        LandOptions {
            strategy: args.strategy.into(),
            into: args.into,
            message: args.message,
        },
    )?;
    if args.json {
        return write_json(out, &protocol::LandResult::from(&result));
    }
    writeln!(
        out,
        "landed into {} ({}, {} file{}): {}",
        result.into,
        result.strategy.as_str(),
        result.files,
        if result.files == 1 { "" } else { "s" },
        result.commit
    )?;
    Ok(())
}

pub fn sync(global: &GlobalOptions, args: SyncArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let sessions = sessions(global)?;
    let result = sessions.sync(
        &args.id,
        SyncOptions {
            agent_resolves: !args.no_agent,
        },
    )?;
    if args.json {
        return write_json(out, &protocol::SyncResult::from(&result));
    }
    match result.result {
        SyncResultKind::UpToDate => writeln!(out, "up to date")?,
        SyncResultKind::Synced => writeln!(out, "synced ({} files changed)", result.files.len())?,
        SyncResultKind::Conflicts => {
            writeln!(out, "conflicts in:")?;
            for file in &result.files {
                writeln!(out, "  {file}")?;
            }
            if args.no_agent {
                writeln!(
                    out,
                    "resolve them in the worktree, then `git add` and `git commit` there"
                )?;
            } else {
                writeln!(
                    out,
                    "the agent is resolving them ({})",
                    result.session.status.as_str()
                )?;
            }
        }
    }
    Ok(())
}

pub fn push(global: &GlobalOptions, args: PushArgs, out: &mut impl Write) -> anyhow::Result<()> {
    if args.remote.trim().is_empty() {
        bail!("--remote is empty");
    }
    let sessions = sessions(global)?;
    let pushed = sessions.push(
        &args.id,
        PushOptions {
            remote: Some(args.remote),
            pull_request: args.pr.then_some(PullRequest {
                title: args.title,
                body: None,
                draft: args.draft,
            }),
        },
    )?;
    if args.json {
        return write_json(out, &protocol::PushResult::from(&pushed));
    }
    writeln!(out, "pushed {} to {}", pushed.branch, pushed.remote)?;
    if let Some(url) = &pushed.url {
        writeln!(out, "pull request: {url}")?;
    }
    Ok(())
}

/// The branch lines of `lulu show`: base branch, ahead/behind, landed.
fn branch_lines(status: &BranchStatus) -> String {
    let count = |value: Option<usize>| value.map_or_else(|| "?".to_owned(), |n| n.to_string());
    let mut text = format!(
        "base branch:  {}\n",
        status.base_branch.as_deref().unwrap_or("- (detached)")
    );
    if status.base_branch.is_some() {
        text.push_str(&format!(
            "ahead/behind: {} ahead, {} behind\n",
            count(status.ahead),
            count(status.behind)
        ));
    }
    match &status.landed {
        Some(landed) => text.push_str(&format!(
            "landed:       into {} ({}) as {} at {}\n",
            landed.into,
            landed.strategy,
            landed.commit,
            lulu_core::store::format_time(landed.at)
        )),
        None => text.push_str("landed:       no\n"),
    }
    text
}

/// `lulu show`'s text with the branch lines after the `base:` line.
pub(super) fn detail_with_branches(detail: &str, sessions: &Sessions, id: &str) -> String {
    let Ok(session) = sessions.session(id) else {
        return detail.to_owned();
    };
    let lines = match sessions.branch_status(&session) {
        Ok(status) => branch_lines(&status),
        Err(_) => return detail.to_owned(),
    };
    match detail.find("\nbase:") {
        Some(start) => {
            let end = detail[start + 1..]
                .find('\n')
                .map_or(detail.len(), |offset| start + 1 + offset + 1);
            format!("{}{lines}{}", &detail[..end], &detail[end..])
        }
        None => format!("{detail}{lines}"),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use lulu_core::store::Landing;

    use super::*;

    fn check(status: BranchStatus, expected: &str) {
        assert_eq!(branch_lines(&status), expected);
    }

    #[test]
    fn branch_lines_read_well() {
        check(
            BranchStatus::default(),
            "base branch:  - (detached)\nlanded:       no\n",
        );
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z")
            .expect("time")
            .with_timezone(&Utc);
        check(
            BranchStatus {
                base_branch: Some("main".to_owned()),
                ahead: Some(3),
                behind: None,
                landed: Some(Landing {
                    into: "main".to_owned(),
                    commit: "abc".to_owned(),
                    strategy: "merge".to_owned(),
                    at,
                    source_commit: "def".to_owned(),
                }),
            },
            "base branch:  main\nahead/behind: 3 ahead, ? behind\nlanded:       into main (merge) as abc at 2026-01-02T03:04:05.678Z\n",
        );
    }
}
