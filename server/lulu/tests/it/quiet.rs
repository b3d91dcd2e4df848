//! Quiet and flat (issue 10): what reading commands cost beside a busy writer, against the real
//! binary and the real SQLite file.

use crate::sessions::World;

/// A reading command beside a writer that holds the write lock (a runner storing a flood of
/// output): it reads, and neither waits for the lock nor fails. Before the fix every `lulu ls`,
/// `show` and `logs` took the write lock to give back stale port leases, even with none to give
/// back: each waited the whole busy timeout (30 s) and warned "reconciliation failed".
#[test]
fn reading_commands_do_not_wait_for_a_writer() {
    let world = World::new();
    let id = world.spawn(&["--agent", "text", "read me [lines 3]"]);
    world.wait_ended(&id);
    let writer = rusqlite::Connection::open(world.state_dir.join("lulu.db")).expect("open");
    writer
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    for args in [
        vec!["ls"],
        vec!["ls", "--all", "--json"],
        vec!["show", &id],
        vec!["logs", &id],
    ] {
        let output = world.run(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "lulu {args:?} failed: {stderr}");
        assert_eq!(stderr, "", "lulu {args:?} said something on stderr");
        assert!(!output.stdout.is_empty(), "lulu {args:?} printed nothing");
    }
    writer.execute_batch("COMMIT").expect("release the lock");
}
