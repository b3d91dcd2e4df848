local config = require("lulu.config")

describe("config", function()
  after_each(function()
    config.set(nil)
  end)

  local function check(opts, problems)
    assert.are.same(problems, config.check(opts))
  end

  it("accepts nothing, and the documented options", function()
    check(nil, {})
    check({}, {})
    check({
      server = "/bin/lulu",
      agents = {
        t = { command = { "t", "{prompt}" }, format = "text" },
        c = { command = { "claude" }, format = "claude-stream-json", input = "stream-json", approvalTimeout = "none" },
      },
      default_agent = "t",
      max_running = 2,
      worktree_dir = "/tmp/{repo}",
      state_dir = "/tmp/s",
      list = { height = 5 },
      keymaps = { cancel = "X", diff = false, send = "M", approve = false },
      notify_on_end = "failed",
    }, {})
  end)

  it("reports unknown options and wrong types by name", function()
    check({ sever = "lulu", keymaps = { cancle = "c", open = 1 }, max_running = "2" }, {
      'option "keymaps.open" should be string or boolean, got number',
      'option "max_running" should be number, got string',
      'unknown option "keymaps.cancle"',
      'unknown option "sever"',
    })
    check({ agents = { bad = { command = {}, format = "yaml", input = "stdin" } } }, {
      'agents["bad"].command should be a non-empty list of strings',
      'agents["bad"].format "yaml" is not one of claude-stream-json, codex-json, text',
      'agents["bad"].input "stdin" is not one of "stream-json" (lulu hosts the agent), "closed"',
    })
    check("nope", { "setup() takes a table of options, got string" })
    check({ notify_on_end = "errors" }, {
      'option "notify_on_end" should be one of "all", "failed", "none", got "errors"',
    })
    check({ notify_on_end = false }, { 'option "notify_on_end" should be string, got boolean' })
  end)

  it("merges deeply over the defaults and keeps unknown keys out", function()
    config.set({ keymaps = { cancel = "X" }, list = { height = 3 }, bogus = true })
    assert.are.equal("X", config.options.keymaps.cancel)
    assert.are.equal("<CR>", config.options.keymaps.open)
    assert.are.equal(3, config.options.list.height)
    assert.are.equal("botright", config.options.list.position)
    assert.are.equal("all", config.options.notify_on_end)
    assert.is_nil(config.options.bogus)
    assert.are.same({ 'unknown option "bogus"' }, config.problems)
  end)

  it("turns options into initializationOptions with the protocol's names", function()
    local agents = { t = { command = { "t" }, format = "text" } }
    local init = config.init_options(config.merge({
      state_dir = "/tmp/st/",
      worktree_dir = "{repo}/../wt",
      max_running = 2,
      default_agent = "t",
      agents = agents,
    }))
    assert.are.same({
      stateDir = "/tmp/st",
      worktreeDir = "{repo}/../wt",
      maxRunning = 2,
      defaultAgent = "t",
      agents = agents,
    }, init)
    assert.are.equal("{}", vim.json.encode(config.init_options(config.merge({}))))
  end)
end)

