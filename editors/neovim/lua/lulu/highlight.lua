--- Highlight groups of the plugin. All link to standard groups by default, so colour schemes apply;
--- define any of them yourself to override.
local M = {}

M.links = {
  LuluStarting = "Comment",
  LuluRunning = "DiagnosticInfo",
  LuluCompleted = "DiagnosticOk",
  LuluFailed = "DiagnosticError",
  LuluAge = "Comment",
  LuluReason = "DiagnosticError",
  LuluHeader = "Title",
  LuluMeta = "Comment",
  LuluToolUse = "Function",
  LuluToolResult = "String",
  LuluThinking = "Comment",
  LuluResult = "Special",
  LuluStderr = "DiagnosticWarn",
  LuluError = "DiagnosticError",
  LuluLabel = "Identifier",
  LuluCommentDraft = "DiagnosticWarn",
  LuluCommentSent = "DiagnosticHint",
  LuluApproval = "DiagnosticWarn",
}

function M.setup()
  for group, link in pairs(M.links) do
    vim.api.nvim_set_hl(0, group, { link = link, default = true })
  end
end

local done = false
--- Defines the groups once, and again after every colour scheme change.
function M.ensure()
  if done then
    return
  end
  done = true
  M.setup()
  vim.api.nvim_create_autocmd("ColorScheme", {
    group = vim.api.nvim_create_augroup("lulu_highlight", { clear = true }),
    callback = M.setup,
  })
end

return M
