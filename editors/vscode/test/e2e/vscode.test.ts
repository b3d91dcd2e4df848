// End to end in a real VS Code (code-server) with the built .vsix, the real `lulu serve`
// and scripted fake agents on a fixture repository. Every wait is for something to show;
// no step asserts how long anything took.

import assert from "node:assert/strict";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before } from "node:test";
import type { Frame, Locator, Page } from "playwright-core";
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
import { agentProfiles } from "../support";

let wb: Workbench;
const shots: string[] = [];
const { step, broken } = story("failed-", () => wb);

before(async () => {
  // Start with a broken server path: the extension must say so once, with a fix.
  wb = await startWorkbench({
    settings: {
      "lulu.server.path": "/nonexistent/lulu",
      "lulu.maxRunning": 2,
      // The story's many endings would cover the workbench in toasts (notify.test.ts checks
      // them).
      "lulu.notifyOnEnd": "none",
      // An agent whose program is not installed, as `claude` is on a new user's machine.
      "lulu.agents": { ...agentProfiles(), "not-installed": { command: ["lulu-no-such-agent", "{prompt}"], format: "text" } },
    },
  });
});

after(async () => {
  await wb?.close({ keep: broken() !== undefined });
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

/**
 * Every text of a webview whose contrast against its background is under 4.5:1 (WCAG AA),
 * as "ratio text (colour on background)". The agent's own ANSI colours are left out: they
 * are its content, shown in the theme's terminal colours as a terminal shows them.
 */
async function lowContrast(frame: Frame): Promise<string[]> {
  return frame.evaluate(() => {
    type RGBA = [number, number, number, number];
    const g = globalThis as unknown as {
      document: { body: Element; documentElement: Element; querySelectorAll(s: string): Iterable<Element> };
      getComputedStyle(e: Element): { color: string; backgroundColor: string; visibility: string; display: string; getPropertyValue(p: string): string };
    };
    type Element = { parentElement: Element | null; childNodes: Iterable<{ nodeType: number; textContent: string | null }>; closest(s: string): Element | null; getClientRects(): { length: number }; textContent: string | null };
    const parse = (c: string): RGBA => {
      const m = /rgba?\(([\d.]+)[, ]+([\d.]+)[, ]+([\d.]+)(?:[,/ ]+([\d.]+))?/.exec(c);
      if (m) return [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])];
      const h = /^#([0-9a-f]{6})([0-9a-f]{2})?$/i.exec(c.trim());
      if (h) return [parseInt(h[1].slice(0, 2), 16), parseInt(h[1].slice(2, 4), 16), parseInt(h[1].slice(4, 6), 16), h[2] ? parseInt(h[2], 16) / 255 : 1];
      return [0, 0, 0, 0];
    };
    const over = (top: RGBA, under: RGBA): RGBA => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3])).concat(1) as RGBA;
    const pageBg = parse(g.getComputedStyle(g.document.documentElement).getPropertyValue("--vscode-editor-background"));
    const background = (el: Element | null): RGBA => {
      const layers: RGBA[] = [];
      for (let e = el; e; e = e.parentElement) {
        const c = parse(g.getComputedStyle(e).backgroundColor);
        if (c[3] > 0) layers.push(c);
        if (c[3] >= 1) break;
      }
      let bg: RGBA = layers.length && layers[layers.length - 1][3] >= 1 ? layers.pop() as RGBA : pageBg;
      for (const l of layers.reverse()) bg = over(l, bg);
      return bg;
    };
    const lum = (c: RGBA) => {
      const [r, gr, b] = c.slice(0, 3).map((v) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * gr + 0.0722 * b;
    };
    const low: string[] = [];
    for (const el of g.document.querySelectorAll("body *")) {
      const own = [...el.childNodes].filter((n) => n.nodeType === 3 && (n.textContent ?? "").trim()).length > 0;
      if (!own || el.getClientRects().length === 0 || el.closest("[class*=ansi-]") || el.closest("script,style")) continue;
      const cs = g.getComputedStyle(el);
      if (cs.visibility === "hidden") continue;
      const bg = background(el);
      const fg = over(parse(cs.color), bg);
      const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
      const ratio = (a + 0.05) / (b + 0.05);
      if (ratio < 4.5) low.push(`${ratio.toFixed(2)} "${(el.textContent ?? "").trim().slice(0, 30)}" (${cs.color} on rgb(${bg.slice(0, 3).map(Math.round).join(", ")}))`);
    }
    return low;
  });
}

