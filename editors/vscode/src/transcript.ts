// Transcript rendering: TranscriptEvents (claude-stream-json, codex-json, text, and
// lulu's own lifecycle lines) into readable blocks, and blocks into HTML for the session
// view. Pure: no `vscode` import, checked by node's test runner.

import type { TranscriptEvent } from "./protocol";

export type BlockKind =
  | "assistant" // what the agent says
  | "thinking" // its reasoning, dimmed
  | "tool-call" // a tool it calls, a command it runs
  | "tool-result" // what came back
  | "result" // the run's summary (cost, tokens)
  | "error" // an error the agent reported
  | "stderr" // the agent's stderr, set apart
  | "lifecycle" // lines lulu itself wrote (started, exited, cancelled...)
  | "meta" // agent bookkeeping (session started, turn started)
  | "text"; // plain output

export interface Block {
  seq: number;
  kind: BlockKind;
  /** A short heading (tool name, "Result"...), when the block has one. */
  title?: string;
  body: string;
}

/** Tool results and command outputs longer than this many lines are cut in the view. */
export const MAX_RESULT_LINES = 40;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}
function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** Keeps the first MAX_RESULT_LINES lines and says how many were left out. */
export function clipLines(text: string, max = MAX_RESULT_LINES): string {
  const lines = text.split("\n");
  if (lines.length <= max) return text;
  const more = lines.length - max;
  return `${lines.slice(0, max).join("\n")}\n… ${more} more line${more === 1 ? "" : "s"}`;
}

/** A tool's input in one readable line: the usual argument when there is one, else JSON. */
export function summarizeToolInput(input: unknown): string {
  if (!isObject(input)) return input === undefined ? "" : JSON.stringify(input);
  for (const key of ["command", "file_path", "path", "pattern", "url", "query", "description"]) {
    const v = str(input[key]);
    if (v !== undefined) return v;
  }
  const json = JSON.stringify(input);
  return json.length > 200 ? `${json.slice(0, 199)}…` : json;
}

function toolResultText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => (isObject(part) ? (str(part.text) ?? JSON.stringify(part)) : String(part)))
      .join("\n");
  }
  return content === undefined ? "" : JSON.stringify(content);
}

function formatCost(usd: number | undefined): string | undefined {
  return usd === undefined ? undefined : `$${usd.toFixed(usd < 1 ? 4 : 2)}`;
}

function formatTokens(input: number | undefined, output: number | undefined): string | undefined {
  if (input === undefined && output === undefined) return undefined;
  return `${input ?? 0} in / ${output ?? 0} out tokens`;
}

function claudeBlocks(seq: number, data: Json): Block[] | undefined {
  const type = str(data.type);
  if (type === "system") {
    if (data.subtype === "init") {
      const model = str(data.model);
      return [{ seq, kind: "meta", body: `Claude session started${model ? ` · ${model}` : ""}` }];
    }
    return [{ seq, kind: "meta", body: `system: ${str(data.subtype) ?? "event"}` }];
  }
  if (type === "assistant" || type === "user") {
    const message = isObject(data.message) ? data.message : undefined;
    const content = message?.content;
    if (typeof content === "string") {
      return [{ seq, kind: type === "assistant" ? "assistant" : "text", body: content }];
    }
    if (!Array.isArray(content)) return undefined;
    const blocks: Block[] = [];
    for (const part of content) {
      if (!isObject(part)) continue;
      switch (part.type) {
        case "text":
          blocks.push({ seq, kind: type === "assistant" ? "assistant" : "text", body: str(part.text) ?? "" });
          break;
        case "thinking":
          blocks.push({ seq, kind: "thinking", body: str(part.thinking) ?? "" });
          break;
        case "tool_use":
          blocks.push({
            seq,
            kind: "tool-call",
            title: str(part.name) ?? "tool",
            body: summarizeToolInput(part.input),
          });
          break;
        case "tool_result": {
          const isError = part.is_error === true;
          blocks.push({
            seq,
            kind: isError ? "error" : "tool-result",
            title: isError ? "Tool error" : "Result",
            body: clipLines(toolResultText(part.content)),
          });
          break;
        }
        default:
          blocks.push({ seq, kind: "meta", body: `${String(part.type)} block` });
      }
    }
    return blocks;
  }
  if (type === "result") {
    const failed = data.is_error === true || (str(data.subtype) ?? "success") !== "success";
    const usage = isObject(data.usage) ? data.usage : {};
    const facts = [
      str(data.subtype) ?? (failed ? "error" : "success"),
      formatCost(num(data.total_cost_usd)),
      formatTokens(num(usage.input_tokens), num(usage.output_tokens)),
      num(data.num_turns) !== undefined ? `${num(data.num_turns)} turns` : undefined,
    ].filter((f): f is string => f !== undefined);
    const result = str(data.result);
    return [
      {
        seq,
        kind: failed ? "error" : "result",
        title: failed ? "Failed" : "Result",
        body: [facts.join(" · "), ...(result ? [result] : [])].join("\n"),
      },
    ];
  }
  return undefined;
}

