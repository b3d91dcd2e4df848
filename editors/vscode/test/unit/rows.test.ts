import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { SessionRow } from "../../src/protocol";
import { compareRows } from "../../src/protocol";
import { type RowFilter, countRows, describeFilter, escapeMarkdown, formatAge, isOlderRow, matchesFilter, msUntilAgeChanges, renderRow } from "../../src/rows";

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe("formatAge", () => {
  const check = (ageMs: number, expected: string) =>
    test(`${ageMs} ms -> ${expected}`, () => assert.equal(formatAge(ageMs), expected));
  check(0, "0s");
  check(999, "0s");
  check(5 * S, "5s");
  check(59 * S + 999, "59s");
  check(M, "1m");
  check(2 * M + 30 * S, "2m");
  check(59 * M + 59 * S, "59m");
  check(H, "1h");
  check(23 * H + 59 * M, "23h");
  check(D, "1d");
  check(3 * D + 5 * H, "3d");
  check(400 * D, "400d");
  check(-5 * S, "0s"); // a clock a little ahead of ours
  check(Number.NaN, "0s");
});

describe("msUntilAgeChanges", () => {
  const check = (ageMs: number, expected: number) =>
    test(`${ageMs} ms -> next change in ${expected} ms`, () => assert.equal(msUntilAgeChanges(ageMs), expected));
  check(0, S);
  check(5 * S + 250, 750);
  check(59 * S, S);
  check(M, M);
  check(2 * M + 30 * S, 30 * S);
  check(H + 15 * M, 45 * M);
  check(D, D);
  check(-300, 1300);
  test("the text really changes at that moment and not before", () => {
    for (const age of [0, 1234, 59_500, 61_000, 3_599_000, 3_600_001, 86_399_999, 90_000_000]) {
      const wait = msUntilAgeChanges(age);
      assert.equal(formatAge(age + wait - 1), formatAge(age), `age ${age}: changed early`);
      assert.notEqual(formatAge(age + wait), formatAge(age), `age ${age}: no change after ${wait}`);
    }
  });
});

const NOW = Date.parse("2026-11-25T12:00:00Z");
function row(over: Partial<SessionRow>): SessionRow {
  return {
    id: "0193a000-0000-7000-8000-000000000001",
    name: "fix the flaky test",
    repo: "/src/app",
    status: "running",
    createdAt: "2026-11-25T11:50:00Z",
    lastActivityAt: "2026-11-25T11:59:55Z",
    ...over,
  };
}

