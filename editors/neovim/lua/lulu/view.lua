--- The session view: a buffer with the session's details and its live transcript (`lulu/watch`).
local client = require("lulu.client")
local format = require("lulu.format")
local highlight = require("lulu.highlight")
local buffer_state = require("lulu.buffer_state")

local M = {}

local ns = vim.api.nvim_create_namespace("lulu_view")

---@class lulu.ViewState: lulu.BufferState
---@field repo lulu.Repo
---@field id string
---@field detail table           SessionDetail (or the row until it arrives)
---@field header_len integer     lines of the details header
---@field last_seq integer       last transcript event shown
---@field shown_age string|nil   the age the header shows ("5s")
---@field detail_requests integer|nil  lulu/session requests sent; only the latest answer is shown

---@type table<integer, lulu.ViewState>
M.states = {}

---@param bufnr integer
---@param fn fun()
local function edit(bufnr, fn)
  vim.bo[bufnr].modifiable = true
  fn()
  vim.bo[bufnr].modifiable = false
  vim.bo[bufnr].modified = false
end

--- The windows showing the buffer whose cursor is on its last line (they follow new output).
---@param bufnr integer
---@return integer[]
function M.following(bufnr)
  local count = vim.api.nvim_buf_line_count(bufnr)
  local out = {}
  for _, win in ipairs(vim.fn.win_findbuf(bufnr)) do
    if vim.api.nvim_win_get_cursor(win)[1] >= count then
      out[#out + 1] = win
    end
  end
  return out
end

--- Moves the cursor of `wins` to the buffer's last line.
---@param bufnr integer
---@param wins integer[]
function M.follow(bufnr, wins)
  local last = vim.api.nvim_buf_line_count(bufnr)
  for _, win in ipairs(wins) do
    pcall(vim.api.nvim_win_set_cursor, win, { last, 0 })
  end
end

--- The view's keys for a session in `status` (and `pending` requests waiting), as the line
--- `Keys:      q close  m message  c cancel ...` (only the keys set in `keymaps`).
---@param status string
---@param pending integer
---@return string
function M.keys_line(status, pending)
  local keys = require("lulu.config").options.keymaps or {}
  local live = status == "running" or status == "starting"
  local names = live and { { "send", "message" }, { "approve", "answer" }, { "cancel", "cancel" }, { "diff", "diff" } }
    or {
      { "continue", "continue" },
      { "diff", "diff" },
      { "land", "land" },
      { "sync", "sync" },
      { "push", "push" },
      { "remove", "remove" },
    }
  local out = { "q close" }
  for _, item in ipairs(names) do
    if keys[item[1]] and (item[1] ~= "approve" or pending > 0) then
      out[#out + 1] = keys[item[1]] .. " " .. item[2]
    end
  end
  return string.format("%-10s %s", "Keys:", table.concat(out, "  "))
end

--- The header's lines: the details, the pending requests right under the status, and the keys.
---@param detail table SessionDetail (or the row while it loads)
---@return string[] lines
---@return integer waiting_from first line (1-based) of the requests
---@return integer waiting_to last line of the requests
local function header_lines(detail)
  local now = os.time()
  local lines = format.detail_lines(detail, now)
  -- A key set to false: no hint.
  local answer_key = (require("lulu.config").options.keymaps or {}).approve or nil
  local waiting = require("lulu.approvals").detail_lines(detail, now, answer_key)
  local status_line = 2
  for i, l in ipairs(waiting) do
    table.insert(lines, status_line + i, l)
  end
  local pending = type(detail.pendingApprovals) == "table" and #detail.pendingApprovals or 0
  table.insert(lines, #lines, M.keys_line(detail.status, pending))
  return lines, status_line + 1, status_line + #waiting
end

--- Redraws the details header.
---@param bufnr integer
function M.render_header(bufnr)
  local st = M.states[bufnr]
  if not st or not vim.api.nvim_buf_is_valid(bufnr) then
    return
  end
  local lines, waiting_from, waiting_to = header_lines(st.detail)
  local old_len = st.header_len
  local following = M.following(bufnr)
  edit(bufnr, function()
    vim.api.nvim_buf_set_lines(bufnr, 0, old_len, false, lines)
  end)
  st.header_len = #lines
  st.shown_age = format.row_age(st.detail, os.time())
  M.follow(bufnr, following)
  vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, #lines)
  for i, line in ipairs(lines) do
    local label_end = line:find(":") or 0
    if i < #lines and label_end > 0 and line:sub(1, 1) ~= " " then
      vim.api.nvim_buf_set_extmark(bufnr, ns, i - 1, 0, { end_col = label_end, hl_group = "LuluLabel" })
    end
  end
  for i = waiting_from, waiting_to do
    if lines[i]:sub(1, 1) ~= " " then
      vim.api.nvim_buf_set_extmark(bufnr, ns, i - 1, 11, { end_col = #lines[i], hl_group = "LuluApproval" })
    end
  end
  local keys_line = #lines - 1
  vim.api.nvim_buf_set_extmark(bufnr, ns, keys_line - 1, 11, { end_col = #lines[keys_line], hl_group = "LuluMeta" })
  local status_line = 2
  local group = format.status_hl[st.detail.status]
  if group then
    vim.api.nvim_buf_set_extmark(bufnr, ns, status_line - 1, 11, {
      end_col = #lines[status_line],
      hl_group = group,
    })
  end
  vim.api.nvim_buf_set_extmark(bufnr, ns, #lines - 1, 0, { end_col = #lines[#lines], hl_group = "LuluMeta" })
end

--- Appends transcript events (those after the last shown `seq`), following the output in every
--- window whose cursor was on the last line.
---@param bufnr integer
---@param events lulu.TranscriptEvent[]
function M.append(bufnr, events)
  local st = M.states[bufnr]
  if not st or not vim.api.nvim_buf_is_valid(bufnr) then
    return
  end
  local new, hls = {}, {}
  for _, ev in ipairs(events) do
    if type(ev.seq) == "number" and ev.seq > st.last_seq then
      st.last_seq = ev.seq
      local lines, hl = format.event_lines(ev)
      for _, l in ipairs(lines) do
        new[#new + 1] = l
        if hl then
          hls[#hls + 1] = { idx = #new, group = hl }
        end
      end
    end
  end
  if #new == 0 then
    return
  end
  local count = vim.api.nvim_buf_line_count(bufnr)
  local following = M.following(bufnr)
  edit(bufnr, function()
    vim.api.nvim_buf_set_lines(bufnr, count, count, false, new)
  end)
  for _, h in ipairs(hls) do
    local line = count + h.idx - 1
    vim.api.nvim_buf_set_extmark(bufnr, ns, line, 0, { end_col = #new[h.idx], hl_group = h.group })
  end
  M.follow(bufnr, following)
end

--- Appends a line of the plugin's own (not a transcript event) to a view.
---@param bufnr integer
---@param text string
function M.note(bufnr, text)
  if not vim.api.nvim_buf_is_valid(bufnr) then
    return
  end
  local following = M.following(bufnr)
  local count = vim.api.nvim_buf_line_count(bufnr)
  edit(bufnr, function()
    vim.api.nvim_buf_set_lines(bufnr, count, count, false, { "── " .. text })
  end)
  vim.api.nvim_buf_set_extmark(bufnr, ns, count, 0, { end_col = #("── " .. text), hl_group = "LuluReason" })
  M.follow(bufnr, following)
end

--- Asks the server for the transcript events after the last one shown, then for new ones as
--- they come (`lulu/watch`).
---@param bufnr integer
function M.watch(bufnr)
  local st = M.states[bufnr]
  if not st then
    return
  end
  client.request(st.repo, "lulu/watch", { id = st.id, afterSeq = st.last_seq }, function(err)
    if err then
      client.error(err.message)
    end
  end)
end

--- Fetches the session's detail and redraws the header.
---@param bufnr integer
local function load_detail(bufnr)
  local st = M.states[bufnr]
  if not st then
    return
  end
  -- The server answers requests concurrently: only the answer to the latest request counts, or
  -- an older, slower answer (a session still starting) would overwrite a newer one.
  st.detail_requests = (st.detail_requests or 0) + 1
  local request = st.detail_requests
  client.request(st.repo, "lulu/session", { id = st.id }, function(err, detail)
    if st.detail_requests ~= request then
      return
    end
    if err then
      client.error(err.message)
      return
    end
    if M.states[bufnr] == st then
      st.detail = detail
      M.render_header(bufnr)
    end
  end)
end

--- Keeps the header's "(5s ago)" current: a one-second timer while the view is shown in a window,
--- stopped once it is shown in none (and when the buffer is wiped out).
---@param bufnr integer
local function tick(bufnr)
  local st = M.states[bufnr]
  if not st then
    return
  end
  buffer_state.start_timer(st, 1000, function()
    if not vim.api.nvim_buf_is_valid(bufnr) or #vim.fn.win_findbuf(bufnr) == 0 then
      buffer_state.stop_timer(st)
    elseif format.row_age(st.detail, os.time()) ~= st.shown_age then
      M.render_header(bufnr)
    end
  end)
end

--- Stops watching the transcript of a released view.
---@param st lulu.ViewState
local function unwatch(st)
  if not st.repo.closed then
    client.request(st.repo, "lulu/unwatch", { id = st.id }, function() end)
  end
end

--- Binds a view to a new server of its repository (the old one stopped) and watches again from
--- the last event shown.
---@param bufnr integer
---@param repo lulu.Repo
function M.rebind(bufnr, repo)
  local st = M.states[bufnr]
  if not st then
    return
  end
  st.repo = repo
  load_detail(bufnr)
  M.watch(bufnr)
end

--- The buffer showing a session, if any.
---@param id string
---@return integer|nil
function M.find(id)
  for bufnr, st in pairs(M.states) do
    if st.id == id and vim.api.nvim_buf_is_valid(bufnr) then
      return bufnr
    end
  end
  return nil
end

--- Chooses the window a session view opens in: from the list, the previous window if it is an
--- ordinary one, else another ordinary window of the tab, else a new split above the list;
--- otherwise the current window.
---@param from_list boolean
---@return boolean made_split the window is a new split made for the view
local function target_window(from_list)
  if not from_list then
    return false
  end
  local list = require("lulu.list")
  local function ordinary(win)
    if not win or win == 0 or not vim.api.nvim_win_is_valid(win) then
      return false
    end
    if vim.api.nvim_win_get_config(win).relative ~= "" then
      return false
    end
    local buf = vim.api.nvim_win_get_buf(win)
    return list.states[buf] == nil and vim.bo[buf].buftype ~= "quickfix"
  end
  local prev = vim.fn.win_getid(vim.fn.winnr("#"))
  if ordinary(prev) then
    vim.api.nvim_set_current_win(prev)
    return false
  end
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if ordinary(win) then
      vim.api.nvim_set_current_win(win)
      return false
    end
  end
  vim.cmd("aboveleft split")
  return true
end

--- Shows a view in a window, remembering in the window (`w:lulu_previous_buf`) the buffer `q`
--- gives back to it: the one it showed before, or none when the window was made for the view.
--- A view that replaces another view keeps what the first one replaced.
---@param win integer
---@param bufnr integer
---@param made_split boolean
local function show_in(win, bufnr, made_split)
  local shown = vim.api.nvim_win_get_buf(win)
  if made_split then
    vim.w[win].lulu_previous_buf = nil
  elseif M.states[shown] == nil then
    vim.w[win].lulu_previous_buf = shown
  end
  vim.api.nvim_win_set_buf(win, bufnr)
  vim.wo[win].wrap = true
end

--- `q` in a view: gives the window back the buffer it showed before the view; a window made for
--- the view closes; the last window of the tab shows the alternate buffer (or an empty one).
---@param bufnr integer
function M.close(bufnr)
  local win = vim.api.nvim_get_current_win()
  local previous = vim.w[win].lulu_previous_buf
  vim.w[win].lulu_previous_buf = nil
  if previous and previous ~= bufnr and vim.api.nvim_buf_is_valid(previous) then
    vim.api.nvim_win_set_buf(win, previous)
    return
  end
  if #vim.api.nvim_tabpage_list_wins(0) > 1 and pcall(vim.api.nvim_win_close, win, false) then
    return
  end
  local alternate = vim.fn.bufnr("#")
  if alternate > 0 and alternate ~= bufnr and vim.api.nvim_buf_is_valid(alternate) then
    vim.api.nvim_win_set_buf(win, alternate)
  else
    vim.cmd("enew")
  end
end

--- Keeps a view current: its row, transcript, removal and the server's exit.
---@param bufnr integer
---@param st lulu.ViewState
local function subscribe(bufnr, st)
  local id = st.id
  st.unsubscribe = {
    client.subscribe("changed", function(r, changed)
      if r == st.repo and changed.id == id then
        -- Keep the row's fields current at once, then the full detail.
        st.detail = vim.tbl_extend("force", st.detail, changed)
        M.render_header(bufnr)
        load_detail(bufnr)
      end
    end),
    client.subscribe("output", function(r, sid, events)
      if r == st.repo and sid == id then
        M.append(bufnr, events)
      end
    end),
    client.subscribe("approval", function(r, approval)
      if r == st.repo and approval.sessionId == id then
        load_detail(bufnr)
      end
    end),
    client.subscribe("resolved", function(r, params)
      if r == st.repo and params.sessionId == id then
        load_detail(bufnr)
      end
    end),
    client.subscribe("removed", function(r, sid)
      if r == st.repo and sid == id then
        M.note(bufnr, "session removed")
      end
    end),
    client.subscribe("exit", function(r)
      if r == st.repo then
        M.note(bufnr, "the lulu server stopped; :Lulu open reconnects")
      end
    end),
  }
  vim.api.nvim_create_autocmd("BufWinEnter", {
    buffer = bufnr,
    callback = function()
      tick(bufnr)
    end,
  })
  vim.api.nvim_create_autocmd("BufHidden", {
    buffer = bufnr,
    callback = function()
      buffer_state.stop_timer(st)
    end,
  })
end

--- `q` closes the view; the list's action keys work on the viewed session too (`m` sends it a
--- message, `a` answers its requests).
---@param bufnr integer
---@param st lulu.ViewState
local function set_keymaps(bufnr, st)
  vim.keymap.set("n", "q", function()
    M.close(bufnr)
  end, { buffer = bufnr, nowait = true, desc = "Lulu: close the session view" })
  local keys = require("lulu.config").options.keymaps or {}
  local actions = require("lulu.actions")
  local function current()
    return st.repo.sessions[st.id] or st.detail
  end
  local view_keys = {
    cancel = function()
      actions.cancel(st.repo, current())
    end,
    continue = function()
      actions.continue(st.repo, current())
    end,
    remove = function()
      actions.remove(st.repo, current(), { force = false })
    end,
    diff = function()
      require("lulu.diff").open(st.repo, st.id)
    end,
    land = function()
      require("lulu.land").land(st.repo, current())
    end,
    sync = function()
      require("lulu.land").sync(st.repo, current())
    end,
    push = function()
      require("lulu.land").push(st.repo, current())
    end,
    send = function()
      require("lulu.approvals").send(st.repo, current())
    end,
    approve = function()
      require("lulu.approvals").pick({ repo = st.repo, session_id = st.id })
    end,
  }
  for name, fn in pairs(view_keys) do
    if keys[name] then
      vim.keymap.set("n", keys[name], fn, { buffer = bufnr, nowait = true, desc = "Lulu: " .. name })
    end
  end
end

--- A new view buffer of a session, with its state, subscriptions and keys.
---@param repo lulu.Repo
---@param id string
---@return integer bufnr
local function create(repo, id)
  local bufnr = vim.api.nvim_create_buf(true, true)
  vim.api.nvim_buf_set_name(bufnr, "lulu://session/" .. id)
  vim.bo[bufnr].buftype = "nofile"
  vim.bo[bufnr].bufhidden = "wipe"
  vim.bo[bufnr].swapfile = false
  vim.api.nvim_buf_set_var(bufnr, "lulu_repo", repo.root)
  vim.api.nvim_buf_set_var(bufnr, "lulu_session", id)
  local row = repo.sessions[id] or { id = id, name = id, status = "starting", repo = repo.root }
  ---@type lulu.ViewState
  -- A new buffer has one empty line: the first header replaces it.
  local st = { repo = repo, id = id, detail = row, header_len = 1, last_seq = 0, unsubscribe = {} }
  buffer_state.attach(M.states, bufnr, st, unwatch)
  M.render_header(bufnr)
  subscribe(bufnr, st)
  set_keymaps(bufnr, st)
  vim.bo[bufnr].filetype = "lulu-session"
  return bufnr
end

--- Opens the view of a session and starts watching its transcript.
---@param repo lulu.Repo
---@param id string
---@param opts {from_list?: boolean}|nil
---@return integer bufnr
function M.open(repo, id, opts)
  opts = opts or {}
  highlight.ensure()
  local bufnr = M.find(id)
  -- Never replace the list itself: from the list, open beside it.
  local from_list = opts.from_list == true or require("lulu.list").states[vim.api.nvim_get_current_buf()] ~= nil
  local made_split = target_window(from_list)
  local win = vim.api.nvim_get_current_win()
  if bufnr then
    show_in(win, bufnr, made_split)
    if M.states[bufnr].repo ~= repo then
      M.rebind(bufnr, repo)
    end
    return bufnr
  end
  bufnr = create(repo, id)
  show_in(win, bufnr, made_split)
  -- A live session's view follows its output from the start; an ended one opens on its details.
  local status = M.states[bufnr].detail.status
  if status == "running" or status == "starting" then
    M.follow(bufnr, { win })
  end
  tick(bufnr)
  load_detail(bufnr)
  M.watch(bufnr)
  return bufnr
end

return M
