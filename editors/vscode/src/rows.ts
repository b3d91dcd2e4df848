// How a session row looks: pure functions of a SessionRow and the clock, with no
// `vscode` import, so node's test runner checks them directly. sessionsTree.ts turns a
// RowView into a vscode.TreeItem.

import type { SessionRow, Status } from "./protocol";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The compact age of docs/design.md's list rules: `5s`, `2m`, `1h`, `3d` (floored). */
export function formatAge(ageMs: number): string {
  const ms = Number.isFinite(ageMs) && ageMs > 0 ? ageMs : 0;
  if (ms < MINUTE) return `${Math.floor(ms / SECOND)}s`;
  if (ms < HOUR) return `${Math.floor(ms / MINUTE)}m`;
  if (ms < DAY) return `${Math.floor(ms / HOUR)}h`;
  return `${Math.floor(ms / DAY)}d`;
}

/**
 * How many milliseconds from now until `formatAge` of this age shows another text:
 * every second under a minute, every minute under an hour, and so on. The tree
 * schedules one timer for the soonest of these and redraws only the rows whose text
 * changed, so a list of old sessions is not redrawn every second.
 */
export function msUntilAgeChanges(ageMs: number): number {
  if (!Number.isFinite(ageMs)) return DAY;
  if (ageMs < 0) return SECOND - ageMs;
  const unit = ageMs < MINUTE ? SECOND : ageMs < HOUR ? MINUTE : ageMs < DAY ? HOUR : DAY;
  return unit - (ageMs % unit);
}

/** The age of a row at `nowMs`, from its `lastActivityAt`. */
export function rowAgeMs(row: SessionRow, nowMs: number): number {
  const at = Date.parse(row.lastActivityAt);
  return Number.isNaN(at) ? 0 : nowMs - at;
}

/**
 * True when `incoming` is an older picture of a session than the one the list shows: a
 * request's answer (Continue, Send Review) overtaken by the notifications of what happened
 * next, such as a run that already ended. Drawing it would show the row going back in time.
 */
export function isOlderRow(known: SessionRow | undefined, incoming: SessionRow): boolean {
  if (!known) return false;
  const knownAt = Date.parse(known.lastActivityAt);
  const incomingAt = Date.parse(incoming.lastActivityAt);
  return !Number.isNaN(knownAt) && !Number.isNaN(incomingAt) && incomingAt < knownAt;
}

export interface StatusLook {
  /** The status as a word, for tooltips and screen readers. */
  word: string;
  /** A codicon id; `~spin` makes it move. */
  icon: string;
  /** A theme colour id for the icon. */
  color: string;
}

/**
 * Starting: a still clock. Running: the one moving indicator. Completed: a green badge.
 * Failed: a red badge, no motion (docs/design.md, "The user-facing rules of the list").
 */
export const STATUS_LOOK: Readonly<Record<Status, StatusLook>> = {
  starting: { word: "Starting", icon: "clock", color: "charts.yellow" },
  running: { word: "Running", icon: "loading~spin", color: "charts.blue" },
  completed: { word: "Completed", icon: "pass-filled", color: "testing.iconPassed" },
  failed: { word: "Failed", icon: "error", color: "testing.iconFailed" },
};

export interface RowView {
  id: string;
  label: string;
  /** The dim text after the label: the age, then the failure reason (failed only). */
  description: string;
  icon: string;
  iconColor: string;
  /** For `when` clauses: `lulu.session.<status>`. */
  contextValue: string;
  /** Markdown for the hover. */
  tooltip: string;
  /** What a screen reader says for the row (and what the end-to-end test reads). */
  ariaLabel: string;
  age: string;
}

/** One line, whatever the server sent (the protocol promises one; a row must not break). */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** Escapes Markdown's special characters so a session name shows as typed. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, (c) => `\\${c}`);
}

/** A timestamp of the wire (RFC 3339, UTC) in the user's local time, as people read it. */
export function localTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  return new Date(at).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

/** A duration as people say it: `45s`, `3m 12s`, `2h 5m`, `3d 4h`. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor((Number.isFinite(ms) ? ms : 0) / SECOND));
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

/** 1st, 2nd, 3rd, 4th, 11th, 21st... */
export function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" } as Record<number, string>)[n % 10] ?? "th";
  return `${n}${suffix}`;
}

/** What a row can say beyond the row itself. */
export interface RowContext {
  /** A Starting row's place in the queue for a running slot (1 = next), when known. */
  queuePlace?: number;
  /** How many permission requests of the session wait for the user (it stays Running). */
  waiting?: number;
}

