--- `:checkhealth lulu`: Neovim version, the options given to setup(), the server binary, its
--- version, and that it starts and answers `initialize` with protocol version 1.
local M = {}

local health = vim.health

--- Splits LSP base-protocol frames off the front of `buf`.
---@param buf string
---@return table[] messages decoded JSON bodies
---@return string rest bytes of an incomplete frame
function M.parse_frames(buf)
  local out = {}
  while true do
    local header_end = buf:find("\r\n\r\n", 1, true)
    if not header_end then
      break
    end
    local header = buf:sub(1, header_end - 1)
    local len = tonumber(header:match("[Cc]ontent%-[Ll]ength:%s*(%d+)"))
    if not len then
      break
    end
    local body_start = header_end + 4
    if #buf < body_start + len - 1 then
      break
    end
    local body = buf:sub(body_start, body_start + len - 1)
    local ok, msg = pcall(vim.json.decode, body)
    if ok then
      out[#out + 1] = msg
    end
    buf = buf:sub(body_start + len)
  end
  return out, buf
end

---@param msg table
---@return string
local function frame(msg)
  local body = vim.json.encode(msg)
  return string.format("Content-Length: %d\r\n\r\n%s", #body, body)
end

--- Starts `server serve`, sends `initialize` (and `shutdown`/`exit`), and returns the result of
--- `initialize` or an error message.
---@param server string
---@param root string|nil repository to initialize with
---@param init_options table
---@param timeout_ms integer
---@return table|nil result
---@return string|nil err
function M.try_start(server, root, init_options, timeout_ms)
  local stdout, stderr = "", ""
  local messages = {}
  local ok, proc = pcall(vim.system, { server, "serve" }, {
    stdin = true,
    stdout = function(_, data)
      if data then
        stdout = stdout .. data
      end
    end,
    stderr = function(_, data)
      if data then
        stderr = stderr .. data
      end
    end,
  })
  if not ok then
    return nil, string.format("could not run %q serve: %s", server, tostring(proc))
  end
  local function wait_for(id)
    local found
    vim.wait(timeout_ms, function()
      local msgs, rest = M.parse_frames(stdout)
      stdout = rest
      vim.list_extend(messages, msgs)
      for _, m in ipairs(messages) do
        if m.id == id then
          found = m
          return true
        end
      end
      return false
    end, 20)
    return found
  end
  local params = {
    processId = vim.fn.getpid(),
    clientInfo = { name = "lulu.nvim checkhealth" },
    capabilities = vim.empty_dict(),
    initializationOptions = init_options,
  }
  if root then
    params.rootUri = vim.uri_from_fname(root)
    params.workspaceFolders = { { uri = vim.uri_from_fname(root), name = root } }
  end
  proc:write(frame({ jsonrpc = "2.0", id = 1, method = "initialize", params = params }))
  local init = wait_for(1)
  local result, err
  if not init then
    err = string.format("%q serve did not answer initialize within %d ms", server, timeout_ms)
  elseif init.error then
    err = string.format("initialize failed: %s", tostring(init.error.message))
  else
    result = init.result
    proc:write(frame({ jsonrpc = "2.0", method = "initialized", params = vim.empty_dict() }))
    proc:write(frame({ jsonrpc = "2.0", id = 2, method = "shutdown" }))
    wait_for(2)
    proc:write(frame({ jsonrpc = "2.0", method = "exit" }))
  end
  pcall(proc.write, proc, nil)
  proc:wait(timeout_ms)
  if err and stderr ~= "" then
    local last = vim.split(vim.trim(stderr), "\n")
    err = err .. "; stderr: " .. last[#last]
  end
  return result, err
end

function M.check()
  local config = require("lulu.config")
  local opts = config.options

  health.start("lulu: Neovim")
  if vim.fn.has("nvim-0.10") == 1 then
    local v = vim.version()
    health.ok(string.format("Neovim %d.%d.%d", v.major, v.minor, v.patch))
  else
    health.error("Neovim 0.10 or later is needed")
  end
  if vim.fn.executable("git") == 1 then
    health.ok("git is on PATH")
  else
    health.error("git is not on PATH; lulu needs it to find the repository")
  end

  health.start("lulu: options")
  if #config.problems == 0 then
    health.ok("setup() options are valid")
  else
    for _, p in ipairs(config.problems) do
      health.warn(p, { "see :help lulu-setup for the options" })
    end
  end

  health.start("lulu: server")
  local server = config.server_command(opts)
  if vim.fn.executable(server) ~= 1 then
    health.error(
      string.format("the server command %q is not executable", server),
      {
        "build it in the plugin's checkout: `cargo build --release -p lulu --target-dir target`",
        "or set require('lulu').setup({ server = '/path/to/lulu' })",
      }
    )
    return
  end
  health.ok(string.format("server: %s", vim.fn.exepath(server)))
  local ver = vim.system({ server, "--version" }, { text = true }):wait(10000)
  local version = vim.trim(ver.stdout or "")
  if ver.code == 0 and version ~= "" then
    health.ok("version: " .. version)
  else
    health.error(
      string.format("%q --version failed (code %s): %s", server, tostring(ver.code), vim.trim(ver.stderr or ""))
    )
  end

  local root = require("lulu.client").find_root(vim.fn.getcwd())
  local result, err = M.try_start(server, root, config.init_options(opts), 10000)
  if not result then
    health.error("the server does not start: " .. tostring(err))
    return
  end
  local lulu = vim.tbl_get(result, "capabilities", "experimental", "lulu") or {}
  local wanted = require("lulu.protocol_version")
  if lulu.protocolVersion == wanted then
    health.ok(
      string.format("the server starts and speaks protocol version %d", wanted)
        .. (root and (" (repository " .. root .. ")") or "")
    )
  else
    health.error(
      string.format(
        "the server speaks protocol version %s; this plugin needs %d",
        tostring(lulu.protocolVersion),
        wanted
      )
    )
  end
end

return M
