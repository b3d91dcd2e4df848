//! The change feed: turns database changes into notifications.
//!
//! Everything comes from the database, never from in-process events, so sessions spawned by
//! the CLI, by another server, or before this server started all show up the same way.
//!
//! - One poller task watches `PRAGMA data_version` (it changes when any other connection
//!   commits) and reads the rows whose `change_seq` passed its cursor, and the tombstones of
//!   removed rows. It sends `lulu/sessionChanged` at once when a row's status, name or failure
//!   reason changed, and at most once a second per session when only its activity did; and
//!   `lulu/sessionRemoved`; and `lulu/commentsChanged` for sessions stamped in `comment_changes`.
//! - One task per watched session pulls `lulu/output` batches from the database with its own
//!   `seq` cursor. It fetches the next batch only once the previous one was handed to the
//!   client, so a client that reads slowly costs one batch of memory per watch and slows
//!   nobody else.
//!
//! Database work runs in `spawn_blocking`; the store's lock is never held across an await.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rustix::fs::inotify;
use tokio::{sync::watch, task::JoinHandle};
use tower_lsp_server::Client;

use lulu_core::{
    model::{Session, SessionId},
    store::{Store, StoreError},
};

use crate::protocol::{
    Approval, ApprovalRequested, ApprovalRequestedParams, ApprovalResolved, ApprovalResolvedParams,
    CommentsChanged, CommentsChangedParams, Output, OutputParams, SessionChanged,
    SessionChangedParams, SessionRemoved, SessionRemovedParams, SessionRow, TranscriptEvent,
};

/// How often the poller looks at `data_version` when it cannot watch the state dir.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// How often the poller looks at `data_version` without being woken: the safety net for a
/// change inotify did not report.
pub const SAFETY_POLL: Duration = Duration::from_secs(5);
/// The least time between two activity-only `sessionChanged` of one session.
pub const ACTIVITY_INTERVAL: Duration = Duration::from_secs(1);
/// How long the feed waits after a database error before it tries again.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Rows read per poll.
const CHANGES_BATCH: usize = 1000;
/// Events per `lulu/output` notification.
pub const OUTPUT_BATCH: usize = 500;
/// Roughly the most text one `lulu/output` carries (a batch always has at least one event).
pub const OUTPUT_BATCH_BYTES: usize = 1024 * 1024;

/// Which sessions' changes this client hears about.
#[derive(Debug, Clone, Default)]
struct Scope {
    /// Every repository (the client listed with `allRepos`).
    all: bool,
    repos: Vec<PathBuf>,
}

impl Scope {
    fn covers(&self, repo: &std::path::Path) -> bool {
        self.all || self.repos.iter().any(|candidate| candidate == repo)
    }
}

struct Watcher {
    /// The highest `seq` the poller saw in the session's row.
    last_seq: watch::Sender<i64>,
    task: JoinHandle<()>,
}

struct Shared {
    client: Client,
    store: Arc<Mutex<Store>>,
    changes: ChangeSignal,
    scope: Mutex<Scope>,
    watchers: Mutex<HashMap<SessionId, Watcher>>,
}

/// The feed of one server. Cheap to clone.
#[derive(Clone)]
pub struct Feed {
    shared: Arc<Shared>,
    poller: Arc<Mutex<Option<JoinHandle<()>>>>,
}

