local format = require("lulu.format")

-- One check helper per area: input, expected.
local function check_age(seconds, expected)
  assert.are.equal(expected, format.age(seconds), "age(" .. seconds .. ")")
end

describe("format.age", function()
  it("is compact: seconds, minutes, hours, days, floored", function()
    local cases = {
      { 0, "0s" }, { 5, "5s" }, { 59.9, "59s" }, { 60, "1m" }, { 125, "2m" }, { 3599, "59m" },
      { 3600, "1h" }, { 7199, "1h" }, { 86399, "23h" }, { 86400, "1d" }, { 3 * 86400 + 5, "3d" },
      { -4, "0s" },
    }
    for _, c in ipairs(cases) do
      check_age(c[1], c[2])
    end
  end)
end)

describe("format.parse_time", function()
  local function check(s, expected)
    assert.are.equal(expected, format.parse_time(s), s)
  end
  it("reads RFC 3339 in UTC, with fractions and offsets", function()
    check("1970-01-01T00:00:00Z", 0)
    check("2026-11-25T12:40:52Z", 1795610452)
    check("2026-11-25T12:40:52.5Z", 1795610452.5)
    check("2026-11-25T13:40:52+01:00", 1795610452)
    check("2026-11-25T11:40:52-01:00", 1795610452)
    check("2000-02-29T00:00:00Z", 951782400)
    check("not a time", nil)
    check(nil, nil)
  end)
end)

local function row(id, status, created, last, extra)
  local r = {
    id = id, name = "session " .. id, repo = "/r", status = status,
    createdAt = created, lastActivityAt = last or created,
  }
  for k, v in pairs(extra or {}) do
    r[k] = v
  end
  return r
end

describe("format.newer_first", function()
  it("orders by createdAt descending then id descending, whatever the fraction digits", function()
    local rows = {
      row("01a", "running", "2026-11-25T12:00:00Z"),
      row("01c", "failed", "2026-11-25T12:00:00.5Z"),
      row("01b", "completed", "2026-11-25T12:00:00Z"),
      row("01d", "starting", "2026-11-25T11:59:59.999Z"),
    }
    table.sort(rows, format.newer_first)
    assert.are.same({ "01c", "01b", "01a", "01d" }, vim.tbl_map(function(r) return r.id end, rows))
  end)
end)

describe("format.list_lines", function()
  local now = format.parse_time("2026-11-25T12:10:00Z")
  it("shows marker, status, name, right-aligned age, and the reason of failed rows", function()
    local lines = format.list_lines({
      row("3", "running", "2026-11-25T12:09:00Z", "2026-11-25T12:09:55Z"),
      row("2", "completed", "2026-11-25T12:00:00Z", "2026-11-25T12:08:00Z"),
      row("1", "failed", "2026-11-25T10:00:00Z", "2026-11-25T11:00:00Z", { failureReason = "exited with code 3" }),
      row("0", "starting", "2026-11-22T10:00:00Z", "2026-11-22T10:00:00Z"),
    }, now, 0)
    local texts = vim.tbl_map(function(l) return l.text end, lines)
    assert.are.same({
      " ⠋ Running    session 3    5s",
      " ✓ Completed  session 2    2m",
      " ✗ Failed     session 1    1h  exited with code 3",
      " · Starting   session 0    3d",
    }, texts)
    -- Highlights: the status badge, the age, the reason.
    assert.are.equal("LuluRunning", lines[1].hl[1].group)
    assert.are.equal("LuluCompleted", lines[2].hl[1].group)
    assert.are.equal("LuluFailed", lines[3].hl[1].group)
    assert.are.equal("Failed", texts[3]:sub(lines[3].hl[1].end_col - 5, lines[3].hl[1].end_col))
    assert.are.equal("exited with code 3", texts[3]:sub(lines[3].hl[3].col + 1, lines[3].hl[3].end_col))
    assert.are.equal("1h", texts[3]:sub(lines[3].hl[2].col + 1, lines[3].hl[2].end_col))
  end)
  it("moves the spinner only for running rows", function()
    local rows = { row("2", "running", "2026-11-25T12:00:00Z"), row("1", "completed", "2026-11-25T12:00:00Z") }
    local a, b = format.list_lines(rows, now, 0), format.list_lines(rows, now, 1)
    assert.are_not.equal(a[1].text, b[1].text)
    assert.are.equal(a[2].text, b[2].text)
  end)
  it("cuts long names and flattens newlines", function()
    local r = row("1", "completed", "2026-11-25T12:00:00Z")
    r.name = "a very long name\nthat goes on and on and on past the forty cells"
    local text = format.list_lines({ r }, now, 0)[1].text
    assert.are.equal(" ✓ Completed  a very long name that goes on and on an…   10m", text)
  end)
end)

