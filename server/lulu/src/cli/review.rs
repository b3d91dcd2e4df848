//! The review commands: `lulu comment`, `lulu comments`, `lulu uncomment`, `lulu review`.

use clap::Args;
use lulu_core::{sessions::CommentRequest, store::CommentSide};

use super::*;

#[derive(Debug, Args)]
pub struct CommentArgs {
    /// The session (an id or a unique prefix).
    pub id: String,
    /// Where: the file relative to the session's worktree and the line, `src/lib.rs:12`.
    #[arg(value_name = "PATH:LINE")]
    pub place: String,
    /// The comment.
    #[arg(required = true, num_args = 1..)]
    pub text: Vec<String>,
    /// The line is in the base commit's version of the file, not the worktree's.
    #[arg(long)]
    pub old: bool,
    /// Print the new Comment as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CommentsArgs {
    pub id: String,
    /// Print `{ comments: Comment[] }` as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UncommentArgs {
    pub id: String,
    /// The draft's comment id (or a unique prefix of it), as `lulu comments` shows it.
    pub comment_id: String,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    pub id: String,
    /// A message sent after the comments.
    #[arg(num_args = 0..)]
    pub message: Vec<String>,
}

/// `src/lib.rs:12` into its path and line.
fn parse_place(place: &str) -> anyhow::Result<(String, i64)> {
    let Some((path, line)) = place.rsplit_once(':') else {
        bail!("{place:?} is not PATH:LINE (for example src/lib.rs:12)");
    };
    let line = line
        .parse::<i64>()
        .with_context(|| format!("the line of {place:?} is not a number"))?;
    Ok((path.to_owned(), line))
}

pub(super) fn comment(
    global: &GlobalOptions,
    args: CommentArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let (path, line) = parse_place(&args.place)?;
    let sessions = sessions(global)?;
    let side = if args.old {
        CommentSide::Old
    } else {
        CommentSide::New
    };
    let request = CommentRequest {
        path,
        line,
        side,
        text: args.text.join(" "),
    };
    let comment = sessions.add_comment(&args.id, request)?;
    if args.json {
        write_json(&mut *out, &protocol::Comment::from(&comment))?;
    } else {
        writeln!(
            out,
            "{}  draft  {}:{}",
            comment.id, comment.path, comment.line
        )?;
    }
    Ok(())
}

pub(super) fn comments(
    global: &GlobalOptions,
    args: CommentsArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let sessions = sessions(global)?;
    let comments = sessions.comments(&args.id)?;
    if args.json {
        let result = protocol::CommentsResult {
            comments: comments.iter().map(protocol::Comment::from).collect(),
        };
        return write_json(&mut *out, &result);
    }
    for comment in &comments {
        let state = if comment.sent_at.is_some() {
            "sent "
        } else {
            "draft"
        };
        let side = match comment.side {
            CommentSide::New => "",
            CommentSide::Old => " (old)",
        };
        writeln!(
            out,
            "{}  {state}  {}:{}{side}",
            comment.id, comment.path, comment.line
        )?;
        for line in comment.text.lines() {
            writeln!(out, "    {line}")?;
        }
    }
    Ok(())
}

pub(super) fn uncomment(
    global: &GlobalOptions,
    args: UncommentArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let sessions = sessions(global)?;
    let prefix = args.comment_id.trim();
    let matching: Vec<String> = sessions
        .comments(&args.id)?
        .into_iter()
        .map(|comment| comment.id)
        .filter(|id| !prefix.is_empty() && id.starts_with(prefix))
        .collect();
    let comment_id = match matching.as_slice() {
        [one] => one.clone(),
        [] => prefix.to_owned(),
        _ => bail!(
            "the comment id prefix {prefix:?} matches {} comments; give more characters",
            matching.len()
        ),
    };
    sessions.remove_comment(&args.id, &comment_id)?;
    writeln!(out, "deleted the draft {comment_id}")?;
    Ok(())
}

pub(super) fn review(
    global: &GlobalOptions,
    args: ReviewArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let sessions = sessions(global)?;
    let drafts = sessions
        .comments(&args.id)?
        .iter()
        .filter(|comment| comment.sent_at.is_none())
        .count();
    let message = (!args.message.is_empty()).then(|| args.message.join(" "));
    let session = sessions.review(&args.id, message)?;
    let noun = if drafts == 1 { "comment" } else { "comments" };
    writeln!(
        out,
        "{}  {}  (run {}, {drafts} {noun} sent)",
        session.id, session.name, session.run
    )?;
    Ok(())
}
