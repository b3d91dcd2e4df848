// Generated from server/lsp/src/protocol by `LULU_BLESS=1 cargo test -p lulu-lsp generated_client_files`. Do not edit.

export const PROTOCOL_VERSION = 2;

export type Status = "starting" | "running" | "completed" | "failed";
export type Outcome = "exited" | "signaled" | "cancelled" | "spawn_failed" | "worktree_failed" | "agent_error" | "interrupted" | "over_budget" | "setup_failed";
export type TranscriptStream = "stdout" | "stderr" | "lulu";
export type AgentFormat = "claude-stream-json" | "codex-json" | "text";
export type DiffFileStatus = "added" | "modified" | "deleted" | "renamed";
export type EventBlockKind = "assistant" | "thinking" | "toolUse" | "toolResult" | "result" | "error" | "meta" | "text";
export type LandStrategy = "squash" | "rebase" | "merge";

/**
 * What a dashboard row needs, and nothing more.
 */
export type SessionRow = { id: string, name: string, repo: string, 
/**
 * `starting`, `running`, `completed` or `failed`.
 */
status: Status, createdAt: string, lastActivityAt: string, 
/**
 * Present iff `status` is `failed`.
 */
failureReason?: string, };

/**
 * One run of a session: its prompt, times, outcome and the agent's report as it stood at the
 * run's end (Claude reports the conversation's total cost, all runs so far).
 */
export type RunSummary = { run: number, prompt: string, queuedAt: string, status: Status, startedAt: string | null, endedAt: string | null, outcome: Outcome | null, failureReason: string | null, costUsd: number | null, inputTokens: number | null, outputTokens: number | null, };

/**
 * Every `SessionRow` field, and the whole story of the session.
 */
export type SessionDetail = { prompt: string, agent: string, command: Array<string>, worktreePath: string | null, branch: string | null, baseCommit: string | null, startedAt: string | null, endedAt: string | null, outcome: Outcome | null, exitCode: number | null, signal: number | null, failureDetail: string | null, agentSessionId: string | null, costUsd: number | null, inputTokens: number | null, outputTokens: number | null, 
/**
 * Open permission requests, oldest first (filled in by the handler).
 */
pendingApprovals: Array<Approval>, 
/**
 * Every run, first run first (filled in by the handler; a lulu extension of version 2,
 * so optional to clients).
 */
runs?: Array<RunSummary>, maxCostUsd: number | null, maxMinutes: number | null, id: string, name: string, repo: string, 
/**
 * `starting`, `running`, `completed` or `failed`.
 */
status: Status, createdAt: string, lastActivityAt: string, 
/**
 * Present iff `status` is `failed`.
 */
failureReason?: string, baseBranch: string | null, ahead: number | null, behind: number | null, landed: Landed | null, 
/**
 * Ports leased to the session's current run; empty when none (or once it ended).
 */
ports: Array<number>, 
/**
 * lulu extension: `lulu gc` removed the worktree of this ended session (`worktreePath` is
 * then null); `lulu/continue` re-creates it from the session's branch.
 */
worktreeGone: boolean, };

/**
 * One transcript line.
 */
export type TranscriptEvent = { seq: number, at: string, 
/**
 * `stdout`, `stderr` or `lulu`.
 */
stream: TranscriptStream, kind: string, text: string, 
/**
 * The parsed agent JSON, when the line was JSON.
 */
data?: Record<string, unknown>, 
/**
 * What a client shows of agent JSON, read by the server (docs/protocol.md): present
 * when `data` is a line of Claude's or Codex's JSON that lulu knows.
 */
blocks?: Array<EventBlock>, };

/**
 * One readable block of an event (`TranscriptEvent.blocks`).
 */
export type EventBlock = { 
/**
 * `assistant`, `thinking`, `toolUse`, `toolResult`, `result`, `error`, `meta`, `text`.
 */
kind: EventBlockKind, text: string, tool?: string, input?: string, isError?: boolean, exitCode?: number, costUsd?: number, inputTokens?: number, outputTokens?: number, turns?: number, };

/**
 * An agent profile in `initializationOptions.agents`.
 */
