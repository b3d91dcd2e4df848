//! Review comments on a session's diff: drafts until a review sends them, then sent for good.
//!
//! Every write stamps the session in `comment_changes` with the global change counter, so the
//! change feed tells every client (`lulu/commentsChanged`) whichever process wrote.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use crate::model::SessionId;

use super::*;

/// Which side of the diff a comment is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentSide {
    /// The worktree's version of the file (the default).
    New,
    /// The base commit's version of the file.
    Old,
}

impl CommentSide {
    pub fn as_str(self) -> &'static str {
        match self {
            CommentSide::New => "new",
            CommentSide::Old => "old",
        }
    }
}

impl std::str::FromStr for CommentSide {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "new" => Ok(CommentSide::New),
            "old" => Ok(CommentSide::Old),
            other => Err(format!("unknown comment side {other:?}")),
        }
    }
}

/// A review comment as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub id: String,
    pub session_id: SessionId,
    /// Relative to the session's worktree, `/`-separated.
    pub path: String,
    /// 1-based.
    pub line: i64,
    pub side: CommentSide,
    pub text: String,
    pub created_at: DateTime<Utc>,
    /// `None` while it is a draft.
    pub sent_at: Option<DateTime<Utc>>,
}

/// A comment to store (already validated).
#[derive(Debug, Clone)]
pub struct NewComment {
    pub session_id: SessionId,
    pub path: String,
    pub line: i64,
    pub side: CommentSide,
    pub text: String,
}

/// What deleting a draft did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteDraft {
    Deleted,
    /// The comment was sent already: sent comments stay.
    AlreadySent,
    /// No such comment in that session.
    NotFound,
}

const COMMENT_COLUMNS: &str = "id, session_id, path, line, side, text, created_at, sent_at";

fn stamp(transaction: &rusqlite::Transaction<'_>, session: &SessionId) -> rusqlite::Result<()> {
    let change_seq = bump(transaction, "change")?;
    transaction.execute(
        "INSERT INTO comment_changes (session_id, change_seq) VALUES (?1, ?2) \
         ON CONFLICT (session_id) DO UPDATE SET change_seq = excluded.change_seq",
        params![session.as_str(), change_seq],
    )?;
    Ok(())
}

impl Store {
    /// Stores a draft. `None` when the session does not exist (any more).
    pub fn insert_comment(&mut self, new: &NewComment) -> Result<Option<Comment>, StoreError> {
        let id = uuid::Uuid::now_v7().to_string();
        let created_at = format_time(Utc::now());
        let inserted = self.write(|transaction| {
            let inserted = transaction.execute(
                "INSERT INTO comments (id, session_id, path, line, side, text, created_at) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?2)",
                params![
                    id,
                    new.session_id.as_str(),
                    new.path,
                    new.line,
                    new.side.as_str(),
                    new.text,
                    created_at
                ],
            )?;
            if inserted == 1 {
                stamp(transaction, &new.session_id)?;
            }
            Ok(inserted == 1)
        })?;
        if !inserted {
            return Ok(None);
        }
        self.comment(&id)
    }

    /// One comment by its id.
    pub fn comment(&self, id: &str) -> Result<Option<Comment>, StoreError> {
        let sql = format!("SELECT {COMMENT_COLUMNS} FROM comments WHERE id = ?1");
        let row = self
            .connection
            .query_row(&sql, [id], read_comment_row)
            .optional()
            .map_err(|source| self.sqlite(source))?;
        row.map(|row| row.map_err(|message| self.corrupt(message)))
            .transpose()
    }

