// Spawning when the repository's setup command is not trusted yet: the server answers -32021
// with the command; show it exactly, in a modal, and only on "Trust and Start" trust it
// (`lulu/trust`) and spawn again. Never in an untrusted workspace.

import * as vscode from "vscode";
import type { Lulu } from "./lulu";
import { ErrorCodes, type SessionRow, type SpawnParams, type UntrustedSetupData as UntrustedSetup, errorCode } from "./protocol";

export const TRUST_AND_START = "Trust and Start";

/** The modal's text: the repository and the exact command. Pure, for the unit test. */
export function trustPrompt(data: UntrustedSetup): { message: string; detail: string } {
  return {
    message: "Trust this repository's setup command?",
    detail: `${data.repo} runs this command with sh -c in each new worktree, before the agent:\n\n${data.setup}\n\nIt runs only if you trust this exact command; a changed command asks again.`,
  };
}

/** `lulu/spawn`, asking to trust the setup command when the server needs it. */
export async function spawnTrusting(lulu: Lulu, params: SpawnParams): Promise<SessionRow | undefined> {
  try {
    return await lulu.request("lulu/spawn", params);
  } catch (err) {
    if (errorCode(err) !== ErrorCodes.SetupNotTrusted) throw err;
    const data = (err as { data?: UntrustedSetup }).data;
    if (!data || typeof data.setup !== "string") throw err;
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showErrorMessage("Lulu: this workspace is not trusted, so its setup command cannot be trusted either.");
      return undefined;
    }
    const { message, detail } = trustPrompt(data);
    const choice = await vscode.window.showWarningMessage(message, { modal: true, detail }, TRUST_AND_START);
    if (choice !== TRUST_AND_START) return undefined;
    await lulu.request("lulu/trust", { repo: data.repo, setupHash: data.setupHash });
    return lulu.request("lulu/spawn", params);
  }
}
