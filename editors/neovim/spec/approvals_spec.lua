-- Talking to a running agent from Neovim (issue 12) against the real `lulu serve`: the scripted
-- fake-claude hosted through stream-json asks for permission with Claude Code's control lines
-- (`[ask]`: run `touch approved.txt`). The pickers and prompts are answered by stubs of
-- vim.ui.select/input; the worktree and the transcript are the oracles.
local env = require("spec.helpers.env")
local client = require("lulu.client")
local list = require("lulu.list")
local view = require("lulu.view")
local approvals = require("lulu.approvals")

local WARN, INFO = vim.log.levels.WARN, vim.log.levels.INFO

--- Starts a session and stores its row as a spawn from the plugin does.
---@param repo lulu.Repo
---@param prompt string
---@param name string
---@param agent string|nil default "host"
---@return lulu.SessionRow
local function spawn(repo, prompt, name, agent)
  local row = env.request(repo, "lulu/spawn", { prompt = prompt, name = name, agent = agent or "host" })
  assert(row and row.id, "spawn failed")
  if not repo.sessions[row.id] then
    client.apply_row(repo, row)
  end
  return row
end

---@param repo lulu.Repo
---@param id string
---@param status string
local function wait_status(repo, id, status)
  env.wait(function()
    local row = repo.sessions[id]
    return row and row.status == status
  end, "session " .. id .. " to be " .. status)
end

--- The request the client holds for a session, once it came.
---@param repo lulu.Repo
---@param id string
---@return lulu.Approval
local function wait_request(repo, id)
  local found
  env.wait(function()
    for _, a in pairs(repo.approvals) do
      if a.sessionId == id then
        found = a
      end
    end
    return found
  end, "a permission request of " .. id)
  return found
end

---@param repo lulu.Repo
---@param id string
---@param needle string
---@return boolean
local function transcript_has(repo, id, needle)
  local t = env.request(repo, "lulu/transcript", { id = id })
  return vim.iter(t.events):any(function(ev)
    return (ev.text or ""):find(needle, 1, true) ~= nil
  end)
end

---@param msgs {msg: string, level: integer}[]
---@param level integer
local function at_level(msgs, level)
  return vim.tbl_filter(function(m)
    return m.level == level
  end, msgs)
end

