-- A screen test: a real terminal Neovim in tmux (send-keys to type, capture-pane to read the
-- screen) with the plugin and the real `lulu serve`, showing the live list and the picker, review
-- marks, and a permission request (its notification and the session view). The screens of the
-- request are saved as text in $LULU_E2E_ARTIFACTS (else .test-artifacts/neovim at the
-- repository root), in a folder per Neovim version; the run prints where.
local env = require("spec.helpers.env")

local spinner = require("lulu.format").spinner
local socket = "lulu-screen-" .. vim.fn.getpid()
local target = "lulu"

---@param args string[]
---@return vim.SystemCompleted
local function tmux(args)
  local cmd = { "tmux", "-u", "-L", socket, "-f", "/dev/null" }
  vim.list_extend(cmd, args)
  return vim.system(cmd, { text = true }):wait()
end

---@return string
local function screen()
  return tmux({ "capture-pane", "-p", "-t", target }).stdout or ""
end

---@param text string typed literally, then Enter
local function type_line(text)
  tmux({ "send-keys", "-t", target, "-l", text })
  tmux({ "send-keys", "-t", target, "Enter" })
end

---@param key string a tmux key name
local function press(key)
  tmux({ "send-keys", "-t", target, key })
end

--- Waits until the screen satisfies `pred(screen)`; returns that screen.
local function wait_screen(pred, what)
  local last = ""
  local ok = vim.wait(env.deadline_ms, function()
    last = screen()
    return pred(last) and true or false
  end, 50)
  assert(ok, "gave up waiting for the screen to show " .. what .. "; it shows:\n" .. last)
  return last
end

--- The screen line containing `needle` (plain), or nil.
local function line_with(s, needle)
  for _, l in ipairs(vim.split(s, "\n")) do
    if l:find(needle, 1, true) then
      return l
    end
  end
  return nil
end

--- Where the captured screens go: a folder per Neovim version.
---@return string
local function artifacts_dir()
  local v = vim.version()
  local base = vim.env.LULU_E2E_ARTIFACTS or (env.workspace .. "/.test-artifacts/neovim")
  local dir = string.format("%s/nvim-%d.%d", base, v.major, v.minor)
  vim.fn.mkdir(dir, "p")
  return dir
end

--- Saves a captured screen as `NAME.txt` in the artifacts folder.
---@param name string
---@param s string
local function save_screen(name, s)
  local path = artifacts_dir() .. "/" .. name .. ".txt"
  vim.fn.writefile(vim.split(s, "\n"), path)
  return path
end

--- The screen line starting with `prefix` (plain), or nil.
local function line_starting(s, prefix)
  for _, l in ipairs(vim.split(s, "\n")) do
    if vim.startswith(l, prefix) then
      return l
    end
  end
  return nil
end

