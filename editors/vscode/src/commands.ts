// The commands of the palette, the row context menus and the inline buttons.
// A command run from a row gets the row's id; from the palette it asks which session,
// offering the selected row first.

import * as vscode from "vscode";
import { BASE_SCHEME, BaseFileSystem, showChanges } from "./diff";
import type { Lulu } from "./lulu";
import type { ReviewComment } from "./review";
import { filterSessions, removeAllEnded, removeMany, selectedRows } from "./cleanup";
import { newSession } from "./newSession";
import {
  ErrorCodes,
  type SessionRow,
  type Status,
  errorCode,
  errorMessage,
  isEnded,
} from "./protocol";
import { isUnder, removalQuestion, rowAfterRemoval } from "./removal";
import { registerLandCommands } from "./land";
import { STATUS_LOOK, renderRow } from "./rows";

/** Two clicks on the same row closer than this are a double click (see README). */
const DOUBLE_CLICK_MS = 500;

/** Registers a command whose errors become an error message (never an unhandled rejection). */
type Register = (id: string, fn: (...args: unknown[]) => unknown) => void;

export function registerCommands(lulu: Lulu): void {
  const reg: Register = (id, fn) =>
    lulu.track(
      vscode.commands.registerCommand(id, async (...args: unknown[]) => {
        try {
          await fn(...args);
        } catch (err) {
          void vscode.window.showErrorMessage(`Lulu: ${errorMessage(err)}`);
        }
      }),
    );

  lulu.track(vscode.workspace.registerFileSystemProvider(BASE_SCHEME, new BaseFileSystem(), { isReadonly: true, isCaseSensitive: true }));

  registerListCommands(lulu, reg);
  registerSessionCommands(lulu, reg);
  registerReviewCommands(lulu, reg);
}

/** The list's own commands: a row's click, a worktree's window, Remove All Ended, the views, filter and refresh. */
function registerListCommands(lulu: Lulu, reg: Register): void {
  let lastClick: { id: string; at: number } | undefined;
  reg("lulu.rowClicked", () => {
    if (lulu.treeView.selection.length !== 1) return;
    const id = lulu.treeView.selection[0];
    const mode = vscode.workspace.getConfiguration("workbench.list").get<string>("openMode");
    if (mode === "doubleClick") {
      // VS Code itself only runs the row's command on a double click in this mode.
      lulu.views.open(id);
      return;
    }
    const now = Date.now();
    if (lastClick && lastClick.id === id && now - lastClick.at < DOUBLE_CLICK_MS) {
      lastClick = undefined;
      lulu.views.open(id);
    } else {
      lastClick = { id, at: now };
    }
  });

  reg("lulu.openWorktree", async (arg) => {
    const row = await sessionArg(lulu, arg, undefined, "Open the worktree of which session?");
    if (!row) return;
    const detail = await lulu.request("lulu/session", { id: row.id });
    if (!detail.worktreePath) {
      throw new Error(`The session "${detail.name}" has no worktree yet.`);
    }
    await vscode.commands.executeCommand("vscode.openFolder", vscode.Uri.file(detail.worktreePath), {
      forceNewWindow: true,
    });
  });

  reg("lulu.removeAllEnded", () => removeAllEnded(lulu));
  const useView = (which: "tree" | "dashboard") => async () => {
    await vscode.workspace.getConfiguration("lulu").update("view", which, vscode.ConfigurationTarget.Global);
    await vscode.commands.executeCommand(which === "dashboard" ? "lulu.dashboard.focus" : "lulu.sessions.focus");
  };
  reg("lulu.useDashboard", useView("dashboard"));
  reg("lulu.useTree", useView("tree"));
  reg("lulu.filter", () => filterSessions(lulu));
  reg("lulu.clearFilter", () => lulu.tree.setFilter({}));

  reg("lulu.refresh", async () => {
    if (!lulu.isRunning) {
      await lulu.restart();
      return;
    }
    await lulu.tree.reload();
  });
}

