//! Reading what agents print: one output line becomes one transcript event, rendered
//! readably, and what the agent says about itself (its session id, cost, tokens, and whether
//! it reported an error) is gathered into an [`AgentVerdict`].

mod quick;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::{
    model::{NewEvent, OutputFormat, Stream},
    store::AgentReport,
};

/// The longest rendering of one tool result or command output in `text`; the whole of it is
/// kept in `data`.
const MAX_RENDERED_OUTPUT: usize = 2_000;

/// What the agent's own protocol said about how the run went.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentVerdict {
    pub report: AgentReport,
    /// Claude's `result` line was seen.
    pub saw_result: bool,
    /// The agent reported an error in its own protocol (Claude `is_error`, Codex
    /// `turn.failed` / `error`), with its words.
    pub error: Option<String>,
    /// Claude stopped itself at its cost limit (`error_max_budget_usd`).
    pub budget_exceeded: bool,
}

/// Turns one line of agent output into an event, updating the verdict.
pub fn parse_line(
    format: OutputFormat,
    stream: Stream,
    line: &str,
    at: DateTime<Utc>,
    verdict: &mut AgentVerdict,
) -> NewEvent {
    let event = |kind: &str, text: String, data: Option<String>| NewEvent {
        at,
        stream,
        kind: kind.to_owned(),
        text,
        data,
    };
    if stream != Stream::Stdout || format == OutputFormat::Text {
        return event("text", line.to_owned(), None);
    }
    let Ok(value) = serde_json::from_str::<Value>(line) else {
        return event("raw", line.to_owned(), None);
    };
    if !value.is_object() {
        return event("raw", line.to_owned(), None);
    }
    let (kind, text) = match format {
        OutputFormat::ClaudeStreamJson => render_claude(&value, verdict),
        OutputFormat::CodexJson => render_codex(&value, verdict),
        OutputFormat::Text => unreachable!("text lines returned above"),
    };
    event(&kind, text, Some(line.to_owned()))
}

/// The rendering of a stored stdout line's JSON object (`data`) in `format`: the same text
/// `parse_line` gave it. Rendering is a pure function of the object, so the store keeps only
/// the object and renders it again when read (issue 10: half the bytes per line). None for
/// text agents, whose lines have no object.
pub fn render_data(format: OutputFormat, value: &Value) -> Option<String> {
    let mut unused = AgentVerdict::default();
    match format {
        OutputFormat::ClaudeStreamJson => Some(render_claude(value, &mut unused).1),
        OutputFormat::CodexJson => Some(render_codex(value, &mut unused).1),
        OutputFormat::Text => None,
    }
}

/// As `parse_line`, for an event going to the store, which keeps no text for a line with
/// `data` (it renders `data` again when read): the common Claude message is read for its kind
/// and the verdict only, and its text left empty. Every other line as `parse_line` reads it.
pub fn parse_line_to_store(
    format: OutputFormat,
    stream: Stream,
    line: &str,
    at: DateTime<Utc>,
    verdict: &mut AgentVerdict,
) -> NewEvent {
    if stream == Stream::Stdout
        && format == OutputFormat::ClaudeStreamJson
        && let Some(kind) = quick::claude_message_kind(line, verdict)
    {
        return NewEvent {
            at,
            stream,
            kind,
            text: String::new(),
            data: Some(line.to_owned()),
        };
    }
    parse_line(format, stream, line, at, verdict)
}

pub(crate) fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(max).collect();
    clipped.push_str(" …");
    clipped
}

fn render_claude(value: &Value, verdict: &mut AgentVerdict) -> (String, String) {
    if let Some(session_id) = str_field(value, "session_id") {
        verdict.report.agent_session_id = Some(session_id.to_owned());
    }
    let message_type = str_field(value, "type").unwrap_or("unknown");
    match message_type {
        "system" => render_claude_system(value),
        "assistant" => render_claude_content(value, "assistant"),
        // The host channel (issue 12): a permission request, and the answer Claude echoes.
        "control_request" => render_claude_control_request(value),
        "control_response" => render_claude_control_response(value),
        "user" => render_claude_content(value, "user"),
        "result" => render_claude_result(value, verdict),
        other => (
            other.to_owned(),
            clip(&value.to_string(), MAX_RENDERED_OUTPUT),
        ),
    }
}

