#!/usr/bin/env python3
"""The checker of tests/claude-real/run.sh: reads what the real `lulu` binary says about a session
(`lulu show ID --json`, `lulu logs ID --json`, `lulu diff ID --json`) and what the mock Anthropic
API logged, and prints one line per assertion: `ok - WHAT` or `FAIL - WHAT: WHY`. Exits 1 when an
assertion failed.

    check.py wait ID                     waits (bounded patience) until the session has ended
    check.py first ID                    the first run: Write of hello.txt, completed
    check.py continued ID FIRST_AGENT_ID the `lulu continue` run: resumed, completed
    check.py failed ID SCENARIO TEXT     an API error: failed, one-line reason containing TEXT
    check.py completed ID                the session completed with exit code 0
    check.py lost ID AGENT_ID            `lulu continue` after the CLI lost the conversation

Environment: LULU_BIN (the lulu binary), MOCK_LOG (the mock's request log), CONVERSATION (the
mock's scripted conversation), PATIENCE (seconds to wait for a session to end, default 300).
"""

import json
import os
import subprocess
import sys
import time

LULU = os.environ.get("LULU_BIN", "lulu")
failures = 0


def check(what, condition, why=""):
    global failures
    if condition:
        print(f"ok - {what}", flush=True)
    else:
        failures += 1
        print(f"FAIL - {what}: {why}", flush=True)
    return condition


