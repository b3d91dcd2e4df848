// The Sessions tree: one flat row per session, newest first, never reordered. Filled by
// `lulu/list` when a server starts, then kept current by `lulu/sessionChanged` and
// `lulu/sessionRemoved` alone (no polling). Ages tick on one timer, set for the soonest
// moment a row's age text changes, and only the rows whose text changed are redrawn.

import * as vscode from "vscode";
import { sessionUri } from "./approvals";
import type { Lulu } from "./lulu";
import { type SessionRow, compareRows, errorMessage } from "./protocol";
import { type RowFilter, describeFilter, isOlderRow, matchesFilter, msUntilAgeChanges, queuePlaces, renderRow, rowAgeMs } from "./rows";

/** How many rows the tree loads at most (pages of 500 from `lulu/list`). */
const MAX_ROWS = 5000;

export class SessionsTree implements vscode.TreeDataProvider<string>, vscode.Disposable {
  private readonly byId = new Map<string, SessionRow>();
  /** Ids, newest first. */
  private order: string[] = [];
  /** The age text each row was last drawn with. */
  private readonly drawnAge = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<string | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private timer: NodeJS.Timeout | undefined;
  private view: vscode.TreeView<string> | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  /** While a reload is in flight, notifications are kept here and applied on top of its result. */
  private pending: Map<string, SessionRow | null> | undefined;
  private loadError: string | undefined;
  /** The Starting rows' places in the queue, computed again when a row changes. */
  private places: Map<string, number> | undefined;
  private filter: RowFilter = {};
  private readonly counts = new vscode.EventEmitter<void>();
  /** Fires when a row's status may have changed (for the status bar and the badge). */
  readonly onDidChangeCounts = this.counts.event;

  constructor(private readonly lulu: Lulu) {
    this.disposables.push(this.changed, this.counts);
    this.disposables.push(lulu.onDidStart(() => void this.reload()));
  }

  attach(view: vscode.TreeView<string>): void {
    this.view = view;
    this.disposables.push(view.onDidChangeVisibility(() => this.scheduleTick()));
  }

  rows(): SessionRow[] {
    return this.order.map((id) => this.byId.get(id)).filter((r): r is SessionRow => r !== undefined);
  }

  get(id: string): SessionRow | undefined {
    return this.byId.get(id);
  }

  getTreeItem(id: string): vscode.TreeItem {
    const row = this.byId.get(id);
    if (!row) return new vscode.TreeItem("(removed)");
    this.places ??= queuePlaces(this.rows());
    const waiting = this.lulu.approvals.pendingFor(id).length;
    const view = renderRow(row, Date.now(), { queuePlace: this.places.get(id), waiting });
    const item = new vscode.TreeItem(view.label, vscode.TreeItemCollapsibleState.None);
    item.id = id;
    // Keys the decoration of a session waiting for the user (approvals.ts): a badge on the row.
    item.resourceUri = sessionUri(id);
    item.description = view.description;
    item.iconPath = new vscode.ThemeIcon(view.icon, new vscode.ThemeColor(view.iconColor));
    item.tooltip = new vscode.MarkdownString(view.tooltip);
    item.contextValue = view.contextValue;
    item.accessibilityInformation = { label: view.ariaLabel, role: "treeitem" };
    // A click runs this command; it opens the session on the second click of a double
    // click (commands.ts). It carries no arguments on purpose: VS Code keeps a command with
    // arguments under a handle that dies when the row is redrawn (every second while the
    // age ticks), and a click landing just after would find "command not found". The
    // command reads the row from the tree's selection, which the click has just set.
    // Enter opens the row through a keybinding.
    item.command = { command: "lulu.rowClicked", title: "Select" };
    this.drawnAge.set(id, view.age);
    return item;
  }

  getChildren(element?: string): string[] {
    if (element !== undefined) return [];
    if (!this.filter.status && !this.filter.name) return this.order;
    return this.order.filter((id) => {
      const row = this.byId.get(id);
      return row !== undefined && matchesFilter(row, this.filter);
    });
  }

  /** Shows only the rows of one status and/or a name part; `{}` shows every row again. */
  setFilter(filter: RowFilter): void {
    this.filter = filter;
    if (this.view) this.view.description = describeFilter(filter);
    void vscode.commands.executeCommand("setContext", "lulu.filtered", describeFilter(filter) !== undefined);
    this.changed.fire(undefined);
  }

