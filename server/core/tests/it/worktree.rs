//! Integration tests of `lulu_core::worktree` against real repositories made by `tests/fixtures/make-repo.sh`,
//! with real `git` (hermetic environment) as the oracle.

use std::path::{Path, PathBuf};

use lulu_core::worktree::{
    self, ChangeStatus, CreateWorktree, CreateWorktreeError, DeleteBranchError, DiscoverError,
    FileChange, OrphanFolder, RemoveMode, RemoveWorktreeError, ResolveCommitError,
    UncommittedChanges,
};
use pretty_assertions::assert_eq;

use crate::support::{git, git_command, make_repo, temp};

// ---------------------------------------------------------------------------------------------------------------------
// Fixtures and the git oracle

/// Runs git in `dir` with `input` on stdin, asserts success and returns stdout, trimmed.
fn git_stdin(dir: &Path, args: &[&str], input: &str) -> String {
    use std::io::Write as _;
    let mut child = git_command(dir, args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run git");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let output = child.wait_with_output().expect("git output");
    assert!(output.status.success(), "git {args:?} failed");
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

fn write(path: &Path, content: impl AsRef<[u8]>) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent");
    }
    std::fs::write(path, content).expect("write file");
}

/// Creates a worktree for `branch` at `<repo>/.lulu/worktrees/<name>` from `base`.
fn create(repo: &Path, name: &str, branch: &str, base: &str) -> PathBuf {
    let path = repo.join(".lulu/worktrees").join(name);
    worktree::create_worktree(&CreateWorktree {
        repo,
        worktree_path: &path,
        branch,
        base_commit: base,
    })
    .unwrap_or_else(|error| panic!("create_worktree {name}: {error:?}"));
    path
}

/// `git worktree list --porcelain` as (path, branch) pairs, main worktree first.
fn git_worktrees(repo: &Path) -> Vec<(PathBuf, Option<String>)> {
    let mut list = Vec::new();
    for block in git(repo, &["worktree", "list", "--porcelain"]).split("\n\n") {
        let mut path = None;
        let mut branch = None;
        for line in block.lines() {
            if let Some(rest) = line.strip_prefix("worktree ") {
                path = Some(PathBuf::from(rest));
            }
            if let Some(rest) = line.strip_prefix("branch ") {
                branch = Some(rest.to_owned());
            }
        }
        if let Some(path) = path {
            list.push((path, branch));
        }
    }
    list
}

fn branches(repo: &Path) -> Vec<String> {
    git(repo, &["branch", "--list", "--format=%(refname:short)"])
        .lines()
        .map(str::to_owned)
        .collect()
}

// ---------------------------------------------------------------------------------------------------------------------
// discover_repository

#[derive(Debug, PartialEq)]
enum Discovered {
    TopLevel(PathBuf),
    NotARepository,
    Bare,
    NoCommits,
}

fn check_discover(path: &Path, expected: Discovered) {
    let actual = match worktree::discover_repository(path) {
        Ok(top) => Discovered::TopLevel(top),
        Err(DiscoverError::NotARepository { path: at, .. }) => {
            assert_eq!(at, path, "the error names the path");
            Discovered::NotARepository
        }
        Err(DiscoverError::Bare { path: at }) => {
            assert_eq!(at, path);
            Discovered::Bare
        }
        Err(DiscoverError::NoCommits { path: at }) => {
            assert_eq!(at, path);
            Discovered::NoCommits
        }
        Err(other) => panic!("unexpected error for {}: {other:?}", path.display()),
    };
    assert_eq!(actual, expected, "discover_repository({})", path.display());
}

#[test]
fn discover_repository_finds_the_top_level_or_says_why_not() {
    let basic = temp();
    let repo = make_repo(&basic, "basic");
    check_discover(&repo, Discovered::TopLevel(repo.clone()));
    check_discover(&repo.join("src"), Discovered::TopLevel(repo.clone()));

    let plain = temp();
    check_discover(plain.path(), Discovered::NotARepository);

    let bare = temp();
    let bare_repo = make_repo(&bare, "bare");
    check_discover(&bare_repo, Discovered::Bare);

    let empty = temp();
    let empty_repo = make_repo(&empty, "empty");
    check_discover(&empty_repo, Discovered::NoCommits);

    let error = worktree::discover_repository(&empty_repo).expect_err("no commits");
    assert!(
        error
            .to_string()
            .contains(&empty_repo.display().to_string()),
        "message names the path: {error}"
    );

    // Inside a linked worktree, the main repository's top level is the answer: a worktree
    // belongs to its main repository (before the fix: the worktree's own top level).
    let wt = create(&repo, "s1", "lulu/s1", "HEAD");
    check_discover(&wt.join("src"), Discovered::TopLevel(repo.clone()));
    check_discover(&wt, Discovered::TopLevel(repo.clone()));
}

// ---------------------------------------------------------------------------------------------------------------------
// resolve_commit

