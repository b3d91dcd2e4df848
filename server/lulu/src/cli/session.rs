//! The commands on sessions: spawn, ls, show, logs, cancel, continue, diff, rm.

use super::*;

pub(super) fn spawn(
    global: &GlobalOptions,
    args: SpawnArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let SpawnArgs {
        prompt,
        agent,
        base_ref,
        name,
        repo,
        json,
        max_cost_usd,
        max_minutes,
        trust_setup,
    } = args;
    let sessions = sessions(global)?;
    let repo = match repo {
        Some(repo) => repo,
        None => current_dir()?,
    };
    let session = sessions.spawn(SpawnRequest {
        prompt: prompt.join(" "),
        name,
        agent,
        base_ref,
        repo,
        max_cost_usd,
        max_minutes,
        trust_setup,
    })?;
    if json {
        write_json(&mut *out, &protocol::SessionRow::from(&session))?;
    } else {
        writeln!(out, "{}  {}", session.id, render::visible(&session.name))?;
    }

    Ok(())
}

pub(super) fn ls(global: &GlobalOptions, args: LsArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let LsArgs { json, all, limit } = args;
    let sessions = sessions_for_reading(global)?;
    reconcile_sessions(&sessions);
    let repos = if all {
        None
    } else {
        match sessions.repository_of(&current_dir()?) {
            Ok(repo) => Some(vec![repo]),
            Err(_) => None,
        }
    };
    let mut page = sessions.list(&ListQuery {
        limit: limit.clamp(1, 1000),
        before: None,
        repos,
    })?;
    if json {
        let rows: Vec<protocol::SessionRow> = page
            .sessions
            .iter()
            .map(protocol::SessionRow::from)
            .collect();
        write_json(&mut *out, &rows)?;
    } else {
        provision::mark_collected(&sessions, &mut page.sessions);
        let style = ListStyle {
            color: std::io::stdout().is_terminal(),
            frame: 0,
        };
        write!(
            out,
            "{}",
            render::session_table(&page.sessions, Utc::now(), style)
        )?;
    }

    Ok(())
}

pub(super) fn show(
    global: &GlobalOptions,
    args: ShowArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let ShowArgs { id, json } = args;
    let sessions = sessions_for_reading(global)?;
    reconcile_sessions(&sessions);
    provision::show(&sessions, &id, json, out)?;

    Ok(())
}

pub(super) fn logs(
    global: &GlobalOptions,
    args: LogsArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let LogsArgs { id, follow, json } = args;
    let sessions = sessions_for_reading(global)?;
    reconcile_sessions(&sessions);
    let session = sessions.session(&id)?;
    let mut after = 0;
    loop {
        let transcript = sessions.transcript(session.id.as_str(), after, 1000)?;
        for event in &transcript.events {
            if json {
                serde_json::to_writer(&mut *out, &protocol::TranscriptEvent::from(event))?;
                writeln!(out)?;
            } else {
                write!(out, "{}", render::transcript_event(event))?;
            }
            after = event.seq;
        }
        out.flush()?;
        if !transcript.events.is_empty() {
            continue;
        }
        if !follow {
            break;
        }
        let current = sessions.session(session.id.as_str())?;
        if current.status.is_ended() && after >= current.last_seq {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        reconcile_sessions(&sessions);
    }

    Ok(())
}

pub(super) fn cancel(
    global: &GlobalOptions,
    args: IdArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let IdArgs { id } = args;
    let sessions = sessions(global)?;
    let session = sessions.cancel(&id)?;
    let reason = session
        .failure_reason
        .as_deref()
        .map(|reason| format!(" ({})", render::visible(reason)))
        .unwrap_or_default();
    writeln!(out, "{}  {}{reason}", session.id, session.status.as_str())?;

    Ok(())
}

pub(super) fn continue_session(
    global: &GlobalOptions,
    args: ContinueArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let ContinueArgs { id, prompt } = args;
    let sessions = sessions(global)?;
    let session = sessions.continue_session(&id, prompt.join(" "))?;
    writeln!(
        out,
        "{}  {}  (run {})",
        session.id,
        render::visible(&session.name),
        session.run
    )?;

    Ok(())
}

pub(super) fn diff(
    global: &GlobalOptions,
    args: DiffArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let DiffArgs { id, json } = args;
    let sessions = sessions(global)?;
    let diff = sessions.diff(&id)?;
    if json {
        write_json(&mut *out, &protocol::DiffResult::from(&diff))?;
    } else {
        writeln!(out, "base {}", diff.base_commit)?;
        if diff.files.is_empty() {
            writeln!(out, "no changes")?;
        }
        for file in &diff.files {
            let path = match &file.old_path {
                Some(old) => format!("{} → {}", render::visible(old), render::visible(&file.path)),
                None => render::visible(&file.path),
            };
            writeln!(
                out,
                "{:<8} {:>6} {:>6}  {path}",
                protocol::change_status_name(file.status),
                format!("+{}", file.additions),
                format!("-{}", file.deletions),
            )?;
        }
    }

    Ok(())
}

pub(super) fn rm(global: &GlobalOptions, args: RmArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let RmArgs {
        id,
        force,
        delete_branch,
    } = args;
    let sessions = sessions(global)?;
    let session = sessions.session(&id)?;
    sessions.remove(
        session.id.as_str(),
        RemoveOptions {
            force,
            delete_branch,
        },
    )?;
    writeln!(
        out,
        "removed {}  {}",
        session.id,
        render::visible(&session.name)
    )?;

    Ok(())
}
