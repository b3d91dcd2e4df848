// Review comments through VS Code's Comments API: the gutter `+` on a file of a session's
// worktree (and on both sides of its diff editor) adds a draft (`lulu/comment`); threads
// show Draft or Sent; a draft can be edited or deleted; Send Review to Agent sends every
// draft as one prompt (`lulu/review`). The comments live in the server's database, so a
// reloaded window (or another one) shows the same; `lulu/commentsChanged` redraws them.

import * as path from "node:path";
import * as vscode from "vscode";
import { BASE_SCHEME, baseUri } from "./diff";
import type { Lulu } from "./lulu";
import type { Comment, SessionDetail } from "./protocol";

export const CONTROLLER_ID = "lulu.review";

/** Where a document stands in a session: its file, on the worktree's side or the base's. */
interface Place {
  id: string;
  worktree: string;
  path: string;
  side: "new" | "old";
}

/** One comment as VS Code shows it, with what lulu knows of it. */
class ReviewComment implements vscode.Comment {
  mode = vscode.CommentMode.Preview;
  body: string | vscode.MarkdownString;
  readonly author: vscode.CommentAuthorInformation;
  readonly contextValue: string;
  readonly label: string;
  constructor(
    readonly sessionId: string,
    readonly comment: Comment,
    public thread: vscode.CommentThread | undefined,
  ) {
    const draft = comment.sentAt === null;
    this.body = comment.text;
    this.author = { name: draft ? "Draft" : "Sent to the agent" };
    this.label = draft ? "not sent yet" : "sent";
    this.contextValue = draft ? "luluDraft" : "luluSent";
  }
}

/** A thread drawn for one comment, and what it was drawn from. */
interface Drawn {
  thread: vscode.CommentThread;
  key: string;
}

/** Everything a comment's thread shows: a thread is drawn again only when this changes. */
function drawKey(c: Comment): string {
  return JSON.stringify([c.path, c.line, c.side, c.text, c.sentAt]);
}

export class Review implements vscode.Disposable {
  private readonly controller = vscode.comments.createCommentController(CONTROLLER_ID, "Lulu Review");
  /** The worktree and base commit of each session, once asked. */
  private readonly details = new Map<string, Pick<SessionDetail, "worktreePath" | "baseCommit">>();
  /** Each session's threads, by comment id. */
  private readonly threads = new Map<string, Map<string, Drawn>>();
  /** Each session's last load started, and the last one drawn (an older answer is not drawn). */
  private readonly loadsStarted = new Map<string, number>();
  private readonly loadsDrawn = new Map<string, number>();
  private readonly drafts = new Map<string, number>();
  /** Sessions whose comments were loaded since the server started. */
  private readonly loaded = new Set<string>();
  private readonly disposables: vscode.Disposable[] = [this.controller];

  constructor(private readonly lulu: Lulu) {
    this.controller.options = {
      prompt: "Comment for the agent (a draft until you send the review)",
      placeHolder: "What should change here?",
    };
    this.controller.commentingRangeProvider = {
      provideCommentingRanges: async (document) => {
        const place = await this.placeOf(document.uri);
        if (!place) return undefined;
        return [new vscode.Range(0, 0, Math.max(document.lineCount - 1, 0), 0)];
      },
    };
    this.disposables.push(
      // Only sessions not loaded yet: once loaded, `lulu/commentsChanged` keeps a session's
      // threads current. (The comment widgets' own input editors are visible text editors
      // too: they come and go as threads are drawn, and must not make the threads load again.)
      vscode.window.onDidChangeVisibleTextEditors((editors) => void this.loadFor(editors.map((e) => e.document.uri), true)),
      vscode.window.onDidChangeActiveTextEditor((editor) => void this.setContext(editor?.document.uri)),
      // The rows arrive after the server starts (and after a reload): the files on screen
      // may belong to sessions only known now.
      lulu.tree.onDidChangeCounts(() => void this.loadFor(vscode.window.visibleTextEditors.map((e) => e.document.uri), true)),
    );
  }

