// Approvals and messages end to end (issue 12), in a real VS Code (code-server) with the built
// .vsix and the real `lulu serve`: fake-claude hosted through stream-json asks for Bash commands
// (`[ask]`: `touch approved.txt`) with Claude Code's can_use_tool control lines. A request is
// allowed from its notification (the file appears in the worktree, the session completes); two
// are denied from the session view, one with a message (the agent is told; the stale
// notification's button says so quietly); the view's badge counts them; a message from the
// session view's box reaches the agent.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, before } from "node:test";
import type { Frame, Locator, Page } from "playwright-core";
import { AGENTS, agentProfiles, gitEnv } from "../support";
import { type Workbench, openLuluView, quickInput, runCommand, screenshot, sessionRow, sessionViewFrame, startWorkbench, story } from "./harness";

let wb: Workbench;
const { step, broken } = story("approvals-failed-", () => wb);

before(async () => {
  const host = {
    command: [
      path.join(AGENTS, "fake-claude"),
      "-p",
      "--input-format",
      "stream-json",
      "--output-format",
      "stream-json",
      "--verbose",
      "--permission-prompt-tool",
      "stdio",
      "--replay-user-messages",
    ],
    format: "claude-stream-json",
    input: "stream-json",
  };
  wb = await startWorkbench({ settings: { "lulu.agents": { ...agentProfiles(), "fake-host": host }, "lulu.defaultAgent": "fake-host" } });
});

after(async () => {
  await wb?.close({ keep: broken() !== undefined });
});

function worktreeOf(name: string): string {
  const list = execFileSync("git", ["worktree", "list", "--porcelain"], { cwd: wb.repo, env: { ...process.env, ...gitEnv() }, encoding: "utf8" });
  const found = list
    .split("\n")
    .filter((l) => l.startsWith("worktree ") && l.includes(name))[0]
    ?.slice("worktree ".length);
  assert.ok(found, `the worktree of ${name} in ${list}`);
  return found;
}

async function spawnSession(page: Page, prompt: string): Promise<void> {
  await runCommand(page, "Lulu: New Session");
  const input = await quickInput(page, "New Session");
  await input.fill(prompt);
  await input.press("Enter");
}

/** The Lulu icon in the activity bar (its aria-label carries the badge's tooltip). */
function luluActivity(page: Page): Locator {
  return page.locator(".activitybar .action-item", { has: page.locator('[aria-label^="Lulu"]') }).first();
}

async function activityLabel(page: Page): Promise<string> {
  return luluActivity(page)
    .locator('[aria-label^="Lulu"]')
    .first()
    .evaluate((el) => `${el.getAttribute("aria-label") ?? ""} ${el.getAttribute("title") ?? ""}`);
}

/** A notification (a toast, or in the notification centre once the toast went there) with `text`. */
async function notification(page: Page, text: string): Promise<Locator> {
  const toast = page.locator(".notification-toast .notification-list-item", { hasText: text }).first();
  if (await toast.isVisible()) return toast;
  await runCommand(page, "Notifications: Show Notifications");
  const item = page.locator(".notifications-center .notification-list-item", { hasText: text }).first();
  await item.waitFor({ state: "visible" });
  return item;
}

