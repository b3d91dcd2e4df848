// Review comments in a real VS Code (code-server): two drafts added with the Comments API on
// a file of a session's worktree (opened by Show Changes), a reload that keeps them, Send
// Review to Agent, the prompt the agent received holding both, and the threads shown sent.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import type { Page } from "playwright-core";
import { type Workbench, openLuluView, quickInput, runCommand, screenshot, sessionRow, startWorkbench } from "./harness";
import { agentProfiles } from "../support";

let wb: Workbench;
let failed = false;
let prompts = "";

before(async () => {
  const profiles = agentProfiles();
  prompts = path.join(process.env.LULU_E2E_ARTIFACTS ?? "/tmp", `review-prompts-${process.pid}.txt`);
  wb = await startWorkbench({
    settings: {
      "lulu.notifyOnEnd": "none",
      "lulu.agents": { ...profiles, "fake-claude": { ...profiles["fake-claude"], env: { FAKE_AGENT_PROMPTS: prompts } } },
    },
  });
});

after(async () => {
  await wb?.close({ keep: failed });
  console.log(`# screenshots: ${wb?.artifacts}/review-drafts.png ${wb?.artifacts}/review-sent.png`);
});

test("two drafts on the diff, kept across a reload, sent as one prompt, then shown sent", { timeout: 300_000 }, async () => {
  try {
    await review();
  } catch (err) {
    failed = true;
    await screenshot(wb.page, wb.artifacts, "failed-review.png").catch(() => undefined);
    throw err;
  }
});

/** The prompts the agent received, in order. */
function received(): string[] {
  if (!existsSync(prompts)) return [];
  return [...readFileSync(prompts, "utf8").matchAll(/=== prompt\n([\s\S]*?)\n=== end/g)].map((m) => m[1]);
}

async function goToLine(page: Page, line: number): Promise<void> {
  await page.keyboard.press("Control+G");
  const input = page.locator(".quick-input-widget .quick-input-box input");
  await input.waitFor({ state: "visible" });
  await input.fill(`:${line}`);
  await input.press("Enter");
  await page.locator(".quick-input-widget").waitFor({ state: "hidden" });
}

async function addComment(page: Page, line: number, text: string): Promise<void> {
  // The extension gives the editor its commenting ranges asynchronously (it asks the server
  // which session the file is of); VS Code draws their gutter bars then. It decides whether
  // the cursor's line can take a comment (what the palette's command needs) only when the
  // cursor moves or the editor gets the focus: so first the bars, then the cursor.
  await page.locator(".monaco-editor .comment-range-glyph.comment-diff-added").first().waitFor({ state: "attached" });
  await page.locator(".monaco-editor .view-lines").first().click();
  await goToLine(page, line);
  await page.waitForFunction(() => {
    type El = { closest(s: string): unknown };
    const a = (globalThis as unknown as { document: { activeElement: El | null } }).document.activeElement;
    return a != null && a.closest(".editor-group-container .monaco-editor") != null && a.closest(".review-widget") == null;
  });
  await runCommand(page, "Comments: Add Comment on Current Selection");
  const box = page.locator(".review-widget textarea, .review-widget .monaco-editor textarea").last();
  await box.waitFor({ state: "visible" });
  // The new thread's input takes the focus; type only once it has it.
  await page.waitForFunction(() => {
    const d = globalThis as unknown as { document: { activeElement: { closest(s: string): unknown } | null } };
    return d.document.activeElement?.closest(".review-widget") != null;
  });
  await page.keyboard.type(text);
  const input = page.locator(".review-widget .comment-form .monaco-editor .view-lines").last();
  await page.waitForFunction(
    ([el, want]) => (el as unknown as { textContent: string | null } | null)?.textContent?.replace(/\u00a0/g, " ") === want,
    [await input.elementHandle(), text] as const,
    { timeout: 15_000 },
  ).catch(async () => {
    throw new Error(`the comment input holds ${JSON.stringify(await input.textContent())}, not what was typed (${JSON.stringify(text)})`);
  });
  await page.locator(".review-widget .monaco-button", { hasText: "Add Comment" }).last().click();
  await page.locator(".review-widget .comment-body", { hasText: text }).waitFor({ state: "visible" });
}

