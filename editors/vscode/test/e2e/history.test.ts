// A session's history and its diffs in a real VS Code: a server that comes back does not hide
// the user's other notifications; after Continue the session view shows both runs; Show
// Changes draws a modified file base-left, worktree-right and unmarked, an added file as A with
// no text on its left, in the single-file and the All Changed Files diff; Reload Window brings
// the diff tabs back.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Frame, Page } from "playwright-core";
import { type Workbench, openLuluView, quickInput, runCommand, screenshot, sessionRow, sessionViewFrame, startWorkbench } from "./harness";

let wb: Workbench;
let failed = false;
const shots: string[] = [];

before(async () => {
  // No preview tabs: each diff Show Changes opens stays open for the Reload Window step.
  wb = await startWorkbench({
    settings: { "lulu.server.path": "/nonexistent/lulu", "lulu.notifyOnEnd": "none", "workbench.editor.enablePreview": false },
  });
});

after(async () => {
  await wb?.close({ keep: failed });
  console.log(`# screenshots: ${shots.join(" ")}`);
});

function step(name: string, fn: () => Promise<void>): void {
  test(name, { timeout: 300_000 }, async () => {
    try {
      await fn();
    } catch (err) {
      failed = true;
      await screenshot(wb.page, wb.artifacts, `failed-history-${name.slice(0, 30).replace(/\W+/g, "-")}.png`).catch(() => undefined);
      throw err;
    }
  });
}

/** In the quick pick whose placeholder or title contains `which`, filters to `text` and accepts. */
async function pickItem(page: Page, which: string, text: string): Promise<void> {
  const widget = page.locator(".quick-input-widget");
  await widget.locator(`.quick-input-title:has-text("${which}"), input[placeholder*="${which}"]`).first().waitFor({ state: "visible" });
  const input = widget.locator(".quick-input-box input");
  await input.fill(text);
  await widget.locator(".monaco-list-row", { hasText: text }).first().waitFor({ state: "visible" });
  await input.press("Enter");
}

async function openFile(page: Page, name: string): Promise<void> {
  await page.keyboard.press("Control+P");
  const input = page.locator(".quick-input-widget .quick-input-box input");
  await input.waitFor({ state: "visible" });
  await input.fill(name);
  await page.locator(".quick-input-widget .monaco-list-row", { hasText: name }).first().waitFor({ state: "visible" });
  await input.press("Enter");
  await page.locator(".tabs-container .tab", { hasText: name }).first().waitFor({ state: "visible" });
}

step("a server that comes back closes nothing but Lulu's own: the user's other notifications stay", async () => {
  const { page } = wb;
  await openLuluView(page);
  const lulu = page.locator(".notification-toast", { hasText: "/nonexistent/lulu" });
  await lulu.waitFor({ state: "visible" });
  // Another extension's notification (the built-in Emmet's, on a line with no sum), which
  // the user is reading (the pointer on it, so VS Code does not fade it). A fresh code-server
  // lists Emmet's commands only once its extensions are scanned: ask the palette again until
  // it does.
  await openFile(page, "README.md");
  await runCommandOnceListed(page, "Emmet: Evaluate Math Expression");
  const other = page.locator(".notification-toast", { hasText: "Could not evaluate expression" });
  await other.waitFor({ state: "visible" });
  // Fix the setting in the Settings editor, by keyboard, the pointer resting on the other
  // notification; the extension restarts its server by itself.
  await page.keyboard.press("F1");
  const palette = page.locator(".quick-input-widget .quick-input-box input");
  await palette.fill(">Preferences: Open User Settings");
  await page.locator('.quick-input-widget .monaco-list-row[aria-label^="Preferences: Open User Settings"]').first().waitFor({ state: "visible" });
  await palette.press("Enter");
  await page.locator(".settings-editor").waitFor({ state: "visible" });
  await page.keyboard.type("lulu.server.path");
  const setting = page.locator(".settings-editor .setting-item-contents", { hasText: "Server: Path" }).first();
  await setting.waitFor({ state: "visible" });
  await other.hover();
  await setting.locator("input").fill(process.env.LULU_BIN ?? "");
  await page.locator(".welcome-view-content", { hasText: "No sessions yet." }).waitFor({ state: "visible" });
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(await other.count(), 1, "the unrelated notification is still on screen");
  await other.locator(".codicon-notifications-clear").first().click();
  await other.waitFor({ state: "hidden" });
  for (let i = 0; i < 5 && (await page.locator(".settings-editor").isVisible()); i++) await page.keyboard.press("Escape");
  await runCommand(page, "View: Close All Editors");
});