async function pageText(frame: Frame): Promise<string> {
  return frame.evaluate(() => (globalThis as unknown as { document: { body: { innerText: string } } }).document.body.innerText);
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

step("a request shows a notification and the badge; Allow from the notification runs it and the session completes", async () => {
  const page = wb.page;
  await openLuluView(page);
  await spawnSession(page, "alpha host [ask]");
  const toast = page.locator(".notification-toast", { hasText: "Claude wants to run: touch approved.txt" }).first();
  await toast.waitFor({ state: "visible", timeout: 120_000 });
  assert.match(await toast.innerText(), /Claude wants to run: touch approved\.txt — in "alpha host \[ask\]"/);
  // The badge counts the request; the row stays Running and says it waits, with no subtext.
  await waitFor("the badge's tooltip", async () => (await activityLabel(page)).includes("1 request waiting for you"));
  assert.equal((await luluActivity(page).locator(".badge-content").innerText()).trim(), "1");
  const row = sessionRow(page, "alpha", ", Running, waiting for you, ");
  await row.waitFor({ state: "visible" });
  assert.match(await row.locator(".label-description").innerText(), /^\d+s$/);
  await screenshot(page, wb.artifacts, "approval-notification.png");

  await toast.locator(".monaco-button", { hasText: "Allow" }).click();
  await sessionRow(page, "alpha", ", Completed, ").waitFor({ state: "visible", timeout: 120_000 });
  assert.ok(existsSync(path.join(worktreeOf("alpha"), "approved.txt")), "the allowed command made its file in the worktree");
  await waitFor("the badge without the request", async () => !(await activityLabel(page)).includes("waiting for you"));
});

step("Deny and Deny with Message from the session view: the agent is told, the stale notification's Allow says so quietly", async () => {
  const page = wb.page;
  await spawnSession(page, "beta host [ask 2]");
  await page.locator(".notification-toast", { hasText: 'in "beta host [ask 2]"' }).first().waitFor({ state: "visible", timeout: 120_000 });
  await sessionRow(page, "beta", "waiting for you").dblclick();
  const frame = await sessionViewFrame(page, "I will work on");
  const requests = frame.locator("section.approvals");
  const deny = requests.locator('button[data-answer="deny"]');
  await deny.waitFor({ state: "visible" });
  const listed = await requests.innerText();
  assert.match(listed, /1 request waiting for you/);
  assert.match(listed, /Claude wants to run: touch approved-1\.txt/);
  assert.match(listed, /Create approved-1\.txt/, "the tool's input in full: its description too");
  // Docked at the bottom: in sight while the view follows the running session's newest output.
  const inView = await deny.evaluate((el) => {
    const r = el.getBoundingClientRect();
    return r.top >= 0 && r.bottom <= (globalThis as unknown as { innerHeight: number }).innerHeight;
  });
  assert.ok(inView, "the request's buttons are in sight");
  await screenshot(page, wb.artifacts, "session-view-approval.png");

  await deny.click();
  // The agent asks again; this time the denial carries a message.
  await requests.filter({ hasText: "touch approved-2.txt" }).waitFor({ state: "visible" });
  await requests.locator('button[data-answer="denyWithMessage"]').click();
  const box = await quickInput(page, "Deny with Message");
  await box.fill("not on this machine");
  await box.press("Enter");
  await requests.waitFor({ state: "detached" });
  await sessionRow(page, "beta", ", Completed, ").waitFor({ state: "visible", timeout: 120_000 });
  await waitFor("both denials in the transcript", async () => {
    const text = await pageText(frame);
    return text.includes("The user denied this through lulu.") && text.includes("not on this machine");
  });
  const worktree = worktreeOf("beta");
  assert.equal(existsSync(path.join(worktree, "approved-1.txt")) || existsSync(path.join(worktree, "approved-2.txt")), false, "a denied command does not run");

  // The notifications of the requests are still there: a button answers quietly, never an error.
  const stale = await notification(page, 'in "beta host [ask 2]"');
  await stale.locator(".monaco-button", { hasText: "Allow" }).click();
  const said = page.locator(".notification-list-item", { hasText: /that request \(Bash: touch approved-\d\.txt\) was already denied\./ }).first();
  await said.waitFor({ state: "visible" });
  assert.equal(await page.locator(".notification-list-item .codicon-error").count(), 0, "an information, never an error");
  await waitFor("no request waiting", async () => !(await activityLabel(page)).includes("waiting for you"));
  await runCommand(page, "View: Close All Editors");
});

step("a message from the session view's box reaches the running agent", async () => {
  const page = wb.page;
  await spawnSession(page, "gamma host [host] [sleep 25]");
  await sessionRow(page, "gamma", ", Running, ").dblclick();
  const frame = await sessionViewFrame(page, "I will work on");
  const box = frame.locator("#compose textarea");
  await box.waitFor({ state: "visible" });
  await box.fill("also update the changelog");
  await frame.locator("#compose button", { hasText: "Send" }).click();
  await waitFor("the box saying it was sent", async () => (await frame.locator("#sent").innerText()).startsWith("Sent"));
  assert.equal(await box.inputValue(), "", "the box is emptied once the message is sent");
  await waitFor("the agent's answer", async () => (await pageText(frame)).includes("Got your message: also update the changelog"), 90_000);
  await screenshot(page, wb.artifacts, "session-view-message.png");
  await sessionRow(page, "gamma", ", Completed, ").waitFor({ state: "visible", timeout: 120_000 });
  await frame.locator("#compose").waitFor({ state: "hidden" });
});
