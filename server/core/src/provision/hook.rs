//! The runner's provisioning steps, between "worktree created" and "agent started":
//! re-creating a worktree gc reclaimed, leasing ports, copying includes, running the setup.

use std::{path::Path, time::Duration};

use anyhow::Context;

use crate::{
    model::{NewEvent, Outcome, Session},
    store::{Store, Termination},
    worktree,
};

use super::{
    include::{CopyIncludes, copy_includes},
    ports::{lease_ports, port_env},
    setup::{RunSetup, SetupEnd, run_setup},
};

/// Before the runner looks for the worktree: a worktree gc removed is re-created from the
/// session's branch (which gc keeps). Ok(true) when it re-created one, so it is provisioned
/// again like a new worktree.
pub fn restore_collected_worktree(
    store: &mut Store,
    session: &Session,
) -> anyhow::Result<Result<bool, Termination>> {
    let (Some(path), Some(branch)) = (&session.worktree_path, &session.branch) else {
        return Ok(Ok(false));
    };
    if !store.worktree_collected(&session.id)? {
        return Ok(Ok(false));
    }
    store.append_events(
        &session.id,
        &[NewEvent::lulu(
            "status",
            format!(
                "re-creating worktree {} from branch {branch} (gc had removed it)",
                path.display()
            ),
        )],
    )?;
    if let Err(error) = worktree::restore_worktree(&session.repo, path, branch) {
        let reason = format!(
            "could not re-create the worktree: {}",
            crate::innermost_cause(&error)
        );
        return Ok(Err(Termination::failed(
            Outcome::WorktreeFailed,
            None,
            None,
            &reason,
            crate::error_chain(&error),
        )));
    }
    store.clear_worktree_collected(&session.id)?;
    Ok(Ok(true))
}

/// What the runner hands to [`provision_worktree`].
pub struct ProvisionWorktree<'a> {
    pub worktree: &'a Path,
    pub run: i64,
    /// The worktree was made by this run (first run, or re-created): copy includes and run the
    /// setup. Ports are leased on every run.
    pub fresh: bool,
    pub cancel_grace: Duration,
}

/// Ports (into `session.env`, so the agent gets them too), includes, setup. Some(end) when
/// the run must end here (setup failed or cancelled).
pub fn provision_worktree(
    store: &mut Store,
    session: &mut Session,
    request: &ProvisionWorktree<'_>,
) -> anyhow::Result<Option<Termination>> {
    let Some(provisioning) = store.provision(&session.id)? else {
        return Ok(None);
    };
    if provisioning.ports > 0
        && let Some(end) = lease(store, session, request.run, provisioning.ports)?
    {
        return Ok(Some(end));
    }
    if !request.fresh {
        return Ok(None);
    }
    if !provisioning.include.is_empty()
        && let Some(end) = include(store, session, request.worktree, &provisioning.include)?
    {
        return Ok(Some(end));
    }
    match &provisioning.setup {
        Some(setup) => setup_command(store, session, request, setup),
        None => Ok(None),
    }
}

fn lease(
    store: &mut Store,
    session: &mut Session,
    run: i64,
    count: u32,
) -> anyhow::Result<Option<Termination>> {
    match lease_ports(store, &session.id, run, count) {
        Ok(ports) => {
            let env = port_env(&ports);
            let text = format!("leased ports {}", env[1].1.replace(',', ", "));
            store.append_events(&session.id, &[NewEvent::lulu("status", text)])?;
            session.env.extend(env);
            Ok(None)
        }
        Err(super::ports::LeaseError::Store(error)) => Err(error.into()),
        Err(error) => {
            let reason = format!("setup failed: {error}");
            Ok(Some(Termination::failed(
                Outcome::SetupFailed,
                None,
                None,
                &reason,
                reason.clone(),
            )))
        }
    }
}

fn include(
    store: &mut Store,
    session: &Session,
    worktree: &Path,
    patterns: &[String],
) -> anyhow::Result<Option<Termination>> {
    let skip: Vec<_> = worktree.parent().map(Path::to_owned).into_iter().collect();
    let started = std::time::Instant::now();
    let copied = copy_includes(&CopyIncludes {
        repo: &session.repo,
        worktree,
        patterns,
        skip: &skip,
    });
    tracing::debug!(id = %session.id, elapsed = ?started.elapsed(), "copied the included files");
    match copied {
        Ok(report) => {
            store.append_events(
                &session.id,
                &[NewEvent::lulu("status", include_summary(&report))],
            )?;
            Ok(None)
        }
        Err(error) => {
            let reason = format!(
                "setup failed: could not copy the included files: {}",
                crate::innermost_cause(&error)
            );
            Ok(Some(Termination::failed(
                Outcome::SetupFailed,
                None,
                None,
                &reason,
                crate::error_chain(&error),
            )))
        }
    }
}

fn setup_command(
    store: &mut Store,
    session: &Session,
    request: &ProvisionWorktree<'_>,
    setup: &str,
) -> anyhow::Result<Option<Termination>> {
    let id = &session.id;
    store.append_events(
        id,
        &[NewEvent::lulu("status", format!("running setup: {setup}"))],
    )?;
    let end = run_setup(
        store,
        &RunSetup {
            id,
            run: request.run,
            setup,
            worktree: request.worktree,
            env: &session.env,
            cancel_grace: request.cancel_grace,
        },
    )
    .context("running the setup command")?;
    Ok(match end {
        SetupEnd::Succeeded => {
            store.append_events(id, &[NewEvent::lulu("status", "setup finished")])?;
            None
        }
        SetupEnd::Cancelled { exit_code, signal } => {
            Some(crate::runner::cancelled_termination(exit_code, signal))
        }
        SetupEnd::Failed {
            reason,
            detail,
            exit_code,
            signal,
        } => Some(Termination::failed(
            Outcome::SetupFailed,
            exit_code,
            signal,
            &reason,
            detail,
        )),
    })
}

fn include_summary(report: &super::include::IncludeReport) -> String {
    const SHOWN: usize = 10;
    let count = report.copied.len();
    let mut text = match count {
        0 => "copied no ignored files from the main checkout (nothing matched)".to_owned(),
        1 => format!(
            "copied 1 ignored file from the main checkout: {}",
            report.copied[0]
        ),
        _ => format!(
            "copied {count} ignored files ({} bytes) from the main checkout: {}{}",
            report.bytes,
            report.copied[..count.min(SHOWN)].join(", "),
            if count > SHOWN { ", …" } else { "" }
        ),
    };
    if !report.kept.is_empty() {
        text.push_str(&format!(
            "; left alone (tracked or already there): {}",
            report.kept.join(", ")
        ));
    }
    text
}

/// After the run ended: its ports go back.
pub fn release_ports(store: &mut Store, session: &Session) {
    if let Err(error) = store.release_ports(&session.id) {
        tracing::warn!(id = %session.id, %error, "could not release the session's ports; reconciliation will");
    }
}
