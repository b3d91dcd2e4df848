// The session view's HTML: the details table and the page shell with its small script
// (appends transcript batches, follows new output while the reader is at the bottom).
// Pure: no `vscode` import, checked by node's test runner.

import type { SessionDetail } from "./protocol";
import { STATUS_LOOK, formatDuration, localTime, oneLine } from "./rows";
import { OUTCOME_WORDS, renderRunsHtml } from "./runsPage";
import { escapeHtml } from "./transcript";


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

/** `main (2 ahead, 0 behind)`, or why there is no base branch. */
export function describeBranchLine(detail: SessionDetail): string {
  if (!detail.baseBranch) return "— (started on a detached HEAD)";
  if (detail.ahead == null || detail.behind == null) return detail.baseBranch;
  return `${detail.baseBranch} (${detail.ahead} ahead, ${detail.behind} behind)`;
}

/** `into main (squash) as 9c1d0e4f5a6b at …`, or `no`. */
export function describeLanded(detail: SessionDetail): string {
  const landed = detail.landed;
  if (!landed) return "no";
  return `into ${landed.into} (${landed.strategy}) as ${landed.commit.slice(0, 12)} at ${landed.at}`;
}

function row(label: string, valueHtml: string, key: string): string {
  return `<tr data-key="${key}"><th>${escapeHtml(label)}</th><td>${valueHtml}</td></tr>`;
}

function code(text: string | null): string {
  return text === null ? "—" : `<code>${escapeHtml(text)}</code>`;
}

/** A wire timestamp in local time, with how long ago (or how long it ran) when it helps. */
function when(iso: string | null, since?: string | null): string {
  if (!iso) return "—";
  const text = escapeHtml(localTime(iso));
  if (since) {
    const ran = Date.parse(iso) - Date.parse(since);
    if (Number.isFinite(ran)) return `${text} <span class="dim">(after ${escapeHtml(formatDuration(ran))})</span>`;
  }
  return `<span title="${escapeHtml(iso)}">${text}</span>`;
}

/** A page button: a command of the extension, run on this session. */
function button(command: string, label: string, title: string): string {
  return `<button type="button" class="action" data-command="${escapeHtml(command)}" title="${escapeHtml(title)}">${escapeHtml(label)}</button>`;
}

/**
 * The session's buttons. Cancel and Continue never take the same place: after a Cancel,
 * the button under the pointer is Show Changes, so a double click cannot open Continue.
 */
export function renderActionsHtml(detail: SessionDetail): string {
  const ended = detail.status === "completed" || detail.status === "failed";
  const buttons = ended
    ? [
        button("lulu.continueSession", "Continue…", "Run the agent again in this worktree, resuming its conversation"),
        button("lulu.showChanges", "Show Changes", "The worktree against the base commit"),
        button("lulu.openWorktree", "Open Worktree", "Open the worktree in a new window"),
        button("lulu.removeSession", "Remove…", "Delete the worktree and the session (asks first)"),
      ]
    : [
        button("lulu.showChanges", "Show Changes", "The worktree against the base commit"),
        button("lulu.cancelSession", "Cancel", "Stop the agent; the session ends Failed (cancelled)"),
        button("lulu.openWorktree", "Open Worktree", "Open the worktree in a new window"),
      ];
  return `<div class="actions" role="toolbar" aria-label="Session actions">${buttons.join("")}</div>`;
}

/** True when the user (or a Remove with force) cancelled the run: the view says so, not "Failure". */
export function wasCancelled(detail: SessionDetail): boolean {
  return detail.status === "failed" && detail.outcome === "cancelled";
}