/// `expected`: Some(rev for `git rev-parse --verify <rev>^{commit}`) or None for "not a commit".
fn check_resolve(repo: &Path, rev: &str, expected: Option<&str>) {
    let actual = worktree::resolve_commit(repo, rev);
    match (actual, expected) {
        (Ok(id), Some(oracle_rev)) => {
            let oracle = git(
                repo,
                &["rev-parse", "--verify", &format!("{oracle_rev}^{{commit}}")],
            );
            assert_eq!(id, oracle.trim(), "resolve_commit({rev:?})");
        }
        (
            Err(ResolveCommitError::NotACommit {
                repo: at,
                rev: named,
                ..
            }),
            None,
        ) => {
            assert_eq!(at, repo);
            assert_eq!(named, rev);
        }
        (actual, expected) => panic!("resolve_commit({rev:?}) = {actual:?}, expected {expected:?}"),
    }
}

#[test]
fn resolve_commit_accepts_what_git_accepts_for_a_commit() {
    let dir = temp();
    let repo = make_repo(&dir, "basic");
    git(&repo, &["tag", "-a", "-m", "annotated", "v2", "HEAD"]);
    let head = git(&repo, &["rev-parse", "HEAD"]).trim().to_owned();
    let short = &head[..7];
    let blob = git(&repo, &["rev-parse", "HEAD:README.md"])
        .trim()
        .to_owned();

    check_resolve(&repo, "main", Some("main"));
    check_resolve(&repo, "HEAD", Some("HEAD"));
    check_resolve(&repo, "HEAD~1", Some("HEAD~1"));
    check_resolve(&repo, short, Some(&head));
    check_resolve(&repo, &head, Some(&head));
    check_resolve(&repo, "v1", Some("v1"));
    check_resolve(&repo, "v2", Some("v2"));
    check_resolve(&repo, "no-such-branch", None);
    check_resolve(&repo, "HEAD~5", None);
    check_resolve(&repo, "", None);
    check_resolve(&repo, "  ", None);
    check_resolve(&repo, "HEAD:README.md", None);
    check_resolve(&repo, &blob, None);
    check_resolve(&repo, "HEAD^{tree}", None);

    let error = worktree::resolve_commit(&repo, "no-such-branch").expect_err("bad rev");
    assert!(
        error.to_string().contains("\"no-such-branch\""),
        "names the rev: {error}"
    );
}

// ---------------------------------------------------------------------------------------------------------------------
// create_worktree

#[test]
fn created_worktree_is_a_real_linked_worktree_hidden_from_the_main_checkout() {
    let dir = temp();
    let repo = make_repo(&dir, "basic");
    let base = worktree::resolve_commit(&repo, "HEAD~1").expect("base");
    let main_status_before = git(&repo, &["status", "--porcelain"]);

    let wt = create(&repo, "s1", "lulu/add-flag-3fa9c1", &base);
    let wt2 = create(&repo, "s2", "lulu/other", "main");

    assert_eq!(
        git_worktrees(&repo),
        vec![
            (repo.clone(), Some("refs/heads/main".to_owned())),
            (
                wt.clone(),
                Some("refs/heads/lulu/add-flag-3fa9c1".to_owned())
            ),
            (wt2.clone(), Some("refs/heads/lulu/other".to_owned())),
        ]
    );
    assert_eq!(
        git(&wt, &["status", "--porcelain"]),
        "",
        "the new worktree is clean"
    );
    assert_eq!(
        git(&wt, &["rev-parse", "HEAD"]).trim(),
        base,
        "checked out at the base"
    );
    assert_eq!(
        git(&wt, &["symbolic-ref", "HEAD"]).trim(),
        "refs/heads/lulu/add-flag-3fa9c1"
    );
    assert_eq!(
        std::fs::read_to_string(wt.join("src/lib.txt")).expect("file"),
        "line one\nline two\nline three\n"
    );
    assert_eq!(
        git(&repo, &["status", "--porcelain"]),
        main_status_before,
        "main checkout unchanged"
    );
    assert_eq!(
        git(&repo, &["status", "--porcelain", "--untracked-files=all"]),
        main_status_before
    );
    let fsck = git_command(&repo, &["fsck", "--strict"])
        .output()
        .expect("fsck");
    assert!(
        fsck.status.success(),
        "git fsck: {}",
        String::from_utf8_lossy(&fsck.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&fsck.stderr), "");

    let exclude = std::fs::read_to_string(repo.join(".git/info/exclude")).expect("exclude");
    assert_eq!(
        exclude.lines().filter(|line| *line == "/.lulu/").count(),
        1,
        "listed once: {exclude}"
    );
}

#[test]
fn worktree_outside_the_repository_leaves_the_exclude_file_alone() {
    let dir = temp();
    let repo = make_repo(&dir, "basic");
    let exclude_before = std::fs::read(repo.join(".git/info/exclude")).ok();
    let wt = dir.path().join("elsewhere/deep/s1");
    worktree::create_worktree(&CreateWorktree {
        repo: &repo,
        worktree_path: &wt,
        branch: "lulu/s1",
        base_commit: "HEAD",
    })
    .expect("create outside");
    assert_eq!(git(&wt, &["status", "--porcelain"]), "");
    assert_eq!(
        std::fs::read(repo.join(".git/info/exclude")).ok(),
        exclude_before
    );
    assert_eq!(git_worktrees(&repo).len(), 2);
}

