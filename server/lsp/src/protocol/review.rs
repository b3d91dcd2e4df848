//! The wire types of review: `Comment`, the params of `lulu/comment`, `lulu/comments`,
//! `lulu/uncomment`, `lulu/review`, and `lulu/commentsChanged`.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use lulu_core::store;

use super::{method, timestamp};

/// A review comment on the session's diff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    pub comment_id: String,
    pub path: String,
    pub line: i64,
    /// `new` or `old`.
    #[ts(type = "CommentSide")]
    pub side: String,
    pub text: String,
    pub created_at: String,
    /// `null` while it is a draft.
    pub sent_at: Option<String>,
}

impl From<&store::Comment> for Comment {
    fn from(comment: &store::Comment) -> Comment {
        Comment {
            comment_id: comment.id.clone(),
            path: comment.path.clone(),
            line: comment.line,
            side: comment.side.as_str().to_owned(),
            text: comment.text.clone(),
            created_at: timestamp(&comment.created_at),
            sent_at: comment.sent_at.as_ref().map(timestamp),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CommentParams {
    pub id: String,
    pub path: String,
    pub line: i64,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub side: Option<CommentSide>,
}

/// The side of the diff a comment is on: `new` (the worktree's file) or `old` (the base's).
/// Parsed strictly, so a wrong value is an error naming the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum CommentSide {
    New,
    Old,
}

impl From<CommentSide> for store::CommentSide {
    fn from(side: CommentSide) -> Self {
        match side {
            CommentSide::New => store::CommentSide::New,
            CommentSide::Old => store::CommentSide::Old,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CommentsResult {
    pub comments: Vec<Comment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UncommentParams {
    pub id: String,
    pub comment_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReviewParams {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CommentsChangedParams {
    pub id: String,
}

/// `lulu/commentsChanged`.
#[derive(Debug)]
pub enum CommentsChanged {}
impl tower_lsp_server::ls_types::notification::Notification for CommentsChanged {
    type Params = CommentsChangedParams;
    const METHOD: &'static str = method::COMMENTS_CHANGED;
}
