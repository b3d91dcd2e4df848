--- `:Lulu diff`: a session's changed files in the quickfix list, and a diff of one against the
--- session's base commit.
local client = require("lulu.client")
local format = require("lulu.format")

local M = {}

---@class lulu.DiffFile
---@field path string
---@field status "added"|"modified"|"deleted"|"renamed"
---@field oldPath? string
---@field additions integer
---@field deletions integer

--- Quickfix items for the changed files of a worktree.
---@param worktree string
---@param files lulu.DiffFile[]
---@param base string|nil the base commit, kept in each item so `:Lulu diff` in the quickfix window can diff it
---@param session {root: string, id: string}|nil the session, kept so its diff view takes comments
---@return table[]
function M.qf_items(worktree, files, base, session)
  local items = {}
  for _, f in ipairs(files) do
    local text = string.format("%s +%d -%d", f.status, f.additions or 0, f.deletions or 0)
    if f.oldPath and f.oldPath ~= vim.NIL then
      text = text .. " (from " .. f.oldPath .. ")"
    end
    items[#items + 1] = {
      filename = worktree .. "/" .. f.path,
      lnum = 1,
      col = 1,
      text = text,
      user_data = {
        lulu = {
          worktree = worktree,
          base = base,
          path = f.path,
          status = f.status,
          oldPath = f.oldPath,
          root = session and session.root,
          id = session and session.id,
        },
      },
    }
  end
  return items
end

--- The content of `path` at `commit` in `worktree` (empty when it does not exist there).
---@param worktree string
---@param commit string
---@param path string
---@return string[]
local function base_lines(worktree, commit, path)
  local res = vim.system({ "git", "-C", worktree, "show", commit .. ":" .. path }, { text = true }):wait()
  if res.code ~= 0 then
    return {}
  end
  return format.split_lines(res.stdout or "")
end

--- Opens a new tab with the file of the worktree beside its content at the base commit, in diff mode.
--- With `session`, both sides take review comments (`:Lulu comment`): the worktree's file on the
--- "new" side, the base's on the "old" side.
---@param worktree string
---@param base string
---@param file lulu.DiffFile
---@param session {root: string, id: string}|nil
function M.open_file(worktree, base, file, session)
  local path = worktree .. "/" .. file.path
  vim.cmd("tabnew")
  if file.status == "deleted" then
    local buf = vim.api.nvim_get_current_buf()
    vim.bo[buf].buftype = "nofile"
    vim.bo[buf].bufhidden = "wipe"
    pcall(vim.api.nvim_buf_set_name, buf, "lulu://deleted/" .. file.path)
  else
    vim.cmd("edit " .. vim.fn.fnameescape(path))
  end
  local ft = vim.bo.filetype
  local new_buf = vim.api.nvim_get_current_buf()
  vim.cmd("diffthis")
  local old_path = (file.oldPath and file.oldPath ~= vim.NIL) and file.oldPath or file.path
  vim.cmd("leftabove vnew")
  local buf = vim.api.nvim_get_current_buf()
  vim.bo[buf].buftype = "nofile"
  vim.bo[buf].bufhidden = "wipe"
  vim.bo[buf].swapfile = false
  local lines = file.status == "added" and {} or base_lines(worktree, base, old_path)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  pcall(vim.api.nvim_buf_set_name, buf, "lulu://base/" .. base:sub(1, 12) .. "/" .. old_path)
  if ft ~= "" then
    vim.bo[buf].filetype = ft
  end
  vim.cmd("diffthis")
  vim.cmd("wincmd l")
  if session then
    local comments = require("lulu.comments")
    if file.status ~= "deleted" then
      local target = { root = session.root, id = session.id, worktree = worktree, path = file.path, side = "new" }
      comments.bind(new_buf, target)
    end
    comments.bind(buf, { root = session.root, id = session.id, worktree = worktree, path = old_path, side = "old" })
  end
end

--- In the quickfix window of a `:Lulu diff`, opens the diff of the entry under the cursor.
---@return boolean done false when the current window is not such a quickfix entry
function M.open_qf_entry()
  if vim.bo.buftype ~= "quickfix" then
    return false
  end
  local idx = vim.fn.line(".")
  local items = vim.fn.getqflist({ idx = idx, items = 0 }).items or {}
  local item = items[1]
  local data = item and type(item.user_data) == "table" and item.user_data.lulu
  if type(data) ~= "table" or not data.worktree or not data.base then
    return false
  end
  M.open_file(data.worktree, data.base, data, data.id and { root = data.root, id = data.id } or nil)
  return true
end

--- Lists the changed files of a session in the quickfix list and opens the diff of the first one
--- (or of `path`).
---@param repo lulu.Repo
---@param id string
---@param opts {path?: string, open?: boolean}|nil
---@param cb fun(result: table|nil)|nil called with the `lulu/diff` answer once shown
function M.open(repo, id, opts, cb)
  opts = opts or {}
  client.call(repo, "lulu/session", { id = id }, function(detail)
    local worktree = detail.worktreePath
    if worktree == nil or worktree == vim.NIL then
      client.error(format.one_line(detail.name) .. " has no worktree yet")
      return
    end
    client.call(repo, "lulu/diff", { id = id }, function(result)
      local files = result.files or {}
      local session = { root = repo.root, id = id }
      local items = M.qf_items(worktree, files, result.baseCommit, session)
      vim.fn.setqflist({}, " ", { title = "Lulu diff: " .. format.one_line(detail.name), items = items })
      if #files == 0 then
        vim.notify("lulu: " .. format.one_line(detail.name) .. " changed no file", vim.log.levels.INFO)
      elseif opts.open ~= false then
        local chosen = files[1]
        for _, f in ipairs(files) do
          if f.path == opts.path then
            chosen = f
          end
        end
        M.open_file(worktree, result.baseCommit, chosen, session)
        vim.cmd("botright copen")
        vim.cmd("wincmd p")
      end
      if cb then
        cb(result)
      end
    end)
  end)
end

return M
