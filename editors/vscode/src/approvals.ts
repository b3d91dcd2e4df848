// Approvals and messages in VS Code: a notification per permission request (Allow, Deny,
// Open), the pending count for the view's badge, a decoration on the waiting session's row,
// the answers and the messages (`lulu/approve`, `lulu/send`). The state and the words are in
// approvalsModel.ts (pure, unit-tested).

import * as vscode from "vscode";
import { ApprovalStore, refusalSentence, requestNotice, staleAnswerText, waitingText } from "./approvalsModel";
import type { Lulu } from "./lulu";
import { type Approval, type ApprovalResolvedParams, type SessionRow, ErrorCodes, errorCode, errorMessage } from "./protocol";

const ALLOW = "Allow";
const DENY = "Deny";
const OPEN = "Open";

/** The scheme of a session row's `resourceUri`, which the waiting decoration is keyed on. */
export const SESSION_SCHEME = "lulu-session";

export function sessionUri(id: string): vscode.Uri {
  return vscode.Uri.from({ scheme: SESSION_SCHEME, path: `/${id}` });
}

export class Approvals implements vscode.Disposable, vscode.FileDecorationProvider {
  readonly store = new ApprovalStore();
  private readonly changed = new vscode.EventEmitter<string | undefined>();
  /** Fires with the session whose pending requests changed, then (undefined) for the counts. */
  readonly onDidChange = this.changed.event;
  private readonly decorationsChanged = new vscode.EventEmitter<vscode.Uri | vscode.Uri[] | undefined>();
  readonly onDidChangeFileDecorations = this.decorationsChanged.event;
  private readonly disposables: vscode.Disposable[] = [];
  /** The sessions that had pending requests when last told, to redraw those a reload changed. */
  private waitingSessions = new Set<string>();

  constructor(private readonly lulu: Lulu) {
    this.disposables.push(this.changed, this.decorationsChanged);
    this.disposables.push(vscode.window.registerFileDecorationProvider(this));
    this.disposables.push(lulu.onDidStart(() => void this.reload()));
    // A row that arrives after its requests (the list loads after a start) is counted then.
    this.disposables.push(lulu.tree.onDidChangeCounts(() => this.changed.fire(undefined)));
  }

  /** The sessions of this window: those its list shows (`lulu/approvals` lists every repository's). */
  private inScope = (sessionId: string): boolean => this.lulu.tree.get(sessionId) !== undefined;

  /** Pending requests of this window's sessions. */
  pendingCount(): number {
    return this.store.list({ include: this.inScope }).length;
  }

  pendingFor(sessionId: string): Approval[] {
    return this.store.list({ sessionId });
  }

  onRequested(approval: Approval): void {
    const tell = this.store.requested(approval);
    this.fire(approval.sessionId);
    if (tell) void this.notify(approval);
  }

  onResolved(params: ApprovalResolvedParams): void {
    this.store.resolve(params);
    this.fire(params.sessionId);
  }

  /** After each server start: what is pending now (requests resolved while it was down are gone). */
  async reload(): Promise<void> {
    this.store.beginReload();
    try {
      const r = await this.lulu.request("lulu/approvals", {});
      this.store.finishReload(r.approvals);
    } catch (err) {
      this.store.abandonReload();
      this.lulu.output.warn(`Listing pending approvals: ${errorMessage(err)}`);
    }
    this.fire(undefined);
  }

  /** Tells of a change to one session's requests, or (undefined) to any: each session whose changed. */
  private fire(sessionId: string | undefined): void {
    const before = this.waitingSessions;
    this.waitingSessions = new Set(this.store.list().map((a) => a.sessionId));
    const changed = sessionId !== undefined ? [sessionId] : [...new Set([...before, ...this.waitingSessions])];
    for (const id of changed) this.changed.fire(id);
    this.changed.fire(undefined);
    this.decorationsChanged.fire(sessionId === undefined ? undefined : sessionUri(sessionId));
  }

  /** The waiting session's row: a badge with its number of requests, the label in the warning colour. */
  provideFileDecoration(uri: vscode.Uri): vscode.FileDecoration | undefined {
    if (uri.scheme !== SESSION_SCHEME) return undefined;
    const n = this.pendingFor(uri.path.slice(1)).length;
    if (n === 0) return undefined;
    return new vscode.FileDecoration(n > 9 ? "9+" : String(n), waitingText(n), new vscode.ThemeColor("list.warningForeground"));
  }

  /** One notification per request: what it asks in plain words, with Allow, Deny and Open. */
  private async notify(a: Approval): Promise<void> {
    let name = this.lulu.tree.get(a.sessionId)?.name;
    let root: string | null = null;
    try {
      // The worktree, so that an edit names its file as the user knows it.
      const detail = await this.lulu.request("lulu/session", { id: a.sessionId });
      name = detail.name;
      root = detail.worktreePath;
    } catch (err) {
      this.lulu.output.warn(`lulu/session ${a.sessionId} for a request: ${errorMessage(err)}`);
    }
    if (!this.store.isPending(a.approvalId)) return;
    const choice = await vscode.window.showInformationMessage(`Lulu: ${requestNotice(a, name ?? a.sessionId.slice(0, 8), root)}`, ALLOW, DENY, OPEN);
    if (choice === OPEN) this.lulu.views.open(a.sessionId);
    if (choice !== ALLOW && choice !== DENY) return;
    try {
      await this.answer(a.approvalId, choice === ALLOW);
    } catch (err) {
      void vscode.window.showErrorMessage(`Lulu: the answer did not reach the agent: ${errorMessage(err)}`);
    }
  }

  /**
   * Answers a request. A request answered elsewhere meanwhile (another window, the CLI, the
   * timeout, its session's end) gets a quiet word, never an error: returns false then.
   */
  async answer(approvalId: string, allow: boolean, message?: string): Promise<boolean> {
    const stale = () => {
      void vscode.window.showInformationMessage(staleAnswerText(this.store.known(approvalId), this.store.resolution(approvalId)));
      return false;
    };
    if (!this.store.isPending(approvalId) && this.store.resolution(approvalId) !== undefined) return stale();
    try {
      await this.lulu.request("lulu/approve", { approvalId, allow, ...(message ? { message } : {}) });
      return true;
    } catch (err) {
      if (errorCode(err) === ErrorCodes.NoSuchSession) return stale();
      throw err;
    }
  }

  /** Asks for the message of a denial; undefined when the user gave up. */
  async askDenyMessage(a: Approval | undefined): Promise<string | undefined> {
    return vscode.window.showInputBox({
      title: "Lulu: Deny with Message",
      prompt: `${a ? `${a.summary}: ` : ""}tell the agent why, or what to do instead`,
      ignoreFocusOut: true,
      validateInput: (v) => (v.trim() ? undefined : "Type the message for the agent, or press Escape."),
    });
  }

  /**
   * Sends a message to a running agent. A refusal the user can act on (not running, an
   * agent that cannot take messages) is thrown as one plain sentence.
   */
  async send(row: Pick<SessionRow, "id" | "name">, text: string, agent?: string): Promise<void> {
    try {
      await this.lulu.request("lulu/send", { id: row.id, text });
    } catch (err) {
      const sentence = refusalSentence(errorCode(err), row.name, agent);
      throw new Error(sentence ?? errorMessage(err));
    }
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
