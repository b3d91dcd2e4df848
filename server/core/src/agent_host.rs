//! The runner as the agent's host (issue 12): Claude Code's stream-json input channel, and the
//! budgets that stop a session.
//!
//! A profile with `input: stream-json` runs its agent with stdin piped. The runner writes the
//! prompt as a user message (`{"type":"user","message":{...}}`); every `control_request` line
//! with `subtype: "can_use_tool"` becomes an approval row; an answer written to the database by
//! any client goes back as a `control_response` line; messages queued by `lulu/send` are
//! written as further user messages (Claude Code takes them after what it is doing now). Stdin
//! closes after the `result` that follows the last message the agent took (seen through
//! `--replay-user-messages`, else by counting results), when no request is pending: the
//! agent then exits. Closing it earlier would make a pending permission request fail.
//!
//! Writes to stdin go through a thread, so an agent that stops reading never blocks the runner.

use std::{
    io::Write,
    process::ChildStdin,
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::{
    model::{NewEvent, OutputFormat, Session, SessionId},
    store::{AgentReport, Approval, NewApproval, ResolvedBy, Store, StoreError},
};

/// How often the runner looks for answers while a request is pending.
pub const ANSWER_POLL: Duration = Duration::from_millis(10);
/// How often it looks for queued messages otherwise.
pub const IDLE_POLL: Duration = Duration::from_millis(50);
/// The longest one-line summary of a request.
const SUMMARY_MAX_CHARS: usize = 120;

/// A permission request the agent is waiting on.
struct Waiting {
    approval_id: String,
    asked: Instant,
}

pub struct AgentHost {
    id: SessionId,
    run: i64,
    stdin: Option<mpsc::Sender<Vec<u8>>>,
    approval_timeout: Option<Duration>,
    /// User messages written (the prompt is the first).
    written: u64,
    /// User messages the agent replayed (took).
    replayed: u64,
    /// `result` lines seen.
    results: u64,
    waiting: Vec<Waiting>,
    data_version: Option<i64>,
}

impl AgentHost {
    /// Starts hosting: writes the session's prompt as the first user message.
    pub fn start(session: &Session, stdin: ChildStdin) -> AgentHost {
        let (sender, lines) = mpsc::channel::<Vec<u8>>();
        thread::spawn(move || write_lines(stdin, lines));
        let mut host = AgentHost {
            id: session.id.clone(),
            run: session.run,
            stdin: Some(sender),
            approval_timeout: session.approval_timeout,
            written: 0,
            replayed: 0,
            results: 0,
            waiting: Vec::new(),
            data_version: None,
        };
        host.write_user_message(&session.prompt);
        host
    }

    /// How long the runner may wait for output before it calls [`AgentHost::tick`] again.
    pub fn poll_interval(&self) -> Duration {
        if self.waiting.is_empty() {
            IDLE_POLL
        } else {
            ANSWER_POLL
        }
    }

    /// When a pending request times out next (the runner must tick by then even if nothing
    /// wakes it); None when nothing is pending or there is no timeout.
    pub fn next_timeout(&self) -> Option<Instant> {
        let timeout = self.approval_timeout?;
        self.waiting
            .iter()
            .map(|waiting| waiting.asked + timeout)
            .min()
    }

    /// Looks at one stdout line of the agent.
    pub fn observe(&mut self, store: &mut Store, line: &str) -> Result<(), StoreError> {
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            return Ok(());
        };
        match value.get("type").and_then(Value::as_str) {
            Some("control_request") => self.on_control_request(store, &value),
            Some("control_cancel_request") => {
                let request_id = value.get("request_id").and_then(Value::as_str);
                self.on_cancel_request(store, request_id.unwrap_or_default())
            }
            Some("user") if value.get("isReplay").and_then(Value::as_bool) == Some(true) => {
                self.replayed += 1;
                Ok(())
            }
            Some("result") => {
                self.results += 1;
                let over_budget =
                    value.get("subtype").and_then(Value::as_str) == Some("error_max_budget_usd");
                self.maybe_close(store, over_budget)
            }
            _ => Ok(()),
        }
    }

    /// Delivers answers and queued messages, and denies requests past their timeout. Returns
    /// the transcript events that say so, for the runner to write in order with the output.
    pub fn tick(&mut self, store: &mut Store) -> Result<Vec<NewEvent>, StoreError> {
        self.deny_timed_out(store)?;
        let version = store.data_version()?;
        if self.data_version == Some(version) {
            return Ok(Vec::new());
        }
        self.data_version = Some(version);
        let events = self.deliver_answers(store)?;
        self.deliver_messages(store)?;
        Ok(events)
    }

    fn on_control_request(&mut self, store: &mut Store, value: &Value) -> Result<(), StoreError> {
        let request_id = value
            .get("request_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let request = value.get("request").cloned().unwrap_or(Value::Null);
        if request.get("subtype").and_then(Value::as_str) != Some("can_use_tool") {
            let subtype = request
                .get("subtype")
                .and_then(Value::as_str)
                .unwrap_or("?");
            self.write_json(&json!({
                "type": "control_response",
                "response": {
                    "subtype": "error",
                    "request_id": request_id,
                    "error": format!("lulu does not handle control requests of subtype {subtype}"),
                },
            }));
            return Ok(());
        }
        let tool = request
            .get("tool_name")
            .and_then(Value::as_str)
            .unwrap_or("tool")
            .to_owned();
        let input = request.get("input").cloned().unwrap_or_else(|| json!({}));
        let approval = store.insert_approval(&NewApproval {
            session_id: self.id.clone(),
            run: self.run,
            request_id,
            summary: summarize(&tool, &input),
            tool,
            input,
        })?;
        self.waiting.push(Waiting {
            approval_id: approval.id,
            asked: Instant::now(),
        });
        Ok(())
    }

    fn on_cancel_request(&mut self, store: &mut Store, request_id: &str) -> Result<(), StoreError> {
        let Some(position) = self.waiting.iter().position(|waiting| {
            store
                .approval(&waiting.approval_id)
                .ok()
                .flatten()
                .is_some_and(|approval| approval.request_id == request_id)
        }) else {
            return Ok(());
        };
        let waiting = self.waiting.remove(position);
        let message = "the agent withdrew the request";
        store.answer_approval(
            &waiting.approval_id,
            false,
            ResolvedBy::Cancel,
            Some(message),
        )?;
        store.mark_approval_delivered(&waiting.approval_id)
    }

    fn deny_timed_out(&mut self, store: &mut Store) -> Result<(), StoreError> {
        let Some(timeout) = self.approval_timeout else {
            return Ok(());
        };
        for waiting in &self.waiting {
            if waiting.asked.elapsed() < timeout {
                continue;
            }
            let message = format!(
                "lulu denied this: nobody answered within {} (the agent profile's approval timeout)",
                human_duration(timeout)
            );
            store.answer_approval(
                &waiting.approval_id,
                false,
                ResolvedBy::Timeout,
                Some(&message),
            )?;
            // The answer is delivered with the others, below.
            self.data_version = None;
        }
        Ok(())
    }

    fn deliver_answers(&mut self, store: &mut Store) -> Result<Vec<NewEvent>, StoreError> {
        let mut events = Vec::new();
        for approval in store.approvals_to_deliver(&self.id, self.run)? {
            self.write_json(&control_response(&approval));
            store.mark_approval_delivered(&approval.id)?;
            self.waiting
                .retain(|waiting| waiting.approval_id != approval.id);
            events.push(answer_event(&approval));
        }
        Ok(events)
    }

    fn deliver_messages(&mut self, store: &mut Store) -> Result<(), StoreError> {
        if self.stdin.is_none() {
            return Ok(());
        }
        for message in store.messages_to_deliver(&self.id, self.run)? {
            self.write_user_message(&message.text);
            store.mark_message_delivered(&self.id, message.seq)?;
        }
        Ok(())
    }

    /// After a result: closes stdin when the agent took every message and waits on nothing.
    fn maybe_close(&mut self, store: &mut Store, over_budget: bool) -> Result<(), StoreError> {
        if over_budget {
            self.stdin = None;
            return Ok(());
        }
        // Messages queued but not yet written go in now rather than be lost with stdin.
        self.deliver_messages(store)?;
        let taken = self.replayed.max(self.results);
        if self.waiting.is_empty() && taken >= self.written {
            self.stdin = None;
        }
        Ok(())
    }

    fn write_user_message(&mut self, text: &str) {
        self.written += 1;
        self.write_json(&json!({
            "type": "user",
            "message": { "role": "user", "content": [{ "type": "text", "text": text }] },
            "parent_tool_use_id": null,
            "session_id": "",
        }));
    }

    fn write_json(&mut self, value: &Value) {
        if let Some(stdin) = &self.stdin {
            let mut line = value.to_string().into_bytes();
            line.push(b'\n');
            if stdin.send(line).is_err() {
                self.stdin = None;
            }
        }
    }
}

fn write_lines(mut stdin: ChildStdin, lines: mpsc::Receiver<Vec<u8>>) {
    for line in lines {
        if let Err(error) = stdin.write_all(&line).and_then(|()| stdin.flush()) {
            tracing::warn!(%error, "writing to the agent's stdin failed");
            return;
        }
    }
    // The sender is gone: dropping `stdin` closes the agent's input.
}

/// The `control_response` line that answers an approval.
fn control_response(approval: &Approval) -> Value {
    let resolution = approval.resolution.as_ref();
    let allowed = resolution.is_some_and(|resolution| resolution.allowed);
    let answer = if allowed {
        json!({ "behavior": "allow", "updatedInput": approval.input })
    } else {
        let message = resolution
            .and_then(|resolution| resolution.message.clone())
            .filter(|message| !message.trim().is_empty())
            .unwrap_or_else(|| "The user denied this through lulu.".to_owned());
        json!({ "behavior": "deny", "message": message })
    };
    json!({
        "type": "control_response",
        "response": { "subtype": "success", "request_id": approval.request_id, "response": answer },
    })
}

fn answer_event(approval: &Approval) -> NewEvent {
    let (verb, by, message) = match &approval.resolution {
        Some(resolution) => (
            if resolution.allowed {
                "allowed"
            } else {
                "denied"
            },
            resolution.by.as_str(),
            resolution.message.clone().unwrap_or_default(),
        ),
        None => ("answered", "user", String::new()),
    };
    let mut text = format!("{verb} ({by}): {}", approval.summary);
    if !message.is_empty() {
        text.push_str(&format!(" — {message}"));
    }
    NewEvent::lulu("approval", text)
}

/// One line a person reads at a glance: `Bash: npm test`, `Write: src/main.rs`.
pub fn summarize(tool: &str, input: &Value) -> String {
    let field = [
        "command",
        "file_path",
        "notebook_path",
        "url",
        "pattern",
        "query",
    ]
    .iter()
    .find_map(|key| input.get(*key).and_then(Value::as_str));
    let detail = match field {
        Some(text) => text.to_owned(),
        None if input.as_object().is_some_and(|object| object.is_empty()) => String::new(),
        None => input.to_string(),
    };
    let collapsed = detail.split_whitespace().collect::<Vec<_>>().join(" ");
    let line = if collapsed.is_empty() {
        tool.to_owned()
    } else {
        format!("{tool}: {collapsed}")
    };
    if line.chars().count() <= SUMMARY_MAX_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(SUMMARY_MAX_CHARS - 1).collect();
    cut.push('…');
    cut
}

fn human_duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    let plural = |value: f64, unit: &str| {
        let rounded = (value * 10.0).round() / 10.0;
        if (rounded - 1.0).abs() < f64::EPSILON {
            format!("1 {unit}")
        } else {
            format!("{rounded} {unit}s")
        }
    };
    if seconds >= 3600.0 {
        plural(seconds / 3600.0, "hour")
    } else if seconds >= 60.0 {
        plural(seconds / 60.0, "minute")
    } else {
        plural(seconds, "second")
    }
}