/// Runs `work` on the store in a blocking thread.
async fn with_store<T: Send + 'static>(
    store: &Arc<Mutex<Store>>,
    work: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, FeedError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let guard = store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        work(&guard)
    })
    .await
    .map_err(|error| FeedError::Panicked(error.to_string()))?
    .map_err(FeedError::Store)
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("the change feed could not open the database")]
    Open(#[source] lulu_core::store::OpenError),
    #[error("the change feed could not read the database")]
    Store(#[source] StoreError),
    #[error("the change feed's database work panicked: {0}")]
    Panicked(String),
}

impl Feed {
    /// A feed over its own connection to the database in `state_dir` (opened in a blocking
    /// thread), covering the sessions of `repos`.
    pub async fn open(
        client: Client,
        state_dir: PathBuf,
        repos: Vec<PathBuf>,
    ) -> Result<Feed, FeedError> {
        let changes = ChangeSignal::watch(&state_dir);
        let store = tokio::task::spawn_blocking(move || Store::open(&state_dir))
            .await
            .map_err(|error| FeedError::Panicked(error.to_string()))?
            .map_err(FeedError::Open)?;
        Ok(Feed {
            shared: Arc::new(Shared {
                client,
                store: Arc::new(Mutex::new(store)),
                changes,
                scope: Mutex::new(Scope { all: false, repos }),
                watchers: Mutex::new(HashMap::new()),
            }),
            poller: Arc::new(Mutex::new(None)),
        })
    }

    /// Starts the poller (once). Changes from now on are notified.
    pub fn start(&self) {
        let mut poller = self.poller.lock().unwrap_or_else(|p| p.into_inner());
        if poller.is_none() {
            let shared = self.shared.clone();
            *poller = Some(tokio::spawn(async move {
                if let Err(error) = poll_changes(shared).await {
                    tracing::error!("the change feed stopped: {error}: {:?}", error);
                }
            }));
        }
    }

    /// Stops the poller and every watcher.
    pub fn stop(&self) {
        if let Some(poller) = self.poller.lock().unwrap_or_else(|p| p.into_inner()).take() {
            poller.abort();
        }
        let mut watchers = self
            .shared
            .watchers
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for (_, watcher) in watchers.drain() {
            watcher.task.abort();
        }
    }

    /// Widens the scope of `sessionChanged` to every repository.
    pub fn cover_all_repos(&self) {
        self.shared
            .scope
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .all = true;
    }

    /// Adds a repository to the scope of `sessionChanged`.
    pub fn cover_repo(&self, repo: PathBuf) {
        let mut scope = self.shared.scope.lock().unwrap_or_else(|p| p.into_inner());
        if !scope.repos.contains(&repo) {
            scope.repos.push(repo);
        }
    }

    /// Streams `id`'s events after `after_seq` as `lulu/output`, then live. A second watch of
    /// the same session replaces the first.
    pub fn watch(&self, id: SessionId, after_seq: i64) {
        let (last_seq, receiver) = watch::channel(0);
        let task = tokio::spawn(stream_output(
            self.shared.clone(),
            id.clone(),
            after_seq,
            receiver,
        ));
        let previous = self
            .shared
            .watchers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, Watcher { last_seq, task });
        if let Some(previous) = previous {
            previous.task.abort();
        }
    }

    /// Stops streaming `id`. Returns whether it was watched.
    pub fn unwatch(&self, id: &SessionId) -> bool {
        let removed = self
            .shared
            .watchers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        match removed {
            Some(watcher) => {
                watcher.task.abort();
                true
            }
            None => false,
        }
    }
}

/// Wakes the poller when the database may have changed: inotify on the state dir, where every
/// commit writes `lulu.db-wal` (or `lulu.db`) and reading writes nothing. A thread of its own
/// sleeps in `read` on the inotify descriptor and stores a permit in a `Notify`, so a change
/// between two waits is not missed. Without inotify (out of instances), the poller falls back
/// to polling every [`POLL_INTERVAL`].
struct ChangeSignal {
    changed: Option<Arc<tokio::sync::Notify>>,
}

impl ChangeSignal {
    fn watch(state_dir: &Path) -> ChangeSignal {
        match watch_dir(state_dir) {
            Ok(changed) => ChangeSignal {
                changed: Some(changed),
            },
            Err(error) => {
                tracing::warn!(state_dir = %state_dir.display(), %error, "cannot watch the state dir; polling the database every {POLL_INTERVAL:?}");
                ChangeSignal { changed: None }
            }
        }
    }

    /// Returns when the database may have changed, or after `timeout`.
    async fn wait(&self, timeout: Duration) {
        match &self.changed {
            Some(changed) => {
                let _ = tokio::time::timeout(timeout, changed.notified()).await;
            }
            None => tokio::time::sleep(timeout.min(POLL_INTERVAL)).await,
        }
    }
}

fn watch_dir(state_dir: &Path) -> std::io::Result<Arc<tokio::sync::Notify>> {
    let fd = inotify::init(inotify::CreateFlags::CLOEXEC)?;
    inotify::add_watch(
        &fd,
        state_dir,
        inotify::WatchFlags::MODIFY | inotify::WatchFlags::CREATE | inotify::WatchFlags::MOVED_TO,
    )?;
    let changed = Arc::new(tokio::sync::Notify::new());
    let notify = changed.clone();
    std::thread::Builder::new()
        .name("lulu-feed-inotify".to_owned())
        .stack_size(64 * 1024)
        .spawn(move || {
            let mut buffer = [0_u8; 4096];
            loop {
                match rustix::io::read(&fd, &mut buffer) {
                    Ok(_) | Err(rustix::io::Errno::INTR) => notify.notify_one(),
                    Err(error) => {
                        tracing::warn!(%error, "watching the state dir failed; the feed polls every {SAFETY_POLL:?}");
                        return;
                    }
                }
            }
        })?;
    Ok(changed)
}

