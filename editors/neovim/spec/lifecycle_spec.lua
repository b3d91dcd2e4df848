-- The client's lifecycle with the real server: started on demand, one per repository, stopped
-- cleanly by the plugin and when Neovim exits.
local env = require("spec.helpers.env")
local client = require("lulu.client")

describe("the server's lifecycle", function()
  after_each(function()
    client.stop()
  end)

  it("starts on the first command, once per repository, and stops cleanly", function()
    local repo_a = env.fresh()
    assert.are.same({}, env.server_children(vim.fn.getpid()))
    local repo_b = env.make_repo()
    vim.cmd("Lulu list")
    local a = client.repos[repo_a]
    assert.truthy(a, "a client for the repository of the working directory")
    env.wait(function() return a.ready end, "the server to initialize")
    -- A file of another repository gets its own client; the same repository reuses it.
    vim.cmd("wincmd p")
    vim.cmd.edit(vim.fn.fnameescape(repo_b .. "/README.md"))
    local b = assert(client.get())
    assert.are.equal(repo_b, b.root)
    assert.are_not.equal(a.client_id, b.client_id)
    vim.cmd.edit(vim.fn.fnameescape(repo_b .. "/src/lib.txt"))
    assert.are.equal(b, client.get())
    env.wait(function() return b.ready end, "the second server to initialize")
    local pids = env.server_children(vim.fn.getpid())
    assert.are.equal(2, #pids)
    local msgs = env.capture_notify(function()
      client.stop()
    end)
    assert.are.same({}, msgs)
    assert.is_true(a.closed and b.closed)
    assert.are.equal(0, a.exit_code)
    assert.are.equal(0, b.exit_code)
    env.wait(function()
      return env.gone(pids[1]) and env.gone(pids[2])
    end, "the servers to exit")
  end)

  it("stops the server when Neovim exits", function()
    local repo, state = env.fresh()
    local dir = env.tmpdir("exit")
    local pidfile = dir .. "/server.pid"
    local init = dir .. "/init.lua"
    local lines = {
      "vim.opt.runtimepath:prepend(" .. vim.inspect(env.plugin_root) .. ")",
      "package.path = " .. vim.inspect(env.plugin_root .. "/?.lua;") .. " .. package.path",
      "require('lulu').setup({ server = " .. vim.inspect(env.lulu_bin) .. ", state_dir = " .. vim.inspect(state)
        .. " })",
      "local env = require('spec.helpers.env')",
      "local repo = assert(require('lulu.client').get())",
      "vim.wait(60000, function() return repo.ready end, 20)",
      "vim.fn.writefile({ tostring(env.server_children(vim.fn.getpid())[1]) }, " .. vim.inspect(pidfile) .. ")",
      "vim.cmd('qall!')",
    }
    vim.fn.writefile(lines, init)
    local res = vim.system({ vim.env.LULU_NVIM or vim.v.progpath, "--headless", "-u", init, "-i", "NONE", "-n" }, {
      cwd = repo,
      text = true,
    }):wait(env.deadline_ms)
    assert.are.equal(0, res.code, res.stderr)
    local pid = tonumber((vim.fn.readfile(pidfile)[1]))
    assert.truthy(pid, "the child wrote its server's pid")
    env.wait(function()
      return env.gone(pid)
    end, "the server of the exited Neovim to exit")
  end)
end)

--- Whether Neovim has forgotten the LSP client of a repository (its exit handled).
local function client_gone(repo)
  return vim.lsp.get_client_by_id(repo.client_id) == nil
end

describe("a server that dies", function()
  local actions = require("lulu.actions")
  local list = require("lulu.list")
  local view = require("lulu.view")

  after_each(function()
    client.stop()
  end)

  it("is reported, and the list and the session view reconnect to a new one", function()
    env.fresh()
    local repo = assert(client.get())
    local bufnr = list.open(repo)
    env.wait(function() return repo.loaded end, "the first list")
    local row
    actions.spawn(repo, { prompt = "mu-before", name = "mu-before", on_spawned = function(r) row = r end })
    env.wait(function()
      return row and repo.sessions[row.id] and repo.sessions[row.id].status == "completed"
    end, "mu-before to complete")
    vim.cmd("wincmd p")
    local vbuf = view.open(repo, row.id)
    env.wait(function() return env.find_line(vbuf, "done") end, "the transcript")
    local events_before = #vim.tbl_filter(function(l) return l == "done" end, env.lines(vbuf))
    local pid = env.server_children(vim.fn.getpid())[1]
    local msgs = env.capture_notify(function()
      vim.uv.kill(pid, "sigkill")
    end, function()
      -- Neovim forgets the client in the same step as it would give its own message.
      return repo.closed and client_gone(repo)
    end)
    -- One message, naming the signal (not "exit code 0 (signal 9)", and not a second one from
    -- Neovim's LSP client).
    assert.are.same({
      {
        msg = "lulu: the server for " .. repo.root .. " was killed by SIGKILL (signal 9); the sessions go on; "
          .. ":Lulu reconnects",
        level = vim.log.levels.ERROR,
      },
    }, msgs)
    env.wait(function()
      return env.lines(bufnr)[1]:find("server stopped; R reconnects", 1, true)
    end, "the list to say the server stopped")
    assert.truthy(env.find_line(vbuf, "── the lulu server stopped; :Lulu open reconnects"))
    -- R in the list starts a new server and reloads the rows.
    vim.api.nvim_set_current_win(vim.fn.win_findbuf(bufnr)[1])
    vim.api.nvim_feedkeys("R", "x", false)
    local fresh = client.repos[repo.root]
    assert.truthy(fresh and fresh ~= repo)
    env.wait(function() return fresh.loaded end, "the rows from the new server")
    env.wait(function()
      return env.find_line(bufnr, "mu-before") and not env.lines(bufnr)[1]:find("stopped", 1, true)
    end, "the list to show the row again")
    -- :Lulu open in the view rebinds it; the transcript is not shown twice.
    vim.api.nvim_set_current_win(vim.fn.win_findbuf(vbuf)[1])
    vim.cmd("Lulu open")
    local again
    actions.continue(fresh, fresh.sessions[row.id], "mu-after")
    env.wait(function()
      again = env.find_line(vbuf, "starting: mu-after")
      return again and fresh.sessions[row.id].status == "completed"
    end, "the second run's output in the rebound view")
    env.wait(function()
      return #vim.tbl_filter(function(l) return l == "done" end, env.lines(vbuf)) == events_before + 1
    end, "the second run's last line")
  end)
end)