describe("format.picker_item", function()
  local now = format.parse_time("2026-11-25T12:10:00Z")
  it("is status, name and age, with the reason of failed sessions", function()
    assert.are.equal(
      "⠋ Running   session 3  5s",
      format.picker_item(row("3", "running", "2026-11-25T12:09:00Z", "2026-11-25T12:09:55Z"), now)
    )
    assert.are.equal(
      "✗ Failed    session 1  1h  (agent not found)",
      format.picker_item(
        row("1", "failed", "2026-11-25T10:00:00Z", "2026-11-25T11:00:00Z", { failureReason = "agent not found" }),
        now
      )
    )
    -- The whole reason instead of one the server cut.
    local cut = row("2", "failed", "2026-11-25T10:00:00Z", "2026-11-25T11:00:00Z", { failureReason = "exit 3: a b…" })
    assert.are.equal("✗ Failed    session 2  1h  (exit 3: a b…)", format.picker_item(cut, now))
    assert.are.equal("✗ Failed    session 2  1h  (exit 3; a b c d)", format.picker_item(cut, now, "exit 3; a b c d"))
    assert.is_true(format.reason_cut("exit 3: a b…"))
    assert.is_false(format.reason_cut("exit 3"))
    assert.are.equal(
      "exit 3; last: a b c",
      format.full_reason({ failureReason = "exit 3…", failureDetail = "exit 3\nlast: a b c" })
    )
    assert.are.equal("exit 3", format.full_reason({ failureReason = "exit 3", failureDetail = vim.NIL }))
  end)
end)

describe("format.event_lines", function()
  local function check(ev, lines, hl)
    local got, got_hl = format.event_lines(ev)
    assert.are.same(lines, got)
    assert.are.equal(hl, got_hl)
  end
  it("renders each kind readably", function()
    check({ seq = 1, stream = "stdout", kind = "assistant", text = "Hello\nthere\n" }, { "Hello", "there" }, nil)
    check({ seq = 2, stream = "stdout", kind = "tool_use", text = "→ Bash: ls" }, { "→ Bash: ls" }, "LuluToolUse")
    check(
      { seq = 3, stream = "stdout", kind = "tool_result", text = "← a\nb" },
      { "  ← a", "  b" },
      "LuluToolResult"
    )
    check({ seq = 4, stream = "stderr", kind = "raw", text = "oops" }, { "! oops" }, "LuluStderr")
    check({ seq = 5, stream = "lulu", kind = "status", text = "running" }, { "── running" }, "LuluMeta")
    check({ seq = 6, stream = "stdout", kind = "result", text = "done" }, { "■ done" }, "LuluResult")
    check({ seq = 7, stream = "stdout", kind = "text", text = "" }, { "" }, nil)
  end)
end)

describe("format.run_lines", function()
  it("lists a continued session's runs, and nothing for one run or none", function()
    local now = format.parse_time("2026-11-25T12:10:00Z")
    local first = {
      run = 1, prompt = "fix it\nplease", queuedAt = "2026-11-25T12:00:00Z", status = "failed",
      startedAt = "2026-11-25T12:00:01Z", endedAt = "2026-11-25T12:08:00Z", outcome = "cancelled",
      failureReason = "cancelled by the user", costUsd = 0.25, inputTokens = vim.NIL, outputTokens = vim.NIL,
    }
    local second = {
      run = 2, prompt = "go on", queuedAt = "2026-11-25T12:09:00Z", status = "running",
      startedAt = "2026-11-25T12:09:01Z", endedAt = vim.NIL, outcome = vim.NIL, failureReason = vim.NIL,
      costUsd = vim.NIL, inputTokens = vim.NIL, outputTokens = vim.NIL,
    }
    assert.are.same({}, format.run_lines(nil, now))
    assert.are.same({}, format.run_lines({ first }, now))
    assert.are.same({
      "Runs:      1. failed (cancelled), ended 2m ago, $0.2500: fix it",
      "           2. running, asked 1m ago: go on",
    }, format.run_lines({ first, second }, now))
  end)
end)

