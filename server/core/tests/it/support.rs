//! What the core's integration tests share: fixture repositories made by
//! `tests/fixtures/make-repo.sh`, and `git` as the oracle in a hermetic environment.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// A fresh repository of `kind` (see make-repo.sh) at `<tempdir>/repo`; returns its canonical path.
pub fn make_repo(temp: &tempfile::TempDir, kind: &str) -> PathBuf {
    let dir = temp.path().join("repo");
    let status = Command::new("bash")
        .arg(fixtures_dir().join("make-repo.sh"))
        .arg(&dir)
        .arg(kind)
        .status()
        .expect("run make-repo.sh");
    assert!(status.success(), "make-repo.sh {kind} failed");
    dir.canonicalize().expect("canonical repo path")
}

pub fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

pub fn git_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Lulu Fixture")
        .env("GIT_AUTHOR_EMAIL", "fixture@lulu.invalid")
        .env("GIT_COMMITTER_NAME", "Lulu Fixture")
        .env("GIT_COMMITTER_EMAIL", "fixture@lulu.invalid")
        .env("GIT_AUTHOR_DATE", "2026-01-03T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-03T00:00:00Z")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE");
    command
}

/// Runs git in `dir`, asserts success and returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = git_command(dir, args).output().expect("run git");
    assert!(
        output.status.success(),
        "git {args:?} in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 git output")
}
