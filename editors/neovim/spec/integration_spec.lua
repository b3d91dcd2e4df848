-- The plugin against the real `lulu serve` ($LULU_BIN) on fixture repositories with scripted
-- fake agents. No timed assertions: every wait is for a state, with a generous deadline.
local env = require("spec.helpers.env")
local client = require("lulu.client")
local actions = require("lulu.actions")
local list = require("lulu.list")
local view = require("lulu.view")

--- Spawns a session through the plugin and returns its row once the server answered.
---@param repo lulu.Repo
---@param prompt string
---@param opts table|nil
---@return lulu.SessionRow
local function spawn(repo, prompt, opts)
  local row
  local msgs = env.capture_notify(function()
    local spawn_opts = vim.tbl_extend("force", { prompt = prompt, agent = "text" }, opts or {})
    actions.spawn(repo, vim.tbl_extend("force", spawn_opts, {
      on_spawned = function(r)
        row = r
      end,
    }))
  end, function(m)
    -- An error stops the wait, but not the end of another session ("lulu: NAME failed: ...").
    return row ~= nil
      or #vim.tbl_filter(function(x)
          return x.level == vim.log.levels.ERROR and not x.msg:find("^lulu: .* failed: ")
        end, m)
        > 0
  end)
  assert(row, "spawn failed: " .. vim.inspect(msgs))
  return row
end

---@param repo lulu.Repo
---@param id string
---@param status string
local function wait_status(repo, id, status)
  env.wait(function()
    local row = repo.sessions[id]
    if row and row.status ~= status and (row.status == "completed" or row.status == "failed") then
      -- Ended otherwise: say why at once rather than wait for the deadline.
      local detail = env.request(repo, "lulu/session", { id = id })
      error(string.format("session %s ended %s, not %s: %s", id, row.status, status, vim.inspect(detail)))
    end
    return row and row.status == status
  end, "session " .. id .. " to be " .. status)
end

--- The list line of a session (found by its unique name).
local function list_line(bufnr, name)
  return env.find_line(bufnr, name)
end

--- Puts the cursor of the current window on the list line of a session.
local function cursor_on(bufnr, name)
  vim.api.nvim_win_set_cursor(0, { vim.fn.index(env.lines(bufnr), list_line(bufnr, name)) + 1, 0 })
end

--- Waits until a removed session's row is gone from the store and the list.
local function wait_gone(repo, bufnr, id, name)
  env.wait(function()
    return repo.sessions[id] == nil and list_line(bufnr, name) == nil
  end, "the row of " .. name .. " to go")
end

--- A config.toml in the state dir naming the fake text agent (for `lulu spawn` from the CLI).
local function write_cli_config(state)
  vim.fn.writefile({
    'default_agent = "text"',
    "[agents.text]",
    'command = ["' .. env.fixtures .. '/agents/fake-text", "{prompt}"]',
    'format = "text"',
  }, state .. "/config.toml")
end