async function review(): Promise<void> {
  const { page } = wb;
  await openLuluView(page);
  await page.locator(".welcome-view-content", { hasText: "No sessions yet." }).waitFor({ state: "visible" });
  await runCommand(page, "Lulu: New Session");
  const input = await quickInput(page, "New Session");
  await input.fill("rho review [edit]");
  await input.press("Enter");
  await sessionRow(page, "rho", ", Completed, ").waitFor({ state: "visible", timeout: 120_000 });
  // Show Changes: the one added file opens as itself, a file of the session's worktree.
  await runCommand(page, "Lulu: Show Changes");
  // The palette asks which session (the one there is), as it does with no row chosen.
  const which = page.locator(".quick-input-widget .monaco-list-row", { hasText: "rho review" });
  await which.waitFor({ state: "visible" });
  await page.keyboard.press("Enter");
  await page.locator(".quick-input-widget .monaco-list-row", { hasText: "notes/claude.md" }).click();
  await page.locator(".tab", { hasText: "claude.md" }).first().waitFor({ state: "visible" });

  await addComment(page, 1, "a better heading");
  // A thread whose comment did not change stays as drawn while others come and go: its
  // widget is the same element after the second comment (an edit in progress is not lost,
  // a click on it lands). It was drawn anew on every load, and each new widget's input
  // editor made the threads load again, without end (the clicks of this test were dropped).
  const first = await page.locator(".review-widget", { hasText: "a better heading" }).elementHandle();
  assert.ok(first, "the first draft's thread");
  await addComment(page, 3, "say what the task was");
  assert.equal(await first.evaluate((el) => (el as unknown as { isConnected: boolean }).isConnected), true, "the first thread was not drawn again");
  const drafts = page.locator(".review-widget", { hasText: "Draft" });
  await drafts.nth(1).waitFor({ state: "visible" });
  await screenshot(page, wb.artifacts, "review-drafts.png");

  // A reload keeps them: they come back from the server's database.
  await runCommand(page, "Developer: Reload Window");
  await page.locator(".review-widget .comment-body", { hasText: "a better heading" }).waitFor({ state: "visible", timeout: 120_000 });
  await page.locator(".review-widget .comment-body", { hasText: "say what the task was" }).waitFor({ state: "visible" });

  // Send Review to Agent, from the button in the title of the worktree file's editor.
  await page.locator('.editor-actions .action-label[aria-label*="Send Review to Agent"]').first().click();
  const message = await quickInput(page, "Send Review to Agent (2)");
  await message.press("Enter");
  await page.locator(".notification-toast", { hasText: 'Lulu: sent the review (2 comments) to "rho review [edit]".' }).waitFor({ state: "visible" });
  const deadline = Date.now() + 120_000;
  while (received().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  const sent = received();
  assert.equal(sent.length, 2, `the agent got the review: ${JSON.stringify(sent)}`);
  assert.match(sent[1], /1\. notes\/claude\.md, line 1:\n {2}> 1 \| # Notes from claude\n[\s\S]*Comment: a better heading\n/);
  assert.match(sent[1], /2\. notes\/claude\.md, line 3:\n[\s\S]*Comment: say what the task was/);
  const sentThreads = page.locator(".review-widget", { hasText: "Sent to the agent" });
  await sentThreads.nth(1).waitFor({ state: "visible", timeout: 60_000 });
  // The row ends Completed: Send Review's answer (the run starting), when it comes after the
  // notifications of the run's end, does not take the row back to Starting.
  await sessionRow(page, "rho", ", Completed, ").waitFor({ state: "visible", timeout: 60_000 });
  await screenshot(page, wb.artifacts, "review-sent.png");
}
