--- Contoso's XMPP failover: the shipped runbook plus a change-ticket pre-check and a notification
-- An organization keeps only its differences here; when xmpp-failover gains a step, this file
-- still applies. Run it like any runbook, with our two parameters:
--   runbook run examples/custom-failover.lua -i contoso.lua --set ticket=CHG-1234 \
--     --set notify_file=/srv/service-desk/inbox.log
local runbook = require "runbook"

local failover = runbook.extend "xmpp-failover"

-- Our own parameter: the change ticket this failover runs under.
failover.params.ticket = { type = "string", default = "CHG-0000",
                           description = "the change ticket that authorises the failover" }
-- And where the service desk is told: a file its ticket tool watches, one line per change.
failover.params.notify_file = { type = "string", required = true,
  description = "the file the service desk reads (--set notify_file=PATH, or the inventory's "
    .. "params = { notify_file = PATH })" }

-- Before anything changes: the ticket must look like one of ours.
failover:insert_before("stop-services", {
  id = "change-ticket",
  title = { en = "A change ticket authorises the failover",
            de = "Ein Change-Ticket genehmigt den Failover",
            fr = "Un ticket de changement autorise le basculement" },
  guidance = { en = "open a change ticket and pass it with --set ticket=CHG-1234",
               de = "öffnen Sie ein Change-Ticket und übergeben Sie es mit --set ticket=CHG-1234",
               fr = "ouvrez un ticket de changement et indiquez-le avec --set ticket=CHG-1234" },
  check = function(ctx)
    local ticket = ctx.params.ticket
    return ticket:match("^CHG%-%d%d%d%d+$") ~= nil and ticket ~= "CHG-0000", ticket
  end,
})

-- After federation answers on the new pool: tell the service desk (a line in notify_file,
-- which is also how the step knows it was done: a second run tells nobody twice).
local function message(ctx)
  return ("%s: XMPP federation now on %s"):format(ctx.params.ticket, ctx.params.to_pool)
end

-- Whether notify_file has the line already, and its last line (what the plan shows).
local function notified(path, text)
  local file = io.open(path)
  if not file then return false, "(no file yet)" end
  local found, last = false, "(empty)"
  for line in file:lines() do found, last = found or line == text, line end
  file:close()
  return found, last
end

failover:insert_after("federation-answers", {
  id = "notify-service-desk",
  title = { en = "Tell the service desk", de = "Den Service Desk informieren",
            fr = "Informer le centre de services" },
  check = function(ctx)
    local told, last = notified(ctx.params.notify_file, message(ctx))
    return told, ("%s: %s"):format(ctx.params.notify_file, last), message(ctx)
  end,
  run = function(ctx)
    local file = assert(io.open(ctx.params.notify_file, "a"))
    file:write(message(ctx), "\n")
    file:close()
    ctx.note("service desk told in " .. ctx.params.notify_file)
  end,
})

return failover