/// What a failed `create_worktree` must leave: the given branches, worktrees, and no new folders.
fn check_create_fails(
    repo: &Path,
    options: CreateWorktree,
    expected: fn(&CreateWorktreeError) -> bool,
    leftover_check: &Path,
) {
    let branches_before = branches(repo);
    let worktrees_before = git_worktrees(repo);
    let error = worktree::create_worktree(&options).expect_err("must fail");
    assert!(expected(&error), "unexpected error: {error:?}");
    assert_eq!(
        branches(repo),
        branches_before,
        "no branch left behind ({error})"
    );
    assert_eq!(
        git_worktrees(repo),
        worktrees_before,
        "no registration left behind ({error})"
    );
    assert!(
        !leftover_check.exists(),
        "{} left behind ({error})",
        leftover_check.display()
    );
}

#[test]
fn failed_creation_leaves_nothing_behind() {
    let dir = temp();
    let repo = make_repo(&dir, "basic");
    let nested = repo.join(".lulu/worktrees/a/b/c");

    check_create_fails(
        &repo,
        CreateWorktree {
            repo: &repo,
            worktree_path: &nested,
            branch: "lulu/x",
            base_commit: "no-such-rev",
        },
        |e| matches!(e, CreateWorktreeError::BaseNotACommit { rev, .. } if rev == "no-such-rev"),
        &repo.join(".lulu"),
    );
    check_create_fails(
        &repo,
        CreateWorktree {
            repo: &repo,
            worktree_path: &nested,
            branch: "main",
            base_commit: "HEAD",
        },
        |e| matches!(e, CreateWorktreeError::BranchExists { branch, .. } if branch == "main"),
        &repo.join(".lulu"),
    );
    for bad in ["bad..name", "", "refs/heads/x", "with space", "-dash"] {
        check_create_fails(
            &repo,
            CreateWorktree {
                repo: &repo,
                worktree_path: &nested,
                branch: bad,
                base_commit: "HEAD",
            },
            |e| matches!(e, CreateWorktreeError::InvalidBranchName { .. }),
            &repo.join(".lulu"),
        );
    }

    // A destination that already holds files.
    let occupied = dir.path().join("occupied");
    write(&occupied.join("keep.txt"), "mine\n");
    let error = worktree::create_worktree(&CreateWorktree {
        repo: &repo,
        worktree_path: &occupied,
        branch: "lulu/x",
        base_commit: "HEAD",
    })
    .expect_err("occupied");
    assert!(
        matches!(error, CreateWorktreeError::DestinationExists { .. }),
        "{error:?}"
    );
    assert_eq!(
        std::fs::read_to_string(occupied.join("keep.txt")).expect("kept"),
        "mine\n"
    );
    assert_eq!(branches(&repo), vec!["main".to_owned()]);

    // Failure during checkout (a tree with a `.GIT` entry, which checkout refuses to write): the
    // registration, the checked-out files, the branch and the new folders are all rolled back.
    let blob = git_stdin(&repo, &["hash-object", "-w", "--stdin"], "hi\n");
    let tree = git_stdin(
        &repo,
        &["mktree"],
        &format!("100644 blob {blob}\t.GIT\n100644 blob {blob}\tok.txt\n"),
    );
    let evil = git(&repo, &["commit-tree", &tree, "-m", "evil"]);
    check_create_fails(
        &repo,
        CreateWorktree {
            repo: &repo,
            worktree_path: &dir.path().join("evil/s1"),
            branch: "lulu/evil",
            base_commit: evil.trim(),
        },
        |e| matches!(e, CreateWorktreeError::AddWorktree { branch, .. } if branch == "lulu/evil"),
        &dir.path().join("evil"),
    );
    assert!(
        !repo.join(".git/worktrees/s1").exists(),
        "no registration folder"
    );

    // Failure inside gix (destination still registered after its folder was deleted by hand):
    // the branch made just before is deleted again and the new parent folders go.
    let first = dir.path().join("wts/one/s1");
    worktree::create_worktree(&CreateWorktree {
        repo: &repo,
        worktree_path: &first,
        branch: "lulu/first",
        base_commit: "HEAD",
    })
    .expect("first");
    std::fs::remove_dir_all(dir.path().join("wts")).expect("delete by hand");
    check_create_fails(
        &repo,
        CreateWorktree {
            repo: &repo,
            worktree_path: &first,
            branch: "lulu/second",
            base_commit: "HEAD",
        },
        |e| matches!(e, CreateWorktreeError::AddWorktree { branch, .. } if branch == "lulu/second"),
        &dir.path().join("wts"),
    );
}

// ---------------------------------------------------------------------------------------------------------------------
// uncommitted_changes

fn check_changes(worktree_path: &Path, changed: &[&str], untracked: &[&str]) {
    let actual = worktree::uncommitted_changes(worktree_path).expect("uncommitted_changes");
    let expected = UncommittedChanges {
        changed: changed.iter().map(|s| s.to_string()).collect(),
        untracked: untracked.iter().map(|s| s.to_string()).collect(),
    };
    assert_eq!(actual, expected);
    assert_eq!(
        actual.is_empty(),
        changed.is_empty() && untracked.is_empty()
    );
    // Oracle: git sees the same set of paths (ignored ones excluded).
    let mut oracle: Vec<String> = git(
        worktree_path,
        &["status", "--porcelain", "--untracked-files=all"],
    )
    .lines()
    .map(|line| line[3..].to_owned())
    .collect();
    oracle.sort();
    let mut ours: Vec<String> = actual
        .changed
        .iter()
        .chain(&actual.untracked)
        .cloned()
        .collect();
    ours.sort();
    assert_eq!(ours, oracle, "same paths as git status");
}

