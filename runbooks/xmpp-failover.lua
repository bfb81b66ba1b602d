--- Fail over XMPP federation to another Edge pool (Lync Server 2013 / Skype for Business)
-- Microsoft's procedure "Failing over the Edge pool used for XMPP federation" (JJ688065),
-- step by step, with what it gets wrong or leaves out put right:
-- * step 2 stops every Lync service but the Replica Replicator Agent (REPLICA): the Edge
--   servers must still receive the new route from the Central Management Store;
-- * step 3 uses the parameter Set-CsSite really has: the cmdlet reference's
--   -XmppFederationRoute EdgeServer:<pool>, or the procedure's -XmppExternalFederationRoute;
-- * a step the procedure lacks waits until the CMS has replicated the route to the Edge
--   servers, else their services start with the old one;
-- * step 4 gives the A record the pool's public Access Edge IP (after NAT), never an FQDN,
--   and waits until every authoritative server serves it;
-- * step 6 checks 5269 from outside the perimeter: closed is fine while the services are
--   stopped (the firewall passes, nothing listens), filtered names the firewall.
-- Every value comes from the inventory or --set (docs/inventory.md). Adapt it to your
-- organization with runbook.extend (examples/custom-failover.lua), not with a copy.
local estate = require "estate"
local f = require "federation"
local failure = require "runbook.failure"
local lync = require "lync"
local runbook = require "runbook"

local REPLICA_NOTE = "(REPLICA keeps running for CMS replication)"

-- The rollback of both service steps, also for a host where only some services changed:
-- every service that ran before the run runs again (all of them when the journal has no
-- list); starting a running service changes nothing.
local function restore_services(ctx, host)
  local running = ctx.data["running_before." .. host.name]
  lync.start_services(host, { computer = host.name, names = running,
    timeout = ctx.params.service_timeout, interval = f.poll(ctx, 1) })
end

