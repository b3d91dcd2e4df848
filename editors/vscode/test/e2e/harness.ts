// The end-to-end harness: a real VS Code (code-server from npm, on Node 24) with the
// built .vsix installed, on a fixture repository, driven by playwright-core in Debian's
// Chromium. Everything lives in one temp folder; screenshots go to LULU_E2E_ARTIFACTS.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { FIXTURES, agentProfiles, gitEnv } from "../support";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type TestContext, test } from "node:test";
import { type BrowserContext, type Frame, type Locator, type Page, chromium } from "playwright-core";

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the end-to-end test through editors/vscode/scripts/test.sh`);
  return v;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface Workbench {
  dir: string;
  repo: string;
  stateDir: string;
  settingsFile: string;
  artifacts: string;
  page: Page;
  context: BrowserContext;
  writeSettings(extra: Record<string, unknown>): void;
  /** Stops code-server and Chromium; removes the temp folder unless `keep` (kept for a failed run). */
  close(opts?: { keep?: boolean }): Promise<void>;
}

export interface WorkbenchOptions {
  /** Settings merged over the defaults (server path, fake agents, hermetic state dir). */
  settings: Record<string, unknown>;
  /** Leave VS Code's workspace trust on (the folder then opens untrusted unless trusted). */
  workspaceTrust?: boolean;
  /** More Chromium flags (the benchmark's precise memory figures). */
  chromiumArgs?: string[];
  /** Install this .vsix instead of LULU_VSIX. */
  vsix?: string;
}

/** Starts code-server with the .vsix installed on a fresh fixture repo and opens it in Chromium. */
export async function startWorkbench(opts: WorkbenchOptions): Promise<Workbench> {
  const node24 = need("LULU_NODE24");
  const entry = need("LULU_CODE_SERVER_ENTRY");
  const vsix = opts.vsix ?? need("LULU_VSIX");
  const luluBin = need("LULU_BIN");
  const artifacts = need("LULU_E2E_ARTIFACTS");
  mkdirSync(artifacts, { recursive: true });

  const dir = mkdtempSync(path.join(tmpdir(), "lulu-vscode-e2e-"));
  const repo = path.join(dir, "repo");
  execFileSync("bash", [path.join(FIXTURES, "make-repo.sh"), repo], { stdio: "inherit" });
  const stateDir = path.join(dir, "state");
  const userData = path.join(dir, "user-data");
  const extensions = path.join(dir, "extensions");
  const home = path.join(dir, "home");
  for (const d of [stateDir, userData, extensions, home, path.join(userData, "User")]) mkdirSync(d, { recursive: true });
  const settingsFile = path.join(userData, "User", "settings.json");
  const baseSettings: Record<string, unknown> = {
    "lulu.server.path": luluBin,
    "lulu.agents": agentProfiles(),
    "lulu.defaultAgent": "fake-claude",
    "lulu.stateDir": stateDir,
    "security.workspace.trust.enabled": opts.workspaceTrust === true,
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": false,
    "workbench.colorTheme": "Default Dark Modern",
    "telemetry.telemetryLevel": "off",
    "extensions.autoCheckUpdates": false,
    "extensions.autoUpdate": false,
    "update.mode": "none",
    "git.enabled": false,
    "chat.disableAIFeatures": true,
    "workbench.secondarySideBar.defaultVisibility": "hidden",
  };
  const writeSettings = (extra: Record<string, unknown>) =>
    writeFileSync(settingsFile, JSON.stringify({ ...baseSettings, ...extra }, null, 2));
  writeSettings(opts.settings);

  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ...gitEnv(),
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, ".config"),
    XDG_DATA_HOME: path.join(home, ".local/share"),
    XDG_STATE_HOME: path.join(home, ".local/state"),
    LULU_HOME: stateDir,
    PATH: `${path.dirname(node24)}:${process.env.PATH ?? ""}`,
  };
  const csArgs = [entry, "--user-data-dir", userData, "--extensions-dir", extensions];
  execFileSync(node24, [...csArgs, "--install-extension", vsix], { env, stdio: ["ignore", "pipe", "inherit"] });

  const port = await freePort();
  const log = createWriteStream(path.join(dir, "code-server.log"));
  const server: ChildProcess = spawn(
    node24,
    [
      ...csArgs,
      "--auth",
      "none",
      "--bind-addr",
      `127.0.0.1:${port}`,
      "--disable-telemetry",
      "--disable-update-check",
      ...(opts.workspaceTrust ? [] : ["--disable-workspace-trust"]),
      "--disable-getting-started-override",
      "--config",
      path.join(dir, "code-server.yaml"),
      repo,
    ],
    { env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  server.stdout?.pipe(log);
  server.stderr?.pipe(log);
  const killServer = () => {
    if (server.pid === undefined) return;
    try {
      process.kill(-server.pid, "SIGTERM");
    } catch {
      // already gone
    }
  };
  let context: BrowserContext | undefined;
  let page: Page;
  try {
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, server, path.join(dir, "code-server.log"));
    context = await chromium.launchPersistentContext(path.join(dir, "chromium"), {
      executablePath: process.env.LULU_CHROMIUM ?? "/usr/bin/chromium",
      viewport: { width: 1440, height: 900 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        ...(opts.chromiumArgs ?? []),
      ],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(60_000);
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(repo)}`);
    await page.locator(".monaco-workbench").waitFor({ timeout: 180_000 });
  } catch (err) {
    await context?.close().catch(() => undefined);
    killServer();
    throw err;
  }
  const ctx = context;

  return {
    dir,
    repo,
    stateDir,
    settingsFile,
    artifacts,
    page,
    context: ctx,
    writeSettings,
    async close(closeOpts) {
      await ctx.close().catch(() => undefined);
      killServer();
      cancelLeftovers(luluBin, stateDir, env);
      if (closeOpts?.keep) {
        console.log(`# kept for inspection: ${dir} (code-server.log, user-data/logs)`);
      } else {
        // code-server's children may take a moment to let go of their files.
        for (let i = 0; i < 20; i++) {
          try {
            rmSync(dir, { recursive: true, force: true });
            break;
          } catch {
            await new Promise((r) => setTimeout(r, 250));
          }
        }
      }
    },
  };
}

