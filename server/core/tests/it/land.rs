//! Landing, syncing and committing a worktree's work, against real repositories made by
//! `tests/fixtures/make-repo.sh`, with real `git` (hermetic environment) as the oracle.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use lulu_core::worktree::{
    self, CreateWorktree, LandError, LandRequest, LandStrategy, Landed, SyncOutcome,
};
use pretty_assertions::assert_eq;

use crate::support::{git, git_command, make_repo, temp};

// ---------------------------------------------------------------------------------------------
// Fixtures and the git oracle

fn write(dir: &Path, path: &str, text: &str) {
    let file = dir.join(path);
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    std::fs::write(file, text).expect("write");
}

fn read(dir: &Path, path: &str) -> String {
    std::fs::read_to_string(dir.join(path)).expect("read")
}

fn commit_all(dir: &Path, message: &str) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
}

fn tip(dir: &Path, rev: &str) -> String {
    git(dir, &["rev-parse", rev]).trim().to_owned()
}

/// A repository (main: README.md, src/lib.txt with four lines) and a session worktree on
/// `lulu/s` from main, where the "agent" made two commits: a line in src/lib.txt, then notes.md.
struct Setup {
    _temp: tempfile::TempDir,
    repo: PathBuf,
    worktree: PathBuf,
}

fn setup() -> Setup {
    let temp = temp();
    let repo = make_repo(&temp, "basic");
    let worktree = temp.path().join("wt");
    worktree::create_worktree(&CreateWorktree {
        repo: &repo,
        worktree_path: &worktree,
        branch: "lulu/s",
        base_commit: "main",
    })
    .expect("worktree");
    write(
        &worktree,
        "src/lib.txt",
        "line one\nline two\nline three\nline four\nline five\n",
    );
    commit_all(&worktree, "agent: line five");
    write(&worktree, "notes.md", "# Notes\n");
    commit_all(&worktree, "agent: notes");
    Setup {
        _temp: temp,
        repo,
        worktree,
    }
}

/// A commit on main in the main checkout that the session does not conflict with.
fn move_main(repo: &Path) {
    write(repo, "README.md", "# Fixture project\n\nMoved on main.\n");
    commit_all(repo, "main: readme");
}

fn land(setup: &Setup, strategy: LandStrategy) -> Result<Landed, LandError> {
    worktree::land(&LandRequest {
        repo: &setup.repo,
        branch: "lulu/s",
        into: "main",
        strategy,
        message: "Land the session",
        before_move: None,
    })
}

fn graph(repo: &Path) -> String {
    git(repo, &["log", "--graph", "--format=%s", "main"])
}

/// git's own verdict on the main checkout: status clean, fsck clean, and the files landed.
fn assert_landed_cleanly(repo: &Path, moved: bool) {
    assert_eq!(git(repo, &["status", "--porcelain"]), "");
    git(repo, &["fsck", "--strict", "--no-progress"]);
    assert_eq!(
        read(repo, "src/lib.txt"),
        "line one\nline two\nline three\nline four\nline five\n"
    );
    assert_eq!(read(repo, "notes.md"), "# Notes\n");
    assert_eq!(read(repo, "README.md").contains("Moved on main."), moved);
    // The index matches HEAD exactly (nothing staged, nothing left behind).
    assert_eq!(git(repo, &["diff", "--cached", "--name-only"]), "");
}

// ---------------------------------------------------------------------------------------------
// Land

fn check_strategy(strategy: LandStrategy, moved: bool, expected_graph: &str) {
    let setup = setup();
    if moved {
        move_main(&setup.repo);
    }
    let before = tip(&setup.repo, "main");
    let landed = land(&setup, strategy).expect("land");
    assert_eq!(landed.commit, tip(&setup.repo, "main"));
    assert_eq!(landed.source_commit, tip(&setup.repo, "lulu/s"));
    assert_eq!(
        landed.files,
        vec!["notes.md".to_owned(), "src/lib.txt".to_owned()]
    );
    assert_eq!(landed.worktree.as_deref(), Some(setup.repo.as_path()));
    assert_eq!(
        graph(&setup.repo),
        expected_graph,
        "{strategy:?} moved={moved}"
    );
    assert_landed_cleanly(&setup.repo, moved);
    // The old tip is in the new history: nothing on main was lost.
    git(
        &setup.repo,
        &["merge-base", "--is-ancestor", &before, "main"],
    );
}

