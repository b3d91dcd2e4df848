import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import type { TranscriptEvent } from "../../src/protocol";
import { type Block, blockToHtml, clipLines, escapeHtml, eventsToHtml, renderEvent, renderEvents } from "../../src/transcript";

const AGENTS = path.resolve(__dirname, "../../../../tests/fixtures/agents");

function ev(seq: number, over: Partial<TranscriptEvent>): TranscriptEvent {
  return { seq, at: "2026-11-25T12:00:00Z", stream: "stdout", kind: "raw", text: "", ...over };
}

/** Runs a scripted fake agent (tests/fixtures/agents) and makes its stdout lines events, as the server does. */
function agentEvents(agent: string, args: string[]): TranscriptEvent[] {
  const cwd = mkdtempSync(path.join(tmpdir(), "lulu-vscode-unit-"));
  let out: string;
  try {
    out = execFileSync(path.join(AGENTS, agent), args, { cwd, encoding: "utf8" });
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? "");
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
  return out
    .split("\n")
    .filter(Boolean)
    .map((line, i) => {
      const data = JSON.parse(line) as Record<string, unknown>;
      return ev(i + 1, { kind: String(data.type), text: line, data });
    });
}

type Simple = [Block["kind"], string | undefined, string];
const simple = (blocks: Block[]): Simple[] => blocks.map((b) => [b.kind, b.title, b.body]);

describe("renderEvent: one event", () => {
  const check = (input: TranscriptEvent, expected: Simple[]) =>
    test(`${input.stream} ${input.kind}`, () => assert.deepEqual(simple(renderEvent(input)), expected));
  check(ev(1, { stream: "lulu", kind: "status", text: "session started: fake-claude in /tmp/w" }), [
    ["lifecycle", undefined, "session started: fake-claude in /tmp/w"],
  ]);
  check(ev(2, { stream: "stderr", kind: "text", text: "warning: something" }), [["stderr", undefined, "warning: something"]]);
  check(ev(3, { kind: "text", text: "plain output" }), [["text", undefined, "plain output"]]);
  check(ev(4, { kind: "raw", text: "{not json", data: undefined }), [["text", undefined, "{not json"]]);
  check(ev(5, { kind: "raw", text: '{"type":"something.new"}', data: { type: "something.new" } }), [
    ["text", undefined, '{"type":"something.new"}'],
  ]);
  check(
    ev(6, {
      kind: "assistant",
      data: { type: "assistant", message: { content: [{ type: "thinking", thinking: "hmm" }, { type: "text", text: "Hi" }] } },
    }),
    [
      ["thinking", undefined, "hmm"],
      ["assistant", undefined, "Hi"],
    ],
  );
  check(
    ev(7, {
      kind: "tool_result",
      data: {
        type: "user",
        message: { content: [{ type: "tool_result", content: [{ type: "text", text: "boom" }], is_error: true }] },
      },
    }),
    [["error", "Tool error", "boom"]],
  );
  check(ev(8, { kind: "item.updated", data: { type: "item.updated", item: { type: "agent_message", text: "partial" } } }), []);
});

