--- runbook.phase — which part of a run is under way, for what may be remembered within it:
-- each step of the plan, the preflight, each step of the run and each step rolled back is a
-- phase of its own. The engine begins them; a module that keeps what it read for the length
-- of a phase (modules/cmdlet.lua: one Get-CsSite per host per phase) compares generations:
--
--   phase.begin("stop-services")     -- the engine, as a step starts
--   if phase.generation() ~= mine then forget() end
local M = {}

local generation, name = 0, nil

--- begin(label): a new phase starts; what was kept for the previous one is stale.
function M.begin(label)
  generation, name = generation + 1, label
end

--- generation() -> a number that changes with every phase; current() -> its label.
function M.generation() return generation end
function M.current() return name end

return M
