// Entry point: builds the context object, registers the commands, starts the server.
// Everything else lives in lulu.ts (the context), sessionsTree.ts, sessionView.ts and
// commands.ts.

import type * as vscode from "vscode";
import { registerCommands } from "./commands";
import { Lulu } from "./lulu";

let lulu: Lulu | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  lulu = new Lulu(context);
  context.subscriptions.push(lulu);
  registerCommands(lulu);
  await lulu.start();
}

export async function deactivate(): Promise<void> {
  await lulu?.stop();
  lulu = undefined;
}