#[test]
fn uncommitted_changes_counts_modified_staged_deleted_and_untracked_but_not_ignored() {
    let dir = temp();
    let repo = make_repo(&dir, "basic");
    let wt = create(&repo, "s1", "lulu/s1", "HEAD");
    check_changes(&wt, &[], &[]);

    write(&wt.join("target/debug/out.bin"), "ignored\n");
    write(&wt.join("build.log"), "ignored\n");
    check_changes(&wt, &[], &[]);

    write(&wt.join("new/deep/untracked.txt"), "new\n");
    check_changes(&wt, &[], &["new/deep/untracked.txt"]);

    write(&wt.join("README.md"), "changed\n");
    check_changes(&wt, &["README.md"], &["new/deep/untracked.txt"]);

    std::fs::remove_file(wt.join("src/lib.txt")).expect("delete");
    write(&wt.join("staged.txt"), "staged\n");
    git(&wt, &["add", "staged.txt"]);
    check_changes(
        &wt,
        &["README.md", "src/lib.txt", "staged.txt"],
        &["new/deep/untracked.txt"],
    );

    // Staged, then the worktree restored to HEAD's content: still a change vs HEAD.
    git(&wt, &["add", "README.md"]);
    git(&wt, &["commit", "-q", "-m", "commit everything staged"]);
    check_changes(&wt, &["src/lib.txt"], &["new/deep/untracked.txt"]);

    let error = worktree::uncommitted_changes(&dir.path().join("nope")).expect_err("missing");
    assert!(error.to_string().contains("nope"), "{error}");
}

// ---------------------------------------------------------------------------------------------------------------------
// unmerged_commits

fn check_unmerged(repo: &Path, branch: &str, base: &str, expected: usize) {
    let actual = worktree::unmerged_commits(repo, branch, base).expect("unmerged_commits");
    let oracle: usize = git(
        repo,
        &[
            "rev-list",
            "--count",
            &format!("{base}..refs/heads/{branch}"),
        ],
    )
    .trim()
    .parse()
    .expect("count");
    assert_eq!(
        (actual, oracle),
        (expected, expected),
        "unmerged_commits({branch}, {base})"
    );
}

#[test]
fn unmerged_commits_counts_what_the_base_does_not_have() {
    let dir = temp();
    let repo = make_repo(&dir, "basic");
    let wt = create(&repo, "s1", "lulu/s1", "HEAD~1");
    check_unmerged(&repo, "lulu/s1", "main", 0);
    check_unmerged(&repo, "main", "lulu/s1", 1);

    write(&wt.join("a.txt"), "a\n");
    git(&wt, &["add", "a.txt"]);
    git(&wt, &["commit", "-q", "-m", "a"]);
    write(&wt.join("b.txt"), "b\n");
    git(&wt, &["add", "b.txt"]);
    git(&wt, &["commit", "-q", "-m", "b"]);
    check_unmerged(&repo, "lulu/s1", "main", 2);
    check_unmerged(&repo, "lulu/s1", "HEAD~1", 2);

    git(&repo, &["merge", "-q", "--no-edit", "lulu/s1"]);
    check_unmerged(&repo, "lulu/s1", "main", 0);

    assert!(matches!(
        worktree::unmerged_commits(&repo, "no/such", "main"),
        Err(worktree::UnmergedError::BranchNotFound { .. })
    ));
    assert!(matches!(
        worktree::unmerged_commits(&repo, "lulu/s1", "nope"),
        Err(worktree::UnmergedError::BaseNotACommit { .. })
    ));
}

// ---------------------------------------------------------------------------------------------------------------------
// remove_worktree, delete_branch, reconcile

fn registered(repo: &Path, path: &Path) -> bool {
    git_worktrees(repo).iter().any(|(listed, _)| listed == path)
}