/**
 * Sessions outlive their editor by design; a test that stopped half way must not leave its
 * agents sleeping. Cancels, through lulu's own CLI, whatever of this run still runs.
 */
function cancelLeftovers(luluBin: string, stateDir: string, env: Record<string, string>): void {
  try {
    const out = execFileSync(luluBin, ["ls", "--json", "--all", "--state-dir", stateDir], { env, encoding: "utf8" });
    const rows = JSON.parse(out) as Array<{ id: string; status: string }>;
    for (const r of rows) {
      if (r.status === "starting" || r.status === "running") {
        execFileSync(luluBin, ["cancel", "--state-dir", stateDir, r.id], { env, stdio: "ignore" });
      }
    }
  } catch (err) {
    console.log(`# could not cancel leftover sessions in ${stateDir}: ${String(err)}`);
  }
}

async function waitForHttp(url: string, proc: ChildProcess, logFile: string): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if (proc.exitCode !== null) throw new Error(`code-server exited with ${proc.exitCode}; see ${logFile}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`code-server did not answer ${url} within 5 minutes; see ${logFile}`);
}

// ---- driving the workbench ------------------------------------------------------------

/** Runs a command from the command palette by its title. */
export async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget .quick-input-box input");
  await input.waitFor({ state: "visible" });
  await input.fill(`>${title}`);
  const row = page.locator(`.quick-input-widget .monaco-list-row[aria-label^="${title}"]`).first();
  await row.waitFor({ state: "visible" });
  await row.click();
}

/** The quick input's text box, once it shows a title containing `title`. */
export async function quickInput(page: Page, title: string): Promise<Locator> {
  await page.locator(".quick-input-widget .quick-input-title", { hasText: title }).waitFor({ state: "visible" });
  const input = page.locator(".quick-input-widget .quick-input-box input");
  await input.waitFor({ state: "visible" });
  return input;
}

/**
 * A row of the Lulu Sessions tree: its aria-label ("name, Status, [reason, ]age") starts
 * with `name` and contains each of `parts`.
 */
export function sessionRow(page: Page, name: string, ...parts: string[]): Locator {
  const q = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
  const attrs = [`[aria-label^="${q(name)}"]`, ...parts.map((p) => `[aria-label*="${q(p)}"]`)].join("");
  return page.locator(`.customview-tree .monaco-list-row${attrs}`);
}

export async function openLuluView(page: Page): Promise<void> {
  const view = page.locator(".welcome-view-content, .customview-tree").first();
  // The whole item, not its inner link: the count badge sits over part of the link and takes
  // the click (a click on the badge is a click on the item, as for a user).
  const icon = page.locator('.activitybar .action-item:has(a[aria-label^="Lulu"]), .activitybar .action-item[aria-label^="Lulu"]').first();
  // The activity bar's icon toggles: a click while the Lulu view shows (or while VS Code is still
  // restoring it after Reload Window) hides it. Click until a click has shown it, as a user would;
  // a click that shows the view also focuses it.
  for (let attempt = 0; attempt < 6; attempt++) {
    await icon.click();
    const shown = await view
      .waitFor({ state: "visible", timeout: 10_000 })
      .then(() => true)
      .catch(() => false);
    if (shown) return;
  }
  await view.waitFor({ state: "visible" });
}

/** The webview frame of the session view, once its transcript contains `text`. */
export async function sessionViewFrame(page: Page, text: string, timeoutMs = 60_000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      try {
        const t = await frame.evaluate(
          () => (globalThis as unknown as { document: { getElementById(id: string): { textContent: string | null } | null } }).document.getElementById("transcript")?.textContent ?? null,
        );
        if (t !== null && t.includes(text)) return frame;
      } catch {
        // a frame that went away, or one that is not ours
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no session view shows "${text}" in its transcript`);
}

export async function screenshot(page: Page, artifacts: string, name: string): Promise<string> {
  const file = path.join(artifacts, name);
  await page.screenshot({ path: file });
  return file;
}

/** The steps of one story, and the step that broke it, if any. */
export interface Story {
  step(name: string, fn: () => Promise<void>): void;
  broken(): string | undefined;
}

/**
 * A story of steps, each a test. The steps build on each other, so after a failure the rest
 * are skipped (saying which step broke) rather than each waiting out its own timeout; the
 * failed step leaves a screenshot, `<prefix><step name>.png`.
 */
export function story(prefix: string, workbench: () => Workbench | undefined): Story {
  let broken: string | undefined;
  return {
    step(name, fn) {
      test(name, { timeout: 300_000 }, async (t: TestContext) => {
        if (broken) {
          t.skip(`an earlier step failed: ${broken}`);
          return;
        }
        try {
          await fn();
        } catch (err) {
          broken = name;
          const wb = workbench();
          if (wb) await screenshot(wb.page, wb.artifacts, `${prefix}${name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60)}.png`).catch(() => undefined);
          throw err;
        }
      });
    },
    broken: () => broken,
  };
}
