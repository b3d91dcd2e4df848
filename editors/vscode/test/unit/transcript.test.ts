import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ansiToHtml } from "../../src/ansi";
import { linkify } from "../../src/links";
import { markdownToHtml } from "../../src/markdown";
import type { EventBlock, TranscriptEvent } from "../../src/protocol";
import { type Block, blockToHtml, blocksToHtml, escapeHtml, eventsToHtml, outputHtml, renderEvent } from "../../src/transcript";

function ev(seq: number, over: Partial<TranscriptEvent>): TranscriptEvent {
  return { seq, at: "2026-11-25T12:00:00Z", stream: "stdout", kind: "raw", text: "", ...over };
}
function withBlocks(seq: number, blocks: EventBlock[]): TranscriptEvent {
  // `data` is there, as on the wire, and must not be read: the blocks say it all.
  return ev(seq, { kind: "x", text: "(server text)", data: { type: "result", usage: { input_tokens: 999 } }, blocks });
}

type Simple = [Block["kind"], string | undefined, string, string | undefined];
const simple = (blocks: Block[]): Simple[] => blocks.map((b) => [b.kind, b.title, b.body, b.facts]);

describe("renderEvent: the server's blocks, never the agent's JSON", () => {
  const check = (input: TranscriptEvent, expected: Simple[]) =>
    test(`${input.seq} ${input.stream} ${input.kind}`, () => assert.deepEqual(simple(renderEvent(input)), expected));
  check(ev(1, { stream: "lulu", kind: "status", text: "session started: fake-claude in /tmp/w" }), [
    ["lifecycle", undefined, "session started: fake-claude in /tmp/w", undefined],
  ]);
  check(ev(2, { stream: "stderr", kind: "text", text: "warning: something" }), [["stderr", undefined, "warning: something", undefined]]);
  check(ev(3, { kind: "text", text: "plain output" }), [["text", undefined, "plain output", undefined]]);
  // JSON the server knows no shape of: no blocks, its text.
  check(ev(4, { kind: "raw", text: '{"type":"something.new"}', data: { type: "something.new" } }), [
    ["text", undefined, '{"type":"something.new"}', undefined],
  ]);
  check(withBlocks(5, [{ kind: "thinking", text: "hmm" }, { kind: "assistant", text: "Hi" }]), [
    ["thinking", undefined, "hmm", undefined],
    ["assistant", undefined, "Hi", undefined],
  ]);
  check(withBlocks(6, [{ kind: "toolUse", text: "", tool: "Bash", input: "npm test" }]), [["tool-call", "Bash", "npm test", undefined]]);
  check(withBlocks(7, [{ kind: "toolResult", text: "boom\n", isError: true }]), [["error", "Tool error", "boom", undefined]]);
  check(withBlocks(8, [{ kind: "toolResult", text: "a\nb", tool: "shell", input: "ls", exitCode: 0, isError: false }]), [
    ["tool-result", "$ ls → exit 0", "a\nb", undefined],
  ]);
  check(withBlocks(9, []), []);
  check(
    withBlocks(10, [{ kind: "result", text: "All done.", isError: false, costUsd: 0.0123, inputTokens: 1200, outputTokens: 345, turns: 2 }]),
    [["result", "Result", "All done.", "$0.0123 · 1200 in / 345 out tokens · 2 turns"]],
  );
  // An is_error result: headed Failed, the error itself, no "success" anywhere.
  check(
    withBlocks(11, [
      { kind: "error", text: "Claude reported an error: API Error: 400 bad request", isError: true, costUsd: 0.0123, turns: 1 },
    ]),
    [["error", "Failed", "Claude reported an error: API Error: 400 bad request", "$0.0123 · 1 turn"]],
  );
});

