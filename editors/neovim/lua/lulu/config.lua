--- Configuration of the Lulu plugin: defaults, merging and validation.
local M = {}

---@class lulu.AgentProfile
---@field command string[]   argv; an argument that is exactly "{prompt}" is replaced by the prompt
---@field format "claude-stream-json"|"codex-json"|"text"
---@field env? table<string, string>
---@field input? "stream-json"|"closed"  "stream-json": lulu hosts the agent (approvals, messages)
---@field approvalTimeout? number|string   seconds, or "90s", "30m", "2h", "none" (default 30 minutes)
---@field maxCostUsd? number               default cost limit of its sessions
---@field maxMinutes? number               default time limit of its sessions

---@class lulu.Keymaps
---@field open string|false      open the session view of the row under the cursor
---@field close string|false     close the list window
---@field cancel string|false    cancel the session under the cursor
---@field remove string|false    remove the session under the cursor (asks before forcing)
---@field diff string|false      changed files of the session in the quickfix list
---@field spawn string|false     start a new session
---@field continue string|false  continue an ended session with a new prompt
---@field land string|false      land the session into its base branch
---@field sync string|false      merge the latest base into the session
---@field push string|false      push the session's branch
---@field send string|false      send a message to the running session (`:Lulu send`)
---@field approve string|false   answer the permission requests waiting (`:Lulu approvals`)
---@field refresh string|false   reload the list from the server
---@field help string|false      show these keymaps
---@field comment string|false   in a file of a session's worktree or its diff view: comment on the line

---@class lulu.Config
---@field server string|{path: string}      the lulu binary (name on PATH or absolute path); `{ path = ... }` also works
---@field agents table<string, lulu.AgentProfile>|nil  agent profiles, passed to the server as init_options.agents
---@field default_agent string|nil          agent used when a spawn names none (server default: "claude")
---@field max_running integer|nil           sessions running at once across the state dir (server default: 6)
---@field worktree_dir string|nil           worktree folder template, "{repo}" is the repository top level
---@field state_dir string|nil              state folder (server default: $LULU_HOME or ~/.local/state/lulu)
---@field notify_on_end "all"|"failed"|"none"  which sessions' ends vim.notify tells of
---@field list {height: integer, position: string}  where the live list opens
---@field keymaps lulu.Keymaps              keys of the list buffer; false disables one

---@type lulu.Config
M.defaults = {
  server = "lulu",
  agents = nil,
  default_agent = nil,
  max_running = nil,
  worktree_dir = nil,
  state_dir = nil,
  notify_on_end = "all",
  list = { height = 12, position = "botright" },
  keymaps = {
    open = "<CR>",
    close = "q",
    cancel = "c",
    remove = "x",
    diff = "gd",
    spawn = "s",
    continue = "C",
    land = "L",
    sync = "S",
    push = "P",
    send = "m",
    approve = "a",
    refresh = "R",
    help = "g?",
    comment = "gC",
  },
}

--- Every option the plugin knows, with the Lua type(s) it accepts.
--- Options whose default is nil are listed here too, so they are not reported as unknown.
local schema = {
  server = { "string", "table", fields = { path = { "string" } } },
  agents = { "table" },
  default_agent = { "string" },
  max_running = { "number" },
  worktree_dir = { "string" },
  state_dir = { "string" },
  notify_on_end = { "string", values = { "all", "failed", "none" } },
  list = { "table", fields = { height = { "number" }, position = { "string" } } },
  keymaps = {
    "table",
    fields = {
      open = { "string", "boolean" },
      close = { "string", "boolean" },
      cancel = { "string", "boolean" },
      remove = { "string", "boolean" },
      diff = { "string", "boolean" },
      spawn = { "string", "boolean" },
      continue = { "string", "boolean" },
      land = { "string", "boolean" },
      sync = { "string", "boolean" },
      push = { "string", "boolean" },
      send = { "string", "boolean" },
      approve = { "string", "boolean" },
      refresh = { "string", "boolean" },
      help = { "string", "boolean" },
      comment = { "string", "boolean" },
    },
  },
}

---@type lulu.Config
M.options = vim.deepcopy(M.defaults)

--- Problems found in the user's options by the last `setup()`: unknown keys and wrong types.
---@type string[]
M.problems = {}

