import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { SessionDetail } from "../../src/protocol";
import {
  describeBranchLine,
  describeExit,
  describeLanded,
  describeOutcome,
  describeUsage,
  pageHtml,
  renderActionsHtml,
  renderDetailsHtml,
} from "../../src/sessionPage";

function detail(over: Partial<SessionDetail>): SessionDetail {
  return {
    id: "0193a000-0000-7000-8000-00000000abcd",
    name: "add a README",
    repo: "/src/app",
    status: "completed",
    createdAt: "2026-11-25T11:50:00Z",
    lastActivityAt: "2026-11-25T11:55:00Z",
    prompt: "add a README <please>",
    agent: "claude",
    command: ["claude", "-p", "{prompt}"],
    worktreePath: "/src/app/.lulu/worktrees/add-a-readme-00abcd",
    branch: "lulu/add-a-readme-00abcd",
    baseCommit: "0123456789abcdef0123456789abcdef01234567",
    startedAt: "2026-11-25T11:50:01Z",
    endedAt: "2026-11-25T11:55:00Z",
    outcome: "exited",
    exitCode: 0,
    signal: null,
    failureDetail: null,
    agentSessionId: "sid",
    costUsd: 0.0123,
    inputTokens: 1200,
    outputTokens: 345,
    ports: [],
    worktreeGone: false,
    ...over,
    // Without the version 2 fields unless a case gives them: a version 1 server's detail.
  } as SessionDetail;
}

describe("detail facts", () => {
  const check = (over: Partial<SessionDetail>, expected: { outcome: string; exit: string; usage: string }) =>
    test(JSON.stringify(over), () =>
      assert.deepEqual(
        { outcome: describeOutcome(detail(over)), exit: describeExit(detail(over)), usage: describeUsage(detail(over)) },
        expected,
      ),
    );
  check({}, { outcome: "exited", exit: "exit code 0", usage: "$0.0123 · 1200 in / 345 out tokens" });
  check(
    { status: "failed", outcome: "signaled", exitCode: null, signal: 9, costUsd: null, inputTokens: null, outputTokens: null },
    { outcome: "killed by a signal (signaled)", exit: "signal 9", usage: "—" },
  );
  check(
    { status: "failed", outcome: "cancelled", exitCode: null, signal: 15, costUsd: 2.5 },
    { outcome: "cancelled", exit: "signal 15", usage: "$2.50 · 1200 in / 345 out tokens" },
  );
  check(
    { status: "running", outcome: null, exitCode: null, endedAt: null },
    { outcome: "—", exit: "—", usage: "$0.0123 · 1200 in / 345 out tokens" },
  );
  check(
    { status: "failed", outcome: "interrupted", exitCode: null },
    { outcome: "interrupted (its runner died) (interrupted)", exit: "—", usage: "$0.0123 · 1200 in / 345 out tokens" },
  );
});

describe("renderDetailsHtml", () => {
  test("a completed session: every field, escaped", () => {
    const html = renderDetailsHtml(detail({}));
    for (const s of [
      "<h2 class=\"name\">add a README</h2>",
      "status-completed\">Completed</span>",
      "<code>lulu/add-a-readme-00abcd</code>",
      "<code>/src/app/.lulu/worktrees/add-a-readme-00abcd</code>",
      "<code>0123456789abcdef0123456789abcdef01234567</code>",
      "exit code 0",
      "$0.0123 · 1200 in / 345 out tokens",
      "add a README &lt;please&gt;",
    ]) {
      assert.ok(html.includes(s), `missing ${s}`);
    }
    assert.ok(!html.includes("class=\"failure\""));
  });
  test("a failed session: reason inline, the whole detail below", () => {
    const html = renderDetailsHtml(
      detail({ status: "failed", failureReason: "exit code 1", failureDetail: "line 1\nline 2 <x>", outcome: "exited", exitCode: 1 }),
    );
    assert.ok(html.includes("status-failed\">Failed</span> <span class=\"reason\">exit code 1</span>"));
    assert.ok(html.includes("<pre>line 1\nline 2 &lt;x&gt;</pre>"));
  });
  test("a cancel the user asked for reads Cancelled, not Failure", () => {
    const html = renderDetailsHtml(
      detail({ status: "failed", failureReason: "cancelled by the user", failureDetail: "cancelled by the user (SIGTERM)", outcome: "cancelled", exitCode: null, signal: 15 }),
    );
    assert.ok(html.includes("status-cancelled\">Cancelled</span>"), html);
    assert.ok(html.includes("<h3>Cancelled</h3>"));
    assert.ok(!html.includes("<h3>Failure</h3>"));
  });
  test("times are local, never raw UTC strings", () => {
    const html = renderDetailsHtml(detail({}));
    assert.ok(!/>2026-11-25T/.test(html), "no raw timestamp shown as text");
    assert.match(html, /\(after 4m 59s\)/);
  });
  test("a running session has a moving indicator; an ended one none", () => {
    assert.match(renderDetailsHtml(detail({ status: "running", outcome: null, endedAt: null })), /class="spinner"/);
    assert.doesNotMatch(renderDetailsHtml(detail({})), /class="spinner"/);
  });
  test("a starting session has no worktree yet", () => {
    const html = renderDetailsHtml(detail({ status: "starting", worktreePath: null, branch: null, baseCommit: null }));
    assert.ok(html.includes("<tr data-key=\"worktree\"><th>Worktree</th><td>—</td></tr>"));
  });
});

