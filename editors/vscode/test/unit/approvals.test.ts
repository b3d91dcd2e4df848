import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ApprovalStore,
  describeRequest,
  refusalSentence,
  renderApprovalsHtml,
  requestNotice,
  staleAnswerText,
  viewBadge,
  waitingText,
} from "../../src/approvalsModel";
import { type Approval, ErrorCodes } from "../../src/protocol";

function approval(over: Partial<Approval> = {}): Approval {
  return {
    approvalId: "a1",
    sessionId: "s1",
    tool: "Bash",
    input: { command: "npm test", description: "Run the tests" },
    summary: "Bash: npm test",
    requestedAt: "2026-01-02T03:05:00.120Z",
    ...over,
  };
}

const resolvedBy = (approvalId: string, by: "user" | "timeout" | "cancel", allowed = false) => ({ approvalId, sessionId: "s1", allowed, by });
const ids = (store: ApprovalStore) => store.list().map((a) => a.approvalId);

describe("ApprovalStore", () => {
  test("a request is told once: announced again (a reconnect, a restarted server), it is not shown twice", () => {
    const store = new ApprovalStore();
    assert.equal(store.requested(approval()), true);
    assert.equal(store.requested(approval()), false);
    store.beginReload();
    assert.equal(store.requested(approval()), false);
    store.finishReload([approval()]);
    assert.deepEqual(ids(store), ["a1"]);
  });
  test("a resolved request is no longer pending, keeps how it ended, and is not revived by a late announcement", () => {
    const store = new ApprovalStore();
    store.requested(approval());
    store.resolve(resolvedBy("a1", "user", true));
    assert.equal(store.isPending("a1"), false);
    assert.deepEqual(store.resolution("a1"), { allowed: true, by: "user" });
    assert.equal(store.requested(approval()), false);
    assert.deepEqual(ids(store), []);
    assert.equal(store.known("a1")?.summary, "Bash: npm test");
  });
  test("a reload drops what was resolved while the server was away, and keeps what was announced meanwhile", () => {
    const store = new ApprovalStore();
    store.requested(approval({ approvalId: "old" }));
    store.requested(approval({ approvalId: "kept" }));
    store.beginReload();
    store.requested(approval({ approvalId: "new", requestedAt: "2026-01-02T03:06:00Z" }));
    store.resolve(resolvedBy("kept", "timeout"));
    // The list was read before "new" and before "kept" was resolved.
    store.finishReload([approval({ approvalId: "kept" }), approval({ approvalId: "listed", requestedAt: "2026-01-02T03:04:00Z" })]);
    assert.deepEqual(ids(store), ["listed", "new"]);
    assert.equal(store.resolution("old"), "gone");
    assert.deepEqual(store.resolution("kept"), { allowed: false, by: "timeout" });
  });
  test("a failed reload keeps what is known", () => {
    const store = new ApprovalStore();
    store.requested(approval());
    store.beginReload();
    store.abandonReload();
    assert.deepEqual(ids(store), ["a1"]);
  });
  test("lists oldest first, by session and by scope", () => {
    const store = new ApprovalStore();
    store.requested(approval({ approvalId: "b", sessionId: "s2", requestedAt: "2026-01-02T03:07:00Z" }));
    store.requested(approval({ approvalId: "a", sessionId: "s1", requestedAt: "2026-01-02T03:06:00Z" }));
    store.requested(approval({ approvalId: "c", sessionId: "s1", requestedAt: "2026-01-02T03:08:00Z" }));
    assert.deepEqual(ids(store), ["a", "b", "c"]);
    assert.deepEqual(store.list({ sessionId: "s1" }).map((a) => a.approvalId), ["a", "c"]);
    assert.deepEqual(store.list({ include: (s) => s === "s2" }).map((a) => a.approvalId), ["b"]);
  });
});

describe("describeRequest", () => {
  const check = (over: Partial<Approval>, expected: string, root?: string) =>
    test(expected, () => assert.equal(describeRequest(approval(over), root), expected));
  check({}, "Claude wants to run: npm test");
  check({ input: { command: "npm test &&\n  npm run lint" } }, "Claude wants to run: npm test && npm run lint");
  check({ input: { command: `echo ${"x".repeat(200)}` } }, `Claude wants to run: echo ${"x".repeat(94)}…`);
  check(
    { tool: "Edit", input: { file_path: "/r/.lulu/worktrees/w/src/a.ts", old_string: "a", new_string: "b" }, summary: "Edit: /r/.lulu/worktrees/w/src/a.ts" },
    "Claude wants to edit src/a.ts",
    "/r/.lulu/worktrees/w",
  );
  check({ tool: "Write", input: { file_path: "/elsewhere/x.txt", content: "" }, summary: "Write: /elsewhere/x.txt" }, "Claude wants to edit /elsewhere/x.txt", "/r/w");
  check({ tool: "WebFetch", input: { url: "https://example.invalid/" }, summary: "WebFetch: https://example.invalid/" }, "Claude wants to use WebFetch: https://example.invalid/");
  check({ tool: "mcp__db__query", input: { sql: "select 1" }, summary: 'mcp__db__query: {"sql":"select 1"}' }, 'Claude wants to use mcp__db__query: {"sql":"select 1"}');
  test("the notice names the session", () => assert.equal(requestNotice(approval(), "fix ci"), 'Claude wants to run: npm test — in "fix ci"'));
});

