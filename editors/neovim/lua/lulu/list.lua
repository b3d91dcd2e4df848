--- The live list: a window over a scratch buffer showing the repository's sessions, newest first,
--- kept current by `lulu/sessionChanged` and `lulu/sessionRemoved` (never by polling the server).
local client = require("lulu.client")
local config = require("lulu.config")
local format = require("lulu.format")
local highlight = require("lulu.highlight")
local buffer_state = require("lulu.buffer_state")

local M = {}

local ns = vim.api.nvim_create_namespace("lulu_list")

--- Lines above the first row.
M.header_lines = 1

---@class lulu.ListState: lulu.BufferState
---@field repo lulu.Repo
---@field rows lulu.SessionRow[]   rows in display order (row i is on line header_lines + i)
---@field frame integer            spinner frame
---@field notice string|nil       a line shown under the header (the server stopped)

---@type table<integer, lulu.ListState>
M.states = {}

---@param bufnr integer
---@return boolean
local function visible(bufnr)
  return #vim.fn.win_findbuf(bufnr) > 0
end

--- The header's word for the permission requests waiting in the repository (the rows keep their
--- four statuses and no subtext): `1 request waiting (a answers)`, or nil when none waits.
---@param waiting integer
---@return string|nil
function M.waiting_text(waiting)
  if waiting <= 0 then
    return nil
  end
  local key = (config.options.keymaps or {}).approve
  return string.format(
    "%d %s waiting%s",
    waiting,
    waiting == 1 and "request" or "requests",
    key and (" (" .. key .. " answers)") or " (:Lulu approvals)"
  )
end

