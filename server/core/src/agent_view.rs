//! What a client shows of one line of agent JSON: readable blocks (what the agent said, a
//! tool it called with a one-line summary of its input, what came back, the run's result with
//! its error flag, cost and tokens), read once here so that no client parses Claude's or
//! Codex's JSON itself. The wire carries them as `TranscriptEvent.blocks` (docs/protocol.md).
//!
//! The blocks are computed from an event's stored `data`, so every event ever written gets
//! them, with the same reading of cost and tokens as the session's totals
//! ([`crate::agent_output`]).

use serde_json::Value;

use crate::agent_output::{
    claude_error_reason, claude_result_words, codex_file_changes, model_usage_totals, str_field,
    summarize_tool_input,
};

/// What kind of thing a block is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// What the agent says.
    Assistant,
    /// Its reasoning.
    Thinking,
    /// A tool it calls, a command it runs.
    ToolUse,
    /// What came back from a tool or a command.
    ToolResult,
    /// The summary of a run or a turn.
    Result,
    /// An error the agent reported.
    Error,
    /// Bookkeeping: session started, turn started, retries.
    Meta,
    /// Other text (a user message's text).
    Text,
}

impl BlockKind {
    /// Every kind, in the order the wire documents them.
    pub const ALL: &[BlockKind] = &[
        BlockKind::Assistant,
        BlockKind::Thinking,
        BlockKind::ToolUse,
        BlockKind::ToolResult,
        BlockKind::Result,
        BlockKind::Error,
        BlockKind::Meta,
        BlockKind::Text,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BlockKind::Assistant => "assistant",
            BlockKind::Thinking => "thinking",
            BlockKind::ToolUse => "toolUse",
            BlockKind::ToolResult => "toolResult",
            BlockKind::Result => "result",
            BlockKind::Error => "error",
            BlockKind::Meta => "meta",
            BlockKind::Text => "text",
        }
    }
}

/// One readable block of an event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Block {
    pub kind: Option<BlockKind>,
    /// The readable text, whole (a tool's whole output: clients fold long ones).
    pub text: String,
    /// The tool's name (`Bash`, `Read`; `shell` for a Codex command).
    pub tool: Option<String>,
    /// The tool's input in one line (`npm test`, a file path).
    pub input: Option<String>,
    /// A failed tool result, command or run.
    pub is_error: Option<bool>,
    /// A command's exit code.
    pub exit_code: Option<i64>,
    /// A result's cost, tokens and turns, read as the session's totals are.
    pub cost_usd: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub turns: Option<i64>,
}

fn block(kind: BlockKind, text: impl Into<String>) -> Block {
    Block {
        kind: Some(kind),
        text: text.into(),
        ..Block::default()
    }
}

/// The blocks of one event's agent JSON; empty for a line that says nothing new (Codex's
/// `item.updated`), `None` for JSON of no shape lulu knows (the client shows `text`).
pub fn blocks_of(data: &Value) -> Option<Vec<Block>> {
    let kind = str_field(data, "type")?;
    match kind {
        "system" | "assistant" | "user" | "result" => Some(claude_blocks(kind, data)),
        "thread.started" | "turn.started" | "turn.completed" | "turn.failed" | "error" => {
            Some(codex_blocks(kind, data))
        }
        "item.started" | "item.updated" | "item.completed" => {
            Some(codex_item_blocks(kind, data.get("item")?))
        }
        _ => None,
    }
}

fn claude_blocks(kind: &str, data: &Value) -> Vec<Block> {
    match kind {
        "system" => {
            let subtype = str_field(data, "subtype").unwrap_or("system");
            let text = if subtype == "init" {
                let model = str_field(data, "model").map(|model| format!(" · {model}"));
                format!("Claude session started{}", model.unwrap_or_default())
            } else {
                format!("system: {subtype}")
            };
            vec![block(BlockKind::Meta, text)]
        }
        "result" => vec![claude_result(data)],
        _ => claude_content(kind == "assistant", data),
    }
}

fn claude_content(assistant: bool, data: &Value) -> Vec<Block> {
    let content = data
        .get("message")
        .and_then(|message| message.get("content"));
    let said = if assistant {
        BlockKind::Assistant
    } else {
        BlockKind::Text
    };
    let items = match content {
        Some(Value::String(text)) => return vec![block(said, text.clone())],
        Some(Value::Array(items)) => items,
        _ => return Vec::new(),
    };
    items
        .iter()
        .map(|item| match str_field(item, "type").unwrap_or("") {
            "text" => block(said, str_field(item, "text").unwrap_or("")),
            "thinking" => block(
                BlockKind::Thinking,
                str_field(item, "thinking").unwrap_or(""),
            ),
            "tool_use" => Block {
                tool: Some(str_field(item, "name").unwrap_or("tool").to_owned()),
                input: Some(summarize_tool_input(
                    item.get("input").unwrap_or(&Value::Null),
                )),
                ..block(BlockKind::ToolUse, "")
            },
            "tool_result" => Block {
                is_error: Some(
                    item.get("is_error")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                ),
                ..block(BlockKind::ToolResult, tool_result_text(item.get("content")))
            },
            other => block(BlockKind::Meta, format!("{other} block")),
        })
        .collect()
}