describe("staleAnswerText", () => {
  const check = (resolution: Parameters<typeof staleAnswerText>[1], expected: string) =>
    test(expected, () => assert.equal(staleAnswerText(approval(), resolution), expected));
  check({ allowed: true, by: "user" }, "Lulu: that request (Bash: npm test) was already allowed.");
  check({ allowed: false, by: "user" }, "Lulu: that request (Bash: npm test) was already denied.");
  check({ allowed: false, by: "timeout" }, "Lulu: that request (Bash: npm test) was already denied: nobody answered in time.");
  check({ allowed: false, by: "cancel" }, "Lulu: that request (Bash: npm test) is no longer waiting: its session ended.");
  check("gone", "Lulu: that request (Bash: npm test) is no longer waiting: it was answered elsewhere, timed out, or its session ended.");
});

describe("refusalSentence", () => {
  const check = (code: number | undefined, agent: string | undefined, expected: string | undefined) =>
    test(`${code} ${agent}`, () => assert.equal(refusalSentence(code, "fix ci", agent), expected));
  check(ErrorCodes.NotRunning, undefined, '"fix ci" is not running any more, so it cannot take a message. Continue it to give the agent a new prompt.');
  check(
    ErrorCodes.AgentCannotTake,
    "codex",
    'The agent "codex" of "fix ci" cannot take messages while it runs: only an agent lulu hosts (Claude Code) can. Wait until it ends, then Continue it with your message.',
  );
  check(ErrorCodes.InvalidParams, undefined, undefined);
  check(undefined, undefined, undefined);
});

describe("viewBadge", () => {
  const counts = { running: 2, failed: 1, tooltip: "Lulu sessions: 2 running, 0 completed, 1 failed" };
  test("pending requests first", () => assert.deepEqual(viewBadge(3, counts), { value: 3, tooltip: "3 requests waiting for you" }));
  test("one request", () => assert.deepEqual(viewBadge(1, counts), { value: 1, tooltip: "1 request waiting for you" }));
  test("none pending: running and failed, as before", () => assert.deepEqual(viewBadge(0, counts), { value: 3, tooltip: counts.tooltip }));
  test("nothing at all", () => assert.equal(viewBadge(0, { running: 0, failed: 0, tooltip: "" }), undefined));
  test("waitingText", () => assert.equal(waitingText(2), "2 requests waiting for you"));
});

describe("renderApprovalsHtml", () => {
  test("nothing pending: nothing shown", () => assert.equal(renderApprovalsHtml([]), ""));
  test("a command in a code block, escaped, with its description and the three answers", () => {
    const html = renderApprovalsHtml([approval({ input: { command: "echo '<b>' && rm -rf x", description: "Clean <up>" } })]);
    assert.match(html, /<h3>1 request waiting for you<\/h3>/);
    assert.match(html, /<pre class="approval-input approval-command">echo &#39;&lt;b&gt;&#39; &amp;&amp; rm -rf x<\/pre>/);
    assert.match(html, /<div class="approval-why">Clean &lt;up&gt;<\/div>/);
    const answers = [...html.matchAll(/data-approval="a1" data-answer="(\w+)"/g)].map((m) => m[1]);
    assert.deepEqual(answers, ["allow", "deny", "denyWithMessage"]);
    assert.doesNotMatch(html, /<b>/);
  });
  test("another tool's input in full, as pretty JSON", () => {
    const html = renderApprovalsHtml([approval({ tool: "WebFetch", input: { url: "https://x.invalid/", prompt: "read" }, summary: "WebFetch: https://x.invalid/" })]);
    assert.ok(html.includes(`<pre class="approval-input">${'{\n  &quot;url&quot;: &quot;https://x.invalid/&quot;,\n  &quot;prompt&quot;: &quot;read&quot;\n}'}</pre>`), html);
  });
});
