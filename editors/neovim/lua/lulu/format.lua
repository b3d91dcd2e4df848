--- Pure formatting: times, ages, list rows, picker items, session details and transcripts.
--- Nothing here talks to the server or touches buffers, so it is unit-tested directly.
local M = {}

---@class lulu.SessionRow
---@field id string
---@field name string
---@field repo string
---@field status "starting"|"running"|"completed"|"failed"
---@field createdAt string
---@field lastActivityAt string
---@field failureReason? string

---@class lulu.TranscriptEvent
---@field seq integer
---@field at string
---@field stream "stdout"|"stderr"|"lulu"
---@field kind string
---@field text string
---@field data? table

--- Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
---@param y integer
---@param m integer
---@param d integer
---@return integer
local function days_from_civil(y, m, d)
  if m <= 2 then
    y = y - 1
  end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

--- Parses an RFC 3339 timestamp to seconds since the Unix epoch (with fraction).
---@param s string|nil
---@return number|nil
function M.parse_time(s)
  if type(s) ~= "string" then
    return nil
  end
  local y, mo, d, h, mi, sec, frac, zone =
    s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt ](%d%d):(%d%d):(%d%d)(%.?%d*)(.*)$")
  if not y then
    return nil
  end
  local t = days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400
    + tonumber(h) * 3600
    + tonumber(mi) * 60
    + tonumber(sec)
  if frac ~= "" and frac ~= "." then
    t = t + tonumber("0" .. frac)
  end
  if zone == "Z" or zone == "z" or zone == "" then
    return t
  end
  local sign, zh, zm = zone:match("^([%+%-])(%d%d):?(%d%d)$")
  if not sign then
    return nil
  end
  local offset = tonumber(zh) * 3600 + tonumber(zm) * 60
  if sign == "+" then
    return t - offset
  end
  return t + offset
end

--- Compact age: `5s`, `2m`, `1h`, `3d` (floored; never negative).
---@param seconds number
---@return string
function M.age(seconds)
  local s = math.max(0, math.floor(seconds))
  if s < 60 then
    return s .. "s"
  elseif s < 3600 then
    return math.floor(s / 60) .. "m"
  elseif s < 86400 then
    return math.floor(s / 3600) .. "h"
  end
  return math.floor(s / 86400) .. "d"
end

--- Age of a row's last activity at `now` (seconds since the epoch).
---@param row lulu.SessionRow
---@param now number
---@return string
function M.row_age(row, now)
  local t = M.parse_time(row.lastActivityAt) or M.parse_time(row.createdAt)
  if not t then
    return "?"
  end
  return M.age(now - t)
end