describe("format.detail_lines", function()
  it("shows the details and ends with the transcript rule", function()
    local now = format.parse_time("2026-11-25T12:10:00Z")
    local lines = format.detail_lines({
      id = "x1", name = "fix", repo = "/r", status = "failed", createdAt = "2026-11-25T12:00:00Z",
      lastActivityAt = "2026-11-25T12:09:00Z", failureReason = "exited with code 1",
      prompt = "fix it\nplease", agent = "text", command = { "fake-text", "fix it" },
      worktreePath = "/r/.lulu/worktrees/fix", branch = "lulu/fix", baseCommit = "0123456789abcdef",
      startedAt = "2026-11-25T12:00:01Z", endedAt = "2026-11-25T12:09:00Z", outcome = "exited",
      exitCode = 1, signal = vim.NIL, failureDetail = "line one\nline two", agentSessionId = vim.NIL,
      costUsd = vim.NIL, inputTokens = vim.NIL, outputTokens = vim.NIL,
    }, now)
    assert.are.same({
      "Session:   fix",
      "Status:    Failed  (1m ago)",
      "Reason:    exited with code 1",
      "Detail:    line one",
      "           line two",
      "Id:        x1",
      "Agent:     text  (fake-text fix it)",
      "Prompt:    fix it",
      "           please",
      "Repo:      /r",
      "Worktree:  /r/.lulu/worktrees/fix",
      "Branch:    lulu/fix",
      "Base:      0123456789ab",
      "Started:   2026-11-25T12:00:01Z",
      "Ended:     2026-11-25T12:09:00Z",
      "Outcome:   exited, exit code 1",
      string.rep("─", 20) .. " transcript " .. string.rep("─", 20),
    }, lines)
  end)

  it("keeps a multi-line command on one line, and shows the base branch and the landing", function()
    local now = format.parse_time("2026-11-25T12:10:00Z")
    local lines = format.detail_lines({
      id = "x2", name = "sync", repo = "/r", status = "completed", createdAt = "2026-11-25T12:00:00Z",
      lastActivityAt = "2026-11-25T12:09:00Z", prompt = "resolve\nthem", agent = "text",
      command = { "fake-text", "resolve\nthem" }, worktreePath = "/r/w", branch = "lulu/sync",
      baseCommit = "0123456789abcdef", startedAt = vim.NIL, endedAt = vim.NIL, outcome = "exited",
      exitCode = 0, signal = vim.NIL, failureDetail = vim.NIL, baseBranch = "main", ahead = 2, behind = 0,
      landed = { into = "main", commit = "fedcba9876543210", strategy = "squash", at = "2026-11-25T12:09:30Z" },
    }, now)
    assert.are.same({
      "Agent:     text  (fake-text resolve them)",
      "Based on:  main  (2 ahead, 0 behind)",
      "Landed:    into main (squash) as fedcba987654 at 2026-11-25T12:09:30Z",
    }, { lines[4], lines[11], lines[12] })
    for _, line in ipairs(lines) do
      assert.is_nil(line:find("\n"), line)
    end
  end)

  it("shows the leased ports, and a worktree gc removed", function()
    local now = format.parse_time("2026-11-25T12:10:00Z")
    local base = {
      id = "x2", name = "serve", repo = "/r", status = "running", createdAt = "2026-11-25T12:00:00Z",
      lastActivityAt = "2026-11-25T12:09:00Z", prompt = "serve", agent = "text", command = { "t" },
      worktreePath = "/r/.lulu/worktrees/serve", branch = "lulu/serve", baseCommit = vim.NIL,
      startedAt = vim.NIL, endedAt = vim.NIL, outcome = vim.NIL, ports = { 21020, 21021 }, worktreeGone = false,
    }
    local lines = format.detail_lines(base, now)
    assert.are.same({ "Worktree:  /r/.lulu/worktrees/serve", "Ports:     21020, 21021" }, { lines[7], lines[8] })
    local gone = vim.tbl_extend("force", base, { worktreePath = vim.NIL, worktreeGone = true, ports = {} })
    lines = format.detail_lines(gone, now)
    assert.are.same(
      { "Worktree:  removed by gc (continue re-creates it from the branch)", "Branch:    lulu/serve" },
      { lines[7], lines[8] }
    )
  end)
end)

describe("format.server_exit", function()
  local function check(code, signal, expected)
    assert.are.equal(expected, format.server_exit("/r", code, signal))
  end
  it("names the signal, or gives the exit code", function()
    check(0, 9, "the server for /r was killed by SIGKILL (signal 9); the sessions go on; :Lulu reconnects")
    check(0, 15, "the server for /r was killed by SIGTERM (signal 15); the sessions go on; :Lulu reconnects")
    check(0, 6, "the server for /r was killed by SIGABRT (signal 6); the sessions go on; :Lulu reconnects")
    check(0, 999, "the server for /r was killed by signal 999; the sessions go on; :Lulu reconnects")
    check(101, 0, "the server for /r exited with code 101 (see :LspLog); the sessions go on; :Lulu reconnects")
  end)
end)
