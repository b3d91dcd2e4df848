-- busted output: the usual terminal report, then the closing line `N passed, N failed`.
-- Under scripts/test.sh, which runs the suite on several Neovim versions, LULU_TEST_COUNTS names a
-- file for the counts instead: this run's line then names the Neovim version and test.sh prints
-- the closing line, the sum of all runs.
return function(options)
  local busted = require("busted")
  local handler = require("busted.outputHandlers.plainTerminal")(options)
  busted.subscribe({ "suite", "end" }, function()
    local failed = handler.failuresCount + handler.errorsCount
    local counts_file = os.getenv("LULU_TEST_COUNTS")
    local line
    if counts_file then
      local f = assert(io.open(counts_file, "w"))
      f:write(string.format("%d %d %d\n", handler.successesCount, failed, handler.pendingsCount))
      f:close()
      local v = vim.version()
      line = string.format("Neovim v%d.%d.%d: passed %d, failed %d", v.major, v.minor, v.patch,
        handler.successesCount, failed)
      if handler.pendingsCount > 0 then
        line = line .. string.format(", skipped %d", handler.pendingsCount)
      end
    else
      line = string.format("%d passed, %d failed", handler.successesCount, failed)
      if handler.pendingsCount > 0 then
        line = line .. string.format(", %d skipped", handler.pendingsCount)
      end
    end
    io.write("\n" .. line .. "\n")
    io.flush()
    return nil, true
  end)
  return handler
end
