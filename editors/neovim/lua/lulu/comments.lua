--- Review comments: `:Lulu comment` on a line of a session's diff view or of any file of its
--- worktree, the marks that show drafts and sent comments, `:Lulu comments` (quickfix list),
--- `:Lulu uncomment` and `:Lulu review [message]`. The comments live in the server's database;
--- the marks are redrawn from `lulu/comments` whenever `lulu/commentsChanged` says so.
local client = require("lulu.client")
local config = require("lulu.config")
local format = require("lulu.format")

local M = {}

M.ns = vim.api.nvim_create_namespace("lulu_comments")

---@class lulu.Comment
---@field commentId string
---@field path string
---@field line integer
---@field side "new"|"old"
---@field text string
---@field createdAt string
---@field sentAt string|nil

---@class lulu.CommentTarget
---@field root string      the main repository's top level (its server)
---@field id string        the session
---@field worktree string  the session's worktree
---@field path string      the file, relative to the worktree
---@field side "new"|"old" "old" for the base commit's side of a diff view

--- The session file each buffer shows (false: looked, and it is none).
---@type table<integer, lulu.CommentTarget|false>
M.targets = {}

--- The last `lulu/comments` answer of each session, by `root .. "\n" .. id`.
---@type table<string, lulu.Comment[]>
M.cache = {}

--- The sign and label of a draft and of a sent comment.
M.marks = {
  draft = { sign = "✎", hl = "LuluCommentDraft", label = "draft" },
  sent = { sign = "✓", hl = "LuluCommentSent", label = "sent" },
}

---@param root string
---@param id string
local function key(root, id)
  return root .. "\n" .. id
end

--- The marks a buffer shows for `comments`: `{line, sign, hl, text}` for each comment of its file
--- and side, in order (several on one line keep their order).
---@param comments lulu.Comment[]
---@param target lulu.CommentTarget
---@return {line: integer, sign: string, hl: string, text: string}[]
function M.marks_for(comments, target)
  local out = {}
  for _, c in ipairs(comments) do
    if c.path == target.path and (c.side or "new") == target.side then
      local sent = c.sentAt ~= nil and c.sentAt ~= vim.NIL
      local mark = sent and M.marks.sent or M.marks.draft
      out[#out + 1] = {
        line = c.line,
        sign = mark.sign,
        hl = mark.hl,
        text = mark.label .. ": " .. format.one_line(c.text),
      }
    end
  end
  return out
end

--- Draws the comments of the buffer's file (signs and end-of-line text).
---@param bufnr integer
function M.draw(bufnr)
  local target = M.targets[bufnr]
  if not target or not vim.api.nvim_buf_is_valid(bufnr) then
    return
  end
  require("lulu.highlight").ensure()
  vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  local count = vim.api.nvim_buf_line_count(bufnr)
  for _, mark in ipairs(M.marks_for(M.cache[key(target.root, target.id)] or {}, target)) do
    local row = math.min(math.max(mark.line, 1), count) - 1
    vim.api.nvim_buf_set_extmark(bufnr, M.ns, row, 0, {
      sign_text = mark.sign,
      sign_hl_group = mark.hl,
      virt_text = { { "  " .. mark.text, mark.hl } },
      virt_text_pos = "eol",
      priority = 20,
    })
  end
end

--- Asks the server for a session's comments and redraws every buffer of that session.
---@param root string
---@param id string
---@param cb fun(comments: lulu.Comment[]|nil)|nil
function M.refresh(root, id, cb)
  local repo = client.repos[root]
  if not repo or repo.closed then
    if cb then
      cb(nil)
    end
    return
  end
  client.request(repo, "lulu/comments", { id = id }, function(err, result)
    if err or type(result) ~= "table" then
      if cb then
        cb(nil)
      end
      return
    end
    M.cache[key(root, id)] = result.comments or {}
    for bufnr, target in pairs(M.targets) do
      if target and target.root == root and target.id == id then
        M.draw(bufnr)
      end
    end
    if cb then
      cb(M.cache[key(root, id)])
    end
  end)
end

local subscribed = false
local function subscribe()
  if subscribed then
    return
  end
  subscribed = true
  client.subscribe("comments", function(repo, id)
    M.refresh(repo.root, id)
  end)
end

--- Makes `bufnr` a file of a session: its comments are drawn, `:Lulu comment` and the `comment`
--- key add to them.
---@param bufnr integer
---@param target lulu.CommentTarget
function M.bind(bufnr, target)
  M.targets[bufnr] = target
  subscribe()
  local lhs = config.options.keymaps and config.options.keymaps.comment
  if lhs then
    vim.keymap.set("n", lhs, function()
      M.add({ bufnr = bufnr })
    end, { buffer = bufnr, desc = "Lulu: comment on this line (review)" })
  end
  vim.api.nvim_create_autocmd("BufWipeout", {
    buffer = bufnr,
    once = true,
    callback = function()
      M.targets[bufnr] = nil
    end,
  })
  M.refresh(target.root, target.id)