fn render_claude_system(value: &Value) -> (String, String) {
    let subtype = str_field(value, "subtype").unwrap_or("system");
    if subtype == "init" {
        let model = str_field(value, "model").unwrap_or("unknown model");
        let session = str_field(value, "session_id").unwrap_or("?");
        return (
            "init".to_owned(),
            format!("Claude session {session} ({model})"),
        );
    }
    if subtype == "api_retry" {
        let number = |key: &str| value.get(key).and_then(Value::as_i64).unwrap_or(0);
        let status = value
            .get("error_status")
            .and_then(Value::as_i64)
            .map(|status| format!("{status} "))
            .unwrap_or_default();
        let error = str_field(value, "error").unwrap_or("error");
        return (
            "system".to_owned(),
            format!(
                "API {status}{error}: retry {} of {} in {} ms",
                number("attempt"),
                number("max_retries"),
                number("retry_delay_ms")
            ),
        );
    }
    ("system".to_owned(), format!("system: {subtype}"))
}

fn render_claude_control_request(value: &Value) -> (String, String) {
    let request = value.get("request").cloned().unwrap_or(Value::Null);
    match str_field(&request, "subtype") {
        Some("can_use_tool") => {
            let tool = str_field(&request, "tool_name").unwrap_or("tool");
            let input = request.get("input").cloned().unwrap_or(Value::Null);
            let summary = crate::agent_host::summarize(tool, &input);
            (
                "permission".to_owned(),
                format!("asks permission: {summary}"),
            )
        }
        other => (
            "control".to_owned(),
            format!("control request: {}", other.unwrap_or("?")),
        ),
    }
}

fn render_claude_control_response(value: &Value) -> (String, String) {
    let behavior = value
        .pointer("/response/response/behavior")
        .and_then(Value::as_str)
        .unwrap_or("answered");
    (
        "control".to_owned(),
        format!("permission answer: {behavior}"),
    )
}

/// The run's last line: its cost and tokens go into the verdict's report, an error into its
/// reason.
fn render_claude_result(value: &Value, verdict: &mut AgentVerdict) -> (String, String) {
    verdict.saw_result = true;
    let subtype = str_field(value, "subtype").unwrap_or("unknown");
    let is_error = value
        .get("is_error")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let cost = value.get("total_cost_usd").and_then(Value::as_f64);
    // `total_cost_usd` and `modelUsage` cover the whole conversation (all runs of a
    // resumed session), `usage` only this run: take tokens from `modelUsage` when it is
    // there, so cost and tokens speak of the same thing.
    let (input, output) = match model_usage_totals(value) {
        Some((input, output)) => (Some(input), Some(output)),
        None => {
            let usage = value.get("usage");
            (
                usage
                    .and_then(|usage| usage.get("input_tokens"))
                    .and_then(Value::as_i64),
                usage
                    .and_then(|usage| usage.get("output_tokens"))
                    .and_then(Value::as_i64),
            )
        }
    };
    verdict.report.cost_usd = cost.or(verdict.report.cost_usd);
    verdict.report.input_tokens = input.or(verdict.report.input_tokens);
    verdict.report.output_tokens = output.or(verdict.report.output_tokens);
    let result_text = claude_result_words(value);
    if subtype == "error_max_budget_usd" {
        verdict.budget_exceeded = true;
    }
    if is_error || subtype != "success" {
        verdict.error = Some(claude_error_reason(subtype, result_text));
    }
    let mut text = format!("result: {subtype}");
    if is_error {
        text.push_str(" (error)");
    }
    if let Some(turns) = value.get("num_turns").and_then(Value::as_i64) {
        text.push_str(&format!(", {turns} turns"));
    }
    if let Some(cost) = cost {
        text.push_str(&format!(", ${cost:.4}"));
    }
    if let (Some(input), Some(output)) = (input, output) {
        text.push_str(&format!(", {input} in / {output} out tokens"));
    }
    if !result_text.is_empty() {
        text.push('\n');
        text.push_str(&clip(result_text, MAX_RENDERED_OUTPUT));
    }
    ("result".to_owned(), text)
}

