--- Landing a session into its base branch, syncing it with the base, pushing it: `:Lulu land`,
--- `:Lulu sync`, `:Lulu push` and their keys in the list and the session view.
local client = require("lulu.client")
local codes = require("lulu.codes")
local format = require("lulu.format")

local M = {}

---@alias lulu.LandStrategy "squash"|"rebase"|"merge"

---@type lulu.LandStrategy[]
M.strategies = { "squash", "rebase", "merge" }

M.strategy_help = {
  squash = "one commit with the whole change",
  rebase = "the session's commits replayed on top",
  merge = "a merge commit",
}

---@param value any
---@return boolean
local function present(value)
  return value ~= nil and value ~= vim.NIL
end

--- Puts `files` (relative to `root`) in the quickfix list, titled `title`, and opens it.
---@param root string
---@param files string[]
---@param title string
function M.files_to_quickfix(root, files, title)
  local items = {}
  for _, file in ipairs(files) do
    items[#items + 1] = { filename = root .. "/" .. file, lnum = 1, text = title }
  end
  vim.fn.setqflist({}, " ", { title = "Lulu: " .. title, items = items })
  vim.cmd("botright copen")
end

--- The files an error names (`data.files`), if any.
---@param err {data?: table}
---@return string[]
local function error_files(err)
  if type(err.data) == "table" and type(err.data.files) == "table" then
    return err.data.files
  end
  return {}
end

--- After a landing: offers to remove the session's worktree and branch in one step.
---@param repo lulu.Repo
---@param row lulu.SessionRow
local function offer_cleanup(repo, row)
  vim.ui.select({ "Keep the worktree and branch", "Remove the worktree and branch" }, {
    prompt = "Landed " .. format.one_line(row.name) .. ". Clean up?",
    kind = "lulu_confirm",
  }, function(choice)
    if choice == "Remove the worktree and branch" then
      require("lulu.actions").remove(repo, row, { delete_branch = true, confirm = true })
    end
  end)
end

--- Lands `row` with `strategy`; refusals put their files in the quickfix list and offer what to do.
---@param repo lulu.Repo
---@param row lulu.SessionRow
---@param opts {strategy: lulu.LandStrategy, into?: string, message?: string, cleanup?: boolean}
function M.send_land(repo, row, opts)
  local params = { id = row.id, strategy = opts.strategy }
  if opts.into and opts.into ~= "" then
    params.into = opts.into
  end
  if opts.message and opts.message ~= "" then
    params.message = opts.message
  end
  client.request(repo, "lulu/land", params, function(err, result)
    if not err then
      vim.notify(
        string.format(
          "lulu: landed %s into %s (%s, %d file%s)",
          format.one_line(row.name),
          result.into,
          result.strategy,
          result.files,
          result.files == 1 and "" or "s"
        ),
        vim.log.levels.INFO
      )
      if opts.cleanup ~= false then
        offer_cleanup(repo, row)
      end
      return
    end
    local files = error_files(err)
    if err.code == codes.Conflicts and #files > 0 then
      M.files_to_quickfix(repo.root, files, "conflicts with the target")
      client.error(err.message .. " (:Lulu sync brings the base in and hands the conflicts to the agent)")
    elseif err.code == codes.WouldLoseWork and #files > 0 then
      M.files_to_quickfix(repo.root, files, "your uncommitted change in the landing's way")
      client.error(err.message)
    else
      client.error(err.message)
    end
  end)
end

--- `:Lulu land [strategy]`: asks for the strategy (squash first) when not given, and the commit
--- message (prefilled, editable) for squash and merge.
---@param repo lulu.Repo
---@param row lulu.SessionRow
---@param strategy lulu.LandStrategy|nil
function M.land(repo, row, strategy)
  if row.status == "starting" or row.status == "running" then
    client.error(format.one_line(row.name) .. " is still " .. row.status .. "; land it once it has ended")
    return
  end
  if strategy and not M.strategy_help[strategy] then
    client.error(string.format("unknown strategy %q; use squash, rebase or merge", strategy))
    return
  end
  local function with_message(chosen)
    if chosen == "rebase" then
      M.send_land(repo, row, { strategy = chosen })
      return
    end
    client.call(repo, "lulu/session", { id = row.id }, function(detail)
      local default = chosen == "squash" and detail.name
        or string.format(
          "Merge branch '%s' into %s",
          present(detail.branch) and detail.branch or "",
          present(detail.baseBranch) and detail.baseBranch or ""
        )
      vim.ui.input({ prompt = "Commit message: ", default = default }, function(message)
        if message == nil then
          return
        end
        if chosen == "squash" and message == detail.name and detail.prompt ~= detail.name then
          message = nil -- the server's default: the name, a blank line, the prompt
        end
        M.send_land(repo, row, { strategy = chosen, message = message })
      end)
    end)
  end
  if strategy then
    with_message(strategy)
    return
  end
  client.call(repo, "lulu/session", { id = row.id }, function(detail)
    local into = present(detail.baseBranch) and detail.baseBranch or "?"
    vim.ui.select(M.strategies, {
      prompt = "Land " .. format.one_line(row.name) .. " into " .. into,
      kind = "lulu_land_strategy",
      format_item = function(s)
        return s .. ": " .. M.strategy_help[s]
      end,
    }, function(chosen)
      if chosen then
        with_message(chosen)
      end
    end)
  end)
end

--- `:Lulu sync [--no-agent]`: merges the latest base into the session; conflicts go to the
--- quickfix list (in the session's worktree) and, unless `--no-agent`, back to the agent.
---@param repo lulu.Repo
---@param row lulu.SessionRow
---@param opts {agent_resolves?: boolean}|nil
function M.sync(repo, row, opts)
  opts = opts or {}
  local agent = opts.agent_resolves ~= false
  client.call(repo, "lulu/session", { id = row.id }, function(detail)
    client.call(repo, "lulu/sync", { id = row.id, agentResolves = agent }, function(result)
      local name = format.one_line(row.name)
      if result.result == "upToDate" then
        vim.notify("lulu: " .. name .. " is up to date with its base", vim.log.levels.INFO)
      elseif result.result == "synced" then
        vim.notify(
          string.format("lulu: synced %s with its base (%d files changed)", name, #result.files),
          vim.log.levels.INFO
        )
      else
        local root = present(detail.worktreePath) and detail.worktreePath or repo.root
        M.files_to_quickfix(root, result.files, "merge conflict")
        local next_step = agent and "the agent is resolving them"
          or "resolve them, then git add and git commit in the worktree"
        vim.notify(
          string.format("lulu: syncing %s conflicts in %s; %s", name, table.concat(result.files, ", "), next_step),
          vim.log.levels.WARN
        )
      end
    end)
  end)
end

--- `:Lulu push [--pr] [--draft]`: pushes the session's branch, and opens a pull request with `gh`.
---@param repo lulu.Repo
---@param row lulu.SessionRow
---@param opts {pr?: boolean, draft?: boolean, remote?: string}|nil
function M.push(repo, row, opts)
  opts = opts or {}
  local params = { id = row.id }
  if opts.remote then
    params.remote = opts.remote
  end
  if opts.pr then
    params.pullRequest = { draft = opts.draft == true }
  end
  client.call(repo, "lulu/push", params, function(result)
    local text = string.format("lulu: pushed %s to %s", result.branch, result.remote)
    if present(result.url) then
      text = text .. "; pull request: " .. result.url
    end
    vim.notify(text, vim.log.levels.INFO)
  end)
end

--- The header lines of the session view about the branch: base, ahead/behind, landed.
---@param d table a SessionDetail
---@return {[1]: string, [2]: string}[] label and value
function M.detail_lines(d)
  local out = {}
  if not present(d.baseBranch) then
    if d.baseBranch == vim.NIL then
      out[#out + 1] = { "Based on", "- (started detached)" }
    end
    return out
  end
  local counts = "?"
  if present(d.ahead) and present(d.behind) then
    counts = string.format("%d ahead, %d behind", d.ahead, d.behind)
  end
  out[#out + 1] = { "Based on", d.baseBranch .. "  (" .. counts .. ")" }
  if present(d.landed) then
    local l = d.landed
    out[#out + 1] = {
      "Landed",
      string.format("into %s (%s) as %s at %s", l.into, l.strategy, tostring(l.commit):sub(1, 12), l.at),
    }
  else
    out[#out + 1] = { "Landed", "no" }
  end
  return out
end

return M
