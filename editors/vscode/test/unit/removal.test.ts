import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { DiffFile, SessionDetail } from "../../src/protocol";
import { isUnder, removalQuestion, rowAfterRemoval } from "../../src/removal";

const DETAIL: SessionDetail = {
  id: "0193a000-0000-7000-8000-00000000abcd",
  name: "omega scratch",
  repo: "/src/app",
  status: "completed",
  createdAt: "2026-11-25T11:50:00Z",
  lastActivityAt: "2026-11-25T11:55:00Z",
  prompt: "p",
  agent: "claude",
  command: ["claude"],
  worktreePath: "/src/app/.lulu/worktrees/omega-1",
  branch: "lulu/omega-1",
  baseCommit: "0123",
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
  baseBranch: "main",
  ahead: 1,
  behind: 0,
  landed: null,
  ports: [],
  worktreeGone: false,
  pendingApprovals: [],
  maxCostUsd: null,
  maxMinutes: null,
};

function file(path: string, status: DiffFile["status"]): DiffFile {
  return { path, status, additions: 1, deletions: 0 };
}

describe("removalQuestion: the first question says what would be lost", () => {
  const check = (files: DiffFile[] | undefined, expected: { atRisk: boolean; says: RegExp[] }) =>
    test(files ? `${files.length} files` : "no diff", () => {
      const q = removalQuestion(DETAIL, files ? { baseCommit: "0123", files } : undefined);
      assert.equal(q.title, 'Remove the session "omega scratch"?');
      assert.equal(q.atRisk, expected.atRisk);
      for (const re of expected.says) assert.match(q.detail, re);
    });
  check([], { atRisk: false, says: [/deletes its worktree \/src\/app\/\.lulu\/worktrees\/omega-1/, /nothing is lost/] });
  check([file("untracked.txt", "added")], {
    atRisk: true,
    says: [/differs from its base in 1 file: untracked\.txt \(new\)\./, /lost if you force the removal/],
  });
  check([file("a", "added"), file("b", "modified"), file("c", "deleted")], {
    atRisk: true,
    says: [/3 files: a \(new\), b \(changed\) and c \(deleted\)\./],
  });
  check(
    ["1", "2", "3", "4", "5", "6", "7"].map((n) => file(n, "modified")),
    { atRisk: true, says: [/7 files: 1 \(changed\), 2 \(changed\), 3 \(changed\), 4 \(changed\), 5 \(changed\) and 2 more\./] },
  );
  check(undefined, { atRisk: false, says: [/could not read the worktree's changes/] });
});

describe("isUnder", () => {
  const check = (file: string, folder: string, expected: boolean) =>
    test(`${file} in ${folder}`, () => assert.equal(isUnder(file, folder), expected));
  check("/w/a/x.txt", "/w/a", true);
  check("/w/a", "/w/a", true);
  check("/w/ab/x.txt", "/w/a", false);
  check("/w/x.txt", "/w/a", false);
  check("", "/w/a", false);
});

describe("rowAfterRemoval: the focus stays in the list, on a neighbour", () => {
  const check = (name: string, order: string[], removed: string, listed: string[], expected: string | undefined) =>
    test(name, () => assert.equal(rowAfterRemoval(order, removed, (id) => listed.includes(id)), expected));
  check("the row below takes its place", ["a", "b", "c"], "b", ["a", "c"], "c");
  check("the last row: the one above", ["a", "b", "c"], "c", ["a", "b"], "b");
  // The server's notification took "b" out of the tree before the removal returned: the
  // order from before still knows where it was.
  check("already gone from the tree", ["a", "b", "c"], "b", ["a", "c"], "c");
  check("a neighbour removed meanwhile is skipped", ["a", "b", "c", "d"], "b", ["a", "d"], "d");
  check("only row: nothing to focus", ["b"], "b", [], undefined);
  check("not in the list shown (filtered out)", ["a", "c"], "b", ["a", "c"], undefined);
});
