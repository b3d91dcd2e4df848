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
  /** The dim text after the label: the failure reason (failed only), then the age, last. */
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

export function renderRow(row: SessionRow, nowMs: number): RowView {
  const look = STATUS_LOOK[row.status] ?? {
    word: String(row.status),
    icon: "question",
    color: "foreground",
  };
  const age = formatAge(rowAgeMs(row, nowMs));
  const reason = row.status === "failed" ? oneLine(row.failureReason ?? "failed") : "";
  const description = reason ? `${reason} · ${age}` : age;
  const tooltip = [
    `**${escapeMarkdown(row.name)}**`,
    "",
    `${look.word}${reason ? `: ${escapeMarkdown(reason)}` : ""}`,
    "",
    `Last activity ${age} ago (${row.lastActivityAt})  `,
    `Created ${row.createdAt}  `,
    `Repository \`${row.repo}\`  `,
    `Id \`${row.id}\``,
  ].join("\n");
  const ariaLabel = [row.name, look.word, ...(reason ? [reason] : []), age].join(", ");
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
