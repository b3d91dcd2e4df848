// The session view: a webview panel per session with its details and its live
// transcript. The transcript streams with `lulu/watch` from the last `seq` the panel
// holds, so a server restart resumes it with no event lost or shown twice.

import { randomBytes } from "node:crypto";
import * as vscode from "vscode";
import type { Lulu } from "./lulu";
import { type OutputParams, type SessionRow, type TranscriptEvent, errorCode, errorMessage, ErrorCodes } from "./protocol";
import { type PageMessage, pageHtml, renderDetailsHtml } from "./sessionPage";
import { eventsToHtml } from "./transcript";

export class SessionViews implements vscode.Disposable {
  private readonly panels = new Map<string, SessionPanel>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly lulu: Lulu) {
    this.disposables.push(lulu.onDidStart(() => {
      for (const p of this.panels.values()) void p.resume();
    }));
  }

  open(id: string): void {
    const existing = this.panels.get(id);
    if (existing) {
      existing.reveal();
      return;
    }
    const row = this.lulu.tree.get(id);
    const panel = new SessionPanel(this.lulu, id, row?.name ?? id, () => this.panels.delete(id));
    this.panels.set(id, panel);
    void panel.resume();
  }

  /** The session of the session view that is active, if one is. */
  activeSessionId(): string | undefined {
    for (const [id, panel] of this.panels) if (panel.active) return id;
    return undefined;
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

  dispose(): void {
    for (const p of [...this.panels.values()]) p.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

class SessionPanel {
  private readonly panel: vscode.WebviewPanel;
  /** The highest `seq` shown; output at or below it is a duplicate and dropped. */
  private lastSeq = 0;
  /** Everything posted, so a reloaded page can be rebuilt. */
  private readonly history: PageMessage[] = [];
  private ready = false;
  private queue: PageMessage[] = [];
  private detailsInFlight = false;
  private detailsAgain = false;
  private disposed = false;

  constructor(
    private readonly lulu: Lulu,
    private readonly id: string,
    name: string,
    private readonly onDispose: () => void,
  ) {
    this.panel = vscode.window.createWebviewPanel(
      "lulu.session",
      `Lulu: ${name}`,
      { viewColumn: vscode.ViewColumn.Active, preserveFocus: false },
      { enableScripts: true, retainContextWhenHidden: true, enableFindWidget: true, localResourceRoots: [] },
    );
    this.panel.iconPath = vscode.Uri.joinPath(lulu.extension.extensionUri, "media", "lulu.svg");
    const nonce = randomBytes(16).toString("base64");
    this.panel.webview.html = pageHtml({ title: name, nonce, cspSource: this.panel.webview.cspSource });
    this.panel.webview.onDidReceiveMessage((msg: { type?: string }) => {
      if (msg?.type !== "ready") return;
      if (this.ready) {
        // The page was rebuilt: replay what it showed.
        this.queue = [...this.history];
      }
      this.ready = true;
      const queued = this.queue;
      this.queue = [];
      for (const m of queued) void this.panel.webview.postMessage(m);
    });
    this.panel.onDidDispose(() => this.dispose());
  }

  get active(): boolean {
    return this.panel.active;
  }

  reveal(): void {
    this.panel.reveal(undefined, false);
  }

  private post(msg: PageMessage): void {
    if (msg.type === "details") {
      const i = this.history.findIndex((m) => m.type === "details");
      if (i >= 0) this.history.splice(i, 1);
    }
    if (msg.type !== "notice") this.history.push(msg);
    // A rebuilt page replays at most this much (the page itself keeps MAX_BLOCKS blocks).
    if (this.history.length > 2000) this.history.splice(0, this.history.length - 2000);
    if (this.ready) void this.panel.webview.postMessage(msg);
    else this.queue.push(msg);
  }

  /** Loads the details and (re)starts the watch after the last event shown. */
  async resume(): Promise<void> {
    await this.refreshDetails();
    if (this.disposed) return;
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
          this.panel.title = `Lulu: ${detail.name}`;
          this.post({ type: "details", html: renderDetailsHtml(detail) });
        } catch (err) {
          if (errorCode(err) === ErrorCodes.NoSuchSession) this.removed();
          else this.post({ type: "notice", text: `Could not load the session: ${errorMessage(err)}` });
        }
      } while (this.detailsAgain && !this.disposed);
    } finally {
      this.detailsInFlight = false;
    }
  }

  append(events: TranscriptEvent[]): void {
    const fresh = events.filter((e) => e.seq > this.lastSeq).sort((a, b) => a.seq - b.seq);
    if (fresh.length === 0) return;
    this.lastSeq = fresh[fresh.length - 1].seq;
    this.post({ type: "append", html: eventsToHtml(fresh) });
  }

  changed(_row: SessionRow): void {
    void this.refreshDetails();
  }

  removed(): void {
    this.post({ type: "notice", text: "This session was removed." });
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
