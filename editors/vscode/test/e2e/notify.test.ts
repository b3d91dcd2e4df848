// When a session ends, VS Code says so (lulu.notifyOnEnd = all): a Completed session with
// Open and Show Changes, a Failed one with its reason and Open; Open opens the session view.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Workbench, openLuluView, quickInput, runCommand, screenshot, sessionRow, sessionViewFrame, startWorkbench } from "./harness";

let wb: Workbench;
let failed = false;

before(async () => {
  wb = await startWorkbench({ settings: { "lulu.notifyOnEnd": "all" } });
});

after(async () => {
  await wb?.close({ keep: failed });
  console.log(`# screenshots: ${wb?.artifacts}/notify-completed.png ${wb?.artifacts}/notify-failed.png`);
});

test("a session that ends says so: Completed with Open and Show Changes, Failed with its reason and Open", { timeout: 300_000 }, async () => {
  try {
    await notices();
  } catch (err) {
    failed = true;
    await screenshot(wb.page, wb.artifacts, "failed-notify.png").catch(() => undefined);
    throw err;
  }
});

async function spawnSession(prompt: string): Promise<void> {
  const { page } = wb;
  await runCommand(page, "Lulu: New Session");
  const input = await quickInput(page, "New Session");
  await input.fill(prompt);
  await input.press("Enter");
  await page.locator(".quick-input-widget").waitFor({ state: "hidden" });
}

async function notices(): Promise<void> {
  const { page } = wb;
  await openLuluView(page);
  await page.locator(".welcome-view-content", { hasText: "No sessions yet." }).waitFor({ state: "visible" });

  await spawnSession("omega notice [sleep 2]");
  await sessionRow(page, "omega", ", Running, ").waitFor({ state: "visible", timeout: 120_000 });
  const done = page.locator(".notification-toast", { hasText: 'Lulu: "omega notice [sleep 2]" completed.' });
  await done.waitFor({ state: "visible", timeout: 120_000 });
  assert.deepEqual(await done.locator(".monaco-button").allInnerTexts(), ["Open", "Show Changes"]);
  await screenshot(page, wb.artifacts, "notify-completed.png");
  await done.locator(".monaco-button", { hasText: "Open" }).click();
  await sessionViewFrame(page, "omega notice");
  await runCommand(page, "View: Close All Editors");

  await spawnSession("psi notice [fail]");
  const broke = page.locator(".notification-toast", { hasText: 'Lulu: "psi notice [fail]" failed: ' });
  await broke.waitFor({ state: "visible", timeout: 120_000 });
  assert.deepEqual(await broke.locator(".monaco-button").allInnerTexts(), ["Open"]);
  const row = await sessionRow(page, "psi", ", Failed, ").getAttribute("aria-label");
  const reason = (await broke.innerText()).match(/failed: (.+)/)?.[1]?.trim() ?? "";
  assert.ok(reason.length > 0 && (row ?? "").includes(reason.slice(0, 20)), `the toast carries the row's reason: ${reason} / ${row}`);
  await screenshot(page, wb.artifacts, "notify-failed.png");
  await broke.locator(".monaco-button", { hasText: "Open" }).click();
  await sessionViewFrame(page, "psi notice");
}
