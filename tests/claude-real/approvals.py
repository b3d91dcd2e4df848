#!/usr/bin/env python3
"""Issue 12 with the real Claude Code CLI, through the protocol: a small LSP client drives the real
`lulu serve` (Content-Length framing over stdio) while Claude Code talks to the loopback API mock.

    approvals.py REPO

Cases: a Bash call asked through can_use_tool appears as lulu/approvalRequested, Allow runs it (the
file is in the worktree); Deny reaches Claude as a denial and the session completes; the approval
timeout denies (profile claude-2s of the state dir's config.toml); cancel while waiting ends the
session with no process left in its worktree; lulu/send during a run reaches the API as another
user message; `lulu serve` killed and restarted while a request is pending: the new server
announces and lists it, and answering it works; a cost limit stops a session as over_budget.

Prints `ok - WHAT` / `FAIL - WHAT: WHY` lines like check.py. Environment as check.py (LULU_BIN,
MOCK_LOG, PATIENCE).
"""

import json
import os
import queue
import subprocess
import sys
import threading
import time

LULU = os.environ.get("LULU_BIN", "lulu")
PATIENCE = float(os.environ.get("PATIENCE", "300"))
failures = 0


def check(what, condition, why=""):
    global failures
    if condition:
        print(f"ok - {what}", flush=True)
    else:
        failures += 1
        print(f"FAIL - {what}: {why}", flush=True)
    return condition