export type AgentProfileParams = { command: Array<string>, format: AgentFormat, env?: { [key in string]: string }, 
/**
 * `"stream-json"`: the runner hosts the agent (approvals, messages).
 */
input?: "stream-json" | "closed", 
/**
 * Seconds, or a text such as `"30m"` or `"none"`.
 */
approvalTimeout?: number | string, maxCostUsd?: number, maxMinutes?: number, };

/**
 * `initializationOptions` of `initialize`; every field is optional.
 */
export type InitializationOptions = { stateDir?: string, worktreeDir?: string, maxRunning?: number, defaultAgent?: string, agents?: { [key in string]: AgentProfileParams }, };

export type SpawnParams = { prompt: string, name?: string, agent?: string, baseRef?: string, repo?: string, maxCostUsd?: number, maxMinutes?: number, };

export type ListParams = { limit?: number, before?: string, repo?: string, allRepos?: boolean, };

export type ListResult = { sessions: Array<SessionRow>, next: string | null, };

/**
 * The params of `lulu/session`, `lulu/unwatch`, `lulu/cancel` and `lulu/diff`.
 */
export type IdParams = { id: string, };

export type TranscriptParams = { id: string, afterSeq?: number, limit?: number, };

export type TranscriptResult = { events: Array<TranscriptEvent>, lastSeq: number, };

export type WatchParams = { id: string, afterSeq?: number, };

export type ContinueParams = { id: string, prompt: string, };

export type RemoveParams = { id: string, force?: boolean, deleteBranch?: boolean, };

/**
 * `{}`: the result of `lulu/watch`, `lulu/unwatch`, `lulu/remove`, and the params of
 * `lulu/agents`.
 */
export type Empty = Record<symbol, never>;

export type FileChange = { path: string, 
/**
 * `added`, `modified`, `deleted` or `renamed`.
 */
status: DiffFileStatus, oldPath?: string, additions: number, deletions: number, };

export type DiffResult = { baseCommit: string, files: Array<FileChange>, };

export type AgentInfo = { name: string, command: Array<string>, format: string, available: boolean, 
/**
 * `"stream-json"` when the agent can ask for approvals and take messages, else `"closed"`.
 */
input: "stream-json" | "closed", };

export type AgentsResult = { agents: Array<AgentInfo>, defaultAgent: string, };

/**
 * `SessionDetail.landed`.
 */
export type Landed = { into: string, commit: string, strategy: LandStrategy, at: string, };

/**
 * The landing fields of `SessionDetail` (flattened into it).
 */
export type BranchDetail = { baseBranch: string | null, ahead: number | null, behind: number | null, landed: Landed | null, };

export type LandParams = { id: string, 
/**
 * `squash` (default), `rebase` or `merge`.
 */
strategy?: LandStrategy, into?: string, message?: string, };

export type LandResult = { into: string, commit: string, strategy: LandStrategy, files: number, };

export type SyncParams = { id: string, agentResolves?: boolean, };

export type SyncResult = { 
/**
 * `upToDate`, `synced` or `conflicts`.
 */
result: "upToDate" | "synced" | "conflicts", files: Array<string>, session: SessionRow, };

export type PullRequestParams = { title?: string, body?: string, draft?: boolean, };

export type PushParams = { id: string, remote?: string, pullRequest?: PullRequestParams, };

export type PushResult = { remote: string, branch: string, url: string | null, };

/**
 * The params of `lulu/trust`.
 */
export type TrustParams = { 
/**
 * Any path inside the repository (the `repo` of the -32021 error's data).
 */
repo: string, 
/**
 * The `setupHash` of the -32021 error's data.
 */
setupHash: string, };

/**
 * The data of error -32021.
 */
export type UntrustedSetupData = { repo: string, setup: string, setupHash: string, };

/**
 * The params of `lulu/gc` (lulu extension).
 */
export type GcParams = { 
/**
 * An age: `7d`, `12h`, `30m`, `45s`.
 */
olderThan: string, dryRun?: boolean, 
/**
 * Also remove ignored files that are in no commit and not in the main checkout (build
 * output, an edited `.env`); without it such a worktree is kept, its reason naming them.
 */
includeIgnored?: boolean, };

export type GcRemoved = { id: string, worktreePath: string, };

export type GcKept = { id: string, reason: string, };

