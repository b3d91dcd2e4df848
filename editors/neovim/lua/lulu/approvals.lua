--- Talking to a running agent: its permission requests (a notification for each, `:Lulu approvals`
--- and the session view's key to answer them, the lines the view shows) and messages
--- (`:Lulu send`). Only agents lulu hosts (Claude Code through stream-json) ask and listen.
local client = require("lulu.client")
local codes = require("lulu.codes")
local format = require("lulu.format")

local M = {}

--- Requests this Neovim has told the user of, by id. A server that starts (a reconnect, or
--- `lulu serve` restarted) announces every pending request again; those are not told twice.
---@type table<string, true>
M.announced = {}

--- Requests that stopped being pending while this Neovim ran, by id (how, from the server).
---@type table<string, lulu.ApprovalResolved>
M.resolved = {}

local watching = false

---@class lulu.PendingItem
---@field approval lulu.Approval
---@field repo lulu.Repo     the server to answer through
---@field name string        the session's name

--- What the agent wants, as a person says it: `run: npm test` for a shell command, else
--- `use TOOL: ...` from the request's one-line summary.
---@param approval lulu.Approval
---@return string
function M.what(approval)
  local summary = format.one_line(approval.summary or approval.tool or "a tool")
  local command = summary:match("^Bash: (.*)$")
  if approval.tool == "Bash" and command then
    return "run: " .. command
  end
  return "use " .. summary
end

--- The notification of a new request.
---@param approval lulu.Approval
---@param name string the session's name
---@return string
function M.message(approval, name)
  return string.format("lulu: Claude wants to %s (session %s) — :Lulu approvals", M.what(approval), name)
end

--- A picker item: the session, what the agent wants and how long it has waited.
---@param item lulu.PendingItem
---@param now number
---@return string
function M.item_text(item, now)
  local asked = format.parse_time(item.approval.requestedAt)
  local age = asked and ("  " .. format.age(now - asked)) or ""
  return string.format("%s: %s%s", item.name, format.one_line(item.approval.summary or item.approval.tool), age)
end

--- The keys of an input shown first, in this order; the others follow sorted.
local first_keys = { "command", "file_path", "url", "pattern", "query" }

--- The lines of a request's input, whole: one `key: value` a field, a value of several lines
--- (or a table, as JSON) indented under its first line.
---@param input any
---@param indent string
---@return string[]
function M.input_lines(input, indent)
  if type(input) ~= "table" then
    return { indent .. vim.json.encode(input) }
  end
  local keys = {}
  for _, k in ipairs(first_keys) do
    if input[k] ~= nil then
      keys[#keys + 1] = k
    end
  end
  local rest = {}
  for k in pairs(input) do
    if not vim.tbl_contains(first_keys, k) then
      rest[#rest + 1] = tostring(k)
    end
  end
  table.sort(rest)
  vim.list_extend(keys, rest)
  local out = {}
  for _, k in ipairs(keys) do
    local v = input[k]
    local text = type(v) == "string" and v or vim.json.encode(v)
    local head = indent .. k .. ": "
    for i, l in ipairs(format.split_lines(text)) do
      out[#out + 1] = (i == 1 and head or string.rep(" ", #head)) .. l
    end
  end
  return out
end

--- The session view's lines of the session's pending requests (`SessionDetail.pendingApprovals`):
--- a `Waiting:` line each, with the input in full under it.
---@param d table SessionDetail
---@param now number
---@param answer_key string|nil the view's key that answers them
---@return string[]
function M.detail_lines(d, now, answer_key)
  local pending = d.pendingApprovals
  if type(pending) ~= "table" then
    return {}
  end
  local out = {}
  for _, approval in ipairs(pending) do
    local asked = format.parse_time(approval.requestedAt)
    local when = asked and ("asked " .. format.age(now - asked) .. " ago") or "asked"
    local hint = answer_key and ("; " .. answer_key .. " answers") or ""
    out[#out + 1] = string.format("%-10s Claude wants to %s  (%s%s)", "Waiting:", M.what(approval), when, hint)
    vim.list_extend(out, M.input_lines(approval.input, string.rep(" ", 13)))
  end
  return out
end

--- The name of a session (`cb` runs with it): from the rows the client knows, else asked.
---@param repo lulu.Repo
---@param id string
---@param cb fun(name: string, detail: table|nil)
local function session_name(repo, id, cb)
  local row = repo.sessions[id]
  if row then
    cb(format.one_line(row.name), nil)
    return
  end
  client.request(repo, "lulu/session", { id = id }, function(err, detail)
    if err or type(detail) ~= "table" then
      cb(id:sub(1, 8), nil)
      return
    end
    cb(format.one_line(detail.name or id:sub(1, 8)), detail)
  end)
end

--- Tells the user of a request, once per Neovim whatever the servers announce again.
---@param repo lulu.Repo
---@param approval lulu.Approval
function M.on_requested(repo, approval)
  local id = approval.approvalId
  if M.announced[id] or M.resolved[id] then
    return
  end
  M.announced[id] = true
  session_name(repo, approval.sessionId, function(name)
    if M.resolved[id] then
      return
    end
    vim.notify(M.message(approval, name), vim.log.levels.WARN)
  end)
end

--- Starts telling the user of requests (once; the client calls it when it starts a server).
function M.watch()
  if watching then
    return
  end
  watching = true
  client.subscribe("approval", M.on_requested)
  client.subscribe("resolved", function(_, params)
    M.resolved[params.approvalId] = params
  end)
end

--- The pending requests of a repository's server, by its notifications, oldest first.
---@param repo lulu.Repo
---@return lulu.Approval[]
function M.pending(repo)
  local out = vim.tbl_values(repo.approvals or {})
  table.sort(out, function(a, b)
    return (a.requestedAt or "") < (b.requestedAt or "")
  end)
  return out
end

--- Why a request is no longer waiting, as a quiet sentence.
---@param resolved lulu.ApprovalResolved|nil
---@return string
local function gone_message(resolved)
  local why = "it was answered elsewhere, timed out, or its session ended"
  if resolved then
    if resolved.by == "timeout" then
      why = "it timed out and was denied"
    elseif resolved.by == "cancel" then
      why = "its session ended"
    else
      why = "it was already " .. (resolved.allowed and "allowed" or "denied")
    end
  end
  return "lulu: that request is no longer waiting: " .. why
end

--- Answers a request (`lulu/approve`). One that stopped waiting meanwhile is told quietly.
---@param item lulu.PendingItem
---@param allow boolean
---@param message string|nil the reason of a denial, for the agent
function M.approve(item, allow, message)
  local id = item.approval.approvalId
  if M.resolved[id] then
    vim.notify(gone_message(M.resolved[id]), vim.log.levels.INFO)
    return
  end
  local params = { approvalId = id, allow = allow }
  if message then
    params.message = message
  end
  client.request(item.repo, "lulu/approve", params, function(err)
    if err and err.code == codes.NoSuchSession then
      vim.notify(gone_message(M.resolved[id]), vim.log.levels.INFO)
    elseif err then
      client.error(err.message)
    else
      local verb = allow and "allowed" or "denied"
      local summary = format.one_line(item.approval.summary or item.approval.tool)
      vim.notify(string.format("lulu: %s %s (session %s)", verb, summary, item.name), vim.log.levels.INFO)
    end
  end)
end

--- Asks Allow / Deny / Deny with message (`vim.ui.select`, then `vim.ui.input` for the message)
--- and answers.
---@param item lulu.PendingItem
function M.answer(item)
  vim.ui.select({ "Allow", "Deny", "Deny with message" }, {
    prompt = string.format("%s: Claude wants to %s", item.name, M.what(item.approval)),
    kind = "lulu_approval_answer",
  }, function(choice)
    if choice == "Allow" or choice == "Deny" then
      M.approve(item, choice == "Allow")
    elseif choice == "Deny with message" then
      vim.ui.input({ prompt = "Tell Claude why: " }, function(text)
        if text ~= nil then
          M.approve(item, false, vim.trim(text) ~= "" and text or nil)
        end
      end)
    end
  end)
end

--- The pending requests of several servers (`lulu/approvals`), oldest first, each once (servers
--- sharing a state dir list the same ones), of the sessions of those servers' repositories.
---@param repos lulu.Repo[]
---@param session_id string|nil only this session's
---@param cb fun(items: lulu.PendingItem[])
function M.collect(repos, session_id, cb)
  local roots, by_id, order = {}, {}, {}
  for _, repo in ipairs(repos) do
    roots[repo.root] = true
  end
  local remaining = #repos
  local function finish()
    local items = {}
    for _, id in ipairs(order) do
      items[#items + 1] = by_id[id]
    end
    local kept = {}
    local function done()
      table.sort(kept, function(a, b)
        return (a.approval.requestedAt or "") < (b.approval.requestedAt or "")
      end)
      cb(kept)
    end
    local names_left = #items
    if names_left == 0 then
      done()
      return
    end
    for _, item in ipairs(items) do
      session_name(item.repo, item.approval.sessionId, function(name, detail)
        item.name = name
        -- A session the client did not list (another repository sharing the state dir) is kept
        -- only when it is of one of the client's repositories.
        if detail == nil or roots[detail.repo] then
          kept[#kept + 1] = item
        end
        names_left = names_left - 1
        if names_left == 0 then
          done()
        end
      end)
    end
  end
  if remaining == 0 then
    finish()
    return
  end
  local params = session_id and { id = session_id } or vim.empty_dict()
  for _, repo in ipairs(repos) do
    client.request(repo, "lulu/approvals", params, function(err, result)
      if err then
        client.error(err.message)
      else
        for _, approval in ipairs(type(result) == "table" and result.approvals or {}) do
          if not by_id[approval.approvalId] then
            by_id[approval.approvalId] = { approval = approval, repo = repo, name = approval.sessionId }
            order[#order + 1] = approval.approvalId
          end
        end
      end
      remaining = remaining - 1
      if remaining == 0 then
        finish()
      end
    end)
  end
end

--- The repositories `:Lulu approvals` looks in: every one whose server runs, and the current
--- one (its server started when needed).
---@return lulu.Repo[]
local function open_repos()
  local out, seen = {}, {}
  local current = client.get()
  if current then
    out[#out + 1] = current
    seen[current.root] = true
  end
  local roots = vim.tbl_keys(client.repos)
  table.sort(roots)
  for _, root in ipairs(roots) do
    local repo = client.repos[root]
    if not seen[root] and not repo.closed then
      out[#out + 1] = repo
    end
  end
  return out
end

--- `:Lulu approvals`: the pending requests across the client's repositories in `vim.ui.select`,
--- then the answer to the one chosen. With `opts.repo` and `opts.session_id` (the session view's
--- key), that session's only; a single one is answered at once.
---@param opts {repo?: lulu.Repo, session_id?: string}|nil
function M.pick(opts)
  opts = opts or {}
  local repos = opts.repo and { opts.repo } or open_repos()
  if #repos == 0 then
    client.error("no repository: open a file of a git repository, or :cd into one")
    return
  end
  M.collect(repos, opts.session_id, function(items)
    if #items == 0 then
      vim.notify("lulu: no permission request is waiting", vim.log.levels.INFO)
      return
    end
    if opts.session_id and #items == 1 then
      M.answer(items[1])
      return
    end
    local now = os.time()
    vim.ui.select(items, {
      prompt = "Lulu: waiting for you",
      kind = "lulu_approval",
      format_item = function(item)
        return M.item_text(item, now)
      end,
    }, function(item)
      if item then
        M.answer(item)
      end
    end)
  end)
end

--- Sends a message to a running session (`lulu/send`); without `text`, asks for it with
--- `vim.ui.input`. An agent that cannot take one, or a session not running, is told plainly.
---@param repo lulu.Repo
---@param row lulu.SessionRow
---@param text string|nil
function M.send(repo, row, text)
  local name = format.one_line(row.name)
  local function go(t)
    client.request(repo, "lulu/send", { id = row.id, text = t }, function(err)
      if not err then
        vim.notify("lulu: sent your message to " .. name, vim.log.levels.INFO)
      elseif err.code == codes.AgentCannotTake then
        local agent = (err.message or ""):match('the agent "([^"]+)"')
        vim.notify(
          string.format(
            "lulu: %s cannot take messages while it runs: its agent%s is not one lulu hosts (Claude is)",
            name,
            agent and (" " .. agent) or ""
          ),
          vim.log.levels.WARN
        )
      elseif err.code == codes.NotRunning then
        local status = (repo.sessions[row.id] or row).status
        local state = (status == "running" or status == nil) and "is no longer running"
          or ("is " .. status .. ", not running")
        vim.notify(
          string.format("lulu: %s %s, so it cannot take a message", name, state)
            .. (status == "starting" and "; send it once it runs" or "; :Lulu continue gives it a new prompt"),
          vim.log.levels.WARN
        )
      else
        client.error(err.message)
      end
    end)
  end
  if text and vim.trim(text) ~= "" then
    go(text)
    return
  end
  vim.ui.input({ prompt = "Message to " .. name .. ": " }, function(t)
    if t and vim.trim(t) ~= "" then
      go(t)
    end
  end)
end

return M
