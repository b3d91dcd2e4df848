-- Generated from server/lsp/src/protocol by `LULU_BLESS=1 cargo test -p lulu-lsp generated_client_files`. Do not edit.

---Every error code of the protocol, by the one name all clients use.
---@enum lulu.ErrorCode
return {
  ParseError = -32700,
  InvalidRequest = -32600,
  MethodNotFound = -32601,
  InvalidParams = -32602,
  InternalError = -32603,
  NoSuchSession = -32001,
  NotInitialized = -32002,
  SessionActive = -32010,
  WouldLoseWork = -32011,
  BadRepository = -32012,
  UnknownAgent = -32013,
  BadBaseRef = -32014,
  Conflicts = -32015,
  NothingToLand = -32016,
  ProgramMissing = -32017,
  ProgramFailed = -32018,
  NotRunning = -32019,
  AgentCannotTake = -32020,
  SetupNotTrusted = -32021,
}
