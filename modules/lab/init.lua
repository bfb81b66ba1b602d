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
local world = require "lab.world"

local M = {}

--- SETTINGS: the keys of an inventory's `lab` table (their schema), for check and completion.
M.SETTINGS = world.SETTINGS

cmdlet.register_transport("sim", function(host, command_line, options)
  assert(host.state_file, "[lab] sim host " .. tostring(host.name) .. " has no state_file")
  return emulator.run_command_line(command_line, host.state_file, options.stdin)
end)

estate.register_world(world.world)

return M