/**
 * The result of `lulu/gc`.
 */
export type GcResult = { removed: Array<GcRemoved>, kept: Array<GcKept>, };

export type SessionChangedParams = { session: SessionRow, };

export type SessionRemovedParams = { id: string, };

export type OutputParams = { id: string, events: Array<TranscriptEvent>, };

/**
 * The side of the diff a comment is on: `new` (the worktree's file) or `old` (the base's).
 * Parsed strictly, so a wrong value is an error naming the field.
 */
export type CommentSide = "new" | "old";

/**
 * A review comment on the session's diff.
 */
export type Comment = { commentId: string, path: string, line: number, 
/**
 * `new` or `old`.
 */
side: CommentSide, text: string, createdAt: string, 
/**
 * `null` while it is a draft.
 */
sentAt: string | null, };

export type CommentParams = { id: string, path: string, line: number, text: string, side?: CommentSide, };

export type CommentsResult = { comments: Array<Comment>, };

export type UncommentParams = { id: string, commentId: string, };

export type ReviewParams = { id: string, message?: string, };

export type CommentsChangedParams = { id: string, };

/**
 * An open permission request of an agent.
 */
export type Approval = { approvalId: string, sessionId: string, tool: string, input: Record<string, unknown>, summary: string, requestedAt: string, };

export type ApprovalsParams = { id?: string, };

export type ApprovalsResult = { approvals: Array<Approval>, };

export type ApproveParams = { approvalId: string, allow: boolean, message?: string, };

export type SendParams = { id: string, text: string, };

export type ApprovalRequestedParams = { approval: Approval, };

export type ApprovalResolvedParams = { approvalId: string, sessionId: string, allowed: boolean, 
/**
 * `user`, `timeout` or `cancel`.
 */
by: "user" | "timeout" | "cancel", };

/** Request method names with their params and results. */
export interface Requests {
  "lulu/spawn": [SpawnParams, SessionRow];
  "lulu/list": [ListParams, ListResult];
  "lulu/session": [IdParams, SessionDetail];
  "lulu/transcript": [TranscriptParams, TranscriptResult];
  "lulu/watch": [WatchParams, Empty];
  "lulu/unwatch": [IdParams, Empty];
  "lulu/cancel": [IdParams, SessionRow];
  "lulu/continue": [ContinueParams, SessionRow];
  "lulu/remove": [RemoveParams, Empty];
  "lulu/diff": [IdParams, DiffResult];
  "lulu/agents": [Empty, AgentsResult];
  "lulu/approvals": [ApprovalsParams, ApprovalsResult];
  "lulu/approve": [ApproveParams, Empty];
  "lulu/send": [SendParams, Empty];
  "lulu/land": [LandParams, LandResult];
  "lulu/sync": [SyncParams, SyncResult];
  "lulu/push": [PushParams, PushResult];
  "lulu/trust": [TrustParams, Empty];
  "lulu/gc": [GcParams, GcResult];
  "lulu/comment": [CommentParams, Comment];
  "lulu/comments": [IdParams, CommentsResult];
  "lulu/uncomment": [UncommentParams, Empty];
  "lulu/review": [ReviewParams, SessionRow];
}
export type RequestMethod = keyof Requests;

/** Notification method names with their params. */
export interface Notifications {
  "lulu/sessionChanged": SessionChangedParams;
  "lulu/sessionRemoved": SessionRemovedParams;
  "lulu/output": OutputParams;
  "lulu/commentsChanged": CommentsChangedParams;
  "lulu/approvalRequested": ApprovalRequestedParams;
  "lulu/approvalResolved": ApprovalResolvedParams;
}
export type NotificationMethod = keyof Notifications;

/** Every error code, by the one name all clients use. */
export const ErrorCodes = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  NoSuchSession: -32001,
  NotInitialized: -32002,
  SessionActive: -32010,
  WouldLoseWork: -32011,
  BadRepository: -32012,
  UnknownAgent: -32013,
  BadBaseRef: -32014,
  Conflicts: -32015,
  NothingToLand: -32016,
  ProgramMissing: -32017,
  ProgramFailed: -32018,
  NotRunning: -32019,
  AgentCannotTake: -32020,
  SetupNotTrusted: -32021,
} as const;
