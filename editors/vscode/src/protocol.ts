// The Lulu wire protocol as this extension uses it. Every shape, method map and error code is
// generated from the server's own Rust types (src/generated/protocol.ts, checked for drift by the
// server's tests); this file adds the helpers the extension needs and nothing that names the wire.
// It imports nothing from `vscode`, so node's test runner can load it.

export * from "./generated/protocol";
import type { AgentProfileParams, FileChange, SessionRow, Status } from "./generated/protocol";

export const STATUSES: readonly Status[] = ["starting", "running", "completed", "failed"];

/** An agent profile of `initializationOptions.agents`. */
export type AgentProfile = AgentProfileParams;
/** One changed file of `lulu/diff`. */
export type DiffFile = FileChange;

/** `capabilities.experimental.lulu` of the `initialize` result. */
export interface LuluCapabilities {
  protocolVersion: number;
}

/** The JSON-RPC error code of a rejected request, if it is one. */
export function errorCode(err: unknown): number | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === "number" ? code : undefined;
  }
  return undefined;
}

/** The `data` of a rejected request's error (e.g. `{ files }` of a refused landing), if any. */
export function errorData(err: unknown): unknown {
  if (typeof err === "object" && err !== null && "data" in err) return (err as { data: unknown }).data;
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
