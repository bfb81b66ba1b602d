--- Fail over XMPP federation to another Edge pool (Lync Server 2013 / Skype for Business)
-- Microsoft's procedure "Failing over the Edge pool used for XMPP federation" (JJ688065),
-- step by step, with what it gets wrong or leaves out put right:
-- * its step 2 (stop-services) stops every Lync service but the Replica Replicator Agent
--   (REPLICA): the Edge servers must still receive the new route from the Central
--   Management Store;
-- * its step 3 (federation-route) uses the parameter Set-CsSite really has: the cmdlet
--   reference's -XmppFederationRoute EdgeServer:<pool>, or the procedure's
--   -XmppExternalFederationRoute;
-- * a step it lacks (cms-replication) waits until the CMS has replicated the route to the
--   Edge servers, else their services start with the old one;
-- * its step 4 (dns-a-record) gives the A record the pool's public Access Edge IP (after
--   NAT), never an FQDN, and waits until every authoritative server serves it;
-- * its step 6 (port-5269) checks 5269 from outside the perimeter: closed is fine while the
--   services are stopped (the firewall passes, nothing listens), filtered names the firewall;
--   the internal ports of Microsoft's port summary are tried from where their traffic starts,
--   on the servers themselves: outbound 5269 from each Edge server and 23456 from the Front
--   End before any change (pool-deployed), 23456 again once the services run (start-services).
-- Every value comes from the inventory or --set (docs/inventory.md). Adapt it to your
-- organization with runbook.extend (examples/custom-failover.lua), not with a copy. The
-- German and French titles are in xmpp-federation.titles.lua, the words of the evidence in
-- modules/federation_messages.lua.
local estate = require "estate"
local federation = require "federation"
local failure = require "runbook.failure"
local lync = require "lync"
local runbook = require "runbook"

local say = federation.say      -- the evidence in the operator's language

-- The rollback of both service steps, also for a host where only some services changed:
-- every service that ran before the run runs again (all of them when the journal has no
-- list); starting a running service changes nothing.
local function restore_services(ctx, host)
  local running = ctx.data["running_before." .. host.name]
  lync.start_services(host, { computer = host.name, names = running,
    timeout = ctx.params.service_timeout, interval = federation.poll(ctx, 1) })
end

