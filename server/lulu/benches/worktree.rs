//! Benchmark: creating a session worktree with lulu (gitoxide) versus `git worktree add -b`.
//!
//! Makes a 5,000-file repository with `tests/fixtures/make-repo.sh`, then alternately creates worktrees with
//! `lulu_core::worktree::create_worktree` and with `git worktree add -b` (hermetic environment) on the same
//! repository, and prints the median times and the ratio lulu/git. Target: lulu at most 0.6 of git's time.
//! Two scenarios: the fixture as committed (all objects loose, like fresh local work) and after
//! `git repack -ad` (all packed, like a clone).
//!
//! Run: `cargo bench -p lulu --bench worktree`. Environment knobs: `LULU_BENCH_FILES` (5000),
//! `LULU_BENCH_ROUNDS` (10), `LULU_BENCH_DIR` (where the repository goes, e.g. /dev/shm to leave the disk
//! out), `LULU_BENCH_ONLY=loose|packed`, `LULU_BENCH_CONFIG="key=value,..."` (repository config for both).
//!
//! Worktree creation is mostly the kernel creating 5,000 files, the same work for both tools, so on a busy
//! or slow file system the ratio moves towards 1; the machine is shared, so run it more than once.

// The integration tests' support: the fixture repositories (make-repo.sh), nothing else.
#[allow(dead_code)]
#[path = "../tests/it/support.rs"]
mod support;
// Counting and timing, shared by the benchmarks.
mod common;

use common::{env_number, median, millis};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const TARGET_RATIO: f64 = 0.6;

fn git(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Lulu Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@lulu.invalid")
        .env("GIT_COMMITTER_NAME", "Lulu Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@lulu.invalid")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE");
    command
}

/// Flushes the previous round's dirty pages to disk before a timed round, so that neither tool pays
/// for the other's writeback (each round writes some 20 MB; the kernel throttles writers while it flushes).
fn settle() {
    let status = Command::new("sync").status().expect("run sync");
    assert!(status.success(), "sync failed");
}

/// The median times of one scenario: (lulu, git).
struct Outcome {
    lulu: Vec<Duration>,
    git: Vec<Duration>,
}

/// Makes a `files`-file repository (packed with `git repack -ad` when `packed`), then creates `rounds`
/// worktrees with each tool, alternating who goes first.
/// The repository's temporary folder is returned so it is deleted only at the end: deleting ~100,000 files
/// makes the next file creations slow on some file systems (ext4 without a journal skips recently freed inodes).
fn scenario(files: usize, rounds: usize, packed: bool) -> (Outcome, tempfile::TempDir) {
    // `LULU_BENCH_DIR` picks the file system (e.g. /dev/shm to leave out the disk's inode allocation).
    let temp = match std::env::var_os("LULU_BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("temp dir");
    let repo = temp.path().join("repo");
    let repo = support::make_repo(&repo, &format!("files:{files}"));
    if packed {
        let status = git(&repo)
            .args(["repack", "-adq"])
            .status()
            .expect("git repack");
        assert!(status.success(), "git repack failed");
    }
    // `LULU_BENCH_CONFIG="key=value,..."`: repository configuration for both tools (for experiments).
    if let Ok(settings) = std::env::var("LULU_BENCH_CONFIG") {
        for setting in settings.split(',').filter(|s| !s.is_empty()) {
            let (key, value) = setting.split_once('=').expect("key=value");
            let status = git(&repo)
                .args(["config", key, value])
                .status()
                .expect("git config");
            assert!(status.success(), "git config {key} {value}");
        }
    }
    let base = lulu_core::worktree::resolve_commit(&repo, "HEAD").expect("resolve HEAD");
    let lulu_root = repo.join(".lulu/worktrees");
    let git_root = repo.join(".lulu/git-worktrees");

    let create_lulu = |i: usize| -> Duration {
        let path: PathBuf = lulu_root.join(format!("s{i}"));
        let branch = format!("bench/lulu-{i}");
        settle();
        let started = Instant::now();
        lulu_core::worktree::create_worktree(&lulu_core::worktree::CreateWorktree {
            repo: &repo,
            worktree_path: &path,
            branch: &branch,
            base_commit: &base,
        })
        .expect("lulu create_worktree");
        started.elapsed()
    };
    let create_git = |i: usize| -> Duration {
        let path = git_root.join(format!("s{i}"));
        settle();
        let started = Instant::now();
        let output = git(&repo)
            .args(["worktree", "add", "-q", "-b", &format!("bench/git-{i}")])
            .arg(&path)
            .arg(&base)
            .output()
            .expect("run git worktree add");
        let elapsed = started.elapsed();
        assert!(
            output.status.success(),
            "git worktree add: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        elapsed
    };

    // One warm-up each (object database in the page cache, parent folders made), not measured.
    create_lulu(0);
    create_git(0);
    let mut outcome = Outcome {
        lulu: Vec::with_capacity(rounds),
        git: Vec::with_capacity(rounds),
    };
    for i in 1..=rounds {
        // Alternate who goes first so neither always runs on a warmer cache.
        if i.is_multiple_of(2) {
            outcome.lulu.push(create_lulu(i));
            outcome.git.push(create_git(i));
        } else {
            outcome.git.push(create_git(i));
            outcome.lulu.push(create_lulu(i));
        }
    }

    // Sanity: the last lulu worktree is complete and clean, as git sees it.
    let last = lulu_root.join(format!("s{rounds}"));
    let status = git(&last)
        .args(["status", "--porcelain"])
        .output()
        .expect("git status");
    assert!(
        status.status.success() && status.stdout.is_empty(),
        "lulu's worktree is not clean"
    );
    (outcome, temp)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let files = env_number("LULU_BENCH_FILES", 5000);
    let rounds = env_number("LULU_BENCH_ROUNDS", 10).max(1);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("worktree creation, {files} files, {rounds} rounds each, {threads} CPU(s)");
    let mut worst: f64 = 0.0;
    let mut keep = Vec::new();
    for (label, packed) in [
        ("loose objects (a fresh commit)", false),
        ("packed objects (git repack -ad, like a clone)", true),
    ] {
        // `LULU_BENCH_ONLY=loose|packed` runs one scenario.
        if std::env::var("LULU_BENCH_ONLY").is_ok_and(|only| !label.starts_with(&only)) {
            continue;
        }
        let (mut outcome, temp) = scenario(files, rounds, packed);
        keep.push(temp);
        let lulu = median(&mut outcome.lulu);
        let git = median(&mut outcome.git);
        let ratio = lulu.as_secs_f64() / git.as_secs_f64();
        worst = worst.max(ratio);
        println!("{label}:");
        println!(
            "  lulu (gix create_worktree): median {:8.1} ms  (min {:.1}, max {:.1})",
            millis(lulu),
            millis(outcome.lulu[0]),
            millis(outcome.lulu[rounds - 1])
        );
        println!(
            "  git worktree add -b:        median {:8.1} ms  (min {:.1}, max {:.1})",
            millis(git),
            millis(outcome.git[0]),
            millis(outcome.git[rounds - 1])
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
