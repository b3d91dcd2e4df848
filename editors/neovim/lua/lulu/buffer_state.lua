--- The state the plugin keeps for each of its own buffers (the live list, the session views): the
--- subscriptions and the timer it holds, all released together when the buffer is wiped out.
local M = {}

---@class lulu.BufferState
---@field unsubscribe fun()[]        ends the buffer's subscriptions to the client's events
---@field timer uv.uv_timer_t|nil     the buffer's ticking timer, while it runs

--- Makes `st` the state of `bufnr` in `states`, released when the buffer is wiped out.
---@param states table<integer, lulu.BufferState>
---@param bufnr integer
---@param st lulu.BufferState
---@param on_release fun(st: any)|nil  runs with the released state
function M.attach(states, bufnr, st, on_release)
  states[bufnr] = st
  vim.api.nvim_create_autocmd("BufWipeout", {
    buffer = bufnr,
    once = true,
    callback = function()
      local released = M.release(states, bufnr)
      if released and on_release then
        on_release(released)
      end
    end,
  })
end

--- Stops and closes the state's timer, if it runs.
---@param st lulu.BufferState
function M.stop_timer(st)
  local timer = st.timer
  if timer then
    st.timer = nil
    timer:stop()
    timer:close()
  end
end

--- Runs `fn` on the main loop every `interval_ms` until `stop_timer` (a no-op when it already runs).
---@param st lulu.BufferState
---@param interval_ms integer
---@param fn fun()
function M.start_timer(st, interval_ms, fn)
  if st.timer then
    return
  end
  local timer = (vim.uv or vim.loop).new_timer()
  st.timer = timer
  timer:start(
    interval_ms,
    interval_ms,
    vim.schedule_wrap(function()
      -- A tick already queued when the timer stopped does nothing.
      if st.timer == timer then
        fn()
      end
    end)
  )
end

--- Forgets the state of `bufnr`: stops its timer and ends its subscriptions.
---@param states table<integer, lulu.BufferState>
---@param bufnr integer
---@return lulu.BufferState|nil st the released state (nil when there was none)
function M.release(states, bufnr)
  local st = states[bufnr]
  if not st then
    return nil
  end
  states[bufnr] = nil
  M.stop_timer(st)
  for _, un in ipairs(st.unsubscribe) do
    un()
  end
  return st
end

return M