/** The details table of a session (everything the row does not show). */
export function renderDetailsHtml(detail: SessionDetail): string {
  const look = STATUS_LOOK[detail.status];
  const cancelled = wasCancelled(detail);
  const reason =
    detail.status === "failed" && detail.failureReason && !cancelled
      ? ` <span class="reason">${escapeHtml(oneLine(detail.failureReason))}</span>`
      : "";
  const word = cancelled ? "Cancelled" : (look?.word ?? detail.status);
  const spinner = detail.status === "running" ? `<span class="spinner" aria-hidden="true"></span>` : "";
  const status = `${spinner}<span class="status status-${escapeHtml(cancelled ? "cancelled" : detail.status)}">${escapeHtml(word)}</span>${reason}`;
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
    ...(detail.baseBranch !== undefined ? [row("Base branch", escapeHtml(describeBranchLine(detail)), "base-branch")] : []),
    ...(detail.landed !== undefined ? [row("Landed", escapeHtml(describeLanded(detail)), "landed")] : []),
    row("Outcome", escapeHtml(describeOutcome(detail)), "outcome"),
    row("Exit", escapeHtml(describeExit(detail)), "exit"),
    row("Cost and tokens", escapeHtml(describeUsage(detail)), "usage"),
    row("Created", when(detail.createdAt), "created"),
    row("Started", when(detail.startedAt), "started"),
    row("Ended", when(detail.endedAt, detail.startedAt), "ended"),
    row("Last activity", when(detail.lastActivityAt), "activity"),
    row("Repository", code(detail.repo), "repo"),
    row("Id", code(detail.id), "id"),
  ];
  const failure = detail.failureDetail
    ? cancelled
      ? `<section class="failure cancelled"><h3>Cancelled</h3><pre>${escapeHtml(detail.failureDetail)}</pre></section>`
      : `<section class="failure"><h3>Failure</h3><pre>${escapeHtml(detail.failureDetail)}</pre></section>`
    : "";
  return [
    `<h2 class="name">${escapeHtml(detail.name)}</h2>`,
    renderActionsHtml(detail),
    `<table class="details">${rows.join("")}</table>`,
    renderRunsHtml(detail),
    failure,
  ].join("");
}

/** Messages from the extension to the page. */
export type PageMessage =
  | { type: "details"; html: string }
  /**
   * Events `from`..`to` (seq, inclusive) as HTML, answering the page (or opening it):
   * `where` says which end they go to; `replace` starts the page afresh (and `follow`
   * says whether it then sticks to the bottom); `tail` is the session's last seq.
   */
  | { type: "page"; html: string; from: number; to: number; where: "start" | "end"; tail: number; replace?: boolean; follow?: boolean }
  /** New events as they happen, `from`..`to`. */
  | { type: "live"; html: string; from: number; to: number }
  | { type: "notice"; text: string }
  /** The session is gone: a banner at the top, and its buttons off. */
  | { type: "removed"; text: string }
  /** The pending permission requests (approvalsModel.ts's HTML; empty: none). */
  | { type: "approvals"; html: string }
  /** The message box: shown while the session runs. */
  | { type: "compose"; open: boolean }
  /** What became of the message sent: `ok` empties the box; else the text says why and it is kept. */
  | { type: "sent"; ok: boolean; text: string };

/** Messages from the page to the extension. */
export type PageRequest =
  | { type: "ready" }
  | { type: "older"; before: number }
  | { type: "newer"; after: number }
  | { type: "latest" }
  | { type: "command"; command: string }
  | { type: "openUrl"; url: string }
  | { type: "openFile"; file: string; line: number }
  | { type: "approve"; approvalId: string; answer: "allow" | "deny" | "denyWithMessage" }
  | { type: "send"; text: string };

/** The commands a page button may run (anything else a page sends is ignored). */
export const PAGE_COMMANDS: readonly string[] = [
  "lulu.cancelSession",
  "lulu.continueSession",
  "lulu.showChanges",
  "lulu.openWorktree",
  "lulu.removeSession",
];

export interface PageOptions {
  title: string;
  /** Kept in the webview's state, so VS Code can bring the view back after a reload. */
  sessionId: string;
  nonce: string;
  cspSource: string;
}

