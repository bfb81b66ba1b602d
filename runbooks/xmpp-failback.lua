--- Return XMPP federation to the original Edge pool once it is healthy again
-- xmpp-failover's steps towards inventory.failover.from_pool, with the same safety. With the
-- journal of the failover it undoes (found in the state directory, or --set undo_journal=),
-- it restores exactly what that failover found: the A and SRV records and, in one more step,
-- the route the failover gave the other site. (The published failback text repeats
-- "EdgeServer2" where it means the original pool's server: here the target is always the
-- original pool, from the inventory.)
local f = require "federation"
local lync = require "lync"
local runbook = require "runbook"

local failback = runbook.extend "xmpp-failover"
failback.id = "xmpp-failback"
failback.title = { en = "Fail back XMPP federation to the original Edge pool",
                   de = "XMPP-Partnerverbund auf den ursprünglichen Edgepool zurückführen",
                   fr = "Rétablir la fédération XMPP sur le pool de serveurs Edge d’origine" }
failback.params = f.params("failback")

failback:insert_after("federation-route", {
  id = "federation-route-restore",
  title = { en = "The other site's XMPP federation route is as it was before the failover",
            de = "Die XMPP-Verbundroute des anderen Standorts ist wie vor dem Failover",
            fr = "L’itinéraire de fédération XMPP de l’autre site est tel qu’avant le basculement" },
  check = function(ctx)
    local site, previous = f.route_to_restore(ctx)
    if not site then return true, "no other site's route to restore" end
    local current, parameter = lync.federation_route(f.cms(ctx), site)
    return f.bare_route(current) == f.bare_route(previous),
      ("%s -%s %s"):format(site, parameter, current or "(none)"),
      ("%s -%s %s%s"):format(site, parameter, previous or "(none)", f.say("as_before"))
  end,
  run = function(ctx)
    local site, previous = f.route_to_restore(ctx)
    ctx.data.restored_route = { site = site, was = lync.federation_route(f.cms(ctx), site) or false }
    if previous then lync.set_federation_route(f.cms(ctx), site, previous)
    else lync.clear_federation_route(f.cms(ctx), site) end
  end,
  rollback = function(ctx)
    local restored = ctx.data.restored_route
    if not restored then return end
    if restored.was then lync.set_federation_route(f.cms(ctx), restored.site, restored.was)
    else lync.clear_federation_route(f.cms(ctx), restored.site) end
  end,
})

return failback
