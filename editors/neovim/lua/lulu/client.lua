--- The connection to `lulu serve`: one built-in LSP client per git repository, started on demand,
--- and the per-repository store of session rows kept current by the server's notifications.
local config = require("lulu.config")
local format = require("lulu.format")
local PROTOCOL_VERSION = require("lulu.protocol_version")

local M = {}

---@class lulu.Error
---@field code integer|nil
---@field message string
---@field data any

---@class lulu.Repo
---@field root string               the repository's top-level directory
---@field client_id integer|nil     the LSP client talking to `lulu serve` for it
---@field ready boolean             initialize has answered
---@field closed boolean            the server has exited (or failed to start)
---@field queue fun(err: lulu.Error|nil)[]  requests waiting for initialize
---@field sessions table<string, lulu.SessionRow>  rows by id
---@field loaded boolean            a `lulu/list` answer has been merged
---@field touched table<string, boolean>|nil  ids changed by notifications while a list was in flight
---@field stopping boolean          we asked it to stop
---@field started_at number         when the client started (seconds since the epoch)
---@field exit_code integer|nil     the server's exit code, once it exited
---@field agents string[]|nil       names of the available agents, from the server's last `lulu/agents`
---@field approvals table<string, lulu.Approval>  pending permission requests by id, from the notifications

---@type table<string, lulu.Repo>
M.repos = {}

---@class lulu.Approval
---@field approvalId string
---@field sessionId string
---@field tool string
---@field input table      what the agent sent, whole
---@field summary string   one line of at most 120 characters ("Bash: npm test")
---@field requestedAt string

---@class lulu.ApprovalResolved
---@field approvalId string
---@field sessionId string
---@field allowed boolean
---@field by "user"|"timeout"|"cancel"

---@alias lulu.Event "changed"|"removed"|"output"|"reset"|"exit"|"ended"|"comments"|"approval"|"resolved"

---@type table<lulu.Event, table<integer, function>>
local listeners = {
  changed = {},
  removed = {},
  output = {},
  reset = {},
  exit = {},
  ended = {},
  comments = {},
  approval = {},
  resolved = {},
}
local next_listener = 0

--- Subscribes to an event; returns the function that unsubscribes.
---   changed(repo, row), removed(repo, id), output(repo, id, events), reset(repo), exit(repo),
---   ended(repo, row): a session ended while the client ran (after its `changed`),
---   comments(repo, id): the session's review comments changed (`lulu/commentsChanged`),
---   approval(repo, approval): a permission request is pending (`lulu/approvalRequested`; the
---     server announces again every pending one when it starts, so the same request may come
---     again from a new server),
---   resolved(repo, params): a request stopped being pending (`lulu/approvalResolved`)
---@param event lulu.Event
---@param fn function
---@return fun()
function M.subscribe(event, fn)
  next_listener = next_listener + 1
  local key = next_listener
  listeners[event][key] = fn
  return function()
    listeners[event][key] = nil
  end
end

---@param event lulu.Event
local function emit(event, ...)
  for _, fn in pairs(listeners[event]) do
    local ok, err = pcall(fn, ...)
    if not ok then
      vim.notify("lulu: internal error in a " .. event .. " listener: " .. tostring(err), vim.log.levels.ERROR)
    end
  end
end

--- Now, in seconds since the epoch (with the fraction).
---@return number
local function now()
  local seconds, microseconds = (vim.uv or vim.loop).gettimeofday()
  return seconds + microseconds / 1e6
end

--- Reports an error to the user, one readable line naming what is at fault.
---@param msg string
function M.error(msg)
  vim.notify("lulu: " .. msg, vim.log.levels.ERROR)
end