---@param opts table
---@param spec table
---@param prefix string
---@param out string[]
local function validate(opts, spec, prefix, out)
  for key, value in pairs(opts) do
    local name = prefix .. tostring(key)
    local s = spec[key]
    if s == nil then
      out[#out + 1] = string.format("unknown option %q", name)
    else
      local ok = false
      for _, t in ipairs(s) do
        if type(value) == t then
          ok = true
        end
      end
      if not ok then
        out[#out + 1] =
          string.format("option %q should be %s, got %s", name, table.concat(s, " or "), type(value))
      elseif s.values and not vim.tbl_contains(s.values, value) then
        out[#out + 1] = string.format(
          "option %q should be one of %s, got %q",
          name,
          table.concat(vim.tbl_map(vim.inspect, s.values), ", "),
          tostring(value)
        )
      elseif s.fields and type(value) == "table" then
        validate(value, s.fields, name .. ".", out)
      end
    end
  end
end

--- Validates the agent profiles the user gave.
---@param agents table
---@param out string[]
local function validate_agents(agents, out)
  for name, profile in pairs(agents) do
    local where = string.format("agents[%q]", tostring(name))
    if type(profile) ~= "table" then
      out[#out + 1] = where .. " should be a table {command = {...}, format = ...}"
    else
      if type(profile.command) ~= "table" or #profile.command == 0 then
        out[#out + 1] = where .. ".command should be a non-empty list of strings"
      end
      local formats = { ["claude-stream-json"] = true, ["codex-json"] = true, text = true }
      if profile.format ~= nil and not formats[profile.format] then
        out[#out + 1] = string.format(
          "%s.format %q is not one of claude-stream-json, codex-json, text",
          where,
          tostring(profile.format)
        )
      end
      if profile.input ~= nil and profile.input ~= "stream-json" and profile.input ~= "closed" then
        out[#out + 1] = string.format(
          '%s.input %q is not one of "stream-json" (lulu hosts the agent), "closed"',
          where,
          tostring(profile.input)
        )
      end
    end
  end
end

--- Checks options without applying them.
---@param opts table|nil
---@return string[] problems
function M.check(opts)
  local out = {}
  if opts == nil then
    return out
  end
  if type(opts) ~= "table" then
    return { "setup() takes a table of options, got " .. type(opts) }
  end
  validate(opts, schema, "", out)
  if type(opts.agents) == "table" then
    validate_agents(opts.agents, out)
  end
  table.sort(out)
  return out
end

--- Merges the user's options over the defaults (`vim.tbl_deep_extend`); unknown keys are kept
--- out of the result and reported by `:checkhealth lulu`.
---@param opts table|nil
---@return lulu.Config
function M.merge(opts)
  if type(opts) ~= "table" then
    return vim.deepcopy(M.defaults)
  end
  local known = {}
  for key, value in pairs(opts) do
    if schema[key] ~= nil then
      known[key] = value
    end
  end
  local merged = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), known)
  -- A user's agents map replaces the whole map, not merged key by key with nothing.
  if type(opts.agents) == "table" then
    merged.agents = vim.deepcopy(opts.agents)
  end
  return merged
end

--- The repository checkout the plugin lives in (the plugin is its `editors/neovim` folder).
M.checkout = vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p:h:h:h:h:h")

--- The server command: `server` when the user set it (a name or a path, or `{ path = ... }`);
--- else the binary built in the plugin's own checkout (lazy.nvim's `build` step runs
--- `cargo build --release -p lulu` there), when there is one; else `lulu` on `PATH`.
---@param o lulu.Config|nil
---@return string
function M.server_command(o)
  o = o or M.options
  local server = o.server
  if type(server) == "table" then
    server = server.path
  end
  if type(server) == "string" and server ~= "" and server ~= M.defaults.server then
    return server
  end
  local built = M.checkout .. "/target/release/lulu"
  if vim.fn.executable(built) == 1 then
    return built
  end
  return M.defaults.server
end

---@param opts table|nil
function M.set(opts)
  M.problems = M.check(opts)
  M.options = M.merge(opts)
end

--- The LSP initializationOptions the options ask for (only the ones that were set).
---@param o lulu.Config|nil
---@return table
function M.init_options(o)
  o = o or M.options
  local init = vim.empty_dict()
  if o.state_dir then
    init.stateDir = vim.fn.fnamemodify(o.state_dir, ":p"):gsub("/$", "")
  end
  if o.worktree_dir then
    init.worktreeDir = o.worktree_dir
  end
  if o.max_running then
    init.maxRunning = o.max_running
  end
  if o.default_agent then
    init.defaultAgent = o.default_agent
  end
  if o.agents then
    init.agents = o.agents
  end
  return init
end

return M