async function spawnSession(page: Page, prompt: string): Promise<void> {
  await runCommand(page, "Lulu: New Session");
  const input = await quickInput(page, "New Session");
  await input.fill(prompt);
  await input.press("Enter");
  await page.locator(".quick-input-widget").waitFor({ state: "hidden" });
}

/** The session view's frame that lists `count` runs. */
async function runsFrame(page: Page, count: number): Promise<Frame> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      const n = await frame.locator("details.run").count().catch(() => 0);
      if (n === count) return frame;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no session view lists ${count} runs`);
}

step("after Continue the session view shows both runs: prompt, times, cost, outcome", async () => {
  const { page } = wb;
  await spawnSession(page, "delta diff [edit] [write src/lib.txt]");
  await sessionRow(page, "delta", ", Completed, ").waitFor({ state: "visible", timeout: 120_000 });
  await runCommand(page, "Lulu: Continue");
  await pickItem(page, "Continue which session", "delta");
  const input = await quickInput(page, "Continue");
  await input.fill("delta second run");
  await input.press("Enter");
  await sessionRow(page, "delta").dblclick();
  await sessionViewFrame(page, "Resuming conversation", 120_000);
  await sessionRow(page, "delta", ", Completed, ").waitFor({ state: "visible", timeout: 120_000 });
  const frame = await runsFrame(page, 2);
  const runs = frame.locator("details.run");
  assert.deepEqual(await runs.evaluateAll((els) => els.map((e) => e.getAttribute("data-run"))), ["2", "1"], "latest first");
  const latest = await runs.nth(0).innerText();
  const first = await runs.nth(1).innerText();
  assert.match(latest, /Run 2 \(latest\)\s+Completed/);
  assert.match(latest, /delta second run/);
  assert.match(first, /Run 1\s+Completed/);
  assert.match(first, /delta diff \[edit\] \[write src\/lib\.txt\]/);
  for (const text of [latest, first]) {
    assert.match(text, /Started\s+\S/);
    assert.match(text, /Duration\s+\d+s/);
    assert.match(text, /Cost and tokens\s+\$0\.0123/);
    assert.match(text, /Outcome\s+exited/);
    assert.doesNotMatch(text, /\d{4}-\d\d-\d\dT/, "local times, not UTC strings");
  }
  await runs.nth(0).scrollIntoViewIfNeeded();
  shots.push(await screenshot(page, wb.artifacts, "session-two-runs.png"));
  await runCommand(page, "View: Close All Editors");
});

interface EntryLook {
  file: string;
  status: string;
  struck: number;
  originalLines: string[];
  deleted: number;
}

/** What each file of the open multi-file diff shows: its status letter, struck labels, its left side. */
async function multiDiffEntries(page: Page): Promise<EntryLook[]> {
  const entries = page.locator(".multiDiffEntry");
  await entries.first().waitFor({ state: "visible" });
  const out: EntryLook[] = [];
  for (let i = 0; i < (await entries.count()); i++) {
    const e = entries.nth(i);
    await e.locator(".editor.modified .view-lines").first().waitFor({ state: "visible" });
    out.push({
      file: (await e.locator(".header .monaco-icon-label").first().innerText()).trim(),
      status: (await e.locator(".header .status").innerText()).trim(),
      struck: await e.locator(".header .strikethrough").count(),
      originalLines: await e.locator(".editor.original .view-line").allInnerTexts(),
      deleted: await e.locator(".editor.original .line-delete, .editor.original .char-delete").count(),
    });
  }
  return out;
}

step("Show Changes: a modified file base on the left and not marked R, an added file A with nothing on its left", async () => {
  const { page } = wb;
  // One modified file: VS Code's diff editor, its left side the base commit's content.
  await runCommand(page, "Lulu: Show Changes");
  await pickItem(page, "Show the changes", "delta");
  await pickItem(page, "Changes of", "src/lib.txt");
  const diff = page.locator(".monaco-diff-editor").first();
  await diff.locator(".editor.modified .view-lines", { hasText: "src/lib.txt, as the agent wrote it" }).waitFor({ state: "visible" });
  await diff.locator(".editor.original .view-lines", { hasText: "line four" }).waitFor({ state: "visible" });
  // One added file: the file itself, no diff against nothing.
  await runCommand(page, "Lulu: Show Changes");
  await pickItem(page, "Show the changes", "delta");
  await pickItem(page, "Changes of", "notes/claude.md");
  await page.locator(".tabs-container .tab.active", { hasText: "claude.md" }).waitFor({ state: "visible" });
  assert.equal(await page.locator(".editor-group-container.active .monaco-diff-editor").count(), 0, "an added file opens as itself");
  // All Changed Files: A for the added file (its left side empty, no phantom line), nothing
  // (no R, nothing struck through) for the modified one.
  await runCommand(page, "Lulu: Show Changes");
  await pickItem(page, "Show the changes", "delta");
  await pickItem(page, "Changes of", "changed file");
  const looks = await multiDiffEntries(page);
  console.log(`# multi-file diff: ${JSON.stringify(looks)}`);
  const byFile = Object.fromEntries(looks.map((l) => [l.file.replace(/\s+/g, " "), l]));
  const added = looks.find((l) => l.file.includes("claude.md"));
  const modified = looks.find((l) => l.file.includes("lib.txt"));
  assert.ok(added && modified, `both files: ${JSON.stringify(byFile)}`);
  assert.equal(added.status, "A");
  assert.equal(added.struck, 0);
  assert.deepEqual(added.originalLines.filter((t) => t.trim() !== ""), [], "the left side of an added file has no text");
  // FIXME: VS Code's diff computer (the default "advanced" algorithm) maps an empty original
  // document, which a missing left side is, to one deleted empty line, so the multi-file
  // diff still draws that phantom line; no option of vscode.changes avoids it. Today's
  // behaviour, asserted so that a VS Code that stops drawing it is noticed.
  assert.ok(added.deleted > 0, "FIXME: the phantom deleted line is gone; make this assert 0");
  assert.equal(modified.status, "", "a modified file is not marked R (or A or D)");
  assert.equal(modified.struck, 0, "a modified file is not struck through");
  shots.push(await screenshot(page, wb.artifacts, "all-changed-files.png"));
});

