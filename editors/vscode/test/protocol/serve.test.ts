// The wire contract (docs/protocol.md) as this extension uses it, checked against the
// real `lulu serve` over stdio with vscode-jsonrpc (Content-Length framing), on a real
// fixture repository with the scripted fake agents. The rendering of real transcript
// events is checked here too. No step asserts how long anything took.

import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { type MessageConnection, StreamMessageReader, StreamMessageWriter, createMessageConnection } from "vscode-jsonrpc/node";
import {
  type AgentsResult,
  type DiffResult,
  ErrorCodes,
  type ListResult,
  type OutputParams,
  type SessionDetail,
  type SessionRow,
  type TranscriptEvent,
  type TranscriptResult,
  compareRows,
  errorCode,
} from "../../src/protocol";
import { renderEvents } from "../../src/transcript";
import { FIXTURES, agentProfiles, gitEnv } from "../support";

const LULU_BIN = process.env.LULU_BIN;

let conn: MessageConnection;
let proc: ChildProcess;
let repo: string;
let dir: string;
let stderr = "";
const rows = new Map<string, SessionRow>();
const removed = new Set<string>();
const output = new Map<string, TranscriptEvent[]>();
const waiters: Array<() => void> = [];

function notify(): void {
  for (const w of waiters.splice(0)) w();
}

