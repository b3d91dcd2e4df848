// New Session: one input box. Type the prompt, press Enter, and the session spawns with
// the default agent on HEAD of the workspace's repository; the box's title says which,
// its buttons change the agent, the base and (with several folders) the repository.
// A spawn that fails never throws the prompt away: it says what is wrong in the user's
// words, offers the ways out, and comes back to the box with the prompt as typed (kept
// across windows too, for the way out that opens another folder).

import { execFile } from "node:child_process";
import * as vscode from "vscode";
import type { Lulu } from "./lulu";
import { type AgentsResult, type SessionRow, errorMessage } from "./protocol";
import { editPrompt } from "./promptEditor";
import { CLAUDE_INSTALL_URL, type SpawnWayOut, WAY_OUT_TITLES, spawnAdvice } from "./spawnAdvice";
import { spawnTrusting } from "./trust";

/** Where the prompt of a New Session that did not start waits for the next one. */
const DRAFT_KEY = "lulu.newSession.draft";

interface Draft {
  agent: string | undefined;
  defaultAgent: string;
  baseRef: string | undefined;
  folder: vscode.WorkspaceFolder | undefined;
  prompt: string;
}

type BoxOutcome = "spawn" | "agent" | "base" | "repo" | "multiline" | "cancel";

function git(cwd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("git", args, { cwd, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err) reject(new Error(`git ${args.join(" ")} in ${cwd} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

const agentButton: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon("hubot"), tooltip: "Choose the agent" };
const baseButton: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon("git-branch"), tooltip: "Choose the base branch" };
const repoButton: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon("repo"), tooltip: "Choose the repository" };
const multilineButton: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon("edit"), tooltip: "Write a multi-line prompt" };

export async function newSession(lulu: Lulu): Promise<void> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  const activeFolder = vscode.window.activeTextEditor
    ? vscode.workspace.getWorkspaceFolder(vscode.window.activeTextEditor.document.uri)
    : undefined;
  const draft: Draft = {
    agent: undefined,
    defaultAgent: "",
    baseRef: undefined,
    folder: activeFolder ?? folders[0],
    prompt: lulu.extension.globalState.get<string>(DRAFT_KEY, ""),
  };
  const agents = lulu.request("lulu/agents", {}).then(
    (r) => r,
    (err) => {
      lulu.output.warn(`lulu/agents: ${errorMessage(err)}`);
      return undefined;
    },
  );
  let next: BoxOutcome | undefined;
  for (;;) {
    const outcome = next ?? (await promptBox(draft, folders.length, agents));
    next = undefined;
    await lulu.extension.globalState.update(DRAFT_KEY, draft.prompt || undefined);
    if (outcome === "cancel") return;
    if (outcome === "agent") await pickAgent(draft, await agents);
    else if (outcome === "base") await pickBase(lulu, draft);
    else if (outcome === "multiline") {
      const edited = await editPrompt(boxTitle(draft, folders.length), draft.prompt, (p) => {
        draft.prompt = p;
      });
      draft.prompt = edited.prompt;
      if (edited.action === "start") next = "spawn";
    }
    else if (outcome === "repo") {
      const picked = await vscode.window.showWorkspaceFolderPick({ placeHolder: "Repository for the new session" });
      if (picked) draft.folder = picked;
    } else {
      const spawned = await spawn(lulu, draft, folders.length > 1);
      if (spawned === true) return;
      // A way out that leads back here: the picker it names, then the box again.
      if (spawned === "pickAgent") next = "agent";
      if (spawned === "pickBase") next = "base";
      if (spawned === "leave") return;
    }
  }
}

function boxTitle(draft: Draft, folderCount: number): string {
  const agent = draft.agent ?? (draft.defaultAgent || "default agent");
  const repo = folderCount > 1 && draft.folder ? ` · ${draft.folder.name}` : "";
  return `Lulu: New Session — ${agent} on ${draft.baseRef ?? "HEAD"}${repo}`;
}

/** The prompt box; resolves with what the user did. */
function promptBox(
  draft: Draft,
  folderCount: number,
  agents: Promise<AgentsResult | undefined>,
): Promise<BoxOutcome> {
  const input = vscode.window.createInputBox();
  const retitle = () => {
    input.title = boxTitle(draft, folderCount);
  };
  input.placeholder = "What should the agent do?";
  input.prompt = "Enter starts the session; the buttons change the agent and the base branch.";
  // The box is one line: a prompt written in the multi-line editor shows there in full
  // (and is kept as typed) only when it has one line.
  const multiline = draft.prompt.includes("\n");
  input.value = multiline ? "" : draft.prompt;
  if (multiline) input.placeholder = `(a ${draft.prompt.split("\n").length}-line prompt: the pencil button edits it; typing here replaces it)`;
  input.ignoreFocusOut = true;
  input.buttons = folderCount > 1 ? [multilineButton, agentButton, baseButton, repoButton] : [multilineButton, agentButton, baseButton];
  retitle();
  void agents.then((r) => {
    if (r) {
      draft.defaultAgent = r.defaultAgent;
      retitle();
    }
  });
  return new Promise<BoxOutcome>((resolve) => {
    let done = false;
    const finish = (v: BoxOutcome) => {
      if (done) return;
      done = true;
      if (!multiline || input.value) draft.prompt = input.value;
      resolve(v);
      input.hide();
    };
    input.onDidChangeValue(() => (input.validationMessage = undefined));
    input.onDidAccept(() => {
      if (!input.value.trim() && !(multiline && draft.prompt.trim())) {
        input.validationMessage = "Type what the agent should do.";
        return;
      }
      finish("spawn");
    });
    input.onDidTriggerButton((b) =>
      finish(b === agentButton ? "agent" : b === baseButton ? "base" : b === multilineButton ? "multiline" : "repo"),
    );
    input.onDidHide(() => {
      finish("cancel");
      input.dispose();
    });
    input.show();
  });
}

async function pickAgent(draft: Draft, r: AgentsResult | undefined): Promise<void> {
  const picked = await vscode.window.showQuickPick(
    (r?.agents ?? []).map((a) => ({
      label: a.name,
      description: `${a.name === r?.defaultAgent ? "default · " : ""}${a.format}${a.available ? "" : " · not found on PATH"}`,
      detail: a.command.join(" "),
    })),
    { title: "Lulu: Agent for the new session", placeHolder: "Pick an agent" },
  );
  if (picked) draft.agent = picked.label;
}

async function pickBase(lulu: Lulu, draft: Draft): Promise<void> {
  let branches: string[] = [];
  if (draft.folder) {
    try {
      branches = (await git(draft.folder.uri.fsPath, ["for-each-ref", "--format=%(refname:short)", "refs/heads"]))
        .split("\n")
        .filter(Boolean);
    } catch (err) {
      lulu.output.warn(errorMessage(err));
    }
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
  if (base) draft.baseRef = base === "HEAD" ? undefined : base;
}

/**
 * Spawns the draft. True when the session started; otherwise what the user chose after
 * reading why it did not: back to a picker, back to the box (`"again"`), or away (`"leave"`,
 * the draft kept for the next New Session).
 */
async function spawn(lulu: Lulu, draft: Draft, several: boolean): Promise<true | "pickAgent" | "pickBase" | "again" | "leave"> {
  let row: SessionRow;
  try {
    // The repository's setup command, when not trusted yet, is shown and asked about first.
    const started = await spawnTrusting(lulu, {
      prompt: draft.prompt,
      ...(draft.agent ? { agent: draft.agent } : {}),
      ...(draft.baseRef ? { baseRef: draft.baseRef } : {}),
      ...(several && draft.folder ? { repo: draft.folder.uri.fsPath } : {}),
    });
    if (!started) return "leave";
    row = started;
  } catch (err) {
    const advice = spawnAdvice(err, draft.agent ?? (draft.defaultAgent || "claude"));
    lulu.output.warn(`New Session did not start: ${advice.detail}`);
    type Item = vscode.MessageItem & { wayOut?: SpawnWayOut };
    const items: Item[] = advice.wayOut.map((w) => ({ title: WAY_OUT_TITLES[w], wayOut: w }));
    const back: Item = { title: "Back to the Prompt", isCloseAffordance: true };
    const choice = await vscode.window.showErrorMessage<Item>(
      "Lulu could not start the session",
      { modal: true, detail: `${advice.message}\n\nYour prompt is kept.` },
      ...items,
      back,
    );
    return takeWayOut(choice?.wayOut);
  }
  await lulu.extension.globalState.update(DRAFT_KEY, undefined);
  lulu.tree.upsert(row);
  try {
    await lulu.treeView.reveal(row.id, { select: true, focus: false });
  } catch {
    // The view may be hidden; the row is there when it shows.
  }
  return true;
}

async function takeWayOut(wayOut: SpawnWayOut | undefined): Promise<"pickAgent" | "pickBase" | "again" | "leave"> {
  switch (wayOut) {
    case "pickAgent":
    case "pickBase":
      return wayOut;
    case "openFolder":
      await vscode.commands.executeCommand("workbench.action.files.openFolder");
      return "leave";
    case "openSourceControl":
      await vscode.commands.executeCommand("workbench.view.scm");
      return "leave";
    case "installClaude":
      await vscode.env.openExternal(vscode.Uri.parse(CLAUDE_INSTALL_URL));
      return "again";
    case "editAgents":
      await vscode.commands.executeCommand("workbench.action.openSettings", "lulu.agents");
      return "leave";
    default:
      return "again";
  }
}
