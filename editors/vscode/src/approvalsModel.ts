// Approvals and messages, the pure part: which permission requests are pending (kept from
// `lulu/approvalRequested` / `lulu/approvalResolved` and `lulu/approvals`), what a request says
// in plain words, what a stale answer or a refused message says, the view's badge, and the
// session view's list of requests. No `vscode` import, so node's test runner checks it;
// approvals.ts shows it in VS Code.

import { type Approval, type ApprovalResolvedParams, ErrorCodes } from "./protocol";
import { localTime, oneLine } from "./rows";
import { escapeHtml } from "./transcript";

/** How a request ended, as `lulu/approvalResolved` said (or unknown: seen gone on a reload). */
export type Resolution = Pick<ApprovalResolvedParams, "allowed" | "by"> | "gone";

/**
 * The pending requests this window knows. Notifications change it one by one; a reload
 * (`lulu/approvals` after each server start) replaces it, and the notifications that arrived while
 * it was in flight win over it, so no request is lost or revived.
 */
export class ApprovalStore {
  private readonly pending = new Map<string, Approval>();
  private readonly resolved = new Map<string, Resolution>();
  /** Every request seen, pending or not, for what a stale answer says. */
  private readonly seen = new Map<string, Approval>();
  /** Every request a notification was shown for: a request announced again is not shown twice. */
  private readonly announced = new Set<string>();
  /** While a reload is in flight: the requests announced meanwhile (the reload may predate them). */
  private announcedDuringReload: Set<string> | undefined;

  /**
   * A request was announced. Returns whether to tell the user: the first time only, and not
   * for a request already resolved.
   */
  requested(approval: Approval): boolean {
    this.announcedDuringReload?.add(approval.approvalId);
    this.seen.set(approval.approvalId, approval);
    if (this.resolved.has(approval.approvalId)) return false;
    this.pending.set(approval.approvalId, approval);
    if (this.announced.has(approval.approvalId)) return false;
    this.announced.add(approval.approvalId);
    return true;
  }

  resolve(params: ApprovalResolvedParams): void {
    this.pending.delete(params.approvalId);
    this.resolved.set(params.approvalId, { allowed: params.allowed, by: params.by });
  }

  /** A reload begins: the requests announced from now on are kept whatever its answer says. */
  beginReload(): void {
    this.announcedDuringReload = new Set();
  }

  /**
   * The reload's answer: what is pending now. A request it lacks is gone (unless it was
   * announced meanwhile); a request it has that was resolved meanwhile stays resolved.
   */
  finishReload(approvals: readonly Approval[]): void {
    const meanwhile = this.announcedDuringReload ?? new Set<string>();
    this.announcedDuringReload = undefined;
    const now = new Set(approvals.map((a) => a.approvalId));
    for (const id of [...this.pending.keys()]) {
      if (now.has(id) || meanwhile.has(id)) continue;
      this.pending.delete(id);
      if (!this.resolved.has(id)) this.resolved.set(id, "gone");
    }
    for (const a of approvals) {
      this.seen.set(a.approvalId, a);
      if (!this.resolved.has(a.approvalId)) this.pending.set(a.approvalId, a);
    }
  }

  /** A reload that failed: keep what is known. */
  abandonReload(): void {
    this.announcedDuringReload = undefined;
  }

  isPending(approvalId: string): boolean {
    return this.pending.has(approvalId);
  }

  get(approvalId: string): Approval | undefined {
    return this.pending.get(approvalId);
  }

  /** A request seen at any time, pending or not. */
  known(approvalId: string): Approval | undefined {
    return this.seen.get(approvalId);
  }

  resolution(approvalId: string): Resolution | undefined {
    return this.resolved.get(approvalId);
  }

  /** Pending requests, oldest first; of one session, or of those `include` accepts. */
  list(filter: { sessionId?: string; include?: (sessionId: string) => boolean } = {}): Approval[] {
    return [...this.pending.values()]
      .filter((a) => (filter.sessionId === undefined || a.sessionId === filter.sessionId) && (!filter.include || filter.include(a.sessionId)))
      .sort((a, b) => Date.parse(a.requestedAt) - Date.parse(b.requestedAt) || (a.approvalId < b.approvalId ? -1 : 1));
  }
}

const EDIT_TOOLS = new Set(["Edit", "Write", "MultiEdit", "NotebookEdit"]);

/** A path relative to `root` when it is inside it, else as given. */
function relative(file: string, root: string | null | undefined): string {
  if (!root) return file;
  const base = root.endsWith("/") ? root : `${root}/`;
  return file.startsWith(base) ? file.slice(base.length) : file;
}