  /** Loads the comments of the sessions whose files are on screen (after a start or reload). */
  async started(): Promise<void> {
    this.details.clear();
    this.loaded.clear();
    await this.loadFor(vscode.window.visibleTextEditors.map((e) => e.document.uri));
    await this.setContext(vscode.window.activeTextEditor?.document.uri);
  }

  /** `lulu/commentsChanged`: redraw that session's threads, if any are shown or known. */
  onCommentsChanged(id: string): void {
    void this.load(id);
  }

  /** Draft count of a session, as last loaded. */
  draftCount(id: string): number {
    return this.drafts.get(id) ?? 0;
  }

  private async detail(id: string): Promise<Pick<SessionDetail, "worktreePath" | "baseCommit"> | undefined> {
    const known = this.details.get(id);
    if (known?.worktreePath) return known;
    try {
      const d = await this.lulu.request("lulu/session", { id });
      this.details.set(id, { worktreePath: d.worktreePath, baseCommit: d.baseCommit });
      return d;
    } catch {
      return undefined;
    }
  }

  /** The session file a document is, if any. */
  async placeOf(uri: vscode.Uri): Promise<Place | undefined> {
    let file: string;
    let side: Place["side"] = "new";
    if (uri.scheme === "file") file = uri.fsPath;
    else if (uri.scheme === BASE_SCHEME) {
      file = uri.path;
      side = "old";
    } else return undefined;
    for (const row of this.lulu.rows()) {
      const d = await this.detail(row.id);
      const worktree = d?.worktreePath;
      if (worktree && file.startsWith(worktree + path.sep)) {
        return { id: row.id, worktree, path: path.relative(worktree, file).split(path.sep).join("/"), side };
      }
    }
    return undefined;
  }

  private async loadFor(uris: vscode.Uri[], onlyNew = false): Promise<void> {
    const ids = new Set<string>();
    for (const uri of uris) {
      const place = await this.placeOf(uri);
      if (place && !(onlyNew && this.loaded.has(place.id))) ids.add(place.id);
    }
    if (onlyNew) void this.setContext(vscode.window.activeTextEditor?.document.uri);
    for (const id of ids) await this.load(id);
  }

  private async setContext(uri: vscode.Uri | undefined): Promise<void> {
    const place = uri ? await this.placeOf(uri) : undefined;
    void vscode.commands.executeCommand("setContext", "lulu.reviewFile", place !== undefined);
  }

  /** Asks for a session's comments and draws them as threads. */
  async load(id: string): Promise<void> {
    const seq = (this.loadsStarted.get(id) ?? 0) + 1;
    this.loadsStarted.set(id, seq);
    let comments: Comment[];
    try {
      comments = (await this.lulu.request("lulu/comments", { id })).comments;
    } catch {
      return;
    }
    const d = await this.detail(id);
    // Loads overlap (a notification, a command's own reload): an answer older than the one
    // drawn must not draw over it.
    if (seq < (this.loadsDrawn.get(id) ?? 0)) return;
    this.loadsDrawn.set(id, seq);
    this.loaded.add(id);
    this.draw(id, comments, d);
  }

  /**
   * Draws a session's comments: a thread whose comment is unchanged stays as it is (its
   * widget, the user's edit in progress and a click on it are not disturbed); the others
   * are drawn anew or go.
   */
  private draw(id: string, comments: Comment[], d: Pick<SessionDetail, "worktreePath" | "baseCommit"> | undefined): void {
    const before = this.threads.get(id) ?? new Map<string, Drawn>();
    const after = new Map<string, Drawn>();
    const worktree = d?.worktreePath;
    if (worktree) {
      for (const c of comments) {
        const key = drawKey(c);
        const drawn = before.get(c.commentId);
        if (drawn && drawn.key === key) {
          before.delete(c.commentId);
          after.set(c.commentId, drawn);
          continue;
        }
        after.set(c.commentId, { thread: this.createThread(id, worktree, d.baseCommit, c), key });
      }
    }
    for (const gone of before.values()) gone.thread.dispose();
    this.threads.set(id, after);
    this.drafts.set(id, comments.filter((c) => c.sentAt === null).length);
  }