describe("renderEvents: what the fake agents really print", () => {
  test("fake-claude, a successful run", () => {
    const blocks = renderEvents(agentEvents("fake-claude", ["-p", "tidy the docs", "--output-format", "stream-json", "--verbose"]));
    assert.deepEqual(
      simple(blocks).map(([k, t, b]) => [k, t, k === "tool-result" ? "(ls output)" : b]),
      [
        ["meta", undefined, "Claude session started · claude-sonnet-4-5"],
        ["assistant", undefined, "I will work on: tidy the docs"],
        ["tool-call", "Bash", "ls"],
        ["tool-result", "Result", "(ls output)"],
        ["assistant", undefined, "All done."],
        ["result", "Result", "success · $0.0123 · 1200 in / 345 out tokens · 2 turns\nAll done."],
      ],
    );
  });
  test("fake-claude, a failed run", () => {
    const blocks = renderEvents(agentEvents("fake-claude", ["-p", "x [fail]", "--output-format", "stream-json", "--verbose"]));
    assert.deepEqual(simple(blocks).at(-1), ["error", "Failed", "error_max_turns · $0.4213 · 52000 in / 3100 out tokens · 25 turns"]);
  });
  test("fake-claude, is_error with subtype success is a failure", () => {
    const blocks = renderEvents(agentEvents("fake-claude", ["-p", "x [is-error]", "--output-format", "stream-json", "--verbose"]));
    const last = blocks.at(-1);
    assert.equal(last?.kind, "error");
    assert.match(last?.body ?? "", /API Error: 529/);
  });
  test("fake-codex, a successful run with an edit", () => {
    const blocks = renderEvents(agentEvents("fake-codex", ["exec", "--json", "write notes [edit]"]));
    assert.deepEqual(
      simple(blocks).map(([k, t, b]) => [k, t, k === "tool-result" && t?.startsWith("$") ? "(ls output)" : b]),
      [
        ["meta", undefined, `Codex thread started · ${blocks[0].body.split(" · ")[1]}`],
        ["meta", undefined, "Turn started"],
        ["thinking", undefined, "**Planning** the change for: write notes [edit]"],
        ["tool-call", "Run", "$ bash -lc ls"],
        ["tool-result", "$ bash -lc ls → exit 0", "(ls output)"],
        ["tool-result", "Files changed", "add notes/codex.md"],
        ["assistant", undefined, "Done: write notes [edit]"],
        ["result", "Turn completed", "2400 in / 180 out tokens"],
      ],
    );
  });
  test("fake-codex, a failed run", () => {
    const blocks = renderEvents(agentEvents("fake-codex", ["exec", "--json", "x [fail]"]));
    assert.deepEqual(simple(blocks).slice(-2), [
      ["error", "Error", "stream disconnected before completion: rate limit reached"],
      ["error", "Turn failed", "stream disconnected before completion: rate limit reached"],
    ]);
  });
});

describe("clipLines", () => {
  const check = (input: string, max: number, expected: string) =>
    test(JSON.stringify(input).slice(0, 30), () => assert.equal(clipLines(input, max), expected));
  check("a\nb", 2, "a\nb");
  check("a\nb\nc", 2, "a\nb\n… 1 more line");
  check("1\n2\n3\n4\n5", 2, "1\n2\n… 3 more lines");
});

describe("HTML", () => {
  const check = (input: Block, expected: string) => test(input.kind, () => assert.equal(blockToHtml(input), expected));
  check(
    { seq: 3, kind: "assistant", body: "a <b> & 'c'" },
    `<div class="ev ev-assistant" data-seq="3"><div class="ev-title">Assistant</div><pre class="ev-body">a &lt;b&gt; &amp; &#39;c&#39;</pre></div>`,
  );
  check(
    { seq: 4, kind: "tool-call", title: "Bash", body: "ls" },
    `<div class="ev ev-tool-call" data-seq="4"><div class="ev-title">Bash</div><pre class="ev-body">ls</pre></div>`,
  );
  check({ seq: 5, kind: "meta", body: "Turn started" }, `<div class="ev ev-meta" data-seq="5"><pre class="ev-body">Turn started</pre></div>`);
  check(
    { seq: 6, kind: "stderr", body: "oops" },
    `<div class="ev ev-stderr" data-seq="6"><div class="ev-title">stderr</div><pre class="ev-body">oops</pre></div>`,
  );
  test("escapeHtml", () => assert.equal(escapeHtml(`<a href="x">&</a>`), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"));
  test("agent text cannot inject markup", () => {
    const html = eventsToHtml([ev(1, { kind: "text", text: "<script>alert(1)</script>" })]);
    assert.ok(!html.includes("<script>"));
  });
});
