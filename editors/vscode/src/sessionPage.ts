// The session view's HTML: the details table and the page shell with its small script
// (appends transcript batches, follows new output while the reader is at the bottom).
// Pure: no `vscode` import, checked by node's test runner.

import type { SessionDetail } from "./protocol";
import { STATUS_LOOK, oneLine } from "./rows";
import { escapeHtml } from "./transcript";

const OUTCOME_WORDS: Readonly<Record<string, string>> = {
  exited: "exited",
  signaled: "killed by a signal",
  cancelled: "cancelled",
  spawn_failed: "the agent could not be started",
  worktree_failed: "the worktree could not be made",
  agent_error: "the agent reported an error",
  interrupted: "interrupted (its runner died)",
  setup_failed: "the repository's setup command failed",
};

export function describeOutcome(detail: SessionDetail): string {
  if (detail.outcome === null) return detail.status === "completed" || detail.status === "failed" ? "unknown" : "—";
  const word = OUTCOME_WORDS[detail.outcome] ?? detail.outcome;
  return word === detail.outcome ? word : `${word} (${detail.outcome})`;
}

export function describeExit(detail: SessionDetail): string {
  if (detail.signal !== null) return `signal ${detail.signal}`;
  if (detail.exitCode !== null) return `exit code ${detail.exitCode}`;
  return "—";
}

export function describeUsage(detail: SessionDetail): string {
  const parts: string[] = [];
  if (detail.costUsd !== null) parts.push(`$${detail.costUsd.toFixed(detail.costUsd < 1 ? 4 : 2)}`);
  if (detail.inputTokens !== null || detail.outputTokens !== null) {
    parts.push(`${detail.inputTokens ?? 0} in / ${detail.outputTokens ?? 0} out tokens`);
  }
  return parts.length ? parts.join(" · ") : "—";
}

function row(label: string, valueHtml: string, key: string): string {
  return `<tr data-key="${key}"><th>${escapeHtml(label)}</th><td>${valueHtml}</td></tr>`;
}

function code(text: string | null): string {
  return text === null ? "—" : `<code>${escapeHtml(text)}</code>`;
}

/** The details table of a session (everything the row does not show). */
export function renderDetailsHtml(detail: SessionDetail): string {
  const look = STATUS_LOOK[detail.status];
  const reason =
    detail.status === "failed" && detail.failureReason
      ? ` <span class="reason">${escapeHtml(oneLine(detail.failureReason))}</span>`
      : "";
  const status = `<span class="status status-${escapeHtml(detail.status)}">${escapeHtml(look?.word ?? detail.status)}</span>${reason}`;
  const rows = [
    row("Status", status, "status"),
    row("Agent", `${escapeHtml(detail.agent)} <span class="dim">${escapeHtml(detail.command.join(" "))}</span>`, "agent"),
    row("Branch", code(detail.branch), "branch"),
    row(
      "Worktree",
      detail.worktreeGone ? `<span class="dim">removed by gc (continue re-creates it from the branch)</span>` : code(detail.worktreePath),
      "worktree",
    ),
    ...(detail.ports?.length ? [row("Ports", code(detail.ports.join(", ")), "ports")] : []),
    row("Base commit", code(detail.baseCommit), "base"),
    row("Outcome", escapeHtml(describeOutcome(detail)), "outcome"),
    row("Exit", escapeHtml(describeExit(detail)), "exit"),
    row("Cost and tokens", escapeHtml(describeUsage(detail)), "usage"),
    row("Started", escapeHtml(detail.startedAt ?? "—"), "started"),
    row("Ended", escapeHtml(detail.endedAt ?? "—"), "ended"),
    row("Last activity", escapeHtml(detail.lastActivityAt), "activity"),
    row("Repository", code(detail.repo), "repo"),
    row("Id", code(detail.id), "id"),
  ];
  const failure = detail.failureDetail
    ? `<section class="failure"><h3>Failure</h3><pre>${escapeHtml(detail.failureDetail)}</pre></section>`
    : "";
  return [
    `<h2 class="name">${escapeHtml(detail.name)}</h2>`,
    `<table class="details">${rows.join("")}</table>`,
    `<details class="prompt" open><summary>Prompt</summary><pre>${escapeHtml(detail.prompt)}</pre></details>`,
    failure,
  ].join("");
}

/** Messages from the extension to the page. */
export type PageMessage =
  | { type: "details"; html: string }
  | { type: "append"; html: string }
  | { type: "reset" }
  | { type: "notice"; text: string };

export interface PageOptions {
  title: string;
  nonce: string;
  cspSource: string;
}

