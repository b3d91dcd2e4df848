// Show Changes: the files of `lulu/diff`, each opening VS Code's diff editor between the
// session's base commit (read with `git show`, a read-only `lulu-base:` file) and the file in
// the worktree.

import { execFile } from "node:child_process";
import * as path from "node:path";
import * as vscode from "vscode";
import type { DiffFile, SessionDetail } from "./protocol";

export const BASE_SCHEME = "lulu-base";

interface BaseQuery {
  /** Where to run git: the worktree, or the repository when it is gone. */
  cwd: string;
  /** The commit to read the file at. */
  commit: string;
  /** The file's path in the repository at that commit. */
  file: string;
}

/**
 * A file at a commit, as a read-only document. Its path is the path the file has in the
 * worktree (`at`), so VS Code's multi-file diff, which marks a file R when the two sides'
 * paths differ, sees the same file on both sides; what to read is in the query.
 */
export function baseUri(at: string, q: BaseQuery): vscode.Uri {
  return vscode.Uri.from({ scheme: BASE_SCHEME, path: at, query: JSON.stringify(q) });
}

function git(q: BaseQuery, args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile("git", args, { cwd: q.cwd, maxBuffer: 256 * 1024 * 1024, encoding: "buffer" }, (err, stdout, stderr) => {
      if (err) reject(new Error(`git ${args.join(" ")} in ${q.cwd} failed: ${stderr.toString("utf8").trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

function baseQuery(uri: vscode.Uri): BaseQuery {
  try {
    return JSON.parse(uri.query) as BaseQuery;
  } catch {
    throw vscode.FileSystemError.FileNotFound(uri);
  }
}

/**
 * Serves `lulu-base:` files, read-only: a file's content at a commit. A file system (not a
 * text document content provider) so that VS Code keeps a diff tab on it across Reload
 * Window, as it does for the git extension's `git:` files; `onFileSystem:lulu-base` activates
 * the extension when a restored tab needs it.
 */
export class BaseFileSystem implements vscode.FileSystemProvider {
  private readonly changes = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.changes.event;

  watch(): vscode.Disposable {
    // A file at a commit never changes.
    return new vscode.Disposable(() => undefined);
  }

  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    const q = baseQuery(uri);
    const size = await git(q, ["cat-file", "-s", `${q.commit}:${q.file}`]).catch(() => {
      throw vscode.FileSystemError.FileNotFound(uri);
    });
    return { type: vscode.FileType.File, ctime: 0, mtime: 0, size: Number(size.toString("utf8").trim()) || 0, permissions: vscode.FilePermission.Readonly };
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    const q = baseQuery(uri);
    return git(q, ["show", `${q.commit}:${q.file}`]);
  }

  readDirectory(uri: vscode.Uri): never {
    throw vscode.FileSystemError.FileNotADirectory(uri);
  }
  createDirectory(uri: vscode.Uri): never {
    throw vscode.FileSystemError.NoPermissions(uri);
  }
  writeFile(uri: vscode.Uri): never {
    throw vscode.FileSystemError.NoPermissions(uri);
  }
  delete(uri: vscode.Uri): never {
    throw vscode.FileSystemError.NoPermissions(uri);
  }
  rename(uri: vscode.Uri): never {
    throw vscode.FileSystemError.NoPermissions(uri);
  }
}

/**
 * The two sides of one changed file: no left side for an added file and no right side
 * for a deleted one (an empty document there would show a phantom empty line).
 */
export function diffSides(detail: SessionDetail, baseCommit: string, f: DiffFile): [vscode.Uri | undefined, vscode.Uri | undefined] {
  const worktree = detail.worktreePath ?? detail.repo;
  const at = path.join(worktree, f.path);
  const oldPath = f.status === "renamed" && f.oldPath ? f.oldPath : f.path;
  // A renamed file's left side stands at its old path, so the multi-file diff marks it R.
  const left =
    f.status === "added" ? undefined : baseUri(path.join(worktree, oldPath), { cwd: worktree, commit: baseCommit, file: oldPath });
  const right = f.status === "deleted" ? undefined : vscode.Uri.file(at);
  return [left, right];
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
  const files = picked.all ? diff.files : picked.file ? [picked.file] : [];
  const resources = files.map((f) => {
    const [left, right] = diffSides(detail, diff.baseCommit, f);
    return [right ?? left, left, right] as [vscode.Uri, vscode.Uri | undefined, vscode.Uri | undefined];
  });
  // One added (or deleted) file: the file itself (or its last content), as VS Code's Source
  // Control opens an untracked file; a diff against nothing would show a phantom empty line.
  if (picked.file && (picked.file.status === "added" || picked.file.status === "deleted")) {
    const [left, right] = resources[0].slice(1) as [vscode.Uri | undefined, vscode.Uri | undefined];
    const uri = right ?? left;
    if (uri) await vscode.commands.executeCommand("vscode.open", uri, { preview: true });
    return;
  }
  if (picked.file && picked.file.status === "modified") {
    const [, left, right] = resources[0];
    await vscode.commands.executeCommand("vscode.diff", left, right, `${picked.file.path} (${short} ↔ ${detail.name})`);
    return;
  }
  // A renamed file, and all of them at once: VS Code's multi-file diff, which marks a
  // missing side A or D (and a rename R) rather than diffing against an empty document.
  const title = picked.all ? `Lulu: ${detail.name} (${short} ↔ worktree)` : `${picked.file?.path} (${short} ↔ ${detail.name})`;
  await vscode.commands.executeCommand("vscode.changes", title, resources);
}
