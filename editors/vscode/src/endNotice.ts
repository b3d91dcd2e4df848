// When a session ends: which changes tell of an end, and what the notification says.
// Pure (no vscode import), so the unit tests run it; lulu.ts shows the notice.

import type { SessionRow } from "./protocol";

/** `lulu.notifyOnEnd`: which sessions' ends the window tells of. */
export type NotifyOnEnd = "all" | "failed" | "none";

const ENDED = new Set(["completed", "failed"]);

/**
 * Whether a changed row tells of a session that has just ended: it was known starting or
 * running, or it is seen for the first time ended, and ended (its last activity) after the
 * client started. Sessions that ended before the window opened are not told of.
 */
export function endedNow(startedAtMs: number, previous: SessionRow | undefined, row: SessionRow): boolean {
  if (!ENDED.has(row.status)) return false;
  if (previous) return !ENDED.has(previous.status);
  const at = Date.parse(row.lastActivityAt);
  return Number.isFinite(at) && at >= startedAtMs;
}

export interface EndNotice {
  level: "info" | "error";
  message: string;
  /** The buttons, in order: "Open", and "Show Changes" for a completed session. */
  actions: string[];
}

export const OPEN = "Open";
export const SHOW_CHANGES = "Show Changes";

/** The notification for a session that ended, or none under this setting. */
export function endNotice(row: SessionRow, mode: NotifyOnEnd): EndNotice | undefined {
  if (mode === "none") return undefined;
  if (row.status === "completed") {
    if (mode !== "all") return undefined;
    return { level: "info", message: `Lulu: "${row.name}" completed.`, actions: [OPEN, SHOW_CHANGES] };
  }
  if (row.status === "failed") {
    const reason = row.failureReason ? `: ${row.failureReason}` : ".";
    return { level: "error", message: `Lulu: "${row.name}" failed${reason}`, actions: [OPEN] };
  }
  return undefined;
}