describe("HTML", () => {
  const check = (input: Block, expected: string) => test(`${input.kind} ${input.seq}`, () => assert.equal(blockToHtml(input), expected));
  check(
    { seq: 3, kind: "assistant", body: "a <b> & 'c'" },
    `<div class="ev ev-assistant" data-seq="3" data-head="Assistant"><div class="ev-title">Assistant</div><div class="ev-body md"><p>a &lt;b&gt; &amp; &#39;c&#39;</p></div></div>`,
  );
  check(
    { seq: 4, kind: "tool-call", title: "Bash", body: "ls" },
    `<div class="ev ev-tool-call" data-seq="4" data-head="Bash"><div class="ev-title">Bash</div><pre class="ev-body">ls</pre></div>`,
  );
  check({ seq: 5, kind: "meta", body: "Turn started" }, `<div class="ev ev-meta" data-seq="5" data-head=""><pre class="ev-body">Turn started</pre></div>`);
  check(
    { seq: 6, kind: "error", title: "Failed", body: "API Error", facts: "$0.01" },
    `<div class="ev ev-error" data-seq="6" data-head="Failed"><div class="ev-title">Failed</div><pre class="ev-body">API Error</pre><div class="ev-facts">$0.01</div></div>`,
  );
  test("escapeHtml", () => assert.equal(escapeHtml(`<a href="x">&</a>`), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"));
  test("agent text cannot inject markup, as output or as Markdown", () => {
    for (const text of ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[x](javascript:alert(1))", "```\n</pre><script>x</script>\n```"]) {
      const html = eventsToHtml([ev(1, { kind: "text", text }), withBlocks(2, [{ kind: "assistant", text }])]);
      assert.ok(!/<script|<img|<[^>]*\sonerror=|href="javascript/i.test(html), html);
    }
  });
  test("consecutive blocks of one kind and heading show the heading once, across batches", () => {
    const blocks: Block[] = [1, 2, 3].map((seq) => ({ seq, kind: "assistant", body: `line ${seq}` }));
    assert.equal((blocksToHtml(blocks).match(/ev-title/g) ?? []).length, 1);
    assert.equal((blocksToHtml(blocks, { kind: "assistant" }).match(/ev-title/g) ?? []).length, 0);
    assert.equal((blocksToHtml(blocks, { kind: "text" }).match(/ev-title/g) ?? []).length, 1);
    assert.equal((blocksToHtml(blocks).match(/ cont"/g) ?? []).length, 2, "the run's other blocks join the first");
  });
  test("long output folds after 40 lines, nothing cut", () => {
    const text = Array.from({ length: 100 }, (_, i) => `line ${i + 1}`).join("\n");
    const html = outputHtml(text);
    assert.match(html, /<details class="more"><summary>60 more lines<\/summary>/);
    assert.ok(html.includes("line 100"));
    assert.equal(outputHtml("a\nb"), '<pre class="ev-body">a\nb</pre>');
  });
});

describe("Markdown", () => {
  const check = (input: string, expected: string) => test(JSON.stringify(input).slice(0, 40), () => assert.equal(markdownToHtml(input), expected));
  check("## Plan\n\n**bold** and *it* and `co*de*`", '<h4 class="md-h">Plan</h4><p><strong>bold</strong> and <em>it</em> and <code>co*de*</code></p>');
  check("- one\n- two\n\n1. a\n2. b", "<ul><li>one</li><li>two</li></ul><ol><li>a</li><li>b</li></ol>");
  check("```ts\nconst a = 1 < 2;\n```", '<pre class="code" data-lang="ts"><code>const a = 1 &lt; 2;</code></pre>');
  check("> quoted", "<blockquote>quoted</blockquote>");
  check("first\nsecond", "<p>first<br>second</p>");
  check("see [docs](https://example.invalid/x)", '<p>see <a class="link" data-href="https://example.invalid/x" href="#">docs</a></p>');
  check("a snake_case_name stays", "<p>a snake_case_name stays</p>");
});

describe("ANSI colours and links", () => {
  const check = (input: string, expected: string) => test(JSON.stringify(input).slice(0, 40), () => assert.equal(ansiToHtml(input), expected));
  check("\x1b[32mok\x1b[0m done", '<span class="ansi-fg-2">ok</span> done');
  check("\x1b[1;31merror\x1b[22m still red\x1b[m", '<span class="ansi-fg-1 ansi-bold">error</span><span class="ansi-fg-1"> still red</span>');
  check("\x1b[2K\x1b[1Gprogress\x1b]0;title\x07", "progress");
  check("\x1b[38;5;9mbright\x1b[38;2;1;2;3m true\x1b[0m", '<span class="ansi-fg-9">bright</span><span class="ansi-fg-9"> true</span>');
  check("<b>", "&lt;b&gt;");
  test("links: URLs and file paths with a line", () => {
    assert.equal(linkify("see https://example.invalid/a?b=1."), 'see <a class="link" data-href="https://example.invalid/a?b=1" href="#">https://example.invalid/a?b=1</a>.');
    assert.equal(linkify("at src/main.rs:12 and README.md"), 'at <a class="link" data-file="src/main.rs" data-line="12" href="#">src/main.rs:12</a> and <a class="link" data-file="README.md" href="#">README.md</a>');
    assert.equal(linkify("version 1.2.3, e.g. this"), "version 1.2.3, e.g. this");
  });
});