/** The commands on one session (or several selected): open, new, cancel, continue, send, land, remove, changes. */
function registerSessionCommands(lulu: Lulu, reg: Register): void {
  reg("lulu.openSession", async (arg) => {
    const row = await sessionArg(lulu, arg, undefined, "Open which session?");
    if (row) lulu.views.open(row.id);
  });

  reg("lulu.newSession", () => newSession(lulu));

  reg("lulu.cancelSession", async (arg, selected) => {
    const many = selectedRows(lulu, arg, selected);
    if (many) {
      for (const r of many.filter((r) => !isEnded(r.status))) lulu.tree.upsert(await lulu.request("lulu/cancel", { id: r.id }));
      return;
    }
    const row = await sessionArg(lulu, arg, ["starting", "running"], "Cancel which session?");
    if (!row) return;
    const after = await lulu.request("lulu/cancel", { id: row.id });
    lulu.tree.upsert(after);
  });

  reg("lulu.continueSession", async (arg) => {
    const row = await sessionArg(lulu, arg, ["completed", "failed"], "Continue which session?");
    if (!row) return;
    const prompt = await vscode.window.showInputBox({
      title: `Lulu: Continue "${row.name}"`,
      prompt: "What should the agent do next? It runs again in the same worktree, resuming its conversation.",
      ignoreFocusOut: true,
      validateInput: (v) => (v.trim() ? undefined : "Type what the agent should do."),
    });
    if (!prompt) return;
    const after = await lulu.request("lulu/continue", { id: row.id, prompt });
    lulu.tree.upsert(after);
  });

  reg("lulu.sendMessage", async (arg) => {
    const row = await sessionArg(lulu, arg, ["running"], "Send a message to which running session?");
    if (!row) return;
    const text = await vscode.window.showInputBox({
      title: `Lulu: Message to "${row.name}"`,
      prompt: "The agent reads it after what it is doing now.",
      ignoreFocusOut: true,
      validateInput: (v) => (v.trim() ? undefined : "Type the message for the agent."),
    });
    if (!text) return;
    await lulu.approvals.send(row, text);
    vscode.window.setStatusBarMessage(`Lulu: message sent to "${row.name}"`, 5000);
  });

  registerLandCommands(lulu, reg, (arg, placeHolder) =>
    sessionArg(lulu, arg ?? lulu.views.activeId(), ["completed", "failed"], placeHolder),
  );

  reg("lulu.removeSession", async (arg, selected) => {
    // The Delete key passes { focused: true }: the multi-selection when there is one.
    const fromKey = typeof arg === "object" && arg !== null && (arg as { focused?: unknown }).focused === true;
    const many = selectedRows(lulu, arg, fromKey ? [...lulu.treeView.selection] : selected);
    if (many) {
      await removeMany(lulu, many);
      return;
    }
    const row = await sessionArg(lulu, arg, undefined, "Remove which session?");
    if (row) await removeSession(lulu, row);
  });

  reg("lulu.showChanges", async (arg) => {
    const row = await sessionArg(lulu, arg, undefined, "Show the changes of which session?");
    if (!row) return;
    const [detail, diff] = await Promise.all([
      lulu.request("lulu/session", { id: row.id }),
      lulu.request("lulu/diff", { id: row.id }),
    ]);
    await showChanges(detail, diff);
  });
}

/** The review's commands: a draft comment's add, edit, save, delete, and sending them all. */
function registerReviewCommands(lulu: Lulu, reg: Register): void {
  reg("lulu.review.add", (reply) => lulu.review.add(reply as vscode.CommentReply));
  reg("lulu.review.edit", (comment) => lulu.review.edit(comment as ReviewComment));
  reg("lulu.review.cancelEdit", (comment) => lulu.review.cancelEdit(comment as ReviewComment));
  reg("lulu.review.save", (comment) => lulu.review.save(comment as ReviewComment));
  reg("lulu.review.delete", (comment) => lulu.review.remove(comment as ReviewComment));
  reg("lulu.sendReview", async (arg) => {
    const id = (await lulu.review.sessionFor(arg)) ?? lulu.views.activeId() ?? (await sessionArg(lulu, arg, ["completed", "failed"], "Send the review to which session?"))?.id;
    if (id) await lulu.review.send(id);
  });
}

