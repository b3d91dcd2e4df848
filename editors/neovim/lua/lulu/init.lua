--- Lulu for Neovim: run several AI coding agents at once, each in its own git worktree, and watch
--- them live. `setup()` is optional; `:Lulu` starts the server on first use.
local config = require("lulu.config")

local M = {}

--- Sets options (merged over the defaults with `vim.tbl_deep_extend`). Unknown options are left
--- out and reported by `:checkhealth lulu`.
---@param opts lulu.Config|table|nil
function M.setup(opts)
  config.set(opts)
  if #config.problems > 0 then
    vim.notify(
      "lulu: setup() options have problems (see :checkhealth lulu): " .. table.concat(config.problems, "; "),
      vim.log.levels.WARN
    )
  end
end

---@class lulu.Subcommand
---@field run fun(args: string[], bang: boolean)
---@field desc string

local function actions()
  return require("lulu.actions")
end

local function client()
  return require("lulu.client")
end

--- Parses leading `--agent=NAME` and `--name=NAME` flags of `:Lulu spawn`.
---@param args string[]
---@return {agent?: string, name?: string} flags
---@return string prompt
function M.parse_spawn_args(args)
  local flags = {}
  local i = 1
  while i <= #args do
    local key, value = args[i]:match("^%-%-(%w+)=(.*)$")
    if key == "agent" or key == "name" then
      flags[key] = value
      i = i + 1
    else
      break
    end
  end
  return flags, table.concat(args, " ", i)
end

---@type table<string, lulu.Subcommand>
M.subcommands = {
  list = {
    desc = "open the live list",
    run = function()
      actions().list()
    end,
  },
  pick = {
    desc = "choose a session and open it",
    run = function()
      local repo, err = client().get()
      if not repo then
        client().error(err or "no repository")
        return
      end
      actions().pick(repo, {}, function(row)
        require("lulu.view").open(repo, row.id)
      end)
    end,
  },
  spawn = {
    desc = "start a session: :Lulu spawn [--agent=NAME] [--name=NAME] [prompt]",
    run = function(args)
      local repo, err = client().get()
      if not repo then
        client().error(err or "no repository")
        return
      end
      local flags, prompt = M.parse_spawn_args(args)
      actions().spawn(repo, { prompt = prompt, agent = flags.agent, name = flags.name })
    end,
  },
  open = {
    desc = "open the session view",
    run = function()
      actions().with_target("Open session", function(repo, row)
        require("lulu.view").open(repo, row.id)
      end)
    end,
  },
  cancel = {
    desc = "cancel a session",
    run = function()
      actions().with_target("Cancel session", actions().cancel)
    end,
  },
  continue = {
    desc = "continue an ended session: :Lulu continue [prompt]",
    run = function(args)
      local prompt = table.concat(args, " ")
      actions().with_target("Continue session", function(repo, row)
        actions().continue(repo, row, prompt)
      end)
    end,
  },
  remove = {
    desc = "remove a session and its worktree (! forces)",
    run = function(_, bang)
      actions().with_target("Remove session", function(repo, row)
        actions().remove(repo, row, { force = bang })
      end)
    end,
  },
  diff = {
    desc = "changed files in the quickfix list and a diff of one",
    run = function(args)
      if require("lulu.diff").open_qf_entry() then
        return
      end
      actions().with_target("Diff session", function(repo, row)
        require("lulu.diff").open(repo, row.id, { path = args[1] })
      end)
    end,
  },
}

--- Runs `:Lulu[!] [subcommand] [args]`.
---@param cmd {fargs: string[], bang: boolean}
function M.command(cmd)
  local args = vim.deepcopy(cmd.fargs or {})
  local name = table.remove(args, 1) or "list"
  local bang = cmd.bang == true
  -- `:Lulu remove!` as well as `:Lulu! remove`.
  if name:sub(-1) == "!" then
    name = name:sub(1, -2)
    bang = true
  end
  local sub = M.subcommands[name]
  if not sub then
    local names = vim.tbl_keys(M.subcommands)
    table.sort(names)
    client().error(string.format("unknown subcommand %q; use one of: %s", name, table.concat(names, ", ")))
    return
  end
  local ok, err = xpcall(sub.run, debug.traceback, args, bang)
  if not ok then
    client().error("internal error in :Lulu " .. name .. ": " .. tostring(err))
  end
end

--- Completion of `:Lulu`: subcommand names, then the agents' flags for `spawn`.
---@param arglead string
---@param cmdline string
---@return string[]
function M.complete(arglead, cmdline)
  local words = vim.split(vim.trim(cmdline:gsub("^%s*%S+", "", 1)), "%s+", { trimempty = true })
  local has_space = cmdline:match("%s$") ~= nil
  if #words == 0 or (#words == 1 and not has_space) then
    local names = vim.tbl_keys(M.subcommands)
    table.sort(names)
    return vim.tbl_filter(function(n)
      return vim.startswith(n, arglead)
    end, names)
  end
  if words[1] == "spawn" and vim.startswith(arglead, "--") then
    local out = {}
    for _, f in ipairs({ "--agent=", "--name=" }) do
      if vim.startswith(f, arglead) then
        out[#out + 1] = f
      end
    end
    local agents = vim.tbl_keys(config.options.agents or {})
    table.sort(agents)
    for _, a in ipairs(agents) do
      local f = "--agent=" .. a
      if vim.startswith(f, arglead) then
        out[#out + 1] = f
      end
    end
    return out
  end
  return {}
end

return M