/** Cuts one line of text to `max` characters with an ellipsis. */
export function shorten(text: string, max: number): string {
  const line = oneLine(text);
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** The request's object in plain words: the command, the file, else the summary's detail. */
function object(a: Approval, root: string | null | undefined): string {
  const input = a.input ?? {};
  const str = (key: string) => (typeof input[key] === "string" ? (input[key] as string) : undefined);
  if (a.tool === "Bash") return str("command") ?? "";
  if (EDIT_TOOLS.has(a.tool)) {
    const file = str("file_path") ?? str("notebook_path") ?? str("path");
    if (file) return relative(file, root);
  }
  const prefix = `${a.tool}: `;
  return a.summary.startsWith(prefix) ? a.summary.slice(prefix.length) : a.summary;
}

/** The verb of a request: Bash → `run`, Edit/Write → `edit FILE`, others → `use TOOL`. */
export function describeRequest(a: Approval, root?: string | null, max = 100): string {
  const what = shorten(object(a, root), max);
  if (a.tool === "Bash") return `Claude wants to run: ${what}`;
  if (EDIT_TOOLS.has(a.tool)) return `Claude wants to edit ${what}`;
  return `Claude wants to use ${a.tool}${what ? `: ${what}` : ""}`;
}

/** The notification of a request: what it asks, and in which session. */
export function requestNotice(a: Approval, sessionName: string, root?: string | null): string {
  return `${describeRequest(a, root)} — in "${shorten(sessionName, 60)}"`;
}

/** What a button of a request answered elsewhere says, quietly: how it was resolved. */
export function staleAnswerText(a: Pick<Approval, "tool" | "summary" | "input"> | undefined, resolution: Resolution | undefined): string {
  const what = a ? ` (${shorten(a.summary, 80)})` : "";
  if (resolution === undefined || resolution === "gone") {
    return `Lulu: that request${what} is no longer waiting: it was answered elsewhere, timed out, or its session ended.`;
  }
  const how = resolution.allowed ? "allowed" : "denied";
  if (resolution.by === "timeout") return `Lulu: that request${what} was already denied: nobody answered in time.`;
  if (resolution.by === "cancel") return `Lulu: that request${what} is no longer waiting: its session ended.`;
  return `Lulu: that request${what} was already ${how}.`;
}

/** A refused `lulu/send` (or answer) as one sentence a person understands; undefined for other errors. */
export function refusalSentence(code: number | undefined, sessionName: string, agent?: string): string | undefined {
  const name = `"${shorten(sessionName, 60)}"`;
  if (code === ErrorCodes.NotRunning) {
    return `${name} is not running any more, so it cannot take a message. Continue it to give the agent a new prompt.`;
  }
  if (code === ErrorCodes.AgentCannotTake) {
    const who = agent ? `The agent "${agent}" of ${name}` : `The agent of ${name}`;
    return `${who} cannot take messages while it runs: only an agent lulu hosts (Claude Code) can. Wait until it ends, then Continue it with your message.`;
  }
  return undefined;
}

/** The count of pending requests as people say it. */
export function waitingText(n: number): string {
  return `${n} ${n === 1 ? "request" : "requests"} waiting for you`;
}

/**
 * The Lulu view's badge: the pending requests when there are any (what needs the user now),
 * else the running and failed sessions, as before.
 */
export function viewBadge(pending: number, counts: { running: number; failed: number; tooltip: string }): { value: number; tooltip: string } | undefined {
  if (pending > 0) return { value: pending, tooltip: waitingText(pending) };
  const n = counts.running + counts.failed;
  return n > 0 ? { value: n, tooltip: counts.tooltip } : undefined;
}

/** The request's input in full: a command as a code block (and its description), else pretty JSON. */
function inputHtml(a: Approval): string {
  const input = a.input ?? {};
  if (a.tool === "Bash" && typeof input.command === "string") {
    const rest = Object.fromEntries(Object.entries(input).filter(([k]) => k !== "command" && k !== "description"));
    const description = typeof input.description === "string" ? `<div class="approval-why">${escapeHtml(input.description)}</div>` : "";
    const more = Object.keys(rest).length ? `<pre class="approval-input">${escapeHtml(JSON.stringify(rest, null, 2))}</pre>` : "";
    return `${description}<pre class="approval-input approval-command">${escapeHtml(input.command)}</pre>${more}`;
  }
  return `<pre class="approval-input">${escapeHtml(JSON.stringify(input, null, 2))}</pre>`;
}

/** The session view's list of pending requests, each with Allow, Deny and Deny with Message. */
export function renderApprovalsHtml(approvals: readonly Approval[], root?: string | null): string {
  if (approvals.length === 0) return "";
  const items = approvals.map((a) => {
    const id = escapeHtml(a.approvalId);
    const button = (answer: string, label: string, title: string, primary = false) =>
      `<button type="button" class="approve${primary ? " primary" : ""}" data-approval="${id}" data-answer="${answer}" title="${escapeHtml(title)}">${escapeHtml(label)}</button>`;
    return [
      `<li class="approval" data-approval="${id}">`,
      `<div class="approval-head"><strong>${escapeHtml(describeRequest(a, root, 200))}</strong> <span class="dim" title="${escapeHtml(a.requestedAt)}">asked ${escapeHtml(localTime(a.requestedAt))}</span></div>`,
      inputHtml(a),
      `<div class="actions">`,
      button("allow", "Allow", "Let the agent do this, once", true),
      button("deny", "Deny", "Refuse; the agent is told you denied it"),
      button("denyWithMessage", "Deny with Message…", "Refuse, and tell the agent why or what to do instead"),
      `</div></li>`,
    ].join("");
  });
  return `<section class="approvals" aria-label="${escapeHtml(waitingText(approvals.length))}"><h3>${escapeHtml(waitingText(approvals.length))}</h3><ul>${items.join("")}</ul></section>`;
}