test("pageHtml: a strict CSP with the nonce on the only script and style", () => {
  const html = pageHtml({ title: "t <1>", nonce: "abc123", cspSource: "vscode-webview://x", sessionId: "id-1" });
  // The session id is in the webview's state, so Reload Window brings the view back.
  assert.ok(html.includes('<body data-session="id-1">'));
  assert.match(html, /vscode\.setState\(\{ id: document\.body\.getAttribute\('data-session'\) \}\)/);
  assert.match(html, /default-src 'none'; style-src vscode-webview:\/\/x 'nonce-abc123'; script-src 'nonce-abc123'/);
  assert.equal(html.match(/<script nonce="abc123">/g)?.length, 1);
  assert.equal(html.match(/<script/g)?.length, 1);
  assert.ok(html.includes("<title>t &lt;1&gt;</title>"));
});

describe("session view buttons", () => {
  const buttons = (over: Partial<SessionDetail>) =>
    [...renderActionsHtml(detail(over)).matchAll(/data-command="([^"]+)"/g)].map((m) => m[1].replace(/^lulu\./, ""));
  test("by status", () => {
    assert.deepEqual(buttons({ status: "running" }), ["showChanges", "cancelSession", "openWorktree"]);
    assert.deepEqual(buttons({ status: "completed" }), ["continueSession", "showChanges", "openWorktree", "removeSession"]);
  });
  test("Continue never takes Cancel's place", () => {
    const running = buttons({ status: "running" });
    for (const status of ["completed", "failed"] as const) {
      assert.notEqual(buttons({ status })[running.indexOf("cancelSession")], "continueSession");
    }
  });
});

describe("where the branch stands (protocol version 2)", () => {
  const check = (over: Partial<SessionDetail>, expected: { branch: string; landed: string }) =>
    test(JSON.stringify(over), () =>
      assert.deepEqual({ branch: describeBranchLine(detail(over)), landed: describeLanded(detail(over)) }, expected),
    );
  check({ baseBranch: null, ahead: null, behind: null, landed: null }, { branch: "— (started on a detached HEAD)", landed: "no" });
  check({ baseBranch: "main", ahead: 2, behind: 0, landed: null }, { branch: "main (2 ahead, 0 behind)", landed: "no" });
  check(
    {
      baseBranch: "main",
      ahead: 1,
      behind: 1,
      landed: { into: "main", commit: "9c1d0e4f5a6b7c8d9e0f", strategy: "squash", at: "2026-11-25T12:00:00.000Z" },
    },
    { branch: "main (1 ahead, 1 behind)", landed: "into main (squash) as 9c1d0e4f5a6b at 2026-11-25T12:00:00.000Z" },
  );
  test("a version 1 server's detail shows neither row", () => {
    const html = renderDetailsHtml(detail({}));
    assert.ok(!html.includes("Base branch") && !html.includes("Landed"));
  });
  test("a version 2 server's detail shows both", () => {
    const html = renderDetailsHtml(detail({ baseBranch: "main", ahead: 0, behind: 3, landed: null }));
    assert.ok(html.includes('data-key="base-branch"><th>Base branch</th><td>main (0 ahead, 3 behind)</td>'), html);
    assert.ok(html.includes('data-key="landed"><th>Landed</th><td>no</td>'), html);
  });
});
