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
      "require('lulu').setup({ server = " .. vim.inspect(env.lulu_bin) .. ", state_dir = " .. vim.inspect(state) .. " })",
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