/**
 * The session a command acts on: the row it was run on (its id), else one picked from
 * the rows of the given statuses, the selected row offered first.
 */
async function sessionArg(
  lulu: Lulu,
  arg: unknown,
  statuses: Status[] | undefined,
  placeHolder: string,
): Promise<SessionRow | undefined> {
  // A row of the Dashboard's context menu: its data-vscode-context.
  if (typeof arg === "object" && arg !== null && typeof (arg as { sessionId?: unknown }).sessionId === "string") {
    arg = (arg as { sessionId: string }).sessionId;
  }
  if (typeof arg === "string") {
    const row = lulu.tree.get(arg);
    if (!row) throw new Error(`There is no session with id ${arg} any more.`);
    return row;
  }
  const fits = (r: SessionRow) => !statuses || statuses.includes(r.status);
  // Enter in the tree (the keybinding passes { focused: true }): the row the arrow keys
  // moved to, which is the focused row and not always the selected one.
  if (typeof arg === "object" && arg !== null && (arg as { focused?: unknown }).focused === true) {
    const focused = await focusedRow(lulu);
    if (focused && fits(focused)) return focused;
  }
  const rows = lulu.rows().filter(fits);
  if (rows.length === 0) {
    const which = statuses ? statuses.map((s) => STATUS_LOOK[s].word.toLowerCase()).join(" or ") : "";
    void vscode.window.showInformationMessage(`Lulu: there is no ${which ? `${which} ` : ""}session.`);
    return undefined;
  }
  const now = Date.now();
  type Item = vscode.QuickPickItem & { row: SessionRow };
  const items: Item[] = rows.map((r) => {
    const v = renderRow(r, now);
    return {
      label: `$(${v.icon.replace("~spin", "")}) ${r.name}`,
      description: `${STATUS_LOOK[r.status].word} · ${v.description}`,
      row: r,
    };
  });
  const selectedId = lulu.treeView.visible ? lulu.treeView.selection[0] : (lulu.dashboard.selectedId ?? lulu.treeView.selection[0]);
  const pick = vscode.window.createQuickPick<Item>();
  pick.items = items;
  pick.placeholder = placeHolder;
  pick.matchOnDescription = true;
  const active = items.find((i) => i.row.id === selectedId);
  if (active) pick.activeItems = [active];
  return new Promise((resolve) => {
    let chosen: SessionRow | undefined;
    pick.onDidAccept(() => {
      chosen = pick.selectedItems[0]?.row ?? pick.activeItems[0]?.row;
      pick.hide();
    });
    pick.onDidHide(() => {
      pick.dispose();
      resolve(chosen);
    });
    pick.show();
  });
}

/**
 * The row that has the keyboard focus in the tree. VS Code tells extensions the selection,
 * not the focus, so this selects the focused row first (`list.select`, what Enter does in
 * any list) and reads the selection once VS Code has said it changed.
 */
async function focusedRow(lulu: Lulu): Promise<SessionRow | undefined> {
  const changed = new Promise<void>((resolve) => {
    const sub = lulu.treeView.onDidChangeSelection(() => {
      sub.dispose();
      resolve();
    });
    setTimeout(() => {
      sub.dispose();
      resolve();
    }, 300);
  });
  await vscode.commands.executeCommand("list.select");
  await changed;
  return lulu.treeView.selection.length === 1 ? lulu.tree.get(lulu.treeView.selection[0]) : undefined;
}