--- The lines and highlights of a list buffer for `rows` at `now`.
---@param repo_root string
---@param rows lulu.SessionRow[]
---@param now number
---@param frame integer
---@return string[] lines
---@return {line: integer, group: string, col: integer, end_col: integer}[] hls
---@param notice string|nil
---@param waiting integer|nil permission requests waiting in the repository
function M.render_lines(repo_root, rows, now, frame, notice, waiting)
  local keys = config.options.keymaps or {}
  local help = keys.help and (keys.help .. " help") or ""
  local header = " Lulu  " .. vim.fn.fnamemodify(repo_root, ":~") .. (help ~= "" and ("   " .. help) or "")
  local lines = { header }
  local hls = { { line = 0, group = "LuluHeader", col = 0, end_col = #header } }
  local waiting_text = M.waiting_text(waiting or 0)
  if waiting_text then
    header = header .. "   " .. waiting_text
    lines[1] = header
    hls[#hls + 1] = { line = 0, group = "LuluApproval", col = #header - #waiting_text, end_col = #header }
  end
  if notice then
    header = header .. "   " .. notice
    lines[1] = header
    hls[#hls + 1] = { line = 0, group = "LuluReason", col = #header - #notice, end_col = #header }
  end
  if #rows == 0 then
    local spawn = keys.spawn and (" Press " .. keys.spawn .. " to start one.") or ""
    lines[#lines + 1] = "   No sessions yet." .. spawn
    hls[#hls + 1] = { line = 1, group = "LuluMeta", col = 0, end_col = #lines[#lines] }
    return lines, hls
  end
  for i, l in ipairs(format.list_lines(rows, now, frame)) do
    lines[#lines + 1] = l.text
    for _, h in ipairs(l.hl) do
      hls[#hls + 1] = { line = M.header_lines + i - 1, group = h.group, col = h.col, end_col = h.end_col }
    end
  end
  return lines, hls
end

--- Redraws a list buffer from its repository's rows, keeping the cursor on the same session.
---@param bufnr integer
function M.render(bufnr)
  local st = M.states[bufnr]
  if not st or not vim.api.nvim_buf_is_valid(bufnr) then
    return
  end
  local wins = vim.fn.win_findbuf(bufnr)
  local keep = {}
  for _, win in ipairs(wins) do
    local line = vim.api.nvim_win_get_cursor(win)[1]
    local row = st.rows[line - M.header_lines]
    keep[win] = row and row.id or nil
  end
  st.rows = client.rows(st.repo)
  local waiting = vim.tbl_count(st.repo.approvals or {})
  local lines, hls = M.render_lines(st.repo.root, st.rows, os.time(), st.frame, st.notice, waiting)
  local old = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  vim.bo[bufnr].modifiable = true
  if #old ~= #lines then
    vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, lines)
  else
    for i, l in ipairs(lines) do
      if old[i] ~= l then
        vim.api.nvim_buf_set_lines(bufnr, i - 1, i, false, { l })
      end
    end
  end
  vim.bo[bufnr].modifiable = false
  vim.bo[bufnr].modified = false
  vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  for _, h in ipairs(hls) do
    pcall(vim.api.nvim_buf_set_extmark, bufnr, ns, h.line, h.col, {
      end_col = h.end_col,
      hl_group = h.group,
    })
  end
  for win, id in pairs(keep) do
    for i, row in ipairs(st.rows) do
      if row.id == id then
        pcall(vim.api.nvim_win_set_cursor, win, { M.header_lines + i, 0 })
      end
    end
  end
end

---@param st lulu.ListState
---@return boolean
local function any_running(st)
  for _, row in ipairs(st.rows) do
    if row.status == "running" then
      return true
    end
  end
  return false
end

---@param bufnr integer
local function start_timer(bufnr)
  local st = M.states[bufnr]
  local ticks = 0
  -- 100 ms ticks move the spinner; ages are redrawn once a second.
  buffer_state.start_timer(st, 100, function()
    if not M.states[bufnr] or not vim.api.nvim_buf_is_valid(bufnr) then
      return
    end
    ticks = ticks + 1
    local running = any_running(st)
    if running then
      st.frame = st.frame + 1
    end
    if (running or ticks % 10 == 0) and visible(bufnr) then
      M.render(bufnr)
    end
  end)
end

--- The repository of a list buffer, reconnecting (a new server, rows reloaded) when its server
--- has stopped.
---@param bufnr integer
---@return lulu.Repo|nil
function M.repo_of(bufnr)
  local st = M.states[bufnr]
  if not st then
    return nil
  end
  if st.repo.closed then
    local repo, err = client.get(st.repo.root)
    if not repo then
      client.error(err or ("cannot reconnect to " .. st.repo.root))
      return nil
    end
    st.repo = repo
    st.notice = nil
    client.refresh(repo, function(rerr)
      if rerr then
        client.error(rerr.message)
      end
    end)
    M.render(bufnr)
  end
  return st.repo
end

--- The session row under the cursor of a list buffer.
---@param bufnr integer|nil
---@return lulu.SessionRow|nil
---@return lulu.Repo|nil
function M.row_under_cursor(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local st = M.states[bufnr]
  if not st then
    return nil, nil
  end
  local line = vim.api.nvim_win_get_cursor(0)[1]
  local row = st.rows[line - M.header_lines]
  if not row then
    return nil, nil
  end
  return row, M.repo_of(bufnr)
end

--- Descriptions of the list keymaps, in the order `g?` shows them.
M.key_help = {
  { "open", "open the session view" },
  { "spawn", "start a new session" },
  { "cancel", "cancel the session" },
  { "continue", "continue an ended session" },
  { "remove", "remove the session and its worktree" },
  { "diff", "changed files in the quickfix list, diff of one" },
  { "land", "land the session into its base branch" },
  { "sync", "merge the latest base into the session" },
  { "push", "push the session's branch" },
  { "send", "send a message to the running session" },
  { "approve", "answer the permission requests waiting" },
  { "refresh", "reload the list" },
  { "close", "close the list" },
  { "help", "show this help" },
}

--- Lines of the `g?` help.
---@return string[]
function M.help_lines()
  local keys = config.options.keymaps or {}
  local out = { "Lulu list keys" }
  for _, item in ipairs(M.key_help) do
    local key = keys[item[1]]
    if key then
      out[#out + 1] = string.format("  %-6s %s", key, item[2])
    end
  end
  return out
end

--- Shows the keymaps in a small floating window (q, <Esc> or g? closes it).
function M.show_help()
  local lines = M.help_lines()
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].bufhidden = "wipe"
  local width = 0
  for _, l in ipairs(lines) do
    width = math.max(width, vim.fn.strdisplaywidth(l))
  end
  local win = vim.api.nvim_open_win(buf, true, {
    relative = "editor",
    width = width + 2,
    height = #lines,
    row = math.max(0, math.floor((vim.o.lines - #lines) / 2) - 1),
    col = math.max(0, math.floor((vim.o.columns - width) / 2)),
    style = "minimal",
    border = "single",
  })
  for _, key in ipairs({ "q", "<Esc>", (config.options.keymaps or {}).help or "g?" }) do
    vim.keymap.set("n", key, function()
      pcall(vim.api.nvim_win_close, win, true)
    end, { buffer = buf, nowait = true })
  end
end

---@param bufnr integer
local function set_keymaps(bufnr)
  local keys = config.options.keymaps or {}
  local actions = require("lulu.actions")
  local function on_row(fn)
    return function()
      local row, repo = M.row_under_cursor(bufnr)
      if not row then
        client.error("no session on this line")
        return
      end
      if repo then
        fn(repo, row)
      end
    end
  end
  local map = {
    open = on_row(function(r, row)
      require("lulu.view").open(r, row.id, { from_list = true })
    end),
    close = function()
      pcall(vim.api.nvim_win_close, 0, true)
    end,
    cancel = on_row(actions.cancel),
    remove = on_row(function(r, row)
      actions.remove(r, row, { force = false })
    end),
    diff = on_row(function(r, row)
      require("lulu.diff").open(r, row.id)
    end),
    spawn = function()
      local repo = M.repo_of(bufnr)
      if repo then
        actions.spawn(repo, {})
      end
    end,
    continue = on_row(actions.continue),
    land = on_row(function(r, row)
      require("lulu.land").land(r, row)
    end),
    sync = on_row(function(r, row)
      require("lulu.land").sync(r, row)
    end),
    push = on_row(function(r, row)
      require("lulu.land").push(r, row)
    end),
    send = on_row(function(r, row)
      require("lulu.approvals").send(r, row)
    end),
    approve = function()
      require("lulu.approvals").pick()
    end,
    refresh = function()
      local repo = M.repo_of(bufnr)
      if not repo then
        return
      end
      client.refresh(repo, function(err)
        if err then
          client.error(err.message)
        end
      end)
    end,
    help = M.show_help,
  }
  for _, item in ipairs(M.key_help) do
    local key = keys[item[1]]
    if key then
      vim.keymap.set("n", key, map[item[1]], { buffer = bufnr, nowait = true, desc = "Lulu: " .. item[2] })
    end
  end
  -- A click selects a row (Neovim's default); a double click opens it.
  vim.keymap.set("n", "<2-LeftMouse>", map.open, { buffer = bufnr, desc = "Lulu: open the session view" })
end

--- The list buffer of a repository, if one exists.
---@param repo lulu.Repo
---@return integer|nil
function M.find(repo)
  for bufnr, st in pairs(M.states) do
    if st.repo.root == repo.root and vim.api.nvim_buf_is_valid(bufnr) then
      return bufnr
    end
  end
  return nil
end

--- Opens (or focuses) the live list of a repository.
---@param repo lulu.Repo
---@return integer bufnr
function M.open(repo)
  highlight.ensure()
  local bufnr = M.find(repo)
  if bufnr and M.states[bufnr].repo ~= repo then
    -- The old server stopped and `repo` is the new one.
    M.states[bufnr].repo = repo
    M.states[bufnr].notice = nil
    M.render(bufnr)
  end
  if bufnr then
    local win = vim.fn.win_findbuf(bufnr)[1]
    if win then
      vim.api.nvim_set_current_win(win)
      return bufnr
    end
  else
    bufnr = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(bufnr, "lulu://list" .. repo.root)
    vim.bo[bufnr].buftype = "nofile"
    vim.bo[bufnr].bufhidden = "wipe"
    vim.bo[bufnr].swapfile = false
    vim.bo[bufnr].modifiable = false
    vim.api.nvim_buf_set_var(bufnr, "lulu_repo", repo.root)
    ---@type lulu.ListState
    local st = { repo = repo, rows = {}, frame = 0, unsubscribe = {} }
    buffer_state.attach(M.states, bufnr, st)
    local function rerender(r)
      if r == st.repo then
        M.render(bufnr)
      end
    end
    st.unsubscribe = {
      client.subscribe("changed", rerender),
      client.subscribe("removed", rerender),
      client.subscribe("reset", rerender),
      client.subscribe("approval", rerender),
      client.subscribe("resolved", rerender),
      client.subscribe("exit", function(r)
        if r == st.repo then
          local key = (config.options.keymaps or {}).refresh
          st.notice = "server stopped" .. (key and ("; " .. key .. " reconnects") or "")
          M.render(bufnr)
        end
      end),
    }
    set_keymaps(bufnr)
    vim.bo[bufnr].filetype = "lulu-list"
    start_timer(bufnr)
  end
  local list_opts = config.options.list or {}
  vim.cmd(string.format("%s %dsplit", list_opts.position or "botright", list_opts.height or 12))
  local win = vim.api.nvim_get_current_win()
  vim.api.nvim_win_set_buf(win, bufnr)
  vim.wo[win].wrap = false
  vim.wo[win].number = false
  vim.wo[win].relativenumber = false
  vim.wo[win].cursorline = true
  vim.wo[win].signcolumn = "no"
  vim.wo[win].winfixheight = true
  vim.wo[win].list = false
  M.render(bufnr)
  pcall(vim.api.nvim_win_set_cursor, win, { M.header_lines + 1, 0 })
  if not repo.loaded then
    client.refresh(repo, function(err)
      if err then
        client.error(err.message)
      end
    end)
  end
  return bufnr
end

return M