describe(":Lulu command", function()
  local lulu = require("lulu")
  it("completes subcommands", function()
    assert.are.same({ "cancel", "comment", "comments", "continue" }, lulu.complete("c", "Lulu c"))
    assert.are.same(17, #lulu.complete("", "Lulu "))
    assert.are.same({ "approvals" }, lulu.complete("ap", "Lulu ap"))
    assert.are.same({ "--agent=", "--name=" }, lulu.complete("--", "Lulu spawn --"))
    assert.are.same({ "rebase" }, lulu.complete("r", "Lulu land r"))
    assert.are.same({ "--no-agent" }, lulu.complete("", "Lulu sync "))
    assert.are.same({ "--pr" }, lulu.complete("--p", "Lulu push --p"))
  end)
  it("parses spawn flags before the prompt, with quotes, and keeps the prompt as typed", function()
    local function check(text, expected)
      local flags, prompt, err = lulu.parse_spawn_args(text)
      assert.are.same(expected, { flags = flags, prompt = prompt, err = err }, text)
    end
    check("--agent=text --name=x fix the bug", { flags = { agent = "text", name = "x" }, prompt = "fix the bug" })
    check([[--name="fix ci" keep   these  spaces]], { flags = { name = "fix ci" }, prompt = "keep   these  spaces" })
    check([[--name='fix ci' --agent=text go]], { flags = { name = "fix ci", agent = "text" }, prompt = "go" })
    check([[--name="say \"hi\"" x]], { flags = { name = 'say "hi"' }, prompt = "x" })
    check([[--name='it\'s' x]], { flags = { name = "it's" }, prompt = "x" })
    check([[--name=fix\ ci x]], { flags = { name = "fix ci" }, prompt = "x" })
    check([[--name "fix ci" x]], { flags = { name = "fix ci" }, prompt = "x" })
    check([[--name=a"b c"d x]], { flags = { name = "ab cd" }, prompt = "x" })
    check([[--name=x   "quoted"  prompt's rest ]], { flags = { name = "x" }, prompt = [["quoted"  prompt's rest ]] })
    check("-- --not-a-flag here", { flags = {}, prompt = "--not-a-flag here" })
    check("", { flags = {}, prompt = "" })
    check("just a prompt", { flags = {}, prompt = "just a prompt" })
    check([[--name="fix ci x]], { err = [[the quote " opened in --name="fix ci x is never closed]] })
    check("--agnet=codex hi", {
      err = 'unknown flag "--agnet": :Lulu spawn takes --agent=NAME and --name=NAME before the prompt (-- ends them)',
    })
    check("--name= hi", { err = "--name needs a value: --name=VALUE" })
    check("--agent", { err = "--agent needs a value: --agent=VALUE" })
  end)
  it("names an unknown subcommand without a Lua error", function()
    local msgs = {}
    local orig = vim.notify
    vim.notify = function(m, level)
      msgs[#msgs + 1] = { m, level }
    end
    local ok = pcall(vim.cmd, "Lulu frobnicate")
    vim.notify = orig
    assert.is_true(ok)
    assert.are.equal(1, #msgs)
    assert.matches('unknown subcommand "frobnicate"', msgs[1][1])
    assert.are.equal(vim.log.levels.ERROR, msgs[1][2])
  end)
end)

describe("the server command", function()

  it("is the one set, else the binary built in the plugin's checkout, else lulu on PATH", function()
    local checkout = config.checkout
    local dir = vim.fn.tempname()
    config.checkout = dir
    local function check(server, expected)
      assert.are.equal(expected, config.server_command({ server = server }))
    end
    check("/opt/lulu/bin/lulu", "/opt/lulu/bin/lulu")
    check({ path = "/opt/lulu/bin/lulu" }, "/opt/lulu/bin/lulu")
    check("lulu", "lulu")
    vim.fn.mkdir(dir .. "/target/release", "p")
    vim.fn.writefile({ "#!/bin/sh" }, dir .. "/target/release/lulu")
    vim.fn.setfperm(dir .. "/target/release/lulu", "rwxr-xr-x")
    check("lulu", dir .. "/target/release/lulu")
    check(nil, dir .. "/target/release/lulu")
    check("/opt/lulu/bin/lulu", "/opt/lulu/bin/lulu")
    config.checkout = checkout
    assert.are.same({}, config.check({ server = { path = "/x" } }))
    assert.are.same({ 'option "server.path" should be string, got number' }, config.check({ server = { path = 1 } }))
  end)
end)

describe("doc/lulu.txt", function()
  it("builds help tags without duplicates", function()
    -- The plugin's own doc on 'runtimepath' (this file's path is relative to a directory the
    -- specs before it may have left).
    local doc = assert(vim.api.nvim_get_runtime_file("doc/lulu.txt", false)[1], "doc/lulu.txt on 'runtimepath'")
    local dir = vim.fn.tempname()
    vim.fn.mkdir(dir, "p")
    vim.fn.writefile(vim.fn.readfile(doc), dir .. "/lulu.txt")
    vim.cmd.helptags(vim.fn.fnameescape(dir))
    local tags = table.concat(vim.fn.readfile(dir .. "/tags"), "\n")
    local want = {
      "lulu-setup", ":Lulu", "lulu-list", "lulu-view", "lulu-notify", "lulu-health", "lulu.txt", "lulu-review",
      "lulu-approvals",
    }
    for _, tag in ipairs(want) do
      assert.truthy(tags:find(tag .. "\t", 1, true), tag)
    end
  end)
end)