#[test]
fn squash_on_an_unmoved_and_a_moved_target() {
    check_strategy(
        LandStrategy::Squash,
        false,
        "* Land the session\n* Add line four\n* Initial commit\n",
    );
    check_strategy(
        LandStrategy::Squash,
        true,
        "* Land the session\n* main: readme\n* Add line four\n* Initial commit\n",
    );
}

#[test]
fn rebase_on_an_unmoved_and_a_moved_target() {
    check_strategy(
        LandStrategy::Rebase,
        false,
        "* agent: notes\n* agent: line five\n* Add line four\n* Initial commit\n",
    );
    check_strategy(
        LandStrategy::Rebase,
        true,
        "* agent: notes\n* agent: line five\n* main: readme\n* Add line four\n* Initial commit\n",
    );
}

#[test]
fn merge_on_an_unmoved_and_a_moved_target() {
    check_strategy(
        LandStrategy::Merge,
        false,
        "*   Land the session\n|\\  \n| * agent: notes\n| * agent: line five\n|/  \n* Add line four\n* Initial commit\n",
    );
    check_strategy(
        LandStrategy::Merge,
        true,
        "*   Land the session\n|\\  \n| * agent: notes\n| * agent: line five\n* | main: readme\n|/  \n* Add line four\n* Initial commit\n",
    );
}

#[test]
fn rebase_keeps_authors_and_a_fast_forward_keeps_the_very_commits() {
    let setup = setup();
    let session_tip = tip(&setup.repo, "lulu/s");
    land(&setup, LandStrategy::Rebase).expect("land");
    assert_eq!(tip(&setup.repo, "main"), session_tip, "a fast-forward");

    let setup = self::setup();
    move_main(&setup.repo);
    land(&setup, LandStrategy::Rebase).expect("land");
    assert_eq!(
        git(&setup.repo, &["log", "-2", "--format=%an <%ae>|%s", "main"]),
        "Lulu Fixture <fixture@lulu.invalid>|agent: notes\nLulu Fixture <fixture@lulu.invalid>|agent: line five\n"
    );
}

#[test]
fn an_unrelated_dirty_file_in_the_checked_out_target_is_kept_byte_for_byte() {
    let setup = setup();
    let dirty = "# Fixture project\n\nThe user's own edit, \u{0}binary-ish\r\n";
    write(&setup.repo, "README.md", dirty);
    write(&setup.repo, "scratch.txt", "untracked\n");
    git(&setup.repo, &["add", "scratch.txt"]);
    write(&setup.repo, "scratch.txt", "untracked, then edited\n");
    land(&setup, LandStrategy::Squash).expect("land");
    assert_eq!(read(&setup.repo, "README.md"), dirty);
    assert_eq!(
        git(&setup.repo, &["status", "--porcelain"]),
        " M README.md\nAM scratch.txt\n"
    );
    assert_eq!(
        git(&setup.repo, &["show", ":scratch.txt"]),
        "untracked\n",
        "the user's staged content is still staged"
    );
    git(&setup.repo, &["fsck", "--strict", "--no-progress"]);
}

/// Everything that must not change when a landing is refused: refs, index, files.
fn snapshot(repo: &Path) -> (String, Vec<u8>, String, String) {
    (
        git(repo, &["for-each-ref", "--format=%(refname) %(objectname)"]),
        std::fs::read(repo.join(".git/index")).expect("index"),
        read(repo, "src/lib.txt"),
        git(repo, &["status", "--porcelain"]),
    )
}

