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
      agents = { t = { command = { "t", "{prompt}" }, format = "text" } },
      default_agent = "t",
      max_running = 2,
      worktree_dir = "/tmp/{repo}",
      state_dir = "/tmp/s",
      list = { height = 5 },
      keymaps = { cancel = "X", diff = false },
    }, {})
  end)

  it("reports unknown options and wrong types by name", function()
    check({ sever = "lulu", keymaps = { cancle = "c", open = 1 }, max_running = "2" }, {
      'option "keymaps.open" should be string or boolean, got number',
      'option "max_running" should be number, got string',
      'unknown option "keymaps.cancle"',
      'unknown option "sever"',
    })
    check({ agents = { bad = { command = {}, format = "yaml" } } }, {
      'agents["bad"].command should be a non-empty list of strings',
      'agents["bad"].format "yaml" is not one of claude-stream-json, codex-json, text',
    })
    check("nope", { "setup() takes a table of options, got string" })
  end)

  it("merges deeply over the defaults and keeps unknown keys out", function()
    config.set({ keymaps = { cancel = "X" }, list = { height = 3 }, bogus = true })
    assert.are.equal("X", config.options.keymaps.cancel)
    assert.are.equal("<CR>", config.options.keymaps.open)
    assert.are.equal(3, config.options.list.height)
    assert.are.equal("botright", config.options.list.position)
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
    assert.are.same({ "cancel", "continue" }, lulu.complete("c", "Lulu c"))
    assert.are.same(8, #lulu.complete("", "Lulu "))
    assert.are.same({ "--agent=", "--name=" }, lulu.complete("--", "Lulu spawn --"))
  end)
  it("parses spawn flags before the prompt", function()
    local flags, prompt = lulu.parse_spawn_args({ "--agent=text", "--name=x", "fix", "the", "bug" })
    assert.are.same({ agent = "text", name = "x" }, flags)
    assert.are.equal("fix the bug", prompt)
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

describe("doc/lulu.txt", function()
  it("builds help tags without duplicates", function()
    local root = vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p:h:h")
    local dir = vim.fn.tempname()
    vim.fn.mkdir(dir, "p")
    vim.fn.writefile(vim.fn.readfile(root .. "/doc/lulu.txt"), dir .. "/lulu.txt")
    vim.cmd.helptags(vim.fn.fnameescape(dir))
    local tags = table.concat(vim.fn.readfile(dir .. "/tags"), "\n")
    for _, tag in ipairs({ "lulu-setup", ":Lulu", "lulu-list", "lulu-view", "lulu-health", "lulu.txt" }) do
      assert.truthy(tags:find(tag .. "\t", 1, true), tag)
    end
  end)
end)