/// A session's cost and time limits, as the runner enforces them.
#[derive(Debug, Clone)]
pub struct Budget {
    max_cost_usd: Option<f64>,
    max_minutes: Option<f64>,
    /// Claude Code enforces its own cost limit (`--max-budget-usd`).
    agent_enforces_cost: bool,
    started: Instant,
}

impl Budget {
    pub fn new(session: &Session) -> Budget {
        Budget {
            max_cost_usd: session.max_cost_usd,
            max_minutes: session.max_minutes,
            agent_enforces_cost: session.format == OutputFormat::ClaudeStreamJson,
            started: Instant::now(),
        }
    }

    /// When the time limit is reached, if the session has one.
    pub fn time_limit_at(&self) -> Option<Instant> {
        let minutes = self.max_minutes?;
        Duration::try_from_secs_f64(minutes * 60.0)
            .ok()
            .and_then(|limit| self.started.checked_add(limit))
    }

    /// The reason to stop the agent now, if a limit is passed.
    pub fn exceeded(&self, report: &AgentReport) -> Option<String> {
        if let Some(minutes) = self.max_minutes
            && self.started.elapsed().as_secs_f64() >= minutes * 60.0
        {
            return Some(format!(
                "over budget: the session ran past its time limit of {} (maxMinutes)",
                human_duration(Duration::from_secs_f64(minutes * 60.0))
            ));
        }
        if !self.agent_enforces_cost
            && let (Some(limit), Some(cost)) = (self.max_cost_usd, report.cost_usd)
            && cost > limit
        {
            return Some(self.cost_reason(Some(cost)));
        }
        None
    }