describe("renderRow by status", () => {
  const check = (
    input: Partial<SessionRow>,
    expected: { description: string; icon: string; iconColor: string; contextValue: string; ariaLabel: string },
  ) =>
    test(`${input.status}${input.failureReason ? " with a reason" : ""}`, () => {
      const v = renderRow(row(input), NOW);
      assert.deepEqual(
        { description: v.description, icon: v.icon, iconColor: v.iconColor, contextValue: v.contextValue, ariaLabel: v.ariaLabel },
        expected,
      );
      assert.equal(v.label, row(input).name);
    });
  check(
    { status: "starting", lastActivityAt: "2026-11-25T11:59:58Z" },
    {
      description: "2s",
      icon: "clock",
      iconColor: "charts.yellow",
      contextValue: "lulu.session.starting",
      ariaLabel: "fix the flaky test, Starting, 2s",
    },
  );
  check(
    { status: "running" },
    {
      description: "5s",
      icon: "loading~spin",
      iconColor: "charts.blue",
      contextValue: "lulu.session.running",
      ariaLabel: "fix the flaky test, Running, 5s",
    },
  );
  check(
    { status: "completed", lastActivityAt: "2026-11-25T11:58:00Z" },
    {
      description: "2m",
      icon: "pass-filled",
      iconColor: "testing.iconPassed",
      contextValue: "lulu.session.completed",
      ariaLabel: "fix the flaky test, Completed, 2m",
    },
  );
  check(
    { status: "failed", lastActivityAt: "2026-11-25T10:30:00Z", failureReason: "exit code 1: error_max_turns" },
    {
      description: "1h · exit code 1: error_max_turns",
      icon: "error",
      iconColor: "testing.iconFailed",
      contextValue: "lulu.session.failed",
      ariaLabel: "fix the flaky test, Failed, exit code 1: error_max_turns, 1h",
    },
  );
  check(
    { status: "failed", lastActivityAt: "2026-11-22T12:00:00Z", failureReason: "two\nlines  of\treason" },
    {
      description: "3d · two lines of reason",
      icon: "error",
      iconColor: "testing.iconFailed",
      contextValue: "lulu.session.failed",
      ariaLabel: "fix the flaky test, Failed, two lines of reason, 3d",
    },
  );
  test("only running moves", () => {
    for (const status of ["starting", "completed", "failed"] as const) {
      assert.ok(!renderRow(row({ status, failureReason: "x" }), NOW).icon.includes("~spin"), status);
    }
    assert.ok(renderRow(row({ status: "running" }), NOW).icon.endsWith("~spin"));
  });
  test("a reason shows only on a failed row", () => {
    assert.equal(renderRow(row({ status: "completed", failureReason: "stale" }), NOW).description, "5s");
  });
  test("the age comes first on a failed row, so a narrow sidebar cuts the reason, never the age", () => {
    const v = renderRow(row({ status: "failed", failureReason: "x".repeat(120) }), NOW);
    assert.ok(v.description.startsWith("5s · "), v.description);
  });
  test("a Starting row's tooltip says it is queued, with its place in line", () => {
    const check = (place: number | undefined, expected: RegExp) =>
      assert.match(renderRow(row({ status: "starting" }), NOW, { queuePlace: place }).tooltip, expected);
    check(1, /Starting: queued for a running slot, first in line/);
    check(2, /Starting: queued for a running slot, 2nd in line \(first come, first served\)/);
    check(3, /3rd in line/);
    check(11, /11th in line/);
    check(undefined, /Starting: waiting for a running slot/);
    assert.doesNotMatch(renderRow(row({ status: "running" }), NOW, { queuePlace: 2 }).tooltip, /queued/);
  });
  test("a Running row waiting for the user says so in its tooltip and label, still Running, with no subtext", () => {
    const v = renderRow(row({ status: "running" }), NOW, { waiting: 2 });
    assert.match(v.tooltip, /Running, waiting for you: 2 requests \(open the session to answer\)/);
    assert.equal(v.ariaLabel, `${row({}).name}, Running, waiting for you, 5s`);
    assert.equal(v.description, "5s");
    assert.equal(v.contextValue, "lulu.session.running");
    assert.ok(v.icon.endsWith("~spin"));
    assert.doesNotMatch(renderRow(row({ status: "completed" }), NOW, { waiting: 1 }).ariaLabel, /waiting/);
  });
  test("the tooltip shows times in local time, not raw UTC strings", () => {
    const v = renderRow(row({}), NOW);
    assert.doesNotMatch(v.tooltip, /2026-11-25T/);
    assert.match(v.tooltip, /Created .*\(10m ago\)/);
  });
  test("the tooltip has the details, the name escaped", () => {
    const v = renderRow(row({ name: "a *bold* [link]", status: "failed", failureReason: "cancelled by the user" }), NOW);
    assert.match(v.tooltip, /^\*\*a \\\*bold\\\* \\\[link\\\]\*\*/);
    assert.match(v.tooltip, /Failed: cancelled by the user/);
    assert.match(v.tooltip, /Repository `\/src\/app`/);
    assert.match(v.tooltip, /Id `0193a000-0000-7000-8000-000000000001`/);
  });
});

