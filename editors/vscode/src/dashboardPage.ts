// The Dashboard's page: the list rules of the product as they were written for a dashboard
// (two-line rows, a pulsing dot for Running, a green Completed badge and a red Failed badge
// that never move, the age right-aligned, internal scrolling, one click selects and a double
// click or Enter opens), in the theme's colours, as a listbox a screen reader reads like the
// tree. Pure: no `vscode` import; dashboard.ts hosts it.

import type { SessionRow } from "./protocol";
import { STATUS_LOOK, oneLine, queuePlaces, renderRow } from "./rows";
import { escapeHtml } from "./transcript";

/** One row as the page draws it. */
export interface DashboardRow {
  id: string;
  name: string;
  status: string;
  word: string;
  /** The failure reason (failed rows only). */
  reason: string;
  age: string;
  /** What a screen reader says: the tree's words. */
  ariaLabel: string;
  /** The hover text, plain. */
  title: string;
  /** How many permission requests wait for the user (0: none). */
  waiting: number;
}

/** The rows as the page draws them; `waiting` counts each session's pending requests. */
export function dashboardRows(rows: readonly SessionRow[], nowMs: number, waiting: (id: string) => number = () => 0): DashboardRow[] {
  const places = queuePlaces(rows);
  return rows.map((row) => {
    const pending = row.status === "running" ? waiting(row.id) : 0;
    const view = renderRow(row, nowMs, { queuePlace: places.get(row.id), waiting: pending });
    const word = STATUS_LOOK[row.status]?.word ?? String(row.status);
    const reason = row.status === "failed" ? oneLine(row.failureReason ?? "failed") : "";
    const plainTooltip = view.tooltip.replace(/\\(.)/g, "$1").replace(/\*\*|`/g, "").replace(/ {2}\n/g, "\n");
    return { id: row.id, name: row.name, status: row.status, word, reason, age: view.age, ariaLabel: view.ariaLabel, title: plainTooltip, waiting: pending };
  });
}

/** Messages from the extension to the page. */
export type DashboardMessage =
  | { type: "rows"; rows: DashboardRow[]; empty: string }
  | { type: "ages"; ages: Record<string, string> }
  | { type: "focus" };

/** Messages from the page. */
export type DashboardRequest =
  | { type: "ready" }
  | { type: "open"; id: string }
  | { type: "select"; id: string }
  | { type: "command"; command: string; id: string };

export const DASHBOARD_COMMANDS: readonly string[] = [
  "lulu.cancelSession",
  "lulu.continueSession",
  "lulu.showChanges",
  "lulu.removeSession",
  "lulu.newSession",
  "lulu.refresh",
];

const STYLE = `
html, body { height: 100%; margin: 0; padding: 0; }
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); background: transparent; }
#list { height: 100%; overflow-y: auto; outline: none; }
#list:focus-visible .row.selected { outline: 1px solid var(--vscode-focusBorder); outline-offset: -1px; }
.row { padding: 4px 10px 5px 12px; cursor: default; border-bottom: 1px solid var(--vscode-sideBarSectionHeader-border, transparent); }
.row:hover { background: var(--vscode-list-hoverBackground); }
.row.selected { background: var(--vscode-list-inactiveSelectionBackground); color: var(--vscode-list-inactiveSelectionForeground, var(--vscode-foreground)); }
#list:focus .row.selected { background: var(--vscode-list-activeSelectionBackground); color: var(--vscode-list-activeSelectionForeground, var(--vscode-foreground)); }
.l1, .l2 { display: flex; align-items: center; gap: 6px; min-width: 0; }
.name { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-weight: 600; }
.age { flex: none; margin-left: auto; font-variant-numeric: tabular-nums; color: inherit; opacity: 0.9; }
.l2 { margin-top: 2px; font-size: 0.92em; }
.waiting { flex: none; padding: 0 5px; border-radius: 8px; font-size: 0.85em; line-height: 14px; border: 1px solid var(--vscode-list-warningForeground); }
.reason { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.word { flex: none; }
.dot { flex: none; width: 8px; height: 8px; border-radius: 50%; }
.s-running .dot { background: var(--vscode-charts-blue); animation: pulse 1.6s ease-in-out infinite; }
.s-starting .dot { border: 1.5px solid var(--vscode-charts-yellow); box-sizing: border-box; }
@keyframes pulse { 0%, 100% { opacity: 1; transform: scale(1); } 50% { opacity: 0.35; transform: scale(0.8); } }
@media (prefers-reduced-motion: reduce) { .s-running .dot { animation-duration: 4s; } }
.badge { flex: none; padding: 0 6px; border-radius: 8px; font-size: 0.9em; line-height: 16px; border: 1px solid; }
.s-completed .badge { border-color: var(--vscode-testing-iconPassed); background: color-mix(in srgb, var(--vscode-testing-iconPassed) 18%, transparent); }
.s-failed .badge { border-color: var(--vscode-testing-iconFailed); background: color-mix(in srgb, var(--vscode-testing-iconFailed) 18%, transparent); }
.actions { display: none; flex: none; margin-left: auto; gap: 2px; }
.row.selected .actions, .row:hover .actions { display: flex; }
.actions button { font: inherit; font-size: 0.9em; color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground); border: none; border-radius: 2px; padding: 0 6px; cursor: pointer; }
.actions button:hover { background: var(--vscode-button-secondaryHoverBackground); }
.empty { padding: 12px; }
.empty button { font: inherit; color: var(--vscode-button-foreground); background: var(--vscode-button-background); border: none; border-radius: 2px; padding: 4px 12px; cursor: pointer; margin-top: 8px; }
`;

const SCRIPT = `
(function () {
  const vscode = acquireVsCodeApi();
  const list = document.getElementById('list');
  let rows = [];
  let selected = (vscode.getState() || {}).selected;
  function esc(t) { return String(t).replace(/[&<>"']/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]; }); }
  function btn(command, label, title) { return '<button data-command="' + command + '" title="' + esc(title) + '" tabindex="-1">' + esc(label) + '</button>'; }
  // Cancel and Continue never share a place: after a Cancel, Show Changes is under the pointer.
  function actions(r) {
    const ended = r.status === 'completed' || r.status === 'failed';
    return ended
      ? btn('lulu.continueSession', 'Continue', 'Run the agent again') + btn('lulu.showChanges', 'Changes', 'Show Changes') + btn('lulu.removeSession', 'Remove', 'Remove (asks first)')
      : btn('lulu.showChanges', 'Changes', 'Show Changes') + btn('lulu.cancelSession', 'Cancel', 'Cancel the session');
  }
  function status(r) {
    if (r.status === 'completed' || r.status === 'failed') return '<span class="badge">' + esc(r.word) + '</span>';
    return '<span class="dot" aria-hidden="true"></span><span class="word">' + esc(r.word) + '</span>';
  }
  function rowHtml(r) {
    const ctx = esc(JSON.stringify({ webviewSection: 'row', sessionId: r.id, sessionStatus: r.status, preventDefaultContextMenuItems: true }));
    return '<div class="row s-' + esc(r.status) + (r.id === selected ? ' selected' : '') + '" role="option" id="r-' + esc(r.id) + '" data-id="' + esc(r.id) +
      '" aria-selected="' + (r.id === selected) + '" aria-label="' + esc(r.ariaLabel) + '" title="' + esc(r.title) + '" data-vscode-context="' + ctx + '">' +
      '<div class="l1"><span class="name">' + esc(r.name) + '</span>' +
      (r.waiting ? '<span class="waiting" title="' + r.waiting + (r.waiting === 1 ? ' request' : ' requests') + ' waiting for you">' + r.waiting + '</span>' : '') +
      '<span class="age">' + esc(r.age) + '</span></div>' +
      '<div class="l2">' + status(r) + (r.reason ? '<span class="reason">' + esc(r.reason) + '</span>' : '') + '<span class="actions">' + actions(r) + '</span></div></div>';
  }
  function render(msg) {
    rows = msg.rows;
    if (!rows.some(function (r) { return r.id === selected; })) selected = rows.length ? rows[0].id : undefined;
    list.innerHTML = rows.length ? rows.map(rowHtml).join('') : '<div class="empty">' + esc(msg.empty) + (msg.empty.indexOf('No sessions') === 0 ? '<br><button data-command="lulu.newSession">New Session</button>' : '<br><button data-command="lulu.refresh">Retry</button>') + '</div>';
    list.setAttribute('aria-activedescendant', selected ? 'r-' + selected : '');
  }
  function select(id, scroll) {
    if (!id) return;
    selected = id;
    vscode.setState({ selected: id });
    list.querySelectorAll('.row.selected').forEach(function (el) { el.classList.remove('selected'); el.setAttribute('aria-selected', 'false'); });
    const el = document.getElementById('r-' + id);
    if (el) { el.classList.add('selected'); el.setAttribute('aria-selected', 'true'); if (scroll) el.scrollIntoView({ block: 'nearest' }); }
    list.setAttribute('aria-activedescendant', 'r-' + id);
    vscode.postMessage({ type: 'select', id: id });
  }
  function move(by) {
    const i = rows.findIndex(function (r) { return r.id === selected; });
    const j = Math.max(0, Math.min(rows.length - 1, (i < 0 ? 0 : i) + by));
    if (rows[j]) select(rows[j].id, true);
  }
  list.addEventListener('click', function (e) {
    const b = e.target.closest('button[data-command]');
    const row = e.target.closest('.row');
    if (b) { vscode.postMessage({ type: 'command', command: b.getAttribute('data-command'), id: row ? row.getAttribute('data-id') : '' }); return; }
    if (row) select(row.getAttribute('data-id'), false);
  });
  list.addEventListener('dblclick', function (e) {
    const row = e.target.closest('.row');
    if (row && !e.target.closest('button')) vscode.postMessage({ type: 'open', id: row.getAttribute('data-id') });
  });
  list.addEventListener('contextmenu', function (e) { const row = e.target.closest('.row'); if (row) select(row.getAttribute('data-id'), false); });
  list.addEventListener('keydown', function (e) {
    if (e.key === 'ArrowDown') { move(1); e.preventDefault(); }
    else if (e.key === 'ArrowUp') { move(-1); e.preventDefault(); }
    else if (e.key === 'Home') { move(-rows.length); e.preventDefault(); }
    else if (e.key === 'End') { move(rows.length); e.preventDefault(); }
    else if (e.key === 'PageDown') { move(10); e.preventDefault(); }
    else if (e.key === 'PageUp') { move(-10); e.preventDefault(); }
    else if (e.key === 'Enter' && selected) { vscode.postMessage({ type: 'open', id: selected }); e.preventDefault(); }
    else if ((e.key === 'Delete' || (e.key === 'Backspace' && e.metaKey)) && selected) { vscode.postMessage({ type: 'command', command: 'lulu.removeSession', id: selected }); e.preventDefault(); }
  });
  window.addEventListener('message', function (event) {
    const msg = event.data;
    if (msg.type === 'rows') render(msg);
    else if (msg.type === 'ages') {
      for (const id in msg.ages) {
        const el = document.getElementById('r-' + id);
        if (el) el.querySelector('.age').textContent = msg.ages[id];
        const r = rows.find(function (x) { return x.id === id; });
        if (r) { r.age = msg.ages[id]; r.ariaLabel = r.ariaLabel.replace(/, [^,]*$/, ', ' + msg.ages[id]); if (el) el.setAttribute('aria-label', r.ariaLabel); }
      }
    }
    else if (msg.type === 'focus') list.focus();
  });
  vscode.postMessage({ type: 'ready' });
})();
`;

export function dashboardHtml(opts: { nonce: string; cspSource: string }): string {
  const csp = `default-src 'none'; style-src ${opts.cspSource} 'nonce-${opts.nonce}'; script-src 'nonce-${opts.nonce}'`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8"><meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<style nonce="${opts.nonce}">${STYLE}</style></head>
<body><div id="list" role="listbox" tabindex="0" aria-label="Lulu sessions"><div class="empty">${escapeHtml("Loading…")}</div></div>
<script nonce="${opts.nonce}">${SCRIPT}</script></body></html>`;
}
