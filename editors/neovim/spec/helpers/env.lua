-- Shared set-up of the integration specs: fixture repositories made by tests/fixtures/make-repo.sh,
-- the scripted fake agents, a private state dir, and the real `lulu serve` from $LULU_BIN.
local M = {}

local plugin_root = vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p:h:h:h")
M.plugin_root = plugin_root
M.workspace = vim.fn.fnamemodify(plugin_root, ":h:h")
M.fixtures = vim.env.LULU_FIXTURES or (M.workspace .. "/tests/fixtures")
M.lulu_bin = vim.env.LULU_BIN or (M.workspace .. "/target/debug/lulu")

--- Generous deadline for waits, so a slow shared machine never fails a test by timing.
M.deadline_ms = tonumber(vim.env.LULU_TEST_DEADLINE_MS or "") or 90000

-- Hermetic git for every process the tests start (the server, its runners, the agents).
vim.env.GIT_CONFIG_GLOBAL = "/dev/null"
vim.env.GIT_CONFIG_NOSYSTEM = "1"
vim.env.GIT_AUTHOR_NAME = "Lulu Fixture"
vim.env.GIT_AUTHOR_EMAIL = "fixture@lulu.invalid"
vim.env.GIT_COMMITTER_NAME = "Lulu Fixture"
vim.env.GIT_COMMITTER_EMAIL = "fixture@lulu.invalid"
vim.env.GIT_TERMINAL_PROMPT = "0"

local base = vim.env.LULU_TEST_TMP or vim.fn.tempname()
vim.fn.mkdir(base, "p")
local counter = 0

--- A fresh empty directory.
---@param what string
---@return string
function M.tmpdir(what)
  -- busted reloads this module for each spec file: the counter alone is not unique.
  counter = counter + 1
  local dir = string.format("%s/%s-%d-%d-%d", base, what, vim.fn.getpid(), vim.uv.hrtime(), counter)
  assert(vim.fn.isdirectory(dir) == 0, "temporary folder already exists: " .. dir)
  vim.fn.mkdir(dir, "p")
  return vim.uv.fs_realpath(dir) or dir
end

--- A real git repository made by the shared fixture script.
---@param kind string|nil
---@return string
function M.make_repo(kind)
  local dir = M.tmpdir("repo")
  local res = vim.system({ M.fixtures .. "/make-repo.sh", dir, kind or "basic" }, { text = true }):wait()
  assert(res.code == 0, "make-repo.sh failed: " .. (res.stderr or ""))
  return dir
end

--- Agent profiles for the scripted fake agents.
---@return table<string, lulu.AgentProfile>
function M.agents()
  local a = M.fixtures .. "/agents/"
  return {
    text = { command = { a .. "fake-text", "{prompt}" }, format = "text" },
    claude = {
      command = { a .. "fake-claude", "-p", "{prompt}", "--output-format", "stream-json", "--verbose" },
      format = "claude-stream-json",
    },
    codex = { command = { a .. "fake-codex", "exec", "--json", "{prompt}" }, format = "codex-json" },
  }
end

--- fake-claude hosted by lulu as the built-in claude is: the prompt and messages come on stdin,
--- permission requests go out as control lines (`[ask]` in the prompt asks to run
--- `touch approved.txt`; see tests/fixtures/agents/fake_claude_stream.py).
---@return lulu.AgentProfile
function M.host_agent()
  return {
    command = {
      M.fixtures .. "/agents/fake-claude", "-p", "--input-format", "stream-json", "--output-format", "stream-json",
      "--verbose", "--permission-prompt-tool", "stdio", "--replay-user-messages",
    },
    format = "claude-stream-json",
    input = "stream-json",
  }
end

--- Stops every server, closes extra windows and tabs, and configures the plugin afresh with a
--- private state dir; `cd`s into a new fixture repository and returns it.
---@param opts table|nil extra setup() options
---@return string repo
---@return string state_dir
function M.fresh(opts)
  local client = require("lulu.client")
  client.stop()
  pcall(vim.cmd, "silent! tabonly!")
  pcall(vim.cmd, "silent! only!")
  vim.cmd("enew!")
  local state = M.tmpdir("state")
  require("lulu").setup(vim.tbl_deep_extend("force", {
    server = M.lulu_bin,
    state_dir = state,
    agents = M.agents(),
    default_agent = "text",
    -- Specs that count messages get none about sessions ending, unless they ask for them.
    notify_on_end = "none",
  }, opts or {}))
  local repo = M.make_repo()
  vim.cmd.cd(vim.fn.fnameescape(repo))
  return repo, state