#[test]
fn a_dirty_file_in_a_path_the_landing_changes_refuses_and_changes_nothing() {
    let setup = setup();
    write(&setup.repo, "src/lib.txt", "the user's work in progress\n");
    let before = snapshot(&setup.repo);
    let error = land(&setup, LandStrategy::Squash).expect_err("refused");
    match &error {
        LandError::DirtyTarget { files, into, .. } => {
            assert_eq!(files, &vec!["src/lib.txt".to_owned()]);
            assert_eq!(into, "main");
        }
        other => panic!("expected DirtyTarget, got {other:?}"),
    }
    assert!(error.to_string().contains("src/lib.txt"), "{error}");
    assert_eq!(snapshot(&setup.repo), before);

    // A change only staged (the file on disk as committed) is the user's work too.
    let setup = self::setup();
    let committed = read(&setup.repo, "src/lib.txt");
    write(&setup.repo, "src/lib.txt", "staged only\n");
    git(&setup.repo, &["add", "src/lib.txt"]);
    write(&setup.repo, "src/lib.txt", &committed);
    let before = snapshot(&setup.repo);
    match land(&setup, LandStrategy::Rebase).expect_err("refused") {
        LandError::DirtyTarget { files, .. } => assert_eq!(files, vec!["src/lib.txt".to_owned()]),
        other => panic!("expected DirtyTarget, got {other:?}"),
    }
    assert_eq!(snapshot(&setup.repo), before);

    // An untracked file where the landing adds one is in the way too.
    let setup = self::setup();
    write(&setup.repo, "notes.md", "mine\n");
    let before = snapshot(&setup.repo);
    match land(&setup, LandStrategy::Merge).expect_err("refused") {
        LandError::DirtyTarget { files, .. } => assert_eq!(files, vec!["notes.md".to_owned()]),
        other => panic!("expected DirtyTarget, got {other:?}"),
    }
    assert_eq!(snapshot(&setup.repo), before);
}

#[test]
fn conflicts_refuse_with_the_files_and_change_nothing() {
    for strategy in [
        LandStrategy::Squash,
        LandStrategy::Rebase,
        LandStrategy::Merge,
    ] {
        let setup = setup();
        write(
            &setup.repo,
            "src/lib.txt",
            "line one\nline two\nline three\nline four\nmain's line five\n",
        );
        commit_all(&setup.repo, "main: line five");
        let before = snapshot(&setup.repo);
        match land(&setup, strategy).expect_err("conflict") {
            LandError::Conflicts { files, .. } => {
                assert_eq!(files, vec!["src/lib.txt".to_owned()], "{strategy:?}")
            }
            other => panic!("expected Conflicts, got {other:?}"),
        }
        assert_eq!(snapshot(&setup.repo), before, "{strategy:?}");
    }
}

#[test]
fn nothing_to_land() {
    let setup = setup();
    land(&setup, LandStrategy::Merge).expect("first landing");
    for strategy in [
        LandStrategy::Squash,
        LandStrategy::Rebase,
        LandStrategy::Merge,
    ] {
        match land(&setup, strategy).expect_err("nothing left") {
            LandError::NothingToLand { branch, into } => {
                assert_eq!((branch.as_str(), into.as_str()), ("lulu/s", "main"))
            }
            other => panic!("expected NothingToLand, got {other:?}"),
        }
    }
}

