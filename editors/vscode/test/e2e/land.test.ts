// Landing and syncing from the UI, end to end, in a real VS Code (code-server) with the built
// .vsix, the real `lulu serve` and the scripted fake agents, git as the oracle.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before } from "node:test";
import type { Page } from "playwright-core";
import { gitEnv } from "../support";
import {
  type Workbench,
  openLuluView,
  quickInput,
  runCommand,
  screenshot,
  sessionRow,
  sessionViewFrame,
  startWorkbench,
  story,
} from "./harness";

let wb: Workbench;
const { step, broken } = story("land-failed-", () => wb);

before(async () => {
  wb = await startWorkbench({ settings: {} });
});

after(async () => {
  await wb?.close({ keep: broken() !== undefined });
});

function git(cwd: string, args: string[]): string {
  return execFileSync("git", args, { cwd, env: { ...process.env, ...gitEnv() }, encoding: "utf8" });
}

async function spawnAndWait(page: Page, prompt: string, name: string): Promise<void> {
  await runCommand(page, "Lulu: New Session");
  const input = await quickInput(page, "New Session");
  await input.fill(prompt);
  await input.press("Enter");
  await sessionRow(page, name, "Completed").waitFor({ state: "visible", timeout: 120_000 });
}

/** Runs a session command from the palette on the selected row (offered first, accepted with Enter). */
async function onSelectedRow(page: Page, command: string, name: string): Promise<void> {
  await sessionRow(page, name).click();
  await runCommand(page, command);
  const picker = page.locator(".quick-input-widget .monaco-list-row", { hasText: name }).first();
  await picker.waitFor({ state: "visible" });
  await page.keyboard.press("Enter");
}

async function clickNotification(page: Page, text: string, button: string): Promise<string> {
  const toast = page.locator(".notification-toast", { hasText: text }).first();
  await toast.waitFor({ state: "visible", timeout: 60_000 });
  const said = await toast.innerText();
  await toast.locator(".monaco-button", { hasText: button }).click();
  return said;
}

step("Land… on a row: squash into main, the user's dirty file kept, the session view shows Landed", async () => {
  const page = wb.page;
  await openLuluView(page);
  await spawnAndWait(page, "kappa notes [edit]", "kappa notes");
  writeFileSync(path.join(wb.repo, "README.md"), "my own edit\n");
  await onSelectedRow(page, "Lulu: Land…", "kappa notes");
  const strategy = await quickInput(page, 'Land "kappa notes [edit]"');
  await strategy.fill("Squash");
  await page.locator(".quick-input-widget .monaco-list-row", { hasText: "Squash" }).first().waitFor({ state: "visible" });
  await strategy.press("Enter");
  const into = await quickInput(page, "by squash");
  assert.equal(await into.inputValue(), "main", "the base branch is preselected");
  await into.press("Enter");
  const message = await quickInput(page, "into main");
  assert.equal(await message.inputValue(), "kappa notes [edit]");
  await message.press("Enter");
  const said = await clickNotification(page, "landed", "Keep");
  assert.match(said, /landed "kappa notes \[edit\]" into main \(squash, 1 file\)/);

  assert.equal(git(wb.repo, ["log", "-1", "--format=%s", "main"]), "kappa notes [edit]\n");
  assert.equal(git(wb.repo, ["status", "--porcelain"]), " M README.md\n");
  assert.equal(readFileSync(path.join(wb.repo, "README.md"), "utf8"), "my own edit\n");
  git(wb.repo, ["fsck", "--strict", "--no-progress"]);

  await onSelectedRow(page, "Lulu: Open Session", "kappa notes");
  const frame = await sessionViewFrame(page, "completed");
  const deadline = Date.now() + 30_000;
  let details = "";
  while (Date.now() < deadline) {
    details = await frame.evaluate(
      () => (globalThis as unknown as { document: { body: { innerText: string } } }).document.body.innerText,
    );
    if (details.includes("into main (squash)")) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.match(details, /Landed\s+into main \(squash\) as [0-9a-f]{12}/);
  assert.match(details, /Base branch\s+main \(1 ahead, 1 behind\)/);
  await screenshot(page, wb.artifacts, "session-view-after-land.png");
});

step("Sync with Base: the conflict goes to the agent, which resolves it into a merge commit", async () => {
  const page = wb.page;
  // With a session view active, the palette's commands act on the viewed session: close it.
  await runCommand(page, "View: Close All Editors");
  await spawnAndWait(page, "lambda [write src/lib.txt]", "lambda");
  writeFileSync(path.join(wb.repo, "src/lib.txt"), "main's version\n");
  git(wb.repo, ["commit", "-q", "-m", "main: rewrite", "src/lib.txt"]);
  await onSelectedRow(page, "Lulu: Sync with Base", "lambda");
  const toast = page.locator(".notification-toast", { hasText: "conflicts in src/lib.txt" }).first();
  await toast.waitFor({ state: "visible", timeout: 60_000 });
  assert.match(await toast.innerText(), /the agent is resolving them/);
  await sessionRow(page, "lambda", "Completed").waitFor({ state: "visible", timeout: 120_000 });
  const worktree = git(wb.repo, ["worktree", "list", "--porcelain"])
    .split("\n")
    .filter((l) => l.startsWith("worktree ") && l.includes("lambda"))[0]
    ?.slice("worktree ".length);
  assert.ok(worktree, "the session's worktree");
  const deadline = Date.now() + 60_000;
  let parents = 0;
  while (Date.now() < deadline) {
    parents = git(worktree, ["rev-list", "--parents", "-n1", "HEAD"]).trim().split(" ").length;
    if (parents === 3) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(parents, 3, "the agent committed the merge");
  assert.equal(git(worktree, ["status", "--porcelain"]), "");
  await screenshot(page, wb.artifacts, "after-sync.png");
});