/** The webview frame that has an element matching `selector`. */
async function frameWith(page: Page, selector: string, timeoutMs = 60_000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      if (await frame.locator(selector).count().catch(() => 0)) return frame;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no frame has ${selector}`);
}

/** Picks a colour theme by its name through Preferences: Color Theme. */
async function pickTheme(page: Page, theme: string): Promise<void> {
  await runCommand(page, "Preferences: Color Theme");
  const input = page.locator(".quick-input-widget .quick-input-box input");
  await input.fill(theme);
  await page.locator(".quick-input-widget .monaco-list-row", { hasText: theme }).first().waitFor({ state: "visible" });
  await input.press("Enter");
  await page.locator(".quick-input-widget").waitFor({ state: "hidden" });
}

/** The Lulu output channel as VS Code wrote it to its log folder. */
function luluLog(dir: string): string {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (/Lulu\.log$/.test(e.name)) found.push(readFileSync(p, "utf8"));
    }
  };
  walk(`${dir}/user-data/logs`);
  return found.join("\n");
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
  // A program that is not lulu: its own words, not "protocol version null".
  await input.fill("/usr/bin/git");
  const notLulu = page.locator(".notification-toast", { hasText: "is not a git command" });
  await notLulu.waitFor({ state: "visible" });
  assert.match(await notLulu.innerText(), /"\/usr\/bin\/git serve" exited with code 1 and said: git: 'serve' is not a git command/);
  assert.doesNotMatch(await notLulu.innerText(), /protocol version/);
  const luluBin = process.env.LULU_BIN ?? "";
  await input.fill(luluBin);
  // The settings editor saves a moment after typing stops: wait for the file to say so.
  await waitFor("the fixed setting in settings.json", () => readFileSync(wb.settingsFile, "utf8").includes(`"lulu.server.path": ${JSON.stringify(luluBin)}`));
  // The extension restarts its server by itself once the setting changes.
  for (let i = 0; i < 5 && (await page.locator(".settings-editor").isVisible()); i++) await page.keyboard.press("Escape");
  await page.locator(".welcome-view-content", { hasText: "No sessions yet." }).waitFor({ state: "visible" });
  // The old error stays until VS Code fades it or the user closes it (VS Code lets an extension
  // close none of its messages, and Lulu hides no other notification): close it as a user does.
  await notLulu.locator(".codicon-notifications-clear").first().click();
  await notLulu.waitFor({ state: "hidden" });
  // The Lulu log: a start-up line with the version and the state dir, an intended restart
  // said as such, and no "[object Object]".
  let log = "";
  await waitFor("the Lulu log's start-up line", () => {
    log = luluLog(wb.dir);
    return /Started lulu \S+ from .*state dir /.test(log);
  });
  assert.match(log, /Restarting the lulu server \(lulu\.server\.path changed\)/);
  assert.match(log, new RegExp(`state dir ${wb.stateDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
  assert.doesNotMatch(log, /\[object Object\]/);
  assert.doesNotMatch(log, /\[error\].*(restart|got closed)/i, "an intended restart is not an error");
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
  assert.match(description, /^\d+[smhd] · .+$/, `the age first, so it always shows, then the reason: ${description}`);
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

step("the Dashboard view draws the list's rules, keyboard and screen reader included, in Dark and Light", async () => {
  const { page } = wb;
  await runCommand(page, "Lulu: Use the Dashboard View");
  const dash = await frameWith(page, "#list[role=listbox] .row");
  const rowOf = (name: string) => dash.locator(`.row[aria-label^="${name}"]`);
  for (const [name, status] of [["epsilon", "Starting"], ["delta", "Running"], ["gamma", "Running"], ["beta", "Failed"], ["alpha", "Completed"]]) {
    await rowOf(name).and(dash.locator(`[aria-label*=", ${status}, "]`)).waitFor({ state: "visible" });
  }
  // Running pulses; Completed and Failed are still badges.
  const animation = (sel: string) => dash.locator(sel).first().evaluate((e) => (globalThis as unknown as { getComputedStyle(e: unknown): { animationName: string } }).getComputedStyle(e).animationName);
  assert.equal(await animation(".s-running .dot"), "pulse");
  assert.equal(await animation(".s-completed .badge"), "none");
  assert.equal(await animation(".s-failed .badge"), "none");
  assert.equal(await dash.locator(".s-completed .dot, .s-failed .dot").count(), 0);
  // The age is right-aligned and shows even beside a long reason.
  const [rowBox, ageBox] = [await rowOf("beta").boundingBox(), await rowOf("beta").locator(".age").boundingBox()];
  assert.ok(rowBox && ageBox && ageBox.x + ageBox.width <= rowBox.x + rowBox.width && rowBox.x + rowBox.width - (ageBox.x + ageBox.width) < 24, "age at the right edge");
  // Keyboard: one click selects, arrows move, Enter opens.
  await rowOf("epsilon").locator(".name").click();
  for (let i = 0; i < 3; i++) await page.keyboard.press("ArrowDown");
  assert.equal(await rowOf("beta").getAttribute("aria-selected"), "true");
  await page.keyboard.press("Enter");
  await sessionViewFrame(page, "beta task");
  await runCommand(page, "View: Close All Editors");
  for (const theme of ["Dark Modern", "Light Modern"]) {
    if (theme !== "Dark Modern") await pickTheme(page, theme);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await lowContrast(dash), [], `every text of the Dashboard at least 4.5:1 in ${theme}`);
    shots.push(await screenshot(page, wb.artifacts, `dashboard-${theme.split(" ")[0].toLowerCase()}.png`));
  }
  await pickTheme(page, "Dark Modern");
  await runCommand(page, "Lulu: Use the Tree View");
  await sessionRow(page, "alpha").waitFor({ state: "visible" });
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

step("arrow keys then Enter open the focused row's session view, not the clicked one", async () => {
  const { page } = wb;
  await runCommand(page, "View: Close All Editors");
  // Newest first: epsilon, delta, gamma, beta, alpha. Click gamma, then go down to beta.
  await sessionRow(page, "gamma").click();
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Enter");
  const frame = await sessionViewFrame(page, "beta task");
  const details = await frame.locator("#details").innerText();
  assert.match(details, /Failed/);
  // The view takes the focus once its page has loaded (it opens without preserveFocus): wait
  // for that, or it lands on the next step's quick pick and closes it.
  await page.waitForFunction(() => (globalThis as unknown as { document: { activeElement: { tagName: string } | null } }).document.activeElement?.tagName === "IFRAME");
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

step("the transcript shows Markdown, ANSI colours, links and folded output, every text readable in Dark and Light Modern", async () => {
  const { page } = wb;
  await runCommand(page, "View: Close All Editors");
  await spawnSession("rho rich [rich]");
  await sessionRow(page, "rho", ", Completed, ").waitFor({ state: "visible", timeout: 120_000 });
  await sessionRow(page, "rho").dblclick();
  const frame = await sessionViewFrame(page, "npm test -- --watch=false");
  const t = frame.locator("#transcript");
  await t.locator("h4.md-h", { hasText: "Plan" }).waitFor({ state: "visible" });
  await t.locator("strong", { hasText: "README.md:1" }).waitFor({ state: "visible" });
  await t.locator("pre.code", { hasText: "npm test -- --watch=false" }).waitFor({ state: "visible" });
  assert.equal(await t.locator("text=`npm test`").count(), 0, "no Markdown shown as typed");
  assert.doesNotMatch(await t.innerText(), /\[32m|␛|\u001b/, "no raw escape codes");
  await t.locator(".ansi-fg-2", { hasText: "58 passed" }).waitFor({ state: "visible" });
  await t.locator("h4.md-h", { hasText: "Plan" }).scrollIntoViewIfNeeded();
  for (const theme of ["Dark Modern", "Light Modern"]) {
    if (theme !== "Dark Modern") await pickTheme(page, theme);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await lowContrast(frame), [], `every text at least 4.5:1 in ${theme}`);
    shots.push(await screenshot(page, wb.artifacts, `session-view-rich-${theme.split(" ")[0].toLowerCase()}.png`));
  }
  // The long output is folded, not cut: 40 lines, then 21 more on a click.
  const more = t.locator("details.more summary", { hasText: "21 more lines" });
  await more.waitFor({ state: "visible" });
  assert.equal(await t.locator("text=test 60 ok").isVisible(), false);
  await more.click();
  await t.locator("text=test 60 ok").waitFor({ state: "visible" });
  await pickTheme(page, "Dark Modern");
  // A file path at a line opens that file of the session's worktree.
  await t.locator("a.link", { hasText: "README.md:1" }).first().click();
  await page.locator(".tabs-container .tab", { hasText: "README.md" }).first().waitFor({ state: "visible" });
  await runCommand(page, "View: Close All Editors");
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
  // An added file opens as itself: no diff against nothing, no phantom deleted empty line.
  await page.locator(".editor-instance .view-lines", { hasText: "Notes from codex" }).first().waitFor({ state: "visible" });
  assert.equal(await page.locator(".monaco-diff-editor .line-delete").count(), 0, "no deleted line for an added file");
  shots.push(await screenshot(page, wb.artifacts, "show-changes.png"));
  await runCommand(page, "View: Close All Editors");
  // All Changed Files marks the added file A, not R (renamed) and struck through.
  await runCommand(page, "Lulu: Show Changes");
  await pickItem(page, "Show the changes", "zeta");
  await pickItem(page, "Changes of", "changed file");
  const status = page.locator(".multiDiffEntry .header .status").first();
  await status.waitFor({ state: "visible" });
  assert.equal((await status.innerText()).trim(), "A");
  await runCommand(page, "View: Close All Editors");
});

step("a New Session that cannot start keeps the prompt, says why in plain words and offers ways out", async () => {
  const { page } = wb;
  await runCommand(page, "Lulu: New Session");
  const input = await quickInput(page, "New Session");
  await input.fill("iota kept prompt [sleep 1]");
  await page.locator('.quick-input-widget [aria-label="Choose the agent"]').first().click();
  await pickItem(page, "Agent for the new session", "not-installed");
  await (await quickInput(page, "not-installed on HEAD")).press("Enter");
  const dialog = page.locator(".monaco-dialog-box", { hasText: "could not start the session" });
  await dialog.waitFor({ state: "visible" });
  const text = await dialog.innerText();
  assert.match(text, /runs `lulu-no-such-agent`, which is not installed/);
  assert.match(text, /Your prompt is kept/);
  assert.doesNotMatch(text, /not on PATH"|`repo`/, "the user's words, not the server's");
  for (const b of ["Pick Another Agent", "Edit Agent Profiles", "Back to the Prompt"]) {
    assert.equal(await dialog.locator(".monaco-button", { hasText: b }).count(), 1, b);
  }
  await dialog.locator(".monaco-button", { hasText: "Pick Another Agent" }).click();
  await pickItem(page, "Agent for the new session", "fake-text");
  const again = await quickInput(page, "fake-text on HEAD");
  assert.equal(await again.inputValue(), "iota kept prompt [sleep 1]", "the prompt as typed");
  await again.press("Enter");
  await sessionRow(page, "iota", ", Completed, ").waitFor({ state: "visible", timeout: 120_000 });
});

step("a multi-line prompt, written in the prompt editor, is kept as typed", async () => {
  const { page } = wb;
  await runCommand(page, "Lulu: New Session");
  const input = await quickInput(page, "New Session");
  await input.fill("sigma first line");
  await page.locator('.quick-input-widget [aria-label="Write a multi-line prompt"]').first().click();
  const editor = await frameWith(page, "textarea#prompt");
  const area = editor.locator("textarea#prompt");
  assert.equal(await area.inputValue(), "sigma first line");
  await area.press("End");
  await area.pressSequentially("\n  second line, indented [sleep 1]");
  await area.press("Control+Enter");
  await sessionRow(page, "sigma", ", Completed, ").waitFor({ state: "visible", timeout: 120_000 });
  await sessionRow(page, "sigma").dblclick();
  const frame = await sessionViewFrame(page, "sigma first line");
  const prompt = await frame.locator("#details details.prompt pre").textContent();
  assert.equal(prompt, "sigma first line\n  second line, indented [sleep 1]");
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
  // Still running when it is opened (it sleeps after printing), so the view follows it.
  await spawnSession("theta chatty [lines 400] [sleep 4]");
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

step("Reload Window brings back the open session views", async () => {
  const { page } = wb;
  await sessionRow(page, "alpha").dblclick();
  await sessionViewFrame(page, "Resuming conversation");
  await sessionRow(page, "beta").dblclick();
  await sessionViewFrame(page, "beta task");
  // VS Code saves a webview's state (our session id) a moment after the page sets it; a
  // user does not reload within a second of opening a view.
  await new Promise((r) => setTimeout(r, 2000));
  // Reload Window as a user does (VS Code saves its editors first; a bare page reload may not).
  const reloaded = page.waitForEvent("framenavigated", { predicate: (f) => f === page.mainFrame(), timeout: 120_000 });
  await runCommand(page, "Developer: Reload Window");
  await reloaded;
  await page.locator(".monaco-workbench").waitFor({ timeout: 180_000 });
  for (const name of ["alpha task", "beta task"]) {
    await page.locator(".tabs-container .tab", { hasText: `Lulu: ${name}` }).first().waitFor({ state: "visible" });
  }
  // The visible one shows its transcript again (the other fills in when it is shown).
  await sessionViewFrame(page, "beta task", 120_000);
  if (!(await page.locator(".customview-tree").isVisible())) await openLuluView(page);
  await sessionRow(page, "alpha").waitFor({ state: "visible" });
  await runCommand(page, "View: Close All Editors");
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

/** The text of the focused button of the open dialog: what Enter would do. */
async function dialogDefault(page: Page): Promise<string> {
  return page.evaluate(() => {
    const d = globalThis as unknown as { document: { activeElement: { textContent: string | null; closest(s: string): unknown } | null } };
    const el = d.document.activeElement;
    return el && el.closest(".monaco-dialog-box") ? (el.textContent ?? "").trim() : "(focus outside the dialog)";
  });
}

step("Remove says what would be lost, Enter picks the safe choice, and nothing stale stays", async () => {
  const { page } = wb;
  await spawnSession("omega scratch [dirty]");
  await sessionRow(page, "omega", ", Completed, ").waitFor({ state: "visible", timeout: 120_000 });
  await sessionRow(page, "omega").dblclick();
  const frame = await sessionViewFrame(page, "I will work on: omega scratch");
  const removeFromPage = async () => {
    await frame.locator('button[data-command="lulu.removeSession"]').click();
    const dialog = page.locator(".monaco-dialog-box", { hasText: "Remove the session" });
    await dialog.waitFor({ state: "visible" });
    return dialog;
  };
  // The first question already names the untracked file, and Enter would only show changes.
  let dialog = await removeFromPage();
  const first = await dialog.innerText();
  assert.match(first, /Remove the session "omega scratch/);
  assert.match(first, /deletes its worktree/);
  assert.match(first, /untracked\.txt \(new\)/);
  assert.equal(await dialogDefault(page), "Show Changes");
  await dialog.locator(".monaco-button", { hasText: /^Remove$/ }).click();
  // The server refuses (the untracked file): the second question's default is safe too.
  const force = page.locator(".monaco-dialog-box", { hasText: "Force the removal" });
  await force.waitFor({ state: "visible" });
  assert.match(await force.innerText(), /lost for good/);
  assert.equal(await dialogDefault(page), "Show Changes");
  await page.keyboard.press("Enter");
  await page.locator(".quick-input-widget .quick-input-title", { hasText: "Changes of" }).waitFor({ state: "visible" });
  await page.keyboard.press("Escape");
  assert.equal(await sessionRow(page, "omega").count(), 1, "Enter removed nothing");
  // Now force it, on purpose.
  dialog = await removeFromPage();
  await dialog.locator(".monaco-button", { hasText: /^Remove$/ }).click();
  await force.waitFor({ state: "visible" });
  await force.locator(".monaco-button", { hasText: "Force Remove" }).click();
  await sessionRow(page, "omega").waitFor({ state: "detached", timeout: 60_000 });
  // The open view says so at the top, and a row has the focus for the next key.
  await frame.locator("#banner", { hasText: "This session was removed" }).waitFor({ state: "visible" });
  assert.equal(await frame.locator('button[data-command="lulu.continueSession"]').isDisabled(), true);
  await page.locator(".customview-tree .monaco-list-row.focused").first().waitFor({ state: "visible" });
  shots.push(await screenshot(page, wb.artifacts, "session-view-removed.png"));
  await runCommand(page, "View: Close All Editors");
});

step("many at once: counts in the status bar and a badge, a filter, Delete on a multi-selection, Remove All Ended keeps unsaved work", async () => {
  const { page } = wb;
  const counts = page.locator(".statusbar-item", { hasText: /\d+ failed/ }).first();
  await counts.waitFor({ state: "visible" });
  await page.locator(".activitybar .action-item", { has: page.locator('[aria-label^="Lulu"]') }).locator(".badge-content").first().waitFor({ state: "visible" });
  // Filter: only the failed rows.
  await runCommand(page, "Lulu: Filter Sessions");
  const pick = page.locator(".quick-input-widget");
  await pick.locator(".monaco-list-row", { hasText: /^Failed/ }).first().click();
  await sessionRow(page, "alpha").waitFor({ state: "detached" });
  const shown = await page.locator(".customview-tree .monaco-list-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("aria-label") ?? ""));
  assert.ok(shown.length > 0 && shown.every((l) => l.includes(", Failed, ")), `only failed rows: ${shown.join(" | ")}`);
  await runCommand(page, "Lulu: Clear Filter");
  await sessionRow(page, "alpha").waitFor({ state: "visible" });
  // Two rows selected, Delete: one question, both gone.
  await sessionRow(page, "alpha").click();
  await sessionRow(page, "beta").click({ modifiers: ["Control"] });
  await page.keyboard.press("Delete");
  const dialog = page.locator(".monaco-dialog-box", { hasText: "Remove 2 sessions?" });
  await dialog.waitFor({ state: "visible" });
  await dialog.locator(".monaco-button", { hasText: "Remove 2 Sessions" }).click();
  await sessionRow(page, "alpha").waitFor({ state: "detached" });
  await sessionRow(page, "beta").waitFor({ state: "detached" });
  // Remove All Ended: a worktree with an untracked file is kept, and named.
  await spawnSession("tau unsaved [dirty]");
  await sessionRow(page, "tau", ", Completed, ").waitFor({ state: "visible", timeout: 120_000 });
  await runCommand(page, "Lulu: Remove All Ended");
  const all = page.locator(".monaco-dialog-box", { hasText: /Remove all \d+ ended sessions\?/ });
  await all.waitFor({ state: "visible" });
  await all.locator(".monaco-button", { hasText: /^Remove \d+ Sessions$/ }).click();
  await page.locator(".notification-toast", { hasText: 'Kept "tau unsaved' }).waitFor({ state: "visible" });
  await sessionRow(page, "zeta").waitFor({ state: "detached" });
  assert.equal(await sessionRow(page, "tau").count(), 1, "the session with unsaved work is kept");
  shots.push(await screenshot(page, wb.artifacts, "cleanup-kept-unsaved.png"));
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