/// Input and output tokens summed over `modelUsage` (every model the conversation used).
pub(crate) fn model_usage_totals(value: &Value) -> Option<(i64, i64)> {
    let models = value.get("modelUsage")?.as_object()?;
    if models.is_empty() {
        return None;
    }
    let sum = |key: &str| {
        models
            .values()
            .filter_map(|usage| usage.get(key).and_then(Value::as_i64))
            .sum::<i64>()
    };
    Some((sum("inputTokens"), sum("outputTokens")))
}

/// What a Claude `result` line says: its `result` text or, when it has none (for example when
/// a resumed conversation is gone), the first of its `errors`.
pub(crate) fn claude_result_words(value: &Value) -> &str {
    let errors = value
        .get("errors")
        .and_then(Value::as_array)
        .and_then(|errors| errors.iter().find_map(Value::as_str))
        .unwrap_or("");
    str_field(value, "result").unwrap_or(errors)
}

pub(crate) fn claude_error_reason(subtype: &str, result_text: &str) -> String {
    let described = match subtype {
        "error_max_turns" => "Claude stopped: it reached the maximum number of turns".to_owned(),
        "error_max_budget_usd" => "Claude stopped: it reached the maximum budget".to_owned(),
        "error_during_execution" => "Claude failed during execution".to_owned(),
        "success" => "Claude reported an error".to_owned(),
        other => format!("Claude reported an error ({other})"),
    };
    let first_line = result_text.lines().next().unwrap_or("").trim();
    if first_line.is_empty() {
        described
    } else {
        format!("{described}: {first_line}")
    }
}

fn render_claude_content(value: &Value, role: &str) -> (String, String) {
    let content = value
        .get("message")
        .and_then(|message| message.get("content"));
    let items: Vec<&Value> = match content {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(Value::String(text)) => return (role.to_owned(), text.clone()),
        _ => Vec::new(),
    };
    let mut kind = role.to_owned();
    let mut parts = Vec::new();
    for item in items {
        match str_field(item, "type").unwrap_or("") {
            "text" => parts.push(str_field(item, "text").unwrap_or("").to_owned()),
            "thinking" => {
                if kind == role {
                    kind = "thinking".to_owned();
                }
                parts.push(format!(
                    "(thinking) {}",
                    str_field(item, "thinking").unwrap_or("")
                ));
            }
            "tool_use" => {
                kind = "tool_use".to_owned();
                let name = str_field(item, "name").unwrap_or("tool");
                let input = item.get("input").cloned().unwrap_or(Value::Null);
                parts.push(format!("→ {name}: {}", summarize_tool_input(&input)));
            }
            "tool_result" => {
                kind = "tool_result".to_owned();
                let is_error = item
                    .get("is_error")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let body = match item.get("content") {
                    Some(Value::String(text)) => text.clone(),
                    Some(Value::Array(blocks)) => blocks
                        .iter()
                        .filter_map(|block| str_field(block, "text"))
                        .collect::<Vec<_>>()
                        .join("\n"),
                    _ => String::new(),
                };
                let marker = if is_error { "← error" } else { "←" };
                parts.push(format!("{marker} {}", clip(&body, MAX_RENDERED_OUTPUT)));
            }
            other => parts.push(format!("({other})")),
        }
    }
    (kind, parts.join("\n"))
}

/// A Codex `file_change` item's changes, each as `KIND PATH`.
pub(crate) fn codex_file_changes(item: &Value) -> Vec<String> {
    let Some(changes) = item.get("changes").and_then(Value::as_array) else {
        return Vec::new();
    };
    changes
        .iter()
        .map(|change| {
            let kind = str_field(change, "kind").unwrap_or("change");
            format!("{kind} {}", str_field(change, "path").unwrap_or("?"))
        })
        .collect()
}

pub(crate) fn summarize_tool_input(input: &Value) -> String {
    for key in [
        "command",
        "file_path",
        "path",
        "pattern",
        "url",
        "description",
    ] {
        if let Some(text) = str_field(input, key) {
            return clip(text, 200);
        }
    }
    clip(&input.to_string(), 200)
}

