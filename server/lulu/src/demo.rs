//! `lulu demo`: the real machinery on a scratch repository, with no agent installed.
//!
//! Makes a small git repository (with gix) and a state dir in a fresh temporary folder,
//! spawns four sessions of a demo agent (a short shell script that really edits and commits
//! files in its worktree; one fails on purpose), draws the live list until all have ended,
//! then says where to look. It never touches the user's repositories or state dir.

use std::{
    collections::BTreeMap,
    io::{IsTerminal, Write},
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Context;
use chrono::Utc;

use lulu_core::{
    config::{AgentProfile, Settings, SettingsOverrides},
    model::{OutputFormat, Session, Status},
    sessions::{Sessions, SpawnRequest},
    store::ListQuery,
};

use crate::render::{self, ListStyle};

const DEMO_AGENT: &str = r#"#!/bin/sh
# The demo agent: reads its task, "thinks", edits files in its worktree and commits them.
task="$1"
echo "Reading the task: $task"
sleep 1
echo "Looking around: $(ls | tr '\n' ' ')"
sleep 1
case "$task" in
*impossible*)
    echo "This cannot be done: the requirement contradicts itself." >&2
    sleep 1
    exit 3 ;;
esac
slug=$(printf '%s' "$task" | tr 'A-Z ' 'a-z-' | tr -cd 'a-z0-9-' | cut -c1-40)
mkdir -p notes
printf '# %s\n\nDone by the demo agent in session %s.\n' "$task" "$LULU_SESSION_ID" > "notes/$slug.md"
echo "Wrote notes/$slug.md"
printf '\n%s\n' "- $task" >> TODO.md
echo "Updated TODO.md"
sleep 1
if command -v git >/dev/null 2>&1; then
    git add -A >/dev/null 2>&1
    git -c user.name="Lulu Demo Agent" -c user.email=demo@lulu.invalid commit -q -m "demo: $task" >/dev/null 2>&1 \
        && echo "Committed: demo: $task"
fi
sleep 1
echo "Done."
"#;

const TASKS: [&str; 4] = [
    "Write a README section about installation",
    "Add a TODO list for the next release",
    "Do the impossible refactor",
    "Document the configuration options",
];

pub fn run(out: &mut impl Write) -> anyhow::Result<()> {
    let root = scratch_folder()?;
    let repo = root.join("repo");
    let state_dir = root.join("state");
    create_scratch_repository(&repo).context("could not create the scratch repository")?;
    let sessions = demo_sessions(&root, &state_dir)?;
    writeln!(out, "Scratch repository: {}", repo.display())?;
    writeln!(out, "State dir:          {}", state_dir.display())?;
    writeln!(
        out,
        "Spawning {} sessions of the demo agent (at most 3 run at once):\n",
        TASKS.len()
    )?;
    for task in TASKS {
        sessions.spawn(SpawnRequest {
            prompt: task.to_owned(),
            name: None,
            agent: None,
            base_ref: None,
            repo: repo.clone(),
            max_cost_usd: None,
            max_minutes: None,
            trust_setup: false,
        })?;
    }
    draw_until_all_ended(&sessions, out)?;
    where_to_look(&sessions, &repo, &state_dir, out)
}

/// The sessions service of the demo's own state dir, with the demo agent as its default.
fn demo_sessions(root: &Path, state_dir: &Path) -> anyhow::Result<Sessions> {
    let agent_path = root.join("demo-agent.sh");
    write_executable(&agent_path, DEMO_AGENT)?;
    let mut agents = BTreeMap::new();
    agents.insert(
        "demo".to_owned(),
        AgentProfile::new(
            "demo",
            vec![
                agent_path.to_string_lossy().into_owned(),
                lulu_core::config::PROMPT_PLACEHOLDER.to_owned(),
            ],
            OutputFormat::Text,
            BTreeMap::new(),
        ),
    );
    let settings = Settings::resolve(SettingsOverrides {
        state_dir: Some(state_dir.to_owned()),
        worktree_dir: None,
        max_running: Some(3),
        default_agent: Some("demo".to_owned()),
        agents,
    })?;
    Ok(Sessions::new(settings)?)
}

fn every_session(sessions: &Sessions) -> anyhow::Result<Vec<Session>> {
    let page = sessions.list(&ListQuery {
        limit: 50,
        before: None,
        repos: None,
    })?;
    Ok(page.sessions)
}

