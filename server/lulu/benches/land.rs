//! Benchmark: landing a session that changed 50 files of a 5,000-file repository with lulu
//! (squash, into the checked-out `main`) versus `git merge --squash` plus `git commit` in a
//! scratch clone, side by side.
//!
//! Both land the same branch into a `main` checked out in a worktree of the same 5,000 files, so
//! both merge, check the checkout, write 50 files and the index, and make a commit.
//! Two scenarios: `main` did not move since the session started (no three-way merge needed), and
//! `main` moved by one commit elsewhere (a real three-way merge). Before every round, untimed, each
//! checkout is reset to the same commit with `git reset --hard` and its index refreshed with
//! `git status`; rounds alternate which side goes first.
//!
//! What is timed. lulu: the git work of a `lulu/land` request as the server does it in its own
//! process: the check of the session's worktree for uncommitted work (`commit_worktree`, a status
//! of its 5,000 files; nothing to commit here) and `worktree::land`; the store's look-up and
//! record of the landing (SQLite) are not timed. The land alone is reported too; git has no
//! counterpart of the session check, so the whole is compared with git's two commands. git: the two
//! commands as a person types them, process starts included (a few ms). Both repositories have
//! their 5,000 files packed (the fixture is repacked, as a clone or `git gc` leaves a real
//! repository) and the session's commit as it came (loose for lulu, where the session made it;
//! in the pack the fetch made for git).
//!
//! Run: `cargo bench -p lulu --bench land`. Knobs: `LULU_BENCH_FILES` (5000), `LULU_BENCH_CHANGED`
//! (50), `LULU_BENCH_ROUNDS` (20), `LULU_BENCH_DIR` (where the repositories go). Target: lulu at
//! most 1.0 of git's time.

// The integration tests' support: the fixture repositories (make-repo.sh), nothing else.
#[allow(dead_code)]
#[path = "../tests/it/support.rs"]
mod support;
// Counting and timing, shared by the benchmarks.
mod common;

use common::{env_number, median, millis};

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const TARGET_RATIO: f64 = 1.0;

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
    git(&repo, &["repack", "-adq"]);
    git(&repo, &["prune-packed"]);
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
    // As in a real session, the agent's work comes later than the checkout: the commit's index
    // then vouches for the 4,950 untouched files by their stat data (in the same second as the
    // checkout, every file would be read again by each status, as git's racy-file rule wants).
    std::thread::sleep(Duration::from_millis(1100));
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

/// The times of each round: lulu's whole landing, its land alone, and git's; and those of the
/// first round, which is not in them.
#[derive(Default)]
struct Samples {
    lulu: Vec<Duration>,
    lulu_land: Vec<Duration>,
    git: Vec<Duration>,
    first: (Duration, Duration, Duration),
}

fn scenario(files: usize, changed: usize, rounds: usize, moved: bool) -> Samples {
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

    let session = temp.path().join("session");
    let land_lulu = || -> (Duration, Duration) {
        git(&repo, &["reset", "-q", "--hard", &start]);
        git(&repo, &["status", "--porcelain"]);
        let started = Instant::now();
        let committed =
            lulu_core::worktree::commit_worktree(&session, "session").expect("commit_worktree");
        assert_eq!(committed, None, "the session has nothing uncommitted");
        let land_started = Instant::now();
        lulu_core::worktree::land(&lulu_core::worktree::LandRequest {
            repo: &repo,
            branch: "session",
            into: "main",
            strategy: lulu_core::worktree::LandStrategy::Squash,
            message: "Land the session",
            before_move: None,
        })
        .expect("lulu land");
        (started.elapsed(), land_started.elapsed())
    };
    let land_git = || -> Duration {
        git(&scratch, &["reset", "-q", "--hard", &start]);
        git(&scratch, &["status", "--porcelain"]);
        let started = Instant::now();
        git(&scratch, &["merge", "-q", "--squash", "session"]);
        git(&scratch, &["commit", "-q", "-m", "Land the session"]);
        started.elapsed()
    };
    // The first round warms the caches (and is reported apart).
    let (first_lulu, first_land) = land_lulu();
    let first_git = land_git();
    let mut samples = Samples {
        first: (first_lulu, first_land, first_git),
        ..Samples::default()
    };
    let lulu_round = |samples: &mut Samples| {
        let (whole, land) = land_lulu();
        samples.lulu.push(whole);
        samples.lulu_land.push(land);
    };
    for round in 0..rounds {
        if round % 2 == 0 {
            lulu_round(&mut samples);
            samples.git.push(land_git());
        } else {
            samples.git.push(land_git());
            lulu_round(&mut samples);
        }
    }
    // Sanity: both made the same tree, and lulu's checkout is clean as git sees it.
    assert_eq!(
        git(&repo, &["rev-parse", "main^{tree}"]),
        git(&scratch, &["rev-parse", "HEAD^{tree}"])
    );
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
    samples
}

/// One line: median, min and max of `samples` (sorted in place).
fn line(label: &str, samples: &mut [Duration]) -> Duration {
    let middle = median(samples);
    println!(
        "  {label:<44} median {:7.1} ms  (min {:.1}, max {:.1})",
        millis(middle),
        millis(samples[0]),
        millis(samples[samples.len() - 1])
    );
    middle
}

fn main() {
    let files = env_number("LULU_BENCH_FILES", 5000);
    let changed = env_number("LULU_BENCH_CHANGED", 50);
    let rounds = env_number("LULU_BENCH_ROUNDS", 20).max(1);
    println!("landing a session that changed {changed} of {files} files, {rounds} rounds each");
    let mut worst: f64 = 0.0;
    for (label, moved) in [
        ("main did not move", false),
        ("main moved (three-way merge)", true),
    ] {
        let mut samples = scenario(files, changed, rounds, moved);
        println!("{label}:");
        let lulu = line(
            "lulu (session check + gix land, squash):",
            &mut samples.lulu,
        );
        let land = line("  of which the land alone:", &mut samples.lulu_land);
        let git = line("git merge --squash + git commit:", &mut samples.git);
        let ratio = lulu.as_secs_f64() / git.as_secs_f64();
        let land_ratio = land.as_secs_f64() / git.as_secs_f64();
        worst = worst.max(ratio);
        println!("  ratio lulu/git: {ratio:.2} (the land alone: {land_ratio:.2})");
        let (first_lulu, first_land, first_git) = samples.first;
        println!(
            "  first round, not in the medians: lulu {:.1} ms (the land alone {:.1}), git {:.1} ms",
            millis(first_lulu),
            millis(first_land),
            millis(first_git)
        );
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