fn render_codex(value: &Value, verdict: &mut AgentVerdict) -> (String, String) {
    let event_type = str_field(value, "type").unwrap_or("unknown");
    match event_type {
        "thread.started" => {
            let thread = str_field(value, "thread_id").unwrap_or("?");
            verdict.report.agent_session_id = Some(thread.to_owned());
            ("init".to_owned(), format!("Codex thread {thread}"))
        }
        "turn.started" => ("turn".to_owned(), "turn started".to_owned()),
        "turn.completed" => {
            let usage = value.get("usage");
            let input = usage
                .and_then(|usage| usage.get("input_tokens"))
                .and_then(Value::as_i64);
            let output = usage
                .and_then(|usage| usage.get("output_tokens"))
                .and_then(Value::as_i64);
            verdict.report.input_tokens =
                Some(verdict.report.input_tokens.unwrap_or(0) + input.unwrap_or(0));
            verdict.report.output_tokens =
                Some(verdict.report.output_tokens.unwrap_or(0) + output.unwrap_or(0));
            (
                "result".to_owned(),
                format!(
                    "turn completed, {} in / {} out tokens",
                    input.unwrap_or(0),
                    output.unwrap_or(0)
                ),
            )
        }
        "turn.failed" => {
            let message = value
                .get("error")
                .and_then(|error| str_field(error, "message"))
                .unwrap_or("unknown error");
            verdict.error = Some(format!("Codex turn failed: {message}"));
            ("error".to_owned(), format!("turn failed: {message}"))
        }
        "error" => {
            let message = str_field(value, "message").unwrap_or("unknown error");
            if verdict.error.is_none() {
                verdict.error = Some(format!("Codex error: {message}"));
            }
            ("error".to_owned(), format!("error: {message}"))
        }
        "item.started" | "item.updated" | "item.completed" => {
            let Some(item) = value.get("item") else {
                return (event_type.to_owned(), value.to_string());
            };
            render_codex_item(event_type, item)
        }
        other => (
            other.to_owned(),
            clip(&value.to_string(), MAX_RENDERED_OUTPUT),
        ),
    }
}