describe("the screen of a terminal Neovim", function()
  local repo_dir, state_dir

  setup(function()
    repo_dir, state_dir = env.fresh()
    local dir = env.tmpdir("screen")
    local init = dir .. "/init.lua"
    local function write(lines, path)
      -- writefile() turns a newline inside an item into NUL: split them first.
      vim.fn.writefile(vim.split(table.concat(lines, "\n"), "\n"), path)
    end
    write({
      "vim.opt.runtimepath:prepend(" .. vim.inspect(env.plugin_root) .. ")",
      "vim.o.swapfile = false",
      "vim.o.shortmess = vim.o.shortmess .. 'F'",
      "require('lulu').setup(" .. vim.inspect({
        server = env.lulu_bin,
        state_dir = state_dir,
        agents = vim.tbl_extend("force", env.agents(), { host = env.host_agent() }),
        default_agent = "text",
        notify_on_end = "none",
        list = { height = 10 },
      }) .. ")",
    }, init)
    local launcher = dir .. "/launch.sh"
    write({
      "#!/bin/sh",
      "cd " .. vim.fn.shellescape(repo_dir) .. " || exit 1",
      "exec " .. vim.fn.shellescape(vim.env.LULU_NVIM or vim.v.progpath)
        .. " -u " .. vim.fn.shellescape(init) .. " -i NONE -n",
    }, launcher)
    vim.fn.setfperm(launcher, "rwxr-xr-x")
    local res = tmux({ "new-session", "-d", "-s", target, "-x", "150", "-y", "40", launcher })
    assert(res.code == 0, "tmux new-session failed: " .. (res.stderr or ""))
    wait_screen(function(s)
      return s:find("[No Name]", 1, true)
    end, "Neovim started")
  end)

  teardown(function()
    -- End the long session through a second client sharing the state dir, then stop tmux.
    local client = require("lulu.client")
    local repo = client.get(repo_dir)
    if repo then
      local rows = env.request(repo, "lulu/list", vim.empty_dict())
      for _, row in ipairs(rows and rows.sessions or {}) do
        if row.status == "running" or row.status == "starting" then
          env.request(repo, "lulu/cancel", { id = row.id })
        end
      end
    end
    client.stop()
    tmux({ "kill-server" })
  end)

  it("shows the live list with status markers and ages, and the picker", function()
    type_line(":Lulu list")
    wait_screen(function(s2)
      return s2:find("No sessions yet", 1, true)
    end, "the empty list")
    -- One at a time, each shown in the list past Starting, so their creation order is the typing
    -- order.
    local spawns = { "--name=ok-one hello", "--name=bad-two oops [fail]", "--name=slow-three wait [sleep 120]" }
    for _, args in ipairs(spawns) do
      local name = args:match("^%-%-name=(%S+)")
      type_line(":Lulu spawn " .. args)
      wait_screen(function(s2)
        local l = line_with(s2, " " .. name .. " ")
        return l and not l:find("Starting", 1, true)
      end, name .. " past Starting in the list")
    end
    local s = wait_screen(function(s)
      local ok = line_with(s, "ok-one")
      local bad = line_with(s, "bad-two")
      local slow = line_with(s, "slow-three")
      return ok and ok:find("✓ Completed", 1, true)
        and bad and bad:find("✗ Failed", 1, true)
        and slow and slow:find("Running", 1, true)
    end, "the three sessions with their final statuses")
    -- Rows: marker, status, name, right-aligned compact age; the reason after a failed row's age.
    assert.matches("^ ✓ Completed  ok%-one +%d+[smhd]%s*$", line_with(s, "ok-one"))
    assert.matches("^ ✗ Failed     bad%-two +%d+[smhd]  %S.*$", line_with(s, "bad-two"))
    assert.matches("^ %S+ Running    slow%-three +%d+[smhd]%s*$", line_with(s, "slow-three"))
    assert.truthy(vim.tbl_contains(spinner, line_with(s, "slow-three"):match("^ (%S+)")))
    -- Newest first.
    local pos = function(n) return s:find(n, 1, true) end
    assert.is_true(pos("slow-three") < pos("bad-two") and pos("bad-two") < pos("ok-one"))
    -- The Running indicator moves on its own.
    local first = line_with(s, "slow-three"):match("^ (%S+)")
    wait_screen(function(s2)
      local l = line_with(s2, "slow-three")
      return l and l:match("^ (%S+)") ~= first
    end, "the running indicator to move")

    -- Ages are kept current with no event from the server: the ended row's age moves on.
    local age = line_with(s, "ok-one"):match("(%d+[smhd])%s*$")
    wait_screen(function(s2)
      local l = line_with(s2, "ok-one")
      return l and l:match("(%d+[smhd])%s*$") ~= age
    end, "the age of ok-one to move on from " .. age)

    -- g? lists the keymaps.
    press("g?")
    s = wait_screen(function(s2)
      return s2:find("Lulu list keys", 1, true)
    end, "the keymap help")
    assert.truthy(line_with(s, "cancel the session"))
    assert.truthy(line_with(s, "open the session view"))
    press("q")
    wait_screen(function(s2)
      return not s2:find("Lulu list keys", 1, true)
    end, "the help to close")

    -- The picker (vim.ui.select without any picker plugin): newest first, status, name, age.
    type_line(":Lulu pick")
    s = wait_screen(function(s2)
      return s2:find("Lulu session", 1, true) and line_starting(s2, "3: ")
    end, "the picker")
    assert.matches("^1: %S+ Running   slow%-three  %d+[smhd]%s*$", line_starting(s, "1: "))
    assert.truthy(vim.tbl_contains(spinner, line_starting(s, "1: "):match("^1: (%S+)")))
    assert.matches("^2: ✗ Failed    bad%-two  %d+[smhd]  %(.+%)%s*$", line_starting(s, "2: "))
    assert.matches("^3: ✓ Completed ok%-one  %d+[smhd]%s*$", line_starting(s, "3: "))
    type_line("2")
    -- Choosing opens the session view with its details and transcript.
    s = wait_screen(function(s2)
      return s2:find("Session:   bad-two", 1, true) and s2:find("Status:    Failed", 1, true)
    end, "the session view of bad-two")
    assert.truthy(line_with(s, "Reason:"))
    -- It took the ordinary window above the list, not a new split.
    assert.is_nil(s:find("[No Name]", 1, true))
    -- Its transcript: the agent's stdout, and its stderr marked with "!".
    press("G")
    s = wait_screen(function(s2)
      return s2:find("! error: the task could not be done", 1, true)
    end, "the transcript of bad-two")
    assert.truthy(line_starting(s, "starting: oops"))
  end)

  it("marks a draft comment, then the same comment sent, in a file of a session's worktree", function()
    local repo = assert(require("lulu.client").get(repo_dir))
    local rows = env.request(repo, "lulu/list", vim.empty_dict()).sessions
    local done = vim.tbl_filter(function(r) return r.name == "ok-one" end, rows)[1]
    local worktree = env.request(repo, "lulu/session", { id = done.id }).worktreePath
    press("Escape")
    type_line(":tabnew " .. worktree .. "/src/lib.txt")
    wait_screen(function(s2)
      return s2:find("line four", 1, true)
    end, "the worktree's src/lib.txt")
    type_line(":2")
    type_line(":Lulu comment two is a number")
    local s = wait_screen(function(s2)
      return line_with(s2, "draft: two is a number")
    end, "the draft mark")
    assert.matches("^✎ line two%s+draft: two is a number%s*$", line_with(s, "draft: two is a number"))
    type_line(":Lulu review")
    s = wait_screen(function(s2)
      return line_with(s2, "sent: two is a number")
    end, "the sent mark")
    assert.matches("^✓ line two%s+sent: two is a number%s*$", line_with(s, "sent: two is a number"))
  end)

  it("notifies a permission request, shows it whole in the session view, and answers it there", function()
    press("Escape")
    type_line(":tabnew")
    type_line(":Lulu spawn --agent=host --name=ask-screen make a file [ask]")
    local s = wait_screen(function(s2)
      return s2:find("Claude wants to run: touch approved.txt (session ask-screen)", 1, true)
    end, "the notification of the request")
    save_screen("approval-1-notification", s)
    assert.truthy(line_with(s, "lulu: Claude wants to run: touch approved.txt (session ask-screen) — :Lulu approvals"))
    if s:find("Press ENTER", 1, true) then
      press("Enter")
    end

    -- The session view (from the picker: the newest session is the first item).
    type_line(":Lulu open")
    wait_screen(function(s2)
      return s2:find("Open session", 1, true) and line_starting(s2, "1: ")
    end, "the picker")
    type_line("1")
    s = wait_screen(function(s2)
      return s2:find("Session:   ask-screen", 1, true) and s2:find("command: touch approved.txt", 1, true)
    end, "the session view with the request")
    save_screen("approval-2-session-view", s)
    assert.matches("^Status:    Running  %(%d+[smhd] ago%)%s*$", line_starting(s, "Status:"))
    assert.matches(
      "^Waiting:   Claude wants to run: touch approved%.txt  %(asked %d+[smhd] ago; a answers%)%s*$",
      line_starting(s, "Waiting:")
    )
    assert.matches("^             description: Create approved%.txt%s*$", line_with(s, "description:"))
    assert.matches("^Keys:      q close  m message  a answer  c cancel  gd diff%s*$", line_starting(s, "Keys:"))

    -- Its key asks Allow / Deny / Deny with message.
    press("a")
    s = wait_screen(function(s2)
      return line_starting(s2, "3: Deny with message")
    end, "the choice of an answer")
    save_screen("approval-3-answer", s)
    assert.truthy(line_with(s, "ask-screen: Claude wants to run: touch approved.txt"))
    assert.truthy(line_starting(s, "1: Allow"))
    type_line("1")
    s = wait_screen(function(s2)
      return s2:find("Status:    Completed", 1, true) and not s2:find("Waiting:", 1, true)
    end, "the session to complete with nothing waiting")
    local path = save_screen("approval-4-answered", s)
    io.stdout:write("\nscreens of the permission request saved in " .. vim.fs.dirname(path) .. "\n")
  end)
end)
