// The session view: a webview panel per session with its details and its live
// transcript. The transcript streams with `lulu/watch` from the last `seq` the panel
// holds, so a server restart resumes it with no event lost or shown twice.

import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { renderApprovalsHtml } from "./approvalsModel";
import type { Lulu } from "./lulu";
import { type OutputParams, type SessionRow, type TranscriptEvent, errorCode, errorMessage, ErrorCodes } from "./protocol";
import { PAGE_COMMANDS, type PageMessage, type PageRequest, pageHtml, renderDetailsHtml } from "./sessionPage";
import { isUnder } from "./removal";
import { blocksToHtml, renderEvents } from "./transcript";

/** How many events the view asks for at a time (on opening, and scrolling to either end). */
const PAGE_EVENTS = 400;

/** The webview panels' type, also the key of the serializer that restores them. */
export const VIEW_TYPE = "lulu.session";
const WEBVIEW_OPTIONS: vscode.WebviewPanelOptions & vscode.WebviewOptions = {
  enableScripts: true,
  retainContextWhenHidden: true,
  enableFindWidget: true,
  localResourceRoots: [],
};

export class SessionViews implements vscode.Disposable, vscode.WebviewPanelSerializer {
  private readonly panels = new Map<string, SessionPanel>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly lulu: Lulu) {
    this.disposables.push(lulu.onDidStart(() => {
      for (const p of this.panels.values()) void p.resume();
    }));
    this.disposables.push(vscode.window.registerWebviewPanelSerializer(VIEW_TYPE, this));
  }

  open(id: string): void {
    const existing = this.panels.get(id);
    if (existing) {
      existing.reveal();
      return;
    }
    const row = this.lulu.tree.get(id);
    const name = row?.name ?? id;
    const webviewPanel = vscode.window.createWebviewPanel(
      VIEW_TYPE,
      `Lulu: ${name}`,
      { viewColumn: vscode.ViewColumn.Active, preserveFocus: false },
      WEBVIEW_OPTIONS,
    );
    this.adopt(id, name, webviewPanel);
  }

  /** The session of the session view in front, if one is. */
  activeId(): string | undefined {
    for (const [id, p] of this.panels) if (p.isActive) return id;
    return undefined;
  }

  /** Takes a webview panel (new, or restored by VS Code after a reload) as the view of `id`. */
  private adopt(id: string, name: string, webviewPanel: vscode.WebviewPanel): void {
    const panel = new SessionPanel(this.lulu, id, name, webviewPanel, () => this.panels.delete(id));
    this.panels.set(id, panel);
    void panel.resume();
  }

  /** Brings back the session views that were open before Reload Window. */
  deserializeWebviewPanel(webviewPanel: vscode.WebviewPanel, state: unknown): Thenable<void> {
    const id = typeof state === "object" && state !== null ? (state as { id?: unknown }).id : undefined;
    if (typeof id !== "string" || this.panels.has(id)) {
      webviewPanel.dispose();
      return Promise.resolve();
    }
    webviewPanel.webview.options = WEBVIEW_OPTIONS;
    this.adopt(id, webviewPanel.title.replace(/^Lulu: /, ""), webviewPanel);
    return Promise.resolve();
  }

  onOutput(p: OutputParams): void {
    this.panels.get(p.id)?.append(p.events);
  }

  onSessionChanged(row: SessionRow): void {
    this.panels.get(row.id)?.changed(row);
  }

  onSessionRemoved(id: string): void {
    this.panels.get(id)?.removed();
  }

  /** A request of the session was made or resolved: its view lists the pending ones again. */
  onApprovalsChanged(id: string): void {
    void this.panels.get(id)?.refreshDetails();
  }

  dispose(): void {
    for (const p of [...this.panels.values()]) p.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

class SessionPanel {
  /** The highest `seq` shown; output at or below it is a duplicate and dropped. */
  private lastSeq = 0;
  private ready = false;
  private queue: PageMessage[] = [];
  private detailsInFlight = false;
  private detailsAgain = false;
  private disposed = false;
  private isRemoved = false;
  private worktreePath: string | null = null;
  private detailsMessage: PageMessage | undefined;
  private status: string | undefined;
  /** The first page of events was asked for. */
  private opened = false;
  private repo: string | null = null;
  private agent: string | undefined;
  /** What the page shows of the pending requests and the message box, to post only changes. */
  private shownApprovals: string | undefined;
  private shownCompose: boolean | undefined;

  get isActive(): boolean {
    return this.panel.active;
  }

  constructor(
    private readonly lulu: Lulu,
    private readonly id: string,
    private name: string,
    private readonly panel: vscode.WebviewPanel,
    private readonly onDispose: () => void,
  ) {
    this.panel.iconPath = vscode.Uri.joinPath(lulu.extension.extensionUri, "media", "lulu.svg");
    const nonce = randomBytes(16).toString("base64");
    this.panel.webview.html = pageHtml({ title: name, nonce, cspSource: this.panel.webview.cspSource, sessionId: id });
    this.panel.webview.onDidReceiveMessage((msg: PageRequest) => {
      if (msg?.type === "command") {
        if (PAGE_COMMANDS.includes(msg.command)) void vscode.commands.executeCommand(msg.command, this.id);
        return;
      }
      if (msg?.type === "openUrl") {
        if (/^https?:\/\//.test(msg.url)) void vscode.env.openExternal(vscode.Uri.parse(msg.url));
        return;
      }
      if (msg?.type === "openFile") {
        void this.openFile(msg.file, msg.line);
        return;
      }
      if (msg?.type === "approve") {
        if (typeof msg.approvalId === "string") void this.approve(msg.approvalId, msg.answer);
        return;
      }
      if (msg?.type === "send") {
        void this.send(msg.text);
        return;
      }
      if (msg?.type === "older") void this.page(Math.max(0, msg.before - 1 - PAGE_EVENTS), msg.before - 1, "start");
      if (msg?.type === "newer") void this.page(msg.after, msg.after + PAGE_EVENTS, "end");
      if (msg?.type === "latest") void this.openLatest(true);
      if (msg?.type !== "ready") return;
      const rebuilt = this.ready;
      this.ready = true;
      const queued = this.queue;
      this.queue = [];
      for (const m of queued) void this.panel.webview.postMessage(m);
      if (rebuilt) {
        // The page was rebuilt: its details again, and the newest events.
        if (this.detailsMessage) void this.panel.webview.postMessage(this.detailsMessage);
        this.shownApprovals = undefined;
        this.shownCompose = undefined;
        void this.refreshDetails();
        void this.openLatest(this.following());
      }
    });
    this.panel.onDidDispose(() => this.dispose());
  }

  /** Opens a file the transcript names, if it is in the session's worktree (or repository). */
  private async openFile(file: string, line: number): Promise<void> {
    const root = this.worktreePath ?? this.repo;
    if (!root || typeof file !== "string") return;
    const target = path.resolve(root, file);
    if (!isUnder(target, root) || !existsSync(target)) {
      void vscode.window.showInformationMessage(`Lulu: ${file} is not a file of this session's worktree.`);
      return;
    }
    const at = Math.max(0, (Number.isFinite(line) ? line : 1) - 1);
    await vscode.window.showTextDocument(vscode.Uri.file(target), {
      selection: new vscode.Range(at, 0, at, 0),
      viewColumn: vscode.ViewColumn.Beside,
    });
  }

  reveal(): void {
    this.panel.reveal(undefined, false);
  }

  private post(msg: PageMessage): void {
    if (msg.type === "details") this.detailsMessage = msg;
    if (this.ready) void this.panel.webview.postMessage(msg);
    else this.queue.push(msg);
  }

  /** A running session's view sticks to its newest output; an ended one opens at the top. */
  private following(): boolean {
    return this.status === "running" || this.status === "starting";
  }

  /** The newest page of events, replacing what the page shows. */
  private async openLatest(follow: boolean): Promise<void> {
    try {
      const probe = await this.lulu.request("lulu/transcript", { id: this.id, afterSeq: Number.MAX_SAFE_INTEGER, limit: 1 });
      const after = Math.max(0, probe.lastSeq - PAGE_EVENTS);
      await this.page(after, probe.lastSeq, "end", { replace: true, follow });
    } catch (err) {
      this.post({ type: "notice", text: `Could not load the transcript: ${errorMessage(err)}` });
    }
  }

  /** Events after `after` up to `upTo` (seq), to one end of the page. */
  private async page(after: number, upTo: number, where: "start" | "end", opts: { replace?: boolean; follow?: boolean } = {}): Promise<void> {
    const limit = Math.min(10_000, Math.max(1, upTo - after));
    try {
      const r = await this.lulu.request("lulu/transcript", { id: this.id, afterSeq: after, limit });
      const events = r.events.filter((e) => e.seq <= upTo);
      const to = events.length ? events[events.length - 1].seq : Math.min(upTo, r.lastSeq);
      if (where === "end") this.lastSeq = Math.max(this.lastSeq, to);
      this.post({ type: "page", html: blocksToHtml(renderEvents(events)), from: after + 1, to, where, tail: Math.max(r.lastSeq, this.lastSeq), ...opts });
    } catch (err) {
      this.post({ type: "notice", text: `Could not load the transcript: ${errorMessage(err)}` });
    }
  }

  /**
   * Loads the details, the newest page of events (first time), and (re)starts the watch
   * after the last event the panel has.
   */
  async resume(): Promise<void> {
    await this.refreshDetails();
    if (this.disposed) return;
    if (!this.opened && this.lulu.isRunning) {
      this.opened = true;
      await this.openLatest(this.following());
    }
    try {
      await this.lulu.request("lulu/watch", { id: this.id, afterSeq: this.lastSeq });
    } catch (err) {
      this.post({ type: "notice", text: `Could not follow the transcript: ${errorMessage(err)}` });
    }
  }

  async refreshDetails(): Promise<void> {
    if (this.detailsInFlight) {
      this.detailsAgain = true;
      return;
    }
    this.detailsInFlight = true;
    try {
      do {
        this.detailsAgain = false;
        try {
          const detail = await this.lulu.request("lulu/session", { id: this.id });
          if (this.disposed) return;
          this.name = detail.name;
          this.worktreePath = detail.worktreePath;
          this.status = detail.status;
          this.repo = detail.repo;
          this.agent = detail.agent;
          this.panel.title = `Lulu: ${detail.name}`;
          this.post({ type: "details", html: renderDetailsHtml(detail) });
          this.showApprovals(renderApprovalsHtml(detail.pendingApprovals ?? [], detail.worktreePath));
          const compose = detail.status === "running";
          if (compose !== this.shownCompose) {
            this.shownCompose = compose;
            this.post({ type: "compose", open: compose });
          }
        } catch (err) {
          if (errorCode(err) === ErrorCodes.NoSuchSession) this.removed();
          else this.post({ type: "notice", text: `Could not load the session: ${errorMessage(err)}` });
        }
      } while (this.detailsAgain && !this.disposed);
    } finally {
      this.detailsInFlight = false;
    }
  }

  private showApprovals(html: string): void {
    if (html === this.shownApprovals) return;
    this.shownApprovals = html;
    this.post({ type: "approvals", html });
  }

  /** A button of a pending request: Allow, Deny, or Deny with a message asked for first. */
  private async approve(approvalId: string, answer: string): Promise<void> {
    const approvals = this.lulu.approvals;
    try {
      let message: string | undefined;
      if (answer === "denyWithMessage") {
        message = await approvals.askDenyMessage(approvals.store.known(approvalId));
        if (message === undefined) return;
      }
      await approvals.answer(approvalId, answer === "allow", message);
    } catch (err) {
      void vscode.window.showErrorMessage(`Lulu: the answer did not reach the agent: ${errorMessage(err)}`);
    } finally {
      // The page disabled the request's buttons: show the truth again (gone once resolved).
      this.shownApprovals = undefined;
      await this.refreshDetails();
    }
  }

  /** The message box: the text goes to the running agent; a refusal is said in a sentence, the text kept. */
  private async send(text: string): Promise<void> {
    if (typeof text !== "string" || !text.trim()) return;
    try {
      await this.lulu.approvals.send({ id: this.id, name: this.name }, text, this.agent);
      this.post({ type: "sent", ok: true, text: "Sent: the agent reads it after what it is doing now." });
    } catch (err) {
      this.post({ type: "sent", ok: false, text: errorMessage(err) });
    }
  }

  append(events: TranscriptEvent[]): void {
    const fresh = events.filter((e) => e.seq > this.lastSeq).sort((a, b) => a.seq - b.seq);
    if (fresh.length === 0) return;
    const previous = this.lastSeq;
    this.lastSeq = fresh[fresh.length - 1].seq;
    this.post({ type: "live", html: blocksToHtml(renderEvents(fresh)), from: previous + 1, to: this.lastSeq });
  }

  changed(_row: SessionRow): void {
    void this.refreshDetails();
  }

  removed(): void {
    if (this.isRemoved) return;
    this.isRemoved = true;
    this.panel.title = `Lulu: ${this.name} (removed)`;
    this.post({ type: "removed", text: "This session was removed: its worktree and its row are gone. What is shown here is all that is left." });
    this.showApprovals("");
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.onDispose();
    if (this.lulu.isRunning) {
      this.lulu.request("lulu/unwatch", { id: this.id }).catch(() => undefined);
    }
    this.panel.dispose();
  }
}