/// The live list, redrawn in place on a terminal (printed once at the end otherwise).
fn draw_until_all_ended(sessions: &Sessions, out: &mut impl Write) -> anyhow::Result<()> {
    let color = std::io::stdout().is_terminal();
    let mut drawn_lines = 0;
    let mut frame = 0;
    loop {
        let rows = every_session(sessions)?;
        let table = render::session_table(&rows, Utc::now(), ListStyle { color, frame });
        if color && drawn_lines > 0 {
            write!(out, "\x1b[{drawn_lines}A\x1b[J")?;
        }
        let all_ended = rows.iter().all(|session| session.status.is_ended());
        if color || all_ended {
            write!(out, "{table}")?;
            drawn_lines = table.lines().count();
        }
        out.flush()?;
        if all_ended {
            return Ok(());
        }
        frame += 1;
        std::thread::sleep(Duration::from_millis(120));
    }
}

/// The commands to look closer, with real ids.
fn where_to_look(
    sessions: &Sessions,
    repo: &Path,
    state_dir: &Path,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let exe = std::env::current_exe()
        .map(|path| path.display().to_string())
        .unwrap_or_else(|_| "lulu".to_owned());
    let rows = every_session(sessions)?;
    let id_of = |status: Status| {
        rows.iter()
            .find(|session| session.status == status)
            .map(|session| session.id.to_string())
            .unwrap_or_else(|| "ID".to_owned())
    };
    let some_id = id_of(Status::Completed);
    let failed_id = id_of(Status::Failed);
    let home = format!("LULU_HOME={}", state_dir.display());
    writeln!(
        out,
        "\nAll sessions ended. Look closer (each worktree is a real git worktree):"
    )?;
    writeln!(out, "  {home} {exe} ls --all")?;
    writeln!(out, "  {home} {exe} diff {some_id}")?;
    writeln!(out, "  {home} {exe} logs {some_id}")?;
    writeln!(out, "  {home} {exe} show {failed_id}")?;
    writeln!(out, "  git -C {} worktree list", repo.display())?;
    Ok(())
}

fn scratch_folder() -> anyhow::Result<PathBuf> {
    let base = std::env::temp_dir();
    let stamp = Utc::now().format("%Y%m%d-%H%M%S");
    for attempt in 0..100 {
        let path = base.join(format!(
            "lulu-demo-{stamp}-{}-{attempt}",
            std::process::id()
        ));
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(error) => {
                return Err(error).with_context(|| format!("could not create {}", path.display()));
            }
        }
    }
    anyhow::bail!(
        "could not find a free scratch folder name in {}",
        base.display()
    )
}

fn write_executable(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).with_context(|| format!("could not write {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("could not make {} executable", path.display()))
}

/// A small repository with one commit, made with gix (lulu itself never runs `git`).
fn create_scratch_repository(path: &Path) -> anyhow::Result<()> {
    let files: [(&str, &str); 3] = [
        (
            "README.md",
            "# Demo project\n\nA scratch repository made by `lulu demo`.\n",
        ),
        ("TODO.md", "# TODO\n"),
        ("src/main.txt", "print('hello')\n"),
    ];
    let repository = gix::init(path)?;
    for (name, content) in files {
        let file = path.join(name);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&file, content)?;
    }
    let blob = |content: &str| -> anyhow::Result<gix::ObjectId> {
        Ok(repository.write_blob(content.as_bytes())?.detach())
    };
    use gix::objs::{Tree, tree::Entry, tree::EntryKind};
    let src_tree = Tree {
        entries: vec![Entry {
            mode: EntryKind::Blob.into(),
            filename: "main.txt".into(),
            oid: blob(files[2].1)?,
        }],
    };
    let src_id = repository.write_object(&src_tree)?.detach();
    let mut root = Tree {
        entries: vec![
            Entry {
                mode: EntryKind::Blob.into(),
                filename: "README.md".into(),
                oid: blob(files[0].1)?,
            },
            Entry {
                mode: EntryKind::Blob.into(),
                filename: "TODO.md".into(),
                oid: blob(files[1].1)?,
            },
            Entry {
                mode: EntryKind::Tree.into(),
                filename: "src".into(),
                oid: src_id,
            },
        ],
    };
    root.entries.sort();
    let tree_id = repository.write_object(&root)?.detach();
    let signature = gix::actor::Signature {
        name: "Lulu Demo".into(),
        email: "demo@lulu.invalid".into(),
        time: gix::date::Time::now_utc(),
    };
    let mut time_buffer = gix::date::parse::TimeBuf::default();
    let signature_ref = signature.to_ref(&mut time_buffer);
    repository.commit_as(
        signature_ref,
        signature_ref,
        "HEAD",
        "Initial commit",
        tree_id,
        gix::commit::NO_PARENT_IDS,
    )?;
    let mut index = repository.index_from_tree(&tree_id)?;
    index.write(Default::default())?;
    Ok(())
}
