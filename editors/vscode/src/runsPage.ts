// The session view's runs: after Continue a session has several runs, each with its own
// prompt, times, cost and outcome (SessionDetail.runs, a lulu addition a client must not
// require). Pure: no `vscode` import, checked by node's test runner.

import type { Outcome, RunSummary, SessionDetail } from "./protocol";
import { STATUS_LOOK, formatDuration, localTime, oneLine } from "./rows";
import { escapeHtml } from "./transcript";

export const OUTCOME_WORDS: Readonly<Record<Outcome, string>> = {
  exited: "exited",
  signaled: "killed by a signal",
  cancelled: "cancelled",
  spawn_failed: "the agent could not be started",
  worktree_failed: "the worktree could not be made",
  agent_error: "the agent reported an error",
  interrupted: "interrupted (its runner died)",
  setup_failed: "the repository's setup command failed",
  over_budget: "stopped at its limit",
};

/** One run as the session view shows it. */
export interface RunView {
  run: number;
  latest: boolean;
  /** `Completed`, `Failed`, `Cancelled`, `Running`, `Starting`. */
  status: string;
  /** As typed: new lines kept. */
  prompt: string;
  /** Local time; a run not started yet says when it was queued. */
  started: string;
  ended: string;
  /** How long it ran (or has run so far), or `—`. */
  duration: string;
  /** `$0.0123 · 1200 in / 345 out tokens`, or `—`. */
  cost: string;
  /** What became of it: `exited`, `cancelled`, `killed by a signal (signaled): signal 9`... */
  outcome: string;
}

function costText(run: RunSummary): string {
  const parts: string[] = [];
  if (run.costUsd !== null) parts.push(`$${run.costUsd.toFixed(run.costUsd < 1 ? 4 : 2)}`);
  if (run.inputTokens !== null || run.outputTokens !== null) {
    parts.push(`${run.inputTokens ?? 0} in / ${run.outputTokens ?? 0} out tokens`);
  }
  return parts.length ? parts.join(" · ") : "—";
}

function outcomeText(run: RunSummary): string {
  if (run.outcome === null) return run.status === "completed" || run.status === "failed" ? "unknown" : "—";
  const word = OUTCOME_WORDS[run.outcome] ?? run.outcome;
  const named = word === run.outcome ? word : `${word} (${run.outcome})`;
  const reason = run.status === "failed" && run.outcome !== "cancelled" && run.failureReason ? oneLine(run.failureReason) : "";
  return reason && reason !== word ? `${named}: ${reason}` : named;
}

function durationText(run: RunSummary, nowMs: number): string {
  if (!run.startedAt) return "—";
  const end = run.endedAt ? Date.parse(run.endedAt) : run.status === "running" ? nowMs : Number.NaN;
  const ms = end - Date.parse(run.startedAt);
  if (!Number.isFinite(ms)) return "—";
  return run.endedAt ? formatDuration(ms) : `${formatDuration(ms)} so far`;
}

/** The session's runs, latest first; empty when the server did not send them (an older server). */
export function runViews(detail: SessionDetail, nowMs: number = Date.now()): RunView[] {
  const runs = detail.runs ?? [];
  const last = runs.reduce((max, r) => Math.max(max, r.run), 0);
  return [...runs]
    .sort((a, b) => b.run - a.run)
    .map((run) => ({
      run: run.run,
      latest: run.run === last,
      status: run.outcome === "cancelled" ? "Cancelled" : (STATUS_LOOK[run.status]?.word ?? run.status),
      prompt: run.prompt,
      started: run.startedAt ? localTime(run.startedAt) : `not yet (queued ${localTime(run.queuedAt)})`,
      ended: run.endedAt ? localTime(run.endedAt) : "—",
      duration: durationText(run, nowMs),
      cost: costText(run),
      outcome: outcomeText(run),
    }));
}

function fact(label: string, value: string): string {
  return `<tr><th>${escapeHtml(label)}</th><td>${escapeHtml(value)}</td></tr>`;
}

function runHtml(view: RunView): string {
  const statusClass = view.status.toLowerCase();
  const title = `Run ${view.run}${view.latest ? " (latest)" : ""}`;
  return [
    `<details class="run" data-run="${view.run}" open>`,
    `<summary><span class="run-title">${escapeHtml(title)}</span> <span class="status status-${escapeHtml(statusClass)}">${escapeHtml(view.status)}</span>`,
    ` <span class="dim">${escapeHtml(view.duration === "—" ? view.started : `${view.started} · ${view.duration}`)}</span></summary>`,
    `<pre class="run-prompt">${escapeHtml(view.prompt)}</pre>`,
    `<table class="details run-facts">`,
    fact("Started", view.started),
    fact("Ended", view.ended),
    fact("Duration", view.duration),
    fact("Cost and tokens", view.cost),
    fact("Outcome", view.outcome),
    `</table></details>`,
  ].join("");
}

/**
 * The prompt of a session of one run (as before), or every run of a continued session,
 * latest first: its prompt as typed, local start and end, duration, cost and outcome.
 */
export function renderRunsHtml(detail: SessionDetail, nowMs: number = Date.now()): string {
  const views = runViews(detail, nowMs);
  if (views.length <= 1) {
    return `<details class="prompt" open><summary>Prompt</summary><pre>${escapeHtml(detail.prompt)}</pre></details>`;
  }
  return `<section class="runs" aria-label="Runs"><h3>${views.length} runs, latest first</h3>${views.map(runHtml).join("")}</section>`;
}
