// The extension does not start in an untrusted workspace (its agents run commands): with
// VS Code's workspace trust on and the folder not trusted, VS Code lists Lulu as disabled,
// and there is no Lulu view and no Lulu command.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Workbench, screenshot, startWorkbench } from "./harness";

let wb: Workbench;
let failed = false;

before(async () => {
  wb = await startWorkbench({ settings: {}, workspaceTrust: true });
});

after(async () => {
  await wb?.close({ keep: failed });
});

test("in an untrusted workspace Lulu does not start", { timeout: 300_000 }, async () => {
  try {
    await untrusted();
  } catch (err) {
    failed = true;
    await screenshot(wb.page, wb.artifacts, "failed-untrusted.png").catch(() => undefined);
    throw err;
  }
});

async function untrusted(): Promise<void> {
  const { page } = wb;
  // The folder opens in Restricted Mode (VS Code may ask first: then the answer is no).
  const dialog = page.locator(".monaco-dialog-box", { hasText: "trust" });
  const restricted = page.locator(".statusbar-item", { hasText: "Restricted Mode" }).first();
  await dialog.or(restricted).first().waitFor({ state: "visible" });
  if (await dialog.isVisible()) await dialog.locator(".monaco-button", { hasText: /^No/ }).first().click();
  await restricted.waitFor({ state: "visible" });

  // The Extensions view lists Lulu, installed and disabled. Once it says so, VS Code has
  // settled which extensions run, so the checks below cannot pass merely by being early.
  await page.keyboard.press("Control+Shift+X");
  const search = page.locator(".extensions-viewlet .suggest-input-container").first();
  await search.waitFor({ state: "visible" });
  await search.click();
  await page.keyboard.type("@installed lulu");
  await page.locator('.extensions-viewlet .monaco-list-row.disabled[data-extension-id="lulu-dev.lulu"]').waitFor({ state: "visible" });

  assert.equal(await page.locator('.activitybar [aria-label^="Lulu"]').count(), 0, "no Lulu view container");
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget .quick-input-box input");
  await input.waitFor({ state: "visible" });
  await input.fill(">Lulu: New Session");
  // The palette answers (no match, or merely similar commands) once it has searched.
  await page
    .locator(".quick-input-widget .monaco-list-row, .quick-input-widget .quick-input-message:has-text('No matching')")
    .first()
    .waitFor({ state: "visible" });
  assert.equal(await page.locator('.quick-input-widget .monaco-list-row[aria-label^="Lulu:"]').count(), 0, "no Lulu command");
  await page.keyboard.press("Escape");
}
