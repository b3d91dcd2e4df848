-- Landing and syncing from Neovim against the real `lulu serve` on fixture repositories, with
-- git as the oracle. The pickers and prompts are answered by stubs of vim.ui.select/input.
local env = require("spec.helpers.env")
local client = require("lulu.client")
local actions = require("lulu.actions")
local list = require("lulu.list")
local view = require("lulu.view")

---@param dir string
---@param args string[]
---@return string
local function git(dir, args)
  local cmd = { "git", "-C", dir }
  vim.list_extend(cmd, args)
  local res = vim.system(cmd, {
    text = true,
    env = {
      GIT_CONFIG_GLOBAL = "/dev/null",
      GIT_CONFIG_NOSYSTEM = "1",
      GIT_AUTHOR_NAME = "Lulu Fixture",
      GIT_AUTHOR_EMAIL = "fixture@lulu.invalid",
      GIT_COMMITTER_NAME = "Lulu Fixture",
      GIT_COMMITTER_EMAIL = "fixture@lulu.invalid",
    },
  }):wait()
  assert(res.code == 0, "git " .. table.concat(args, " ") .. ": " .. (res.stderr or ""))
  return res.stdout or ""
end

---@param repo lulu.Repo
---@param prompt string
---@param name string
---@return lulu.SessionRow
local function completed(repo, prompt, name)
  local row
  actions.spawn(repo, {
    prompt = prompt,
    agent = "text",
    name = name,
    on_spawned = function(r)
      row = r
    end,
  })
  env.wait(function()
    return row ~= nil
  end, "the spawn")
  env.wait(function()
    local r = repo.sessions[row.id]
    return r and r.status == "completed"
  end, name .. " to complete")
  return row
end