--- Newest first: createdAt descending, then id descending (the server's `lulu/list` order).
---@param a lulu.SessionRow
---@param b lulu.SessionRow
---@return boolean
function M.newer_first(a, b)
  local ta, tb = M.parse_time(a.createdAt) or 0, M.parse_time(b.createdAt) or 0
  if ta ~= tb then
    return ta > tb
  end
  return a.id > b.id
end

--- Display names of the four statuses.
M.status_label = {
  starting = "Starting",
  running = "Running",
  completed = "Completed",
  failed = "Failed",
}

--- Highlight group of each status.
M.status_hl = {
  starting = "LuluStarting",
  running = "LuluRunning",
  completed = "LuluCompleted",
  failed = "LuluFailed",
}

--- Frames of the moving indicator shown for Running rows.
M.spinner = { "⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏" }

--- The marker of a row: a spinner frame while running, a fixed badge otherwise.
---@param status string
---@param frame integer
---@return string
function M.marker(status, frame)
  if status == "running" then
    return M.spinner[(frame % #M.spinner) + 1]
  elseif status == "completed" then
    return "✓"
  elseif status == "failed" then
    return "✗"
  end
  return "·"
end

--- Text cut to `width` display cells, with an ellipsis when cut.
---@param s string
---@param width integer
---@return string
function M.truncate(s, width)
  if vim.fn.strdisplaywidth(s) <= width then
    return s
  end
  local out = ""
  for _, ch in ipairs(vim.fn.split(s, "\\zs")) do
    if vim.fn.strdisplaywidth(out .. ch) > width - 1 then
      break
    end
    out = out .. ch
  end
  return out .. "…"
end

--- `s` padded with spaces to `width` display cells (left-aligned).
---@param s string
---@param width integer
---@return string
local function pad(s, width)
  return s .. string.rep(" ", math.max(0, width - vim.fn.strdisplaywidth(s)))
end

--- One line of text: newlines and tabs become spaces.
---@param s string|nil
---@return string
function M.one_line(s)
  return ((s or ""):gsub("[\r\n\t]+", " "))
end

---@class lulu.RowLine
---@field text string
---@field hl {group: string, col: integer, end_col: integer}[]  byte ranges to highlight

--- Lines of the live list, one per row, in the order given.
--- Columns: marker, status, name, right-aligned age, then the failure reason of failed rows.
---@param rows lulu.SessionRow[]
---@param now number
---@param frame integer spinner frame
---@param max_name? integer widest name column (default 40)
---@return lulu.RowLine[]
function M.list_lines(rows, now, frame, max_name)
  max_name = max_name or 40
  local name_w = 4
  for _, row in ipairs(rows) do
    name_w = math.max(name_w, math.min(max_name, vim.fn.strdisplaywidth(M.one_line(row.name))))
  end
  local out = {}
  for _, row in ipairs(rows) do
    local marker = M.marker(row.status, frame)
    local status = M.status_label[row.status] or row.status
    local name = pad(M.truncate(M.one_line(row.name), name_w), name_w)
    local age = M.row_age(row, now)
    local head = " " .. marker .. " "
    local status_col = pad(status, 9)
    local text = head .. status_col .. "  " .. name .. "  " .. string.rep(" ", math.max(0, 4 - #age)) .. age
    local hl = {}
    local group = M.status_hl[row.status] or "LuluStarting"
    hl[#hl + 1] = { group = group, col = 1, end_col = #head + #status }
    local age_start = #text - #age
    hl[#hl + 1] = { group = "LuluAge", col = age_start, end_col = #text }
    if row.status == "failed" and row.failureReason and row.failureReason ~= "" then
      local reason = M.one_line(row.failureReason)
      local start = #text + 2
      text = text .. "  " .. reason
      hl[#hl + 1] = { group = "LuluReason", col = start, end_col = #text }
    end
    out[#out + 1] = { text = text, hl = hl }
  end
  return out
end

--- Whether the server cut a failure reason to its 120 characters (it ends with "…").
---@param reason string|nil
---@return boolean
function M.reason_cut(reason)
  return type(reason) == "string" and reason:sub(-#"…") == "…"
end

--- The whole failure of a session on one line: its detail's lines joined, else its reason.
---@param detail table SessionDetail
---@return string|nil
function M.full_reason(detail)
  local text = detail.failureDetail
  if type(text) ~= "string" or text == "" then
    text = detail.failureReason
  end
  if type(text) ~= "string" then
    return nil
  end
  return M.one_line(table.concat(M.split_lines(text), "; "))
end

--- A picker item's text: status, name and age, and the failure reason for failed sessions (or
--- `reason` instead, the whole of one the server cut).
---@param row lulu.SessionRow
---@param now number
---@param reason string|nil
---@return string
function M.picker_item(row, now, reason)
  local status = M.status_label[row.status] or row.status
  local text = string.format(
    "%s %-9s %s  %s",
    M.marker(row.status, 0),
    status,
    M.one_line(row.name),
    M.row_age(row, now)
  )
  reason = reason or row.failureReason
  if row.status == "failed" and reason and reason ~= "" then
    text = text .. "  (" .. M.one_line(reason) .. ")"
  end
  return text
end

--- The name of a signal number ("SIGKILL" for 9), from libuv's table of this system's signals.
---@param signal integer
---@return string|nil
function M.signal_name(signal)
  local names = {}
  for name, number in pairs((vim.uv or vim.loop).constants or {}) do
    if type(name) == "string" and name:match("^SIG%u+$") and number == signal then
      names[#names + 1] = name
    end
  end
  -- Aliases (SIGIOT for SIGABRT, SIGPOLL for SIGIO): the first in order is the usual name.
  table.sort(names)
  return names[1]
end

--- The one message that says why a repository's server ended when nobody asked it to.
---@param root string
---@param code integer|nil
---@param signal integer|nil
---@return string
function M.server_exit(root, code, signal)
  local after = "the sessions go on; :Lulu reconnects"
  if signal and signal ~= 0 then
    local name = M.signal_name(signal)
    local what = name and string.format("%s (signal %d)", name, signal) or ("signal " .. signal)
    return string.format("the server for %s was killed by %s; %s", root, what, after)
  end
  return string.format("the server for %s exited with code %s (see :LspLog); %s", root, tostring(code), after)
end

--- Splits text into lines (a trailing newline does not add an empty line).
---@param s string
---@return string[]
function M.split_lines(s)
  s = (s or ""):gsub("\r\n", "\n"):gsub("\n$", "")
  return vim.split(s, "\n", { plain = true })
end

--- Prefix of each transcript event kind in the session view.
local kind_prefix = {
  assistant = "",
  text = "",
  tool_use = "",
  tool_result = "  ",
  thinking = "… ",
  init = "· ",
  result = "■ ",
  status = "── ",
}

--- Highlight group of each transcript event kind.
M.kind_hl = {
  tool_use = "LuluToolUse",
  tool_result = "LuluToolResult",
  thinking = "LuluThinking",
  init = "LuluMeta",
  result = "LuluResult",
  status = "LuluMeta",
  raw = "LuluMeta",
  error = "LuluError",
}

--- Readable lines of one transcript event, with the highlight group for all of them (or nil).
---@param ev lulu.TranscriptEvent
---@return string[] lines
---@return string|nil hl
function M.event_lines(ev)
  local prefix = kind_prefix[ev.kind] or ""
  local hl = M.kind_hl[ev.kind]
  if ev.stream == "stderr" then
    prefix = "! "
    hl = "LuluStderr"
  elseif ev.stream == "lulu" then
    prefix = "── "
    hl = "LuluMeta"
  end
  local text = ev.text
  if (text == nil or text == "") and ev.data ~= nil then
    text = vim.json.encode(ev.data)
  end
  local lines = M.split_lines(text or "")
  local indent = string.rep(" ", vim.fn.strdisplaywidth(prefix))
  for i, line in ipairs(lines) do
    lines[i] = (i == 1 and prefix or indent) .. line
  end
  return lines, hl
end

---@param v any
---@return string
local function show(v)
  if v == nil or v == vim.NIL then
    return "-"
  end
  return tostring(v)
end

--- Header lines of the session view: the session's details.
---@param d table SessionDetail (or a SessionRow while the detail is loading)
---@param now number
---@return string[]
function M.detail_lines(d, now)
  local lines = {}
  local function add(label, value)
    lines[#lines + 1] = string.format("%-10s %s", label .. ":", value)
  end
  add("Session", M.one_line(d.name))
  add("Status", (M.status_label[d.status] or show(d.status)) .. "  (" .. M.row_age(d, now) .. " ago)")
  if d.status == "failed" and d.failureReason then
    add("Reason", M.one_line(d.failureReason))
  end
  -- The whole story right under the reason (which the server cuts at 120 characters).
  if d.failureDetail ~= nil and d.failureDetail ~= vim.NIL and d.failureDetail ~= "" then
    for i, l in ipairs(M.split_lines(d.failureDetail)) do
      if i == 1 then
        add("Detail", l)
      else
        lines[#lines + 1] = string.rep(" ", 11) .. l
      end
    end
  end
  add("Id", show(d.id))
  if d.agent then
    -- One line: an argument may hold newlines (a multi-line prompt, such as a sync's).
    local cmd = type(d.command) == "table" and M.one_line(table.concat(d.command, " ")) or ""
    add("Agent", show(d.agent) .. (cmd ~= "" and ("  (" .. cmd .. ")") or ""))
  end
  if d.prompt then
    local prompt = M.split_lines(d.prompt)
    add("Prompt", prompt[1] or "")
    for i = 2, #prompt do
      lines[#lines + 1] = string.rep(" ", 11) .. prompt[i]
    end
  end
  add("Repo", show(d.repo))
  if d.worktreePath ~= nil then
    if d.worktreeGone == true then
      add("Worktree", "removed by gc (continue re-creates it from the branch)")
    else
      add("Worktree", show(d.worktreePath))
    end
    if type(d.ports) == "table" and #d.ports > 0 then
      add("Ports", table.concat(vim.tbl_map(tostring, d.ports), ", "))
    end
    add("Branch", show(d.branch))
    local base = d.baseCommit
    add("Base", (base and base ~= vim.NIL) and base:sub(1, 12) or "-")
    for _, line in ipairs(require("lulu.land").detail_lines(d)) do
      add(line[1], line[2])
    end
    add("Started", show(d.startedAt))
    add("Ended", show(d.endedAt))
    local outcome = show(d.outcome)
    if d.exitCode ~= nil and d.exitCode ~= vim.NIL then
      outcome = outcome .. ", exit code " .. d.exitCode
    end
    if d.signal ~= nil and d.signal ~= vim.NIL then
      outcome = outcome .. ", signal " .. d.signal
    end
    add("Outcome", outcome)
    if d.costUsd ~= nil and d.costUsd ~= vim.NIL then
      add("Cost", string.format("$%.4f", d.costUsd))
    end
    if d.inputTokens ~= nil and d.inputTokens ~= vim.NIL then
      add("Tokens", string.format("%s in, %s out", show(d.inputTokens), show(d.outputTokens)))
    end
  end
  for _, line in ipairs(M.run_lines(d.runs, now)) do
    lines[#lines + 1] = line
  end
  lines[#lines + 1] = string.rep("─", 20) .. " transcript " .. string.rep("─", 20)
  return lines
end

---A continued session's runs, one line each (nothing for a single run, which the fields above
---describe, or for a server that sends no `runs`): number, status and outcome, when it ended or
---was asked for, cost, and the prompt's first line.
---@param runs table[]|nil SessionDetail.runs
---@param now integer
---@return string[]
function M.run_lines(runs, now)
  if type(runs) ~= "table" or #runs < 2 then
    return {}
  end
  local lines = {}
  for i, run in ipairs(runs) do
    local outcome = (run.outcome ~= nil and run.outcome ~= vim.NIL) and (" (" .. run.outcome .. ")") or ""
    local ended = run.endedAt ~= nil and run.endedAt ~= vim.NIL
    local at = M.parse_time(ended and run.endedAt or run.queuedAt)
    local when = (ended and "ended " or "asked ") .. (at and (M.age(now - at) .. " ago") or "?")
    local cost = (run.costUsd ~= nil and run.costUsd ~= vim.NIL) and string.format(", $%.4f", run.costUsd) or ""
    local prompt = M.split_lines(type(run.prompt) == "string" and run.prompt or "")[1] or ""
    local label = i == 1 and "Runs:" or ""
    lines[#lines + 1] = string.format(
      "%-10s %s. %s%s, %s%s: %s",
      label,
      show(run.run),
      show(run.status),
      outcome,
      when,
      cost,
      M.one_line(prompt)
    )
  end
  return lines
end

return M
