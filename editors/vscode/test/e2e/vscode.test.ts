// End to end in a real VS Code (code-server) with the built .vsix, the real `lulu serve`
// and scripted fake agents on a fixture repository. Every wait is for something to show;
// no step asserts how long anything took.

import assert from "node:assert/strict";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { type TestContext, after, before, test } from "node:test";
import type { Locator, Page } from "playwright-core";
import {
  type Workbench,
  openLuluView,
  quickInput,
  runCommand,
  screenshot,
  sessionRow,
  sessionViewFrame,
  startWorkbench,
} from "./harness";

let wb: Workbench;
const shots: string[] = [];
let broken: string | undefined;

/**
 * One step of the story. The steps build on each other, so after a failure the rest
 * are skipped (saying which step broke) rather than each waiting out its own timeout.
 */
function step(name: string, fn: () => Promise<void>): void {
  test(name, { timeout: 300_000 }, async (t: TestContext) => {
    if (broken) {
      t.skip(`an earlier step failed: ${broken}`);
      return;
    }
    try {
      await fn();
    } catch (err) {
      broken = name;
      if (wb) await screenshot(wb.page, wb.artifacts, `failed-${name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60)}.png`).catch(() => undefined);
      throw err;
    }
  });
}

before(async () => {
  // Start with a broken server path: the extension must say so once, with a fix.
  wb = await startWorkbench({ settings: { "lulu.server.path": "/nonexistent/lulu", "lulu.maxRunning": 2 } });
});

after(async () => {
  await wb?.close({ keep: broken !== undefined });
  if (shots.length) console.log(`# screenshots: ${shots.join(" ")}`);
});

/** Waits (polling) until `cond` holds; fails after a generous limit, never on speed. */
async function waitFor(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Kills the `lulu serve` this workbench's extension started, found by proof rather than by
 * name: a process whose command line is `<lulu> serve` and whose environment has this
 * workbench's own LULU_HOME. Returns how many it killed.
 */
function killServeOf(stateDir: string): number {
  let killed = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (argv[1] !== "serve") continue;
      const env = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      if (!env.includes(`LULU_HOME=${stateDir}`)) continue;
      process.kill(Number(pid), "SIGKILL");
      killed++;
    } catch {
      // gone, or not ours to read
    }
  }
  return killed;
}

/** In the quick pick whose placeholder or title contains `which`, filters to `text` and accepts. */
async function pickItem(page: Page, which: string, text: string): Promise<void> {
  const widget = page.locator(".quick-input-widget");
  await widget
    .locator(`.quick-input-title:has-text("${which}"), input[placeholder*="${which}"]`)
    .first()
    .waitFor({ state: "visible" });
  const input = widget.locator(".quick-input-box input");
  await input.fill(text);
  await widget.locator(".monaco-list-row", { hasText: text }).first().waitFor({ state: "visible" });
  await input.press("Enter");
}

