import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { type LuluSettings, checkAgents, initializationOptions, notAServerMessage, resolveServer, settingAtFault } from "../../src/config";

const dir = mkdtempSync(path.join(tmpdir(), "lulu-vscode-config-"));
const exe = path.join(dir, "lulu");
writeFileSync(exe, "#!/bin/sh\n");
chmodSync(exe, 0o755);
const notExe = path.join(dir, "plain");
writeFileSync(notExe, "");
after(() => rmSync(dir, { recursive: true, force: true }));

describe("resolveServer", () => {
  const check = (setting: string, envPath: string, expected: ReturnType<typeof resolveServer>) =>
    test(`${setting} on ${envPath}`, () => assert.deepEqual(resolveServer(setting, envPath), expected));
  check(exe, "", { ok: true, path: exe });
  check("lulu", `/nonexistent:${dir}`, { ok: true, path: exe });
  check("", dir, { ok: true, path: exe });
  check("lulu", "/nonexistent", {
    ok: false,
    message: 'The lulu server "lulu" was not found on PATH (setting lulu.server.path). Install lulu or set the path to its binary.',
  });
  check(path.join(dir, "missing"), "", {
    ok: false,
    message: `The lulu server "${path.join(dir, "missing")}" (setting lulu.server.path) does not exist.`,
  });
  check(notExe, "", { ok: false, message: `The lulu server "${notExe}" (setting lulu.server.path) is not an executable file.` });
  check(dir, "", { ok: false, message: `The lulu server "${dir}" (setting lulu.server.path) is not an executable file.` });
  test("the bundled server of a platform .vsix, unless lulu.server.path names another", () => {
    const bundled = exe;
    assert.deepEqual(resolveServer("lulu", "/nonexistent", bundled), { ok: true, path: bundled });
    assert.deepEqual(resolveServer("", "/nonexistent", bundled), { ok: true, path: bundled });
    assert.deepEqual(resolveServer(notExe, "", bundled), {
      ok: false,
      message: `The lulu server "${notExe}" (setting lulu.server.path) is not an executable file.`,
    });
    assert.deepEqual(resolveServer("lulu", "/nonexistent", path.join(dir, "missing")).ok, false);
  });
});

describe("checkAgents", () => {
  const check = (input: Record<string, unknown>, expected: ReturnType<typeof checkAgents>) =>
    test(JSON.stringify(input), () => assert.deepEqual(checkAgents(input), expected));
  check({}, { ok: true, agents: {} });
  check(
    { t: { command: ["fake-text", "{prompt}"], format: "text", env: { A: "1" } } },
    { ok: true, agents: { t: { command: ["fake-text", "{prompt}"], format: "text", env: { A: "1" } } } },
  );
  check({ t: { command: [], format: "text" } }, { ok: false, message: 'The agent "t" in lulu.agents needs "command": a non-empty list of strings.' });
  check(
    { t: { command: ["x"], format: "json" } },
    { ok: false, message: 'The agent "t" in lulu.agents has format "json"; use "claude-stream-json", "codex-json" or "text".' },
  );
  check({ t: "x" }, { ok: false, message: 'The agent "t" in lulu.agents is not an object.' });
  check(
    { h: { command: ["claude"], format: "claude-stream-json", input: "stream-json", approvalTimeout: "90s", maxCostUsd: 2, maxMinutes: 10 } },
    { ok: true, agents: { h: { command: ["claude"], format: "claude-stream-json", input: "stream-json", approvalTimeout: "90s", maxCostUsd: 2, maxMinutes: 10 } } },
  );
  check({ h: { command: ["x"], format: "text", input: "stdin" } }, { ok: false, message: 'The agent "h" in lulu.agents has "input" "stdin"; use "stream-json" or "closed".' });
  check({ h: { command: ["x"], format: "text", approvalTimeout: -1 } }, { ok: false, message: 'The agent "h" in lulu.agents has "approvalTimeout" -1; use seconds, or a text such as "30m" or "none".' });
  check({ h: { command: ["x"], format: "text", maxMinutes: 0 } }, { ok: false, message: 'The agent "h" in lulu.agents has "maxMinutes" 0; use a number above 0.' });
  check({ t: { command: ["x"], format: "text", env: { A: 1 } } }, { ok: false, message: 'The agent "t" in lulu.agents has "env" that is not a map of strings.' });
});

describe("initializationOptions", () => {
  const base: LuluSettings = { serverPath: "lulu", agents: {}, defaultAgent: "", maxRunning: undefined, worktreeDir: "", stateDir: "" };
  const check = (over: Partial<LuluSettings>, expected: ReturnType<typeof initializationOptions>) =>
    test(JSON.stringify(over), () => {
      const s = { ...base, ...over };
      const agents = checkAgents(s.agents);
      assert.ok(agents.ok);
      assert.deepEqual(initializationOptions(s, agents.ok ? agents.agents : {}), expected);
    });
  check({}, {});
  check({ maxRunning: 6 }, { maxRunning: 6 });
  check(
    { stateDir: " /tmp/state ", worktreeDir: "{repo}/../wt", defaultAgent: "t", maxRunning: 2, agents: { t: { command: ["x"], format: "text" } } },
    { stateDir: "/tmp/state", worktreeDir: "{repo}/../wt", defaultAgent: "t", maxRunning: 2, agents: { t: { command: ["x"], format: "text" } } },
  );
  check({ maxRunning: 0 }, {});
});

describe("settingAtFault: Open Settings opens the setting the failure is about", () => {
  const check = (message: string, expected: string) => test(message, () => assert.equal(settingAtFault(message), expected));
  check("could not create the state directory /dev/null/x", "lulu.stateDir");
  check("invalid `initializationOptions.stateDir`: must be an absolute path", "lulu.stateDir");
  check("invalid settings: the worktree folder template must not be empty", "lulu.worktreeDir");
  check("invalid settings: maxRunning must be at least 1, not 0", "lulu.maxRunning");
  check('invalid settings: the agent profile "x" has an empty command', "lulu.agents");
  check("spawn ENOENT", "lulu.server.path");
});

describe("notAServerMessage: a program that is not lulu says so in its own words", () => {
  test("exited with a message", () =>
    assert.equal(
      notAServerMessage("/usr/bin/git", { code: 1, signal: null }, "git: 'serve' is not a git command. See 'git --help'.\n\nThe most similar commands are\n\tcvsserver\n"),
      "\"/usr/bin/git serve\" exited with code 1 and said: git: 'serve' is not a git command. See 'git --help'. The most similar commands are cvsserver. Is lulu.server.path the lulu server?",
    ));
  test("silent", () =>
    assert.equal(notAServerMessage("/bin/false", { code: 1, signal: null }, ""), '"/bin/false serve" exited with code 1 without a word. Is lulu.server.path the lulu server?'));
  test("still running", () => assert.equal(notAServerMessage("/x", undefined, "noise"), undefined));
});