return runbook.define {
  id = "xmpp-failover",
  title = { en = "Fail over the Edge pool used for XMPP federation",
            de = "Failover für den Edgepool, der für den XMPP-Partnerverbund verwendet wird",
            fr = "Basculement du pool de serveurs Edge utilisé pour la fédération XMPP" },
  params = f.params("failover"),
  inventory = estate.schema,
  lease = f.lease,          -- one run at a time against this estate, from any machine
  steps = {
    { id = "pool-deployed",
      title = { en = "The Edge pool that will host XMPP federation is deployed",
                de = "Der Edgepool, in dem jetzt der XMPP-Verbund gehostet wird, ist bereitgestellt",
                fr = "Le pool de serveurs Edge qui va héberger la fédération XMPP est déployé" },
      guidance = {
        en = "deploy the Edge pool first (Deploying External User Access in Lync Server 2013); "
          .. "a prerequisite the check names is docs/inventory.md's \"Prerequisites\"",
        de = "stellen Sie den Edgepool zuerst bereit (Bereitstellen des Zugriffs durch externe "
          .. "Benutzer in Lync Server 2013)",
        fr = "déployez d’abord le pool (Deploying External User Access in Lync Server 2013)" },
      check = function(ctx)
        estate.pool(ctx, f.target(ctx))
        local ok, servers = pcall(lync.edge_servers_of, f.cms(ctx), f.target(ctx))
        -- only the server's answer "no such Edge pool" is this step's verdict; a server
        -- that could not be asked is reported as what it is, without this guidance
        if not ok and failure.cause(servers) ~= "not-found" then error(servers, 0) end
        if not ok then return false, tostring(servers) end
        if #servers == 0 then return false, f.target(ctx) .. " has no Edge server" end
        f.edges(ctx)        -- an exclusion that leaves no Edge server fails here, in the plan
        -- and can host XMPP federation: partners, federation, version, certificates
        local ready, detail = f.prerequisites(ctx, f.target(ctx))
        if not ready then return false, detail end
        local answers, where = f.cms_master(ctx)        -- Set-CsSite needs the CMS master
        if not answers then return false, where end
        detail = detail .. "; " .. where
        return true, ("%s: %s (%s); %s"):format(f.target(ctx), table.concat(servers, ", "),
                                                f.mode_note(ctx), detail)
      end },

    { id = "old-pool-xmpp",
      title = { en = "Planned maintenance: stop the XMPP proxy on the old pool's Edge servers",
                de = "Geplante Wartung: den XMPP-Proxy auf den Edgeservern des alten Pools "
                  .. "beenden",
                fr = "Maintenance planifiée : arrêter le proxy XMPP des serveurs Edge de "
                  .. "l’ancien pool" },
      needs = f.needs.old_edges,
      check = f.old_xmpp_stopped,     -- mode dead-pool: holds, saying the old pool is not asked
      run = f.stop_old_xmpp,
      rollback = f.start_old_xmpp },

    { id = "stop-services",
      title = { en = "Stop-CsWindowsService on every Edge server of the new pool",
                de = "Stop-CsWindowsService auf jedem Edgeserver im neuen Edgepool ausführen",
                fr = "Exécuter Stop-CsWindowsService sur chaque serveur Edge du nouveau pool de "
                  .. "serveurs Edge qui va héberger la fédération XMPP" },
      hosts = f.edges,
      needs = f.needs.edges,
      check = function(ctx, host)
        local map = f.statuses(host)
        if f.all_in(map, "Running") and f.route_moved(ctx) then
          return true, "federation already moved, running"
        end
        local stopped, detail = f.all_in(map, "Stopped", "REPLICA")
        return stopped, detail, "Stopped " .. REPLICA_NOTE
      end,
      run = function(ctx, host)
        local names, running = {}, {}
        for _, service in ipairs(select(2, f.statuses(host))) do
          if service.Name ~= "REPLICA" then names[#names + 1] = service.Name end
          if service.Status == "Running" then running[#running + 1] = service.Name end
        end
        ctx.remember("running_before." .. host.name, running)   -- what rollback restarts
        lync.stop_services(host, { computer = host.name, names = names,
          timeout = ctx.params.service_timeout, interval = f.poll(ctx, 1) })
        ctx.data.services_stopped = true
      end,
      rollback = restore_services },

    { id = "federation-route",
      title = { en = "Set-CsSite: point the XMPP federation route at the new Edge pool",
                de = "Set-CsSite: die XMPP-Verbundroute wieder auf den neuen Edgepool zeigen lassen",
                fr = "Set-CsSite : faire pointer à nouveau l’itinéraire de fédération XMPP vers le "
                  .. "nouveau pool" },
      needs = f.needs.route,
      check = function(ctx)    -- and names the other sites that still route to the old pool
        local site = f.site_of(ctx)
        local current, parameter = lync.federation_route(f.cms(ctx), site)
        local others = f.other_sites_note(ctx)
        if f.bare_route(current) == f.target(ctx):lower() then return true, current .. others end
        local change = lync.route_change(f.cms(ctx), site, f.target(ctx))
        return false, ("%s -%s %s"):format(site, parameter, current or "(none)") .. others,
          f.export_plan(ctx) .. change.command
      end,
      run = function(ctx)
        f.forget_route(ctx)
        f.export_configuration(ctx)       -- before the topology changes, journaled
        local previous = lync.federation_route(f.cms(ctx), f.site_of(ctx))
        f.remember(ctx, "route_site", f.site_of(ctx))
        f.remember(ctx, "previous_route", previous or false)   -- false: there was none
        local result = lync.set_federation_route(f.cms(ctx), f.site_of(ctx), f.target(ctx))
        ctx.note(f.say("parameter_used", result.parameter))
      end,
      rollback = function(ctx)        -- idempotent: a route still as before is left alone
        f.forget_route(ctx)
        local previous = ctx.data.previous_route
        if previous == nil then return ctx.note(f.say("route_unknown")) end
        local current = lync.federation_route(f.cms(ctx), f.site_of(ctx))
        if f.bare_route(current) == f.bare_route(previous or nil) then return end
        if previous then lync.set_federation_route(f.cms(ctx), f.site_of(ctx), previous)
        else lync.clear_federation_route(f.cms(ctx), f.site_of(ctx)) end
      end },

    { id = "cms-replication",
      title = { en = "The Central Management Store has replicated the new route to the Edge servers",
                de = "Der zentrale Verwaltungsspeicher hat die neue Route auf die Edgeserver repliziert",
                fr = "Le magasin central de gestion a répliqué le nouvel itinéraire vers les serveurs Edge" },
      needs = f.needs.replication,
      check = f.replicated,
      changes_nothing = true,    -- it waits: there is nothing to roll back
      run = function(ctx)
        lync.wait_until_replicated(f.cms(ctx), f.edge_names(ctx), {
          timeout = ctx.params.replication_timeout, interval = f.poll(ctx, 5) })
      end },

    { id = "dns-a-record",
      title = { en = "On the external DNS server, point the XMPP federation A record at the new Edge pool",
                de = "Auf dem externen DNS-Server den DNS-A-Eintrag für den XMPP-Partnerverbund auf "
                  .. "den neuen Edgepool verweisen lassen",
                fr = "Sur le serveur DNS externe, modifier l’enregistrement DNS A afin que la "
                  .. "fédération XMPP pointe vers le nouveau pool" },
      needs = f.needs.dns,
      check = function(ctx)    -- and the AAAA record: the new pool's public IPv6, or none
        local name = ctx.inventory.dns.xmpp_host
        local a, aaaa = f.address_records(ctx)
        local wanted, why = f.wanted_a(ctx)
        local wanted6 = f.wanted_aaaa(ctx)
        local six = (#aaaa > 0 or #wanted6 > 0)
        return f.addresses(a) == f.addresses(wanted) and f.addresses(aaaa) == f.addresses(wanted6),
          ("%s A %s"):format(name, f.shown(a)) .. (six and ", AAAA " .. f.shown(aaaa) or ""),
          ("%s A %s"):format(name, f.shown(wanted)) .. (six and ", AAAA " .. f.shown(wanted6)
                                                           or "") .. why
      end,
      run = function(ctx)
        local name = ctx.inventory.dns.xmpp_host
        local a, aaaa = f.address_records(ctx)
        f.remember(ctx, "old_a", a)
        f.remember(ctx, "old_aaaa", aaaa)
        f.replace(ctx, name, "A", (f.wanted_a(ctx)))
        local wanted6 = f.wanted_aaaa(ctx)
        if f.addresses(aaaa) ~= f.addresses(wanted6) then f.replace(ctx, name, "AAAA", wanted6) end
      end,
      rollback = function(ctx)
        local old = ctx.data.old_a
        if not old and ctx.params.from_pool then
          old = { { address = estate.pool(ctx, ctx.params.from_pool).public_ip } }
        end
        if old then f.restore(ctx, ctx.inventory.dns.xmpp_host, "A", old) end
        if ctx.data.old_aaaa then
          f.restore(ctx, ctx.inventory.dns.xmpp_host, "AAAA", ctx.data.old_aaaa)
        end
      end },

    { id = "dns-srv-record",
      title = { en = "The SRV record _xmpp-server._tcp (port 5269) resolves to the new Edge pool",
                de = "Der DNS-SRV-Eintrag _xmpp-server._tcp (Port 5269) wird in den neuen Edgepool aufgelöst",
                fr = "L’enregistrement DNS SRV _xmpp-server._tcp (port 5269) de la fédération XMPP "
                  .. "correspond au pool de serveurs Edge qui va héberger la fédération XMPP" },
      hosts = f.sip_domains,    -- every SIP domain federated over XMPP has its own
      needs = f.needs.dns,
      check = function(ctx, domain)    -- the readiness audit asks the same f.pool_srv_verdict
        local records = f.srv_records(ctx, domain)
        local wanted, as_before = f.wanted_srvs(ctx, records, domain)
        if as_before then
          return f.same_srv(records, wanted), f.describe_srv(records),
            f.describe_srv(wanted) .. f.say("as_before")
        end
        local right, detail = f.pool_srv_verdict(ctx, f.target(ctx), records)
        return right, right and detail or f.describe_srv(records), f.describe_srv(wanted)
      end,
      run = function(ctx, domain)
        local records = f.srv_records(ctx, domain)
        f.remember(ctx, "old_srv." .. domain, records)     -- the standby pools' records stay
        f.replace(ctx, f.srv_name(ctx, domain), "SRV", (f.wanted_srvs(ctx, records, domain)))
      end,
      rollback = function(ctx, domain)
        local old = ctx.data["old_srv." .. domain]
        if old then f.restore(ctx, f.srv_name(ctx, domain), "SRV", old) end
      end },

    { id = "port-5269",
      title = { en = "Port 5269 of the new Edge pool is open externally",
                de = "Port 5269 ist für den neuen Edgepool extern geöffnet",
                fr = "Le port externe 5269 du pool de serveurs Edge qui va héberger la fédération "
                  .. "XMPP est ouvert" },
      guidance = {
        en = "filtered means a firewall drops the traffic: open it (and its NAT to the Access Edge)",
        de = "gefiltert heißt, eine Firewall verwirft den Verkehr: Port freigeben (samt NAT zur "
          .. "Access-Edge)",
        fr = "filtré signifie qu’un pare-feu rejette le trafic : ouvrez-le (et sa traduction NAT "
          .. "vers l’Access Edge)" },
      needs = f.needs.vantage,
      check = f.port_passes },

    { id = "start-services",
      title = { en = "Start the services on every Edge server of the new pool",
                de = "Die Dienste auf allen Edgeservern im neuen Edgepool starten",
                fr = "Démarrer les services de tous les serveurs Edge du pool de serveurs Edge qui va "
                  .. "héberger la fédération XMPP" },
      hosts = f.edges,
      needs = f.needs.edges,
      check = function(ctx, host)
        local running, detail = f.all_in(f.statuses(host), "Running")
        if not f.route_moved(ctx) then    -- step 2 stops them first: decided when we get here
          return { ok = false, later = true, saw = detail .. " now (the route is not moved yet)" }
        end
        return { ok = running, saw = detail, want = "Running" }
      end,
      run = function(ctx, host)
        lync.start_services(host, { computer = host.name, timeout = ctx.params.service_timeout,
                                    interval = f.poll(ctx, 1) })
      end,
      verify = function(_, host) return f.all_in(f.statuses(host), "Running") end,
      rollback = restore_services },

    { id = "federation-answers",
      title = { en = "XMPP federation answers on the new Edge pool",
                de = "Der XMPP-Partnerverbund antwortet auf dem neuen Edgepool",
                fr = "La fédération XMPP répond sur le nouveau pool" },
      guidance = { en = "see docs/verification.md for what the failed stage means",
                   de = "was die fehlgeschlagene Stufe bedeutet, steht in docs/verification.md",
                   fr = "docs/verification.md explique ce que signifie l’étape en échec" },
      needs = f.needs.vantage,
      check = f.answers },
  },
}
