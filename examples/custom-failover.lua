--- Contoso's XMPP failover: the shipped runbook plus a change-ticket pre-check and a notification
-- An organization keeps only its differences here; when xmpp-failover gains a step, this file
-- still applies. Run it like any runbook: runbook run examples/custom-failover.lua -i contoso.lua
local runbook = require "runbook"

local failover = runbook.extend "xmpp-failover"

-- Our own parameter: the change ticket this failover runs under.
failover.params.ticket = { type = "string", default = "CHG-0000",
                           description = "the change ticket that authorises the failover" }

-- Before anything changes: the ticket must look like one of ours.
failover:insert_before("stop-services", {
  id = "change-ticket",
  title = { en = "A change ticket authorises the failover",
            de = "Ein Change-Ticket genehmigt den Failover",
            fr = "Un ticket de changement autorise le basculement" },
  guidance = { en = "open a change ticket and pass it with --set ticket=CHG-1234" },
  check = function(ctx)
    local ticket = ctx.params.ticket
    return ticket:match("^CHG%-%d%d%d%d+$") ~= nil and ticket ~= "CHG-0000", ticket
  end,
})

-- After federation answers on the new pool: tell the service desk (here: a line in a file,
-- which is also how the step knows it was done: a second run tells nobody twice).
local function message(ctx)
  return ("%s: XMPP federation now on %s"):format(ctx.params.ticket, ctx.params.to_pool)
end

failover:insert_after("federation-answers", {
  id = "notify-service-desk",
  title = { en = "Tell the service desk", de = "Den Service Desk informieren",
            fr = "Informer le centre de services" },
  check = function(ctx)
    local file = io.open(os.getenv("NOTIFY_FILE") or "/dev/null")
    local told = file and file:read("a"):find(message(ctx), 1, true) ~= nil
    if file then file:close() end
    return told, "not told", "told"
  end,
  run = function(ctx)
    local file = assert(io.open(os.getenv("NOTIFY_FILE") or "/dev/null", "a"))
    file:write(message(ctx), "\n")
    file:close()
    ctx.note("service desk told")
  end,
})

return failover