// Every text keeps at least 4.5:1 against its background in the default themes: text is
// in foreground colours; the status colours (charts.*, testing.*) only fill badges, dots
// and borders, which are not text.
const STYLE = `
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 0 16px 24px; }
h2.name { margin: 12px 0 8px; font-size: 1.3em; }
table.details { border-collapse: collapse; margin-bottom: 8px; }
table.details th { text-align: left; font-weight: normal; color: var(--vscode-descriptionForeground); padding: 1px 16px 1px 0; vertical-align: top; white-space: nowrap; }
table.details td { padding: 1px 0; }
code, pre { font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size); }
.dim, .age { color: var(--vscode-descriptionForeground); }
.status { font-weight: 600; }
.status::before { content: ""; display: inline-block; width: 0.6em; height: 0.6em; border-radius: 50%; margin-right: 0.4em; vertical-align: middle; background: var(--vscode-descriptionForeground); }
.status-starting::before { background: var(--vscode-charts-yellow); }
.status-running::before { background: var(--vscode-charts-blue); }
.status-completed::before { background: var(--vscode-testing-iconPassed); }
.status-failed::before { background: var(--vscode-testing-iconFailed); }
.status-cancelled::before { background: var(--vscode-descriptionForeground); }
.spinner { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.4em; vertical-align: middle; border: 2px solid var(--vscode-charts-blue); border-right-color: transparent; border-radius: 50%; animation: spin 1s linear infinite; }
@keyframes spin { to { transform: rotate(360deg); } }
@media (prefers-reduced-motion: reduce) { .spinner { animation-duration: 3s; } }
.actions { display: flex; gap: 6px; flex-wrap: wrap; margin: 0 0 10px; }
button.action { font-family: inherit; font-size: inherit; color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground); border: 1px solid var(--vscode-button-border, transparent); border-radius: 2px; padding: 3px 10px; cursor: pointer; }
button.action:hover { background: var(--vscode-button-secondaryHoverBackground); }
button.action:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: 2px; }
details.prompt pre, section.failure pre, pre.run-prompt { white-space: pre-wrap; margin: 4px 0 8px; padding: 6px 8px; background: var(--vscode-textCodeBlock-background); }
section.runs h3 { margin: 8px 0 4px; font-size: 1em; }
details.run { margin: 0 0 6px; padding-left: 8px; border-left: 3px solid var(--vscode-panel-border); }
details.run > summary { cursor: pointer; }
details.run .run-title { font-weight: 600; margin-right: 0.4em; }
section.failure { border-left: 3px solid var(--vscode-testing-iconFailed); padding-left: 8px; }
section.failure.cancelled { border-left-color: var(--vscode-descriptionForeground); }
section.failure h3 { margin: 8px 0 2px; font-size: 1em; }
h3.transcript-head { margin: 16px 0 6px; font-size: 1em; border-bottom: 1px solid var(--vscode-panel-border); padding-bottom: 4px; }
#transcript .ev { margin: 6px 0 0; padding: 4px 8px; border-left: 3px solid transparent; }
#transcript .ev.cont { margin-top: 0; padding-top: 0; }
#transcript .ev-title { font-size: 0.85em; color: var(--vscode-descriptionForeground); margin-bottom: 2px; }
#transcript pre.ev-body { white-space: pre-wrap; word-break: break-word; margin: 0; }
#transcript .ev-assistant { border-left-color: var(--vscode-charts-blue); }
#transcript .ev-assistant pre.ev-body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); }
#transcript .ev-thinking { color: var(--vscode-descriptionForeground); font-style: italic; }
#transcript .ev-tool-call { border-left-color: var(--vscode-charts-purple); background: var(--vscode-textCodeBlock-background); }
#transcript .ev-tool-result { border-left-color: var(--vscode-charts-green); }
#transcript .ev-result { border-left-color: var(--vscode-testing-iconPassed); }
#transcript .ev-error { border-left-color: var(--vscode-testing-iconFailed); }
#transcript .ev-error .ev-title { color: var(--vscode-foreground); font-weight: 600; }
#transcript .ev-stderr { border-left-color: var(--vscode-charts-orange); }
#transcript .ev-stderr .ev-title { color: var(--vscode-foreground); font-weight: 600; }
#transcript .ev-facts { font-size: 0.9em; color: var(--vscode-descriptionForeground); margin-top: 2px; }
#transcript details.more > summary { cursor: pointer; color: var(--vscode-textLink-foreground); font-size: 0.9em; }
#transcript .md p { margin: 0 0 6px; }
#transcript .md .md-h { margin: 8px 0 4px; }
#transcript .md pre.code { padding: 6px 8px; background: var(--vscode-textCodeBlock-background); white-space: pre-wrap; }
#transcript .md code { font-family: var(--vscode-editor-font-family); }
#transcript .md :not(pre) > code { background: var(--vscode-textCodeBlock-background); padding: 0 3px; border-radius: 3px; }
#transcript .md blockquote { margin: 0 0 6px; padding-left: 8px; border-left: 3px solid var(--vscode-textBlockQuote-border); }
#transcript .md ul, #transcript .md ol { margin: 0 0 6px; padding-left: 20px; }
a.link { color: var(--vscode-textLink-foreground); text-decoration: underline; cursor: pointer; }
.ansi-bold { font-weight: bold; } .ansi-dim { opacity: 0.75; } .ansi-italic { font-style: italic; } .ansi-underline { text-decoration: underline; }
.ansi-fg-0 { color: var(--vscode-terminal-ansiBlack); } .ansi-fg-1 { color: var(--vscode-terminal-ansiRed); }
.ansi-fg-2 { color: var(--vscode-terminal-ansiGreen); } .ansi-fg-3 { color: var(--vscode-terminal-ansiYellow); }
.ansi-fg-4 { color: var(--vscode-terminal-ansiBlue); } .ansi-fg-5 { color: var(--vscode-terminal-ansiMagenta); }
.ansi-fg-6 { color: var(--vscode-terminal-ansiCyan); } .ansi-fg-7 { color: var(--vscode-terminal-ansiWhite); }
.ansi-fg-8 { color: var(--vscode-terminal-ansiBrightBlack); } .ansi-fg-9 { color: var(--vscode-terminal-ansiBrightRed); }
.ansi-fg-10 { color: var(--vscode-terminal-ansiBrightGreen); } .ansi-fg-11 { color: var(--vscode-terminal-ansiBrightYellow); }
.ansi-fg-12 { color: var(--vscode-terminal-ansiBrightBlue); } .ansi-fg-13 { color: var(--vscode-terminal-ansiBrightMagenta); }
.ansi-fg-14 { color: var(--vscode-terminal-ansiBrightCyan); } .ansi-fg-15 { color: var(--vscode-terminal-ansiBrightWhite); }
.ansi-bg-0 { background: var(--vscode-terminal-ansiBlack); } .ansi-bg-1 { background: var(--vscode-terminal-ansiRed); }
.ansi-bg-2 { background: var(--vscode-terminal-ansiGreen); } .ansi-bg-3 { background: var(--vscode-terminal-ansiYellow); }
.ansi-bg-4 { background: var(--vscode-terminal-ansiBlue); } .ansi-bg-5 { background: var(--vscode-terminal-ansiMagenta); }
.ansi-bg-6 { background: var(--vscode-terminal-ansiCyan); } .ansi-bg-7 { background: var(--vscode-terminal-ansiWhite); }
#transcript .ev-lifecycle, #transcript .ev-meta { color: var(--vscode-descriptionForeground); padding-top: 0; padding-bottom: 0; }
#transcript .ev-lifecycle pre.ev-body::before { content: "— "; }
#transcript .ev-lifecycle .ev-title { display: none; }
#banner:not(:empty) { font-weight: 600; border-left: 3px solid var(--vscode-testing-iconFailed); padding: 6px 8px; margin: 8px 0; background: var(--vscode-textCodeBlock-background); }
#notice { color: var(--vscode-foreground); font-style: italic; }
#notice:not(:empty) { border-left: 3px solid var(--vscode-charts-orange); padding: 4px 8px; margin: 8px 0; }
#follow { position: fixed; right: 16px; bottom: 12px; display: none; }
#dock { position: sticky; bottom: 0; margin: 12px -16px 0; padding: 0 16px; background: var(--vscode-editor-background); max-height: 60vh; overflow-y: auto; }
section.approvals { border-left: 3px solid var(--vscode-charts-orange); padding: 2px 10px 4px; margin: 8px 0; background: var(--vscode-textCodeBlock-background); }
section.approvals h3 { margin: 6px 0; font-size: 1em; }
section.approvals ul { list-style: none; margin: 0; padding: 0; }
li.approval { margin: 0 0 10px; }
li.approval .approval-why { color: var(--vscode-descriptionForeground); margin: 2px 0; }
pre.approval-input { white-space: pre-wrap; word-break: break-word; margin: 4px 0 6px; padding: 6px 8px; background: var(--vscode-editor-background); border: 1px solid var(--vscode-panel-border); }
button.approve, #compose button { font-family: inherit; font-size: inherit; color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground); border: 1px solid var(--vscode-button-border, transparent); border-radius: 2px; padding: 3px 10px; cursor: pointer; }
button.approve.primary, #compose button { color: var(--vscode-button-foreground); background: var(--vscode-button-background); }
button.approve:focus-visible, #compose button:focus-visible, #compose textarea:focus { outline: 1px solid var(--vscode-focusBorder); outline-offset: 2px; }
button.approve:disabled { opacity: 0.6; cursor: default; }
#compose { padding: 8px 0; border-top: 1px solid var(--vscode-panel-border); }
#compose[hidden] { display: none; }
#compose label { display: block; color: var(--vscode-descriptionForeground); margin-bottom: 4px; }
#compose textarea { box-sizing: border-box; width: 100%; resize: vertical; font-family: inherit; font-size: inherit; color: var(--vscode-input-foreground); background: var(--vscode-input-background); border: 1px solid var(--vscode-input-border, transparent); padding: 4px 6px; }
#compose .compose-row { display: flex; gap: 10px; align-items: center; margin-top: 4px; }
#sent.refused { color: var(--vscode-foreground); border-left: 3px solid var(--vscode-testing-iconFailed); padding-left: 6px; }
`;

