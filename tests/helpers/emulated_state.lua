--- helpers.emulated_state — the Lync emulator's state and counters per emulated server in a
-- lab's state directory (tests/lab/sshd.sh, tests/lab/winrm.sh: STATE_DIR/ADDRESS.json and
-- ADDRESS.counters), for the specs that talk to those servers through a transport:
--   local state = require("helpers.emulated_state").new(function() return server end, host)
--   state.path(address), state.counters(address)
--   state.edit(address, fn)   fn(state) changes the server's state; its counters restart
--   state.reset()             every session closed, every server's state and counters gone
-- server() gives the lab (started in setup, after the spec's locals are made); host(address)
-- the inventory entry a cmdlet reaches the server with.
local support = require "support"
local task = require "runbook.task"
local cmdlet = require "cmdlet"
local emulator = require "lab.emulator"

local M = {}

function M.new(server, host)
  local state = {}

  function state.path(address) return server().state_dir .. "/" .. address .. ".json" end

  function state.counters(address) return emulator.counters(state.path(address)) end

  function state.edit(address, fn)
    task.run(function() cmdlet.try(host(address), "Get-CsSite", {}) end)  -- the state exists
    task.run(cmdlet.close_all)
    local current = emulator.load_state(state.path(address))
    fn(current)
    emulator.save_state(state.path(address), current)
    os.execute("rm -f " .. support.quote(server().state_dir .. "/" .. address .. ".counters"))
  end

  function state.reset()
    task.run(cmdlet.close_all)
    local dir = support.quote(server().state_dir)
    os.execute("rm -f " .. dir .. "/*.counters " .. dir .. "/127.*.json")
  end

  return state
end

return M
