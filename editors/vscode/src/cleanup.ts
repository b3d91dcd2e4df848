// Cleaning up many sessions at once: Remove on a multi-selection (or with the Delete key),
// Remove All Ended (which refuses nothing it must not lose: a worktree with work that is
// not committed is kept), and the Sessions view's filter.

import * as vscode from "vscode";
import type { Lulu } from "./lulu";
import { ErrorCodes, STATUSES, type SessionRow, type Status, errorCode, errorMessage, isEnded } from "./protocol";
import { STATUS_LOOK } from "./rows";

/** The rows a command run from the tree acts on: the multi-selection when the row is part of it. */
export function selectedRows(lulu: Lulu, arg: unknown, selected: unknown): SessionRow[] | undefined {
  if (!Array.isArray(selected) || selected.length < 2) return undefined;
  if (typeof arg === "string" && !selected.includes(arg)) return undefined;
  const rows = selected.map((id) => (typeof id === "string" ? lulu.tree.get(id) : undefined)).filter((r): r is SessionRow => r !== undefined);
  return rows.length >= 2 ? rows : undefined;
}

function names(rows: readonly SessionRow[]): string {
  const shown = rows.slice(0, 5).map((r) => `"${r.name}"`);
  return rows.length > 5 ? `${shown.join(", ")} and ${rows.length - 5} more` : shown.join(", ");
}

/**
 * Removes `rows` after one question. Nothing is forced: a session that is running, or
 * whose worktree holds work that is not committed, is kept and named afterwards.
 */
export async function removeMany(lulu: Lulu, rows: SessionRow[], title?: string): Promise<void> {
  const ended = rows.filter((r) => isEnded(r.status));
  const active = rows.filter((r) => !isEnded(r.status));
  if (ended.length === 0) {
    void vscode.window.showInformationMessage(`Lulu: ${names(active)} ${active.length === 1 ? "is" : "are"} still running; cancel first.`);
    return;
  }
  const remove: vscode.MessageItem = { title: ended.length === 1 ? "Remove" : `Remove ${ended.length} Sessions` };
  const choice = await vscode.window.showWarningMessage(
    title ?? `Remove ${ended.length} session${ended.length === 1 ? "" : "s"}?`,
    {
      modal: true,
      detail:
        `This deletes the worktrees and transcripts of ${names(ended)}; their branches and commits are kept. ` +
        "A worktree with uncommitted changes or untracked files is kept, so nothing is lost." +
        (active.length ? `\n\n${names(active)} still running: left alone.` : ""),
    },
    remove,
  );
  if (choice !== remove) return;
  const kept: string[] = [];
  const failed: string[] = [];
  let removed = 0;
  for (const row of ended) {
    try {
      await lulu.request("lulu/remove", { id: row.id });
      lulu.tree.remove(row.id);
      lulu.views.onSessionRemoved(row.id);
      removed++;
    } catch (err) {
      const code = errorCode(err);
      if (code === ErrorCodes.WouldLoseWork || code === ErrorCodes.SessionActive) kept.push(`"${row.name}"`);
      else failed.push(`"${row.name}": ${errorMessage(err)}`);
    }
  }
  const said = [`Removed ${removed} session${removed === 1 ? "" : "s"}.`];
  if (kept.length) said.push(`Kept ${kept.join(", ")}: ${kept.length === 1 ? "its worktree holds" : "their worktrees hold"} work that is not committed (Remove it alone to see what and to force it).`);
  if (failed.length) said.push(`Could not remove ${failed.join("; ")}.`);
  const show = failed.length ? vscode.window.showErrorMessage : vscode.window.showInformationMessage;
  void show(`Lulu: ${said.join(" ")}`);
}

export async function removeAllEnded(lulu: Lulu): Promise<void> {
  const ended = lulu.rows().filter((r) => isEnded(r.status));
  if (ended.length === 0) {
    void vscode.window.showInformationMessage("Lulu: there is no ended session to remove.");
    return;
  }
  await removeMany(lulu, ended, `Remove all ${ended.length} ended session${ended.length === 1 ? "" : "s"}?`);
}

/** Filter Sessions: a status to pick, and/or part of a name to type. */
export async function filterSessions(lulu: Lulu): Promise<void> {
  type Item = vscode.QuickPickItem & { status?: Status };
  const current = lulu.tree.getFilter();
  const pick = vscode.window.createQuickPick<Item>();
  pick.title = "Lulu: Filter Sessions";
  pick.placeholder = "Type part of a name, and pick a status (or Any Status)";
  pick.value = current.name ?? "";
  pick.items = [
    { label: "Any Status", alwaysShow: true },
    ...STATUSES.map((s) => ({ label: STATUS_LOOK[s].word, description: `only ${STATUS_LOOK[s].word.toLowerCase()} sessions`, status: s, alwaysShow: true })),
  ];
  const active = pick.items.find((i) => i.status === current.status);
  if (active) pick.activeItems = [active];
  const chosen = await new Promise<{ status?: Status; name: string } | undefined>((resolve) => {
    let result: { status?: Status; name: string } | undefined;
    pick.onDidAccept(() => {
      result = { status: (pick.selectedItems[0] ?? pick.activeItems[0])?.status, name: pick.value.trim() };
      pick.hide();
    });
    pick.onDidHide(() => {
      pick.dispose();
      resolve(result);
    });
    pick.show();
  });
  if (chosen) lulu.tree.setFilter({ ...(chosen.status ? { status: chosen.status } : {}), ...(chosen.name ? { name: chosen.name } : {}) });
}
