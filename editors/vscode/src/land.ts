// Landing a session into its base branch, syncing it with the base, pushing it and opening a
// pull request: the commands of a row's menu and of the session view's title bar.

import * as path from "node:path";
import * as vscode from "vscode";
import type { Lulu } from "./lulu";
import {
  ErrorCodes,
  type LandStrategy,
  type SessionDetail,
  type SessionRow,
  errorCode,
  errorData,
  errorMessage,
} from "./protocol";

/** Picks the session a command acts on (a row's id, the active session view, or a picker). */
export type SessionPicker = (arg: unknown, placeHolder: string) => Promise<SessionRow | undefined>;

const STRATEGIES: readonly { strategy: LandStrategy; label: string; detail: string }[] = [
  { strategy: "squash", label: "Squash", detail: "One commit on the target with the whole change (message editable)." },
  { strategy: "rebase", label: "Rebase", detail: "The session's commits replayed on the target, each with its own message." },
  { strategy: "merge", label: "Merge", detail: "A merge commit on the target (message editable)." },
];

/** One line about where a session's branch stands, for titles and the session view. */
export function describeBranch(detail: Pick<SessionDetail, "baseBranch" | "ahead" | "behind">): string {
  if (!detail.baseBranch) return "started on a detached HEAD (no base branch)";
  if (detail.ahead === null || detail.behind === null) return `based on ${detail.baseBranch}`;
  return `${detail.ahead} ahead of ${detail.baseBranch}, ${detail.behind} behind`;
}

export function registerLandCommands(
  lulu: Lulu,
  reg: (id: string, fn: (...args: unknown[]) => unknown) => void,
  pickSession: SessionPicker,
): void {
  reg("lulu.landSession", async (arg) => {
    const row = await pickSession(arg, "Land which session?");
    if (row) await land(lulu, row);
  });
  reg("lulu.syncSession", async (arg) => {
    const row = await pickSession(arg, "Sync which session with its base?");
    if (row) await sync(lulu, row, true);
  });
  reg("lulu.pushSession", async (arg) => {
    const row = await pickSession(arg, "Push which session?");
    if (row) await push(lulu, row, false);
  });
  reg("lulu.createPullRequest", async (arg) => {
    const row = await pickSession(arg, "Open a pull request for which session?");
    if (row) await push(lulu, row, true);
  });
}

async function land(lulu: Lulu, row: SessionRow): Promise<void> {
  const detail = await lulu.request("lulu/session", { id: row.id });
  const pick = await vscode.window.showQuickPick(
    STRATEGIES.map((s) => ({ ...s, description: s.strategy === "squash" ? "default" : undefined })),
    {
      title: `Lulu: Land "${detail.name}" (${describeBranch(detail)})`,
      placeHolder: "How should the session's work arrive?",
      ignoreFocusOut: true,
    },
  );
  if (!pick) return;
  const into = await vscode.window.showInputBox({
    title: `Lulu: Land "${detail.name}" by ${pick.strategy}`,
    prompt: "Into which branch? (the branch the session started from)",
    value: detail.baseBranch ?? "",
    ignoreFocusOut: true,
    validateInput: (v) => (v.trim() ? undefined : "Name the branch to land into."),
  });
  if (into === undefined) return;
  let message: string | undefined;
  if (pick.strategy !== "rebase") {
    const suggested = pick.strategy === "squash" ? detail.name : `Merge branch '${detail.branch ?? ""}' into ${into.trim()}`;
    message = await vscode.window.showInputBox({
      title: `Lulu: Land "${detail.name}" into ${into.trim()}`,
      prompt:
        pick.strategy === "squash"
          ? "The commit message (left as it is, the session's prompt follows it as the body)"
          : "The merge commit's message",
      value: suggested,
      ignoreFocusOut: true,
    });
    if (message === undefined) return;
    if (pick.strategy === "squash" && message === detail.name) message = undefined;
  }
  try {
    const result = await lulu.request("lulu/land", { id: row.id, strategy: pick.strategy, into: into.trim(), message });
    const removeBoth = "Remove Worktree and Branch";
    const choice = await vscode.window.showInformationMessage(
      `Lulu: landed "${detail.name}" into ${result.into} (${result.strategy}, ${result.files} file${result.files === 1 ? "" : "s"}).`,
      removeBoth,
      "Keep",
    );
    if (choice === removeBoth) {
      await lulu.request("lulu/remove", { id: row.id, deleteBranch: true });
      lulu.tree.remove(row.id);
    }
  } catch (err) {
    await refused(lulu, row, detail, err, detail.repo);
  }
}