/// What was last sent for a session.
struct Sent {
    row: SessionRow,
    at: Instant,
}

/// The feed's cursors: how far each kind of change has been read.
#[derive(Debug, Clone, Copy)]
struct Cursors {
    sessions: i64,
    removed: i64,
    comments: i64,
    approvals: i64,
}

/// One poll's reading of the database.
#[derive(Default)]
struct Polled {
    changed: Vec<Session>,
    removed: Vec<(SessionId, i64)>,
    comments_changed: Vec<(SessionId, i64)>,
    approvals: Vec<(lulu_core::store::Approval, PathBuf)>,
}

/// The poller's state between polls.
struct Poller {
    shared: Arc<Shared>,
    cursors: Cursors,
    version: i64,
    sent: HashMap<SessionId, Sent>,
    /// Activity-only changes held back until their second is up: the newest row of each.
    held: HashMap<SessionId, SessionRow>,
    /// The last poll filled a batch: read again without waiting.
    more: bool,
}

async fn poll_changes(shared: Arc<Shared>) -> Result<(), FeedError> {
    let mut poller = Poller::start(shared).await;
    loop {
        if !poller.more {
            poller.shared.changes.wait(poller.wait_time()).await;
        }
        let Some(polled) = poller.poll().await else {
            continue;
        };
        // Approvals first: a request is what a person waits for.
        for (approval, repo) in polled.approvals {
            poller.cursors.approvals = poller.cursors.approvals.max(approval.change_seq);
            send_approval(&poller.shared, &approval, &repo).await;
        }
        poller.deliver_changed(polled.changed).await;
        poller.deliver_removed(polled.removed).await;
        poller
            .deliver_comments_changed(polled.comments_changed)
            .await;
        poller.send_due().await;
    }
}

