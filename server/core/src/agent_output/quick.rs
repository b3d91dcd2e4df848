//! The common Claude line read without building it whole (issue 10): an `assistant` or `user`
//! message needs only its `type`, its `session_id` and its content items' types for its kind
//! and the verdict; its text is not stored (the store renders `data` again when read). Any
//! line this reading does not take exactly as `parse_line` would goes to `parse_line`.

use std::borrow::Cow;

use serde::Deserialize;

use super::AgentVerdict;

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", borrow)]
    line_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    session_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: Option<Message<'a>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    content: Option<Vec<Item<'a>>>,
}

#[derive(Deserialize)]
struct Item<'a> {
    #[serde(rename = "type", borrow)]
    item_type: Option<Cow<'a, str>>,
}

/// The kind of a Claude `assistant` or `user` line, updating the verdict as `render_claude`
/// does; None for any other line, or one whose shape this reading does not cover (a field of
/// an unexpected type, a repeated key, content given as a string): those take the full path.
pub(super) fn claude_message_kind(line: &str, verdict: &mut AgentVerdict) -> Option<String> {
    // A struct also reads from a JSON array: only objects are lines with data.
    if !line
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{')
    {
        return None;
    }
    let parsed: Line<'_> = serde_json::from_str(line).ok()?;
    let role = match parsed.line_type.as_deref() {
        Some(role @ ("assistant" | "user")) => role,
        _ => return None,
    };
    let items = match parsed.message {
        Some(Message {
            content: Some(items),
        }) => items,
        _ => Vec::new(),
    };
    let mut kind = role;
    for item in &items {
        match item.item_type.as_deref().unwrap_or("") {
            "thinking" if kind == role => kind = "thinking",
            "tool_use" => kind = "tool_use",
            "tool_result" => kind = "tool_result",
            _ => {}
        }
    }
    if let Some(session_id) = parsed.session_id {
        verdict.report.agent_session_id = Some(session_id.into_owned());
    }
    Some(kind.to_owned())
}