--- Replaces vim.ui.select and vim.ui.input with answers given in order; returns what was asked.
---@param answers (string|fun(items: any[]): any)[] the item's text (or a chooser) for each question
---@return {prompt: string, items: string[]}[] asked
local function stub_ui(answers)
  local asked = {}
  local function next_answer(items)
    local a = table.remove(answers, 1)
    if type(a) == "function" then
      return a(items)
    end
    return a
  end
  vim.ui.select = function(items, opts, on_choice)
    local texts = vim.tbl_map(function(i)
      return opts.format_item and opts.format_item(i) or i
    end, items)
    asked[#asked + 1] = { prompt = opts.prompt, items = texts }
    local want = next_answer(items)
    for i, text in ipairs(texts) do
      if text == want or items[i] == want then
        on_choice(items[i])
        return
      end
    end
    on_choice(nil)
  end
  vim.ui.input = function(opts, on_confirm)
    asked[#asked + 1] = { prompt = opts.prompt, items = {} }
    on_confirm(next_answer({}))
  end
  return asked
end

describe("approvals and messages", function()
  local orig_select, orig_input = vim.ui.select, vim.ui.input

  after_each(function()
    vim.ui.select, vim.ui.input = orig_select, orig_input
    client.stop()
  end)

  local function fresh()
    local repo_dir = env.fresh({ agents = { host = env.host_agent() } })
    return repo_dir, assert(client.get())
  end

  it("tells of a request once, across a reconnect, and allows it from :Lulu approvals", function()
    local repo_dir, repo = fresh()
    local row
    local msgs = env.capture_notify(function()
      row = spawn(repo, "make a file [ask]", "ask-allow")
    end, function(m)
      return #at_level(m, WARN) > 0
    end)
    assert.are.same({
      { msg = "lulu: Claude wants to run: touch approved.txt (session ask-allow) — :Lulu approvals", level = WARN },
    }, msgs)
    local asked_before = wait_request(repo, row.id)

    -- A new server announces the pending request again: it is pending, but not told twice.
    msgs = env.capture_notify(function()
      client.stop()
      repo = assert(client.get(repo_dir))
      wait_request(repo, row.id)
      env.settle(repo)
    end)
    assert.are.same({}, msgs)
    -- The list keeps the row Running with no subtext; its header counts the request.
    local bufnr = list.open(repo)
    env.wait(function()
      return env.find_line(bufnr, "ask-allow") and env.lines(bufnr)[1]:find("1 request waiting (a answers)", 1, true)
    end, "the list header to count the request")
    assert.matches("^ %S+ Running    ask%-allow +%d+[smhd]$", env.find_line(bufnr, "ask-allow"))

    local asked = stub_ui({
      function(items)
        return items[1]
      end,
      "Allow",
    })
    msgs = env.capture_notify(function()
      vim.cmd("Lulu approvals")
      wait_status(repo, row.id, "completed")
    end, function(m)
      return #at_level(m, INFO) > 0
    end)
    assert.are.same({ { msg = "lulu: allowed Bash: touch approved.txt (session ask-allow)", level = INFO } }, msgs)
    assert.are.equal(2, #asked)
    assert.are.equal("Lulu: waiting for you", asked[1].prompt)
    assert.are.equal(1, #asked[1].items)
    assert.matches("^ask%-allow: Bash: touch approved%.txt  %d+[smhd]$", asked[1].items[1])
    assert.are.equal("ask-allow: Claude wants to run: touch approved.txt", asked[2].prompt)
    assert.are.same({ "Allow", "Deny", "Deny with message" }, asked[2].items)
    -- Allowed: the agent ran it, in the session's worktree.
    local detail = env.request(repo, "lulu/session", { id = row.id })
    assert.are.equal(1, vim.fn.filereadable(detail.worktreePath .. "/approved.txt"))
    assert.are.same({}, detail.pendingApprovals)
    assert.is_nil(repo.approvals[asked_before.approvalId])
    env.wait(function()
      return not env.lines(bufnr)[1]:find("waiting", 1, true)
    end, "the list header to drop the count")
  end)

  it("shows a request's input whole in the session view, and denies it with a message from there", function()
    local _, repo = fresh()
    local row = spawn(repo, "make a file [ask]", "ask-deny")
    local bufnr = view.open(repo, row.id)
    env.wait(function()
      return env.find_line(bufnr, "Waiting:")
    end, "the request in the session view")
    local lines = env.lines(bufnr)
    local at = vim.fn.index(lines, env.find_line(bufnr, "Waiting:")) + 1
    assert.are.equal("Status:    Running", lines[at - 1]:match("^Status:    Running"))
    assert.matches(
      "^Waiting:   Claude wants to run: touch approved%.txt  %(asked %d+[smhd] ago; a answers%)$",
      lines[at]
    )
    assert.are.equal("             command: touch approved.txt", lines[at + 1])
    assert.are.equal("             description: Create approved.txt", lines[at + 2])
    assert.are.equal("Keys:      q close  m message  a answer  c cancel  gd diff", env.find_line(bufnr, "Keys:"))

    -- One request: the key answers it at once.
    local asked = stub_ui({ "Deny with message", "not on this machine" })
    vim.api.nvim_set_current_buf(bufnr)
    local msgs = env.capture_notify(function()
      vim.api.nvim_feedkeys("a", "x", false)
      wait_status(repo, row.id, "completed")
    end, function(m)
      return #at_level(m, INFO) > 0
    end)
    assert.are.same({ { msg = "lulu: denied Bash: touch approved.txt (session ask-deny)", level = INFO } }, msgs)
    assert.are.same({ "ask-deny: Claude wants to run: touch approved.txt", "Tell Claude why: " }, {
      asked[1].prompt,
      asked[2].prompt,
    })
    -- The agent got the denial with the message, ran nothing, and went on to the end.
    assert.is_true(transcript_has(repo, row.id, "not on this machine"))
    local detail = env.request(repo, "lulu/session", { id = row.id })
    assert.are.equal(0, vim.fn.filereadable(detail.worktreePath .. "/approved.txt"))
    env.wait(function()
      return not env.find_line(bufnr, "Waiting:")
        and env.find_line(bufnr, "Keys:") == "Keys:      q close  C continue  gd diff  L land  S sync  P push  x remove"
    end, "the view to drop the request and show the keys of an ended session")
  end)

  it("sends a message with :Lulu send to the session under the cursor, or one chosen among the running", function()
    local _, repo = fresh()
    local done = spawn(repo, "done-one", "done-one", "text")
    wait_status(repo, done.id, "completed")
    -- A pending request keeps the agent in its first turn: it takes messages after it.
    local row = spawn(repo, "make a file [ask]", "send-me")
    local request = wait_request(repo, row.id)
    local bufnr = list.open(repo)
    env.wait(function()
      return env.find_line(bufnr, "send-me")
    end, "the row of send-me")
    vim.api.nvim_win_set_cursor(0, { vim.fn.index(env.lines(bufnr), env.find_line(bufnr, "send-me")) + 1, 0 })
    local asked = stub_ui({ "also update the changelog" })
    local msgs = env.capture_notify(function()
      vim.cmd("Lulu send")
    end, function(m)
      return #m > 0
    end)
    assert.are.same({ { msg = "lulu: sent your message to send-me", level = INFO } }, msgs)
    assert.are.same({ { prompt = "Message to send-me: ", items = {} } }, asked)

    -- Outside the list and the view: a picker of the running sessions only.
    vim.cmd("wincmd p")
    vim.cmd("enew")
    asked = stub_ui({
      function(items)
        return items[1]
      end,
    })
    msgs = env.capture_notify(function()
      vim.cmd("Lulu send and the   README")
    end, function(m)
      return #m > 0
    end)
    assert.are.same({ { msg = "lulu: sent your message to send-me", level = INFO } }, msgs)
    assert.are.equal("Send to session", asked[1].prompt)
    assert.are.equal(1, #asked[1].items)
    assert.matches("Running   send%-me", asked[1].items[1])

    env.request(repo, "lulu/approve", { approvalId = request.approvalId, allow = true })
    wait_status(repo, row.id, "completed")
    assert.is_true(transcript_has(repo, row.id, "Got your message: also update the changelog"))
    assert.is_true(transcript_has(repo, row.id, "Got your message: and the   README"))
  end)

  it("says plainly when a session cannot take a message: its agent is not hosted, or it is not running", function()
    local _, repo = fresh()
    local done = spawn(repo, "[host] done-two", "done-two")
    local busy = spawn(repo, "busy [sleep 120]", "busy-text", "text")
    wait_status(repo, done.id, "completed")
    wait_status(repo, busy.id, "running")
    local msgs = env.capture_notify(function()
      approvals.send(repo, repo.sessions[busy.id], "hello")
      approvals.send(repo, repo.sessions[done.id], "hello")
    end, function(m)
      return #m >= 2
    end)
    table.sort(msgs, function(a, b)
      return a.msg < b.msg
    end)
    assert.are.same({
      {
        msg = "lulu: busy-text cannot take messages while it runs: its agent text is not one lulu hosts (Claude is)",
        level = WARN,
      },
      {
        msg = "lulu: done-two is completed, not running, so it cannot take a message; "
          .. ":Lulu continue gives it a new prompt",
        level = WARN,
      },
    }, msgs)
    env.request(repo, "lulu/cancel", { id = busy.id })
  end)

  it("answers quietly when the request was resolved meanwhile", function()
    local _, repo = fresh()
    local row = spawn(repo, "make a file [ask]", "ask-gone")
    local request = wait_request(repo, row.id)
    -- The picker is open when another client denies the request.
    local item
    stub_ui({
      function(items)
        item = items[1]
        env.request(repo, "lulu/approve", { approvalId = request.approvalId, allow = false })
        env.wait(function()
          return approvals.resolved[request.approvalId]
        end, "the request to be resolved")
        return item
      end,
      "Allow",
    })
    local msgs = env.capture_notify(function()
      vim.cmd("Lulu approvals")
    end, function(m)
      return #m > 0
    end)
    assert.are.same({ { msg = "lulu: that request is no longer waiting: it was already denied", level = INFO } }, msgs)
    -- Not known here yet to be resolved: the server's answer (no such request) is quiet too.
    approvals.resolved[request.approvalId] = nil
    msgs = env.capture_notify(function()
      approvals.approve(item, true)
    end, function(m)
      return #m > 0
    end)
    assert.are.same({
      {
        msg = "lulu: that request is no longer waiting: it was answered elsewhere, timed out, or its session ended",
        level = INFO,
      },
    }, msgs)
    wait_status(repo, row.id, "completed")
  end)
end)