/**
 * The page keeps at most this many transcript blocks in its DOM; it pages older (and newer)
 * events in from the extension as the reader scrolls, and lets the far end go, so a
 * transcript of any length opens fast and keeps the page's memory flat.
 */
export const MAX_BLOCKS = 1500;

const SCRIPT = `
(function () {
  const vscode = acquireVsCodeApi();
  const details = document.getElementById('details');
  const transcript = document.getElementById('transcript');
  const notice = document.getElementById('notice');
  const banner = document.getElementById('banner');
  const follow = document.getElementById('follow');
  const startNote = document.getElementById('start');
  const MAX_BLOCKS = ${MAX_BLOCKS};
  const root = document.scrollingElement || document.documentElement;
  // The events shown: seq lo..hi (0 = none yet); tail = the session's last seq known.
  let lo = 0, hi = 0, tail = 0, asked = false, following = true, loaded = false;
  function atBottom() { return root.scrollTop + window.innerHeight >= root.scrollHeight - 48; }
  function showFollow() {
    follow.style.display = following && hi >= tail ? 'none' : 'block';
    follow.style.bottom = (document.getElementById('dock').offsetHeight + 12) + 'px';
  }
  function blockSeq(el) { return el ? Number(el.getAttribute('data-seq')) : 0; }
  // Consecutive blocks of one kind and heading show the heading once, also across batches.
  function mergeHeading(el) {
    if (!el) return;
    const prev = el.previousElementSibling;
    const title = el.querySelector(':scope > .ev-title');
    if (!prev || !title) return;
    const kind = function (e) { return e.className.replace(' cont', ''); };
    if (kind(prev) === kind(el) && prev.getAttribute('data-head') === el.getAttribute('data-head')) {
      title.remove(); el.classList.add('cont');
    }
  }
  function note() {
    startNote.textContent = lo > 1 ? 'Earlier events load as you scroll up (' + (lo - 1) + ' before these).' : '';
  }
  function maybeAsk() {
    if (asked || !loaded) return;
    const first = transcript.firstElementChild;
    if (lo > 1 && (!first || first.getBoundingClientRect().top > -window.innerHeight)) {
      asked = true; vscode.postMessage({ type: 'older', before: lo });
    } else if (hi < tail && atBottom()) {
      asked = true; vscode.postMessage({ type: 'newer', after: hi });
    }
  }
  window.addEventListener('scroll', function () { following = atBottom() && hi >= tail; showFollow(); maybeAsk(); });
  const approvals = document.getElementById('approvals');
  const compose = document.getElementById('compose');
  const message = document.getElementById('message');
  const sent = document.getElementById('sent');
  function send() {
    if (!message.value.trim()) { sent.className = 'refused'; sent.textContent = 'Type a message first.'; return; }
    sent.className = ''; sent.textContent = 'Sending…';
    vscode.postMessage({ type: 'send', text: message.value });
  }
  compose.addEventListener('submit', function (e) { e.preventDefault(); send(); });
  message.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); send(); }
  });
  document.addEventListener('click', function (e) {
    const ap = e.target && e.target.closest ? e.target.closest('button[data-answer]') : null;
    if (ap) {
      const id = ap.getAttribute('data-approval');
      approvals.querySelectorAll('button[data-approval="' + id + '"]').forEach(function (b) { b.disabled = true; });
      vscode.postMessage({ type: 'approve', approvalId: id, answer: ap.getAttribute('data-answer') });
      return;
    }
    const b = e.target && e.target.closest ? e.target.closest('button[data-command]') : null;
    if (b) { vscode.postMessage({ type: 'command', command: b.getAttribute('data-command') }); return; }
    const a = e.target && e.target.closest ? e.target.closest('a.link') : null;
    if (!a) return;
    e.preventDefault();
    if (a.hasAttribute('data-href')) vscode.postMessage({ type: 'openUrl', url: a.getAttribute('data-href') });
    else vscode.postMessage({ type: 'openFile', file: a.getAttribute('data-file'), line: Number(a.getAttribute('data-line') || 0) });
  });
  follow.addEventListener('click', function () {
    following = true;
    if (hi < tail) { asked = true; vscode.postMessage({ type: 'latest' }); }
    else root.scrollTop = root.scrollHeight;
    showFollow();
  });
  function trimTop() {
    while (transcript.childElementCount > MAX_BLOCKS) transcript.firstElementChild.remove();
    lo = blockSeq(transcript.firstElementChild) || lo;
  }
  function trimBottom() {
    while (transcript.childElementCount > MAX_BLOCKS) transcript.lastElementChild.remove();
    hi = blockSeq(transcript.lastElementChild) || hi;
  }
  function append(msg) {
    const keep = following;
    const seam = transcript.lastElementChild;
    transcript.insertAdjacentHTML('beforeend', msg.html);
    mergeHeading(seam ? seam.nextElementSibling : null);
    if (!lo) lo = msg.from;
    hi = msg.to;
    if (keep) { trimTop(); root.scrollTop = root.scrollHeight; }
  }
  window.addEventListener('message', function (event) {
    const msg = event.data;
    if (msg.type === 'details') { details.innerHTML = msg.html; }
    else if (msg.type === 'notice') { notice.textContent = msg.text; }
    else if (msg.type === 'approvals' || msg.type === 'compose') {
      // The dock at the bottom: the pending requests, then the message box.
      const keep = following && atBottom();
      if (msg.type === 'approvals') approvals.innerHTML = msg.html;
      else compose.hidden = !msg.open;
      if (keep) root.scrollTop = root.scrollHeight;
      showFollow();
    }
    else if (msg.type === 'sent') {
      sent.className = msg.ok ? '' : 'refused';
      sent.textContent = msg.text;
      if (msg.ok) message.value = '';
    }
    else if (msg.type === 'removed') {
      banner.textContent = msg.text;
      document.querySelectorAll('button[data-command], button[data-answer]').forEach(function (b) { b.disabled = true; });
      compose.hidden = true;
      document.querySelectorAll('.status').forEach(function (s) { s.textContent = 'Removed'; s.className = 'status status-removed'; });
    }
    else if (msg.type === 'page') {
      // An answer: the first page (where 'end', replacing), older events, newer events.
      asked = false;
      tail = Math.max(tail, msg.tail);
      if (msg.replace) { transcript.innerHTML = ''; lo = 0; hi = 0; following = msg.follow; }
      if (msg.where === 'start') {
        const before = root.scrollHeight, top = root.scrollTop, first = transcript.firstElementChild;
        transcript.insertAdjacentHTML('afterbegin', msg.html);
        mergeHeading(first);
        lo = msg.from;
        if (!hi) hi = msg.to;
        root.scrollTop = top + (root.scrollHeight - before);
        trimBottom();
      } else {
        append(msg);
      }
      if (msg.replace) { loaded = true; if (following) root.scrollTop = root.scrollHeight; else root.scrollTop = 0; }
      note(); showFollow();
      setTimeout(maybeAsk, 0);
    }
    else if (msg.type === 'live') {
      tail = Math.max(tail, msg.to);
      // Shown only when the page holds the newest events; else the Follow button says there is more.
      if (loaded && hi >= msg.from - 1) append(msg);
      note(); showFollow();
    }
  });
  vscode.setState({ id: document.body.getAttribute('data-session') });
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
<body data-session="${escapeHtml(opts.sessionId)}">
<div id="banner" role="status"></div>
<div id="details"><p class="dim">Loading…</p></div>
<h3 class="transcript-head">Transcript</h3>
<div id="start" class="dim"></div>
<div id="transcript" role="log" aria-live="polite"></div>
<div id="notice"></div>
<button id="follow" title="Show the newest output and follow it">↓ Latest</button>
<div id="dock">
<div id="approvals" role="region" aria-live="polite" aria-label="Requests waiting for you"></div>
<form id="compose" hidden aria-label="Message to the agent">
<label for="message">Message to the agent: it reads it after what it is doing now</label>
<textarea id="message" rows="2" placeholder="Also update the changelog… (Ctrl+Enter sends)"></textarea>
<div class="compose-row"><button type="submit" id="send">Send</button><span id="sent" role="status"></span></div>
</form>
</div>
<script nonce="${opts.nonce}">${SCRIPT}</script>
</body>
</html>`;
}