function codexItemBlocks(seq: number, phase: string, item: Json): Block[] {
  const itemType = str(item.type) ?? "item";
  if (phase === "updated") return []; // the completed item says it all
  switch (itemType) {
    case "agent_message":
      return phase === "completed" ? [{ seq, kind: "assistant", body: str(item.text) ?? "" }] : [];
    case "reasoning":
      return phase === "completed" ? [{ seq, kind: "thinking", body: str(item.text) ?? "" }] : [];
    case "command_execution": {
      const command = str(item.command) ?? "";
      if (phase === "started") return [{ seq, kind: "tool-call", title: "Run", body: `$ ${command}` }];
      const exit = num(item.exit_code);
      const failed = item.status === "failed" || (exit !== undefined && exit !== 0);
      const output = str(item.aggregated_output) ?? "";
      return [
        {
          seq,
          kind: failed ? "error" : "tool-result",
          title: `$ ${command}${exit !== undefined ? ` → exit ${exit}` : ""}`,
          body: clipLines(output.replace(/\n$/, "")),
        },
      ];
    }
    case "file_change": {
      if (phase !== "completed") return [];
      const changes = Array.isArray(item.changes) ? item.changes : [];
      const lines = changes.map((c) => (isObject(c) ? `${str(c.kind) ?? "change"} ${str(c.path) ?? "?"}` : String(c)));
      return [{ seq, kind: "tool-result", title: "Files changed", body: lines.join("\n") }];
    }
    case "mcp_tool_call":
      return phase === "started"
        ? [{ seq, kind: "tool-call", title: `${str(item.server) ?? "mcp"}.${str(item.tool) ?? "tool"}`, body: "" }]
        : [{ seq, kind: "tool-result", title: `${str(item.server) ?? "mcp"}.${str(item.tool) ?? "tool"}`, body: str(item.status) ?? "" }];
    case "web_search":
      return phase === "started" ? [{ seq, kind: "tool-call", title: "Web search", body: str(item.query) ?? "" }] : [];
    case "todo_list": {
      if (phase !== "completed" && phase !== "started") return [];
      const items = Array.isArray(item.items) ? item.items : [];
      const lines = items.map((t) => (isObject(t) ? `${t.completed === true ? "[x]" : "[ ]"} ${str(t.text) ?? ""}` : String(t)));
      return [{ seq, kind: "meta", title: "Plan", body: lines.join("\n") }];
    }
    case "error":
      return [{ seq, kind: "error", title: "Error", body: str(item.message) ?? "" }];
    default:
      return phase === "completed" ? [{ seq, kind: "meta", body: `${itemType}` }] : [];
  }
}

function codexBlocks(seq: number, data: Json): Block[] | undefined {
  const type = str(data.type);
  if (type === undefined) return undefined;
  if (type === "thread.started") {
    return [{ seq, kind: "meta", body: `Codex thread started${str(data.thread_id) ? ` · ${str(data.thread_id)}` : ""}` }];
  }
  if (type === "turn.started") return [{ seq, kind: "meta", body: "Turn started" }];
  if (type === "turn.completed") {
    const usage = isObject(data.usage) ? data.usage : {};
    const tokens = formatTokens(num(usage.input_tokens), num(usage.output_tokens));
    return [{ seq, kind: "result", title: "Turn completed", body: tokens ?? "" }];
  }
  if (type === "turn.failed") {
    const error = isObject(data.error) ? data.error : {};
    return [{ seq, kind: "error", title: "Turn failed", body: str(error.message) ?? JSON.stringify(data.error ?? "") }];
  }
  if (type === "error") return [{ seq, kind: "error", title: "Error", body: str(data.message) ?? "" }];
  const m = /^item\.(started|updated|completed)$/.exec(type);
  if (m && isObject(data.item)) return codexItemBlocks(seq, m[1], data.item);
  return undefined;
}

/**
 * The readable blocks of one event. JSON an agent printed (`data`) is rendered by its
 * shape, Claude's or Codex's; anything else, and any shape this build does not know,
 * falls back on the server's own readable `text`. An event may render as no block
 * (Codex's `item.updated`, superseded by `item.completed`).
 */
export function renderEvent(ev: TranscriptEvent): Block[] {
  if (ev.stream === "lulu") return [{ seq: ev.seq, kind: "lifecycle", body: ev.text }];
  if (ev.stream === "stderr") return [{ seq: ev.seq, kind: "stderr", body: ev.text }];
  if (isObject(ev.data)) {
    const blocks = claudeBlocks(ev.seq, ev.data) ?? codexBlocks(ev.seq, ev.data);
    if (blocks !== undefined) return blocks;
  }
  return [{ seq: ev.seq, kind: "text", body: ev.text }];
}

export function renderEvents(events: readonly TranscriptEvent[]): Block[] {
  return events.flatMap(renderEvent);
}

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const KIND_LABEL: Readonly<Record<BlockKind, string>> = {
  assistant: "Assistant",
  thinking: "Thinking",
  "tool-call": "Tool",
  "tool-result": "Result",
  result: "Result",
  error: "Error",
  stderr: "stderr",
  lifecycle: "lulu",
  meta: "",
  text: "",
};

export function blockToHtml(block: Block): string {
  const label = block.title ?? KIND_LABEL[block.kind];
  const head = label ? `<div class="ev-title">${escapeHtml(label)}</div>` : "";
  const body = block.body ? `<pre class="ev-body">${escapeHtml(block.body)}</pre>` : "";
  return `<div class="ev ev-${block.kind}" data-seq="${block.seq}">${head}${body}</div>`;
}

export function eventsToHtml(events: readonly TranscriptEvent[]): string {
  return renderEvents(events).map(blockToHtml).join("");
}
