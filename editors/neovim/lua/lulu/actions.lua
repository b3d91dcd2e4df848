--- What the commands and the list keymaps do: spawn, pick, cancel, continue, remove.
local client = require("lulu.client")
local codes = require("lulu.codes")
local format = require("lulu.format")

local M = {}

--- The whole failure of each failed row whose reason the server cut (asked with `lulu/session`),
--- by id; `cb` runs once every answer is in.
---@param repo lulu.Repo
---@param rows lulu.SessionRow[]
---@param cb fun(reasons: table<string, string>)
local function full_reasons(repo, rows, cb)
  local cut = vim.tbl_filter(function(row)
    return row.status == "failed" and format.reason_cut(row.failureReason)
  end, rows)
  local reasons, remaining = {}, #cut
  if remaining == 0 then
    cb(reasons)
    return
  end
  for _, row in ipairs(cut) do
    client.request(repo, "lulu/session", { id = row.id }, function(err, detail)
      if not err and type(detail) == "table" then
        reasons[row.id] = format.full_reason(detail)
      end
      remaining = remaining - 1
      if remaining == 0 then
        cb(reasons)
      end
    end)
  end
end

---@class lulu.PickOpts
---@field prompt? string
---@field filter? fun(row: lulu.SessionRow): boolean  only the rows it keeps are offered
---@field none? string  what to say when no row is offered (default "no sessions")

--- Shows the sessions with `vim.ui.select` (newest first) and calls `cb(row)` with the choice.
--- A failed session shows its whole reason (the detail of one the server cut).
---@param repo lulu.Repo
---@param opts lulu.PickOpts|nil
---@param cb fun(row: lulu.SessionRow)
function M.pick(repo, opts, cb)
  opts = opts or {}
  local function show()
    local rows = client.rows(repo)
    if opts.filter then
      rows = vim.tbl_filter(opts.filter, rows)
    end
    if #rows == 0 then
      vim.notify("lulu: " .. (opts.none or "no sessions") .. " in " .. repo.root, vim.log.levels.INFO)
      return
    end
    full_reasons(repo, rows, function(reasons)
      local now = os.time()
      vim.ui.select(rows, {
        prompt = opts.prompt or "Lulu session",
        kind = "lulu_session",
        format_item = function(row)
          return format.picker_item(row, now, reasons[row.id])
        end,
      }, function(row)
        if row then
          cb(row)
        end
      end)
    end)
  end
  if repo.loaded then
    show()
  else
    client.refresh(repo, function(err)
      if err then
        client.error(err.message)
        return
      end
      show()
    end)
  end
end

--- The session the user means: the row under the cursor in the list, the session of a session
--- view, or one chosen in the picker.
---@param prompt string
---@param cb fun(repo: lulu.Repo, row: lulu.SessionRow)
---@param pick_opts lulu.PickOpts|nil  which sessions the picker offers
function M.with_target(prompt, cb, pick_opts)
  local bufnr = vim.api.nvim_get_current_buf()
  local list = require("lulu.list")
  if list.states[bufnr] then
    local row, repo = list.row_under_cursor(bufnr)
    if row and repo then
      cb(repo, row)
      return
    end
  end
  local view = require("lulu.view")
  local vst = view.states[bufnr]
  if vst then
    if vst.repo.closed then
      local repo, err = client.get(vst.repo.root)
      if not repo then
        client.error(err or ("cannot reconnect to " .. vst.repo.root))
        return
      end
      view.rebind(bufnr, repo)
    end
    local row = vst.repo.sessions[vst.id] or vst.detail
    cb(vst.repo, row)
    return
  end
  local repo, err = client.get()
  if not repo then
    client.error(err or "no repository")
    return
  end
  M.pick(repo, vim.tbl_extend("force", pick_opts or {}, { prompt = prompt }), function(row)
    cb(repo, row)
  end)
end

--- The setup command of the repository is code from the repository: it runs only once the
--- user trusted that exact command. `lulu/spawn` answers -32021 until then; show the command
--- as it is, ask with `vim.fn.confirm`, and on yes trust it (`lulu/trust`) and spawn again.
---@param repo lulu.Repo
---@param params table the `lulu/spawn` params
---@param cb fun(row: lulu.SessionRow)
function M.spawn_trusting(repo, params, cb)
  client.request(repo, "lulu/spawn", params, function(err, row)
    if not err then
      cb(row)
      return
    end
    if err.code ~= -32021 or type(err.data) ~= "table" then
      client.error(err.message)
      return
    end
    local data = err.data
    local message = data.repo
      .. " runs this setup command in each new worktree (sh -c), before the agent:\n\n"
      .. data.setup
      .. "\n\nTrust this exact command for this repository?"
    local choice = vim.fn.confirm(message, "&Trust and start\n&Cancel", 2, "Question")
    if choice ~= 1 then
      vim.notify("lulu: not started; the setup command is not trusted", vim.log.levels.WARN)
      return
    end
    client.request(repo, "lulu/trust", { repo = data.repo, setupHash = data.setupHash }, function(trust_err)
      if trust_err then
        client.error(trust_err.message)
        return
      end
      client.call(repo, "lulu/spawn", params, cb)
    end)
  end)