--- The directory commands act from: the current file's folder, else the working directory.
---@param bufnr integer|nil
---@return string
function M.context_dir(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local ok, repo = pcall(vim.api.nvim_buf_get_var, bufnr, "lulu_repo")
  if ok and type(repo) == "string" then
    return repo
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  if vim.bo[bufnr].buftype == "" and name ~= "" and not name:match("^%w+://") then
    local dir = vim.fn.fnamemodify(name, ":p:h")
    if vim.fn.isdirectory(dir) == 1 then
      return dir
    end
  end
  return vim.fn.getcwd()
end

--- The top-level directory of the git repository containing `dir`.
---@param dir string
---@return string|nil root
---@return string|nil err
function M.find_root(dir)
  if vim.fn.executable("git") ~= 1 then
    return nil, "git is not on PATH"
  end
  local res = vim.system({ "git", "-C", dir, "rev-parse", "--show-toplevel" }, { text = true }):wait()
  if res.code ~= 0 then
    return nil, string.format("not inside a git repository: %s", dir)
  end
  local root = vim.trim(res.stdout or "")
  if root == "" then
    return nil, string.format("not inside a git work tree: %s", dir)
  end
  return root, nil
end

---@param client vim.lsp.Client
---@param method string
---@param params table
---@param handler fun(err: lulu.Error|nil, result: any)
---@return boolean ok
local function client_request(client, method, params, handler)
  local function h(err, result)
    handler(err, result)
  end
  if vim.fn.has("nvim-0.11") == 1 then
    return (client:request(method, params, h))
  end
  ---@diagnostic disable-next-line: param-type-mismatch
  return (client.request(method, params, h))
end

--- Asks the server to shut down (shutdown, then exit). Neovim 0.10's client methods are plain
--- functions: `client:stop()` there passes the client as `force` and kills the server instead.
---@param client vim.lsp.Client
local function client_stop(client)
  if vim.fn.has("nvim-0.11") == 1 then
    client:stop()
  else
    client.stop()
  end
end

---@param repo lulu.Repo
---@param err lulu.Error|nil
local function flush(repo, err)
  local queue = repo.queue
  repo.queue = {}
  for _, fn in ipairs(queue) do
    fn(err)
  end
end

local terminal = { completed = true, failed = true }

--- Whether a changed row tells of a session that has just ended: it was seen starting or running,
--- or it is seen for the first time ended, and ended (its last activity) after the client started.
---@param started_at number when the client started (seconds since the epoch)
---@param previous lulu.SessionRow|nil the row as it was known before
---@param row lulu.SessionRow
---@return boolean
function M.ended_now(started_at, previous, row)
  if not terminal[row.status] then
    return false
  end
  if previous then
    return not terminal[previous.status]
  end
  local at = format.parse_time(row.lastActivityAt)
  return at ~= nil and at >= started_at
end

---@param repo lulu.Repo
---@param row lulu.SessionRow
local function on_changed(repo, row)
  if type(row) ~= "table" or type(row.id) ~= "string" then
    return
  end
  local previous = repo.sessions[row.id]
  repo.sessions[row.id] = row
  if repo.touched then
    repo.touched[row.id] = true
  end
  emit("changed", repo, row)
  if M.ended_now(repo.started_at, previous, row) then
    emit("ended", repo, row)
  end
end

--- Stores a row the client learnt of (a spawn's answer) as if the server had notified it.
---@param repo lulu.Repo
---@param row lulu.SessionRow
function M.apply_row(repo, row)
  on_changed(repo, row)
end

---@param repo lulu.Repo
---@param id string
local function on_removed(repo, id)
  if type(id) ~= "string" then
    return
  end
  repo.sessions[id] = nil
  if repo.touched then
    repo.touched[id] = true
  end
  emit("removed", repo, id)
end

--- The handlers of the server's notifications for one repository.
---@param repo lulu.Repo
---@return table<string, function>
local function notification_handlers(repo)
  return {
    ["lulu/sessionChanged"] = function(_, params)
      on_changed(repo, params and params.session)
    end,
    ["lulu/sessionRemoved"] = function(_, params)
      on_removed(repo, params and params.id)
    end,
    ["lulu/commentsChanged"] = function(_, params)
      if params and type(params.id) == "string" then
        emit("comments", repo, params.id)
      end
    end,
    ["lulu/approvalRequested"] = function(_, params)
      local approval = params and params.approval
      if type(approval) == "table" and type(approval.approvalId) == "string" then
        repo.approvals[approval.approvalId] = approval
        emit("approval", repo, approval)
      end
    end,
    ["lulu/approvalResolved"] = function(_, params)
      if type(params) == "table" and type(params.approvalId) == "string" then
        repo.approvals[params.approvalId] = nil
        emit("resolved", repo, params)
      end
    end,
    ["lulu/output"] = function(_, params)
      if params and type(params.id) == "string" and type(params.events) == "table" then
        emit("output", repo, params.id, params.events)
      end
    end,
  }
end

--- The answer to `initialize`: the queued requests go once the protocol version is the one the
--- plugin speaks; another version is reported and the server asked to stop.
---@param repo lulu.Repo
---@param client vim.lsp.Client
---@param result table|nil
---@param server string the server command, for the message
local function on_initialized(repo, client, result, server)
  local lulu = vim.tbl_get(result or {}, "capabilities", "experimental", "lulu") or {}
  if lulu.protocolVersion ~= PROTOCOL_VERSION then
    M.error(
      string.format(
        "the server %q speaks protocol version %s, this plugin needs version %d",
        server,
        tostring(lulu.protocolVersion),
        PROTOCOL_VERSION
      )
    )
    repo.closed = true
    flush(repo, { message = "the server speaks another protocol version" })
    client_stop(client)
    return
  end
  repo.ready = true
  flush(repo, nil)
  M.refresh_agents(repo)
end

--- The server's exit: the repository is closed, its queued requests fail, and an exit we did
--- not ask for is reported.
---@param repo lulu.Repo
---@param code integer
---@param signal integer|nil
local function on_server_exit(repo, code, signal)
  local root = repo.root
  repo.exit_code = code
  repo.closed = true
  repo.ready = false
  if M.repos[root] == repo then
    M.repos[root] = nil
  end
  local unasked = not repo.stopping and (code ~= 0 or (signal or 0) ~= 0)
  flush(repo, {
    message = unasked and format.server_exit(root, code, signal)
      or string.format("the lulu server for %s has stopped", root),
  })
  if unasked then
    M.error(format.server_exit(root, code, signal))
  end
  emit("exit", repo)
end

--- The server's command as a function (a `cmd` of |vim.lsp.ClientConfig|): it starts
--- `SERVER serve` as Neovim would, but the plugin reports the exit itself, once, with the signal
--- named. Neovim is told of a clean exit, or it would add its own message ("Client lulu quit with
--- exit code 0 and signal 9").
---@param repo lulu.Repo
---@param server string
---@return fun(dispatchers: vim.lsp.rpc.Dispatchers): vim.lsp.rpc.PublicClient
local function server_cmd(repo, server)
  return function(dispatchers)
    local ours = vim.tbl_extend("force", {}, dispatchers, {
      on_exit = function(code, signal)
        vim.schedule(function()
          on_server_exit(repo, code, signal)
        end)
        dispatchers.on_exit(0, 0)
      end,
    })
    return vim.lsp.rpc.start({ server, "serve" }, ours)
  end
end

--- Starts a built-in LSP client (never attached to a buffer, never reused for another root).
---@param lsp_config vim.lsp.ClientConfig
---@return integer|nil client_id
local function launch(lsp_config)
  if vim.fn.has("nvim-0.11") == 1 then
    return vim.lsp.start(lsp_config, {
      attach = false,
      reuse_client = function()
        return false
      end,
    })
  end
  ---@diagnostic disable-next-line: deprecated
  return vim.lsp.start_client(lsp_config)
end

--- Starts the server for a repository root.
---@param root string
---@return lulu.Repo|nil
---@return string|nil err
local function start(root)
  local opts = config.options
  local server = config.server_command(opts)
  if vim.fn.executable(server) ~= 1 then
    return nil,
      string.format(
        "the server command %q is not an executable on PATH; install lulu, build it in the plugin's "
          .. "checkout (cargo build --release -p lulu) or set require('lulu').setup({ server = '/path/to/lulu' })",
        server
      )
  end
  ---@type lulu.Repo
  local repo = {
    root = root,
    ready = false,
    closed = false,
    queue = {},
    sessions = {},
    approvals = {},
    loaded = false,
    stopping = false,
    started_at = now(),
  }
  local id = launch({
    name = "lulu",
    cmd = server_cmd(repo, server),
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
    init_options = config.init_options(opts),
    handlers = notification_handlers(repo),
    on_init = function(client, result)
      on_initialized(repo, client, result, server)
    end,
  })
  if not id then
    return nil, string.format("could not start %q serve for %s", server, root)
  end
  repo.client_id = id
  M.repos[root] = repo
  require("lulu.notify").watch()
  require("lulu.approvals").watch()
  return repo, nil
end

--- The repository state for a directory, starting its server on first use.
---@param dir string|nil defaults to the context of the current buffer
---@return lulu.Repo|nil
---@return string|nil err
function M.get(dir)
  dir = dir or M.context_dir()
  local root, err = M.find_root(dir)
  if not root then
    return nil, err
  end
  local repo = M.repos[root]
  if repo and not repo.closed then
    return repo, nil
  end
  return start(root)
end

--- Sends a request once the server is initialized; `cb(err, result)` runs on the main loop.
---@param repo lulu.Repo
---@param method string
---@param params table
---@param cb fun(err: lulu.Error|nil, result: any)
function M.request(repo, method, params, cb)
  local function send(qerr)
    if qerr then
      cb(qerr, nil)
      return
    end
    local client = repo.client_id and vim.lsp.get_client_by_id(repo.client_id)
    if not client then
      cb({ message = "the lulu server for " .. repo.root .. " is not running" }, nil)
      return
    end
    local ok = client_request(client, method, params, function(err, result)
      if err then
        cb({ code = err.code, message = err.message or tostring(err), data = err.data }, nil)
      else
        cb(nil, result)
      end
    end)
    if not ok then
      cb({ message = "could not send " .. method .. " to the lulu server for " .. repo.root }, nil)
    end
  end
  if repo.closed then
    cb({ message = "the lulu server for " .. repo.root .. " is not running" }, nil)
  elseif repo.ready then
    send(nil)
  else
    table.insert(repo.queue, send)
  end
end

--- Like `request`, but the error is reported to the user and `cb` runs only on success.
---@param repo lulu.Repo
---@param method string
---@param params table
---@param cb fun(result: any)|nil
function M.call(repo, method, params, cb)
  M.request(repo, method, params, function(err, result)
    if err then
      M.error(err.message)
      return
    end
    if cb then
      cb(result)
    end
  end)
end

--- Asks the server for its agents (`lulu/agents`) and keeps the names of the available ones.
---@param repo lulu.Repo
function M.refresh_agents(repo)
  M.request(repo, "lulu/agents", vim.empty_dict(), function(err, result)
    if err or type(result) ~= "table" then
      return
    end
    local names = {}
    for _, agent in ipairs(result.agents or {}) do
      if agent.available and type(agent.name) == "string" then
        names[#names + 1] = agent.name
      end
    end
    table.sort(names)
    repo.agents = names
  end)
end

--- The agent names `--agent=` completes: the server's when one runs for the repository of `dir`
--- (asked again in the background, for the next completion), else the ones given to setup().
---@param dir string|nil defaults to the context of the current buffer
---@return string[]
function M.agent_names(dir)
  local root = M.find_root(dir or M.context_dir())
  local repo = root and M.repos[root]
  if repo and repo.ready and not repo.closed then
    M.refresh_agents(repo)
    if repo.agents then
      return repo.agents
    end
  end
  local names = vim.tbl_keys(config.options.agents or {})
  table.sort(names)
  return names
end

--- Reloads the rows from `lulu/list`, merging notifications that arrived meanwhile.
---@param repo lulu.Repo
---@param cb fun(err: lulu.Error|nil)|nil
function M.refresh(repo, cb)
  repo.touched = {}
  M.request(repo, "lulu/list", { limit = 200 }, function(err, result)
    local touched = repo.touched or {}
    repo.touched = nil
    if err then
      if cb then
        cb(err)
      end
      return
    end
    local rows = {}
    for _, row in ipairs(result.sessions or {}) do
      if not touched[row.id] then
        rows[row.id] = row
      end
    end
    for id in pairs(touched) do
      rows[id] = repo.sessions[id]
    end
    repo.sessions = rows
    repo.loaded = true
    emit("reset", repo)
    if cb then
      cb(nil)
    end
  end)
end

--- The repository's rows, newest first.
---@param repo lulu.Repo
---@return lulu.SessionRow[]
function M.rows(repo)
  local rows = vim.tbl_values(repo.sessions)
  table.sort(rows, format.newer_first)
  return rows
end

--- Stops the server of one repository (or all), waiting for it to exit.
---@param root string|nil
function M.stop(root)
  local targets = {}
  for r, repo in pairs(M.repos) do
    if root == nil or r == root then
      targets[#targets + 1] = repo
    end
  end
  for _, repo in ipairs(targets) do
    repo.stopping = true
    local client = repo.client_id and vim.lsp.get_client_by_id(repo.client_id)
    if client then
      client_stop(client)
    end
  end
  vim.wait(5000, function()
    for _, repo in ipairs(targets) do
      if not repo.closed then
        return false
      end
    end
    return true
  end, 20)
end

return M