end

--- The session worktree a file is in: its top level and the main repository's, by git.
---@param file string an absolute path
---@return string|nil worktree
---@return string|nil root
---@return string|nil err
function M.worktree_of(file)
  local dir = vim.fs.dirname(file)
  local argv = { "git", "-C", dir, "rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir" }
  local res = vim.system(argv, { text = true }):wait()
  if res.code ~= 0 then
    return nil, nil, file .. " is not in a git repository"
  end
  local lines = vim.split(vim.trim(res.stdout or ""), "\n")
  local worktree, common = lines[1], lines[2]
  if not worktree or not common or vim.fs.basename(common) ~= ".git" then
    return nil, nil, file .. " is not in a git worktree lulu made"
  end
  local root = vim.fs.dirname(common)
  if root == worktree then
    return nil, nil, file .. " is in the main checkout, not in a session's worktree"
  end
  return worktree, root, nil
end

--- Finds the session of a buffer (its diff view's side, or the file's worktree), starting the
--- repository's server when `start` and none runs.
---@param bufnr integer
---@param start boolean
---@param cb fun(target: lulu.CommentTarget|nil, err: string|nil)
function M.resolve(bufnr, start, cb)
  local known = M.targets[bufnr]
  if known then
    cb(known, nil)
    return
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  if vim.bo[bufnr].buftype ~= "" or name == "" then
    cb(nil, "this buffer is not a file of a session's worktree (open one, or the session's diff)")
    return
  end
  local file = (vim.uv or vim.loop).fs_realpath(name) or name
  local worktree, root, err = M.worktree_of(file)
  if not worktree or not root then
    cb(nil, err)
    return
  end
  local repo = client.repos[root]
  if not start and (not repo or repo.closed) then
    cb(nil, nil)
    return
  end
  local serr
  repo, serr = client.get(root)
  if not repo then
    cb(nil, serr)
    return
  end
  local path = file:sub(#worktree + 2)
  local tail = vim.fs.basename(worktree):match("%-(%x+)$") or ""
  local function find()
    local candidates = vim.tbl_filter(function(row)
      return tail ~= "" and row.id:sub(-#tail) == tail
    end, client.rows(repo))
    local remaining = #candidates
    if remaining == 0 then
      cb(nil, worktree .. " is no worktree of a lulu session")
      return
    end
    local found = nil
    for _, row in ipairs(candidates) do
      client.request(repo, "lulu/session", { id = row.id }, function(_, detail)
        if type(detail) == "table" and detail.worktreePath == worktree then
          found = { root = root, id = row.id, worktree = worktree, path = path, side = "new" }
        end
        remaining = remaining - 1
        if remaining == 0 then
          if found then
            M.bind(bufnr, found)
            cb(found, nil)
          else
            cb(nil, worktree .. " is no worktree of a lulu session")
          end
        end
      end)
    end
  end
  if repo.loaded then
    find()
  else
    client.refresh(repo, function(rerr)
      if rerr then
        cb(nil, rerr.message)
        return
      end
      find()
    end)
  end
end

--- `:Lulu comment [text]`: a draft on the cursor's line of the current buffer; asks for the text
--- with `vim.ui.input` when not given.
---@param opts {bufnr?: integer, line?: integer, text?: string}|nil
function M.add(opts)
  opts = opts or {}
  local bufnr = opts.bufnr or vim.api.nvim_get_current_buf()
  local line = opts.line
  if not line then
    local win = vim.api.nvim_win_get_buf(0) == bufnr and 0 or vim.fn.bufwinid(bufnr)
    line = vim.api.nvim_win_get_cursor(win ~= -1 and win or 0)[1]
  end
  M.resolve(bufnr, true, function(target, err)
    if not target then
      client.error(err or "this buffer is not a file of a session's worktree")
      return
    end
    local function send(text)
      local repo = client.repos[target.root]
      if not repo then
        client.error("the lulu server for " .. target.root .. " is not running")
        return
      end
      local params = { id = target.id, path = target.path, line = line, text = text, side = target.side }
      client.call(repo, "lulu/comment", params, function()
        M.refresh(target.root, target.id)
      end)
    end
    if opts.text and vim.trim(opts.text) ~= "" then
      send(opts.text)
      return
    end
    vim.ui.input({ prompt = string.format("Comment on %s:%d: ", target.path, line) }, function(text)
      if text and vim.trim(text) ~= "" then
        send(text)
      end
    end)
  end)
end

--- The session the user means for `:Lulu comments` and `:Lulu review`: the current buffer's
--- (a file of its worktree or its diff view), else the list row, session view or picker's.
---@param prompt string
---@param cb fun(repo: lulu.Repo, id: string, name: string|nil)
local function with_session(prompt, cb)
  local bufnr = vim.api.nvim_get_current_buf()
  local function fallback()
    require("lulu.actions").with_target(prompt, function(repo, row)
      cb(repo, row.id, row.name)
    end)
  end
  if vim.bo[bufnr].buftype ~= "" and not M.targets[bufnr] then
    fallback()
    return
  end
  M.resolve(bufnr, true, function(target)
    if not target then
      fallback()
      return
    end
    local repo = client.repos[target.root]
    local row = repo and repo.sessions[target.id]
    cb(repo, target.id, row and row.name)
  end)
end

--- Quickfix items for a session's comments (the file of the worktree, or the base's for "old").
---@param worktree string
---@param comments lulu.Comment[]
---@return table[]
function M.qf_items(worktree, comments)
  local items = {}
  for _, c in ipairs(comments) do
    local sent = c.sentAt ~= nil and c.sentAt ~= vim.NIL
    local side = c.side == "old" and " (base)" or ""
    items[#items + 1] = {
      filename = worktree .. "/" .. c.path,
      lnum = c.line,
      col = 1,
      text = string.format("[%s]%s %s", sent and "sent" or "draft", side, format.one_line(c.text)),
      user_data = { lulu_comment = c.commentId },
    }
  end
  return items
end

--- `:Lulu comments`: the session's comments, drafts and sent, in the quickfix list.
---@param cb fun(items: table[])|nil
function M.list(cb)
  with_session("Comments of session", function(repo, id, name)
    client.call(repo, "lulu/session", { id = id }, function(detail)
      client.call(repo, "lulu/comments", { id = id }, function(result)
        M.cache[key(repo.root, id)] = result.comments or {}
        local worktree = detail.worktreePath ~= vim.NIL and detail.worktreePath or repo.root
        local items = M.qf_items(worktree, result.comments or {})
        vim.fn.setqflist({}, " ", { title = "Lulu comments: " .. format.one_line(name or detail.name), items = items })
        if #items == 0 then
          vim.notify("lulu: " .. format.one_line(detail.name) .. " has no comments", vim.log.levels.INFO)
        else
          vim.cmd("botright copen")
        end
        if cb then
          cb(items)
        end
      end)
    end)
  end)
end

--- `:Lulu uncomment`: deletes the draft on the cursor's line (the first, if several).
function M.remove()
  local bufnr = vim.api.nvim_get_current_buf()
  local line = vim.api.nvim_win_get_cursor(0)[1]
  M.resolve(bufnr, true, function(target, err)
    if not target then
      client.error(err or "this buffer is not a file of a session's worktree")
      return
    end
    for _, c in ipairs(M.cache[key(target.root, target.id)] or {}) do
      local draft = c.sentAt == nil or c.sentAt == vim.NIL
      if draft and c.path == target.path and c.line == line and (c.side or "new") == target.side then
        client.call(client.repos[target.root], "lulu/uncomment", { id = target.id, commentId = c.commentId }, function()
          M.refresh(target.root, target.id)
        end)
        return
      end
    end
    client.error(string.format("no draft comment on line %d of %s", line, target.path))
  end)
end

--- `:Lulu review [message]`: sends every draft (and the message) to the agent as one prompt.
---@param message string|nil
function M.review(message)
  with_session("Send review of session", function(repo, id, name)
    local params = { id = id }
    if message and vim.trim(message) ~= "" then
      params.message = message
    end
    local drafts = 0
    for _, c in ipairs(M.cache[key(repo.root, id)] or {}) do
      if c.sentAt == nil or c.sentAt == vim.NIL then
        drafts = drafts + 1
      end
    end
    client.call(repo, "lulu/review", params, function(row)
      local what = drafts == 1 and "1 comment" or (drafts .. " comments")
      vim.notify(
        string.format("lulu: sent the review (%s) to %s", what, format.one_line(row.name or name or id)),
        vim.log.levels.INFO
      )
      M.refresh(repo.root, id)
    end)
  end)
end

--- Binds buffers of session worktrees as they are read, when the repository's server runs.
function M.attach_autocmd()
  vim.api.nvim_create_autocmd("BufReadPost", {
    group = vim.api.nvim_create_augroup("lulu_comments", { clear = true }),
    callback = function(ev)
      if M.targets[ev.buf] ~= nil or next(client.repos) == nil then
        return
      end
      local name = vim.api.nvim_buf_get_name(ev.buf)
      -- A linked worktree has a `.git` file, not a folder: only those are worth asking git about.
      local dot_git = vim.fs.find(".git", { upward = true, path = vim.fs.dirname(name) })[1]
      local stat = dot_git and (vim.uv or vim.loop).fs_stat(dot_git)
      if not stat or stat.type ~= "file" then
        M.targets[ev.buf] = false
        return
      end
      M.resolve(ev.buf, false, function(target)
        if not target then
          M.targets[ev.buf] = M.targets[ev.buf] or false
        end
      end)
    end,
  })
end

return M