return runbook.define {
  id = "xmpp-failover",
  title = "Fail over the Edge pool used for XMPP federation",
  translations = runbook.translations "xmpp-federation.titles",   -- German, French
  params = federation.params("failover"),
  inventory = estate.schema,
  lease = federation.lease,     -- one run at a time against this estate, from any machine
  steps = {
    { id = "pool-deployed",
      title = "The Edge pool that will host XMPP federation is deployed",
      guidance = "deploy the Edge pool first (Deploying External User Access in Lync Server "
        .. "2013); a prerequisite the check names is docs/inventory.md's \"Prerequisites\"",
      check = function(ctx)
        local target = federation.target(ctx)
        estate.pool(ctx, target)
        local ok, servers = pcall(lync.edge_servers_of, federation.cms(ctx), target)
        -- only the server's answer "no such Edge pool" is this step's verdict; a server
        -- that could not be asked is reported as what it is, without this guidance
        if not ok and failure.cause(servers) ~= "not-found" then error(servers, 0) end
        if not ok then return false, tostring(servers) end
        if #servers == 0 then return false, say("no_edge_server", target) end
        federation.edges(ctx)   -- an exclusion that leaves no Edge server fails here, in the plan
        -- and can host XMPP federation: partners, federation, version, certificates
        local ready, detail = federation.prerequisites(ctx, target)
        if not ready then return false, detail end
        -- outbound 5269 and 23456 from the Front End, tried on the servers themselves
        local open, ports = federation.ports_before(ctx)
        if not open then return false, ports end
        detail = detail .. "; " .. ports
        local answers, where = federation.cms_master(ctx)   -- Set-CsSite needs the CMS master
        if not answers then return false, where end
        detail = detail .. "; " .. where
        return true, ("%s: %s (%s); %s"):format(target, table.concat(servers, ", "),
                                                federation.mode_note(ctx), detail)
      end },

    { id = "old-pool-xmpp",
      title = "Planned maintenance: stop the XMPP proxy on the old pool's Edge servers",
      needs = federation.needs.old_edges,
      check = federation.old_xmpp_stopped,   -- dead-pool: holds, saying the old pool is not asked
      run = federation.stop_old_xmpp,
      rollback = federation.start_old_xmpp },

    { id = "stop-services",
      title = "Stop-CsWindowsService on every Edge server of the new pool",
      hosts = federation.edges,
      needs = federation.needs.edges,
      check = function(ctx, host)
        local map = federation.statuses(host)
        if federation.all_in(map, "Running") and federation.route_moved(ctx) then
          return true, say("already_moved")
        end
        local stopped, detail = federation.all_in(map, "Stopped", "REPLICA")
        return stopped, detail, "Stopped " .. say("replica_note")
      end,
      run = function(ctx, host)
        local names, running = {}, {}
        for _, service in ipairs(select(2, federation.statuses(host))) do
          if service.Name ~= "REPLICA" then names[#names + 1] = service.Name end
          if service.Status == "Running" then running[#running + 1] = service.Name end
        end
        ctx.remember("running_before." .. host.name, running)   -- what rollback restarts
        lync.stop_services(host, { computer = host.name, names = names,
          timeout = ctx.params.service_timeout, interval = federation.poll(ctx, 1) })
        ctx.data.services_stopped = true
      end,
      rollback = restore_services },

    { id = "federation-route",
      title = "Set-CsSite: point the XMPP federation route at the new Edge pool",
      needs = federation.needs.route,
      check = function(ctx)    -- and names the other sites that still route to the old pool
        local cms, site = federation.cms(ctx), federation.site_of(ctx)
        local target = federation.target(ctx)
        local current, parameter = lync.federation_route(cms, site)
        local others = federation.other_sites_note(ctx)
        if federation.bare_route(current) == target:lower() then return true, current .. others end
        local change = lync.route_change(cms, site, target)
        return false, ("%s -%s %s"):format(site, parameter, current or say("none")) .. others,
          federation.export_plan(ctx) .. change.command
      end,
      run = function(ctx)
        local cms, site = federation.cms(ctx), federation.site_of(ctx)
        federation.forget_route(ctx)
        federation.export_configuration(ctx)       -- before the topology changes, journaled
        local previous = lync.federation_route(cms, site)
        federation.remember(ctx, "route_site", site)
        federation.remember(ctx, "previous_route", previous or false)   -- false: there was none
        local result = lync.set_federation_route(cms, site, federation.target(ctx))
        ctx.note(say("parameter_used", result.parameter))
      end,
      rollback = function(ctx)        -- idempotent: a route still as before is left alone
        local cms, site = federation.cms(ctx), federation.site_of(ctx)
        federation.forget_route(ctx)
        local previous = ctx.data.previous_route
        if previous == nil then return ctx.note(say("route_unknown")) end
        local current = lync.federation_route(cms, site)
        if federation.bare_route(current) == federation.bare_route(previous or nil) then return end
        if previous then lync.set_federation_route(cms, site, previous)
        else lync.clear_federation_route(cms, site) end
      end },

    { id = "cms-replication",
      title = "The Central Management Store has replicated the new route to the Edge servers",
      needs = federation.needs.replication,
      check = federation.replicated,
      changes_nothing = true,    -- it waits: there is nothing to roll back
      run = function(ctx)
        lync.wait_until_replicated(federation.cms(ctx), federation.edge_names(ctx), {
          timeout = ctx.params.replication_timeout, interval = federation.poll(ctx, 5) })
      end },

    { id = "dns-a-record",
      title = "On the external DNS server, point the XMPP federation A record at the new Edge "
        .. "pool",
      needs = federation.needs.dns,
      check = function(ctx)    -- and the AAAA record: the new pool's public IPv6, or none
        local name, addresses, shown = ctx.inventory.dns.xmpp_host, federation.addresses,
                                       federation.shown
        local a, aaaa = federation.address_records(ctx)
        local wanted, why = federation.wanted_a(ctx)
        local wanted6 = federation.wanted_aaaa(ctx)
        local six = (#aaaa > 0 or #wanted6 > 0)
        return addresses(a) == addresses(wanted) and addresses(aaaa) == addresses(wanted6),
          ("%s A %s"):format(name, shown(a)) .. (six and ", AAAA " .. shown(aaaa) or ""),
          ("%s A %s"):format(name, shown(wanted)) .. (six and ", AAAA " .. shown(wanted6) or "")
            .. why
      end,
      run = function(ctx)
        local name = ctx.inventory.dns.xmpp_host
        local a, aaaa = federation.address_records(ctx)
        federation.remember(ctx, "old_a", a)
        federation.remember(ctx, "old_aaaa", aaaa)
        federation.replace(ctx, name, "A", (federation.wanted_a(ctx)))
        local wanted6 = federation.wanted_aaaa(ctx)
        if federation.addresses(aaaa) ~= federation.addresses(wanted6) then
          federation.replace(ctx, name, "AAAA", wanted6)
        end
      end,
      rollback = function(ctx)
        local old = ctx.data.old_a
        if not old and ctx.params.from_pool then
          old = { { address = estate.pool(ctx, ctx.params.from_pool).public_ip } }
        end
        if old then federation.restore(ctx, ctx.inventory.dns.xmpp_host, "A", old) end
        if ctx.data.old_aaaa then
          federation.restore(ctx, ctx.inventory.dns.xmpp_host, "AAAA", ctx.data.old_aaaa)
        end
      end },

    { id = "dns-srv-record",
      title = "The SRV record _xmpp-server._tcp (port 5269) resolves to the new Edge pool",
      hosts = federation.sip_domains,    -- every SIP domain federated over XMPP has its own
      needs = federation.needs.dns,
      check = function(ctx, domain)    -- the readiness audit asks the same pool_srv_verdict
        local records = federation.srv_records(ctx, domain)
        local wanted, as_before = federation.wanted_srvs(ctx, records, domain)
        if as_before then
          return federation.same_srv(records, wanted), federation.describe_srv(records),
            federation.describe_srv(wanted) .. say("as_before")
        end
        local right, detail = federation.pool_srv_verdict(ctx, federation.target(ctx), records)
        return right, right and detail or federation.describe_srv(records),
          federation.describe_srv(wanted)
      end,
      run = function(ctx, domain)
        local records = federation.srv_records(ctx, domain)
        federation.remember(ctx, "old_srv." .. domain, records)  -- the standby pools' records stay
        federation.replace(ctx, federation.srv_name(ctx, domain), "SRV",
                           (federation.wanted_srvs(ctx, records, domain)))
      end,
      rollback = function(ctx, domain)
        local old = ctx.data["old_srv." .. domain]
        if old then federation.restore(ctx, federation.srv_name(ctx, domain), "SRV", old) end
      end },

    { id = "port-5269",
      title = "Port 5269 of the new Edge pool is open externally",
      guidance = "filtered means a firewall drops the traffic: open it (and its NAT to the "
        .. "Access Edge)",
      needs = federation.needs.vantage,
      check = federation.port_passes },

    { id = "start-services",
      title = "Start the services on every Edge server of the new pool",
      hosts = federation.edges,
      needs = federation.needs.edges,
      check = function(ctx, host)
        local running, detail = federation.all_in(federation.statuses(host), "Running")
        if not federation.route_moved(ctx) then  -- stop-services stops them first: decided later
          return { ok = false, later = true, saw = say("not_moved_yet", detail) }
        end
        return { ok = running, saw = detail, want = "Running" }
      end,
      run = function(ctx, host)
        lync.start_services(host, { computer = host.name, timeout = ctx.params.service_timeout,
                                    interval = federation.poll(ctx, 1) })
      end,
      verify = function(ctx, host)   -- and, the services running, 23456 from the Front End
        local running, detail = federation.all_in(federation.statuses(host), "Running")
        if not running then return false, detail end
        local reached, seen = federation.gateway_reached(ctx, host)
        return reached, detail .. "; " .. seen
      end,
      rollback = restore_services },

    { id = "federation-answers",
      title = "XMPP federation answers on the new Edge pool",
      guidance = "see docs/verification.md for what the failed stage means",
      needs = federation.needs.vantage,
      check = federation.answers },
  },
}