--- Row names in list order.
local function list_names(bufnr, names)
  local order = {}
  for _, l in ipairs(env.lines(bufnr)) do
    for _, n in ipairs(names) do
      if l:find(n, 1, true) then
        order[#order + 1] = n
      end
    end
  end
  return order
end

describe("lulu against the real server", function()
  local repo_dir, repo

  before_each(function()
    repo_dir = env.fresh()
    local err
    repo, err = client.get()
    assert(repo, err)
  end)

  after_each(function()
    client.stop()
  end)

  it("starts one client per repository, and the list shows a session Running then Completed", function()
    local bufnr = list.open(repo)
    assert.are.equal(repo_dir, repo.root)
    local again = client.get()
    assert.are.equal(repo, again)
    env.wait(function()
      return repo.loaded
    end, "the first lulu/list")
    local row = spawn(repo, "alpha-run [sleep 3]", { name = "alpha-run" })
    env.wait(function()
      local l = list_line(bufnr, "alpha-run")
      return l and l:find("Running", 1, true)
    end, "alpha-run to show Running")
    env.wait(function()
      local l = list_line(bufnr, "alpha-run")
      return l and l:find("Completed", 1, true)
    end, "alpha-run to show Completed")
    local l = list_line(bufnr, "alpha-run")
    assert.matches("^ ✓ Completed  alpha%-run +%d+[smhd]$", l)
    assert.are.equal("completed", repo.sessions[row.id].status)
  end)

  it("shows a failed session with its one-line reason, in the error highlight", function()
    local bufnr = list.open(repo)
    local row = spawn(repo, "beta-fail [fail]", { name = "beta-fail" })
    wait_status(repo, row.id, "failed")
    local reason = repo.sessions[row.id].failureReason
    assert.is_string(reason)
    assert.is_true(#reason > 0 and #reason <= 120)
    env.wait(function()
      local l = list_line(bufnr, "beta-fail")
      return l and l:find("Failed", 1, true)
    end, "beta-fail to show Failed")
    local l = list_line(bufnr, "beta-fail")
    assert.truthy(l:find(reason, 1, true), "reason in the row: " .. l)
    -- The Failed badge is highlighted with LuluFailed, which links to DiagnosticError.
    local lnum = vim.fn.index(env.lines(bufnr), l)
    local marks = vim.api.nvim_buf_get_extmarks(bufnr, -1, { lnum, 0 }, { lnum, -1 }, { details = true })
    local groups = vim.tbl_map(function(m) return m[4].hl_group end, marks)
    assert.truthy(vim.tbl_contains(groups, "LuluFailed"), vim.inspect(groups))
    assert.are.equal("DiagnosticError", vim.api.nvim_get_hl(0, { name = "LuluFailed" }).link)
    assert.are.equal("DiagnosticOk", vim.api.nvim_get_hl(0, { name = "LuluCompleted" }).link)
  end)

  it("keeps the list newest first and never reorders it on status changes", function()
    local bufnr = list.open(repo)
    local names = { "one-first [sleep 2]", "two-second [fail]", "three-third" }
    local ids = {}
    for _, n in ipairs(names) do
      ids[#ids + 1] = spawn(repo, n, { name = n:match("^(%S+)") }).id
    end
    local short = { "three-third", "two-second", "one-first" }
    env.wait(function()
      return #list_names(bufnr, short) == 3
    end, "three rows")
    assert.are.same(short, list_names(bufnr, short))
    wait_status(repo, ids[1], "completed")
    wait_status(repo, ids[2], "failed")
    wait_status(repo, ids[3], "completed")
    -- Status changes did not move any row; a fresh list from the server agrees.
    assert.are.same(short, list_names(bufnr, short))
    local done = false
    client.refresh(repo, function()
      done = true
    end)
    env.wait(function() return done end, "refresh")
    list.render(bufnr)
    assert.are.same(short, list_names(bufnr, short))
  end)

  it("cancels the session under the cursor, which ends Failed (cancelled) and stops its indicator", function()
    local bufnr = list.open(repo)
    local row = spawn(repo, "gamma-long [sleep 120]", { name = "gamma-long" })
    wait_status(repo, row.id, "running")
    env.wait(function()
      return list_line(bufnr, "gamma-long")
    end, "the row")
    local lnum = vim.fn.index(env.lines(bufnr), list_line(bufnr, "gamma-long")) + 1
    vim.api.nvim_win_set_cursor(0, { lnum, 0 })
    vim.cmd("Lulu cancel")
    wait_status(repo, row.id, "failed")
    local detail = env.request(repo, "lulu/session", { id = row.id })
    assert.are.equal("cancelled", detail.outcome)
    env.wait(function()
      local l = list_line(bufnr, "gamma-long")
      return l and l:find("^ ✗ Failed")
    end, "the row to show Failed")
    -- The indicator does not move any more: two renders give the same line.
    local before = list_line(bufnr, "gamma-long")
    list.states[bufnr].frame = list.states[bufnr].frame + 3
    list.render(bufnr)
    assert.are.equal(before, list_line(bufnr, "gamma-long"))
  end)

  it("streams the transcript into the session view and follows it", function()
    local row = spawn(repo, "delta-stream [lines 300] [sleep 2]", { name = "delta-stream" })
    local live = repo.sessions[row.id].status == "running"
    local bufnr = view.open(repo, row.id)
    -- A live session's view follows from the start (spawn() waited until it left starting; only a
    -- very slow machine could see it end before this line, and then we follow by hand).
    if not live then
      vim.api.nvim_win_set_cursor(0, { vim.api.nvim_buf_line_count(bufnr), 0 })
    end
    env.wait(function()
      return env.find_line(bufnr, "done") ~= nil
    end, "the last transcript line")
    local lines = env.lines(bufnr)
    -- Every streamed line is there once, in order.
    local got = {}
    for _, l in ipairs(lines) do
      local n = l:match("^line (%d+)$")
      if n then
        got[#got + 1] = tonumber(n)
      end
    end
    assert.are.equal(300, #got)
    for i = 1, 300 do
      assert.are.equal(i, got[i])
    end
    assert.truthy(env.find_line(bufnr, "starting: delta-stream"))
    -- The view followed the output to its end.
    assert.are.equal(vim.api.nvim_buf_line_count(bufnr), vim.api.nvim_win_get_cursor(0)[1])
    -- The details header shows the session.
    env.wait(function()
      return env.find_line(bufnr, "Status:    Completed") ~= nil
    end, "the header to show Completed")
    assert.truthy(env.find_line(bufnr, "Session:   delta-stream"))
    assert.truthy(env.find_line(bufnr, "Agent:     text"))
  end)

  it("keeps the view's age ticking while it is shown, with a timer stopped when hidden or closed", function()
    local row = spawn(repo, "tick-age", { name = "tick-age" })
    wait_status(repo, row.id, "completed")
    local bufnr = view.open(repo, row.id)
    local function age()
      return (env.find_line(bufnr, "Status:") or ""):match("%((%d+[smhd]) ago%)")
    end
    env.wait(function() return env.find_line(bufnr, "Status:    Completed") end, "the header")
    local first = age()
    -- No event comes from the server for an ended session: only the timer moves the age.
    assert.is_true(vim.wait(5000, function() return age() ~= first end, 50), "the age stayed at " .. first)
    local st = view.states[bufnr]
    local timer = st.timer
    assert.truthy(timer and timer:is_active(), "a timer while the view is shown")
    -- Hidden (a user who keeps the buffer): the timer stops; shown again, it runs again.
    vim.bo[bufnr].bufhidden = "hide"
    vim.cmd("enew")
    env.wait(function() return st.timer == nil end, "the timer to stop while the view is hidden")
    assert.is_true(timer:is_closing())
    vim.api.nvim_win_set_buf(0, bufnr)
    env.wait(function() return st.timer and st.timer:is_active() end, "the timer to run again")
    timer = st.timer
    -- Closed: the timer is closed with the buffer.
    vim.cmd("enew")
    vim.cmd("bwipeout " .. bufnr)
    assert.is_nil(view.states[bufnr])
    assert.is_true(timer:is_closing())
  end)

  it("q in a session view gives the window back the buffer it showed, or closes a split made for it", function()
    local row = spawn(repo, "q-back", { name = "q-back" })
    wait_status(repo, row.id, "completed")
    local readme = repo_dir .. "/README.md"
    local function win_names()
      return vim.tbl_map(function(w)
        local name = vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(w))
        return vim.startswith(name, "lulu://list") and "list" or vim.fn.fnamemodify(name, ":t")
      end, vim.api.nvim_tabpage_list_wins(0))
    end
    -- From the list: the view takes the window of the user's file; q gives the file back.
    vim.cmd.edit(vim.fn.fnameescape(readme))
    local file_win = vim.api.nvim_get_current_win()
    local bufnr = list.open(repo)
    env.wait(function() return list_line(bufnr, "q-back") end, "the row")
    cursor_on(bufnr, "q-back")
    vim.api.nvim_feedkeys(vim.keycode("<CR>"), "x", false)
    assert.are.equal(file_win, vim.api.nvim_get_current_win())
    assert.are.equal(row.id, vim.b.lulu_session)
    vim.api.nvim_feedkeys("q", "x", false)
    assert.are.same({ "README.md", "list" }, win_names())
    assert.are.equal(readme, vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(file_win)))
    -- From the picker, in one of two windows: q gives that window its file back.
    vim.api.nvim_win_close(vim.fn.win_findbuf(bufnr)[1], true)
    vim.cmd("split " .. vim.fn.fnameescape(repo_dir .. "/src/lib.txt"))
    local orig = vim.ui.select
    vim.ui.select = function(items, _, on_choice)
      on_choice(items[1])
    end
    vim.cmd("Lulu pick")
    env.wait(function() return vim.b.lulu_session == row.id end, "the view from the picker")
    vim.ui.select = orig
    -- A view opened over a view gives back what the first one replaced.
    view.open(repo, row.id)
    vim.api.nvim_feedkeys("q", "x", false)
    assert.are.same({ "lib.txt", "README.md" }, win_names())
    -- From a list that is the only window: the view gets a split of its own, which q closes.
    vim.cmd("only")
    bufnr = list.open(repo)
    vim.cmd("only")
    cursor_on(bufnr, "q-back")
    vim.api.nvim_feedkeys(vim.keycode("<CR>"), "x", false)
    assert.are.equal(2, #vim.api.nvim_tabpage_list_wins(0))
    vim.api.nvim_feedkeys("q", "x", false)
    assert.are.same({ "list" }, win_names())
  end)

  it("renders a Claude stream-json transcript readably", function()
    local row = spawn(repo, "epsilon-claude [edit]", { name = "epsilon-claude", agent = "claude" })
    local bufnr = view.open(repo, row.id)
    wait_status(repo, row.id, "completed")
    env.wait(function()
      return env.find_line(bufnr, "I will work on: epsilon-claude") ~= nil
    end, "the assistant text")
    -- No raw JSON lines in the view.
    for _, l in ipairs(env.lines(bufnr)) do
      assert.is_nil(l:match('^%s*{"type"'), "raw JSON in the view: " .. l)
    end
  end)

  it("picks among the sessions newest first, formatted with status, name, age and reason", function()
    local a = spawn(repo, "pick-old", { name = "pick-old" })
    local b = spawn(repo, "pick-new [fail]", { name = "pick-new" })
    wait_status(repo, a.id, "completed")
    wait_status(repo, b.id, "failed")
    local shown
    local orig = vim.ui.select
    vim.ui.select = function(items, opts, on_choice)
      shown = vim.tbl_map(opts.format_item, items)
      on_choice(items[2])
    end
    vim.cmd("Lulu pick")
    env.wait(function()
      return shown ~= nil
    end, "the picker")
    vim.ui.select = orig
    assert.are.equal(2, #shown)
    assert.matches("^✗ Failed    pick%-new  %d+[smhd]  %(.+%)$", shown[1])
    assert.matches("^✓ Completed pick%-old  %d+[smhd]$", shown[2])
    -- Choosing opens the session view of the chosen one.
    env.wait(function()
      return vim.b.lulu_session == a.id
    end, "the session view of pick-old")
  end)

  it("lists the changed files in the quickfix list and diffs one against the base commit", function()
    local row = spawn(repo, "zeta-edit [edit]", { name = "zeta-edit" })
    wait_status(repo, row.id, "completed")
    local bufnr = list.open(repo)
    env.wait(function() return list_line(bufnr, "zeta-edit") end, "the row")
    cursor_on(bufnr, "zeta-edit")
    local tabs = #vim.api.nvim_list_tabpages()
    vim.cmd("Lulu diff")
    env.wait(function()
      return vim.fn.getqflist({ title = 0 }).title == "Lulu diff: zeta-edit"
    end, "the quickfix list")
    local qf = vim.fn.getqflist()
    assert.are.equal(1, #qf)
    assert.matches("notes/text%.md$", vim.api.nvim_buf_get_name(qf[1].bufnr))
    assert.matches("^added %+%d+ %-0$", qf[1].text)
    assert.are.equal(tabs + 1, #vim.api.nvim_list_tabpages())
    local diff_wins = vim.tbl_filter(function(w)
      return vim.wo[w].diff
    end, vim.api.nvim_tabpage_list_wins(0))
    assert.are.equal(2, #diff_wins)
    -- The base side is the file at the base commit (absent: the file was added); the other is the
    -- worktree's file.
    local names = vim.tbl_map(function(w)
      return vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(w))
    end, diff_wins)
    table.sort(names)
    assert.matches("notes/text%.md$", names[1])
    assert.matches("^lulu://base/%x+/notes/text%.md$", names[2])
    -- In the quickfix window, :Lulu diff opens the entry under the cursor.
    vim.cmd("copen")
    vim.cmd("Lulu diff")
    assert.are.equal(tabs + 2, #vim.api.nvim_list_tabpages())
    assert.matches("notes/text%.md$", vim.api.nvim_buf_get_name(0))
    -- An uncommitted change counts too; the base side of a modified file is its base content.
    local detail = env.request(repo, "lulu/session", { id = row.id })
    local readme = detail.worktreePath .. "/README.md"
    local original = vim.fn.readfile(readme)
    vim.fn.writefile(vim.list_extend(vim.deepcopy(original), { "a new line" }), readme)
    local shown
    require("lulu.diff").open(repo, row.id, { path = "README.md" }, function(result)
      shown = result
    end)
    env.wait(function() return shown end, "the second diff")
    assert.are.equal(2, #vim.fn.getqflist())
    local base_win
    for _, w in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
      if vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(w)):match("^lulu://base/.*README%.md$") then
        base_win = w
      end
    end
    assert.truthy(base_win, "a base window for README.md")
    assert.are.same(original, vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(base_win), 0, -1, false))
  end)

  it("removes an ended session, and the row goes away", function()
    local bufnr = list.open(repo)
    local row = spawn(repo, "eta-remove", { name = "eta-remove" })
    wait_status(repo, row.id, "completed")
    env.wait(function() return list_line(bufnr, "eta-remove") end, "the row")
    cursor_on(bufnr, "eta-remove")
    vim.cmd("Lulu remove")
    wait_gone(repo, bufnr, row.id, "eta-remove")
  end)

  it("continues an ended session with a new prompt", function()
    local row = spawn(repo, "theta-continue", { name = "theta-continue" })
    wait_status(repo, row.id, "completed")
    local first = env.request(repo, "lulu/transcript", { id = row.id })
    actions.continue(repo, repo.sessions[row.id], "and again")
    -- The second run's output lands in the same transcript, after the first run's.
    local events
    env.wait(function()
      local t = env.request(repo, "lulu/transcript", { id = row.id })
      events = t.events
      for _, ev in ipairs(events) do
        if ev.text:find("starting: and again", 1, true) then
          return repo.sessions[row.id].status == "completed"
        end
      end
      return false
    end, "the second run to complete")
    assert.is_true(#events > #first.events)
    for i, ev in ipairs(events) do
      assert.are.equal(i, ev.seq)
    end
  end)

  it("shows the exact setup command before trusting it, and its output reaches the session view", function()
    local setup = "echo 'setting up' && touch setup.done # $HOME"
    local f = assert(io.open(repo_dir .. "/lulu.toml", "w"))
    f:write('[worktree]\nsetup = "' .. setup:gsub('"', '\\"') .. '"\n')
    f:close()
    local asked = {}
    local orig_confirm = vim.fn.confirm
    vim.fn.confirm = function(message, choices)
      asked[#asked + 1] = { message = message, choices = choices }
      return #asked == 1 and 2 or 1
    end
    -- Cancel first: nothing starts.
    local msgs = env.capture_notify(function()
      actions.spawn(repo, { prompt = "mu-setup", agent = "text", name = "mu-setup" })
    end, function(m)
      return #m > 0
    end)
    assert.are.equal("lulu: not started; the setup command is not trusted", msgs[1].msg)
    -- Then trust it: the session starts, its setup runs in the worktree first.
    local row = spawn(repo, "mu-setup", { name = "mu-setup" })
    vim.fn.confirm = orig_confirm
    assert.are.equal(2, #asked)
    assert.are.equal(
      repo_dir
        .. " runs this setup command in each new worktree (sh -c), before the agent:\n\n"
        .. setup
        .. "\n\nTrust this exact command for this repository?",
      asked[1].message
    )
    assert.are.equal("&Trust and start\n&Cancel", asked[1].choices)
    wait_status(repo, row.id, "completed")
    local bufnr = view.open(repo, row.id)
    env.wait(function()
      return env.find_line(bufnr, "setting up")
    end, "the setup's output in the session view")
    local detail = env.request(repo, "lulu/session", { id = row.id })
    assert.is_not_nil(vim.uv.fs_stat(detail.worktreePath .. "/setup.done"))
  end)

  it("asks for the prompt, then for the agent among the available ones", function()
    local asked = {}
    local orig_input, orig_select = vim.ui.input, vim.ui.select
    vim.ui.input = function(opts, on_confirm)
      asked.input = opts.prompt
      on_confirm("iota-asked [sleep 1]")
    end
    vim.ui.select = function(items, opts, on_choice)
      asked.agents = vim.tbl_map(opts.format_item, items)
      on_choice("claude")
    end
    vim.cmd("Lulu spawn")
    env.wait(function()
      for _, row in pairs(repo.sessions) do
        if row.name:find("iota-asked", 1, true) then
          return true
        end
      end
      return false
    end, "the asked-for session")
    vim.ui.input, vim.ui.select = orig_input, orig_select
    assert.are.equal("Lulu prompt: ", asked.input)
    -- The fake agents are all available; the default comes first.
    assert.are.same({ "text (default)", "claude", "codex" }, asked.agents)
    local id
    for _, row in pairs(repo.sessions) do
      id = row.id
    end
    local detail = env.request(repo, "lulu/session", { id = id })
    assert.are.equal("claude", detail.agent)
    assert.are.equal("iota-asked [sleep 1]", detail.prompt)
  end)

  it(":Lulu spawn takes a quoted name and keeps the prompt's spaces as typed", function()
    env.capture_notify(function()
      vim.cmd([[Lulu spawn --name="fix ci" --agent='text' keep   these  "spaces"]])
    end, function()
      return vim.iter(vim.tbl_values(repo.sessions)):any(function(r) return r.name == "fix ci" end)
    end)
    local row = vim.iter(vim.tbl_values(repo.sessions)):find(function(r) return r.name == "fix ci" end)
    local detail = env.request(repo, "lulu/session", { id = row.id })
    assert.are.equal("text", detail.agent)
    assert.are.equal('keep   these  "spaces"', detail.prompt)
    -- :Lulu continue keeps its prompt as typed too.
    wait_status(repo, row.id, "completed")
    vim.cmd("enew")
    local orig = vim.ui.select
    vim.ui.select = function(items, _, on_choice)
      on_choice(items[1])
    end
    vim.cmd("Lulu continue and   then  'more'")
    env.wait(function()
      local t = env.request(repo, "lulu/transcript", { id = row.id })
      return vim.iter(t.events):any(function(ev) return ev.text == "starting: and   then  'more'" end)
    end, "the second run's prompt as typed")
    vim.ui.select = orig
  end)

  it("asks before forcing the removal of a running session, and :Lulu remove! forces", function()
    local bufnr = list.open(repo)
    local a = spawn(repo, "kappa-running [sleep 120]", { name = "kappa-running" })
    local b = spawn(repo, "lambda-running [sleep 120]", { name = "lambda-running" })
    wait_status(repo, a.id, "running")
    wait_status(repo, b.id, "running")
    local asked
    local orig = vim.ui.select
    vim.ui.select = function(items, opts, on_choice)
      asked = opts.prompt
      on_choice(items[2])
    end
    env.wait(function() return list_line(bufnr, "kappa-running") end, "the row")
    cursor_on(bufnr, "kappa-running")
    vim.cmd("Lulu remove")
    env.wait(function()
      return repo.sessions[a.id] == nil
    end, "kappa-running to be removed")
    vim.ui.select = orig
    assert.matches("Remove anyway%?$", asked)
    cursor_on(bufnr, "lambda-running")
    vim.cmd("Lulu remove!")
    wait_gone(repo, bufnr, b.id, "lambda-running")
  end)

  it("shows sessions spawned by another process sharing the state dir", function()
    local bufnr = list.open(repo)
    env.wait(function() return repo.loaded end, "the first list")
    local state = require("lulu.config").options.state_dir
    write_cli_config(state)
    local res = vim.system(
      { env.lulu_bin, "--state-dir", state, "spawn", "--name", "nu-from-cli", "hello from the CLI" },
      { cwd = repo_dir, text = true }
    ):wait()
    assert.are.equal(0, res.code, res.stderr)
    env.wait(function()
      local l = list_line(bufnr, "nu-from-cli")
      return l and l:find("Completed", 1, true)
    end, "the CLI's session to show Completed in the list")
  end)

  it("acts from the list's keys: <CR> opens, c cancels, gd diffs, x removes", function()
    local bufnr = list.open(repo)
    local row = spawn(repo, "xi-keys [sleep 120]", { name = "xi-keys" })
    wait_status(repo, row.id, "running")
    env.wait(function() return list_line(bufnr, "xi-keys") end, "the row")
    local list_win = vim.fn.win_findbuf(bufnr)[1]
    local function on_row()
      vim.api.nvim_set_current_win(list_win)
      cursor_on(bufnr, "xi-keys")
    end
    on_row()
    vim.api.nvim_feedkeys(vim.keycode("<CR>"), "x", false)
    assert.are.equal(row.id, vim.b.lulu_session)
    assert.are_not.equal(list_win, vim.api.nvim_get_current_win())
    assert.truthy(vim.api.nvim_win_is_valid(list_win))
    on_row()
    vim.api.nvim_feedkeys("c", "x", false)
    wait_status(repo, row.id, "failed")
    on_row()
    local msgs = env.capture_notify(function()
      vim.api.nvim_feedkeys("gd", "x", false)
    end, function(m)
      return #m > 0
    end)
    assert.are.equal("lulu: xi-keys changed no file", msgs[1].msg)
    on_row()
    vim.api.nvim_feedkeys("x", "x", false)
    wait_gone(repo, bufnr, row.id, "xi-keys")
  end)

  it("acts on the session chosen in the picker outside the list", function()
    local row = spawn(repo, "omicron-pick [sleep 120]", { name = "omicron-pick" })
    wait_status(repo, row.id, "running")
    vim.cmd("enew")
    local orig = vim.ui.select
    local prompt
    vim.ui.select = function(items, opts, on_choice)
      prompt = opts.prompt
      on_choice(items[1])
    end
    vim.cmd("Lulu cancel")
    wait_status(repo, row.id, "failed")
    vim.ui.select = orig
    assert.are.equal("Cancel session", prompt)
  end)

  it("keeps another repository's sessions out of the list, even with a shared state dir", function()
    local bufnr = list.open(repo)
    env.wait(function() return repo.loaded end, "the first list")
    local other = env.make_repo()
    local state = require("lulu.config").options.state_dir
    write_cli_config(state)
    local function cli_spawn(dir, name)
      local res = vim.system(
        { env.lulu_bin, "--state-dir", state, "spawn", "--json", "--name", name, "hello" },
        { cwd = dir, text = true }
      ):wait()
      assert.are.equal(0, res.code, res.stderr)
      return vim.json.decode(res.stdout).id
    end
    local elsewhere = cli_spawn(other, "pi-elsewhere")
    local here = cli_spawn(repo_dir, "rho-here")
    env.wait(function()
      local l = list_line(bufnr, "rho-here")
      return l and l:find("Completed", 1, true)
    end, "this repository's session")
    local detail = env.request(repo, "lulu/session", { id = elsewhere })
    env.wait(function()
      return env.request(repo, "lulu/session", { id = elsewhere }).status == "completed"
    end, "the other repository's session to end")
    assert.are.equal(other, detail.repo)
    assert.is_nil(repo.sessions[elsewhere])
    assert.is_nil(list_line(bufnr, "pi-elsewhere"))
    assert.truthy(repo.sessions[here])
  end)

  it("passes :checkhealth lulu", function()
    vim.cmd("checkhealth lulu")
    local lines = env.lines(0)
    local text = table.concat(lines, "\n")
    assert.truthy(text:find("speaks protocol version 2", 1, true), text)
    assert.is_nil(text:find("ERROR", 1, true), text)
    assert.is_nil(text:find("WARNING", 1, true), text)
    vim.cmd("bwipeout!")
  end)
end)

describe("lulu on bad input", function()
  after_each(function()
    client.stop()
  end)

  local function errors(msgs)
    return vim.tbl_filter(function(m)
      return m.level == vim.log.levels.ERROR
    end, msgs)
  end

  it("names the folder when it is not in a git repository, with no Lua error", function()
    env.fresh()
    local dir = env.tmpdir("not-a-repo")
    vim.cmd.cd(vim.fn.fnameescape(dir))
    for _, cmd in ipairs({ "Lulu", "Lulu list", "Lulu pick", "Lulu spawn hello", "Lulu cancel" }) do
      local msgs = env.capture_notify(function()
        vim.cmd(cmd)
      end)
      assert.are.equal(1, #errors(msgs), cmd .. ": " .. vim.inspect(msgs))
      assert.are.equal("lulu: not inside a git repository: " .. dir, errors(msgs)[1].msg)
    end
  end)

  it("reports an unknown agent clearly, with no Lua error", function()
    env.fresh()
    local msgs = env.capture_notify(function()
      vim.cmd("Lulu spawn --agent=nosuchagent hello")
    end, function(m)
      return #errors(m) > 0
    end)
    assert.are.equal(1, #errors(msgs), vim.inspect(msgs))
    assert.matches("^lulu: .*nosuchagent", errors(msgs)[1].msg)
  end)

  it("reports a bad flag or an unclosed quote of :Lulu spawn, and starts nothing", function()
    local repo_dir = env.fresh()
    for cmd, want in pairs({
      ['Lulu spawn --name="fix ci go'] = 'lulu: the quote " opened in --name="fix ci go is never closed',
      ["Lulu spawn --agnet=codex go"] = 'lulu: unknown flag "--agnet": :Lulu spawn takes --agent=NAME and --name=NAME '
        .. "before the prompt (-- ends them)",
    }) do
      local msgs = env.capture_notify(function()
        vim.cmd(cmd)
      end)
      assert.are.same({ { msg = want, level = vim.log.levels.ERROR } }, msgs)
    end
    assert.is_nil(client.repos[repo_dir], "no server started")
  end)

  it("reports a server binary that does not exist", function()
    env.fresh({ server = "/nonexistent/lulu" })
    local msgs = env.capture_notify(function()
      vim.cmd("Lulu list")
    end)
    assert.are.equal(1, #errors(msgs))
    assert.matches('server command "/nonexistent/lulu" is not an executable', errors(msgs)[1].msg)
  end)

  it("reports a server speaking another protocol version once, and shuts it down politely", function()
    local log = env.tmpdir("fake-server") .. "/methods"
    vim.env.LULU_FAKE_SERVER_LOG = log
    env.fresh({ server = env.plugin_root .. "/spec/helpers/fake-server-v3" })
    local repo
    local msgs = env.capture_notify(function()
      repo = assert(client.get())
    end, function()
      return repo.exit_code ~= nil
    end)
    vim.env.LULU_FAKE_SERVER_LOG = nil
    assert.are.equal(1, #errors(msgs), vim.inspect(msgs))
    assert.matches("speaks protocol version 3, this plugin needs version 2", errors(msgs)[1].msg)
    -- shutdown then exit, not a signal.
    assert.are.equal(0, repo.exit_code)
    assert.are.same({ "initialize", "initialized", "shutdown", "exit" }, vim.fn.readfile(log))
  end)

  it("reports unknown setup() options in :checkhealth lulu", function()
    env.fresh({ bogus_option = 1 })
    vim.cmd("checkhealth lulu")
    local text = table.concat(env.lines(0), "\n")
    assert.truthy(text:find('unknown option "bogus_option"', 1, true), text)
    vim.cmd("bwipeout!")
  end)
end)

describe("the end of a session", function()
  after_each(function()
    client.stop()
  end)

  --- Messages about sessions ending (not "started ...").
  local function ends(msgs)
    return vim.tbl_filter(function(m)
      return not m.msg:find("^lulu: started ")
    end, msgs)
  end

  --- Waits until the client has handled everything the server sent before now: a request's
  --- answer comes after the answers to the requests made before it.
  local function settle(repo)
    env.request(repo, "lulu/agents", vim.empty_dict())
  end

  it("is notified with its level and reason, only for sessions that end while the client runs", function()
    local repo_dir = env.fresh({ notify_on_end = "all" })
    local first = assert(client.get())
    local before = spawn(first, "ended-before", { name = "ended-before" })
    wait_status(first, before.id, "completed")
    client.stop()
    -- A new client: the session that ended before it started is not told of, even once listed.
    local repo = assert(client.get(repo_dir))
    local msgs = env.capture_notify(function()
      list.open(repo)
      env.wait(function() return repo.loaded end, "the list")
      local ok = spawn(repo, "n-ok", { name = "n-ok" })
      local bad = spawn(repo, "n-bad [fail]", { name = "n-bad" })
      local cancelled = spawn(repo, "n-cancel [sleep 120]", { name = "n-cancel" })
      wait_status(repo, cancelled.id, "running")
      actions.cancel(repo, repo.sessions[cancelled.id])
      for _, r in ipairs({ ok, bad, cancelled }) do
        env.wait(function()
          local s = repo.sessions[r.id]
          return s.status == "completed" or s.status == "failed"
        end, r.name .. " to end")
      end
    end, function(m)
      return #ends(m) >= 3
    end)
    settle(repo)
    local got = ends(msgs)
    table.sort(got, function(a, b) return a.msg < b.msg end)
    assert.are.same({
      { msg = "lulu: n-bad failed: exit code 1: error: the task could not be done", level = vim.log.levels.ERROR },
      { msg = "lulu: n-cancel failed: cancelled by the user", level = vim.log.levels.WARN },
      { msg = "lulu: n-ok completed", level = vim.log.levels.INFO },
    }, got)
  end)

  -- The test above once missed "n-ok completed": n-ok ended while spawn() captured the messages
  -- of the next spawn, and that inner capture kept them. Captures nest: the outer one sees all.
  it("is seen by a capture of messages even when it comes during a nested capture", function()
    local msgs = env.capture_notify(function()
      local inner = env.capture_notify(function()
        vim.notify("lulu: n-ok completed", vim.log.levels.INFO)
      end)
      assert.are.same({ { msg = "lulu: n-ok completed", level = vim.log.levels.INFO } }, inner)
    end)
    assert.are.same({ { msg = "lulu: n-ok completed", level = vim.log.levels.INFO } }, msgs)
  end)

  it("is told of by a row that was running, or first seen ended after the client started", function()
    local start = assert(require("lulu.format").parse_time("2026-11-25T12:00:00Z"))
    local function check(previous_status, status, last, expected)
      local previous = previous_status and { id = "a", status = previous_status } or nil
      local row = { id = "a", status = status, lastActivityAt = last }
      assert.are.equal(expected, client.ended_now(start, previous, row), vim.inspect({ previous_status, status, last }))
    end
    check("running", "completed", "2026-11-25T11:00:00Z", true)
    check("starting", "failed", "2026-11-25T11:00:00Z", true)
    check("completed", "completed", "2026-11-25T12:30:00Z", false) -- a rename, not an end
    check("failed", "starting", "2026-11-25T12:30:00Z", false) -- continued
    check("running", "running", "2026-11-25T12:30:00Z", false)
    check(nil, "completed", "2026-11-25T12:00:01Z", true) -- ran and ended between two looks
    check(nil, "failed", "2026-11-25T11:59:59Z", false) -- ended before the client started
    check(nil, "running", "2026-11-25T12:30:00Z", false)
  end)

  it("tells of failed ones only with notify_on_end = 'failed', and of none with 'none'", function()
    env.fresh({ notify_on_end = "failed" })
    local repo = assert(client.get())
    local msgs = env.capture_notify(function()
      local ok = spawn(repo, "f-ok", { name = "f-ok" })
      local bad = spawn(repo, "f-bad [fail]", { name = "f-bad" })
      wait_status(repo, ok.id, "completed")
      wait_status(repo, bad.id, "failed")
    end, function(m)
      return #ends(m) >= 1
    end)
    settle(repo)
    assert.are.same({
      { msg = "lulu: f-bad failed: exit code 1: error: the task could not be done", level = vim.log.levels.ERROR },
    }, ends(msgs))
    require("lulu.config").options.notify_on_end = "none"
    msgs = env.capture_notify(function()
      local bad = spawn(repo, "g-bad [fail]", { name = "g-bad" })
      wait_status(repo, bad.id, "failed")
      settle(repo)
    end)
    assert.are.same({}, ends(msgs))
  end)
end)

describe("a long failure reason", function()
  after_each(function()
    client.stop()
  end)

  it("is whole in the session view, right under the reason, and in the picker", function()
    -- A fake agent whose last stderr line is its prompt: the server cuts the reason at 120.
    env.fresh({
      agents = { stderr = { command = { "sh", "-c", 'echo "$0" >&2; exit 3', "{prompt}" }, format = "text" } },
    })
    local repo = assert(client.get())
    local words = string.rep("the quick brown fox jumps over the lazy dog ", 4) .. "END-OF-REASON"
    local row = spawn(repo, words, { name = "long-reason", agent = "stderr" })
    wait_status(repo, row.id, "failed")
    local reason = repo.sessions[row.id].failureReason
    assert.is_nil(reason:find("END-OF-REASON", 1, true), "the row's reason is cut: " .. reason)
    -- The view: the whole text before the rest of the details.
    local bufnr = view.open(repo, row.id)
    -- (The transcript has the stderr line too: wait for the details.)
    env.wait(function() return env.find_line(bufnr, "Detail:") end, "the failure detail in the view")
    local lines = env.lines(bufnr)
    local at = function(needle)
      for i, l in ipairs(lines) do
        if l:find(needle, 1, true) then
          return i
        end
      end
    end
    assert.is_true(at("END-OF-REASON") < at("Id:"), table.concat(lines, "\n"))
    assert.are.equal("Detail:    the agent exited with code 3", lines[at("END-OF-REASON") - 1])
    assert.are.equal("           last stderr line: " .. words, lines[at("END-OF-REASON")])
    -- The picker: the whole text on the session's item.
    local shown
    local orig = vim.ui.select
    vim.ui.select = function(items, opts)
      shown = vim.tbl_map(opts.format_item, items)
    end
    vim.cmd("Lulu pick")
    env.wait(function() return shown end, "the picker")
    vim.ui.select = orig
    assert.matches("^✗ Failed    long%-reason  %d+[smhd]  %(the agent exited with code 3; last stderr line: "
      .. vim.pesc(words) .. "%)$", shown[1])
  end)
end)

describe("completion of :Lulu spawn --agent=", function()
  after_each(function()
    client.stop()
  end)

  it("asks the repository's server for its agents, and falls back to setup()'s with no server", function()
    local _, state = env.fresh()
    -- An agent only the server knows: from the state dir's config.toml, not from setup().
    vim.fn.writefile({
      "[agents.zeta-from-file]",
      'command = ["' .. env.fixtures .. '/agents/fake-text", "{prompt}"]',
      'format = "text"',
    }, state .. "/config.toml")
    local lulu = require("lulu")
    local function complete()
      return lulu.complete("--agent=", "Lulu spawn --agent=")
    end
    local from_setup = { "--agent=", "--agent=claude", "--agent=codex", "--agent=text" }
    assert.are.same(from_setup, complete())
    local repo = assert(client.get())
    env.wait(function()
      return vim.tbl_contains(complete(), "--agent=zeta-from-file")
    end, "the server's agents in the completion")
    assert.is_true(repo.ready)
    assert.are.same({ "--agent=zeta-from-file" }, lulu.complete("--agent=z", "Lulu spawn --agent=z"))
    client.stop()
    assert.are.same(from_setup, complete())
  end)
end)

describe("lulu's options reach the server", function()
  after_each(function()
    client.stop()
  end)

  it("max_running holds a second session in Starting until the first ends", function()
    env.fresh({ max_running = 1 })
    local repo = assert(client.get())
    local bufnr = list.open(repo)
    local first = spawn(repo, "sigma-first [sleep 120]", { name = "sigma-first" })
    wait_status(repo, first.id, "running")
    local second = spawn(repo, "tau-second", { name = "tau-second" })
    -- The server answered the spawn with the row in starting; the only slot is taken.
    assert.are.equal("starting", second.status)
    env.wait(function()
      local l = list_line(bufnr, "tau-second")
      return l and l:find("^ · Starting")
    end, "tau-second to show Starting")
    assert.are.equal("running", repo.sessions[first.id].status)
    actions.cancel(repo, repo.sessions[first.id])
    wait_status(repo, first.id, "failed")
    wait_status(repo, second.id, "completed")
  end)
end)
