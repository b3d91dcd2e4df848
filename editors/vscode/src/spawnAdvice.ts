// What a failed New Session says, in the user's words, and the ways out it offers. Pure:
// the server's error code and `data.reason` (docs/protocol.md) in, a sentence and the
// actions out; newSession.ts shows them and keeps the prompt.

import { ErrorCodes, errorCode, errorMessage } from "./protocol";

export type SpawnWayOut =
  | "openFolder" // open another folder (one inside a git repository)
  | "openSourceControl" // make a first commit
  | "installClaude" // Claude Code's install page
  | "pickAgent" // back to the prompt, with the agent picker open
  | "editAgents" // the lulu.agents setting
  | "pickBase"; // back to the prompt, with the base picker open

export const WAY_OUT_TITLES: Readonly<Record<SpawnWayOut, string>> = {
  openFolder: "Open Folder…",
  openSourceControl: "Open Source Control",
  installClaude: "Install Claude Code",
  pickAgent: "Pick Another Agent",
  editAgents: "Edit Agent Profiles",
  pickBase: "Choose Another Base",
};

export interface SpawnAdvice {
  /** One or two sentences a person understands, without the protocol's words. */
  message: string;
  /** The server's own sentence, for the details (and the log). */
  detail: string;
  wayOut: SpawnWayOut[];
}

function dataOf(err: unknown): Record<string, unknown> {
  if (typeof err === "object" && err !== null && "data" in err) {
    const data = (err as { data: unknown }).data;
    if (typeof data === "object" && data !== null && !Array.isArray(data)) return data as Record<string, unknown>;
  }
  return {};
}

const CLAUDE_INSTALL_URL = "https://docs.anthropic.com/en/docs/claude-code/setup";
export { CLAUDE_INSTALL_URL };

/** What to say when `lulu/spawn` failed with `err`; `agent` is the agent the user meant. */
export function spawnAdvice(err: unknown, agent: string): SpawnAdvice {
  const detail = errorMessage(err);
  const data = dataOf(err);
  const reason = typeof data.reason === "string" ? data.reason : undefined;
  const named = typeof data.agent === "string" ? data.agent : agent;
  const program = typeof data.program === "string" ? data.program : named;
  switch (errorCode(err)) {
    case ErrorCodes.BadRepository:
      switch (reason) {
        case "noCommits":
          return {
            message: "This repository has no commit yet. A session starts from a commit: make a first commit, then start the session again.",
            detail,
            wayOut: ["openSourceControl"],
          };
        case "bare":
          return {
            message: "This repository is bare: it has no working files to start from. Open a folder of a normal clone.",
            detail,
            wayOut: ["openFolder"],
          };
        case "noWorkspaceFolder":
          return {
            message: "No folder is open. Each session runs in a git worktree of your repository: open a folder inside a git repository first.",
            detail,
            wayOut: ["openFolder"],
          };
        default:
          return {
            message:
              "This folder is not in a git repository. Each session runs in a git worktree of your repository: open a folder inside one (or make this folder a repository with a first commit).",
            detail,
            wayOut: ["openFolder", "openSourceControl"],
          };
      }
    case ErrorCodes.UnknownAgent:
      if (reason === "agentNotInstalled" && named === "claude") {
        return {
          message: `Claude Code is not installed (no \`${program}\` program on the PATH VS Code sees). Install it, or pick another agent for this session.`,
          detail,
          wayOut: ["installClaude", "pickAgent", "editAgents"],
        };
      }
      if (reason === "agentNotInstalled") {
        return {
          message: `The agent "${named}" runs \`${program}\`, which is not installed (or not on the PATH VS Code sees). Pick another agent, or fix its profile.`,
          detail,
          wayOut: ["pickAgent", "editAgents"],
        };
      }
      return {
        message: `There is no agent named "${named}". Pick one of the agents Lulu knows, or add a profile for it.`,
        detail,
        wayOut: ["pickAgent", "editAgents"],
      };
    case ErrorCodes.BadBaseRef:
      return { message: `The base is not a commit of this repository: ${detail}.`, detail, wayOut: ["pickBase"] };
    default:
      return { message: `The session could not start: ${detail}`, detail, wayOut: [] };
  }
}
