// The multi-line prompt editor of New Session: a small page with a text area, as the
// Source Control input box is for commit messages. The prompt is kept exactly as typed
// (newlines included); Ctrl+Enter (Cmd+Enter) starts the session, Escape goes back.

import { randomBytes } from "node:crypto";
import * as vscode from "vscode";
import { escapeHtml } from "./transcript";

export type PromptEditorResult = { action: "start"; prompt: string } | { action: "back"; prompt: string };

const STYLE = `
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 12px 16px; }
h2 { font-size: 1.1em; margin: 0 0 4px; }
p.hint { color: var(--vscode-descriptionForeground); margin: 0 0 8px; }
textarea { width: 100%; box-sizing: border-box; min-height: 14em; resize: vertical; font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size);
  color: var(--vscode-input-foreground); background: var(--vscode-input-background); border: 1px solid var(--vscode-input-border, var(--vscode-panel-border)); padding: 6px; }
textarea:focus { outline: 1px solid var(--vscode-focusBorder); }
.buttons { margin-top: 8px; display: flex; gap: 8px; }
button { font-family: inherit; font-size: inherit; padding: 4px 12px; border: 1px solid var(--vscode-button-border, transparent); border-radius: 2px; cursor: pointer; }
button.primary { color: var(--vscode-button-foreground); background: var(--vscode-button-background); }
button.secondary { color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground); }
#error { color: var(--vscode-foreground); border-left: 3px solid var(--vscode-inputValidation-errorBorder); padding-left: 6px; margin-top: 6px; }
#error:empty { display: none; }
`;

const SCRIPT = `
(function () {
  const vscode = acquireVsCodeApi();
  const text = document.getElementById('prompt');
  const error = document.getElementById('error');
  function start() {
    if (!text.value.trim()) { error.textContent = 'Type what the agent should do.'; return; }
    vscode.postMessage({ type: 'start', prompt: text.value });
  }
  document.getElementById('start').addEventListener('click', start);
  document.getElementById('back').addEventListener('click', function () { vscode.postMessage({ type: 'back', prompt: text.value }); });
  text.addEventListener('input', function () { error.textContent = ''; vscode.postMessage({ type: 'draft', prompt: text.value }); });
  text.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); start(); }
    if (e.key === 'Escape') { vscode.postMessage({ type: 'back', prompt: text.value }); }
  });
  text.focus();
  text.setSelectionRange(text.value.length, text.value.length);
})();
`;

export function promptEditorHtml(opts: { nonce: string; cspSource: string; title: string; prompt: string }): string {
  const csp = `default-src 'none'; style-src ${opts.cspSource} 'nonce-${opts.nonce}'; script-src 'nonce-${opts.nonce}'`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8"><meta http-equiv="Content-Security-Policy" content="${csp}">
<style nonce="${opts.nonce}">${STYLE}</style></head>
<body>
<h2>${escapeHtml(opts.title)}</h2>
<p class="hint">What should the agent do? Write as much as you like; the prompt is kept exactly as typed. Ctrl+Enter starts the session.</p>
<textarea id="prompt" aria-label="Prompt for the new session">${escapeHtml(opts.prompt)}</textarea>
<div id="error" role="alert"></div>
<div class="buttons"><button id="start" class="primary">Start Session</button><button id="back" class="secondary">Back to the Prompt Box</button></div>
<script nonce="${opts.nonce}">${SCRIPT}</script>
</body></html>`;
}

/** Opens the editor with `prompt`; resolves when the user starts or goes back (closing the tab is back). */
export function editPrompt(title: string, prompt: string, onDraft: (prompt: string) => void): Promise<PromptEditorResult> {
  const panel = vscode.window.createWebviewPanel(
    "lulu.prompt",
    "Lulu: New Session Prompt",
    { viewColumn: vscode.ViewColumn.Active, preserveFocus: false },
    { enableScripts: true, localResourceRoots: [] },
  );
  const nonce = randomBytes(16).toString("base64");
  panel.webview.html = promptEditorHtml({ nonce, cspSource: panel.webview.cspSource, title, prompt });
  return new Promise((resolve) => {
    let latest = prompt;
    let done = false;
    const finish = (r: PromptEditorResult) => {
      if (done) return;
      done = true;
      resolve(r);
      panel.dispose();
    };
    panel.webview.onDidReceiveMessage((msg: { type?: string; prompt?: unknown }) => {
      if (typeof msg?.prompt !== "string") return;
      latest = msg.prompt;
      if (msg.type === "draft") onDraft(latest);
      if (msg.type === "start") finish({ action: "start", prompt: latest });
      if (msg.type === "back") finish({ action: "back", prompt: latest });
    });
    panel.onDidDispose(() => finish({ action: "back", prompt: latest }));
  });
}
