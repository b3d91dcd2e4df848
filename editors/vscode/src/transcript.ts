// Transcript rendering: TranscriptEvents into readable blocks, and blocks into HTML for the
// session view. The server reads the agents' JSON (`TranscriptEvent.blocks`); this file
// never parses Claude's or Codex's JSON itself. Pure: no `vscode` import, checked by node's
// test runner.

import { ansiToHtml } from "./ansi";
import { markdownToHtml } from "./markdown";
import type { EventBlock, TranscriptEvent } from "./protocol";

export type BlockKind =
  | "assistant" // what the agent says (Markdown)
  | "thinking" // its reasoning, dimmed
  | "tool-call" // a tool it calls, a command it runs
  | "tool-result" // what came back
  | "result" // the run's summary (cost, tokens)
  | "error" // an error the agent reported, a failed tool or run
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
  /** Cost, tokens, turns of a result, shown apart from its text. */
  facts?: string;
}

/** Tool results and command outputs longer than this many lines fold the rest away. */
export const MAX_RESULT_LINES = 40;

export function formatCost(usd: number | undefined): string | undefined {
  return usd === undefined ? undefined : `$${usd.toFixed(usd < 1 ? 4 : 2)}`;
}

function formatTokens(input: number | undefined, output: number | undefined): string | undefined {
  if (input === undefined && output === undefined) return undefined;
  return `${input ?? 0} in / ${output ?? 0} out tokens`;
}

function resultFacts(b: EventBlock): string | undefined {
  const facts = [
    formatCost(b.costUsd),
    formatTokens(b.inputTokens, b.outputTokens),
    b.turns !== undefined ? `${b.turns} turn${b.turns === 1 ? "" : "s"}` : undefined,
  ].filter((f): f is string => f !== undefined);
  return facts.length ? facts.join(" · ") : undefined;
}

/** One server block as a view block. */
function fromServer(seq: number, b: EventBlock): Block {
  switch (b.kind) {
    case "assistant":
    case "thinking":
    case "meta":
    case "text":
      return { seq, kind: b.kind, body: b.text };
    case "toolUse":
      return { seq, kind: "tool-call", title: b.tool ?? "Tool", body: b.input ?? "" };
    case "toolResult": {
      const command = b.tool === "shell" && b.input !== undefined;
      const title = command
        ? `$ ${b.input}${b.exitCode !== undefined ? ` → exit ${b.exitCode}` : ""}`
        : b.tool === "files"
          ? "Files changed"
          : b.isError
            ? "Tool error"
            : "Result";
      return { seq, kind: b.isError ? "error" : "tool-result", title, body: b.text.replace(/\n$/, "") };
    }
    case "result":
      return { seq, kind: "result", title: "Result", body: b.text, facts: resultFacts(b) };
    case "error":
      return { seq, kind: "error", title: "Failed", body: b.text, facts: resultFacts(b) };
    default:
      return { seq, kind: "text", body: b.text };
  }
}

/**
 * The readable blocks of one event: lulu's lifecycle lines, stderr, the server's reading
 * of agent JSON (`blocks`), else the event's own readable `text`. An event may render as
 * no block (Codex's `item.updated`, superseded by `item.completed`).
 */
export function renderEvent(ev: TranscriptEvent): Block[] {
  if (ev.stream === "lulu") return [{ seq: ev.seq, kind: "lifecycle", body: ev.text }];
  if (ev.stream === "stderr") return [{ seq: ev.seq, kind: "stderr", body: ev.text }];
  if (ev.blocks) return ev.blocks.map((b) => fromServer(ev.seq, b));
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

/** Output as HTML: ANSI colours as colours, links marked, long output folded after `max` lines. */
export function outputHtml(text: string, max = MAX_RESULT_LINES): string {
  const lines = text.split("\n");
  if (lines.length <= max) return `<pre class="ev-body">${ansiToHtml(text)}</pre>`;
  const more = lines.length - max;
  return (
    `<pre class="ev-body">${ansiToHtml(lines.slice(0, max).join("\n"))}</pre>` +
    `<details class="more"><summary>${more} more line${more === 1 ? "" : "s"}</summary>` +
    `<pre class="ev-body">${ansiToHtml(lines.slice(max).join("\n"))}</pre></details>`
  );
}

function bodyHtml(block: Block): string {
  if (!block.body) return "";
  if (block.kind === "assistant") return `<div class="ev-body md">${markdownToHtml(block.body)}</div>`;
  if (block.kind === "tool-result" || block.kind === "text" || block.kind === "stderr" || block.kind === "error") {
    return outputHtml(block.body);
  }
  return `<pre class="ev-body">${ansiToHtml(block.body)}</pre>`;
}

/**
 * One block. A block that continues a run of its kind and heading (`showTitle` false) has
 * no heading of its own and the class `cont`; `data-head` keeps the heading, so the page
 * can join runs across the batches it receives.
 */
export function blockToHtml(block: Block, showTitle = true): string {
  const label = block.title ?? KIND_LABEL[block.kind];
  const head = label && showTitle ? `<div class="ev-title">${escapeHtml(label)}</div>` : "";
  const facts = block.facts ? `<div class="ev-facts">${escapeHtml(block.facts)}</div>` : "";
  const cont = label && !showTitle ? " cont" : "";
  return `<div class="ev ev-${block.kind}${cont}" data-seq="${block.seq}" data-head="${escapeHtml(label)}">${head}${bodyHtml(block)}${facts}</div>`;
}

/**
 * Blocks as HTML. A run of blocks of one kind and heading (lines of plain output, an
 * agent's consecutive messages) shows its heading once: `after` is the last block already
 * on the page, so a batch continues the run it follows.
 */
export function blocksToHtml(blocks: readonly Block[], after?: { kind: BlockKind; title?: string }): string {
  let previous = after;
  return blocks
    .map((b) => {
      const same = previous !== undefined && previous.kind === b.kind && previous.title === b.title;
      previous = b;
      return blockToHtml(b, !same);
    })
    .join("");
}

export function eventsToHtml(events: readonly TranscriptEvent[], after?: { kind: BlockKind; title?: string }): string {
  return blocksToHtml(renderEvents(events), after);
}
