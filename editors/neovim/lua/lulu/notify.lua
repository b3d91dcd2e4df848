--- Tells the user when a session ends (`notify_on_end`): `vim.notify` at INFO for a completed
--- session, ERROR for a failed one with its reason (WARN when it was cancelled). Only for the
--- sessions of repositories whose server runs in this Neovim, and that end while it runs.
local M = {}

local watching = false

---@alias lulu.NotifyOnEnd "all"|"failed"|"none"

--- The message and level for a session that ended; nil when `mode` keeps quiet about it.
---@param mode lulu.NotifyOnEnd|string|nil
---@param row lulu.SessionRow
---@param outcome string|nil the detail's outcome, when known ("cancelled", ...)
---@return string|nil msg
---@return integer|nil level
function M.message(mode, row, outcome)
  local format = require("lulu.format")
  local name = format.one_line(row.name)
  if mode == "none" then
    return nil, nil
  end
  if row.status == "completed" then
    if mode == "failed" then
      return nil, nil
    end
    return "lulu: " .. name .. " completed", vim.log.levels.INFO
  end
  local reason = row.failureReason and format.one_line(row.failureReason) or "no reason given"
  local level = outcome == "cancelled" and vim.log.levels.WARN or vim.log.levels.ERROR
  return "lulu: " .. name .. " failed: " .. reason, level
end

--- Notifies the end of a session; a failed one's outcome is asked first (a cancel is a warning).
---@param repo lulu.Repo
---@param row lulu.SessionRow
function M.on_ended(repo, row)
  local mode = require("lulu.config").options.notify_on_end
  if mode ~= "failed" and mode ~= "none" then
    mode = "all"
  end
  local function send(outcome)
    local msg, level = M.message(mode, row, outcome)
    if msg then
      vim.notify(msg, level)
    end
  end
  if row.status ~= "failed" or mode == "none" then
    send(nil)
    return
  end
  require("lulu.client").request(repo, "lulu/session", { id = row.id }, function(err, detail)
    send(not err and type(detail) == "table" and detail.outcome or nil)
  end)
end

--- Starts watching the ends of sessions (once; the client calls it when it starts a server).
function M.watch()
  if watching then
    return
  end
  watching = true
  require("lulu.client").subscribe("ended", M.on_ended)
end

return M