#[test]
fn remove_refuses_dirty_worktrees_unless_discarding() {
    let dir = temp();
    let repo = make_repo(&dir, "basic");
    let wt = create(&repo, "s1", "lulu/s1", "HEAD");
    write(&wt.join("README.md"), "work in progress\n");
    write(&wt.join("notes.txt"), "untracked\n");

    let error = worktree::remove_worktree(&repo, &wt, RemoveMode::Safe).expect_err("dirty");
    match &error {
        RemoveWorktreeError::Dirty { path, changes } => {
            assert_eq!(path, &wt);
            assert_eq!(changes.changed, vec!["README.md".to_owned()]);
            assert_eq!(changes.untracked, vec!["notes.txt".to_owned()]);
        }
        other => panic!("expected Dirty, got {other:?}"),
    }
    assert!(
        error.to_string().contains(&wt.display().to_string()),
        "{error}"
    );
    assert!(wt.join("notes.txt").exists(), "nothing deleted");
    assert!(registered(&repo, &wt));

    worktree::remove_worktree(&repo, &wt, RemoveMode::DiscardChanges).expect("discard");
    assert!(!wt.exists());
    assert!(!registered(&repo, &wt));
    assert!(!repo.join(".git/worktrees/s1").exists());
    assert_eq!(
        branches(&repo),
        vec!["lulu/s1".to_owned(), "main".to_owned()],
        "branch kept"
    );
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");

    // A clean worktree goes in Safe mode; removing it again is a no-op.
    let clean = create(&repo, "s2", "lulu/s2", "HEAD");
    worktree::remove_worktree(&repo, &clean, RemoveMode::Safe).expect("clean");
    assert!(!clean.exists() && !registered(&repo, &clean));
    worktree::remove_worktree(&repo, &clean, RemoveMode::Safe).expect("already gone");

    // A folder that is not a worktree of this repository is refused and left alone.
    let stranger = dir.path().join("stranger");
    write(&stranger.join("file.txt"), "x\n");
    let error = worktree::remove_worktree(&repo, &stranger, RemoveMode::DiscardChanges)
        .expect_err("not ours");
    assert!(
        matches!(error, RemoveWorktreeError::NotAWorktree { .. }),
        "{error:?}"
    );
    assert!(stranger.join("file.txt").exists());
    // The main worktree is never removed.
    let error =
        worktree::remove_worktree(&repo, &repo, RemoveMode::DiscardChanges).expect_err("main");
    assert!(
        matches!(error, RemoveWorktreeError::NotAWorktree { .. }),
        "{error:?}"
    );
    assert!(repo.join("README.md").exists());
}

#[test]
fn folders_deleted_by_hand_are_pruned_by_remove_and_reconcile() {
    let dir = temp();
    let repo = make_repo(&dir, "basic");
    let a = create(&repo, "a", "lulu/a", "HEAD");
    let b = create(&repo, "b", "lulu/b", "HEAD");
    let c = create(&repo, "c", "lulu/c", "HEAD");
    std::fs::remove_dir_all(&a).expect("rm a");
    std::fs::remove_dir_all(&b).expect("rm b");

    worktree::remove_worktree(&repo, &a, RemoveMode::Safe).expect("prune a");
    assert!(!registered(&repo, &a));

    let root = repo.join(".lulu/worktrees");
    let report = worktree::reconcile(&repo, &root, std::slice::from_ref(&c)).expect("reconcile");
    assert_eq!(report.pruned, vec![b.clone()]);
    assert_eq!(report.orphans, vec![]);
    assert!(!registered(&repo, &b));
    assert!(registered(&repo, &c));
    assert_eq!(
        git(&repo, &["worktree", "prune", "--dry-run", "--verbose"]),
        "",
        "git has nothing left to prune"
    );

    // A locked worktree is neither pruned nor removed, even with its folder gone.
    let locked = create(&repo, "locked", "lulu/locked", "HEAD");
    git(
        &repo,
        &[
            "worktree",
            "lock",
            "--reason",
            "on a USB disk",
            locked.to_str().expect("utf-8"),
        ],
    );
    std::fs::remove_dir_all(&locked).expect("rm locked");
    let report = worktree::reconcile(&repo, &root, std::slice::from_ref(&c)).expect("reconcile");
    assert_eq!(report.pruned, Vec::<PathBuf>::new());
    assert!(registered(&repo, &locked));
    let error =
        worktree::remove_worktree(&repo, &locked, RemoveMode::DiscardChanges).expect_err("locked");
    assert!(
        matches!(error, RemoveWorktreeError::Remove { .. }),
        "{error:?}"
    );
    assert!(registered(&repo, &locked));

    // Branches of pruned worktrees can now be deleted; a checked-out one cannot.
    worktree::delete_branch(&repo, "lulu/b").expect("delete b");
    let error = worktree::delete_branch(&repo, "lulu/c").expect_err("checked out");
    match &error {
        DeleteBranchError::CheckedOut { branch, worktree } => {
            assert_eq!(branch, "lulu/c");
            assert_eq!(worktree, &c);
        }
        other => panic!("expected CheckedOut, got {other:?}"),
    }
    assert!(matches!(
        worktree::delete_branch(&repo, "main"),
        Err(DeleteBranchError::CheckedOut { .. })
    ));
    assert!(matches!(
        worktree::delete_branch(&repo, "lulu/none"),
        Err(DeleteBranchError::BranchNotFound { .. })
    ));
    assert_eq!(
        branches(&repo),
        vec!["lulu/a", "lulu/c", "lulu/locked", "main"]
    );
}

