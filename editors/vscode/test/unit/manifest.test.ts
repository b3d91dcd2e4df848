// package.json, checked as data: the row menus' `when` clauses against the contextValue
// each status really gets, every command referenced is contributed, and the workspace-trust
// and settings contracts the README promises.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { STATUSES, type Status } from "../../src/protocol";
import { renderRow } from "../../src/rows";

interface MenuItem {
  command: string;
  when?: string;
  group?: string;
}
const manifest = JSON.parse(readFileSync(path.resolve(__dirname, "../../package.json"), "utf8")) as {
  activationEvents: string[];
  capabilities: { untrustedWorkspaces: { supported: unknown } };
  contributes: {
    commands: Array<{ command: string; title: string }>;
    menus: Record<string, MenuItem[]>;
    configuration: { properties: Record<string, unknown> };
    keybindings: Array<{ command: string; key: string; when: string }>;
  };
};

/** Evaluates the `when` clauses this manifest uses: `view == X && viewItem =~ /re/`. */
function menuShows(when: string, contextValue: string): boolean {
  return when.split("&&").every((clause) => {
    const c = clause.trim();
    const re = /^viewItem =~ \/(.*)\/$/.exec(c);
    if (re) return new RegExp(re[1]).test(contextValue);
    if (c === "view == lulu.sessions") return true;
    throw new Error(`unexpected clause ${c}`);
  });
}

function rowMenu(status: Status, inline: boolean): string[] {
  const row = renderRow(
    { id: "1", name: "n", repo: "/r", status, createdAt: "2026-01-01T00:00:00Z", lastActivityAt: "2026-01-01T00:00:00Z", failureReason: "x" },
    Date.parse("2026-01-01T00:00:05Z"),
  );
  return manifest.contributes.menus["view/item/context"]
    .filter((m) => (m.group ?? "").startsWith("inline") === inline)
    .filter((m) => menuShows(m.when ?? "", row.contextValue))
    .map((m) => m.command.replace(/^lulu\./, ""))
    .sort();
}

describe("row menus by status", () => {
  const check = (status: Status, inline: boolean, expected: string[]) =>
    test(`${status} ${inline ? "inline" : "context menu"}`, () => assert.deepEqual(rowMenu(status, inline), [...expected].sort()));
  check("starting", true, ["cancelSession", "showChanges"]);
  check("running", true, ["cancelSession", "showChanges"]);
  check("completed", true, ["continueSession", "showChanges"]);
  check("failed", true, ["continueSession", "showChanges"]);
  check("starting", false, ["openSession", "openWorktree", "showChanges", "cancelSession"]);
  check("running", false, ["openSession", "openWorktree", "showChanges", "cancelSession", "sendMessage"]);
  const land = ["landSession", "syncSession", "pushSession", "createPullRequest"];
  check("completed", false, ["openSession", "openWorktree", "showChanges", "continueSession", "removeSession", "sendReview", ...land]);
  check("failed", false, ["openSession", "openWorktree", "showChanges", "continueSession", "removeSession", "sendReview", ...land]);
});

/** A row's inline buttons in the order VS Code draws them (by group order), right-aligned. */
function inlineButtons(status: Status): string[] {
  const row = renderRow(
    { id: "1", name: "n", repo: "/r", status, createdAt: "2026-01-01T00:00:00Z", lastActivityAt: "2026-01-01T00:00:00Z", failureReason: "x" },
    0,
  );
  const order = (m: MenuItem) => Number((m.group ?? "").split("@")[1] ?? 0);
  return manifest.contributes.menus["view/item/context"]
    .filter((m) => (m.group ?? "").startsWith("inline") && menuShows(m.when ?? "", row.contextValue))
    .sort((a, b) => order(a) - order(b))
    .map((m) => m.command.replace(/^lulu\./, ""));
}

describe("inline buttons", () => {
  test("after Cancel, the button under the pointer is not Continue (a double click must not open its box)", () => {
    for (const ended of ["completed", "failed"] as const) {
      const running = inlineButtons("running");
      const after = inlineButtons(ended);
      const fromRight = running.length - running.indexOf("cancelSession");
      const under = after[after.length - fromRight];
      assert.notEqual(under, "continueSession", `${ended}: ${after.join(", ")} under ${running.join(", ")}`);
    }
  });
});

describe("manifest contracts", () => {
  test("lulu.maxRunning has no value of its own when unset (the Settings UI must not show 6 over config.toml)", () => {
    const max = manifest.contributes.configuration.properties["lulu.maxRunning"] as { default?: unknown; type: unknown };
    assert.equal(max.default ?? null, null);
    assert.deepEqual(max.type, ["integer", "null"]);
  });
  test("every status has a row look", () => {
    for (const s of STATUSES) assert.equal(renderRow({ id: "1", name: "n", repo: "/r", status: s, createdAt: "", lastActivityAt: "" }, 0).contextValue, `lulu.session.${s}`);
  });
  test("does not run in an untrusted workspace", () => {
    assert.equal(manifest.capabilities.untrustedWorkspaces.supported, false);
  });
  test("every command a menu or keybinding names is contributed", () => {
    const known = new Set(manifest.contributes.commands.map((c) => c.command));
    const used = [
      ...Object.values(manifest.contributes.menus).flat().map((m) => m.command),
      ...manifest.contributes.keybindings.map((k) => k.command),
    ];
    for (const c of used) assert.ok(known.has(c), `${c} is contributed`);
  });
  test("the palette commands the issue names", () => {
    const titles = manifest.contributes.commands.map((c) => c.title);
    for (const t of ["New Session", "Cancel", "Continue", "Remove", "Show Changes", "Open Worktree in New Window", "Refresh"]) {
      assert.ok(titles.includes(t), t);
    }
  });
  test("the settings the issue names", () => {
    const keys = Object.keys(manifest.contributes.configuration.properties).sort();
    assert.deepEqual(keys, [
      "lulu.agents",
      "lulu.defaultAgent",
      "lulu.maxRunning",
      "lulu.notifyOnEnd",
      "lulu.server.path",
      "lulu.stateDir",
      "lulu.trace.server",
      "lulu.view",
      "lulu.worktreeDir",
    ]);
  });
  test("the Dashboard is a webview view chosen by lulu.view; the tree stays the default", () => {
    const views = (manifest.contributes as unknown as { views: { lulu: Array<{ id: string; type?: string; when?: string }> } }).views.lulu;
    const view = (manifest.contributes.configuration.properties["lulu.view"] as { default: string }).default;
    assert.equal(view, "tree");
    assert.deepEqual(
      views.map((v) => [v.id, v.type ?? "tree", v.when]),
      [
        ["lulu.sessions", "tree", "config.lulu.view != dashboard"],
        ["lulu.dashboard", "webview", "config.lulu.view == dashboard"],
      ],
    );
  });
});

test("a restored diff tab's base side (a lulu-base: file) activates the extension, whose file system serves it", () => {
  // VS Code restores editors before any view activates the extension; without this event the
  // left side of a Lulu diff tab cannot be read after Reload Window.
  assert.ok(manifest.activationEvents.includes("onFileSystem:lulu-base"), manifest.activationEvents.join(", "));
  const diff = readFileSync(path.resolve(__dirname, "../../src/diff.ts"), "utf8");
  assert.match(diff, /export const BASE_SCHEME = "lulu-base";/);
  // A file system, not a text document content provider: VS Code restores no editor of the latter.
  const commands = readFileSync(path.resolve(__dirname, "../../src/commands.ts"), "utf8");
  assert.match(commands, /registerFileSystemProvider\(BASE_SCHEME, /);
});
