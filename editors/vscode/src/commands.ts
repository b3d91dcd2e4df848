// The commands of the palette, the row context menus and the inline buttons.
// A command run from a row gets the row's id; from the palette it asks which session,
// offering the selected row first.

import { execFile } from "node:child_process";
import * as vscode from "vscode";
import { BASE_SCHEME, BaseContentProvider, EMPTY_SCHEME, EmptyContentProvider, showChanges } from "./diff";
import type { Lulu } from "./lulu";
import { ErrorCodes, type SessionRow, type Status, errorCode, errorMessage } from "./protocol";
import { STATUS_LOOK, renderRow } from "./rows";
import { spawnTrusting } from "./trust";

/** Two clicks on the same row closer than this are a double click (see README). */
const DOUBLE_CLICK_MS = 500;

export function registerCommands(lulu: Lulu): void {
  const reg = (id: string, fn: (...args: unknown[]) => unknown) =>
    lulu.track(
      vscode.commands.registerCommand(id, async (...args: unknown[]) => {
        try {
          await fn(...args);
        } catch (err) {
          void vscode.window.showErrorMessage(`Lulu: ${errorMessage(err)}`);
        }
      }),
    );

  lulu.track(vscode.workspace.registerTextDocumentContentProvider(BASE_SCHEME, new BaseContentProvider()));
  lulu.track(vscode.workspace.registerTextDocumentContentProvider(EMPTY_SCHEME, new EmptyContentProvider()));

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

  reg("lulu.openSession", async (arg) => {
    const row = await sessionArg(lulu, arg, undefined, "Open which session?");
    if (row) lulu.views.open(row.id);
  });

  reg("lulu.newSession", () => newSession(lulu));

  reg("lulu.cancelSession", async (arg) => {
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

  reg("lulu.removeSession", async (arg) => {
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

  reg("lulu.refresh", async () => {
    if (!lulu.isRunning) {
      await lulu.restart();
      return;
    }
    await lulu.tree.reload();
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
  if (typeof arg === "string") {
    const row = lulu.tree.get(arg);
    if (!row) throw new Error(`There is no session with id ${arg} any more.`);
    return row;
  }
  const fits = (r: SessionRow) => !statuses || statuses.includes(r.status);
  // Enter in the tree (the keybinding passes { selected: true }): the selected row.
  if (typeof arg === "object" && arg !== null && (arg as { selected?: unknown }).selected === true) {
    const selected = lulu.treeView.selection.length === 1 ? lulu.tree.get(lulu.treeView.selection[0]) : undefined;
    if (selected && fits(selected)) return selected;
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
  const selectedId = lulu.treeView.selection[0];
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

async function removeSession(lulu: Lulu, row: SessionRow): Promise<void> {
  const detail = await lulu.request("lulu/session", { id: row.id });
  const where = detail.worktreePath ? `its worktree ${detail.worktreePath}` : "its worktree";
  const branch = detail.branch ? `the branch ${detail.branch}` : "its branch";
  const remove = "Remove";
  const removeAndBranch = "Remove and Delete Branch";
  const choice = await vscode.window.showWarningMessage(
    `Remove the session "${detail.name}"?`,
    {
      modal: true,
      detail:
        `This deletes ${where} and the session's transcript. ` +
        `${branch[0].toUpperCase()}${branch.slice(1)} and its commits are kept unless you delete it too. ` +
        "A running session, uncommitted changes or untracked files stop the removal and ask again.",
    },
    remove,
    removeAndBranch,
  );
  if (!choice) return;
  const deleteBranch = choice === removeAndBranch;
  try {
    await lulu.request("lulu/remove", { id: row.id, deleteBranch });
  } catch (err) {
    const code = errorCode(err);
    if (code !== ErrorCodes.SessionActive && code !== ErrorCodes.UnsavedWork) throw err;
    const lost: string[] = [];
    if (code === ErrorCodes.SessionActive) lost.push("the agent is cancelled mid-run and its work so far is deleted with the worktree");
    if (code === ErrorCodes.UnsavedWork) {
      lost.push(`the uncommitted changes and untracked files in ${detail.worktreePath ?? "the worktree"} are lost for good`);
      if (deleteBranch) lost.push(`commits on ${detail.branch ?? "the branch"} that are not in the base branch are lost`);
    }
    const force = "Force Remove";
    const again = await vscode.window.showWarningMessage(
      `Force the removal of "${detail.name}"?`,
      { modal: true, detail: `${errorMessage(err)}\n\nIf you force it, ${lost.join("; ")}.` },
      force,
    );
    if (again !== force) return;
    await lulu.request("lulu/remove", { id: row.id, force: true, deleteBranch });
  }
  lulu.tree.remove(row.id);
}

// ---- New Session -----------------------------------------------------------------

function git(cwd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("git", args, { cwd, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err) reject(new Error(`git ${args.join(" ")} in ${cwd} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/**
 * One input box: type the prompt, press Enter, and the session spawns with the default
 * agent on HEAD of the workspace's repository. Its title says which; its buttons change
 * the agent, the base and (with several folders) the repository first.
 */
async function newSession(lulu: Lulu): Promise<void> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.length === 0) throw new Error("Open a folder inside a git repository first: sessions run in its worktrees.");
  const activeFolder = vscode.window.activeTextEditor
    ? vscode.workspace.getWorkspaceFolder(vscode.window.activeTextEditor.document.uri)
    : undefined;
  const state = {
    agent: undefined as string | undefined,
    defaultAgent: "",
    baseRef: undefined as string | undefined,
    folder: activeFolder ?? folders[0],
    prompt: "",
  };
  const agentsPromise = lulu.request("lulu/agents", {}).then(
    (r) => r,
    (err) => {
      lulu.output.warn(`lulu/agents: ${errorMessage(err)}`);
      return undefined;
    },
  );

  const agentButton: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon("hubot"), tooltip: "Choose the agent" };
  const baseButton: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon("git-branch"), tooltip: "Choose the base branch" };
  const repoButton: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon("repo"), tooltip: "Choose the repository" };

  for (;;) {
    const input = vscode.window.createInputBox();
    const retitle = () => {
      const agent = state.agent ?? (state.defaultAgent || "default agent");
      const repo = folders.length > 1 ? ` · ${state.folder.name}` : "";
      input.title = `Lulu: New Session — ${agent} on ${state.baseRef ?? "HEAD"}${repo}`;
    };
    input.placeholder = "What should the agent do?";
    input.prompt = "Enter starts the session; the buttons change the agent and the base branch.";
    input.value = state.prompt;
    input.ignoreFocusOut = true;
    input.buttons = folders.length > 1 ? [agentButton, baseButton, repoButton] : [agentButton, baseButton];
    retitle();
    void agentsPromise.then((r) => {
      if (r) {
        state.defaultAgent = r.defaultAgent;
        retitle();
      }
    });
    const outcome = await new Promise<"spawn" | "agent" | "base" | "repo" | "cancel">((resolve) => {
      let done = false;
      const finish = (v: "spawn" | "agent" | "base" | "repo" | "cancel") => {
        if (done) return;
        done = true;
        state.prompt = input.value;
        resolve(v);
        input.hide();
      };
      input.onDidChangeValue(() => (input.validationMessage = undefined));
      input.onDidAccept(() => {
        if (!input.value.trim()) {
          input.validationMessage = "Type what the agent should do.";
          return;
        }
        finish("spawn");
      });
      input.onDidTriggerButton((b) => finish(b === agentButton ? "agent" : b === baseButton ? "base" : "repo"));
      input.onDidHide(() => {
        finish("cancel");
        input.dispose();
      });
      input.show();
    });
    if (outcome === "cancel") return;
    if (outcome === "spawn") break;
    if (outcome === "agent") {
      const r = await agentsPromise;
      const names = r?.agents ?? [];
      const picked = await vscode.window.showQuickPick(
        names.map((a) => ({
          label: a.name,
          description: `${a.name === r?.defaultAgent ? "default · " : ""}${a.format}${a.available ? "" : " · not found on PATH"}`,
          detail: a.command.join(" "),
        })),
        { title: "Lulu: Agent for the new session", placeHolder: "Pick an agent" },
      );
      if (picked) state.agent = picked.label;
    } else if (outcome === "base") {
      let branches: string[] = [];
      try {
        branches = (await git(state.folder.uri.fsPath, ["for-each-ref", "--format=%(refname:short)", "refs/heads"]))
          .split("\n")
          .filter(Boolean);
      } catch (err) {
        lulu.output.warn(errorMessage(err));
      }
      const pick = vscode.window.createQuickPick();
      pick.title = "Lulu: Base of the new session";
      pick.placeholder = "A branch, or type any revision (HEAD~2, a commit hash)";
      pick.items = [{ label: "HEAD", description: "the checked-out commit" }, ...branches.map((b) => ({ label: b }))];
      const base = await new Promise<string | undefined>((resolve) => {
        let value: string | undefined;
        pick.onDidAccept(() => {
          value = pick.selectedItems[0]?.label ?? (pick.value.trim() || undefined);
          pick.hide();
        });
        pick.onDidHide(() => {
          pick.dispose();
          resolve(value);
        });
        pick.show();
      });
      if (base) state.baseRef = base === "HEAD" ? undefined : base;
    } else if (outcome === "repo") {
      const picked = await vscode.window.showWorkspaceFolderPick({ placeHolder: "Repository for the new session" });
      if (picked) state.folder = picked;
    }
  }

  const row = await spawnTrusting(lulu, {
    prompt: state.prompt,
    ...(state.agent ? { agent: state.agent } : {}),
    ...(state.baseRef ? { baseRef: state.baseRef } : {}),
    ...(folders.length > 1 ? { repo: state.folder.uri.fsPath } : {}),
  });
  if (!row) return;
  lulu.tree.upsert(row);
  try {
    await lulu.treeView.reveal(row.id, { select: true, focus: false });
  } catch {
    // The view may be hidden; the row is there when it shows.
  }
}
