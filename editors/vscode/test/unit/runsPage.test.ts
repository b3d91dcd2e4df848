import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { RunSummary, SessionDetail } from "../../src/protocol";
import { localTime } from "../../src/rows";
import { type RunView, renderRunsHtml, runViews } from "../../src/runsPage";
import { renderDetailsHtml } from "../../src/sessionPage";

function run(over: Partial<RunSummary>): RunSummary {
  return {
    run: 1,
    prompt: "add a README",
    queuedAt: "2026-11-25T11:50:00Z",
    status: "completed",
    startedAt: "2026-11-25T11:50:01Z",
    endedAt: "2026-11-25T11:51:03Z",
    outcome: "exited",
    failureReason: null,
    costUsd: 0.0123,
    inputTokens: 1200,
    outputTokens: 345,
    ...over,
  };
}

function detail(runs: RunSummary[] | undefined): SessionDetail {
  return {
    id: "0193a000-0000-7000-8000-00000000abcd",
    name: "add a README",
    repo: "/src/app",
    status: "completed",
    createdAt: "2026-11-25T11:50:00Z",
    lastActivityAt: "2026-11-25T11:55:00Z",
    prompt: "the latest prompt",
    agent: "claude",
    command: ["claude"],
    worktreePath: "/src/app/.lulu/worktrees/x",
    branch: "lulu/x",
    baseCommit: "0123456789abcdef",
    startedAt: null,
    endedAt: null,
    outcome: "exited",
    exitCode: 0,
    signal: null,
    failureDetail: null,
    agentSessionId: null,
    costUsd: null,
    inputTokens: null,
    outputTokens: null,
    ports: [],
    worktreeGone: false,
    pendingApprovals: [],
    maxCostUsd: null,
    maxMinutes: null,
    baseBranch: "main",
    ahead: 0,
    behind: 0,
    landed: null,
    ...(runs ? { runs } : {}),
  };
}

const NOW = Date.parse("2026-11-25T12:00:00Z");

describe("runViews: every run, latest first", () => {
  const check = (runs: RunSummary[] | undefined, expected: RunView[]) =>
    test(JSON.stringify(runs?.map((r) => [r.run, r.status, r.outcome]) ?? "no runs"), () =>
      assert.deepEqual(runViews(detail(runs), NOW), expected),
    );
  // An older server sends no runs: nothing to list (the page shows the one prompt).
  check(undefined, []);
  check(
    [
      run({ run: 1, prompt: "add a README\n\nwith a usage section" }),
      run({
        run: 2,
        prompt: "now a licence",
        queuedAt: "2026-11-25T11:56:00Z",
        status: "failed",
        startedAt: "2026-11-25T11:56:02Z",
        endedAt: "2026-11-25T11:56:12Z",
        outcome: "exited",
        failureReason: "exit code 1",
        costUsd: 1.5,
      }),
      run({
        run: 3,
        prompt: "try again",
        queuedAt: "2026-11-25T11:58:00Z",
        status: "failed",
        startedAt: "2026-11-25T11:58:01Z",
        endedAt: "2026-11-25T11:58:30Z",
        outcome: "cancelled",
        failureReason: "cancelled by the user",
        costUsd: null,
        inputTokens: null,
        outputTokens: null,
      }),
    ],
    [
      {
        run: 3,
        latest: true,
        status: "Cancelled",
        prompt: "try again",
        started: localTime("2026-11-25T11:58:01Z"),
        ended: localTime("2026-11-25T11:58:30Z"),
        duration: "29s",
        cost: "—",
        outcome: "cancelled",
      },
      {
        run: 2,
        latest: false,
        status: "Failed",
        prompt: "now a licence",
        started: localTime("2026-11-25T11:56:02Z"),
        ended: localTime("2026-11-25T11:56:12Z"),
        duration: "10s",
        cost: "$1.50 · 1200 in / 345 out tokens",
        outcome: "exited: exit code 1",
      },
      {
        run: 1,
        latest: false,
        status: "Completed",
        prompt: "add a README\n\nwith a usage section",
        started: localTime("2026-11-25T11:50:01Z"),
        ended: localTime("2026-11-25T11:51:03Z"),
        duration: "1m 2s",
        cost: "$0.0123 · 1200 in / 345 out tokens",
        outcome: "exited",
      },
    ],
  );
  // A run that runs, and one still queued.
  check(
    [run({ run: 1, status: "running", endedAt: null, outcome: null, costUsd: null, inputTokens: null, outputTokens: null })],
    [
      {
        run: 1,
        latest: true,
        status: "Running",
        prompt: "add a README",
        started: localTime("2026-11-25T11:50:01Z"),
        ended: "—",
        duration: "9m 59s so far",
        cost: "—",
        outcome: "—",
      },
    ],
  );
  check(
    [run({ run: 2, status: "starting", startedAt: null, endedAt: null, outcome: null, queuedAt: "2026-11-25T11:59:00Z" })],
    [
      {
        run: 2,
        latest: true,
        status: "Starting",
        prompt: "add a README",
        started: `not yet (queued ${localTime("2026-11-25T11:59:00Z")})`,
        ended: "—",
        duration: "—",
        cost: "$0.0123 · 1200 in / 345 out tokens",
        outcome: "—",
      },
    ],
  );
});

describe("renderRunsHtml", () => {
  test("an older server (no runs) and a session of one run: the prompt, as before", () => {
    for (const runs of [undefined, [run({})]]) {
      const html = renderRunsHtml(detail(runs), NOW);
      assert.equal(html, '<details class="prompt" open><summary>Prompt</summary><pre>the latest prompt</pre></details>');
    }
  });
  test("a continued session: each run with its own prompt (new lines kept, escaped), latest first", () => {
    const html = renderDetailsHtml(
      detail([run({ run: 1, prompt: "first <one>\nsecond line" }), run({ run: 2, prompt: "the latest prompt" })]),
    );
    assert.ok(!html.includes('class="prompt"'), "no lone Prompt block");
    assert.ok(html.includes("<h3>2 runs, latest first</h3>"), html);
    const second = html.indexOf('data-run="2"');
    const first = html.indexOf('data-run="1"');
    assert.ok(second > 0 && first > second, "run 2 before run 1");
    assert.ok(html.includes('<pre class="run-prompt">first &lt;one&gt;\nsecond line</pre>'));
    assert.ok(html.includes('<span class="run-title">Run 2 (latest)</span>'));
    assert.ok(html.includes("<tr><th>Duration</th><td>1m 2s</td></tr>"));
    assert.ok(!/>2026-11-25T/.test(html), "no raw timestamp shown as text");
  });
});