fn tool_result_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|part| str_field(part, "text").map_or_else(|| part.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join("\n"),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn claude_result(data: &Value) -> Block {
    let subtype = str_field(data, "subtype").unwrap_or("unknown");
    let is_error = data
        .get("is_error")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        || subtype != "success";
    let (input_tokens, output_tokens) = match model_usage_totals(data) {
        Some((input, output)) => (Some(input), Some(output)),
        None => {
            let usage = data.get("usage");
            let tokens = |key| {
                usage
                    .and_then(|usage| usage.get(key))
                    .and_then(Value::as_i64)
            };
            (tokens("input_tokens"), tokens("output_tokens"))
        }
    };
    let said = claude_result_words(data);
    // A failed run reads as what went wrong, in the words lulu uses for its reason.
    let text = if is_error {
        claude_error_reason(subtype, said)
    } else {
        said.to_owned()
    };
    Block {
        is_error: Some(is_error),
        cost_usd: data.get("total_cost_usd").and_then(Value::as_f64),
        input_tokens,
        output_tokens,
        turns: data.get("num_turns").and_then(Value::as_i64),
        ..block(
            if is_error {
                BlockKind::Error
            } else {
                BlockKind::Result
            },
            text,
        )
    }
}

fn codex_blocks(kind: &str, data: &Value) -> Vec<Block> {
    match kind {
        "thread.started" => {
            let thread = str_field(data, "thread_id").map(|id| format!(" · {id}"));
            vec![block(
                BlockKind::Meta,
                format!("Codex thread started{}", thread.unwrap_or_default()),
            )]
        }
        "turn.started" => vec![block(BlockKind::Meta, "Turn started")],
        "turn.completed" => {
            let usage = data.get("usage");
            let tokens = |key| {
                usage
                    .and_then(|usage| usage.get(key))
                    .and_then(Value::as_i64)
            };
            vec![Block {
                is_error: Some(false),
                input_tokens: tokens("input_tokens"),
                output_tokens: tokens("output_tokens"),
                ..block(BlockKind::Result, "Turn completed")
            }]
        }
        "turn.failed" => {
            let message = data
                .get("error")
                .and_then(|error| str_field(error, "message"));
            vec![Block {
                is_error: Some(true),
                ..block(
                    BlockKind::Error,
                    format!("Turn failed: {}", message.unwrap_or("unknown error")),
                )
            }]
        }
        _ => vec![Block {
            is_error: Some(true),
            ..block(
                BlockKind::Error,
                str_field(data, "message").unwrap_or("unknown error"),
            )
        }],
    }
}

fn codex_item_blocks(event: &str, item: &Value) -> Vec<Block> {
    let completed = event == "item.completed";
    let started = event == "item.started";
    let text = |key| str_field(item, key).unwrap_or("").to_owned();
    match str_field(item, "type").unwrap_or("item") {
        "agent_message" if completed => vec![block(BlockKind::Assistant, text("text"))],
        "reasoning" if completed => vec![block(BlockKind::Thinking, text("text"))],
        "command_execution" if started => vec![Block {
            tool: Some("shell".to_owned()),
            input: Some(text("command")),
            ..block(BlockKind::ToolUse, "")
        }],
        "command_execution" if completed => {
            let exit_code = item.get("exit_code").and_then(Value::as_i64);
            let failed = str_field(item, "status") == Some("failed")
                || exit_code.is_some_and(|code| code != 0);
            vec![Block {
                tool: Some("shell".to_owned()),
                input: Some(text("command")),
                is_error: Some(failed),
                exit_code,
                ..block(BlockKind::ToolResult, text("aggregated_output").trim_end())
            }]
        }
        "file_change" if completed => {
            let changes = codex_file_changes(item).join("\n");
            vec![Block {
                tool: Some("files".to_owned()),
                is_error: Some(false),
                ..block(BlockKind::ToolResult, changes)
            }]
        }
        "error" => vec![Block {
            is_error: Some(true),
            ..block(BlockKind::Error, text("message"))
        }],
        other
            if completed
                && !matches!(other, "agent_message" | "reasoning" | "command_execution") =>
        {
            vec![block(BlockKind::Meta, other)]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A block as JSON with only the fields it has, to compare whole.
    fn shown(block: &Block) -> Value {
        let mut shown = json!({ "kind": block.kind.map(BlockKind::as_str), "text": block.text });
        let mut put = |key: &str, value: Value| {
            if !value.is_null() {
                shown[key] = value;
            }
        };
        put("tool", json!(block.tool));
        put("input", json!(block.input));
        put("isError", json!(block.is_error));
        put("exitCode", json!(block.exit_code));
        put("costUsd", json!(block.cost_usd));
        put("inputTokens", json!(block.input_tokens));
        put("outputTokens", json!(block.output_tokens));
        put("turns", json!(block.turns));
        shown
    }

    fn check(line: &str, expected: Value) {
        let data: Value = serde_json::from_str(line).expect("test line is JSON");
        let blocks = blocks_of(&data).map(|blocks| blocks.iter().map(shown).collect::<Vec<_>>());
        pretty_assertions::assert_eq!(json!(blocks), expected, "{line}");
    }

    #[test]
    fn claude_lines() {
        check(
            r#"{"type":"system","subtype":"init","session_id":"s1","model":"claude-sonnet-4-5"}"#,
            json!([{"kind": "meta", "text": "Claude session started · claude-sonnet-4-5"}]),
        );
        check(
            r###"{"type":"assistant","message":{"content":[{"type":"text","text":"## Plan"},{"type":"thinking","thinking":"hm"},{"type":"tool_use","name":"Bash","input":{"command":"npm test"}}]}}"###,
            json!([{"kind": "assistant", "text": "## Plan"}, {"kind": "thinking", "text": "hm"},
                   {"kind": "toolUse", "text": "", "tool": "Bash", "input": "npm test"}]),
        );
        check(
            r#"{"type":"user","message":{"content":[{"type":"tool_result","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}],"is_error":true}]}}"#,
            json!([{"kind": "toolResult", "text": "a\nb", "isError": true}]),
        );
        check(
            r#"{"type":"result","subtype":"success","is_error":false,"num_turns":2,"result":"Done.","total_cost_usd":0.0123,"usage":{"input_tokens":1200,"output_tokens":345}}"#,
            json!([{"kind": "result", "text": "Done.", "isError": false, "costUsd": 0.0123,
                    "inputTokens": 1200, "outputTokens": 345, "turns": 2}]),
        );
    }

    #[test]
    fn claude_results_read_as_the_session_totals_and_errors_say_so() {
        // `is_error` with subtype success: a failure, in lulu's words, with the API's.
        check(
            r#"{"type":"result","subtype":"success","is_error":true,"num_turns":1,"result":"API Error: 400 bad request","total_cost_usd":0.0123,"usage":{"input_tokens":1,"output_tokens":2}}"#,
            json!([{"kind": "error", "text": "Claude reported an error: API Error: 400 bad request", "isError": true,
                    "costUsd": 0.0123, "inputTokens": 1, "outputTokens": 2, "turns": 1}]),
        );
        // Tokens from `modelUsage` (the whole conversation) when it is there, as `lulu show`.
        check(
            r#"{"type":"result","subtype":"success","is_error":false,"result":"Done.","total_cost_usd":0.00568,"usage":{"input_tokens":415,"output_tokens":11},"modelUsage":{"a":{"inputTokens":1000,"outputTokens":30},"b":{"inputTokens":220,"outputTokens":10}}}"#,
            json!([{"kind": "result", "text": "Done.", "isError": false, "costUsd": 0.00568,
                    "inputTokens": 1220, "outputTokens": 40}]),
        );
        check(
            r#"{"type":"result","subtype":"error_during_execution","is_error":true,"num_turns":0,"total_cost_usd":0,"errors":["No conversation found"]}"#,
            json!([{"kind": "error", "text": "Claude failed during execution: No conversation found", "isError": true,
                    "costUsd": 0.0, "turns": 0}]),
        );
    }

    #[test]
    fn codex_lines() {
        check(
            r#"{"type":"thread.started","thread_id":"th"}"#,
            json!([{"kind": "meta", "text": "Codex thread started · th"}]),
        );
        check(
            r#"{"type":"item.started","item":{"type":"command_execution","command":"bash -lc ls"}}"#,
            json!([{"kind": "toolUse", "text": "", "tool": "shell", "input": "bash -lc ls"}]),
        );
        check(
            r#"{"type":"item.updated","item":{"type":"command_execution","command":"ls"}}"#,
            json!([]),
        );
        check(
            r#"{"type":"item.completed","item":{"type":"command_execution","command":"false","aggregated_output":"no\n","exit_code":1}}"#,
            json!([{"kind": "toolResult", "text": "no", "tool": "shell", "input": "false", "isError": true, "exitCode": 1}]),
        );
        check(
            r#"{"type":"item.completed","item":{"type":"file_change","changes":[{"kind":"add","path":"a.md"}]}}"#,
            json!([{"kind": "toolResult", "text": "add a.md", "tool": "files", "isError": false}]),
        );
        check(
            r#"{"type":"item.completed","item":{"type":"agent_message","text":"Done."}}"#,
            json!([{"kind": "assistant", "text": "Done."}]),
        );
        check(
            r#"{"type":"turn.completed","usage":{"input_tokens":10,"output_tokens":5}}"#,
            json!([{"kind": "result", "text": "Turn completed", "isError": false, "inputTokens": 10, "outputTokens": 5}]),
        );
        check(
            r#"{"type":"turn.failed","error":{"message":"rate limit"}}"#,
            json!([{"kind": "error", "text": "Turn failed: rate limit", "isError": true}]),
        );
    }

    #[test]
    fn json_of_no_known_shape_has_no_blocks() {
        check(r#"{"type":"something.new"}"#, Value::Null);
        check(r#"{"no":"type"}"#, Value::Null);
    }
}
