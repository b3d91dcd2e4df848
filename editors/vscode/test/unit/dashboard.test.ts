import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { dashboardHtml, dashboardRows } from "../../src/dashboardPage";
import type { SessionRow } from "../../src/protocol";

const NOW = Date.parse("2026-11-25T12:00:00Z");
function row(over: Partial<SessionRow>): SessionRow {
  return { id: "1", name: "fix *it*", repo: "/r", status: "running", createdAt: "2026-11-25T11:50:00Z", lastActivityAt: "2026-11-25T11:59:55Z", ...over };
}

describe("dashboardRows: the tree's words, two lines", () => {
  test("each status", () => {
    const rows = dashboardRows(
      [
        row({ id: "4", status: "starting", createdAt: "2026-11-25T11:58:00Z" }),
        row({ id: "3", status: "running" }),
        row({ id: "2", status: "completed", lastActivityAt: "2026-11-25T11:58:00Z" }),
        row({ id: "1", status: "failed", failureReason: "exit code 1:\nboom", lastActivityAt: "2026-11-25T10:00:00Z" }),
      ],
      NOW,
    );
    assert.deepEqual(
      rows.map((r) => [r.status, r.word, r.reason, r.age, r.ariaLabel]),
      [
        ["starting", "Starting", "", "5s", "fix *it*, Starting, 5s"],
        ["running", "Running", "", "5s", "fix *it*, Running, 5s"],
        ["completed", "Completed", "", "2m", "fix *it*, Completed, 2m"],
        ["failed", "Failed", "exit code 1: boom", "2h", "fix *it*, Failed, exit code 1: boom, 2h"],
      ],
    );
    assert.match(rows[0].title, /Starting: queued for a running slot, first in line/);
    assert.doesNotMatch(rows[0].title, /\\\*/, "the hover is plain text, not escaped Markdown");
  });
  test("a running session waiting for the user: its count, and the words of the tree", () => {
    const [waiting, ended] = dashboardRows([row({ id: "3" }), row({ id: "2", status: "completed" })], NOW, () => 2);
    assert.equal(waiting.waiting, 2);
    assert.equal(waiting.ariaLabel, "fix *it*, Running, waiting for you, 5s");
    assert.match(waiting.title, /Running, waiting for you: 2 requests/);
    assert.equal(ended.waiting, 0, "only a running session waits");
  });
  test("the page: a listbox with a strict CSP", () => {
    const html = dashboardHtml({ nonce: "n1", cspSource: "vscode-webview://x" });
    assert.match(html, /role="listbox"/);
    assert.match(html, /default-src 'none'; style-src vscode-webview:\/\/x 'nonce-n1'; script-src 'nonce-n1'/);
  });
});
