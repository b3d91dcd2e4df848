// Benchmark, not a test (scripts/bench-transcript.sh runs it, never test.sh): a 20,000-line
// session in a real VS Code. It reports the time from a double click on the row to the
// newest line on screen, the session view's JavaScript heap (after a GC) and DOM size, and
// whether the first line can be reached by scrolling up (and how long that takes). Figures
// are printed for a side-by-side comparison with a baseline build; nothing is asserted on them.

import { test } from "node:test";
import type { Frame } from "playwright-core";
import { agentProfiles } from "../support";
import { openLuluView, quickInput, runCommand, screenshot, sessionRow, startWorkbench } from "../e2e/harness";

const LINES = Number(process.env.LULU_BENCH_LINES ?? 20000);

async function frameShowing(page: import("playwright-core").Page, text: string, timeoutMs: number): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      try {
        const found = await frame.evaluate((t) => {
          const el = (globalThis as unknown as { document: { getElementById(id: string): { textContent: string | null } | null } }).document.getElementById("transcript");
          return el !== null && (el.textContent ?? "").includes(t);
        }, text);
        if (found) return frame;
      } catch {
        // not ours
      }
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no session view shows ${text}`);
}

test(`a ${LINES}-line session: open, memory, its start`, { timeout: 900_000 }, async () => {
  const wb = await startWorkbench({
    settings: { "lulu.agents": agentProfiles() },
    chromiumArgs: ["--enable-precise-memory-info", "--js-flags=--expose-gc"],
  });
  try {
    const { page } = wb;
    await openLuluView(page);
    await page.locator(".welcome-view-content", { hasText: "No sessions yet." }).waitFor({ state: "visible", timeout: 120_000 });
    await runCommand(page, "Lulu: New Session");
    const input = await quickInput(page, "New Session");
    await input.fill(`long [lines ${LINES}]`);
    await input.press("Enter");
    await sessionRow(page, "long", ", Completed, ").waitFor({ state: "visible", timeout: 600_000 });

    const heapBeforeMB = await page.evaluate(() => {
      const g = globalThis as unknown as { gc?: () => void; performance: { memory?: { usedJSHeapSize: number } } };
      g.gc?.();
      return Math.round(((g.performance.memory?.usedJSHeapSize ?? 0) / 1048576) * 10) / 10;
    });
    const t0 = Date.now();
    await sessionRow(page, "long").dblclick();
    const frame = await frameShowing(page, `line ${LINES}`, 300_000);
    const openMs = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 2000)); // let late batches land
    // Webviews share the workbench's renderer process here, so the view's memory is the
    // growth of that process's JavaScript heap (after a full GC) from before the double
    // click; DOM size and page height are the view's own.
    const measure = () =>
      frame.evaluate(() => {
        const g = globalThis as unknown as {
          gc?: () => void;
          performance: { memory?: { usedJSHeapSize: number } };
          document: { getElementsByTagName(t: string): { length: number }; scrollingElement: { scrollHeight: number } };
        };
        g.gc?.();
        return {
          heapMB: Math.round(((g.performance.memory?.usedJSHeapSize ?? 0) / 1048576) * 10) / 10,
          domNodes: g.document.getElementsByTagName("*").length,
          pageHeightPx: g.document.scrollingElement.scrollHeight,
        };
      });
    const afterOpen = await measure();

    // Scroll up until line 1 shows, or until scrolling up brings nothing more.
    const t1 = Date.now();
    let reached = false;
    for (let i = 0; i < 400 && !reached; i++) {
      reached = await frame.evaluate(() => {
        const d = (globalThis as unknown as { document: { scrollingElement: { scrollTop: number }; getElementById(id: string): { textContent: string | null } | null } }).document;
        d.scrollingElement.scrollTop = 0;
        return /(^|\D)line 1(\D|$)/.test(d.getElementById("transcript")?.textContent ?? "");
      });
      if (!reached) await new Promise((r) => setTimeout(r, 100));
    }
    const startMs = reached ? Date.now() - t1 : undefined;
    const atStart = await measure();
    if (reached) await screenshot(page, wb.artifacts, "session-view-long-transcript-start.png");
    console.log(
      `# bench ${JSON.stringify({
        lines: LINES,
        openMs,
        heapBeforeOpenMB: heapBeforeMB,
        viewHeapMB: Math.round((afterOpen.heapMB - heapBeforeMB) * 10) / 10,
        afterOpen,
        startReached: reached,
        startMs: startMs ?? null,
        viewHeapAtStartMB: Math.round((atStart.heapMB - heapBeforeMB) * 10) / 10,
        atStart,
      })}`,
    );
  } finally {
    await wb.close();
  }
});