fn render_codex_item(event_type: &str, item: &Value) -> (String, String) {
    let item_type = str_field(item, "type").unwrap_or("item");
    match item_type {
        "agent_message" => (
            "assistant".to_owned(),
            str_field(item, "text").unwrap_or("").to_owned(),
        ),
        "reasoning" => (
            "thinking".to_owned(),
            format!("(thinking) {}", str_field(item, "text").unwrap_or("")),
        ),
        "command_execution" => {
            let command = str_field(item, "command").unwrap_or("");
            if event_type == "item.completed" {
                let exit = item
                    .get("exit_code")
                    .and_then(Value::as_i64)
                    .map(|code| format!("exit {code}"))
                    .unwrap_or_else(|| "done".to_owned());
                let output = str_field(item, "aggregated_output").unwrap_or("");
                let mut text = format!("← $ {command} ({exit})");
                if !output.is_empty() {
                    text.push('\n');
                    text.push_str(&clip(output.trim_end(), MAX_RENDERED_OUTPUT));
                }
                ("tool_result".to_owned(), text)
            } else {
                ("tool_use".to_owned(), format!("→ $ {command}"))
            }
        }
        "file_change" => (
            "tool_use".to_owned(),
            format!("→ files: {}", codex_file_changes(item).join(", ")),
        ),
        other => (
            other.to_owned(),
            clip(&item.to_string(), MAX_RENDERED_OUTPUT),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        format: OutputFormat,
        lines: &[&str],
        expected: &[(&str, &str)],
        expected_verdict: AgentVerdict,
    ) {
        let at = Utc::now();
        let mut verdict = AgentVerdict::default();
        let events: Vec<(String, String)> = lines
            .iter()
            .map(|line| {
                let event = parse_line(format, Stream::Stdout, line, at, &mut verdict);
                (event.kind, event.text)
            })
            .collect();
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(kind, text)| ((*kind).to_owned(), (*text).to_owned()))
            .collect();
        pretty_assertions::assert_eq!(events, expected);
        pretty_assertions::assert_eq!(verdict, expected_verdict);
        // The store's reading of the same lines: the same kinds, objects and verdict.
        let mut store_verdict = AgentVerdict::default();
        for line in lines {
            let full = parse_line(
                format,
                Stream::Stdout,
                line,
                at,
                &mut AgentVerdict::default(),
            );
            let stored = parse_line_to_store(format, Stream::Stdout, line, at, &mut store_verdict);
            pretty_assertions::assert_eq!(
                (&stored.kind, &stored.data),
                (&full.kind, &full.data),
                "{line}"
            );
            if stored.text.is_empty() {
                continue;
            }
            pretty_assertions::assert_eq!(stored.text, full.text, "{line}");
        }
        pretty_assertions::assert_eq!(store_verdict, expected_verdict);
    }

    #[test]
    fn claude_stream_json() {
        check(
            OutputFormat::ClaudeStreamJson,
            &[
                r#"{"type":"system","subtype":"init","session_id":"s1","model":"claude-sonnet-4-5"}"#,
                r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Looking."}]},"session_id":"s1"}"#,
                r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t","name":"Bash","input":{"command":"ls"}}]},"session_id":"s1"}"#,
                r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t","content":"README.md"}]},"session_id":"s1"}"#,
                r#"{"type":"result","subtype":"success","is_error":false,"num_turns":2,"result":"Done.","session_id":"s1","total_cost_usd":0.0123,"usage":{"input_tokens":1200,"output_tokens":345}}"#,
                "not json at all",
            ],
            &[
                ("init", "Claude session s1 (claude-sonnet-4-5)"),
                ("assistant", "Looking."),
                ("tool_use", "→ Bash: ls"),
                ("tool_result", "← README.md"),
                (
                    "result",
                    "result: success, 2 turns, $0.0123, 1200 in / 345 out tokens\nDone.",
                ),
                ("raw", "not json at all"),
            ],
            AgentVerdict {
                report: AgentReport {
                    agent_session_id: Some("s1".to_owned()),
                    cost_usd: Some(0.0123),
                    input_tokens: Some(1200),
                    output_tokens: Some(345),
                },
                saw_result: true,
                error: None,
                budget_exceeded: false,
            },
        );
    }

    /// Messages of odd shapes read the same whichever way they are read (see
    /// `parse_line_to_store`).
    #[test]
    fn claude_messages_of_odd_shapes() {
        check(
            OutputFormat::ClaudeStreamJson,
            &[
                r#"{"type":"assistant","message":{"content":[{"type":"thinking","thinking":"t"},{"type":"text","text":"a"},{"type":"tool_use","name":"R","input":{}}]}}"#,
                r#"{"type":"user","message":{"content":[{"type":"thinking","thinking":"t"},{"x":1},"s",{"type":"tool_result","content":[{"text":"r"}],"is_error":true}]}}"#,
                r#"{"type":"user","message":{"content":"plain"},"session_id":"s3"}"#,
                r#"{"type":"assistant","message":null,"session_id":null}"#,
                r#"{"type":"assistant","message":{"content":null}}"#,
                r#"{"type":"assistant","message":"m"}"#,
                r#"{"type":"assistant","message":{"content":[{"type":7}]}}"#,
                r#"{"type":"assistant","type":"user","message":{"content":[]}}"#,
                r#"{"type":"assistant","session_id":5}"#,
                r#"["assistant"]"#,
                r#"  {"type":"user"}"#,
                r#"{"type":"assistant"} x"#,
            ],
            &[
                ("tool_use", "(thinking) t\na\n→ R: {}"),
                ("tool_result", "(thinking) t\n()\n()\n← error r"),
                ("user", "plain"),
                ("assistant", ""),
                ("assistant", ""),
                ("assistant", ""),
                ("assistant", "()"),
                // A repeated key: the last one counts.
                ("user", ""),
                ("assistant", ""),
                ("raw", r#"["assistant"]"#),
                ("user", ""),
                ("raw", r#"{"type":"assistant"} x"#),
            ],
            AgentVerdict {
                report: AgentReport {
                    agent_session_id: Some("s3".to_owned()),
                    ..AgentReport::default()
                },
                ..AgentVerdict::default()
            },
        );
    }

    #[test]
    fn claude_error_results() {
        check(
            OutputFormat::ClaudeStreamJson,
            &[
                r#"{"type":"result","subtype":"success","is_error":true,"result":"API Error: 529 overloaded","session_id":"s2","total_cost_usd":0,"usage":{"input_tokens":0,"output_tokens":0}}"#,
            ],
            &[(
                "result",
                "result: success (error), $0.0000, 0 in / 0 out tokens\nAPI Error: 529 overloaded",
            )],
            AgentVerdict {
                report: AgentReport {
                    agent_session_id: Some("s2".to_owned()),
                    cost_usd: Some(0.0),
                    input_tokens: Some(0),
                    output_tokens: Some(0),
                },
                saw_result: true,
                error: Some("Claude reported an error: API Error: 529 overloaded".to_owned()),
                budget_exceeded: false,
            },
        );
    }

    #[test]
    fn claude_resumed_results_and_error_arrays() {
        check(
            OutputFormat::ClaudeStreamJson,
            &[
                r#"{"type":"system","subtype":"api_retry","attempt":1,"max_retries":1,"retry_delay_ms":533,"error_status":529,"error":"overloaded"}"#,
                r#"{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"Done.","session_id":"s3","total_cost_usd":0.00568,"usage":{"input_tokens":415,"output_tokens":11},"modelUsage":{"claude-sonnet-4-5":{"inputTokens":1000,"outputTokens":30},"claude-haiku-4-5":{"inputTokens":220,"outputTokens":10}}}"#,
                r#"{"type":"result","subtype":"error_during_execution","is_error":true,"num_turns":0,"session_id":"s3","total_cost_usd":0,"errors":["No conversation found with session ID: s3"]}"#,
            ],
            &[
                ("system", "API 529 overloaded: retry 1 of 1 in 533 ms"),
                (
                    "result",
                    "result: success, 1 turns, $0.0057, 1220 in / 40 out tokens\nDone.",
                ),
                (
                    "result",
                    "result: error_during_execution (error), 0 turns, $0.0000\nNo conversation found with session ID: s3",
                ),
            ],
            AgentVerdict {
                report: AgentReport {
                    agent_session_id: Some("s3".to_owned()),
                    cost_usd: Some(0.0),
                    input_tokens: Some(1220),
                    output_tokens: Some(40),
                },
                saw_result: true,
                error: Some(
                    "Claude failed during execution: No conversation found with session ID: s3"
                        .to_owned(),
                ),
                budget_exceeded: false,
            },
        );
    }

    #[test]
    fn codex_json() {
        check(
            OutputFormat::CodexJson,
            &[
                r#"{"type":"thread.started","thread_id":"th"}"#,
                r#"{"type":"turn.started"}"#,
                r#"{"type":"item.started","item":{"id":"1","type":"command_execution","command":"bash -lc ls","status":"in_progress"}}"#,
                r#"{"type":"item.completed","item":{"id":"1","type":"command_execution","command":"bash -lc ls","aggregated_output":"a\nb\n","exit_code":0}}"#,
                r#"{"type":"item.completed","item":{"id":"2","type":"agent_message","text":"Done."}}"#,
                r#"{"type":"turn.completed","usage":{"input_tokens":10,"output_tokens":5}}"#,
                r#"{"type":"turn.failed","error":{"message":"rate limit"}}"#,
            ],
            &[
                ("init", "Codex thread th"),
                ("turn", "turn started"),
                ("tool_use", "→ $ bash -lc ls"),
                ("tool_result", "← $ bash -lc ls (exit 0)\na\nb"),
                ("assistant", "Done."),
                ("result", "turn completed, 10 in / 5 out tokens"),
                ("error", "turn failed: rate limit"),
            ],
            AgentVerdict {
                report: AgentReport {
                    agent_session_id: Some("th".to_owned()),
                    cost_usd: None,
                    input_tokens: Some(10),
                    output_tokens: Some(5),
                },
                saw_result: false,
                error: Some("Codex turn failed: rate limit".to_owned()),
                budget_exceeded: false,
            },
        );
    }

    #[test]
    fn text_lines_are_text() {
        check(
            OutputFormat::Text,
            &[r#"{"type":"result"}"#, "plain"],
            &[("text", r#"{"type":"result"}"#), ("text", "plain")],
            AgentVerdict::default(),
        );
    }
}
