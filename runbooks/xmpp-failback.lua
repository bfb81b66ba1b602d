--- Return XMPP federation to the original Edge pool once it is healthy again
-- xmpp-failover's steps towards inventory.failover.from_pool, with the same safety. With the
-- journal of the failover it undoes (found in the state directory, or --set undo_journal=),
-- it restores exactly what that failover found: the A and SRV records and, in one more step,
-- the route the failover gave the other site. (The published failback text repeats
-- "EdgeServer2" where it means the original pool's server: here the target is always the
-- original pool, from the inventory.) Microsoft's failback page (JJ721897) goes on where the
-- tool stops: its step 4 re-associates the restored site's Front End pools' Web Conferencing
-- and A/V Conferencing with that site's Edge pool in Topology Builder, its step 5 fails a
-- Front End pool back that failed too (Invoke-CsPoolFailback); its step 2 moves the SIP
-- federation route back. None is a change runbook can make safely (a topology publish; a
-- pool failback, a procedure of its own): the last step says each as a manual step, in the
-- plan and again in the summary.
local federation = require "federation"
local lync = require "lync"
local runbook = require "runbook"

local say = federation.say      -- the evidence in the operator's language

local failback = runbook.extend "xmpp-failover"
failback.id = "xmpp-failback"
failback.title = "Fail back XMPP federation to the original Edge pool"
failback.translations = runbook.translations "xmpp-federation.titles"   -- German, French
failback.params = federation.params("failback")

failback:insert_after("federation-route", {
  id = "federation-route-restore",
  title = "The other site's XMPP federation route is as it was before the failover",
  check = function(ctx)
    local site, previous = federation.route_to_restore(ctx)
    if not site then return true, say("no_route_to_restore") end
    local current, parameter = lync.federation_route(federation.cms(ctx), site)
    return federation.bare_route(current) == federation.bare_route(previous),
      ("%s -%s %s"):format(site, parameter, current or say("none")),
      ("%s -%s %s%s"):format(site, parameter, previous or say("none"), say("as_before"))
  end,
  run = function(ctx)
    local cms, site, previous = federation.cms(ctx), federation.route_to_restore(ctx)
    ctx.data.restored_route = { site = site, was = lync.federation_route(cms, site) or false }
    if previous then lync.set_federation_route(cms, site, previous)
    else lync.clear_federation_route(cms, site) end
  end,
  rollback = function(ctx)
    local restored, cms = ctx.data.restored_route, federation.cms(ctx)
    if not restored then return end
    if restored.was then lync.set_federation_route(cms, restored.site, restored.was)
    else lync.clear_federation_route(cms, restored.site) end
  end,
})

failback:insert_after("federation-answers", {
  id = "front-end-pools",
  title = "Manual: the restored site's Front End pools use its Edge pool again (Topology "
    .. "Builder), and fail back if they failed over",
  changes_nothing = true,      -- it says what is left to the operator; it changes nothing
  check = function(ctx)
    return false, say("manual_not_read"),
      table.concat({ federation.front_end_manual_steps(ctx) }, "; ")
  end,
  run = function(ctx)
    for _, text in ipairs { federation.front_end_manual_steps(ctx) } do ctx.manual(text) end
  end,
})

return failback