end

--- Starts a session. Without a prompt, asks for one with `vim.ui.input`; without an agent, asks
--- with `vim.ui.select` when the prompt was asked and several agents are available.
---@param repo lulu.Repo
---@param opts {prompt?: string, agent?: string, name?: string, on_spawned?: fun(row: lulu.SessionRow)}
function M.spawn(repo, opts)
  local function send(prompt, agent)
    local params = { prompt = prompt }
    if agent then
      params.agent = agent
    end
    if opts.name then
      params.name = opts.name
    end
    M.spawn_trusting(repo, params, function(row)
      if row and row.id then
        -- The row is shown at once; notifications keep it current.
        if not repo.sessions[row.id] then
          client.apply_row(repo, row)
        end
        vim.notify("lulu: started " .. format.one_line(row.name), vim.log.levels.INFO)
        if opts.on_spawned then
          opts.on_spawned(row)
        end
      end
    end)
  end
  local function choose_agent(prompt)
    if opts.agent then
      send(prompt, opts.agent)
      return
    end
    client.call(repo, "lulu/agents", vim.empty_dict(), function(result)
      local names = {}
      local default = result.defaultAgent
      for _, a in ipairs(result.agents or {}) do
        if a.available then
          names[#names + 1] = a.name
        end
      end
      table.sort(names, function(a, b)
        if a == default or b == default then
          return a == default
        end
        return a < b
      end)
      if #names <= 1 then
        send(prompt, names[1])
        return
      end
      vim.ui.select(names, {
        prompt = "Lulu agent",
        kind = "lulu_agent",
        format_item = function(name)
          return name == default and (name .. " (default)") or name
        end,
      }, function(name)
        if name then
          send(prompt, name)
        end
      end)
    end)
  end
  if opts.prompt and opts.prompt ~= "" then
    send(opts.prompt, opts.agent)
    return
  end
  vim.ui.input({ prompt = "Lulu prompt: " }, function(prompt)
    if prompt == nil or vim.trim(prompt) == "" then
      return
    end
    choose_agent(prompt)
  end)
end

---@param repo lulu.Repo
---@param row lulu.SessionRow
function M.cancel(repo, row)
  if row.status == "completed" or row.status == "failed" then
    vim.notify("lulu: " .. format.one_line(row.name) .. " has already ended", vim.log.levels.INFO)
    return
  end
  client.call(repo, "lulu/cancel", { id = row.id })
end

--- Continues an ended session with a new prompt (asked with `vim.ui.input` when not given).
---@param repo lulu.Repo
---@param row lulu.SessionRow
---@param prompt string|nil
function M.continue(repo, row, prompt)
  if row.status == "starting" or row.status == "running" then
    client.error(format.one_line(row.name) .. " is still " .. row.status .. "; cancel it or wait for it to end")
    return
  end
  local function send(p)
    client.call(repo, "lulu/continue", { id = row.id, prompt = p })
  end
  if prompt and prompt ~= "" then
    send(prompt)
    return
  end
  vim.ui.input({ prompt = "Continue " .. format.one_line(row.name) .. ": " }, function(p)
    if p and vim.trim(p) ~= "" then
      send(p)
    end
  end)
end

--- Removes a session and its worktree. Without `force`, a refusal for a running session or
--- uncommitted work asks whether to force it.
---@param repo lulu.Repo
---@param row lulu.SessionRow
---@param opts {force?: boolean, delete_branch?: boolean, confirm?: boolean}
function M.remove(repo, row, opts)
  local params = { id = row.id, force = opts.force == true }
  if opts.delete_branch then
    params.deleteBranch = true
  end
  client.request(repo, "lulu/remove", params, function(err)
    if not err then
      vim.notify("lulu: removed " .. format.one_line(row.name), vim.log.levels.INFO)
      return
    end
    local needs_force = err.code == codes.SessionActive or err.code == codes.WouldLoseWork
    if needs_force and not opts.force and opts.confirm ~= false then
      vim.ui.select({ "Keep it", "Remove anyway" }, {
        prompt = err.message .. " Remove anyway?",
        kind = "lulu_confirm",
      }, function(choice)
        if choice == "Remove anyway" then
          M.remove(repo, row, { force = true, delete_branch = opts.delete_branch })
        end
      end)
      return
    end
    local hint = ""
    if needs_force then
      hint = " (use :Lulu remove! to force)"
    end
    client.error(err.message .. hint)
  end)
end

--- Opens the live list of the current repository.
function M.list()
  local repo, err = client.get()
  if not repo then
    client.error(err or "no repository")
    return
  end
  require("lulu.list").open(repo)
end

return M
