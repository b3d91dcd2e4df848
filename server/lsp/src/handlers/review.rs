//! `lulu/comment`, `lulu/comments`, `lulu/uncomment` and `lulu/review`.

use serde_json::Value;
use tower_lsp_server::jsonrpc::Result as RpcResult;

use lulu_core::sessions::CommentRequest;

use super::{Backend, blocking, check_id, invalid_params, op_error, parse};
use crate::protocol::{
    Comment, CommentParams, CommentsResult, Empty, IdParams, ReviewParams, SessionRow,
    UncommentParams, method, quote_short,
};

/// Comment ids are UUIDs; anything much longer is no id lulu made.
const COMMENT_ID_MAX_CHARS: usize = 64;

impl Backend {
    pub(super) async fn comment(&self, params: Value) -> RpcResult<Comment> {
        let params: CommentParams = parse(method::COMMENT, params)?;
        check_id(&params.id)?;
        let request = CommentRequest {
            path: params.path,
            line: params.line,
            side: params
                .side
                .map(Into::into)
                .unwrap_or(lulu_core::store::CommentSide::New),
            text: params.text,
        };
        let core = self.core()?;
        let sessions = core.sessions.clone();
        let comment = blocking(method::COMMENT, move || {
            sessions.add_comment(&params.id, request)
        })
        .await?
        .map_err(|error| op_error(error.kind(), &error))?;
        Ok(Comment::from(&comment))
    }

    pub(super) async fn comments(&self, params: Value) -> RpcResult<CommentsResult> {
        let params: IdParams = parse(method::COMMENTS, params)?;
        check_id(&params.id)?;
        let core = self.core()?;
        let sessions = core.sessions.clone();
        let comments = blocking(method::COMMENTS, move || sessions.comments(&params.id))
            .await?
            .map_err(|error| op_error(error.kind(), &error))?;
        Ok(CommentsResult {
            comments: comments.iter().map(Comment::from).collect(),
        })
    }

    pub(super) async fn uncomment(&self, params: Value) -> RpcResult<Empty> {
        let params: UncommentParams = parse(method::UNCOMMENT, params)?;
        check_id(&params.id)?;
        if params.comment_id.is_empty() || params.comment_id.chars().count() > COMMENT_ID_MAX_CHARS
        {
            return Err(invalid_params(format!(
                "`commentId` {} is no comment id lulu made",
                quote_short(&params.comment_id)
            )));
        }
        let core = self.core()?;
        let sessions = core.sessions.clone();
        blocking(method::UNCOMMENT, move || {
            sessions.remove_comment(&params.id, &params.comment_id)
        })
        .await?
        .map_err(|error| op_error(error.kind(), &error))?;
        Ok(Empty {})
    }

    pub(super) async fn review(&self, params: Value) -> RpcResult<SessionRow> {
        let params: ReviewParams = parse(method::REVIEW, params)?;
        check_id(&params.id)?;
        let core = self.core()?;
        let sessions = core.sessions.clone();
        let session = blocking(method::REVIEW, move || {
            sessions.review(&params.id, params.message)
        })
        .await?
        .map_err(|error| op_error(error.kind(), &error))?;
        Ok(SessionRow::from(&session))
    }
}