/** The status line of the tooltip: a Starting row says it is queued, and where. */
function statusLine(row: SessionRow, word: string, reason: string, ctx: RowContext): string {
  if (row.status === "starting") {
    if (ctx.queuePlace === undefined) return "Starting: waiting for a running slot, or setting up its worktree";
    const place = ctx.queuePlace === 1 ? "first in line" : `${ordinal(ctx.queuePlace)} in line (first come, first served)`;
    return `Starting: queued for a running slot, ${place}`;
  }
  if (row.status === "running" && ctx.waiting) {
    return `${word}, waiting for you: ${ctx.waiting === 1 ? "1 request" : `${ctx.waiting} requests`} (open the session to answer)`;
  }
  return `${word}${reason ? `: ${escapeMarkdown(reason)}` : ""}`;
}

/**
 * The places of the Starting rows in the queue for running slots: first come (oldest
 * `createdAt`), first served.
 */
export function queuePlaces(rows: readonly SessionRow[]): Map<string, number> {
  const starting = rows
    .filter((r) => r.status === "starting")
    .sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return new Map(starting.map((r, i) => [r.id, i + 1]));
}

export function renderRow(row: SessionRow, nowMs: number, ctx: RowContext = {}): RowView {
  const look = STATUS_LOOK[row.status] ?? {
    word: String(row.status),
    icon: "question",
    color: "foreground",
  };
  const age = formatAge(rowAgeMs(row, nowMs));
  const reason = row.status === "failed" ? oneLine(row.failureReason ?? "failed") : "";
  // The age first: a narrow sidebar cuts the end of the text, and the age must always
  // show (the reason is whole in the tooltip and the session view).
  const description = reason ? `${age} · ${reason}` : age;
  const created = formatAge(nowMs - Date.parse(row.createdAt));
  const tooltip = [
    `**${escapeMarkdown(row.name)}**`,
    "",
    statusLine(row, look.word, reason, ctx),
    "",
    `Last activity ${localTime(row.lastActivityAt)} (${age} ago)  `,
    `Created ${localTime(row.createdAt)} (${created} ago)  `,
    `Repository \`${row.repo}\`  `,
    `Id \`${row.id}\``,
  ].join("\n");
  const waiting = row.status === "running" && ctx.waiting ? ["waiting for you"] : [];
  const ariaLabel = [row.name, look.word, ...waiting, ...(reason ? [reason] : []), age].join(", ");
  return {
    id: row.id,
    label: row.name,
    description,
    icon: look.icon,
    iconColor: look.color,
    contextValue: `lulu.session.${row.status}`,
    tooltip,
    ariaLabel,
    age,
  };
}

/** The counts the status bar item and the view's badge show. */
export interface Counts {
  running: number;
  starting: number;
  failed: number;
  /** The status bar text, codicons included; empty when nothing runs and nothing failed. */
  text: string;
  tooltip: string;
}

export function countRows(rows: readonly SessionRow[]): Counts {
  const n = (s: Status) => rows.filter((r) => r.status === s).length;
  const running = n("running");
  const starting = n("starting");
  const failed = n("failed");
  const parts: string[] = [];
  if (running) parts.push(`$(loading~spin) ${running} running`);
  if (starting) parts.push(`$(clock) ${starting} starting`);
  if (failed) parts.push(`$(error) ${failed} failed`);
  const said = [
    `${running} running`,
    ...(starting ? [`${starting} starting`] : []),
    `${n("completed")} completed`,
    `${failed} failed`,
  ];
  return { running, starting, failed, text: parts.join("  "), tooltip: `Lulu sessions: ${said.join(", ")}` };
}

/** What the Sessions view shows: every row, or those of one status and/or a name part. */
export interface RowFilter {
  status?: Status;
  name?: string;
}

export function matchesFilter(row: SessionRow, f: RowFilter): boolean {
  if (f.status && row.status !== f.status) return false;
  if (f.name && !row.name.toLowerCase().includes(f.name.toLowerCase())) return false;
  return true;
}

/** The view's description while a filter is on. */
export function describeFilter(f: RowFilter): string | undefined {
  const parts = [...(f.status ? [STATUS_LOOK[f.status].word] : []), ...(f.name ? [`“${f.name}”`] : [])];
  return parts.length ? `Filter: ${parts.join(", ")}` : undefined;
}