step("Reload Window brings the diff tabs back, single-file and All Changed Files", async () => {
  const { page } = wb;
  const tabs = page.locator(".tabs-container .tab");
  const before = (await tabs.allInnerTexts()).map((t) => t.trim()).filter((t) => /lib\.txt|Lulu: delta/.test(t));
  assert.equal(before.length, 2, `the two diff tabs: ${before.join(" | ")}`);
  // VS Code saves its editors a moment after they change; a user does not reload at once.
  await new Promise((r) => setTimeout(r, 2000));
  const reloaded = page.waitForEvent("framenavigated", { predicate: (f) => f === page.mainFrame(), timeout: 120_000 });
  await runCommand(page, "Developer: Reload Window");
  await reloaded;
  await page.locator(".monaco-workbench").waitFor({ timeout: 180_000 });
  for (const title of before) await tabs.filter({ hasText: title.split("\n")[0] }).first().waitFor({ state: "visible" });
  // The All Changed Files tab (the active one) shows both files again, its left sides read from the base commit.
  const looks = await multiDiffEntries(page);
  assert.deepEqual(looks.map((l) => l.status).sort(), ["", "A"]);
  await page.locator(".multiDiffEntry .editor.original .view-lines", { hasText: "line four" }).first().waitFor({ state: "visible" });
  shots.push(await screenshot(page, wb.artifacts, "restored-diff.png"));
  // The single-file diff tab: both sides again.
  await tabs.filter({ hasText: /^\s*src\/lib\.txt \(/ }).first().click();
  const diff = page.locator(".editor-group-container.active .monaco-diff-editor").first();
  await diff.locator(".editor.original .view-lines", { hasText: "line four" }).waitFor({ state: "visible" });
  await diff.locator(".editor.modified .view-lines", { hasText: "as the agent wrote it" }).waitFor({ state: "visible" });
  shots.push(await screenshot(page, wb.artifacts, "restored-diff-single.png"));
  await runCommand(page, "View: Close All Editors");
});

/** Runs a command from the palette, opening the palette again until the command is listed. */
async function runCommandOnceListed(page: Page, title: string): Promise<void> {
  const input = page.locator(".quick-input-widget .quick-input-box input");
  const row = page.locator(`.quick-input-widget .monaco-list-row[aria-label^="${title}"]`).first();
  for (let attempt = 0; attempt < 24; attempt++) {
    await page.keyboard.press("F1");
    await input.waitFor({ state: "visible" });
    await input.fill(`>${title}`);
    try {
      await row.waitFor({ state: "visible", timeout: 5000 });
      await row.click();
      return;
    } catch {
      await page.keyboard.press("Escape");
    }
  }
  throw new Error(`the command palette never listed "${title}"`);
}
