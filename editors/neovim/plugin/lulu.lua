-- Lulu: only the :Lulu command is defined here; everything else loads on first use.
if vim.g.loaded_lulu then
  return
end
vim.g.loaded_lulu = true

if vim.fn.has("nvim-0.10") ~= 1 then
  vim.notify("lulu: needs Neovim 0.10 or later", vim.log.levels.ERROR)
  return
end

vim.api.nvim_create_user_command("Lulu", function(cmd)
  require("lulu").command(cmd)
end, {
  nargs = "*",
  bang = true,
  desc = "Lulu: list, pick, spawn, open, cancel, continue, remove[!], diff, approvals, send, comment, comments, review",
  complete = function(arglead, cmdline)
    return require("lulu").complete(arglead, cmdline)
  end,
})
