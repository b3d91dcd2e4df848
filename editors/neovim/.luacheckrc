-- luacheck for the plugin and its specs (Neovim's LuaJIT, with the `vim` global).
std = "luajit"
globals = { "vim" }
max_line_length = 120
files["spec/"] = { std = "+busted" }
