// Show Changes: the files of `lulu/diff`, each opening VS Code's diff editor between the
// session's base commit (read with `git show`, as a read-only document) and the file in
// the worktree.

import { execFile } from "node:child_process";
import * as path from "node:path";
import * as vscode from "vscode";
import type { DiffFile, SessionDetail } from "./protocol";

export const BASE_SCHEME = "lulu-base";

interface BaseQuery {
  /** Where to run git: the worktree, or the repository when it is gone. */
  cwd: string;
  /** A commit, or "" for an empty document (the left side of an added file). */
  commit: string;
}

export function baseUri(file: string, q: BaseQuery): vscode.Uri {
  return vscode.Uri.from({ scheme: BASE_SCHEME, path: `/${file}`, query: JSON.stringify(q) });
}

/** Serves `lulu-base:` documents: a file's content at a commit. */
export class BaseContentProvider implements vscode.TextDocumentContentProvider {
  provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const q = JSON.parse(uri.query) as BaseQuery;
    const file = uri.path.replace(/^\//, "");
    if (!q.commit) return Promise.resolve("");
    return new Promise((resolve, reject) => {
      execFile(
        "git",
        ["show", `${q.commit}:${file}`],
        { cwd: q.cwd, maxBuffer: 256 * 1024 * 1024, encoding: "utf8" },
        (err, stdout, stderr) => {
          if (err) reject(new Error(`git show ${q.commit}:${file} in ${q.cwd} failed: ${stderr.trim() || err.message}`));
          else resolve(stdout);
        },
      );
    });
  }
}

export const EMPTY_SCHEME = "lulu-empty";

/** The two sides of one changed file. */
export function diffSides(detail: SessionDetail, baseCommit: string, f: DiffFile): [vscode.Uri, vscode.Uri] {
  const worktree = detail.worktreePath ?? detail.repo;
  const cwd = detail.worktreePath ?? detail.repo;
  const left =
    f.status === "added"
      ? baseUri(f.path, { cwd, commit: "" })
      : baseUri(f.status === "renamed" && f.oldPath ? f.oldPath : f.path, { cwd, commit: baseCommit });
  const right =
    f.status === "deleted"
      ? vscode.Uri.from({ scheme: EMPTY_SCHEME, path: `/${f.path}` })
      : vscode.Uri.file(path.join(worktree, f.path));
  return [left, right];
}

export class EmptyContentProvider implements vscode.TextDocumentContentProvider {
  provideTextDocumentContent(): string {
    return "";
  }
}

const STATUS_ICON: Record<DiffFile["status"], string> = {
  added: "diff-added",
  modified: "diff-modified",
  deleted: "diff-removed",
  renamed: "diff-renamed",
};

export async function showChanges(
  detail: SessionDetail,
  diff: { baseCommit: string; files: DiffFile[] },
): Promise<void> {
  const short = diff.baseCommit.slice(0, 8);
  if (diff.files.length === 0) {
    void vscode.window.showInformationMessage(`Lulu: "${detail.name}" has no changes against ${short}.`);
    return;
  }
  type Item = vscode.QuickPickItem & { file?: DiffFile; all?: boolean };
  const items: Item[] = [
    {
      label: `$(files) All ${diff.files.length} changed file${diff.files.length === 1 ? "" : "s"}`,
      description: `against ${short}`,
      all: true,
    },
    ...diff.files.map((f) => ({
      label: `$(${STATUS_ICON[f.status] ?? "diff"}) ${f.path}`,
      description: `+${f.additions} −${f.deletions}`,
      detail: f.status === "renamed" && f.oldPath ? `renamed from ${f.oldPath}` : f.status,
      file: f,
    })),
  ];
  const picked = await vscode.window.showQuickPick(items, {
    title: `Lulu: Changes of "${detail.name}" against ${short}`,
    placeHolder: "Pick a file to open its diff",
    matchOnDescription: true,
  });
  if (!picked) return;
  if (picked.all) {
    const resources = diff.files.map((f) => {
      const [left, right] = diffSides(detail, diff.baseCommit, f);
      return [right, left, right] as [vscode.Uri, vscode.Uri, vscode.Uri];
    });
    await vscode.commands.executeCommand("vscode.changes", `Lulu: ${detail.name} (${short} ↔ worktree)`, resources);
    return;
  }
  if (picked.file) {
    const f = picked.file;
    const [left, right] = diffSides(detail, diff.baseCommit, f);
    await vscode.commands.executeCommand("vscode.diff", left, right, `${f.path} (${short} ↔ ${detail.name})`);
  }
}