#[test]
fn reconcile_reports_orphan_folders_and_never_deletes_them() {
    let dir = temp();
    let repo = make_repo(&dir, "basic");
    let owned = create(&repo, "owned", "lulu/owned", "HEAD");
    let unowned_clean = create(&repo, "unowned-clean", "lulu/unowned-clean", "HEAD");
    let unowned_dirty = create(&repo, "unowned-dirty", "lulu/unowned-dirty", "HEAD");
    write(&unowned_dirty.join("wip.txt"), "work\n");
    let root = repo.join(".lulu/worktrees");
    let stray = root.join("stray");
    write(&stray.join("file.txt"), "left over\n");
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).expect("empty");
    write(&root.join("not-a-folder.txt"), "x\n");

    let report =
        worktree::reconcile(&repo, &root, std::slice::from_ref(&owned)).expect("reconcile");
    assert_eq!(report.pruned, Vec::<PathBuf>::new());
    assert_eq!(
        report.orphans,
        vec![
            OrphanFolder {
                path: empty.clone(),
                registered: false,
                clean: true
            },
            OrphanFolder {
                path: stray.clone(),
                registered: false,
                clean: false
            },
            OrphanFolder {
                path: unowned_clean.clone(),
                registered: true,
                clean: true
            },
            OrphanFolder {
                path: unowned_dirty.clone(),
                registered: true,
                clean: false
            },
        ]
    );
    for folder in [&owned, &unowned_clean, &unowned_dirty, &stray, &empty] {
        assert!(folder.exists(), "{} kept", folder.display());
    }
    assert!(stray.join("file.txt").exists());

    // A root that does not exist yet has no orphans.
    let report = worktree::reconcile(&repo, &dir.path().join("no-root"), &[]).expect("no root");
    assert_eq!(report.orphans, vec![]);
}

// ---------------------------------------------------------------------------------------------------------------------
// diff_against

/// The oracle: `git diff --numstat` and `--name-status` with exact renames, of the worktree as it is on disk
/// (untracked files included through a throwaway index) against `base`.
fn git_diff(worktree_path: &Path, base: &str) -> Vec<FileChange> {
    let index_dir = temp();
    let index = index_dir.path().join("index");
    let run = |args: &[&str]| -> String {
        let output = git_command(worktree_path, args)
            .env("GIT_INDEX_FILE", &index)
            .output()
            .expect("git");
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8")
    };
    run(&["read-tree", "HEAD"]);
    run(&["add", "-A"]);
    let numstat = run(&["diff", "--cached", "-z", "--numstat", "-M100%", base]);
    let name_status = run(&["diff", "--cached", "-z", "--name-status", "-M100%", base]);

    let mut statuses = std::collections::BTreeMap::new();
    let mut fields = name_status.split('\0').filter(|f| !f.is_empty());
    while let Some(code) = fields.next() {
        let (status, old_path, path) = match &code[..1] {
            "A" => (ChangeStatus::Added, None, fields.next()),
            "M" => (ChangeStatus::Modified, None, fields.next()),
            "D" => (ChangeStatus::Deleted, None, fields.next()),
            "R" => {
                let old = fields.next().map(str::to_owned);
                (ChangeStatus::Renamed, old, fields.next())
            }
            other => panic!("unexpected status {other}"),
        };
        statuses.insert(path.expect("path").to_owned(), (status, old_path));
    }
    let mut changes = Vec::new();
    let mut fields = numstat.split('\0');
    while let Some(head) = fields.next() {
        if head.is_empty() {
            continue;
        }
        let mut parts = head.splitn(3, '\t');
        let additions = parts.next().expect("additions");
        let deletions = parts.next().expect("deletions");
        let path = match parts.next().expect("path") {
            "" => {
                fields.next();
                fields.next().expect("new path").to_owned()
            }
            path => path.to_owned(),
        };
        let (status, old_path) = statuses.remove(&path).expect("status for path");
        changes.push(FileChange {
            path,
            status,
            old_path,
            additions: additions.parse().unwrap_or(0),
            deletions: deletions.parse().unwrap_or(0),
        });
    }
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    changes
}

fn check_diff(
    worktree_path: &Path,
    base: &str,
    expected: &[(&str, ChangeStatus, Option<&str>, u64, u64)],
) {
    let actual = worktree::diff_against(worktree_path, base).expect("diff_against");
    let expected: Vec<FileChange> = expected
        .iter()
        .map(
            |(path, status, old_path, additions, deletions)| FileChange {
                path: path.to_string(),
                status: *status,
                old_path: old_path.map(str::to_owned),
                additions: *additions,
                deletions: *deletions,
            },
        )
        .collect();
    assert_eq!(actual, expected);
    assert_eq!(
        actual,
        git_diff(worktree_path, base),
        "agrees with git diff --numstat"
    );
}