describe("escapeMarkdown", () => {
  const check = (input: string, expected: string) => test(input, () => assert.equal(escapeMarkdown(input), expected));
  check("plain words", "plain words");
  check("a_b*c`d", "a\\_b\\*c\\`d");
  check("<img>", "\\<img\\>");
});

describe("compareRows: newest first, then id descending", () => {
  const check = (rows: Array<[string, string]>, expected: string[]) =>
    test(expected.join(","), () => {
      const sorted = rows.map(([id, createdAt]) => row({ id, createdAt })).sort(compareRows);
      assert.deepEqual(sorted.map((r) => r.id), expected);
    });
  check(
    [
      ["a", "2026-11-25T10:00:00Z"],
      ["b", "2026-11-25T11:00:00Z"],
      ["c", "2026-11-25T09:00:00Z"],
    ],
    ["b", "a", "c"],
  );
  check(
    [
      ["x1", "2026-11-25T10:00:00Z"],
      ["x3", "2026-11-25T10:00:00Z"],
      ["x2", "2026-11-25T10:00:00Z"],
    ],
    ["x3", "x2", "x1"],
  );
});

describe("countRows: the status bar item and the badge", () => {
  const check = (statuses: SessionRow["status"][], expected: { text: string; tooltip: string; running: number }) =>
    test(statuses.join(",") || "none", () => {
      const c = countRows(statuses.map((status, i) => row({ id: String(i), status })));
      assert.deepEqual({ text: c.text, tooltip: c.tooltip, running: c.running }, expected);
    });
  check([], { text: "", tooltip: "Lulu sessions: 0 running, 0 completed, 0 failed", running: 0 });
  check(["running", "running", "failed", "completed"], {
    text: "$(loading~spin) 2 running  $(error) 1 failed",
    tooltip: "Lulu sessions: 2 running, 1 completed, 1 failed",
    running: 2,
  });
  check(["starting", "completed"], { text: "$(clock) 1 starting", tooltip: "Lulu sessions: 0 running, 1 starting, 1 completed, 0 failed", running: 0 });
});

describe("filter", () => {
  const check = (f: RowFilter, input: Partial<SessionRow>, expected: boolean) =>
    test(`${JSON.stringify(f)} ${JSON.stringify(input)}`, () => assert.equal(matchesFilter(row(input), f), expected));
  check({}, {}, true);
  check({ status: "failed" }, { status: "failed" }, true);
  check({ status: "failed" }, { status: "running" }, false);
  check({ name: "FLAKY" }, {}, true);
  check({ name: "nope" }, {}, false);
  check({ status: "running", name: "flaky" }, { status: "running" }, true);
  test("describeFilter", () => {
    assert.equal(describeFilter({}), undefined);
    assert.equal(describeFilter({ status: "failed", name: "x" }), "Filter: Failed, “x”");
  });
});

describe("isOlderRow: an answer overtaken by notifications is not drawn", () => {
  const at = (status: SessionRow["status"], lastActivityAt: string) => row({ status, lastActivityAt });
  const check = (name: string, known: SessionRow | undefined, incoming: SessionRow, expected: boolean) =>
    test(name, () => assert.equal(isOlderRow(known, incoming), expected));
  // Send Review's answer (the run starting) after the notification that the run completed.
  check("starting after completed", at("completed", "2026-11-25T12:00:02.500Z"), at("starting", "2026-11-25T12:00:01.900Z"), true);
  check("completed after starting", at("starting", "2026-11-25T12:00:01.900Z"), at("completed", "2026-11-25T12:00:02.500Z"), false);
  check("same moment (a rename)", at("completed", "2026-11-25T12:00:02.500Z"), at("completed", "2026-11-25T12:00:02.500Z"), false);
  check("a row not known yet", undefined, at("starting", "2026-11-25T12:00:01.900Z"), false);
  check("an unreadable time is not judged", at("completed", "yesterday"), at("starting", "2026-11-25T12:00:01.900Z"), false);
});