const STYLE = `
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 0 16px 24px; }
h2.name { margin: 12px 0 8px; font-size: 1.3em; }
table.details { border-collapse: collapse; margin-bottom: 8px; }
table.details th { text-align: left; font-weight: normal; color: var(--vscode-descriptionForeground); padding: 1px 16px 1px 0; vertical-align: top; white-space: nowrap; }
table.details td { padding: 1px 0; }
code, pre { font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size); }
.dim, .age { color: var(--vscode-descriptionForeground); }
.status { font-weight: 600; }
.status-starting { color: var(--vscode-charts-yellow); }
.status-running { color: var(--vscode-charts-blue); }
.status-completed { color: var(--vscode-testing-iconPassed); }
.status-failed, .reason { color: var(--vscode-testing-iconFailed); }
details.prompt pre, section.failure pre { white-space: pre-wrap; margin: 4px 0 8px; padding: 6px 8px; background: var(--vscode-textCodeBlock-background); }
section.failure h3 { margin: 8px 0 2px; font-size: 1em; color: var(--vscode-testing-iconFailed); }
h3.transcript-head { margin: 16px 0 6px; font-size: 1em; border-bottom: 1px solid var(--vscode-panel-border); padding-bottom: 4px; }
#transcript .ev { margin: 6px 0; padding: 4px 8px; border-left: 3px solid transparent; }
#transcript .ev-title { font-size: 0.85em; color: var(--vscode-descriptionForeground); margin-bottom: 2px; }
#transcript pre.ev-body { white-space: pre-wrap; word-break: break-word; margin: 0; }
#transcript .ev-assistant { border-left-color: var(--vscode-charts-blue); }
#transcript .ev-assistant pre.ev-body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); }
#transcript .ev-thinking { color: var(--vscode-descriptionForeground); font-style: italic; }
#transcript .ev-tool-call { border-left-color: var(--vscode-charts-purple); background: var(--vscode-textCodeBlock-background); }
#transcript .ev-tool-result { border-left-color: var(--vscode-charts-green); }
#transcript .ev-tool-result pre.ev-body { color: var(--vscode-descriptionForeground); }
#transcript .ev-result { border-left-color: var(--vscode-testing-iconPassed); }
#transcript .ev-error { border-left-color: var(--vscode-testing-iconFailed); color: var(--vscode-errorForeground); }
#transcript .ev-stderr { border-left-color: var(--vscode-charts-orange); background: var(--vscode-inputValidation-warningBackground, transparent); }
#transcript .ev-stderr .ev-title { color: var(--vscode-charts-orange); }
#transcript .ev-lifecycle, #transcript .ev-meta { color: var(--vscode-descriptionForeground); padding-top: 0; padding-bottom: 0; }
#transcript .ev-lifecycle pre.ev-body::before { content: "— "; }
#transcript .ev-lifecycle .ev-title { display: none; }
#notice { color: var(--vscode-descriptionForeground); font-style: italic; }
#follow { position: fixed; right: 16px; bottom: 12px; display: none; }
`;

/** The session view keeps this many transcript blocks; older ones leave the page. */
export const MAX_BLOCKS = 5000;

const SCRIPT = `
(function () {
  const vscode = acquireVsCodeApi();
  const details = document.getElementById('details');
  const transcript = document.getElementById('transcript');
  const notice = document.getElementById('notice');
  const follow = document.getElementById('follow');
  const cutNote = document.getElementById('cut');
  const MAX_BLOCKS = ${MAX_BLOCKS};
  let cut = 0;
  const root = document.scrollingElement || document.documentElement;
  function atBottom() { return root.scrollTop + window.innerHeight >= root.scrollHeight - 48; }
  let following = true;
  window.addEventListener('scroll', function () {
    following = atBottom();
    follow.style.display = following ? 'none' : 'block';
  });
  follow.addEventListener('click', function () { following = true; root.scrollTop = root.scrollHeight; follow.style.display = 'none'; });
  window.addEventListener('message', function (event) {
    const msg = event.data;
    if (msg.type === 'details') { details.innerHTML = msg.html; }
    else if (msg.type === 'reset') { transcript.innerHTML = ''; }
    else if (msg.type === 'notice') { notice.textContent = msg.text; }
    else if (msg.type === 'append') {
      const keep = following;
      transcript.insertAdjacentHTML('beforeend', msg.html);
      while (transcript.childElementCount > MAX_BLOCKS) { transcript.firstElementChild.remove(); cut++; }
      if (cut) { cutNote.textContent = cut + ' earlier transcript blocks are not shown here (lulu logs shows them all).'; }
      if (keep) { root.scrollTop = root.scrollHeight; }
    }
  });
  vscode.postMessage({ type: 'ready' });
})();
`;

/** The page shell; content arrives by messages. */
export function pageHtml(opts: PageOptions): string {
  const csp = [
    "default-src 'none'",
    `style-src ${opts.cspSource} 'nonce-${opts.nonce}'`,
    `script-src 'nonce-${opts.nonce}'`,
  ].join("; ");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(opts.title)}</title>
<style nonce="${opts.nonce}">${STYLE}</style>
</head>
<body>
<div id="details"><p class="dim">Loading…</p></div>
<h3 class="transcript-head">Transcript</h3>
<div id="cut" class="dim"></div>
<div id="transcript" role="log" aria-live="polite"></div>
<div id="notice"></div>
<button id="follow" title="Follow new output">↓ Follow</button>
<script nonce="${opts.nonce}">${SCRIPT}</script>
</body>
</html>`;
}
