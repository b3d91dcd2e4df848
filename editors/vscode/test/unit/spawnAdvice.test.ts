import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { spawnAdvice } from "../../src/spawnAdvice";

function rpcError(code: number, message: string, data?: Record<string, unknown>) {
  return Object.assign(new Error(message), { code, data });
}

describe("spawnAdvice: a failed New Session in the user's words, with ways out", () => {
  const check = (err: unknown, agent: string, expected: { says: RegExp; wayOut: string[] }) =>
    test(`${(err as Error).message} (${agent})`, () => {
      const a = spawnAdvice(err, agent);
      assert.match(a.message, expected.says);
      assert.doesNotMatch(a.message, /`repo`|workspace has no/, "no protocol jargon");
      assert.deepEqual(a.wayOut, expected.wayOut);
      assert.equal(a.detail, (err as Error).message);
    });
  check(rpcError(-32012, "/tmp/x is not inside a git repository", { reason: "notARepository" }), "claude", {
    says: /not in a git repository.*open a folder inside one/,
    wayOut: ["openFolder", "openSourceControl"],
  });
  check(rpcError(-32012, "the workspace has no git repository; give `repo`"), "claude", {
    says: /not in a git repository/,
    wayOut: ["openFolder", "openSourceControl"],
  });
  check(rpcError(-32012, "the git repository at /tmp/x has no commit yet (HEAD is unborn)", { reason: "noCommits" }), "claude", {
    says: /no commit yet.*make a first commit/,
    wayOut: ["openSourceControl"],
  });
  check(rpcError(-32012, "no folder", { reason: "noWorkspaceFolder" }), "claude", { says: /No folder is open/, wayOut: ["openFolder"] });
  check(
    rpcError(-32013, 'the agent "claude" needs `claude`, which is not on PATH', { reason: "agentNotInstalled", agent: "claude", program: "claude" }),
    "claude",
    { says: /Claude Code is not installed/, wayOut: ["installClaude", "pickAgent", "editAgents"] },
  );
  check(
    rpcError(-32013, 'the agent "x" needs `xx`, which is not on PATH', { reason: "agentNotInstalled", agent: "x", program: "xx" }),
    "x",
    { says: /The agent "x" runs `xx`, which is not installed/, wayOut: ["pickAgent", "editAgents"] },
  );
  check(rpcError(-32013, 'unknown agent "y" (known agents: claude)', { reason: "unknownAgent", agent: "y" }), "y", {
    says: /no agent named "y"/,
    wayOut: ["pickAgent", "editAgents"],
  });
  check(rpcError(-32014, '"nope" does not name a commit in the repository at /r'), "claude", {
    says: /not a commit/,
    wayOut: ["pickBase"],
  });
  check(rpcError(-32603, "disk full"), "claude", { says: /could not start: disk full/, wayOut: [] });
});
