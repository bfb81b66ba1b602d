--- lab — the simulated estate as one plug-in: the Lync and Windows emulators, the simulated
-- network and DNS, and the embedded estate built from an inventory's `lab` table. It plugs
-- itself into the product through the product's own registries, and nothing in the product
-- requires it:
--   cmdlet.register_transport("sim", …)   a host with transport = "sim" runs its commands
--                                          in the Lync emulator, in this process
--   estate.register_world(…)              an inventory with a `lab` table gets its
--                                          simulated servers, zone and network
-- runbook.session loads it (session.LAB_PLUGIN) when an inventory has a `lab` table, which
-- the embedded default has; `runbook` never loads it for a real estate.
local cmdlet = require "cmdlet"
local emulator = require "lab.emulator"
local estate = require "estate"
local task = require "runbook.task"
local world = require "lab.world"

local M = {}

--- SETTINGS: the keys of an inventory's `lab` table (their schema), for check and completion.
M.SETTINGS = world.SETTINGS

-- The emulated PowerShell of a sim host, in this process: it costs nothing, and it waits
-- (a service's WaitForStatus) by sleeping in the task that runs the command, so that a
-- wait on the server lasts in the lab as it would on a server.
local function in_process(state_file)
  return { state_path = state_file, costs = { process_start = 0, module_load = 0 },
           module_loaded = true, wait = task.sleep }
end

cmdlet.register_transport("sim", function(host, command_line, options)
  assert(host.state_file, "[lab] sim host " .. tostring(host.name) .. " has no state_file")
  return emulator.run_command_line(command_line, host.state_file, options.stdin,
                                   in_process(host.state_file))
end)

estate.register_world(world.world)

return M
