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
---@field run fun(args: string[], bang: boolean, text: string)  text: the arguments as typed
---@field desc string

local function actions()
  return require("lulu.actions")
end

local function client()
  return require("lulu.client")
end

--- Reads one shell-like word of `text` from byte `pos`: plain characters (a backslash escapes the
--- next one), '...' and "..." (inside them a backslash escapes the quote or a backslash), up to
--- white space outside quotes.
---@param text string
---@param pos integer
---@return string|nil word
---@return integer next the byte after the word
---@return string|nil err
function M.read_word(text, pos)
  local out = {}
  local i, n = pos, #text
  while i <= n do
    local c = text:sub(i, i)
    if c:match("%s") then
      break
    elseif c == "\\" and i < n then
      out[#out + 1] = text:sub(i + 1, i + 1)
      i = i + 2
    elseif c == '"' or c == "'" then
      local j, closed = i + 1, false
      while j <= n do
        local d, e = text:sub(j, j), text:sub(j + 1, j + 1)
        if d == "\\" and (e == c or e == "\\") then
          out[#out + 1] = e
          j = j + 2
        elseif d == c then
          closed = true
          j = j + 1
          break
        else
          out[#out + 1] = d
          j = j + 1
        end
      end
      if not closed then
        return nil, j, string.format("the quote %s opened in %s is never closed", c, text:sub(pos))
      end
      i = j
    else
      out[#out + 1] = c
      i = i + 1
    end
  end
  return table.concat(out), i, nil
end

--- Parses `:Lulu spawn`'s arguments as typed: leading `--agent=NAME` and `--name=NAME` flags (also
--- `--name NAME`; values may be quoted with '...' or "..." or have backslash-escaped spaces; `--`
--- ends the flags), then the prompt: the rest of the line, exactly as typed.
---@param text string
---@return {agent?: string, name?: string}|nil flags
---@return string|nil prompt
---@return string|nil err what is wrong with the flags
function M.parse_spawn_args(text)
  local flags = {}
  local pos = 1
  while true do
    local start = text:find("%S", pos)
    if not start then
      return flags, "", nil
    end
    if text:sub(start, start + 1) ~= "--" then
      return flags, text:sub(start), nil
    end
    local word, after, err = M.read_word(text, start)
    if not word then
      return nil, nil, err
    end
    if word == "--" then
      return flags, text:sub(after):gsub("^%s+", ""), nil
    end
    local key, value = word:match("^%-%-([%w_-]+)=(.*)$")
    if not key then
      key = word:match("^%-%-([%w_-]+)$")
      local value_start = text:find("%S", after)
      if key and value_start then
        value, after, err = M.read_word(text, value_start)
        if not value then
          return nil, nil, err
        end
      end
    end
    if key ~= "agent" and key ~= "name" then
      return nil, nil, string.format(
        "unknown flag %q: :Lulu spawn takes --agent=NAME and --name=NAME before the prompt (-- ends them)",
        word:match("^[^=]*")
      )
    end
    if value == nil or value == "" then
      return nil, nil, string.format("--%s needs a value: --%s=VALUE", key, key)
    end
    flags[key] = value
    pos = after
  end
end

local function comments()
  return require("lulu.comments")
end

---@type table<string, lulu.Subcommand>
M.subcommands = {
  comment = {
    desc = "comment on the cursor's line of a session's file or diff: :Lulu comment [text]",
    run = function(_, _, text)
      comments().add({ text = text })
    end,
  },
  comments = {
    desc = "the session's review comments in the quickfix list",
    run = function()
      comments().list()
    end,
  },
  uncomment = {
    desc = "delete the draft comment on the cursor's line",
    run = function()
      comments().remove()
    end,
  },
  review = {
    desc = "send the draft comments (and a message) to the agent: :Lulu review [message]",
    run = function(_, _, text)
      comments().review(text)
    end,
  },
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
    run = function(_, _, text)
      local flags, prompt, perr = M.parse_spawn_args(text)
      if not flags then
        client().error(perr or "bad arguments")
        return
      end
      local repo, err = client().get()
      if not repo then
        client().error(err or "no repository")
        return
      end
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
    run = function(_, _, text)
      local prompt = text
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
  land = {
    desc = "land an ended session into its base branch: :Lulu land [squash|rebase|merge]",
    run = function(args)
      local strategy = args[1]
      actions().with_target("Land session", function(repo, row)
        require("lulu.land").land(repo, row, strategy)
      end)
    end,
  },
  sync = {
    desc = "merge the latest base into the session; conflicts go to the agent: :Lulu sync [--no-agent]",
    run = function(args)
      local agent = not vim.tbl_contains(args, "--no-agent")
      actions().with_target("Sync session", function(repo, row)
        require("lulu.land").sync(repo, row, { agent_resolves = agent })
      end)
    end,
  },
  push = {
    desc = "push the session's branch: :Lulu push [--pr] [--draft]",
    run = function(args)
      local opts = { pr = vim.tbl_contains(args, "--pr"), draft = vim.tbl_contains(args, "--draft") }
      actions().with_target("Push session", function(repo, row)
        require("lulu.land").push(repo, row, opts)
      end)
    end,
  },
  approvals = {
    desc = "answer the permission requests the agents are waiting on (Allow, Deny, Deny with message)",
    run = function()
      require("lulu.approvals").pick()
    end,
  },
  send = {
    desc = "send a message to a running session's agent: :Lulu send [text]",
    run = function(_, _, text)
      actions().with_target("Send to session", function(repo, row)
        require("lulu.approvals").send(repo, row, text)
      end, {
        filter = function(row)
          return row.status == "running"
        end,
        none = "no running session",
      })
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
---@param cmd {fargs: string[], args?: string, bang: boolean}
function M.command(cmd)
  local args = vim.deepcopy(cmd.fargs or {})
  -- The arguments after the subcommand as typed (quotes and runs of spaces kept).
  local text = (cmd.args or table.concat(args, " ")):match("^%s*%S+%s*(.-)$") or ""
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
  comments().attach_autocmd()
  local ok, err = xpcall(sub.run, debug.traceback, args, bang, text)
  if not ok then
    client().error("internal error in :Lulu " .. name .. ": " .. tostring(err))
  end
end

--- Completion of `:Lulu`: subcommand names, then the flags of `spawn`, with the agents the
--- repository's server knows (those given to setup() when no server runs).
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
  local argument_words = {
    land = { "squash", "rebase", "merge" },
    sync = { "--no-agent" },
    push = { "--pr", "--draft" },
  }
  if argument_words[words[1]] then
    return vim.tbl_filter(function(w)
      return vim.startswith(w, arglead)
    end, argument_words[words[1]])
  end
  if words[1] == "spawn" and vim.startswith(arglead, "--") then
    local out = {}
    for _, f in ipairs({ "--agent=", "--name=" }) do
      if vim.startswith(f, arglead) then
        out[#out + 1] = f
      end
    end
    for _, a in ipairs(client().agent_names()) do
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
