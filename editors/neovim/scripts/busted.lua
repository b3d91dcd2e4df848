-- Runs busted inside Neovim: `nvim -l scripts/busted.lua [busted args] [spec files]`.
-- busted's own modules come from Debian's lua-busted (/usr/share/lua/5.1); the plugin is put on
-- 'runtimepath' so the specs exercise it as a user's Neovim loads it.
local root = vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p:h:h")
-- The plugin folder itself too, absolutely: specs `cd` into fixture repositories.
package.path = root .. "/?.lua;/usr/share/lua/5.1/?.lua;/usr/share/lua/5.1/?/init.lua;" .. package.path
-- busted's C modules (lua-term, lua-system, lfs) live in the multiarch folder.
local cpaths = {}
for _, dir in ipairs(vim.fn.glob("/usr/lib/*/lua/5.1", false, true)) do
  cpaths[#cpaths + 1] = dir .. "/?.so"
end
cpaths[#cpaths + 1] = "/usr/lib/lua/5.1/?.so"
package.cpath = table.concat(cpaths, ";") .. ";" .. package.cpath
vim.opt.runtimepath:prepend(root)
vim.cmd.runtime("plugin/lulu.lua")
-- Errors must not stop the run to wait for a keypress.
vim.o.more = false
vim.o.shortmess = vim.o.shortmess .. "F"
-- busted ends a failing run with error() (no message): turn that into exit code 1.
local ok, err = pcall(require("busted.runner"), { standalone = false, output = root .. "/spec/helpers/output.lua" })
if not ok and err ~= nil then
  io.stderr:write("busted: " .. tostring(err) .. "\n")
end
io.stdout:flush()
os.exit(ok and 0 or 1)
