// The platform .vsix (linux-x64) carries the lulu server: installed into a code-server with
// no lulu on PATH and lulu.server.path left at its default, the Sessions view works.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";
import { type Workbench, openLuluView, screenshot, startWorkbench } from "./harness";

let wb: Workbench;
let failed = false;

before(async () => {
  const vsix = process.env.LULU_PLATFORM_VSIX;
  assert.ok(vsix, "set LULU_PLATFORM_VSIX (scripts/package-platform.sh makes it)");
  wb = await startWorkbench({ settings: { "lulu.server.path": "lulu" }, vsix });
});

after(async () => {
  await wb?.close({ keep: failed });
});

test("the bundled server runs with no lulu on PATH", { timeout: 300_000 }, async () => {
  try {
    assert.throws(() => execFileSync("sh", ["-c", "command -v lulu"], { stdio: "pipe" }), "no lulu on PATH");
    const { page } = wb;
    await openLuluView(page);
    await page.locator(".welcome-view-content", { hasText: "No sessions yet." }).waitFor({ state: "visible", timeout: 120_000 });
    await screenshot(page, wb.artifacts, "bundled-server.png");
  } catch (err) {
    failed = true;
    await screenshot(wb.page, wb.artifacts, "failed-bundled.png").catch(() => undefined);
    throw err;
  }
});
