// What Remove asks before it deletes a session's worktree: pure, so the unit tests read
// each question as data. commands.ts shows it and acts on the answer.

import * as path from "node:path";
import type { DiffResult, SessionDetail } from "./protocol";

export interface RemovalQuestion {
  title: string;
  detail: string;
  /** True when the worktree differs from its base: the safe answer is then the default. */
  atRisk: boolean;
}

const MAX_NAMED = 5;

const STATUS_WORD: Readonly<Record<string, string>> = {
  added: "new",
  modified: "changed",
  deleted: "deleted",
  renamed: "renamed",
};

/** `a.txt (new), b.rs (changed) and 3 more` */
export function nameFiles(diff: DiffResult): string {
  const named = diff.files.slice(0, MAX_NAMED).map((f) => `${f.path} (${STATUS_WORD[f.status] ?? f.status})`);
  const more = diff.files.length - named.length;
  if (more > 0) return `${named.join(", ")} and ${more} more`;
  if (named.length <= 1) return named.join("");
  return `${named.slice(0, -1).join(", ")} and ${named[named.length - 1]}`;
}

/** The first question of Remove, in plain words: what goes, what stays, what could be lost. */
export function removalQuestion(detail: SessionDetail, diff: DiffResult | undefined): RemovalQuestion {
  const title = `Remove the session "${detail.name}"?`;
  const where = detail.worktreePath ? `its worktree ${detail.worktreePath}` : "its worktree";
  const branch = detail.branch ? `The branch ${detail.branch}` : "Its branch";
  const lines = [
    `This deletes ${where} and the session's transcript. ${branch} and its commits are kept unless you delete it too.`,
  ];
  const files = diff?.files.length ?? 0;
  if (diff === undefined) {
    lines.push("Lulu could not read the worktree's changes; a removal that would lose work stops and asks again.");
  } else if (files === 0) {
    lines.push("The worktree has no changes against its base commit: nothing is lost.");
  } else {
    const count = `${files} file${files === 1 ? "" : "s"}`;
    lines.push(
      `The worktree differs from its base in ${count}: ${nameFiles(diff)}. ` +
        "What the agent committed stays on the branch; files it left uncommitted or untracked are lost if you force the removal (Lulu asks again before that).",
    );
  }
  if (detail.status === "starting" || detail.status === "running") {
    lines.push("The session is still running: its agent would be cancelled first.");
  }
  return { title, detail: lines.join("\n\n"), atRisk: files > 0 };
}

/** True when `file` is `folder` or inside it. */
export function isUnder(file: string, folder: string): boolean {
  if (!file || !folder) return false;
  const rel = path.relative(path.resolve(folder), path.resolve(file));
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/**
 * The row to focus once `removed` is gone: the next one below it in `order` (the list as it
 * was when Remove was asked, before the server's own notification could take the row out),
 * else the nearest above; only rows still `listed`.
 */
export function rowAfterRemoval(order: readonly string[], removed: string, listed: (id: string) => boolean): string | undefined {
  const at = order.indexOf(removed);
  if (at < 0) return undefined;
  const below = order.slice(at + 1).find(listed);
  return below ?? [...order.slice(0, at)].reverse().find(listed);
}