#[test]
fn diff_against_sees_committed_uncommitted_untracked_renamed_deleted_and_binary() {
    use ChangeStatus::*;
    let dir = temp();
    let repo = make_repo(&dir, "basic");
    let base = worktree::resolve_commit(&repo, "HEAD").expect("base");
    let wt = create(&repo, "s1", "lulu/s1", &base);
    check_diff(&wt, &base, &[]);

    // Committed: a modification, a new file, an exact rename.
    write(
        &wt.join("README.md"),
        "# Fixture project\n\nRewritten by an agent.\nAnd more.\n",
    );
    write(&wt.join("docs/guide.md"), "one\ntwo\nthree\n");
    git(&wt, &["mv", "src/lib.txt", "src/moved.txt"]);
    git(&wt, &["add", "-A"]);
    git(&wt, &["commit", "-q", "-m", "agent work"]);
    check_diff(
        &wt,
        &base,
        &[
            ("README.md", Modified, None, 2, 1),
            ("docs/guide.md", Added, None, 3, 0),
            ("src/moved.txt", Renamed, Some("src/lib.txt"), 0, 0),
        ],
    );

    // Uncommitted on top: edit a committed file, delete a tracked one, untracked text and binary files,
    // an ignored file (not counted), a file without a final newline.
    write(&wt.join("docs/guide.md"), "one\n2\nthree\nfour");
    std::fs::remove_file(wt.join(".gitignore")).expect("delete .gitignore");
    write(&wt.join(".gitignore"), "target/\n*.log\n# and more\n");
    write(&wt.join("image.bin"), [0u8, 159, 146, 150, 0, 1, 2, 3]);
    write(&wt.join("notes/todo.txt"), "a\nb\n");
    write(&wt.join("debug.log"), "ignored\n");
    check_diff(
        &wt,
        &base,
        &[
            (".gitignore", Modified, None, 1, 0),
            ("README.md", Modified, None, 2, 1),
            ("docs/guide.md", Added, None, 4, 0),
            ("image.bin", Added, None, 0, 0),
            ("notes/todo.txt", Added, None, 2, 0),
            ("src/moved.txt", Renamed, Some("src/lib.txt"), 0, 0),
        ],
    );

    // A deleted file, and a binary file changed in a tracked path.
    std::fs::remove_file(wt.join("README.md")).expect("delete README");
    git(&wt, &["add", "image.bin"]);
    git(&wt, &["commit", "-q", "-m", "binary"]);
    write(&wt.join("image.bin"), [1u8, 0, 2]);
    check_diff(
        &wt,
        &base,
        &[
            (".gitignore", Modified, None, 1, 0),
            ("README.md", Deleted, None, 0, 3),
            ("docs/guide.md", Added, None, 4, 0),
            ("image.bin", Added, None, 0, 0),
            ("notes/todo.txt", Added, None, 2, 0),
            ("src/moved.txt", Renamed, Some("src/lib.txt"), 0, 0),
        ],
    );

    // Against an older base, the fourth line of src/lib.txt counts too, and the rename becomes a change.
    let older = worktree::resolve_commit(&repo, "v1").expect("v1");
    let actual = worktree::diff_against(&wt, &older).expect("older base");
    assert_eq!(actual, git_diff(&wt, &older));

    let error = worktree::diff_against(&wt, "nope").expect_err("bad base");
    assert!(
        matches!(error, worktree::DiffError::BaseNotACommit { .. }),
        "{error:?}"
    );
}

/// Every file of `worktree_path` has the content and mode of `HEAD`'s tree, as git hashes it.
fn check_checkout_matches_head(worktree_path: &Path) {
    let tree = git(worktree_path, &["ls-tree", "-r", "HEAD"]);
    let mut regular = Vec::new();
    for line in tree.lines() {
        let (meta, path) = line.split_once('\t').expect("ls-tree line");
        let mut fields = meta.split(' ');
        let mode = fields.next().expect("mode");
        let id = fields.nth(1).expect("id");
        let file = worktree_path.join(path);
        match mode {
            "120000" => {
                let target = std::fs::read_link(&file).expect("symlink");
                let blob = git(worktree_path, &["cat-file", "blob", id]);
                assert_eq!(target.to_str(), Some(blob.as_str()), "{path}");
            }
            "100755" | "100644" => {
                use std::os::unix::fs::PermissionsExt as _;
                let executable =
                    std::fs::metadata(&file).expect("file").permissions().mode() & 0o111 != 0;
                assert_eq!(executable, mode == "100755", "{path} mode");
                regular.push((path.to_owned(), id.to_owned()));
            }
            other => panic!("unexpected mode {other} for {path}"),
        }
    }
    let mut args = vec!["hash-object", "--"];
    args.extend(regular.iter().map(|(path, _)| path.as_str()));
    let hashes = git(worktree_path, &args);
    let actual: Vec<&str> = hashes.lines().collect();
    let expected: Vec<&str> = regular.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(actual, expected, "file contents match HEAD");
    assert_eq!(git(worktree_path, &["status", "--porcelain"]), "");
}

#[test]
fn checkout_writes_packed_loose_large_empty_executable_and_symlinked_files() {
    let dir = temp();
    let repo = make_repo(&dir, "basic");
    // Packed objects first, then loose ones on top: the checkout reads both kinds.
    git(&repo, &["repack", "-adq"]);
    write(&repo.join("bin/run.sh"), "#!/bin/sh\necho run\n");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(
            repo.join("bin/run.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .expect("chmod");
    }
    std::os::unix::fs::symlink("../README.md", repo.join("bin/readme-link")).expect("symlink");
    write(&repo.join("empty.txt"), "");
    // Compresses to far less than a quarter of its size: the inflate buffer has to grow.
    write(
        &repo.join("large.txt"),
        "all work and no play\n".repeat(20_000),
    );
    let random: Vec<u8> = (0..50_000u32)
        .map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    write(&repo.join("noise.bin"), random);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "special files"]);
    let loose = git(&repo, &["count-objects"]);
    assert!(
        !loose.starts_with("0 objects"),
        "some objects are loose: {loose}"
    );

    let wt = create(&repo, "s1", "lulu/s1", "HEAD");
    check_checkout_matches_head(&wt);
    let fsck = git_command(&repo, &["fsck", "--strict"])
        .output()
        .expect("fsck");
    assert!(
        fsck.status.success(),
        "git fsck: {}",
        String::from_utf8_lossy(&fsck.stderr)
    );

    // A fully packed repository too.
    git(&repo, &["repack", "-adq"]);
    git(&repo, &["prune-packed"]);
    let wt2 = create(&repo, "s2", "lulu/s2", "HEAD~1");
    check_checkout_matches_head(&wt2);
}