class Server:
    """`lulu serve` and a minimal client: requests, and notifications kept until asked for."""

    def __init__(self, repo):
        self.process = subprocess.Popen(
            [LULU, "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self.incoming = queue.Queue()
        self.kept = []
        self.next_id = 1
        threading.Thread(target=self.read, daemon=True).start()
        self.request("initialize", {"processId": None, "rootUri": f"file://{repo}", "capabilities": {}})
        self.notify("initialized", {})

    def read(self):
        stream = self.process.stdout
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            self.incoming.put(json.loads(stream.read(length)))

    def send(self, message):
        body = json.dumps(message).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def call(self, method, params):
        request_id = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        while True:
            message = self.incoming.get(timeout=PATIENCE)
            if message.get("id") == request_id and "method" not in message:
                return message
            self.kept.append(message)

    def request(self, method, params):
        answer = self.call(method, params)
        if "error" in answer:
            raise RuntimeError(f"{method} {json.dumps(params)} failed: {answer['error']}")
        return answer["result"]

    def notification(self, pick, patience=PATIENCE):
        for index, message in enumerate(self.kept):
            if pick(message):
                return self.kept.pop(index)
        deadline = time.monotonic() + patience
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                message = self.incoming.get(timeout=left)
            except queue.Empty:
                return None
            if pick(message):
                return message
            self.kept.append(message)

    def approval_requested(self, session_id):
        message = self.notification(
            lambda m: m.get("method") == "lulu/approvalRequested"
            and m["params"]["approval"]["sessionId"] == session_id
        )
        return message and message["params"]["approval"]

    def approval_resolved(self, approval_id):
        message = self.notification(
            lambda m: m.get("method") == "lulu/approvalResolved" and m["params"]["approvalId"] == approval_id
        )
        return message and message["params"]

    def ended(self, session_id):
        """Waits until the session has ended; returns its SessionDetail."""
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            detail = self.request("lulu/session", {"id": session_id})
            if detail["status"] in ("completed", "failed"):
                return detail
            self.notification(
                lambda m: m.get("method") == "lulu/sessionChanged" and m["params"]["session"]["id"] == session_id,
                patience=1,
            )
        return self.request("lulu/session", {"id": session_id})

    def close(self, kill=False):
        if kill:
            self.process.kill()
        else:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def spawn(server, prompt, **extra):
    return server.request("lulu/spawn", dict({"prompt": prompt}, **extra))["id"]


def transcript(server, session_id):
    return server.request("lulu/transcript", {"id": session_id})["events"]


def main_requests(scenario):
    with open(os.environ["MOCK_LOG"], encoding="utf-8") as f:
        entries = [json.loads(line) for line in f]
    return [e for e in entries if e.get("role") == "main" and e.get("scenario") == scenario]


def tool_results(request):
    for message in request["body"].get("messages", []):
        if message.get("role") == "user" and isinstance(message.get("content"), list):
            for block in message["content"]:
                if block.get("type") == "tool_result":
                    yield block


def tool_result_text(block):
    content = block.get("content")
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def processes_in(folder):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if cwd == folder or cwd.startswith(folder + "/"):
            found.append(entry)
    return found


def case_allow(server):
    what = "allow"
    session_id = spawn(server, "[bash-allow] Make a file with Python")
    approval = server.approval_requested(session_id)
    if not check(f"{what}: the Bash call appears as lulu/approvalRequested", approval is not None, "none came"):
        return
    check(
        f"{what}: the approval names the tool and its command",
        approval["tool"] == "Bash"
        and "made-by-bash.txt" in approval["input"].get("command", "")
        and approval["summary"].startswith("Bash: python3 -c"),
        json.dumps(approval),
    )
    detail = server.request("lulu/session", {"id": session_id})
    check(
        f"{what}: the session is running with the request pending",
        detail["status"] == "running" and [a["approvalId"] for a in detail["pendingApprovals"]] == [approval["approvalId"]],
        json.dumps({"status": detail["status"], "pending": detail["pendingApprovals"]}),
    )
    server.request("lulu/approve", {"approvalId": approval["approvalId"], "allow": True})
    resolved = server.approval_resolved(approval["approvalId"])
    check(f"{what}: lulu/approvalResolved by user, allowed", resolved and resolved["allowed"] and resolved["by"] == "user", json.dumps(resolved))
    detail = server.ended(session_id)
    check(f"{what}: the session completed", detail["status"] == "completed", json.dumps(detail)[:800])
    made = os.path.join(detail.get("worktreePath") or "/nonexistent", "made-by-bash.txt")
    check(f"{what}: the file Bash made is in the worktree", os.path.isfile(made) and open(made).read() == "made by Bash", made)


def case_deny(server):
    what = "deny"
    session_id = spawn(server, "[bash-deny] Make a file with Python")
    approval = server.approval_requested(session_id)
    if not check(f"{what}: the Bash call appears as lulu/approvalRequested", approval is not None, "none came"):
        return
    server.request("lulu/approve", {"approvalId": approval["approvalId"], "allow": False, "message": "No Python here, please."})
    detail = server.ended(session_id)
    check(f"{what}: the session still completed", detail["status"] == "completed", json.dumps(detail)[:800])
    check(f"{what}: no file was made", not os.path.exists(os.path.join(detail.get("worktreePath") or "/x", "denied.txt")))
    denials = [b for r in main_requests("[bash-deny]") for b in tool_results(r) if b.get("is_error")]
    check(
        f"{what}: the denial and its message reached the API as an error tool_result",
        any("No Python here, please." in tool_result_text(b) for b in denials),
        json.dumps(denials)[:800],
    )


def case_timeout(server):
    what = "timeout"
    session_id = spawn(server, "[bash-timeout] Make a file with Python", agent="claude-2s")
    approval = server.approval_requested(session_id)
    if not check(f"{what}: the Bash call appears as lulu/approvalRequested", approval is not None, "none came"):
        return
    resolved = server.approval_resolved(approval["approvalId"])
    check(f"{what}: resolved by timeout, denied", resolved and not resolved["allowed"] and resolved["by"] == "timeout", json.dumps(resolved))
    detail = server.ended(session_id)
    check(f"{what}: the session completed", detail["status"] == "completed", json.dumps(detail)[:800])
    denials = [b for r in main_requests("[bash-timeout]") for b in tool_results(r) if b.get("is_error")]
    check(
        f"{what}: Claude was told that nobody answered in time",
        any("nobody answered within 2 seconds" in tool_result_text(b) for b in denials),
        json.dumps(denials)[:800],
    )


def case_cancel(server):
    what = "cancel while waiting"
    session_id = spawn(server, "[bash-cancel] Make a file with Python")
    approval = server.approval_requested(session_id)
    if not check(f"{what}: the Bash call appears as lulu/approvalRequested", approval is not None, "none came"):
        return
    worktree = server.request("lulu/session", {"id": session_id})["worktreePath"]
    row = server.request("lulu/cancel", {"id": session_id})
    resolved = server.approval_resolved(approval["approvalId"])
    check(f"{what}: resolved by cancel", resolved and resolved["by"] == "cancel" and not resolved["allowed"], json.dumps(resolved))
    detail = server.ended(session_id)
    check(
        f"{what}: the session failed as cancelled, nothing pending",
        detail["status"] == "failed" and detail["outcome"] == "cancelled" and detail["pendingApprovals"] == [],
        json.dumps({"row": row, "detail": detail})[:800],
    )
    deadline = time.monotonic() + 10
    left = processes_in(worktree)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = processes_in(worktree)
    check(f"{what}: no process is left in the worktree", not left, f"pids {left}")


def case_send(server):
    what = "send"
    session_id = spawn(server, "[bash-send] Make a file with Python")
    approval = server.approval_requested(session_id)
    if not check(f"{what}: the Bash call appears as lulu/approvalRequested", approval is not None, "none came"):
        return
    text = "Also, please say hello when you are done."
    check(f"{what}: lulu/send answers {{}}", server.request("lulu/send", {"id": session_id, "text": text}) == {})
    server.request("lulu/approve", {"approvalId": approval["approvalId"], "allow": True})
    detail = server.ended(session_id)
    check(f"{what}: the session completed", detail["status"] == "completed", json.dumps(detail)[:800])
    carried = []
    for request in main_requests("[bash-send]"):
        users = [m for m in request["body"].get("messages", []) if m.get("role") == "user"]
        for message in users[1:]:
            blocks = message["content"] if isinstance(message["content"], list) else [{"type": "text", "text": message["content"]}]
            if any(b.get("type") == "text" and text in b.get("text", "") for b in blocks):
                carried.append(request.get("turn"))
    check(f"{what}: the message reached the API in a later user message", carried, "not in any request after the first user message")
    late = server.call("lulu/send", {"id": session_id, "text": "too late"})
    check(f"{what}: an ended session answers -32019", late.get("error", {}).get("code") == -32019, json.dumps(late))


def case_restart(repo):
    what = "restart"
    first = Server(repo)
    session_id = spawn(first, "[bash-restart] Make a file with Python")
    approval = first.approval_requested(session_id)
    if not check(f"{what}: the Bash call appears as lulu/approvalRequested", approval is not None, "none came"):
        first.close(kill=True)
        return
    first.close(kill=True)
    second = Server(repo)
    try:
        announced = second.approval_requested(session_id)
        check(f"{what}: the new server announces the pending request", announced and announced["approvalId"] == approval["approvalId"], json.dumps(announced))
        listed = second.request("lulu/approvals", {})["approvals"]
        check(f"{what}: the new server lists it", [a["approvalId"] for a in listed] == [approval["approvalId"]], json.dumps(listed))
        second.request("lulu/approve", {"approvalId": approval["approvalId"], "allow": True})
        detail = second.ended(session_id)
        check(f"{what}: the session completed", detail["status"] == "completed", json.dumps(detail)[:800])
        made = os.path.join(detail.get("worktreePath") or "/x", "restart.txt")
        check(f"{what}: the file Bash made is in the worktree", os.path.isfile(made), made)
    finally:
        second.close()


def case_budget(server):
    what = "budget"
    session_id = spawn(server, "[budget] Answer expensively", maxCostUsd=0.000001)
    detail = server.ended(session_id)
    check(
        f"{what}: the session failed as over_budget",
        detail["status"] == "failed" and detail["outcome"] == "over_budget" and detail["maxCostUsd"] == 0.000001,
        json.dumps(detail)[:800],
    )
    check(f"{what}: the reason names the limit", "maxCostUsd" in (detail.get("failureReason") or ""), detail.get("failureReason"))
    results = [e for e in transcript(server, session_id) if e["kind"] == "result"]
    check(
        f"{what}: Claude ended with error_max_budget_usd",
        any((e.get("data") or {}).get("subtype") == "error_max_budget_usd" for e in results),
        json.dumps(results)[:800],
    )


def main():
    repo = sys.argv[1]
    server = Server(repo)
    try:
        for case in (case_allow, case_deny, case_timeout, case_cancel, case_send, case_budget):
            try:
                case(server)
            except Exception as error:  # noqa: BLE001 - one case's failure must not hide the others
                check(f"{case.__name__} ran", False, repr(error))
    finally:
        server.close()
    try:
        case_restart(repo)
    except Exception as error:  # noqa: BLE001
        check("case_restart ran", False, repr(error))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