/// A commit made to the target between lulu reading it and moving it is never lost: the
/// compare-and-set fails and lulu computes again on top of it.
#[test]
fn a_commit_made_to_the_target_meanwhile_is_never_lost() {
    let setup = setup();
    git(&setup.repo, &["branch", "release", "main"]);
    let calls = AtomicU32::new(0);
    let repo = setup.repo.clone();
    let meanwhile = move |attempt: u32| {
        calls.fetch_add(1, Ordering::SeqCst);
        if attempt == 1 {
            // Someone else commits to `release` (plumbing: no checkout involved).
            let tree = git(&repo, &["rev-parse", "release^{tree}"]);
            let blob = git_command(&repo, &["hash-object", "-w", "--stdin"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .and_then(|mut child| {
                    use std::io::Write as _;
                    child
                        .stdin
                        .take()
                        .expect("stdin")
                        .write_all(b"meanwhile\n")?;
                    child.wait_with_output()
                })
                .expect("hash-object");
            let blob = String::from_utf8(blob.stdout).expect("utf-8");
            let index = repo.join("meanwhile-index");
            let mut read_tree = git_command(&repo, &["read-tree", tree.trim()]);
            read_tree.env("GIT_INDEX_FILE", &index);
            assert!(read_tree.status().expect("read-tree").success());
            let mut add = git_command(
                &repo,
                &[
                    "update-index",
                    "--add",
                    "--cacheinfo",
                    &format!("100644,{},meanwhile.txt", blob.trim()),
                ],
            );
            add.env("GIT_INDEX_FILE", &index);
            assert!(add.status().expect("update-index").success());
            let mut write_tree = git_command(&repo, &["write-tree"]);
            write_tree.env("GIT_INDEX_FILE", &index);
            let new_tree =
                String::from_utf8(write_tree.output().expect("write-tree").stdout).expect("utf-8");
            let commit = git(
                &repo,
                &[
                    "commit-tree",
                    new_tree.trim(),
                    "-p",
                    "release",
                    "-m",
                    "meanwhile",
                ],
            );
            git(&repo, &["update-ref", "refs/heads/release", commit.trim()]);
        }
    };
    let landed = worktree::land(&LandRequest {
        repo: &setup.repo,
        branch: "lulu/s",
        into: "release",
        strategy: LandStrategy::Squash,
        message: "Land the session",
        before_move: Some(&meanwhile),
    })
    .expect("land after a retry");
    assert_eq!(landed.worktree, None, "release is not checked out");
    assert_eq!(
        git(&setup.repo, &["log", "--format=%s", "release"]),
        "Land the session\nmeanwhile\nAdd line four\nInitial commit\n"
    );
    assert_eq!(
        git(&setup.repo, &["ls-tree", "--name-only", "release"]),
        ".gitignore\nREADME.md\nmeanwhile.txt\nnotes.md\nsrc\n"
    );
    git(&setup.repo, &["fsck", "--strict", "--no-progress"]);
}

#[test]
fn a_target_that_keeps_moving_is_refused_and_keeps_every_commit() {
    let setup = setup();
    let repo = setup.repo.clone();
    let meanwhile = move |attempt: u32| {
        let commit = git(
            &repo,
            &[
                "commit-tree",
                "main^{tree}",
                "-p",
                "main",
                "-m",
                &format!("meanwhile {attempt}"),
            ],
        );
        git(&repo, &["update-ref", "refs/heads/main", commit.trim()]);
    };
    let error = worktree::land(&LandRequest {
        repo: &setup.repo,
        branch: "lulu/s",
        into: "main",
        strategy: LandStrategy::Squash,
        message: "Land the session",
        before_move: Some(&meanwhile),
    })
    .expect_err("refused");
    assert!(
        matches!(error, LandError::TargetKeptMoving { attempts: 5, .. }),
        "{error:?}"
    );
    assert_eq!(
        git(&setup.repo, &["log", "--format=%s", "-6", "main"]),
        "meanwhile 5\nmeanwhile 4\nmeanwhile 3\nmeanwhile 2\nmeanwhile 1\nAdd line four\n"
    );
    // The main checkout's index was released: git can use it.
    assert!(!setup.repo.join(".git/index.lock").exists());
}

// ---------------------------------------------------------------------------------------------
// Committing a worktree's work

#[test]
fn uncommitted_work_is_committed_exactly_as_it_is() {
    // As git's commit left the index (its cached trees say it is HEAD's tree: only the files
    // changed on disk are looked at), and with a change staged (no cached tree: the whole index
    // is compared with HEAD's tree).
    check_uncommitted_work(false);
    check_uncommitted_work(true);
}

fn check_uncommitted_work(stage_a_change: bool) {
    let setup = setup();
    let wt = &setup.worktree;
    write(wt, "src/lib.txt", "rewritten\n");
    if stage_a_change {
        git(wt, &["add", "src/lib.txt"]);
    }
    std::fs::remove_file(wt.join("notes.md")).expect("delete");
    write(wt, "new/deep/file.txt", "new\n");
    write(wt, "run.sh", "#!/bin/sh\necho hi\n");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(wt.join("run.sh"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    write(wt, "target/ignored.txt", "ignored\n");
    let diff_before = worktree::diff_against(wt, "main").expect("diff");
    let commit = worktree::commit_worktree(wt, "The session's name")
        .expect("commit")
        .expect("something to commit");
    assert_eq!(commit, tip(wt, "HEAD"));
    assert_eq!(git(wt, &["status", "--porcelain"]), "");
    assert_eq!(
        git(wt, &["show", "--format=%s", "--name-status", "HEAD"]),
        "The session's name\n\nA\tnew/deep/file.txt\nD\tnotes.md\nA\trun.sh\nM\tsrc/lib.txt\n"
    );
    assert_eq!(
        git(wt, &["ls-files", "-s", "run.sh"]).split(' ').next(),
        Some("100755")
    );
    assert_eq!(
        worktree::diff_against(wt, "main").expect("diff"),
        diff_before
    );
    // Nothing left: no commit, and the index holds the same.
    let staged = git(wt, &["ls-files", "-s"]);
    assert_eq!(
        worktree::commit_worktree(wt, "again").expect("commit"),
        None
    );
    assert_eq!(git(wt, &["ls-files", "-s"]), staged);
    assert_eq!(git(wt, &["status", "--porcelain"]), "");
    git(wt, &["fsck", "--strict", "--no-progress"]);
}

// ---------------------------------------------------------------------------------------------
// Sync

#[test]
fn sync_merges_the_base_or_says_it_is_up_to_date() {
    let setup = setup();
    assert_eq!(
        worktree::sync_worktree(&setup.worktree, "main", "Merge main").expect("sync"),
        SyncOutcome::UpToDate
    );
    move_main(&setup.repo);
    let outcome = worktree::sync_worktree(&setup.worktree, "main", "Merge main").expect("sync");
    let SyncOutcome::Synced { commit, files } = outcome else {
        panic!("expected Synced, got {outcome:?}");
    };
    assert_eq!(files, vec!["README.md".to_owned()]);
    assert_eq!(commit, tip(&setup.worktree, "HEAD"));
    assert_eq!(
        git(&setup.worktree, &["rev-list", "--parents", "-n1", "HEAD"])
            .split_whitespace()
            .count(),
        3,
        "a merge commit"
    );
    assert_eq!(git(&setup.worktree, &["status", "--porcelain"]), "");
    assert!(read(&setup.worktree, "README.md").contains("Moved on main."));
    assert_eq!(
        worktree::ahead_behind(&setup.repo, "lulu/s", "main").expect("counts"),
        (3, 0)
    );
}

#[test]
fn sync_conflicts_leave_markers_and_a_merge_whose_commit_has_two_parents() {
    let setup = setup();
    write(
        &setup.repo,
        "src/lib.txt",
        "line one\nline two\nline three\nline four\nmain's line five\n",
    );
    commit_all(&setup.repo, "main: line five");
    assert_eq!(
        worktree::ahead_behind(&setup.repo, "lulu/s", "main").expect("counts"),
        (2, 1)
    );
    let outcome = worktree::sync_worktree(&setup.worktree, "main", "Merge main").expect("sync");
    assert_eq!(
        outcome,
        SyncOutcome::Conflicts {
            files: vec!["src/lib.txt".to_owned()]
        }
    );
    let text = read(&setup.worktree, "src/lib.txt");
    assert!(
        text.contains("<<<<<<< lulu/s\nline five\n=======\nmain's line five\n>>>>>>> main\n"),
        "{text}"
    );
    assert_eq!(
        git(&setup.worktree, &["status", "--porcelain"]),
        "UU src/lib.txt\n"
    );
    // A second sync, a land or a commit of the work refuses while it is unresolved.
    assert!(matches!(
        worktree::sync_worktree(&setup.worktree, "main", "Merge main"),
        Err(worktree::SyncError::Unresolved { .. })
    ));
    assert!(matches!(
        worktree::commit_worktree(&setup.worktree, "name"),
        Err(worktree::CommitWorkError::Unresolved { .. })
    ));
    // Resolving and committing with git makes the merge commit.
    write(
        &setup.worktree,
        "src/lib.txt",
        "line one\nline two\nline three\nline four\nline five\nmain's line five\n",
    );
    git(&setup.worktree, &["add", "src/lib.txt"]);
    git(&setup.worktree, &["commit", "--no-edit", "-q"]);
    assert_eq!(
        git(&setup.worktree, &["rev-list", "--parents", "-n1", "HEAD"])
            .split_whitespace()
            .count(),
        3
    );
    assert_eq!(
        git(&setup.worktree, &["log", "-1", "--format=%s"]),
        "Merge main\n"
    );
    assert_eq!(git(&setup.worktree, &["status", "--porcelain"]), "");
    // Now it lands without conflicts.
    land(&setup, LandStrategy::Squash).expect("land after the sync");
    assert_eq!(git(&setup.repo, &["status", "--porcelain"]), "");
    git(&setup.repo, &["fsck", "--strict", "--no-progress"]);
}

#[test]
fn a_resolved_but_uncommitted_merge_is_committed_with_both_parents() {
    let setup = setup();
    write(
        &setup.repo,
        "src/lib.txt",
        "line one\nline two\nline three\nline four\nmain's line five\n",
    );
    commit_all(&setup.repo, "main: line five");
    worktree::sync_worktree(&setup.worktree, "main", "Merge main").expect("sync");
    write(&setup.worktree, "src/lib.txt", "resolved\n");
    git(&setup.worktree, &["add", "src/lib.txt"]);
    worktree::commit_worktree(&setup.worktree, "name")
        .expect("commit")
        .expect("a commit");
    assert_eq!(
        git(&setup.worktree, &["rev-list", "--parents", "-n1", "HEAD"])
            .split_whitespace()
            .count(),
        3
    );
    assert!(!setup.worktree.join(".git").is_dir());
    assert_eq!(git(&setup.worktree, &["status", "--porcelain"]), "");
}

#[test]
fn a_folder_deleted_or_replaced_by_a_file_lands_in_the_checkout() {
    let setup = setup();
    git(&setup.worktree, &["rm", "-q", "-r", "src"]);
    write(&setup.worktree, "src", "now a file\n");
    git(&setup.worktree, &["add", "src"]);
    git(
        &setup.worktree,
        &["commit", "-q", "-m", "agent: src becomes a file"],
    );
    // The user's untracked file in the folder the landing replaces is in the way.
    write(&setup.repo, "src/mine.txt", "the user's\n");
    let before = snapshot(&setup.repo);
    match land(&setup, LandStrategy::Squash).expect_err("refused") {
        LandError::DirtyTarget { files, .. } => assert_eq!(files, vec!["src".to_owned()]),
        other => panic!("expected DirtyTarget, got {other:?}"),
    }
    assert_eq!(snapshot(&setup.repo), before);
    std::fs::remove_file(setup.repo.join("src/mine.txt")).expect("remove");

    land(&setup, LandStrategy::Squash).expect("land");
    assert_eq!(read(&setup.repo, "src"), "now a file\n");
    assert_eq!(git(&setup.repo, &["status", "--porcelain"]), "");
    git(&setup.repo, &["fsck", "--strict", "--no-progress"]);
}

#[test]
fn a_file_replaced_by_a_folder_is_committed_with_the_folder() {
    // Both ways of reading the work: git's cached trees valid, and a change staged.
    for stage_a_change in [false, true] {
        let setup = setup();
        let wt = &setup.worktree;
        std::fs::remove_file(wt.join("notes.md")).expect("delete");
        write(wt, "notes.md/today.md", "a folder now\n");
        if stage_a_change {
            write(wt, "src/lib.txt", "staged\n");
            git(wt, &["add", "src/lib.txt"]);
        }
        worktree::commit_worktree(wt, "name")
            .expect("commit")
            .expect("something to commit");
        assert_eq!(
            git(wt, &["show", "HEAD:notes.md/today.md"]),
            "a folder now\n"
        );
        assert_eq!(git(wt, &["status", "--porcelain"]), "");
    }
}