end

--- Waits until `cond()` is true (it is an error if it never is before the deadline).
---@param cond fun(): any
---@param what string what we wait for, for the failure message
function M.wait(cond, what)
  local ok = vim.wait(M.deadline_ms, function()
    return cond() and true or false
  end, 20)
  assert(ok, "gave up waiting for " .. what)
end

--- The captures running now, innermost last: a message goes to each of them.
local captures = {}

--- Captures vim.notify messages while `fn` runs (and until `until_fn` says done). Captures nest:
--- a message sent during an inner capture (a spawn's, inside a test that counts the ends of
--- sessions) is seen by the outer one too.
---@param fn fun()
---@param until_fn (fun(msgs: table[]): boolean)|nil
---@return {msg: string, level: integer}[]
function M.capture_notify(fn, until_fn)
  local msgs = {}
  local orig = vim.notify
  captures[#captures + 1] = msgs
  vim.notify = function(msg, level)
    for _, capture in ipairs(captures) do
      capture[#capture + 1] = { msg = msg, level = level }
    end
  end
  local ok, err = pcall(fn)
  if ok and until_fn then
    ok = vim.wait(M.deadline_ms, function()
      return until_fn(msgs)
    end, 20)
    if not ok then
      err = "gave up waiting for a message; got: " .. vim.inspect(msgs)
    end
  end
  vim.notify = orig
  for i = #captures, 1, -1 do
    if captures[i] == msgs then
      table.remove(captures, i)
    end
  end
  assert(ok, tostring(err))
  return msgs
end

--- Runs a request synchronously against the repository's server.
---@param repo lulu.Repo
---@param method string
---@param params table
---@return any result
---@return lulu.Error|nil err
function M.request(repo, method, params)
  local done, res, e = false, nil, nil
  require("lulu.client").request(repo, method, params, function(err, result)
    done, res, e = true, result, err
  end)
  M.wait(function()
    return done
  end, method .. " answer")
  return res, e
end

--- Waits until the client has every answer to the requests it sent to the repository's server
--- (the plugin's own too, such as the name of a session it is about to notify of).
---@param repo lulu.Repo
function M.settle(repo)
  local lsp = repo.client_id and vim.lsp.get_client_by_id(repo.client_id)
  M.wait(function()
    return not lsp or vim.tbl_isempty(lsp.requests or {})
  end, "the answers to every request sent to the server")
end

--- The lines of a buffer.
---@param bufnr integer
---@return string[]
function M.lines(bufnr)
  return vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
end

--- The first line of a buffer containing `pattern` (plain), or nil.
---@param bufnr integer
---@param pattern string
---@return string|nil
function M.find_line(bufnr, pattern)
  for _, l in ipairs(M.lines(bufnr)) do
    if l:find(pattern, 1, true) then
      return l
    end
  end
  return nil
end

--- Pids of the `lulu serve` processes whose parent is `ppid` (read from /proc).
---@param ppid integer
---@return integer[]
function M.server_children(ppid)
  local out = {}
  for name, kind in vim.fs.dir("/proc") do
    if kind == "directory" and name:match("^%d+$") then
      local stat = io.open("/proc/" .. name .. "/stat")
      if stat then
        local line = stat:read("*l") or ""
        stat:close()
        local state, parent = line:match("^%d+ %b() (%S) (%d+)")
        if tonumber(parent) == ppid and state ~= "Z" then
          local f = io.open("/proc/" .. name .. "/cmdline")
          local cmdline = f and f:read("*a") or ""
          if f then
            f:close()
          end
          if cmdline:find("\0serve\0", 1, true) then
            out[#out + 1] = tonumber(name)
          end
        end
      end
    end
  end
  return out
end

--- Whether a process is gone (or a zombie waiting to be reaped).
---@param pid integer
---@return boolean
function M.gone(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then
    return true
  end
  local line = f:read("*l") or ""
  f:close()
  return line:match("^%d+ %b() (%S)") == "Z"
end

return M