def lulu(*args):
    done = subprocess.run([LULU, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"`lulu {' '.join(args)}` exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def show(session_id):
    return json.loads(lulu("show", session_id, "--json"))


def transcript(session_id):
    return [json.loads(line) for line in lulu("logs", session_id, "--json").splitlines() if line.strip()]


def mock_requests(scenario=None):
    entries = []
    with open(os.environ["MOCK_LOG"], encoding="utf-8") as f:
        for line in f:
            entry = json.loads(line)
            if scenario is None or entry.get("scenario") == scenario:
                entries.append(entry)
    return entries


def conversation():
    with open(os.environ["CONVERSATION"], encoding="utf-8") as f:
        return json.load(f)


def brief(value, limit=600):
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + " …"


def content_blocks(event, block_type):
    data = event.get("data") or {}
    content = (data.get("message") or {}).get("content")
    if not isinstance(content, list):
        return []
    return [block for block in content if isinstance(block, dict) and block.get("type") == block_type]


def check_seq(events, what):
    seqs = [event["seq"] for event in events]
    check(f"{what}: transcript seq runs 1..{len(seqs)} with no gap", seqs == list(range(1, len(seqs) + 1)), brief(seqs))


def check_first_index(events, predicate, what):
    for index, event in enumerate(events):
        if predicate(event):
            check(what, True)
            return index
    check(what, False, "not in the transcript: " + brief([(e["kind"], e["text"][:80]) for e in events], 2000))
    return None


def cmd_wait(session_id):
    patience = float(os.environ.get("PATIENCE", "300"))
    deadline = time.monotonic() + patience
    while True:
        detail = show(session_id)
        if detail["status"] in ("completed", "failed"):
            print(f"session {session_id} ended: {detail['status']}", flush=True)
            return 0
        if time.monotonic() > deadline:
            check(f"session {session_id} ends", False, f"still {detail['status']} after {patience:.0f}s of patience")
            return 1
        time.sleep(0.2)


def check_usage(detail, what):
    check(
        f"{what}: agentSessionId is set",
        isinstance(detail.get("agentSessionId"), str) and detail["agentSessionId"] != "",
        brief(detail.get("agentSessionId")),
    )
    cost = detail.get("costUsd")
    check(
        f"{what}: costUsd is a number",
        isinstance(cost, (int, float)) and not isinstance(cost, bool) and cost >= 0,
        brief(cost),
    )
    for field in ("inputTokens", "outputTokens"):
        value = detail.get(field)
        check(
            f"{what}: {field} is a positive count",
            isinstance(value, int) and not isinstance(value, bool) and value > 0,
            brief(value),
        )


def check_report_matches_result(detail, data, what):
    """The detail's cost and tokens are what the CLI's `result` line said."""
    usage = data.get("usage") or {}
    models = data.get("modelUsage") or {}
    if models:
        # Like total_cost_usd, modelUsage covers the whole conversation (every run).
        expected_tokens = (
            sum(m.get("inputTokens", 0) for m in models.values()),
            sum(m.get("outputTokens", 0) for m in models.values()),
        )
    else:
        expected_tokens = (usage.get("input_tokens"), usage.get("output_tokens"))
    check(
        f"{what}: costUsd is the result's total_cost_usd",
        detail.get("costUsd") == data.get("total_cost_usd"),
        brief({"costUsd": detail.get("costUsd"), "total_cost_usd": data.get("total_cost_usd")}),
    )
    check(
        f"{what}: inputTokens/outputTokens are the conversation's (modelUsage, else usage)",
        (detail.get("inputTokens"), detail.get("outputTokens")) == expected_tokens,
        brief({"detail": [detail.get("inputTokens"), detail.get("outputTokens")], "modelUsage": models, "usage": usage}),
    )


def cmd_first(session_id):
    what = "first run"
    scenario = conversation()["scenarios"]["[hello]"]
    write = next(block for block in scenario[0] if block.get("type") == "tool_use")
    first_text = next(block["text"] for block in scenario[0] if block.get("type") == "text")
    final_text = next(block["text"] for block in scenario[1] if block.get("type") == "text")
    expected_content = write["input"]["content"]

    detail = show(session_id)
    check(f"{what}: status completed", detail["status"] == "completed", brief(detail))
    check(f"{what}: outcome exited", detail.get("outcome") == "exited", brief(detail.get("outcome")))
    check(f"{what}: exit code 0", detail.get("exitCode") == 0, brief(detail.get("exitCode")))
    check(f"{what}: no failure reason", "failureReason" not in detail, brief(detail.get("failureReason")))
    check(
        f"{what}: the built-in claude profile ran",
        detail.get("agent") == "claude" and (detail.get("command") or [None])[0] == "claude",
        brief({"agent": detail.get("agent"), "command": detail.get("command")}),
    )
    check_usage(detail, what)

    events = transcript(session_id)
    check_seq(events, what)
    init = check_first_index(
        events,
        lambda e: e["kind"] == "init" and (e.get("data") or {}).get("session_id") == detail.get("agentSessionId"),
        f"{what}: an init event carrying the agent session id",
    )
    text = check_first_index(
        events,
        lambda e: e["kind"] == "assistant" and any(b.get("text") == first_text for b in content_blocks(e, "text")),
        f"{what}: the assistant's text {first_text!r}",
    )
    tool_use = check_first_index(
        events,
        lambda e: e["kind"] == "tool_use"
        and any(
            b.get("name") == "Write" and str(b.get("input", {}).get("file_path", "")).endswith("/hello.txt")
            for b in content_blocks(e, "tool_use")
        ),
        f"{what}: a tool_use of Write on hello.txt",
    )
    tool_result = check_first_index(
        events,
        lambda e: e["kind"] == "tool_result"
        and any(not b.get("is_error", False) for b in content_blocks(e, "tool_result")),
        f"{what}: a successful tool_result",
    )
    final = check_first_index(
        events,
        lambda e: e["kind"] == "assistant" and any(b.get("text") == final_text for b in content_blocks(e, "text")),
        f"{what}: the assistant's final text {final_text!r}",
    )
    result = check_first_index(
        events,
        lambda e: e["kind"] == "result"
        and (e.get("data") or {}).get("subtype") == "success"
        and (e.get("data") or {}).get("is_error") is False,
        f"{what}: a result event, success, not an error",
    )
    if result is not None:
        check_report_matches_result(detail, events[result]["data"], what)
    order = [init, text, tool_use, tool_result, final, result]
    if None not in order:
        check(f"{what}: init, text, tool_use, tool_result, final text, result in that order", order == sorted(order), brief(order))

    worktree = detail.get("worktreePath") or ""
    hello = os.path.join(worktree, "hello.txt")
    exists = check(f"{what}: hello.txt exists in the worktree", os.path.isfile(hello), hello)
    if exists:
        with open(hello, encoding="utf-8") as f:
            content = f.read()
        check(f"{what}: hello.txt holds what the mock asked for", content == expected_content, brief(content))

    diff = json.loads(lulu("diff", session_id, "--json"))
    files = {entry["path"]: entry for entry in diff.get("files", [])}
    entry = files.get("hello.txt")
    check(
        f"{what}: lulu diff lists hello.txt as added",
        entry is not None and entry.get("status") == "added" and entry.get("additions") == expected_content.count("\n"),
        brief(diff),
    )
    check(f"{what}: lulu diff lists nothing else", set(files) == {"hello.txt"}, brief(sorted(files)))

    requests = mock_requests("[hello]")
    check(
        f"{what}: the mock played both turns of the conversation",
        [entry.get("turn") for entry in requests] == [0, 1],
        brief([(e.get("turn"), e.get("answer")) for e in requests]),
    )
    check(
        f"{what}: the CLI sent the mock's API key",
        all(e["headers"].get("x-api-key") == os.environ.get("ANTHROPIC_API_KEY") for e in requests) and requests != [],
        brief([e["headers"] for e in requests]),
    )
    return 1 if failures else 0


def resumes(command, agent_id):
    """`--resume ID` last: lulu's built-in profile hosts Claude Code, so the prompt goes in on
    stdin as a user message and is never an argument."""
    return command[-2:] == ["--resume", agent_id]


def cmd_continued(session_id, first_agent_id):
    what = "continued run"
    final_text = conversation()["scenarios"]["[again]"][0][0]["text"]
    detail = show(session_id)
    check(f"{what}: status completed", detail["status"] == "completed", brief(detail))
    check(f"{what}: outcome exited, exit code 0", (detail.get("outcome"), detail.get("exitCode")) == ("exited", 0), brief(detail))
    command = detail.get("command") or []
    check(
        f"{what}: the command resumed the first conversation (--resume {first_agent_id})",
        command[:1] == ["claude"] and resumes(command, first_agent_id),
        brief(command),
    )
    check_usage(detail, what)

    events = transcript(session_id)
    check_seq(events, what)
    inits = [e for e in events if e["kind"] == "init"]
    check(f"{what}: the transcript holds both runs' init events", len(inits) == 2, brief([e["text"] for e in inits]))
    results = [e for e in events if e["kind"] == "result"]
    check(f"{what}: the transcript holds both runs' result events", len(results) == 2, brief([e["text"] for e in results]))
    check_first_index(
        events,
        lambda e: e["kind"] == "assistant" and any(b.get("text") == final_text for b in content_blocks(e, "text")),
        f"{what}: the assistant's text {final_text!r}",
    )
    if len(results) == 2:
        first, last = results[0]["data"], results[1]["data"]
        # The real CLI's result after --resume: total_cost_usd and modelUsage count the whole
        # conversation (both runs), usage only this run.
        check(
            f"{what}: the CLI's total_cost_usd after --resume counts both runs",
            last.get("total_cost_usd", 0) > first.get("total_cost_usd", 0),
            brief([first.get("total_cost_usd"), last.get("total_cost_usd")]),
        )
        check_report_matches_result(detail, last, what)

    requests = mock_requests("[again]")
    check(f"{what}: the mock got the continued prompt", len(requests) == 1, brief(len(requests)))
    if requests:
        history = json.dumps(requests[0]["body"].get("messages", []))
        check(
            f"{what}: the CLI sent the first run's conversation back (the [hello] prompt and its Write)",
            "[hello]" in history and '"name": "Write"' in history,
            brief(history, 300),
        )
    hello = os.path.join(detail.get("worktreePath") or "", "hello.txt")
    check(f"{what}: hello.txt is still in the worktree", os.path.isfile(hello), hello)
    return 1 if failures else 0


def cmd_failed(session_id, scenario, expected_text):
    what = f"API error {scenario}"
    detail = show(session_id)
    check(f"{what}: status failed", detail["status"] == "failed", brief(detail))
    reason = detail.get("failureReason")
    check(
        f"{what}: failureReason is one readable line of at most 120 chars",
        isinstance(reason, str) and 0 < len(reason) <= 120 and "\n" not in reason and reason.strip() == reason,
        brief(reason),
    )
    check(f"{what}: failureReason says {expected_text!r}", isinstance(reason, str) and expected_text in reason, brief(reason))
    check(
        f"{what}: outcome agent_error and the CLI's non-zero exit code kept",
        detail.get("outcome") == "agent_error" and isinstance(detail.get("exitCode"), int) and detail["exitCode"] != 0,
        brief({"outcome": detail.get("outcome"), "exitCode": detail.get("exitCode")}),
    )
    check(
        f"{what}: failureDetail tells the story",
        isinstance(detail.get("failureDetail"), str) and expected_text in detail["failureDetail"],
        brief(detail.get("failureDetail")),
    )
    events = transcript(session_id)
    check_seq(events, what)
    check_first_index(
        events,
        lambda e: e["kind"] == "result" and (e.get("data") or {}).get("is_error") is True,
        f"{what}: a result event with is_error true",
    )
    requests = mock_requests(scenario)
    check(
        f"{what}: the mock answered the error",
        requests != [] and all(e["answer"] >= 400 for e in requests),
        brief([e["answer"] for e in requests]),
    )
    return 1 if failures else 0


def cmd_completed(session_id):
    detail = show(session_id)
    check(
        f"session {session_id}: completed, exit code 0",
        (detail["status"], detail.get("exitCode")) == ("completed", 0),
        brief(detail),
    )
    return 1 if failures else 0


def cmd_lost(session_id, agent_id):
    """`lulu continue` of a session whose Claude conversation is gone from the CLI's store."""
    what = "continue with a lost conversation"
    missing = f"No conversation found with session ID: {agent_id}"
    detail = show(session_id)
    check(f"{what}: status failed", detail["status"] == "failed", brief(detail))
    command = detail.get("command") or []
    check(f"{what}: the command resumed {agent_id}", resumes(command, agent_id), brief(command))
    check(
        f"{what}: outcome agent_error, exit code 1",
        (detail.get("outcome"), detail.get("exitCode")) == ("agent_error", 1),
        brief({"outcome": detail.get("outcome"), "exitCode": detail.get("exitCode")}),
    )
    reason = detail.get("failureReason")
    check(
        f"{what}: failureReason is one readable line of at most 120 chars",
        isinstance(reason, str) and 0 < len(reason) <= 120 and "\n" not in reason and reason.strip() == reason,
        brief(reason),
    )
    # The real CLI's result line here has no `result` text but `"errors": [...]`; the reason
    # carries its first entry.
    check(
        f"{what}: failureReason says the conversation was not found",
        reason.startswith("Claude failed during execution: No conversation found"),
        brief(reason),
    )
    check(
        f"{what}: failureDetail says the conversation was not found",
        isinstance(detail.get("failureDetail"), str) and missing in detail["failureDetail"],
        brief(detail.get("failureDetail")),
    )
    events = transcript(session_id)
    check_seq(events, what)
    results = [e for e in events if e["kind"] == "result"]
    last = (results[-1].get("data") or {}) if results else {}
    check(
        f"{what}: the last result is error_during_execution with the CLI's errors",
        last.get("subtype") == "error_during_execution" and last.get("is_error") is True and missing in (last.get("errors") or []),
        brief(last),
    )
    check_first_index(
        events,
        lambda e: e["stream"] == "stderr" and missing in e["text"],
        f"{what}: the CLI's stderr line is in the transcript",
    )
    return 1 if failures else 0


def main(argv):
    commands = {
        "wait": (cmd_wait, 1),
        "first": (cmd_first, 1),
        "continued": (cmd_continued, 2),
        "failed": (cmd_failed, 3),
        "lost": (cmd_lost, 2),
        "completed": (cmd_completed, 1),
    }
    if len(argv) < 2 or argv[1] not in commands or len(argv) - 2 != commands[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    function, _ = commands[argv[1]]
    try:
        return function(*argv[2:])
    except (RuntimeError, OSError, ValueError, KeyError, StopIteration) as error:
        check(f"{argv[1]} {' '.join(argv[2:])}", False, f"{type(error).__name__}: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
