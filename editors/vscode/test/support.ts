// What the protocol and end-to-end tests share: the fixture paths, the hermetic git
// environment and the fake agents' profiles (as the lulu.agents setting holds them).

import { execFileSync } from "node:child_process";
import * as path from "node:path";

export const ROOT = path.resolve(__dirname, "../../../..");
export const FIXTURES = path.join(ROOT, "tests/fixtures");
export const AGENTS = path.join(FIXTURES, "agents");

/** The hermetic git environment of tests/fixtures/git-env.sh. */
export function gitEnv(): Record<string, string> {
  const out = execFileSync("bash", ["-c", `. "${FIXTURES}/git-env.sh" && env -0`], { encoding: "utf8" });
  const env: Record<string, string> = {};
  for (const kv of out.split("\0")) {
    const i = kv.indexOf("=");
    if (i > 0 && kv.startsWith("GIT_")) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return env;
}

export function agentProfiles(): Record<string, { command: string[]; format: string }> {
  return {
    "fake-claude": {
      command: [path.join(AGENTS, "fake-claude"), "-p", "{prompt}", "--output-format", "stream-json", "--verbose"],
      format: "claude-stream-json",
    },
    "fake-codex": { command: [path.join(AGENTS, "fake-codex"), "exec", "--json", "{prompt}"], format: "codex-json" },
    "fake-text": { command: [path.join(AGENTS, "fake-text"), "{prompt}"], format: "text" },
  };
}