/// After creating a worktree at `relative` (inside the repo), `info/exclude` holds exactly `expected_lines`
/// (lulu's lines only) and the main checkout's status is unchanged.
fn check_exclude(repo: &Path, relative: &str, branch: &str, expected_lines: &[&str]) {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |path: &Path| {
        std::fs::metadata(path)
            .expect("exclude file")
            .permissions()
            .mode()
    };
    let exclude_file = repo.join(".git/info/exclude");
    let mode_before = mode(&exclude_file);
    let status_before = git(repo, &["status", "--porcelain", "--untracked-files=all"]);
    let path = repo.join(relative);
    worktree::create_worktree(&CreateWorktree {
        repo,
        worktree_path: &path,
        branch,
        base_commit: "HEAD",
    })
    .expect("create");
    let exclude = std::fs::read_to_string(repo.join(".git/info/exclude")).expect("exclude");
    let lulu_lines: Vec<&str> = exclude
        .lines()
        .filter(|line| line.starts_with('/'))
        .collect();
    assert_eq!(lulu_lines, expected_lines, "after {relative}");
    assert_eq!(
        mode(&exclude_file),
        mode_before,
        "permissions of info/exclude kept"
    );
    assert_eq!(
        git(repo, &["status", "--porcelain", "--untracked-files=all"]),
        status_before,
        "main checkout unchanged after {relative}"
    );
}

#[test]
fn exclude_names_the_shallowest_untracked_folder_once() {
    let dir = temp();
    let repo = make_repo(&dir, "basic");
    // The user's own untracked file in a tracked folder must stay visible.
    write(&repo.join("src/mine.txt"), "user's work\n");
    check_exclude(&repo, ".lulu/worktrees/a", "lulu/a", &["/.lulu/"]);
    check_exclude(&repo, ".lulu/worktrees/b", "lulu/b", &["/.lulu/"]);
    check_exclude(
        &repo,
        "src/sessions/c",
        "lulu/c",
        &["/.lulu/", "/src/sessions/"],
    );
    check_exclude(
        &repo,
        "src/sessions/d",
        "lulu/d",
        &["/.lulu/", "/src/sessions/"],
    );
    let status = git(&repo, &["status", "--porcelain", "--untracked-files=all"]);
    assert_eq!(status, "?? src/mine.txt\n");
}

#[test]
fn concurrent_creations_in_one_repository_all_succeed() {
    let dir = temp();
    let repo = make_repo(&dir, "basic");
    let names: Vec<String> = (0..4).map(|n| format!("c{n}")).collect();
    std::thread::scope(|scope| {
        for name in &names {
            let repo = &repo;
            scope.spawn(move || create(repo, name, &format!("lulu/{name}"), "HEAD"));
        }
    });
    let listed = git_worktrees(&repo);
    assert_eq!(listed.len(), 5, "{listed:?}");
    for name in &names {
        let path = repo.join(".lulu/worktrees").join(name);
        assert!(registered(&repo, &path), "{name}");
        assert_eq!(git(&path, &["status", "--porcelain"]), "");
    }
    let exclude = std::fs::read_to_string(repo.join(".git/info/exclude")).expect("exclude");
    assert_eq!(exclude.matches("/.lulu/").count(), 1, "{exclude}");
    assert!(!repo.join(".git/info/exclude.lock").exists());
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
}

#[test]
fn diff_against_honours_binary_attributes_and_eol_conversion() {
    use ChangeStatus::*;
    let dir = temp();
    let repo = make_repo(&dir, "basic");
    write(
        &repo.join(".gitattributes"),
        "*.dat -diff\n*.crlf text eol=crlf\n",
    );
    write(&repo.join("notes.crlf"), "one\ntwo\n");
    write(&repo.join("data/.gitattributes"), "*.raw binary\n");
    write(&repo.join("data/table.dat"), "1\n2\n");
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "attributes"]);
    let base = worktree::resolve_commit(&repo, "HEAD").expect("base");
    let wt = create(&repo, "s1", "lulu/s1", &base);

    assert_eq!(
        std::fs::read_to_string(wt.join("notes.crlf")).expect("checked out"),
        "one\r\ntwo\r\n",
        "checkout converts to CRLF"
    );
    write(&wt.join("notes.crlf"), "one\r\ntwo\r\nthree\r\n");
    write(&wt.join("fresh.crlf"), "a\r\nb\r\n");
    write(&wt.join("data/table.dat"), "1\n2\n3\n");
    write(&wt.join("data/new.raw"), "text marked binary\n");
    write(&wt.join("data/plain.txt"), "counted\n");
    check_diff(
        &wt,
        &base,
        &[
            ("data/new.raw", Added, None, 0, 0),
            ("data/plain.txt", Added, None, 1, 0),
            ("data/table.dat", Modified, None, 0, 0),
            ("fresh.crlf", Added, None, 2, 0),
            ("notes.crlf", Modified, None, 1, 0),
        ],
    );
}