  getFilter(): RowFilter {
    return this.filter;
  }

  getParent(): undefined {
    return undefined;
  }

  /** Loads every row afresh (server start, Refresh). */
  async reload(): Promise<void> {
    if (!this.lulu.isRunning) return;
    this.pending = new Map();
    const loaded: SessionRow[] = [];
    try {
      let before: string | undefined;
      do {
        const page = await this.lulu.request("lulu/list", { limit: 500, ...(before ? { before } : {}) });
        loaded.push(...page.sessions);
        before = page.next ?? undefined;
      } while (before && loaded.length < MAX_ROWS);
      this.loadError = undefined;
    } catch (err) {
      this.loadError = errorMessage(err);
      this.lulu.output.error(`Listing sessions: ${this.loadError}`);
      this.pending = undefined;
      this.setMessage();
      return;
    }
    const pending = this.pending;
    this.pending = undefined;
    this.byId.clear();
    this.drawnAge.clear();
    for (const row of loaded) this.byId.set(row.id, row);
    for (const [id, row] of pending) {
      if (row) this.byId.set(id, row);
      else this.byId.delete(id);
    }
    this.order = [...this.byId.values()].sort(compareRows).map((r) => r.id);
    this.places = undefined;
    this.counts.fire();
    this.setMessage();
    this.changed.fire(undefined);
    this.scheduleTick();
  }

  upsert(row: SessionRow): void {
    // A request's answer may arrive after the notifications of what followed it.
    if (isOlderRow(this.byId.get(row.id), row) || isOlderRow(this.pending?.get(row.id) ?? undefined, row)) return;
    this.pending?.set(row.id, row);
    const before = this.byId.get(row.id);
    this.byId.set(row.id, row);
    this.places = undefined;
    if (before?.status !== row.status) this.counts.fire();
    if (before) {
      // A Starting row leaving the queue moves the places of the others.
      this.changed.fire(before.status !== row.status && before.status === "starting" ? undefined : row.id);
    } else {
      // Insert in place: the order is by creation, so nothing else moves.
      let i = 0;
      while (i < this.order.length) {
        const other = this.byId.get(this.order[i]);
        if (other && compareRows(row, other) < 0) break;
        i++;
      }
      this.order.splice(i, 0, row.id);
      this.setMessage();
      this.changed.fire(undefined);
    }
    this.scheduleTick();
  }

  /** Draws a row again, e.g. when its pending requests changed. */
  redraw(id: string): void {
    if (!this.byId.has(id)) return;
    this.changed.fire(id);
  }

  remove(id: string): void {
    this.pending?.set(id, null);
    if (!this.byId.delete(id)) return;
    this.places = undefined;
    this.counts.fire();
    this.drawnAge.delete(id);
    this.order = this.order.filter((x) => x !== id);
    this.setMessage();
    this.changed.fire(undefined);
  }

  /** Shows the tree's one-line message: why nothing could be listed. */
  private setMessage(): void {
    if (!this.view) return;
    this.view.message = this.loadError ? `Could not list sessions: ${this.loadError}` : undefined;
  }

  /** Sets the one timer for the soonest age-text change among the rows, while the view shows. */
  private scheduleTick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.view?.visible || this.byId.size === 0) return;
    const now = Date.now();
    let soonest = Number.POSITIVE_INFINITY;
    for (const row of this.byId.values()) soonest = Math.min(soonest, msUntilAgeChanges(rowAgeMs(row, now)));
    // 2^31-1 ms is setTimeout's limit; 20 ms of slack lands the tick after the change.
    const delay = Math.min(Math.max(soonest + 20, 50), 2 ** 31 - 1);
    this.timer = setTimeout(() => this.tick(), delay);
  }

  private tick(): void {
    this.timer = undefined;
    const now = Date.now();
    for (const id of this.order) {
      const row = this.byId.get(id);
      if (!row) continue;
      const age = renderRow(row, now).age;
      if (this.drawnAge.get(id) !== age) this.changed.fire(id);
    }
    this.scheduleTick();
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const d of this.disposables) d.dispose();
  }
}