    /// A session's comments, drafts and sent, oldest first.
    pub fn comments(&self, session: &SessionId) -> Result<Vec<Comment>, StoreError> {
        let sql =
            format!("SELECT {COMMENT_COLUMNS} FROM comments WHERE session_id = ?1 ORDER BY number");
        let mut statement = self
            .connection
            .prepare_cached(&sql)
            .map_err(|source| self.sqlite(source))?;
        let rows = statement
            .query_map([session.as_str()], read_comment_row)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|source| self.sqlite(source))?;
        rows.into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| self.corrupt(message))
    }

    /// Deletes a draft of `session`; a sent comment stays.
    pub fn delete_draft(
        &mut self,
        session: &SessionId,
        comment_id: &str,
    ) -> Result<DeleteDraft, StoreError> {
        self.write(|transaction| {
            let deleted = transaction.execute(
                "DELETE FROM comments WHERE session_id = ?1 AND id = ?2 AND sent_at IS NULL",
                params![session.as_str(), comment_id],
            )?;
            if deleted == 1 {
                stamp(transaction, session)?;
                return Ok(DeleteDraft::Deleted);
            }
            let exists: bool = transaction.query_row(
                "SELECT EXISTS (SELECT 1 FROM comments WHERE session_id = ?1 AND id = ?2)",
                params![session.as_str(), comment_id],
                |row| row.get(0),
            )?;
            Ok(if exists {
                DeleteDraft::AlreadySent
            } else {
                DeleteDraft::NotFound
            })
        })
    }

    /// Marks these drafts of `session` sent at `at` (a draft already sent stays as it is);
    /// returns how many it marked.
    pub fn mark_sent(
        &mut self,
        session: &SessionId,
        comment_ids: &[String],
        at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        self.set_sent(
            session,
            comment_ids,
            at,
            "UPDATE comments SET sent_at = ?3 WHERE session_id = ?1 AND id = ?2 AND sent_at IS NULL",
        )
    }

    /// Undoes [`Store::mark_sent`] of the same moment `at` (a review that could not continue
    /// the session gives its drafts back).
    pub fn unmark_sent(
        &mut self,
        session: &SessionId,
        comment_ids: &[String],
        at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        self.set_sent(
            session,
            comment_ids,
            at,
            "UPDATE comments SET sent_at = NULL WHERE session_id = ?1 AND id = ?2 AND sent_at = ?3",
        )
    }

    /// Runs `statement` (params: session, comment id, `at`) for each comment, stamping the
    /// session's comments as changed when any row changed; returns how many changed.
    fn set_sent(
        &mut self,
        session: &SessionId,
        comment_ids: &[String],
        at: DateTime<Utc>,
        statement: &str,
    ) -> Result<usize, StoreError> {
        let at = format_time(at);
        self.write(|transaction| {
            let mut changed = 0;
            for comment_id in comment_ids {
                changed +=
                    transaction.execute(statement, params![session.as_str(), comment_id, at])?;
            }
            if changed > 0 {
                stamp(transaction, session)?;
            }
            Ok(changed)
        })
    }

    /// Sessions whose comments changed after `change_seq`, with the change that did it last.
    pub fn comments_changed_since(
        &self,
        change_seq: i64,
    ) -> Result<Vec<(SessionId, i64)>, StoreError> {
        self.stamps_since(
            "SELECT session_id, change_seq FROM comment_changes WHERE change_seq > ?1 ORDER BY change_seq",
            change_seq,
        )
    }
}

fn read_comment_row(row: &Row<'_>) -> rusqlite::Result<Result<Comment, String>> {
    let id: String = row.get(0)?;
    let session_id: String = row.get(1)?;
    let path: String = row.get(2)?;
    let line: i64 = row.get(3)?;
    let side: String = row.get(4)?;
    let text: String = row.get(5)?;
    let created_at: String = row.get(6)?;
    let sent_at: Option<String> = row.get(7)?;
    Ok((|| {
        Ok(Comment {
            side: side.parse()?,
            created_at: parse_time(&created_at)?,
            sent_at: sent_at.as_deref().map(parse_time).transpose()?,
            id,
            session_id: SessionId(session_id),
            path,
            line,
            text,
        })
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_comment(session: &SessionId, text: &str) -> NewComment {
        NewComment {
            session_id: session.clone(),
            path: "src/lib.rs".to_owned(),
            line: 3,
            side: CommentSide::New,
            text: text.to_owned(),
        }
    }

    use crate::store::tests::insert_ended_session;

    #[test]
    fn drafts_are_sent_once_deleted_only_as_drafts_and_go_with_their_session() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open(dir.path()).expect("open");
        let missing = SessionId("no-such-session".to_owned());
        assert_eq!(
            store
                .insert_comment(&new_comment(&missing, "x"))
                .expect("insert"),
            None
        );
        let session = insert_ended_session(&mut store);
        let before = store.change_seq().expect("change");
        let first = store
            .insert_comment(&new_comment(&session, "first"))
            .expect("insert")
            .expect("stored");
        let second = store
            .insert_comment(&new_comment(&session, "second"))
            .expect("insert")
            .expect("stored");
        let changed = store.comments_changed_since(before).expect("changes");
        assert_eq!(changed, vec![(session.clone(), before + 2)]);
        let texts = |store: &Store| -> Vec<(String, bool)> {
            store
                .comments(&session)
                .expect("comments")
                .into_iter()
                .map(|comment| (comment.text, comment.sent_at.is_some()))
                .collect()
        };
        assert_eq!(
            texts(&store),
            [("first".to_owned(), false), ("second".to_owned(), false)]
        );
        let marked = store
            .mark_sent(&session, std::slice::from_ref(&first.id), Utc::now())
            .expect("mark");
        assert_eq!(marked, 1);
        let again = store
            .mark_sent(&session, std::slice::from_ref(&first.id), Utc::now())
            .expect("mark");
        assert_eq!(again, 0, "a sent comment is never sent twice");
        assert_eq!(
            store.delete_draft(&session, &first.id).expect("delete"),
            DeleteDraft::AlreadySent
        );
        assert_eq!(
            store.delete_draft(&session, "nope").expect("delete"),
            DeleteDraft::NotFound
        );
        assert_eq!(
            store.delete_draft(&session, &second.id).expect("delete"),
            DeleteDraft::Deleted
        );
        assert_eq!(texts(&store), [("first".to_owned(), true)]);
        assert!(store.delete_ended_session(&session).expect("delete"));
        assert_eq!(store.comments(&session).expect("comments"), vec![]);
        assert_eq!(
            store.comments_changed_since(0).expect("changes"),
            vec![],
            "a removed session's comment stamps go with it"
        );
    }
}