impl Poller {
    /// Reads where the feed starts (retrying until the database answers) and announces the
    /// approvals pending now.
    async fn start(shared: Arc<Shared>) -> Poller {
        let (cursor, version) = loop {
            let read = with_store(&shared.store, |store| {
                Ok((store.change_seq()?, store.data_version()?))
            })
            .await;
            match read {
                Ok(start) => break start,
                Err(error) => {
                    tracing::error!(
                        "the change feed cannot start, retrying in a second: {error}: {error:?}"
                    );
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            }
        };
        let approvals = announce_pending_approvals(&shared).await;
        Poller {
            shared,
            cursors: Cursors {
                sessions: cursor,
                removed: cursor,
                comments: cursor,
                approvals,
            },
            version,
            sent: HashMap::new(),
            held: HashMap::new(),
            more: true,
        }
    }

    /// How long to wait for a wake-up: until the first held row is due, at most `SAFETY_POLL`.
    fn wait_time(&self) -> Duration {
        self.held
            .keys()
            .filter_map(|id| self.sent.get(id))
            .map(|sent| (sent.at + ACTIVITY_INTERVAL).saturating_duration_since(Instant::now()))
            .min()
            .map_or(SAFETY_POLL, |due| due.min(SAFETY_POLL))
    }

    /// Reads what changed past the cursors; `None` after a database error (logged, waited
    /// out; the cursors stay, so nothing is skipped).
    async fn poll(&mut self) -> Option<Polled> {
        let (known_version, more, cursors) = (self.version, self.more, self.cursors);
        let polled = with_store(&self.shared.store, move |store| {
            let now_version = store.data_version()?;
            if now_version == known_version && !more {
                return Ok((now_version, Polled::default()));
            }
            let polled = Polled {
                changed: store.changed_since(cursors.sessions, CHANGES_BATCH)?,
                removed: store.removed_since(cursors.removed)?,
                comments_changed: store.comments_changed_since(cursors.comments)?,
                approvals: store.approvals_changed_since(cursors.approvals, CHANGES_BATCH)?,
            };
            Ok((now_version, polled))
        })
        .await;
        match polled {
            Ok((now_version, polled)) => {
                self.version = now_version;
                self.more = polled.changed.len() >= CHANGES_BATCH
                    || polled.approvals.len() >= CHANGES_BATCH;
                Some(polled)
            }
            Err(error) => {
                tracing::error!(
                    "the change feed could not poll, retrying in a second: {error}: {error:?}"
                );
                tokio::time::sleep(RETRY_AFTER).await;
                self.more = true;
                None
            }
        }
    }

    async fn deliver_changed(&mut self, changed: Vec<Session>) {
        for session in changed {
            self.cursors.sessions = self.cursors.sessions.max(session.change_seq);
            note_last_seq(&self.shared, &session);
            if !self
                .shared
                .scope
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .covers(&session.repo)
            {
                continue;
            }
            let row = SessionRow::from(&session);
            let previous = self
                .sent
                .get(&session.id)
                .map(|previous| (&previous.row, previous.at.elapsed()));
            match decide(previous, &row) {
                Decision::Skip => {
                    self.held.remove(&session.id);
                }
                Decision::SendNow => {
                    self.held.remove(&session.id);
                    send_changed(&self.shared, &mut self.sent, session.id, row).await;
                }
                Decision::Hold => {
                    self.held.insert(session.id, row);
                }
            }
        }
    }

    async fn deliver_removed(&mut self, removed: Vec<(SessionId, i64)>) {
        for (id, change_seq) in removed {
            self.cursors.removed = self.cursors.removed.max(change_seq);
            self.sent.remove(&id);
            self.held.remove(&id);
            let watcher = self
                .shared
                .watchers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            if let Some(watcher) = watcher {
                watcher.task.abort();
            }
            self.shared
                .client
                .send_notification::<SessionRemoved>(SessionRemovedParams { id: id.0 })
                .await;
        }
    }

    /// Every client hears of every session's comments (drafts are shared by all windows).
    async fn deliver_comments_changed(&mut self, comments_changed: Vec<(SessionId, i64)>) {
        for (id, change_seq) in comments_changed {
            self.cursors.comments = self.cursors.comments.max(change_seq);
            self.shared
                .client
                .send_notification::<CommentsChanged>(CommentsChangedParams { id: id.0 })
                .await;
        }
    }

    /// Sends the held rows whose second is up.
    async fn send_due(&mut self) {
        let due: Vec<SessionId> = self
            .held
            .keys()
            .filter(|id| {
                self.sent
                    .get(*id)
                    .is_none_or(|sent| sent.at.elapsed() >= ACTIVITY_INTERVAL)
            })
            .cloned()
            .collect();
        for id in due {
            if let Some(row) = self.held.remove(&id) {
                send_changed(&self.shared, &mut self.sent, id, row).await;
            }
        }
    }
}

/// Sends `lulu/approvalRequested` for every pending approval in scope; returns the approval
/// cursor to go on from.
async fn announce_pending_approvals(shared: &Arc<Shared>) -> i64 {
    loop {
        let read = with_store(&shared.store, |store| {
            Ok((
                store.approval_change_seq()?,
                store.pending_approvals_with_repo()?,
            ))
        })
        .await;
        match read {
            Ok((cursor, pending)) => {
                for (approval, repo) in pending {
                    send_approval(shared, &approval, &repo).await;
                }
                return cursor;
            }
            Err(error) => {
                tracing::error!(
                    "the change feed cannot read approvals, retrying in a second: {error}: {error:?}"
                );
                tokio::time::sleep(RETRY_AFTER).await;
            }
        }
    }
}

/// `lulu/approvalRequested` for a pending approval, `lulu/approvalResolved` for a resolved one,
/// when its session's repository is in this client's scope.
async fn send_approval(
    shared: &Shared,
    approval: &lulu_core::store::Approval,
    repo: &std::path::Path,
) {
    if !shared
        .scope
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .covers(repo)
    {
        return;
    }
    match ApprovalResolvedParams::of(approval) {
        Some(resolved) => {
            shared
                .client
                .send_notification::<ApprovalResolved>(resolved)
                .await;
        }
        None => {
            shared
                .client
                .send_notification::<ApprovalRequested>(ApprovalRequestedParams {
                    approval: Approval::from(approval),
                })
                .await;
        }
    }
}

/// What to do with a changed row, given what was last sent for it and how long ago.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// Nothing the client sees changed.
    Skip,
    SendNow,
    /// Only the activity moved, within a second of the last send: send it when the second is up.
    Hold,
}

fn decide(previous: Option<(&SessionRow, Duration)>, row: &SessionRow) -> Decision {
    match previous {
        None => Decision::SendNow,
        Some((previous, _)) if previous == row => Decision::Skip,
        Some((previous, since)) => {
            if previous.status != row.status
                || previous.name != row.name
                || previous.failure_reason != row.failure_reason
                || since >= ACTIVITY_INTERVAL
            {
                Decision::SendNow
            } else {
                Decision::Hold
            }
        }
    }
}

fn note_last_seq(shared: &Shared, session: &Session) {
    let watchers = shared.watchers.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(watcher) = watchers.get(&session.id) {
        watcher.last_seq.send_if_modified(|known| {
            if session.last_seq > *known {
                *known = session.last_seq;
                true
            } else {
                false
            }
        });
    }
}

