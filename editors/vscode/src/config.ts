// Settings to server launch options. `resolveServer` and `initializationOptions` are
// pure (no `vscode` import) so the unit tests check them; extension code passes in the
// values it read with vscode.workspace.getConfiguration("lulu").

import * as fs from "node:fs";
import * as path from "node:path";
import type { AgentProfile, InitializationOptions } from "./protocol";

export interface LuluSettings {
  serverPath: string;
  agents: Record<string, unknown>;
  defaultAgent: string;
  /** Only when the user set it: otherwise the server's own default (or its config.toml) holds. */
  maxRunning: number | undefined;
  worktreeDir: string;
  stateDir: string;
}

export type Resolved = { ok: true; path: string } | { ok: false; message: string };

function isExecutableFile(file: string): boolean {
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds the server binary the `lulu.server.path` setting names: an absolute path as is,
 * a bare name on `PATH`. The message of a failure names the setting and the value.
 */
export function resolveServer(setting: string, envPath: string | undefined, bundled?: string): Resolved {
  const value = setting.trim() || "lulu";
  // The platform .vsix carries its own server (as rust-analyzer does): it is used unless
  // lulu.server.path names another.
  if (value === "lulu" && bundled && isExecutableFile(bundled)) return { ok: true, path: bundled };
  if (value.includes("/") || value.includes(path.sep)) {
    const abs = path.resolve(value);
    if (!fs.existsSync(abs)) {
      return { ok: false, message: `The lulu server "${abs}" (setting lulu.server.path) does not exist.` };
    }
    if (!isExecutableFile(abs)) {
      return { ok: false, message: `The lulu server "${abs}" (setting lulu.server.path) is not an executable file.` };
    }
    return { ok: true, path: abs };
  }
  for (const dir of (envPath ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, value);
    if (isExecutableFile(candidate)) return { ok: true, path: candidate };
  }
  return {
    ok: false,
    message: `The lulu server "${value}" was not found on PATH (setting lulu.server.path). Install lulu or set the path to its binary.`,
  };
}

export type AgentsCheck = { ok: true; agents: Record<string, AgentProfile> } | { ok: false; message: string };

/** Checks the `lulu.agents` setting's shape, naming the profile at fault. */
export function checkAgents(value: Record<string, unknown>): AgentsCheck {
  const agents: Record<string, AgentProfile> = {};
  for (const [name, raw] of Object.entries(value ?? {})) {
    if (typeof raw !== "object" || raw === null) {
      return { ok: false, message: `The agent "${name}" in lulu.agents is not an object.` };
    }
    const p = raw as Record<string, unknown>;
    if (!Array.isArray(p.command) || p.command.length === 0 || !p.command.every((a) => typeof a === "string")) {
      return { ok: false, message: `The agent "${name}" in lulu.agents needs "command": a non-empty list of strings.` };
    }
    if (p.format !== "claude-stream-json" && p.format !== "codex-json" && p.format !== "text") {
      return {
        ok: false,
        message: `The agent "${name}" in lulu.agents has format ${JSON.stringify(p.format)}; use "claude-stream-json", "codex-json" or "text".`,
      };
    }
    const profile: AgentProfile = { command: p.command as string[], format: p.format };
    if (p.env !== undefined) {
      if (typeof p.env !== "object" || p.env === null || !Object.values(p.env).every((v) => typeof v === "string")) {
        return { ok: false, message: `The agent "${name}" in lulu.agents has "env" that is not a map of strings.` };
      }
      profile.env = p.env as Record<string, string>;
    }
    if (p.input !== undefined) {
      if (p.input !== "stream-json" && p.input !== "closed") {
        return { ok: false, message: `The agent "${name}" in lulu.agents has "input" ${JSON.stringify(p.input)}; use "stream-json" or "closed".` };
      }
      profile.input = p.input;
    }
    if (p.approvalTimeout !== undefined) {
      if (typeof p.approvalTimeout !== "string" && (typeof p.approvalTimeout !== "number" || !(p.approvalTimeout >= 0))) {
        return { ok: false, message: `The agent "${name}" in lulu.agents has "approvalTimeout" ${JSON.stringify(p.approvalTimeout)}; use seconds, or a text such as "30m" or "none".` };
      }
      profile.approvalTimeout = p.approvalTimeout;
    }
    for (const limit of ["maxCostUsd", "maxMinutes"] as const) {
      const v = p[limit];
      if (v === undefined) continue;
      if (typeof v !== "number" || !(v > 0)) {
        return { ok: false, message: `The agent "${name}" in lulu.agents has "${limit}" ${JSON.stringify(v)}; use a number above 0.` };
      }
      profile[limit] = v;
    }
    agents[name] = profile;
  }
  return { ok: true, agents };
}

/** The `initializationOptions` of `initialize`: only what the user set. */
export function initializationOptions(s: LuluSettings, agents: Record<string, AgentProfile>): InitializationOptions {
  const opts: InitializationOptions = {};
  if (s.stateDir.trim()) opts.stateDir = s.stateDir.trim();
  if (s.worktreeDir.trim()) opts.worktreeDir = s.worktreeDir.trim();
  if (s.maxRunning !== undefined && Number.isInteger(s.maxRunning) && s.maxRunning > 0) opts.maxRunning = s.maxRunning;
  if (s.defaultAgent.trim()) opts.defaultAgent = s.defaultAgent.trim();
  if (Object.keys(agents).length) opts.agents = agents;
  return opts;
}

/** The setting a start-up failure of the server is about, from the server's sentence. */
export function settingAtFault(message: string): string {
  const rules: Array<[RegExp, string]> = [
    [/stateDir|state directory|session database|LULU_HOME/i, "lulu.stateDir"],
    [/worktreeDir|worktree folder template/i, "lulu.worktreeDir"],
    [/maxRunning|max_running/i, "lulu.maxRunning"],
    [/defaultAgent|default agent/i, "lulu.defaultAgent"],
    [/initializationOptions\.agents|agent profile/i, "lulu.agents"],
  ];
  for (const [re, setting] of rules) if (re.test(message)) return setting;
  return "lulu.server.path";
}

/**
 * Why a program named as the server is not it: it exited (with its own last words) before
 * it answered `initialize`. Undefined when it did not exit.
 */
export function notAServerMessage(serverPath: string, exit: { code: number | null; signal: string | null } | undefined, stderr: string): string | undefined {
  if (!exit) return undefined;
  const last = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(0, 6)
    .join(" ");
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
  const said = last ? ` and said: ${last.length > 300 ? `${last.slice(0, 299)}…` : last}` : " without a word";
  const sentence = `"${serverPath} serve" ${how}${said}`;
  return `${sentence}${/[.!?]$/.test(sentence) ? "" : "."} Is lulu.server.path the lulu server?`;
}