    /// The reason when the cost limit stopped the session (`cost`: what the agent reported).
    pub fn cost_reason(&self, cost: Option<f64>) -> String {
        let limit = self
            .max_cost_usd
            .map(|limit| {
                if limit >= 0.01 {
                    format!(" of ${limit:.2}")
                } else {
                    format!(" of ${limit}")
                }
            })
            .unwrap_or_default();
        let spent = cost
            .map(|cost| format!(" (spent ${cost:.4})"))
            .unwrap_or_default();
        format!("over budget: the session reached its cost limit{limit} (maxCostUsd){spent}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(tool: &str, input: Value, expected: &str) {
        assert_eq!(summarize(tool, &input), expected);
    }

    #[test]
    fn summaries_are_one_line() {
        check(
            "Bash",
            json!({"command": "npm test", "description": "Run the tests"}),
            "Bash: npm test",
        );
        check(
            "Bash",
            json!({"command": "cd x &&\n  make   all"}),
            "Bash: cd x && make all",
        );
        check(
            "Write",
            json!({"file_path": "/w/src/a.rs", "content": "x"}),
            "Write: /w/src/a.rs",
        );
        check("Mystery", json!({}), "Mystery");
        check("Mystery", json!({"a": 1}), "Mystery: {\"a\":1}");
        let long = summarize("Bash", &json!({"command": "x".repeat(300)}));
        assert_eq!(long.chars().count(), SUMMARY_MAX_CHARS);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(Duration::from_secs(1800)), "30 minutes");
        assert_eq!(human_duration(Duration::from_secs(60)), "1 minute");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1.5 seconds");
        assert_eq!(human_duration(Duration::from_secs(7200)), "2 hours");
    }
}