async function removeSession(lulu: Lulu, row: SessionRow): Promise<void> {
  // The rows as shown now: by the time the removal returns, the server's `lulu/sessionRemoved`
  // may already have taken this one out of the list, and its place with it.
  const shown = lulu.tree.getChildren();
  // Ask the server first what the removal would take with it, so the first question can
  // say it in plain words.
  const [detail, diff] = await Promise.all([
    lulu.request("lulu/session", { id: row.id }),
    lulu.request("lulu/diff", { id: row.id }).catch((err: unknown) => {
      lulu.output.warn(`lulu/diff of ${row.id} before Remove: ${errorMessage(err)}`);
      return undefined;
    }),
  ]);
  const question = removalQuestion(detail, diff);
  const reviewItem: vscode.MessageItem = { title: "Show Changes" };
  const remove: vscode.MessageItem = { title: "Remove" };
  const removeAndBranch: vscode.MessageItem = { title: "Remove and Delete Branch" };
  // The first button is the default one (Enter): when there is work to lose, it is the
  // safe Show Changes.
  const buttons = question.atRisk ? [reviewItem, remove, removeAndBranch] : [remove, removeAndBranch];
  const choice = await vscode.window.showWarningMessage(question.title, { modal: true, detail: question.detail }, ...buttons);
  if (choice === reviewItem) {
    if (diff) await showChanges(detail, diff);
    return;
  }
  if (choice !== remove && choice !== removeAndBranch) return;
  const deleteBranch = choice === removeAndBranch;
  try {
    await lulu.request("lulu/remove", { id: row.id, deleteBranch });
  } catch (err) {
    const code = errorCode(err);
    if (code !== ErrorCodes.SessionActive && code !== ErrorCodes.WouldLoseWork) throw err;
    const lost: string[] = [];
    if (code === ErrorCodes.SessionActive) lost.push("the agent is cancelled mid-run and its work so far is deleted with the worktree");
    if (code === ErrorCodes.WouldLoseWork) {
      lost.push(`the uncommitted changes and untracked files in ${detail.worktreePath ?? "the worktree"} are lost for good`);
      if (deleteBranch) lost.push(`commits on ${detail.branch ?? "the branch"} that are not in the base branch are lost`);
    }
    const force: vscode.MessageItem = { title: "Force Remove" };
    // Show Changes first: Enter must never confirm a loss that cannot be undone.
    const again = await vscode.window.showWarningMessage(
      `Force the removal of "${detail.name}"?`,
      { modal: true, detail: `${errorMessage(err)}\n\nIf you force it, ${lost.join("; ")}.` },
      reviewItem,
      force,
    );
    if (again === reviewItem) {
      if (diff) await showChanges(detail, diff);
      return;
    }
    if (again !== force) return;
    await lulu.request("lulu/remove", { id: row.id, force: true, deleteBranch });
  }
  await afterRemoval(lulu, row.id, detail.worktreePath, shown);
}

/**
 * After a removal: the row that took its place has the focus (as in any list a user deletes
 * from), and no editor shows the deleted worktree. `shown` is the list before the removal.
 */
async function afterRemoval(lulu: Lulu, id: string, worktreePath: string | null, shown: readonly string[]): Promise<void> {
  lulu.tree.remove(id);
  const listed = new Set(lulu.tree.getChildren());
  const next = rowAfterRemoval(shown, id, (other) => listed.has(other));
  lulu.views.onSessionRemoved(id);
  if (worktreePath) await closeEditorsUnder(worktreePath);
  if (next) {
    try {
      await lulu.treeView.reveal(next, { select: true, focus: true });
    } catch {
      // The view is hidden; nothing to focus.
    }
  }
}

/** Closes the tabs (files, diffs) that show a file of `folder`. */
async function closeEditorsUnder(folder: string): Promise<void> {
  const inside = (uri: vscode.Uri | undefined) => uri !== undefined && isUnder(uriPath(uri), folder);
  const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((tab) => {
    const input = tab.input;
    if (input instanceof vscode.TabInputText) return inside(input.uri);
    if (input instanceof vscode.TabInputTextDiff) return inside(input.original) || inside(input.modified);
    return false;
  });
  if (tabs.length) await vscode.window.tabGroups.close(tabs, true);
}

/** The file a tab's URI stands for: a file, or (lulu-base) the worktree file it is the base of. */
function uriPath(uri: vscode.Uri): string {
  return uri.scheme === "file" ? uri.fsPath : uri.scheme === BASE_SCHEME ? uri.path : "";
}
