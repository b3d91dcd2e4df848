//! Benchmark: landing a session that changed 50 files of a 5,000-file repository with lulu
//! (`lulu_core::worktree::land`, squash, into the checked-out `main`) versus `git merge --squash`
//! plus `git commit` in a scratch clone, side by side.
//!
//! Both land the same branch into a `main` checked out in a worktree of the same 5,000 files, so
//! both read the checkout's status, merge, write 50 files and the index, and make a commit.
//! Two scenarios: `main` did not move since the session started (no three-way merge needed), and
//! `main` moved by one commit elsewhere (a real three-way merge). Before every round, untimed, each
//! checkout is reset to the same commit with `git reset --hard`.
//!
//! Run: `cargo bench -p lulu --bench land`. Knobs: `LULU_BENCH_FILES` (5000), `LULU_BENCH_CHANGED`
//! (50), `LULU_BENCH_ROUNDS` (10), `LULU_BENCH_DIR` (where the repositories go). Target: lulu at
//! most 1.0 of git's time.

// The integration tests' support: the fixture repositories (make-repo.sh), nothing else.
#[allow(dead_code)]
#[path = "../tests/it/support.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const TARGET_RATIO: f64 = 1.0;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Lulu Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@lulu.invalid")
        .env("GIT_COMMITTER_NAME", "Lulu Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@lulu.invalid")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .output()
        .expect("run git");
    assert!(
        output.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    let mid = samples.len() / 2;
    if samples.len().is_multiple_of(2) {
        (samples[mid - 1] + samples[mid]) / 2
    } else {
        samples[mid]
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The fixture, a session branch `session` that changed `changed` files, and, when `moved`, one
/// more commit on `main` in another file. Returns (temp dir, repo, the commit `main` starts at).
fn prepare(
    files: usize,
    changed: usize,
    moved: bool,
) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let temp = match std::env::var_os("LULU_BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("temp dir");
    let repo = temp.path().join("repo");
    let repo = support::make_repo(&repo, &format!("files:{files}"));
    let session = temp.path().join("session");
    git(
        &repo,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "session",
            session.to_str().expect("utf-8"),
            "main",
        ],
    );
    let tracked = git(&session, &["ls-files"]);
    let step = (files / changed.max(1)).max(1);
    for (n, path) in tracked.lines().step_by(step).take(changed).enumerate() {
        let file = session.join(path);
        let mut text = std::fs::read_to_string(&file).expect("read");
        text.push_str(&format!("changed by the session ({n})\n"));
        std::fs::write(&file, text).expect("write");
    }
    git(&session, &["commit", "-qam", "session: change files"]);
    if moved {
        let first = tracked.lines().nth(1).expect("a file");
        let file = repo.join(first);
        let text = format!(
            "moved on main\n{}",
            std::fs::read_to_string(&file).expect("read")
        );
        std::fs::write(&file, text).expect("write");
        git(&repo, &["commit", "-qam", "main: moved"]);
    }
    let start = git(&repo, &["rev-parse", "main"]);
    (temp, repo, start)
}

fn scenario(
    files: usize,
    changed: usize,
    rounds: usize,
    moved: bool,
) -> (Vec<Duration>, Vec<Duration>) {
    let (temp, repo, start) = prepare(files, changed, moved);
    let scratch = temp.path().join("scratch");
    let status = Command::new("git")
        .args(["clone", "-q", "--no-local"])
        .arg(&repo)
        .arg(&scratch)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .expect("git clone");
    assert!(status.success());
    git(&scratch, &["fetch", "-q", "origin", "session:session"]);

    let land_lulu = || -> Duration {
        git(&repo, &["reset", "-q", "--hard", &start]);
        git(&repo, &["status", "--porcelain"]);
        let started = Instant::now();
        lulu_core::worktree::land(&lulu_core::worktree::LandRequest {
            repo: &repo,
            branch: "session",
            into: "main",
            strategy: lulu_core::worktree::LandStrategy::Squash,
            message: "Land the session",
            before_move: None,
        })
        .expect("lulu land");
        started.elapsed()
    };
    let land_git = || -> Duration {
        git(&scratch, &["reset", "-q", "--hard", &start]);
        git(&scratch, &["status", "--porcelain"]);
        let started = Instant::now();
        git(&scratch, &["merge", "-q", "--squash", "session"]);
        git(&scratch, &["commit", "-q", "-m", "Land the session"]);
        started.elapsed()
    };
    land_lulu();
    land_git();
    let mut lulu = Vec::new();
    let mut git_times = Vec::new();
    for round in 0..rounds {
        if round % 2 == 0 {
            lulu.push(land_lulu());
            git_times.push(land_git());
        } else {
            git_times.push(land_git());
            lulu.push(land_lulu());
        }
    }
    // Sanity: both made the same tree, and lulu's checkout is clean as git sees it.
    assert_eq!(
        git(&repo, &["rev-parse", "main^{tree}"]),
        git(&scratch, &["rev-parse", "HEAD^{tree}"])
    );
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
    (lulu, git_times)
}

fn main() {
    let files = env_number("LULU_BENCH_FILES", 5000);
    let changed = env_number("LULU_BENCH_CHANGED", 50);
    let rounds = env_number("LULU_BENCH_ROUNDS", 10).max(1);
    println!("landing a session that changed {changed} of {files} files, {rounds} rounds each");
    let mut worst: f64 = 0.0;
    for (label, moved) in [
        ("main did not move", false),
        ("main moved (three-way merge)", true),
    ] {
        let (mut lulu, mut git) = scenario(files, changed, rounds, moved);
        let lulu_median = median(&mut lulu);
        let git_median = median(&mut git);
        let ratio = lulu_median.as_secs_f64() / git_median.as_secs_f64();
        worst = worst.max(ratio);
        println!("{label}:");
        println!(
            "  lulu (gix land, squash):           median {:7.1} ms  (min {:.1}, max {:.1})",
            ms(lulu_median),
            ms(lulu[0]),
            ms(lulu[rounds - 1])
        );
        println!(
            "  git merge --squash + git commit:   median {:7.1} ms  (min {:.1}, max {:.1})",
            ms(git_median),
            ms(git[0]),
            ms(git[rounds - 1])
        );
        println!("  ratio lulu/git: {ratio:.2}");
    }
    println!(
        "target: lulu at most {TARGET_RATIO} of git's time; worst ratio {worst:.2} => {}",
        if worst <= TARGET_RATIO {
            "MET"
        } else {
            "NOT MET"
        }
    );
}