/** The computed colour of a row's status icon, as [r, g, b]. */
async function iconColor(row: Locator): Promise<[number, number, number]> {
  const css = await row
    .locator(".codicon")
    .first()
    .evaluate((e) => (globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }).getComputedStyle(e).color);
  const m = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(css);
  assert.ok(m, `a colour: ${css}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** Drags the sidebar's edge so rows show their whole description. */
async function widenSidebar(page: Page, width: number): Promise<void> {
  const box = await page.locator(".part.sidebar").boundingBox();
  if (!box) return;
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width + 1, y);
  await page.mouse.down();
  await page.mouse.move(box.x + width, y, { steps: 5 });
  await page.mouse.up();
  await page.mouse.move(box.x + width + 300, y);
}

async function spawnSession(prompt: string): Promise<void> {
  const { page } = wb;
  await runCommand(page, "Lulu: New Session");
  const input = await quickInput(page, "New Session");
  await input.fill(prompt);
  await input.press("Enter");
  await page.locator(".quick-input-widget").waitFor({ state: "hidden" });
}

step("a missing server gives one clear message with a button to fix the setting", async () => {
  const { page } = wb;
  await openLuluView(page);
  const toast = page.locator(".notification-toast", { hasText: "/nonexistent/lulu" });
  await toast.waitFor({ state: "visible" });
  const text = await toast.innerText();
  assert.match(text, /Lulu: The lulu server "\/nonexistent\/lulu" \(setting lulu\.server\.path\) does not exist\./);
  await toast.locator(".monaco-button", { hasText: "Open Settings" }).click();
  // The settings editor opens on the setting: fix it there, as a user would.
  const setting = page.locator(".settings-editor .setting-item-contents", { hasText: "Server: Path" }).first();
  await setting.waitFor({ state: "visible" });
  assert.equal(await page.locator(".notification-toast", { hasText: "Lulu:" }).count(), 0, "one message, not several");
  const input = setting.locator("input");
  const luluBin = process.env.LULU_BIN ?? "";
  await input.fill(luluBin);
  // The settings editor saves a moment after typing stops: wait for the file to say so.
  await waitFor("the fixed setting in settings.json", () => readFileSync(wb.settingsFile, "utf8").includes(`"lulu.server.path": ${JSON.stringify(luluBin)}`));
  // The extension restarts its server by itself once the setting changes.
  for (let i = 0; i < 5 && (await page.locator(".settings-editor").isVisible()); i++) await page.keyboard.press("Escape");
  await page.locator(".welcome-view-content", { hasText: "No sessions yet." }).waitFor({ state: "visible" });
});

step("spawn through the palette: the row appears, goes Running, then Completed", async () => {
  const { page } = wb;
  await spawnSession("alpha task [sleep 8]");
  await sessionRow(page, "alpha", ", Running, ").waitFor({ state: "visible" });
  const icon = sessionRow(page, "alpha").locator(".codicon-loading.codicon-modifier-spin, .codicon-loading[class*=spin]");
  assert.equal(await icon.count(), 1, "a running row has a moving indicator");
  await sessionRow(page, "alpha", ", Completed, ").waitFor({ state: "visible", timeout: 120_000 });
  assert.equal(await sessionRow(page, "alpha").locator("[class*=spin]").count(), 0, "the indicator stops when the session ends");
});

step("a failing agent's row goes Failed with its reason inline", async () => {
  const { page } = wb;
  await spawnSession("beta task [fail]");
  const row = sessionRow(page, "beta", ", Failed, ");
  await row.waitFor({ state: "visible", timeout: 120_000 });
  assert.equal(await row.locator("[class*=spin]").count(), 0, "no motion");
  const description = await row.locator(".label-description").innerText();
  assert.match(description, /^.+ · \d+[smhd]$/, `reason then age: ${description}`);
});

step("the list shows all four statuses, newest first", async () => {
  const { page } = wb;
  await spawnSession("gamma long [sleep 600]");
  await sessionRow(page, "gamma", ", Running, ").waitFor({ state: "visible", timeout: 120_000 });
  await spawnSession("delta long [sleep 600]");
  await sessionRow(page, "delta", ", Running, ").waitFor({ state: "visible", timeout: 120_000 });
  // Two are running and lulu.maxRunning is 2: the next one waits in Starting.
  await spawnSession("epsilon queued [sleep 1]");
  await sessionRow(page, "epsilon", ", Starting, ").waitFor({ state: "visible", timeout: 120_000 });
  const labels = await page.locator(".customview-tree .monaco-list-row").evaluateAll((rows) =>
    rows.map((r) => r.getAttribute("aria-label") ?? ""),
  );
  const order = ["epsilon", "delta", "gamma", "beta", "alpha"].map((n) => labels.findIndex((l) => l.includes(n)));
  assert.deepEqual(
    [...order].sort((a, b) => a - b),
    order,
    `newest first: ${labels.join(" | ")}`,
  );
  // The newest row is the selected one, and a selected row's icon takes the selection's
  // colour in VS Code; the older ones show their status colours.
  const [gr, gg, gb] = await iconColor(sessionRow(page, "alpha", ", Completed, "));
  assert.ok(gg > gr + 40 && gg > gb, `Completed is green: rgb(${gr}, ${gg}, ${gb})`);
  const [rr, rg, rb] = await iconColor(sessionRow(page, "beta", ", Failed, "));
  assert.ok(rr > rg + 60 && rr > rb + 60, `Failed is red: rgb(${rr}, ${rg}, ${rb})`);
  await widenSidebar(page, 640);
  shots.push(await screenshot(page, wb.artifacts, "list-four-statuses.png"));
});

step("double click opens the session view with the live transcript", async () => {
  const { page } = wb;
  await sessionRow(page, "alpha").dblclick();
  const frame = await sessionViewFrame(page, "All done.");
  const transcript = await frame.locator("#transcript").innerText();
  assert.match(transcript, /I will work on: alpha task/);
  assert.match(transcript, /Bash/);
  const details = await frame.locator("#details").innerText();
  assert.match(details, /Completed/);
  assert.match(details, /Branch/);
  assert.match(details, /Worktree/);
  shots.push(await screenshot(page, wb.artifacts, "session-view.png"));
});

step("Enter on a selected row opens its session view", async () => {
  const { page } = wb;
  await sessionRow(page, "beta").click();
  await page.keyboard.press("Enter");
  const frame = await sessionViewFrame(page, "beta task");
  const details = await frame.locator("#details").innerText();
  assert.match(details, /Failed/);
});

step("cancel a long-running session from the palette", async () => {
  const { page } = wb;
  await runCommand(page, "Lulu: Cancel");
  await pickItem(page, "Cancel which session", "gamma");
  await sessionRow(page, "gamma", ", Failed, ").waitFor({ state: "visible", timeout: 120_000 });
  // The queued session got the freed slot.
  await sessionRow(page, "epsilon", ", Completed, ").waitFor({ state: "visible", timeout: 120_000 });
});

step("a row's menu offers only what applies to its status", async () => {
  const { page } = wb;
  const menuOf = async (name: string): Promise<string[]> => {
    await sessionRow(page, name).click({ button: "right" });
    const items = page.locator(".context-view .action-menu-item .action-label");
    await items.first().waitFor({ state: "visible" });
    const labels = (await items.allInnerTexts()).map((t) => t.trim()).filter(Boolean);
    await page.keyboard.press("Escape");
    await page.locator(".context-view .action-menu-item").first().waitFor({ state: "hidden" });
    return labels;
  };
  const running = await menuOf("delta");
  assert.ok(running.includes("Cancel"), `running: ${running}`);
  assert.ok(!running.includes("Remove") && !running.includes("Continue"), `running: ${running}`);
  const failed = await menuOf("beta");
  assert.ok(failed.includes("Remove") && failed.includes("Continue"), `failed: ${failed}`);
  assert.ok(!failed.includes("Cancel"), `failed: ${failed}`);
});

step("cancel with the row's inline button", async () => {
  const { page } = wb;
  const row = sessionRow(page, "delta", ", Running, ");
  await row.hover();
  await row.locator('.actions .action-label[aria-label="Cancel"]').click();
  await sessionRow(page, "delta", ", Failed, ").waitFor({ state: "visible", timeout: 120_000 });
});

step("New Session's agent button, then Show Changes opens VS Code's diff editor", async () => {
  const { page } = wb;
  await runCommand(page, "View: Close All Editors");
  await runCommand(page, "Lulu: New Session");
  const input = await quickInput(page, "New Session");
  await input.fill("zeta notes [edit]");
  await page.locator('.quick-input-widget [aria-label="Choose the agent"]').first().click();
  await pickItem(page, "Agent for the new session", "fake-codex");
  await quickInput(page, "fake-codex on HEAD");
  await page.locator('.quick-input-widget [aria-label="Choose the base branch"]').first().click();
  await pickItem(page, "Base of the new session", "main");
  // Back in the prompt box, the prompt kept, the agent and base named in the title.
  const again = await quickInput(page, "fake-codex on main");
  assert.equal(await again.inputValue(), "zeta notes [edit]");
  await again.press("Enter");
  await sessionRow(page, "zeta", ", Completed, ").waitFor({ state: "visible", timeout: 120_000 });

  await runCommand(page, "Lulu: Show Changes");
  await pickItem(page, "Show the changes", "zeta");
  await pickItem(page, "Changes of", "notes/codex.md");
  const diff = page.locator(".monaco-diff-editor");
  await diff.waitFor({ state: "visible" });
  await diff.locator(".editor.modified .view-lines", { hasText: "Notes from codex" }).waitFor({ state: "visible" });
  shots.push(await screenshot(page, wb.artifacts, "show-changes.png"));
  await runCommand(page, "View: Close All Editors");
});

step("Continue runs the agent again in the same session, resuming its conversation", async () => {
  const { page } = wb;
  await runCommand(page, "Lulu: Continue");
  await pickItem(page, "Continue which session", "alpha");
  const input = await quickInput(page, "Continue");
  await input.fill("alpha follow-up");
  await input.press("Enter");
  await sessionRow(page, "alpha").dblclick();
  await sessionViewFrame(page, "Resuming conversation", 120_000);
  await sessionRow(page, "alpha", ", Completed, ").waitFor({ state: "visible", timeout: 120_000 });
  await runCommand(page, "View: Close All Editors");
});

step("the session view follows new output at the bottom", async () => {
  const { page } = wb;
  await spawnSession("theta chatty [lines 400]");
  await sessionRow(page, "theta").dblclick();
  const frame = await sessionViewFrame(page, "line 400", 120_000);
  const atBottom = await frame.evaluate(() => {
    const g = globalThis as unknown as { innerHeight: number; document: { scrollingElement: { scrollTop: number; scrollHeight: number } } };
    const root = g.document.scrollingElement;
    return root.scrollTop > 0 && root.scrollTop + g.innerHeight >= root.scrollHeight - 48;
  });
  assert.ok(atBottom, "scrolled to the newest output");
  await runCommand(page, "View: Close All Editors");
});

step("Open Worktree in New Window opens the session's worktree", async () => {
  const { page, context } = wb;
  const opened = context.waitForEvent("page");
  await runCommand(page, "Lulu: Open Worktree in New Window");
  await pickItem(page, "Open the worktree", "zeta");
  const win = await opened;
  await win.waitForURL(/folder=/);
  const folder = new URL(win.url()).searchParams.get("folder") ?? "";
  assert.match(folder, /\.lulu\/worktrees\/zeta-/);
  await win.close();
});

step("the lulu server dies: the extension restarts it, the list and the open view carry on", async () => {
  const { page } = wb;
  await spawnSession("kappa survivor [sleep 6]");
  await sessionRow(page, "kappa", ", Running, ").waitFor({ state: "visible", timeout: 120_000 });
  await sessionRow(page, "kappa").dblclick();
  const frame = await sessionViewFrame(page, "I will work on: kappa survivor");
  const killed = killServeOf(wb.stateDir);
  assert.equal(killed, 1, "exactly one lulu serve of this workbench");
  // The session outlives the server; the restarted server's notifications finish the row,
  // and the view resumes its watch after the last event it showed.
  await sessionRow(page, "kappa", ", Completed, ").waitFor({ state: "visible", timeout: 120_000 });
  await sessionViewFrame(page, "All done.", 120_000);
  const seqs = await frame.locator("#transcript .ev").evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-seq"))));
  const distinct = [...new Set(seqs)];
  assert.deepEqual(distinct, distinct.map((_, i) => i + 1), `every event once, in order: ${seqs.join(",")}`);
  assert.deepEqual([...seqs].sort((a, b) => a - b), seqs, "blocks in seq order");
  await runCommand(page, "View: Close All Editors");
});

step("Remove asks first, and forces only after a second confirmation that says what is lost", async () => {
  const { page } = wb;
  await spawnSession("omega scratch [dirty]");
  await sessionRow(page, "omega", ", Completed, ").waitFor({ state: "visible", timeout: 120_000 });
  await sessionRow(page, "omega").click({ button: "right" });
  // VS Code's menu acts on the item under the pointer when Enter is pressed.
  await page.locator(".context-view .action-menu-item", { hasText: /^Remove$/ }).hover();
  await page.keyboard.press("Enter");
  const dialog = page.locator(".monaco-dialog-box");
  await dialog.waitFor({ state: "visible" });
  assert.match(await dialog.innerText(), /Remove the session "omega scratch/);
  assert.match(await dialog.innerText(), /deletes its worktree/);
  await dialog.locator(".monaco-button", { hasText: /^Remove$/ }).click();
  // The worktree holds an untracked file: the server refuses, and we ask again.
  await page.locator(".monaco-dialog-box", { hasText: "Force the removal" }).waitFor({ state: "visible" });
  const second = await page.locator(".monaco-dialog-box").innerText();
  assert.match(second, /lost for good/);
  await page.locator(".monaco-dialog-box .monaco-button", { hasText: "Force Remove" }).click();
  await sessionRow(page, "omega").waitFor({ state: "detached", timeout: 60_000 });
});

step("a repository's setup command asks first in a modal showing the exact command; its output is in the session view", async () => {
  const { page } = wb;
  const setup = "echo 'setting up from lulu.toml' && touch .setup-done # $HOME";
  writeFileSync(path.join(wb.repo, "lulu.toml"), `[worktree]\nsetup = ${JSON.stringify(setup)}\n`);
  await spawnSession("nu setup");
  const dialog = page.locator(".monaco-dialog-box", { hasText: "Trust this repository's setup command?" });
  await dialog.waitFor({ state: "visible" });
  const text = await dialog.innerText();
  assert.ok(text.includes(setup), `the exact command in the modal: ${text}`);
  assert.ok(text.includes(wb.repo), `the repository in the modal: ${text}`);
  shots.push(await screenshot(page, wb.artifacts, "trust-setup-modal.png"));
  // Cancel: nothing starts.
  await dialog.locator(".monaco-button", { hasText: /^Cancel$/ }).click();
  await dialog.waitFor({ state: "hidden" });
  assert.equal(await sessionRow(page, "nu setup").count(), 0, "no session without trust");
  // Again, and trust it: the session starts and its setup's output is in its view.
  await spawnSession("nu setup");
  await dialog.waitFor({ state: "visible" });
  await dialog.locator(".monaco-button", { hasText: "Trust and Start" }).click();
  await sessionRow(page, "nu setup", ", Completed, ").waitFor({ state: "visible", timeout: 120_000 });
  await sessionRow(page, "nu setup").dblclick();
  await sessionViewFrame(page, "setting up from lulu.toml", 120_000);
  await runCommand(page, "View: Close All Editors");
});