/** Waits until `cond` holds, re-checking on every notification. */
async function until<T>(what: string, cond: () => T | undefined | false, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; server stderr:\n${stderr.slice(-4000)}`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 500);
      waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

async function rejects(p: Promise<unknown>, code: number): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.equal(errorCode(err), code, `expected error ${code}, got ${String(err)}`);
    return (err as Error).message;
  }
  assert.fail(`expected error ${code}, but the request succeeded`);
}

const spawnSession = (prompt: string, extra: Record<string, unknown> = {}) =>
  conn.sendRequest<SessionRow>("lulu/spawn", { prompt, ...extra });
const status = (id: string, s: string) => (rows.get(id)?.status === s ? rows.get(id) : undefined);

before(async () => {
  assert.ok(LULU_BIN && existsSync(LULU_BIN), "LULU_BIN must name the built lulu binary (cargo build -p lulu)");
  dir = mkdtempSync(path.join(tmpdir(), "lulu-vscode-protocol-"));
  repo = path.join(dir, "repo");
  execFileSync("bash", [path.join(FIXTURES, "make-repo.sh"), repo]);
  const state = path.join(dir, "state");
  mkdirSync(state);
  proc = spawn(LULU_BIN, ["serve"], {
    cwd: repo,
    env: { ...process.env, ...gitEnv(), LULU_HOME: state, HOME: dir },
    stdio: ["pipe", "pipe", "pipe"],
  });
  proc.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  conn = createMessageConnection(new StreamMessageReader(proc.stdout!), new StreamMessageWriter(proc.stdin!));
  conn.onNotification("lulu/sessionChanged", (p: { session: SessionRow }) => {
    rows.set(p.session.id, p.session);
    notify();
  });
  conn.onNotification("lulu/sessionRemoved", (p: { id: string }) => {
    removed.add(p.id);
    rows.delete(p.id);
    notify();
  });
  conn.onNotification("lulu/output", (p: OutputParams) => {
    const list = output.get(p.id) ?? [];
    list.push(...p.events);
    output.set(p.id, list);
    notify();
  });
  conn.listen();
  writeFileSync(path.join(dir, "README"), "protocol test scratch\n");
});

after(async () => {
  try {
    await conn?.sendRequest("shutdown");
    await conn?.sendNotification("exit");
  } catch {
    // the server may be gone already
  }
  conn?.dispose();
  proc?.kill("SIGTERM");
  if (proc && proc.exitCode === null) await new Promise((r) => proc.once("exit", r));
  rmSync(dir, { recursive: true, force: true });
});

describe("lulu serve, as the extension uses it", () => {
  test("a request before initialize is refused with -32002", async () => {
    await rejects(conn.sendRequest("lulu/list", {}), ErrorCodes.NotInitialized);
  });

  test("initialize takes the extension's initializationOptions and says protocol version 2", async () => {
    const result = await conn.sendRequest<{ capabilities: { experimental?: { lulu?: { protocolVersion?: number } } } }>(
      "initialize",
      {
        processId: process.pid,
        rootUri: `file://${repo}`,
        workspaceFolders: [{ uri: `file://${repo}`, name: "repo" }],
        capabilities: {},
        initializationOptions: { agents: agentProfiles(), defaultAgent: "fake-claude", maxRunning: 2 },
      },
    );
    assert.equal(result.capabilities.experimental?.lulu?.protocolVersion, 2);
    await conn.sendNotification("initialized", {});
  });

  test("lulu/agents lists the configured fake agents, available", async () => {
    const r = await conn.sendRequest<AgentsResult>("lulu/agents", {});
    assert.equal(r.defaultAgent, "fake-claude");
    for (const name of ["fake-claude", "fake-codex", "fake-text"]) {
      const a = r.agents.find((x) => x.name === name);
      assert.ok(a, `agent ${name} listed`);
      assert.equal(a.available, true, `${name} available`);
    }
  });

  let done: SessionRow;
  test("spawn: a starting row, then sessionChanged to running and completed", async () => {
    const row = await spawnSession("proto alpha [edit]");
    assert.equal(row.status, "starting");
    assert.equal(row.repo, repo);
    assert.equal(row.failureReason, undefined);
    done = await until("alpha completed", () => status(row.id, "completed"));
    assert.equal(done.failureReason, undefined);
  });

  test("watch streams the whole transcript in seq order, rendered readably", async () => {
    await conn.sendRequest("lulu/watch", { id: done.id, afterSeq: 0 });
    const events = await until("alpha's result event", () => {
      const evs = output.get(done.id) ?? [];
      return evs.some((e) => e.data && (e.data as { type?: string }).type === "result") ? evs : undefined;
    });
    assert.deepEqual(
      events.map((e) => e.seq),
      events.map((_, i) => i + 1),
      "seq 1, 2, 3... with no gap or repeat",
    );
    const transcript = await conn.sendRequest<TranscriptResult>("lulu/transcript", { id: done.id });
    assert.deepEqual(transcript.events.slice(0, events.length), events);
    const kinds = renderEvents(events).map((b) => b.kind);
    for (const k of ["assistant", "tool-call", "tool-result", "result"] as const) assert.ok(kinds.includes(k), `a ${k} block in ${kinds}`);
    const text = renderEvents(events)
      .map((b) => b.body)
      .join("\n");
    assert.match(text, /I will work on: proto alpha \[edit\]/);
    assert.match(text, /All done\./);
    await conn.sendRequest("lulu/unwatch", { id: done.id });
  });

  test("session detail: worktree, branch, base commit, outcome, exit code, cost", async () => {
    const d = await conn.sendRequest<SessionDetail>("lulu/session", { id: done.id });
    assert.equal(d.status, "completed");
    assert.equal(d.agent, "fake-claude");
    assert.equal(d.outcome, "exited");
    assert.equal(d.exitCode, 0);
    assert.ok(d.worktreePath && existsSync(d.worktreePath), "the worktree exists");
    assert.ok(d.branch);
    const head = execFileSync("git", ["rev-parse", "HEAD"], { cwd: repo, encoding: "utf8", env: { ...process.env, ...gitEnv() } }).trim();
    assert.equal(d.baseCommit, head);
    assert.equal(d.costUsd, 0.0123);
  });

  test("diff: the agent's committed edit against the base commit", async () => {
    const d = await conn.sendRequest<DiffResult>("lulu/diff", { id: done.id });
    const f = d.files.find((x) => x.path === "notes/claude.md");
    assert.ok(f, `notes/claude.md in ${JSON.stringify(d.files)}`);
    assert.equal(f.status, "added");
    assert.ok(f.additions > 0);
  });

  test("a failing agent ends failed with a one-line reason", async () => {
    const row = await spawnSession("proto beta [fail]");
    const failed = await until("beta failed", () => status(row.id, "failed"));
    assert.ok(failed.failureReason && failed.failureReason.length > 0 && failed.failureReason.length <= 120);
    assert.ok(!failed.failureReason.includes("\n"));
  });

  test("the server's blocks are what the extension shows, for each agent format (it reads no agent JSON)", async () => {
    type Simple = [string, string | undefined, string, string | undefined];
    const shown = async (prompt: string, agent: string, end: "completed" | "failed"): Promise<Simple[]> => {
      const row = await spawnSession(prompt, { agent });
      await until(`${prompt} ${end}`, () => status(row.id, end));
      const t = await conn.sendRequest<TranscriptResult>("lulu/transcript", { id: row.id });
      return renderEvents(t.events.filter((e) => e.stream === "stdout")).map((b) => [b.kind, b.title, b.body, b.facts]);
    };
    const claude = await shown("proto claude [is-error]", "fake-claude", "failed");
    assert.deepEqual(claude.at(-1), [
      "error",
      "Failed",
      'Claude reported an error: API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
      "$0.0000 · 0 in / 0 out tokens · 1 turn",
    ]);
    assert.deepEqual(claude.find((b) => b[0] === "tool-call"), ["tool-call", "Bash", "ls", undefined]);
    const codex = await shown("proto codex [edit]", "fake-codex", "completed");
    const lsOutput = (b: Simple): Simple => (b[1]?.startsWith("$ ") ? [b[0], b[1], "(ls output)", b[3]] : b);
    assert.deepEqual(codex.slice(2).map(lsOutput), [
      ["thinking", undefined, "**Planning** the change for: proto codex [edit]", undefined],
      ["tool-call", "shell", "bash -lc ls", undefined],
      ["tool-result", "$ bash -lc ls → exit 0", "(ls output)", undefined],
      ["tool-result", "Files changed", "add notes/codex.md", undefined],
      ["assistant", undefined, "Done: proto codex [edit]", undefined],
      ["result", "Result", "Turn completed", "2400 in / 180 out tokens"],
    ]);
  });

  test("cancel: a running session ends failed, outcome cancelled; remove refuses then forces", async () => {
    const row = await spawnSession("proto gamma [sleep 600]");
    await until("gamma running", () => status(row.id, "running"));
    await rejects(conn.sendRequest("lulu/remove", { id: row.id }), ErrorCodes.SessionActive);
    await conn.sendRequest<SessionRow>("lulu/cancel", { id: row.id });
    await until("gamma failed", () => status(row.id, "failed"));
    const d = await conn.sendRequest<SessionDetail>("lulu/session", { id: row.id });
    assert.equal(d.outcome, "cancelled");
    await conn.sendRequest("lulu/remove", { id: row.id, force: true });
    await until("gamma removed", () => removed.has(row.id));
    await rejects(conn.sendRequest("lulu/session", { id: row.id }), ErrorCodes.NoSuchSession);
  });

  test("list: newest first, as the tree shows it", async () => {
    const r = await conn.sendRequest<ListResult>("lulu/list", {});
    assert.ok(r.sessions.length >= 2);
    assert.deepEqual(r.sessions, [...r.sessions].sort(compareRows));
  });

  test("errors the extension shows: unknown agent, bad base, no such session", async () => {
    const m1 = await rejects(spawnSession("x", { agent: "no-such-agent" }), ErrorCodes.UnknownAgent);
    assert.match(m1, /no-such-agent/);
    const m2 = await rejects(spawnSession("x", { baseRef: "no-such-branch" }), ErrorCodes.BadBaseRef);
    assert.match(m2, /no-such-branch/);
    await rejects(conn.sendRequest("lulu/cancel", { id: "no-such-id" }), ErrorCodes.NoSuchSession);
  });
});