async fn send_changed(
    shared: &Shared,
    sent: &mut HashMap<SessionId, Sent>,
    id: SessionId,
    row: SessionRow,
) {
    sent.insert(
        id,
        Sent {
            row: row.clone(),
            at: Instant::now(),
        },
    );
    shared
        .client
        .send_notification::<SessionChanged>(SessionChangedParams { session: row })
        .await;
}

/// How many of the next events (of these sizes, in bytes) go in one `lulu/output`: as many as
/// fit in `limit`, and always at least one, however large, so that the stream moves on.
fn events_that_fit(sizes: impl Iterator<Item = usize>, limit: usize) -> usize {
    let mut total = 0;
    let mut count = 0;
    for size in sizes {
        total += size;
        if count > 0 && total > limit {
            break;
        }
        count += 1;
    }
    count
}

/// One watcher: every event after `after_seq`, in order, in batches, then live.
async fn stream_output(
    shared: Arc<Shared>,
    id: SessionId,
    mut after_seq: i64,
    mut last_seq: watch::Receiver<i64>,
) {
    loop {
        let session = id.clone();
        let events = with_store(&shared.store, move |store| {
            store.events(&session, after_seq, OUTPUT_BATCH)
        })
        .await;
        let events = match events {
            Ok(events) => events,
            Err(error) => {
                tracing::error!(session = %id, "could not read the transcript: {error}: {error:?}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if events.is_empty() {
            let from = after_seq;
            if last_seq.wait_for(|known| *known > from).await.is_err() {
                return;
            }
            continue;
        }
        let count = events_that_fit(
            events.iter().map(|event| {
                event.text.len()
                    + event.kind.len()
                    + event.data.as_ref().map_or(0, |data| data.to_string().len())
                    + 64
            }),
            OUTPUT_BATCH_BYTES,
        );
        let batch: Vec<TranscriptEvent> = events
            .iter()
            .take(count)
            .map(TranscriptEvent::from)
            .collect();
        let Some(last) = batch.last() else {
            continue;
        };
        after_seq = last.seq;
        let events = batch;
        shared
            .client
            .send_notification::<Output>(OutputParams {
                id: id.0.clone(),
                events,
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_batches_fit_their_byte_limit_but_always_move_on() {
        let check = |sizes: &[usize], expected: usize| {
            assert_eq!(
                events_that_fit(sizes.iter().copied(), 100),
                expected,
                "{sizes:?}"
            );
        };
        check(&[], 0);
        check(&[10], 1);
        check(&[40, 40, 20], 3);
        check(&[40, 40, 21], 2);
        check(&[500], 1);
        check(&[500, 1], 1);
        check(&[1, 500], 1);
    }

    fn row(status: &str, name: &str, activity: &str, reason: Option<&str>) -> SessionRow {
        SessionRow {
            id: "s".to_owned(),
            name: name.to_owned(),
            repo: "/r".to_owned(),
            status: status.to_owned(),
            created_at: "2026-01-01T00:00:00.000Z".to_owned(),
            last_activity_at: activity.to_owned(),
            failure_reason: reason.map(str::to_owned),
        }
    }

    fn check(previous: Option<(SessionRow, u64)>, next: SessionRow, expected: Decision) {
        let previous = previous
            .as_ref()
            .map(|(row, millis)| (row, Duration::from_millis(*millis)));
        assert_eq!(
            decide(previous, &next),
            expected,
            "{previous:?} -> {next:?}"
        );
    }

    #[test]
    fn status_name_and_reason_go_at_once_activity_once_a_second() {
        let running = |activity| row("running", "a", activity, None);
        check(None, running("t1"), Decision::SendNow);
        check(Some((running("t1"), 5)), running("t1"), Decision::Skip);
        check(Some((running("t1"), 5)), running("t2"), Decision::Hold);
        check(Some((running("t1"), 999)), running("t2"), Decision::Hold);
        check(
            Some((running("t1"), 1000)),
            running("t2"),
            Decision::SendNow,
        );
        check(
            Some((running("t1"), 5)),
            row("completed", "a", "t1", None),
            Decision::SendNow,
        );
        check(
            Some((running("t1"), 5)),
            row("running", "b", "t1", None),
            Decision::SendNow,
        );
        check(
            Some((row("failed", "a", "t1", Some("x")), 5)),
            row("failed", "a", "t1", Some("y")),
            Decision::SendNow,
        );
    }
}
