--- runbook.reads — the registry of read verifiers. While planning and inside a read-only
-- task (a step's hosts, check, verify) every primitive that can change a system refuses,
-- unless its caller shows a read permit for what it sends; runtime/permit.c mints one only
-- when the verifier registered for the permit's kind says yes. The engine knows no kind:
-- their owners register them (modules/powershell/reads.lua: "powershell",
-- "powershell-session", "powershell-frame"; modules/vantage.lua: "vantage-connect"), as
-- transports register with cmdlet and capability provers with runbook.preflight.
--
--   reads.register(kind, verify)   verify(command, stdin) -> true, how | nil, reason
--   reads.verify(kind, command, stdin) -> true, how | nil, reason   (runtime/permit.c)
-- When in doubt the answer is no: nil and the reason, which the refusal shows.
local M = {}

local verifiers = {}

--- register(kind, verify): the verifier of one kind of read; a kind has one owner.
function M.register(kind, verify)
  assert(type(kind) == "string" and type(verify) == "function",
         "[reads] register(kind, verify): a name and a function")
  assert(verifiers[kind] == nil or verifiers[kind] == verify,
         "[reads] the read kind " .. kind .. " is registered already")
  verifiers[kind] = verify
end

--- verify(kind, command, stdin) -> true, how | nil, reason. Called by runtime/permit.c;
-- how says which proof held (e.g. "template", "list", "probe").
function M.verify(kind, command, stdin)
  local verifier = verifiers[kind]
  if not verifier then return nil, ("runbook knows no read of kind %q"):format(tostring(kind)) end
  return verifier(command, stdin)
end

return M
