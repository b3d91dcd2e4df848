import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { SessionRow } from "../../src/protocol";
import { endNotice, endedNow } from "../../src/endNotice";

const row = (status: SessionRow["status"], lastActivityAt = "2026-01-02T03:04:05.000Z", failureReason?: string): SessionRow => ({
  id: "s",
  name: "fix ci",
  repo: "/r",
  status,
  createdAt: "2026-01-02T03:00:00.000Z",
  lastActivityAt,
  ...(failureReason ? { failureReason } : {}),
});

describe("endedNow", () => {
  const started = Date.parse("2026-01-02T03:04:00.000Z");
  const check = (what: string, previous: SessionRow | undefined, next: SessionRow, expected: boolean) =>
    test(what, () => assert.equal(endedNow(started, previous, next), expected));
  check("running to completed", row("running"), row("completed"), true);
  check("starting to failed", row("starting"), row("failed", undefined, "exit code 1"), true);
  check("completed again (activity only)", row("completed"), row("completed"), false);
  check("still running", row("running"), row("running"), false);
  check("first seen ended after the start", undefined, row("completed"), true);
  check("first seen ended before the start", undefined, row("completed", "2026-01-02T03:03:59.999Z"), false);
  check("continued (ended to starting)", row("completed"), row("starting"), false);
});

describe("endNotice", () => {
  const check = (what: string, next: SessionRow, mode: "all" | "failed" | "none", expected: unknown) =>
    test(what, () => assert.deepEqual(endNotice(next, mode), expected));
  check("completed, all", row("completed"), "all", {
    level: "info",
    message: 'Lulu: "fix ci" completed.',
    actions: ["Open", "Show Changes"],
  });
  check("completed, failed only", row("completed"), "failed", undefined);
  check("failed, failed only", row("failed", undefined, "exit code 1: tests failed"), "failed", {
    level: "error",
    message: 'Lulu: "fix ci" failed: exit code 1: tests failed',
    actions: ["Open"],
  });
  check("failed, none", row("failed", undefined, "x"), "none", undefined);
  check("running", row("running"), "all", undefined);
});