--- Runs `fn` with vim.ui.select answering by `choose(items, opts)` and vim.ui.input taking the
--- default; returns what was asked, in order.
local function answering(choose, fn)
  local asked = {}
  local orig_select, orig_input = vim.ui.select, vim.ui.input
  vim.ui.select = function(items, opts, on_choice)
    asked[#asked + 1] = opts.prompt
    on_choice(choose(items, opts))
  end
  vim.ui.input = function(opts, on_confirm)
    asked[#asked + 1] = opts.prompt .. (opts.default or "")
    on_confirm(opts.default)
  end
  local ok, err = pcall(fn)
  return asked, function()
    vim.ui.select, vim.ui.input = orig_select, orig_input
    assert(ok, err)
  end
end

describe("landing from Neovim", function()
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

  it("lands with L from the list, keeps the user's dirty file, shows Landed, and removes on request", function()
    local bufnr = list.open(repo)
    local row = completed(repo, "notes [edit]", "land-me")
    env.wait(function()
      return env.find_line(bufnr, "land-me")
    end, "the row")
    vim.fn.writefile({ "my own edit" }, repo_dir .. "/README.md")
    vim.api.nvim_win_set_cursor(0, { vim.fn.index(env.lines(bufnr), env.find_line(bufnr, "land-me")) + 1, 0 })
    local cleanup_offered = false
    local asked, restore = answering(function(_, opts)
      if opts.kind == "lulu_land_strategy" then
        return "squash"
      end
      cleanup_offered = true
      return "Keep the worktree and branch"
    end, function()
      vim.api.nvim_feedkeys("L", "x", false)
    end)
    env.wait(function()
      return cleanup_offered
    end, "the offer to clean up after the landing")
    restore()
    assert.are.same({ "Land land-me into main", "Commit message: land-me", "Landed land-me. Clean up?" }, asked)
    -- git agrees: one squash commit named after the session, the user's edit untouched.
    assert.are.equal("land-me\n", git(repo_dir, { "log", "-1", "--format=%s", "main" }))
    assert.are.equal(" M README.md\n", git(repo_dir, { "status", "--porcelain" }))
    assert.are.same({ "my own edit" }, vim.fn.readfile(repo_dir .. "/README.md"))
    assert.are.equal("notes/text.md\n", git(repo_dir, { "show", "--format=", "--name-only", "main" }))

    -- The session view shows where the branch stands and that it landed.
    local vbuf = view.open(repo, row.id)
    env.wait(function()
      return env.find_line(vbuf, "Landed:    into main (squash)")
    end, "the Landed line")
    assert.truthy(env.find_line(vbuf, "Based on:  main  (1 ahead, 1 behind)"))

    -- Landing again: nothing to land, said as an error.
    local msgs = env.capture_notify(function()
      require("lulu.land").send_land(repo, row, { strategy = "squash" })
    end, function(m)
      return #m > 0
    end)
    assert.truthy(msgs[1].msg:find("nothing to land", 1, true), vim.inspect(msgs))

    -- What the clean-up offer does: the worktree and the branch go in one step, without force.
    assert.are_not.equal("", git(repo_dir, { "branch", "--list", "lulu/land-me-*" }))
    actions.remove(repo, repo.sessions[row.id], { delete_branch = true })
    env.wait(function()
      return repo.sessions[row.id] == nil
    end, "the session to go")
    assert.are.equal("", git(repo_dir, { "branch", "--list", "lulu/land-me-*" }))
  end)

  it("refuses a landing over a dirty file with the file in the quickfix list", function()
    local row = completed(repo, "rewrite [write src/lib.txt]", "dirty-target")
    vim.fn.writefile({ "mine" }, repo_dir .. "/src/lib.txt")
    local msgs = env.capture_notify(function()
      require("lulu.land").send_land(repo, row, { strategy = "squash" })
    end, function(m)
      return #m > 0
    end)
    assert.truthy(msgs[1].msg:find("uncommitted changes to src/lib.txt", 1, true), vim.inspect(msgs))
    local qf = vim.fn.getqflist()
    assert.are.equal(1, #qf)
    assert.are.equal(repo_dir .. "/src/lib.txt", vim.api.nvim_buf_get_name(qf[1].bufnr))
    assert.are.same({ "mine" }, vim.fn.readfile(repo_dir .. "/src/lib.txt"))
  end)

  it("syncs from the session view: conflicts go to the agent, which resolves them into a merge commit", function()
    local row = completed(repo, "rewrite [write src/lib.txt]", "sync-me")
    vim.fn.writefile({ "main's version" }, repo_dir .. "/src/lib.txt")
    git(repo_dir, { "commit", "-qam", "main: rewrite" })
    local vbuf = view.open(repo, row.id)
    env.wait(function()
      return env.find_line(vbuf, "Based on:  main  (1 ahead, 1 behind)")
    end, "ahead/behind in the view")
    vim.api.nvim_feedkeys("S", "x", false)
    env.wait(function()
      return vim.fn.getqflist({ title = 1 }).title == "Lulu: merge conflict"
    end, "the conflicted file in the quickfix list")
    assert.are.equal(1, #vim.fn.getqflist())
    local detail = env.request(repo, "lulu/session", { id = row.id })
    assert.are.equal(detail.worktreePath .. "/src/lib.txt", vim.api.nvim_buf_get_name(vim.fn.getqflist()[1].bufnr))
    env.wait(function()
      local r = repo.sessions[row.id]
      return r and r.status == "completed" and env.find_line(vbuf, "resolved: src/lib.txt")
    end, "the agent to resolve the conflict")
    local parents = vim.split(vim.trim(git(detail.worktreePath, { "rev-list", "--parents", "-n1", "HEAD" })), " ")
    assert.are.equal(3, #parents)
    assert.are.equal("", git(detail.worktreePath, { "status", "--porcelain" }))
    local ok = pcall(env.wait, function()
      return env.find_line(vbuf, "Based on:  main  (2 ahead, 0 behind)")
    end, "the view to show the session caught up")
    assert(ok, "the view shows: " .. table.concat(env.lines(vbuf), "\n"))
  end)
end)
