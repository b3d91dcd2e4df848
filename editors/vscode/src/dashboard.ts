// The Dashboard: a WebviewView in the Lulu container, chosen by the `lulu.view` setting
// (the tree stays the default). It draws the same rows the tree holds (SessionsTree is the
// one model), ticks their ages while it shows, and runs the same commands.

import { randomBytes } from "node:crypto";
import * as vscode from "vscode";
import { DASHBOARD_COMMANDS, type DashboardMessage, type DashboardRequest, dashboardHtml, dashboardRows } from "./dashboardPage";
import { viewBadge } from "./approvalsModel";
import type { Lulu } from "./lulu";
import { countRows, formatAge, rowAgeMs } from "./rows";

export const DASHBOARD_VIEW = "lulu.dashboard";

export class Dashboard implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private pending: NodeJS.Timeout | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private ages = new Map<string, string>();
  /** The row selected in the page, for commands run from the palette. */
  selectedId: string | undefined;

  constructor(private readonly lulu: Lulu) {
    this.disposables.push(lulu.tree.onDidChangeTreeData(() => this.schedule()));
    this.disposables.push(lulu.tree.onDidChangeCounts(() => this.showBadge()));
    this.disposables.push(
      lulu.approvals.onDidChange((sessionId) => {
        if (sessionId === undefined) this.showBadge();
        else this.schedule();
      }),
    );
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.webview.options = { enableScripts: true, localResourceRoots: [] };
    const nonce = randomBytes(16).toString("base64");
    view.webview.html = dashboardHtml({ nonce, cspSource: view.webview.cspSource });
    view.webview.onDidReceiveMessage((msg: DashboardRequest) => this.onMessage(msg));
    view.onDidChangeVisibility(() => this.tick());
    view.onDidDispose(() => {
      this.view = undefined;
      if (this.ticker) clearInterval(this.ticker);
      this.ticker = undefined;
    });
    this.ticker = setInterval(() => this.tick(), 1000);
    this.showBadge();
  }

  private onMessage(msg: DashboardRequest): void {
    if (msg?.type === "ready") this.post();
    else if (msg?.type === "open" && typeof msg.id === "string") this.lulu.views.open(msg.id);
    else if (msg?.type === "select" && typeof msg.id === "string") this.selectedId = msg.id;
    else if (msg?.type === "command" && DASHBOARD_COMMANDS.includes(msg.command)) {
      void vscode.commands.executeCommand(msg.command, msg.id || undefined);
    }
  }

  /** Redraws soon (many changes in a burst make one redraw). */
  private schedule(): void {
    if (this.pending || !this.view) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.post();
    }, 50);
  }

  private post(): void {
    if (!this.view) return;
    const rows = dashboardRows(this.lulu.rows(), Date.now(), (id) => this.lulu.approvals.pendingFor(id).length);
    this.ages = new Map(rows.map((r) => [r.id, r.age]));
    const empty = this.lulu.isRunning ? "No sessions yet." : "The lulu server is not running.";
    const msg: DashboardMessage = { type: "rows", rows, empty };
    void this.view.webview.postMessage(msg);
  }

  /** Sends the ages that changed since the last drawing. */
  private tick(): void {
    if (!this.view?.visible) return;
    const now = Date.now();
    const changed: Record<string, string> = {};
    for (const row of this.lulu.rows()) {
      const age = formatAge(rowAgeMs(row, now));
      if (this.ages.get(row.id) !== age) {
        this.ages.set(row.id, age);
        changed[row.id] = age;
      }
    }
    if (Object.keys(changed).length) void this.view.webview.postMessage({ type: "ages", ages: changed } satisfies DashboardMessage);
  }

  private showBadge(): void {
    if (!this.view) return;
    const c = countRows(this.lulu.rows());
    this.view.badge = viewBadge(this.lulu.approvals.pendingCount(), c);
  }

  focus(): void {
    void this.view?.webview.postMessage({ type: "focus" } satisfies DashboardMessage);
  }

  dispose(): void {
    if (this.pending) clearTimeout(this.pending);
    if (this.ticker) clearInterval(this.ticker);
    for (const d of this.disposables) d.dispose();
  }
}