  private createThread(id: string, worktree: string, baseCommit: string | null, c: Comment): vscode.CommentThread {
    const at = path.join(worktree, c.path);
    const uri = c.side === "old" ? baseUri(at, { cwd: worktree, commit: baseCommit ?? "HEAD", file: c.path }) : vscode.Uri.file(at);
    const line = Math.max(c.line - 1, 0);
    const comment = new ReviewComment(id, c, undefined);
    const thread = this.controller.createCommentThread(uri, new vscode.Range(line, 0, line, 0), [comment]);
    comment.thread = thread;
    thread.canReply = false;
    thread.label = c.sentAt === null ? "Lulu: draft" : "Lulu: sent";
    thread.contextValue = c.sentAt === null ? "luluDraft" : "luluSent";
    thread.collapsibleState = vscode.CommentThreadCollapsibleState.Expanded;
    return thread;
  }

  /** The gutter's new thread, submitted: a draft on its line. */
  async add(reply: vscode.CommentReply): Promise<void> {
    const place = await this.placeOf(reply.thread.uri);
    if (!place) throw new Error("This file is not in a Lulu session's worktree.");
    const line = (reply.thread.range?.start.line ?? 0) + 1;
    await this.lulu.request("lulu/comment", { id: place.id, path: place.path, line, text: reply.text, side: place.side });
    reply.thread.dispose();
    await this.load(place.id);
  }

  async remove(comment: ReviewComment): Promise<void> {
    await this.lulu.request("lulu/uncomment", { id: comment.sessionId, commentId: comment.comment.commentId });
    await this.load(comment.sessionId);
  }

  edit(comment: ReviewComment): void {
    this.setMode(comment, vscode.CommentMode.Editing);
  }

  cancelEdit(comment: ReviewComment): void {
    comment.body = comment.comment.text;
    this.setMode(comment, vscode.CommentMode.Preview);
  }

  /** An edited draft: the old one goes, the new text takes its place. */
  async save(comment: ReviewComment): Promise<void> {
    const text = typeof comment.body === "string" ? comment.body : comment.body.value;
    const c = comment.comment;
    await this.lulu.request("lulu/comment", { id: comment.sessionId, path: c.path, line: c.line, text, side: c.side });
    await this.lulu.request("lulu/uncomment", { id: comment.sessionId, commentId: c.commentId });
    await this.load(comment.sessionId);
  }

  private setMode(comment: ReviewComment, mode: vscode.CommentMode): void {
    comment.mode = mode;
    const thread = comment.thread;
    if (thread) thread.comments = thread.comments.map((c) => c);
  }

  /** The session a Send Review command means: a row, an id, or the active file's session. */
  async sessionFor(arg: unknown): Promise<string | undefined> {
    if (typeof arg === "string") return arg;
    if (typeof arg === "object" && arg !== null) {
      const o = arg as { sessionId?: unknown; id?: unknown; scheme?: unknown };
      if (typeof o.sessionId === "string") return o.sessionId;
      if (typeof o.id === "string" && typeof o.scheme !== "string") return o.id;
      if (arg instanceof vscode.Uri) return (await this.placeOf(arg))?.id;
    }
    const uri = vscode.window.activeTextEditor?.document.uri;
    return uri ? (await this.placeOf(uri))?.id : undefined;
  }

  /** Send Review to Agent: every draft and an optional message, as one prompt. */
  async send(id: string): Promise<void> {
    await this.load(id);
    const n = this.draftCount(id);
    const row = this.lulu.tree.get(id);
    const message = await vscode.window.showInputBox({
      title: `Lulu: Send Review to Agent (${n})`,
      prompt: `${n} draft comment${n === 1 ? "" : "s"} go to "${row?.name ?? id}" as one prompt. Add a message (optional), then Enter.`,
      placeHolder: "A message after the comments (optional)",
      ignoreFocusOut: true,
    });
    if (message === undefined) return;
    const after = await this.lulu.request("lulu/review", { id, ...(message.trim() ? { message } : {}) });
    this.lulu.tree.upsert(after);
    await this.load(id);
    void vscode.window.showInformationMessage(`Lulu: sent the review (${n} comment${n === 1 ? "" : "s"}) to "${after.name}".`);
  }

  dispose(): void {
    for (const drawn of this.threads.values()) for (const { thread } of drawn.values()) thread.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

export type { ReviewComment };