/** A refusal or conflict: the message, the files, and what the user can do next. */
async function refused(lulu: Lulu, row: SessionRow, detail: SessionDetail, err: unknown, root: string): Promise<void> {
  const code = errorCode(err);
  const files = filesOf(err);
  if (files.length === 0 || (code !== ErrorCodes.Conflicts && code !== ErrorCodes.WouldLoseWork)) throw err;
  const open = "Open Files";
  const syncWithBase = "Sync with Base";
  const actions = code === ErrorCodes.Conflicts ? [open, syncWithBase] : [open];
  const choice = await vscode.window.showErrorMessage(`Lulu: ${errorMessage(err)}`, ...actions);
  if (choice === open) await openFiles(root, files);
  if (choice === syncWithBase) await sync(lulu, row, true, detail);
}

function filesOf(err: unknown): string[] {
  const data = errorData(err);
  const files = data && typeof data === "object" ? (data as { files?: unknown }).files : undefined;
  return Array.isArray(files) ? files.filter((f): f is string => typeof f === "string") : [];
}

async function openFiles(root: string, files: string[]): Promise<void> {
  for (const file of files) {
    await vscode.window.showTextDocument(vscode.Uri.file(path.join(root, file)), { preview: false });
  }
}

async function sync(lulu: Lulu, row: SessionRow, agentResolves: boolean, known?: SessionDetail): Promise<void> {
  const detail = known ?? (await lulu.request("lulu/session", { id: row.id }));
  let result;
  try {
    result = await lulu.request("lulu/sync", { id: row.id, agentResolves });
  } catch (err) {
    await refused(lulu, row, detail, err, detail.worktreePath ?? detail.repo);
    return;
  }
  lulu.tree.upsert(result.session);
  if (result.result === "upToDate") {
    void vscode.window.showInformationMessage(`Lulu: "${detail.name}" is up to date with ${detail.baseBranch ?? "its base"}.`);
    return;
  }
  if (result.result === "synced") {
    void vscode.window.showInformationMessage(
      `Lulu: synced "${detail.name}" with ${detail.baseBranch ?? "its base"} (${result.files.length} files changed).`,
    );
    return;
  }
  const open = "Open Files";
  const next = agentResolves ? "the agent is resolving them" : "resolve them, then commit in the worktree";
  const choice = await vscode.window.showWarningMessage(
    `Lulu: syncing "${detail.name}" conflicts in ${result.files.join(", ")}; ${next}.`,
    open,
  );
  if (choice === open) await openFiles(detail.worktreePath ?? detail.repo, result.files);
}

async function push(lulu: Lulu, row: SessionRow, pullRequest: boolean): Promise<void> {
  let params: { id: string; pullRequest?: { title?: string; draft?: boolean } } = { id: row.id };
  if (pullRequest) {
    const detail = await lulu.request("lulu/session", { id: row.id });
    const title = await vscode.window.showInputBox({
      title: `Lulu: Pull request for "${detail.name}" into ${detail.baseBranch ?? "?"}`,
      prompt: "The pull request's title",
      value: detail.name,
      ignoreFocusOut: true,
    });
    if (title === undefined) return;
    params = { id: row.id, pullRequest: { title } };
  }
  const result = await lulu.request("lulu/push", params);
  if (result.url) {
    const openIt = "Open Pull Request";
    const choice = await vscode.window.showInformationMessage(`Lulu: opened ${result.url}`, openIt);
    if (choice === openIt) await vscode.env.openExternal(vscode.Uri.parse(result.url));
  } else {
    void vscode.window.showInformationMessage(`Lulu: pushed ${result.branch} to ${result.remote}.`);
  }
}
