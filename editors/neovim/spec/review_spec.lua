-- Review comments against the real `lulu serve`: :Lulu comment in the diff view and in a file of
-- the worktree, the marks, :Lulu comments, a restart of the server, :Lulu review, and the prompt
-- the scripted agent received.
local env = require("spec.helpers.env")
local client = require("lulu.client")
local comments = require("lulu.comments")

--- The comment marks of a buffer: "SIGN|text" for each, top to bottom.
---@param bufnr integer
---@return string[]
local function marks(bufnr)
  local out = {}
  for _, m in ipairs(vim.api.nvim_buf_get_extmarks(bufnr, comments.ns, 0, -1, { details = true })) do
    local d = m[4]
    out[#out + 1] = string.format("%d %s|%s", m[2] + 1, vim.trim(d.sign_text or ""), vim.trim(d.virt_text[1][1]))
  end
  return out
end

--- The prompts the text agent received, in order.
local function received(file)
  local text = table.concat(vim.fn.readfile(file), "\n")
  local prompts = {}
  for body in text:gmatch("=== prompt\n(.-)\n=== end") do
    prompts[#prompts + 1] = body
  end
  return prompts
end

local function errors(msgs)
  return vim.tbl_filter(function(m)
    return m.level == vim.log.levels.ERROR
  end, msgs)
end

describe("review comments", function()
  local repo_dir, repo, prompts

  before_each(function()
    prompts = env.tmpdir("prompts") .. "/prompts.txt"
    local agents = env.agents()
    agents.text.env = { FAKE_AGENT_PROMPTS = prompts }
    repo_dir = env.fresh({ agents = agents })
    repo = assert(client.get(repo_dir))
  end)

  after_each(function()
    client.stop()
  end)

  it("are added in the diff view and in a worktree file, shown, listed, kept and sent once", function()
    local row = env.request(repo, "lulu/spawn", { prompt = "[edit]", name = "reviewed", agent = "text" })
    env.wait(function()
      return repo.sessions[row.id] and repo.sessions[row.id].status == "completed"
    end, "the session to complete")
    local worktree = env.request(repo, "lulu/session", { id = row.id }).worktreePath

    -- In the diff view: the key asks for the text with vim.ui.input.
    local shown
    require("lulu.diff").open(repo, row.id, { path = "notes/text.md" }, function(result)
      shown = result
    end)
    env.wait(function() return shown end, "the diff view")
    local diff_buf = vim.api.nvim_get_current_buf()
    assert.matches("notes/text%.md$", vim.api.nvim_buf_get_name(diff_buf))
    env.wait(function() return comments.targets[diff_buf] end, "the diff view to take comments")
    local asked
    local input = vim.ui.input
    vim.ui.input = function(opts, on_confirm)
      asked = opts.prompt
      on_confirm("a better heading")
    end
    vim.api.nvim_win_set_cursor(0, { 1, 0 })
    vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("gC", true, false, true), "x", false)
    vim.ui.input = input
    assert.are.equal("Comment on notes/text.md:1: ", asked)
    env.wait(function() return #marks(diff_buf) == 1 end, "the draft mark in the diff view")
    assert.are.same({ "1 ✎|draft: a better heading" }, marks(diff_buf))

    -- In any buffer of a file of the worktree, with the text on the command line.
    vim.cmd.tabnew(vim.fn.fnameescape(worktree .. "/src/lib.txt"))
    local file_buf = vim.api.nvim_get_current_buf()
    vim.api.nvim_win_set_cursor(0, { 2, 0 })
    local msgs = env.capture_notify(function()
      vim.cmd("Lulu comment say two in words")
    end, function()
      return #marks(file_buf) == 1
    end)
    assert.are.same({}, errors(msgs))
    assert.are.same({ "2 ✎|draft: say two in words" }, marks(file_buf))

    -- :Lulu comments fills the quickfix list, oldest first.
    local items
    comments.list(function(i)
      items = i
    end)
    env.wait(function() return items end, "the comments in the quickfix list")
    local qf = vim.tbl_map(function(item)
      local file = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(item.bufnr), ":t")
      return string.format("%s:%d %s", file, item.lnum, item.text)
    end, vim.fn.getqflist())
    assert.are.same({ "text.md:1 [draft] a better heading", "lib.txt:2 [draft] say two in words" }, qf)
    vim.cmd("cclose")

    -- Drafts live in the database: a new server shows them.
    client.stop()
    env.wait(function()
      return client.repos[repo_dir] == nil or client.repos[repo_dir].closed
    end, "the server to stop")
    comments.targets[file_buf] = nil
    repo = assert(client.get(repo_dir))
    vim.api.nvim_set_current_buf(file_buf)
    local again
    comments.list(function(i)
      again = i
    end)
    env.wait(function() return again end, "the comments from the new server")
    assert.are.equal(2, #again)
    vim.cmd("cclose")

    -- :Lulu review sends both and the message as one prompt; the marks turn to sent.
    vim.api.nvim_set_current_buf(file_buf)
    msgs = env.capture_notify(function()
      vim.cmd("Lulu review and add a test")
    end, function(m)
      return #m > 0
    end)
    local texts = vim.tbl_map(function(m) return m.msg end, msgs)
    assert.are.same({ "lulu: sent the review (2 comments) to reviewed" }, texts)
    env.wait(function() return #received(prompts) == 2 end, "the agent to receive the review")
    local prompt = received(prompts)[2]
    assert.truthy(prompt:find("1. notes/text.md, line 1:\n  > 1 | # Notes from text\n", 1, true), prompt)
    assert.truthy(prompt:find("   Comment: a better heading\n", 1, true), prompt)
    assert.truthy(prompt:find("2. src/lib.txt, line 2:\n    1 | line one\n  > 2 | line two\n", 1, true), prompt)
    assert.truthy(prompt:find("   Comment: say two in words\n", 1, true), prompt)
    assert.truthy(prompt:find("And the user says:\nand add a test$"), prompt)
    env.wait(function()
      return marks(file_buf)[1] == "2 ✓|sent: say two in words"
    end, "the mark to show sent")

    -- Nothing left to send: the server's refusal, one line.
    env.wait(function()
      return repo.sessions[row.id] and repo.sessions[row.id].status == "completed"
    end, "the review run to complete")
    msgs = env.capture_notify(function()
      vim.cmd("Lulu review")
    end, function(m)
      return #m > 0
    end)
    assert.are.equal(1, #errors(msgs))
    assert.matches("has no draft comment and no message was given; nothing to send$", msgs[1].msg)
    assert.are.equal(2, #received(prompts))
  end)

  it("refuses a buffer that is no file of a session, naming it", function()
    vim.cmd.edit(vim.fn.fnameescape(repo_dir .. "/README.md"))
    local msgs = env.capture_notify(function()
      vim.cmd("Lulu comment hello")
    end, function(m)
      return #m > 0
    end)
    local expected = "lulu: " .. repo_dir .. "/README.md is in the main checkout, not in a session's worktree"
    assert.are.same({ { msg = expected, level = vim.log.levels.ERROR } }, msgs)
  end)
end)
