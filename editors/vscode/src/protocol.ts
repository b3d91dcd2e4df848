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
  | "interrupted";

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
}

export type TranscriptStream = "stdout" | "stderr" | "lulu";

export interface TranscriptEvent {
  seq: number;
  at: string;
  stream: TranscriptStream;
  /** "text", "init", "assistant", "tool_use", "tool_result", "result", "status", "raw", ... */
  kind: string;
  text: string;
  /** The agent's JSON as it printed it. The extension never reads it: it shows `blocks`. */
  data?: Record<string, unknown>;
  /** What to show of agent JSON, read by the server (docs/protocol.md, lulu's addition). */
  blocks?: EventBlock[];
}

export type EventBlockKind = "assistant" | "thinking" | "toolUse" | "toolResult" | "result" | "error" | "meta" | "text";

/** One readable block of an event, as the server read the agent's JSON. */
export interface EventBlock {
  kind: EventBlockKind;
  text: string;
  tool?: string;
  input?: string;
  isError?: boolean;
  exitCode?: number;
  costUsd?: number;
  inputTokens?: number;
  outputTokens?: number;
  turns?: number;
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
/** A review comment on a session's diff: a draft until `lulu/review` sends it. */
export interface Comment {
  commentId: string;
  /** Relative to the session's worktree. */
  path: string;
  /** 1-based, in the file of `side`. */
  line: number;
  side: "new" | "old";
  text: string;
  createdAt: string;
  /** null while it is a draft. */
  sentAt: string | null;
}

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
  "lulu/comment": [{ id: string; path: string; line: number; text: string; side?: "new" | "old" }, Comment];
  "lulu/comments": [{ id: string }, { comments: Comment[] }];
  "lulu/uncomment": [{ id: string; commentId: string }, Record<string, never>];
  "lulu/review": [{ id: string; message?: string }, SessionRow];
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
  "lulu/commentsChanged": { id: string };
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
