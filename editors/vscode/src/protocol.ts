// The Lulu wire protocol, version 1: the types of docs/protocol.md, mirrored.
// This file is the only place the extension names the wire's methods and shapes.
// It imports nothing from `vscode`, so node's test runner can load it.

export const PROTOCOL_VERSION = 1;

export type Status = "starting" | "running" | "completed" | "failed";
export const STATUSES: readonly Status[] = ["starting", "running", "completed", "failed"];

export type Outcome =
  | "exited"
  | "signaled"
  | "cancelled"
  | "spawn_failed"
  | "worktree_failed"
  | "agent_error"
  | "interrupted"
  | "setup_failed";

export type AgentFormat = "claude-stream-json" | "codex-json" | "text";

/** What a dashboard row needs, and nothing more. */
export interface SessionRow {
  id: string;
  name: string;
  repo: string;
  status: Status;
  /** RFC 3339, UTC. */
  createdAt: string;
  /** RFC 3339: last output line, or the last status change. */
  lastActivityAt: string;
  /** Present iff status is "failed": one line, at most 120 chars. */
  failureReason?: string;
}

export interface SessionDetail extends SessionRow {
  prompt: string;
  agent: string;
  command: string[];
  worktreePath: string | null;
  branch: string | null;
  baseCommit: string | null;
  startedAt: string | null;
  endedAt: string | null;
  outcome: Outcome | null;
  exitCode: number | null;
  signal: number | null;
  failureDetail: string | null;
  agentSessionId: string | null;
  costUsd: number | null;
  inputTokens: number | null;
  outputTokens: number | null;
  /** Ports leased to the current run (protocol 2; absent from older servers). */
  ports?: number[];
  /** lulu extension: gc removed the worktree of this ended session (worktreePath is null). */
  worktreeGone?: boolean;
}

export type TranscriptStream = "stdout" | "stderr" | "lulu";

export interface TranscriptEvent {
  seq: number;
  at: string;
  stream: TranscriptStream;
  /** "text", "init", "assistant", "tool_use", "tool_result", "result", "status", "raw", ... */
  kind: string;
  text: string;
  data?: Record<string, unknown>;
}

export interface AgentProfile {
  command: string[];
  format: AgentFormat;
  env?: Record<string, string>;
}

export interface InitializationOptions {
  stateDir?: string;
  worktreeDir?: string;
  maxRunning?: number;
  defaultAgent?: string;
  agents?: Record<string, AgentProfile>;
}

export interface LuluCapabilities {
  protocolVersion: number;
}

// ---- requests ---------------------------------------------------------------

export interface SpawnParams {
  prompt: string;
  name?: string;
  agent?: string;
  baseRef?: string;
  repo?: string;
}

export interface ListParams {
  limit?: number;
  before?: string;
  repo?: string;
  allRepos?: boolean;
}
export interface ListResult {
  sessions: SessionRow[];
  next: string | null;
}

export interface IdParams {
  id: string;
}

export interface TranscriptParams {
  id: string;
  afterSeq?: number;
  limit?: number;
}
export interface TranscriptResult {
  events: TranscriptEvent[];
  lastSeq: number;
}

export interface WatchParams {
  id: string;
  afterSeq?: number;
}

export interface ContinueParams {
  id: string;
  prompt: string;
}

export interface RemoveParams {
  id: string;
  force?: boolean;
  deleteBranch?: boolean;
}

export type DiffFileStatus = "added" | "modified" | "deleted" | "renamed";
export interface DiffFile {
  path: string;
  status: DiffFileStatus;
  oldPath?: string;
  additions: number;
  deletions: number;
}
export interface DiffResult {
  baseCommit: string;
  files: DiffFile[];
}

export interface AgentInfo {
  name: string;
  command: string[];
  format: string;
  available: boolean;
}
export interface AgentsResult {
  agents: AgentInfo[];
  defaultAgent: string;
}

/** Request method names with their params and results. */
export interface Requests {
  "lulu/spawn": [SpawnParams, SessionRow];
  "lulu/list": [ListParams, ListResult];
  "lulu/session": [IdParams, SessionDetail];
  "lulu/transcript": [TranscriptParams, TranscriptResult];
  "lulu/watch": [WatchParams, Record<string, never>];
  "lulu/unwatch": [IdParams, Record<string, never>];
  "lulu/cancel": [IdParams, SessionRow];
  "lulu/continue": [ContinueParams, SessionRow];
  "lulu/remove": [RemoveParams, Record<string, never>];
  "lulu/diff": [IdParams, DiffResult];
  "lulu/agents": [Record<string, never>, AgentsResult];
  "lulu/trust": [TrustParams, Record<string, never>];
}

export interface TrustParams {
  repo: string;
  setupHash: string;
}

/** The `data` of error -32021: the setup command to show the user before trusting it. */
export interface UntrustedSetup {
  repo: string;
  setup: string;
  setupHash: string;
}
export type RequestMethod = keyof Requests;

// ---- notifications (server to client) ----------------------------------------

export interface SessionChangedParams {
  session: SessionRow;
}
export interface SessionRemovedParams {
  id: string;
}
export interface OutputParams {
  id: string;
  events: TranscriptEvent[];
}

export interface Notifications {
  "lulu/sessionChanged": SessionChangedParams;
  "lulu/sessionRemoved": SessionRemovedParams;
  "lulu/output": OutputParams;
}
export type NotificationMethod = keyof Notifications;

// ---- errors --------------------------------------------------------------------

export const ErrorCodes = {
  ParseError: -32700,
  InvalidParams: -32602,
  MethodNotFound: -32601,
  NoSuchSession: -32001,
  NotInitialized: -32002,
  SessionActive: -32010,
  UnsavedWork: -32011,
  NotARepository: -32012,
  UnknownAgent: -32013,
  BadBaseRef: -32014,
  SetupNotTrusted: -32021,
} as const;

/** The JSON-RPC error code of a rejected request, if it is one. */
export function errorCode(err: unknown): number | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === "number" ? code : undefined;
  }
  return undefined;
}

/** The readable message of any error thrown by a request. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === "object" && err !== null && "message" in err) {
    return String((err as { message: unknown }).message);
  }
  return String(err);
}

/** Newest first: `createdAt` descending, then `id` descending (the order of `lulu/list`). */
export function compareRows(a: SessionRow, b: SessionRow): number {
  const ta = Date.parse(a.createdAt);
  const tb = Date.parse(b.createdAt);
  if (ta !== tb) return tb - ta;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export function isEnded(status: Status): boolean {
  return status === "completed" || status === "failed";
}
