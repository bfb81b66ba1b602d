--- federation — the steps that move XMPP federation to an Edge pool (Microsoft's seven-step
-- procedure, JJ688065, with what it gets wrong put right), shared by xmpp-failover and
-- xmpp-failback, which differ only in which pool is the target.
--
-- Corrections to the published procedure, each in the step that needs it:
-- * step 2 stops every Lync service except the Replica Replicator Agent (REPLICA): the
--   Edge servers must receive the new route from the Central Management Store before
--   their services start again (step 3b), and only the replica agent can receive it;
-- * step 3 uses the parameter Set-CsSite really has: the cmdlet reference's
--   -XmppFederationRoute EdgeServer:<fqdn>, or the procedure's -XmppExternalFederationRoute;
-- * step 3b (missing from the procedure) waits until CMS replication reports the Edge
--   servers up to date, else services start with the old route;
-- * step 4 puts the pool's public Access Edge IP (after NAT, from the inventory) in the A
--   record, never an FQDN, and waits until every authoritative server serves it;
-- * step 6 checks 5269 from outside the perimeter: "closed" is fine while services are
--   stopped (the firewall passes, nothing listens); "filtered" names the firewall.
local estate = require "estate"
local lync = require "lync"
local propagation = require "dns.propagation"
local xmpp = require "xmpp"

local M = {}

local XMPP_PORT, GATEWAY_PORT = 5269, 23456

-- ------------------------------------------------------------------ facts

local function poll(ctx, normal)
  return ctx.simulation and 0.01 or normal
end

local function target(ctx) return ctx.params.to_pool end
local function cms(ctx) return estate.cms(ctx) end

local function bare_route(route)
  return route and (route:gsub("^[Ee]dge[Ss]erver:", ""):lower()) or nil
end

local function site_of(ctx)
  if ctx.params.site then return ctx.params.site end
  if not ctx.data.site then
    ctx.data.site = (lync.pool(cms(ctx), target(ctx)).Site or ""):gsub("^Site:", "")
  end
  return ctx.data.site
end

-- Whether the site already routes to the target. Asked by every Edge server's check at
-- once, so it is asked of the CMS once and remembered until step 3 changes the route.
local function route_moved(ctx)
  if ctx.data.route_moved == nil then
    ctx.data.route_moved = bare_route(lync.federation_route(cms(ctx), site_of(ctx)))
      == target(ctx):lower()
  end
  return ctx.data.route_moved
end

local function forget_route(ctx) ctx.data.route_moved = nil end

local function statuses(host)
  local map, list = {}, lync.services(host, { computer = host.name })
  for _, service in ipairs(list) do map[service.Name] = service.Status end
  return map, list
end

-- Whether every service (but `except`) is in state, and what is not; map from statuses().
local function all_in(map, state, except)
  local behind = {}
  for name, status in pairs(map) do
    if name ~= except and status ~= state then behind[#behind + 1] = name .. "=" .. status end
  end
  table.sort(behind)
  return #behind == 0, #behind == 0 and ("all " .. state) or table.concat(behind, ", ")
end

local function edges(ctx) return estate.edge_servers(ctx, target(ctx)) end

local function edge_names(ctx)
  local names = {}
  for i, host in ipairs(edges(ctx)) do names[i] = host.name end
  return names
end

local function srv_name(ctx) return "_xmpp-server._tcp." .. ctx.inventory.domain end

local function dns_call(ok, message)
  if not ok then error("[federation] " .. tostring(message), 0) end
  return ok
end

-- Waits until every authoritative server answers with the records, with progress.
local function wait_propagation(ctx, name, type, records)
  local dns = ctx.inventory.dns
  local result, message = propagation.wait {
    zone = dns.zone, name = name, type = type, records = records,
    servers = estate.authoritative(ctx), query = estate.query(ctx),
    deadline = dns.propagation_timeout or 300, interval = poll(ctx, 2),
    progress = function(event)
      if event.converged then
        ctx.note(("%s serves the new %s %s"):format(tostring(event.server), type, name))
      end
    end,
  }
  if not result then error("[federation] " .. tostring(message), 0) end
  if result.old_ttl then
    ctx.note(("resolvers may hand out the old %s %s for up to %d s more"):format(type, name,
      result.old_ttl))
  end
end

-- ------------------------------------------------------------------ the steps

local T = {}   -- titles, after the seed documents

T.deployed = {
  en = "The Edge pool that will host XMPP federation is deployed",
  de = "Der Edgepool, in dem jetzt der XMPP-Verbund gehostet wird, ist bereitgestellt",
  fr = "Le pool de serveurs Edge qui va héberger la fédération XMPP est déployé" }
T.stop = {
  en = "Stop-CsWindowsService on every Edge server of the new pool",
  de = "Stop-CsWindowsService auf jedem Edgeserver im neuen Edgepool ausführen",
  fr = "Exécuter Stop-CsWindowsService sur chaque serveur Edge du nouveau pool" }
T.route = {
  en = "Set-CsSite: point the XMPP federation route at the new Edge pool",
  de = "Set-CsSite: die XMPP-Verbundroute wieder auf den neuen Edgepool zeigen lassen",
  fr = "Set-CsSite : faire pointer l’itinéraire de fédération XMPP vers le nouveau pool" }
T.replication = {
  en = "The Central Management Store has replicated the new route to the Edge servers",
  de = "Der zentrale Verwaltungsspeicher hat die neue Route auf die Edgeserver repliziert",
  fr = "Le magasin central de gestion a répliqué le nouvel itinéraire vers les serveurs Edge" }
T.a_record = {
  en = "On the external DNS server, point the XMPP federation A record at the new Edge pool",
  de = "Auf dem externen DNS-Server den DNS-A-Eintrag für den XMPP-Partnerverbund auf den neuen Edgepool verweisen lassen",
  fr = "Sur le serveur DNS externe, modifier l’enregistrement DNS A de la fédération XMPP vers le nouveau pool" }
T.srv_record = {
  en = "The SRV record _xmpp-server._tcp (port 5269) resolves to the new Edge pool",
  de = "Der DNS-SRV-Eintrag _xmpp-server._tcp (Port 5269) wird in den neuen Edgepool aufgelöst",
  fr = "L’enregistrement SRV _xmpp-server._tcp (port 5269) correspond au nouveau pool" }
T.port = {
  en = "Port 5269 of the new Edge pool is open externally",
  de = "Port 5269 ist für den neuen Edgepool extern geöffnet",
  fr = "Le port externe 5269 du nouveau pool de serveurs Edge est ouvert" }
T.start = {
  en = "Start the services on every Edge server of the new pool",
  de = "Die Dienste auf allen Edgeservern im neuen Edgepool starten",
  fr = "Démarrer les services de tous les serveurs Edge du nouveau pool" }
T.answers = {
  en = "XMPP federation answers on the new Edge pool",
  de = "Der XMPP-Partnerverbund antwortet auf dem neuen Edgepool",
  fr = "La fédération XMPP répond sur le nouveau pool" }
M.TITLES = T

local function step_deployed()
  return { id = "pool-deployed", title = T.deployed,
    guidance = { en = "deploy the Edge pool first (Deploying External User Access in Lync Server 2013)",
      de = "stellen Sie den Edgepool zuerst bereit (Bereitstellen des Zugriffs durch externe Benutzer in Lync Server 2013)",
      fr = "déployez d’abord le pool (Deploying External User Access in Lync Server 2013)" },
    check = function(ctx)
      estate.pool(ctx, target(ctx))
      local ok, servers = pcall(lync.edge_servers_of, cms(ctx), target(ctx))
      if not ok then return false, tostring(servers) end
      if #servers == 0 then return false, target(ctx) .. " has no Edge server" end
      return true, ("%s: %s"):format(target(ctx), table.concat(servers, ", "))
    end }
end

local function step_stop()
  return { id = "stop-services", title = T.stop,
    hosts = edges,
    check = function(ctx, host)
      local map = statuses(host)
      if all_in(map, "Running") and route_moved(ctx) then
        return true, "federation already moved, running"
      end
      local stopped, detail = all_in(map, "Stopped", "REPLICA")
      return stopped, detail, "Stopped (REPLICA keeps running for CMS replication)"
    end,
    run = function(ctx, host)
      local names = {}
      for _, service in ipairs(select(2, statuses(host))) do
        if service.Name ~= "REPLICA" then names[#names + 1] = service.Name end
      end
      lync.stop_services(host, { computer = host.name, names = names,
        timeout = ctx.params.service_timeout, interval = poll(ctx, 1) })
      ctx.data.services_stopped = true
    end,
    rollback = function(ctx, host)
      lync.start_services(host, { computer = host.name, timeout = ctx.params.service_timeout,
                                  interval = poll(ctx, 1) })
    end }
end

local function step_route()
  return { id = "federation-route", title = T.route,
    check = function(ctx)
      local current, parameter = lync.federation_route(cms(ctx), site_of(ctx))
      if bare_route(current) == target(ctx):lower() then return true, current end
      local change = lync.route_change(cms(ctx), site_of(ctx), target(ctx))
      return false, ("%s -%s %s"):format(site_of(ctx), parameter, tostring(current or "(none)")),
        change.command
    end,
    run = function(ctx)
      forget_route(ctx)
      local result = lync.set_federation_route(cms(ctx), site_of(ctx), target(ctx))
      ctx.data.previous_route = result.previous or false   -- false: the site had none
      ctx.note(("Set-CsSite used -%s (the parameter this server has)"):format(result.parameter))
    end,
    rollback = function(ctx)
      forget_route(ctx)
      local previous = ctx.data.previous_route
      if previous then lync.set_federation_route(cms(ctx), site_of(ctx), previous)
      elseif previous == false then lync.clear_federation_route(cms(ctx), site_of(ctx))
      else ctx.note("the route before this run is unknown (resumed run): left as it is") end
    end }
end

local function step_replication()
  return { id = "cms-replication", title = T.replication,
    check = function(ctx)
      if not route_moved(ctx) then return false, "route not set yet", "Edge servers up to date" end
      local wanted, behind = {}, {}
      for _, name in ipairs(edge_names(ctx)) do wanted[name:lower()] = true end
      for _, replica in ipairs(lync.replication_status(cms(ctx))) do
        if wanted[replica.ReplicaFqdn:lower()] and not replica.UpToDate then
          behind[#behind + 1] = replica.ReplicaFqdn
        end
      end
      if #behind == 0 then return true, "up to date" end
      return false, "behind: " .. table.concat(behind, ", "), "up to date"
    end,
    run = function(ctx)
      lync.wait_until_replicated(cms(ctx), edge_names(ctx), {
        timeout = ctx.params.replication_timeout, interval = poll(ctx, 5) })
    end }
end

local function addresses(records)
  local list = {}
  for i, record in ipairs(records) do list[i] = record.address end
  table.sort(list)
  return table.concat(list, ", ")
end

local function step_a_record()
  return { id = "dns-a-record", title = T.a_record,
    check = function(ctx)
      local name = ctx.inventory.dns.xmpp_host
      local records = dns_call(estate.dns(ctx).get(name, "A"))
      local holds = #records == 1 and records[1].address == ctx.params.public_ip
      return holds, ("%s A %s"):format(name, #records > 0 and addresses(records) or "(none)"),
        ("%s A %s"):format(name, ctx.params.public_ip)
    end,
    run = function(ctx)
      local name, dns = ctx.inventory.dns.xmpp_host, estate.dns(ctx)
      ctx.data.old_a = dns_call(dns.get(name, "A"))
      local wanted = { { address = ctx.params.public_ip } }
      dns_call(dns.set(name, "A", wanted, ctx.inventory.dns.ttl))
      wait_propagation(ctx, name, "A", wanted)
    end,
    rollback = function(ctx)
      local name = ctx.inventory.dns.xmpp_host
      local old = ctx.data.old_a
      if not old and ctx.params.from_pool then
        old = { { address = estate.pool(ctx, ctx.params.from_pool).public_ip } }
      end
      if old then
        local dns = estate.dns(ctx)
        dns.get(name, "A")
        dns_call(dns.set(name, "A", old, ctx.inventory.dns.ttl))
      end
    end }
end

local function wanted_srv(ctx)
  return { priority = ctx.params.srv_priority, weight = 0, port = XMPP_PORT,
           target = ctx.inventory.dns.xmpp_host }
end

local function has_srv(records, wanted)
  for _, record in ipairs(records) do
    if record.target:lower():gsub("%.$", "") == wanted.target:lower() and record.port == wanted.port then
      return true
    end
  end
  return false
end

local function describe_srv(records)
  local list = {}
  for i, r in ipairs(records) do list[i] = ("%d %d %d %s"):format(r.priority, r.weight, r.port, r.target) end
  return #list > 0 and table.concat(list, "; ") or "(none)"
end

local function step_srv_record()
  return { id = "dns-srv-record", title = T.srv_record,
    check = function(ctx)
      local records = dns_call(estate.dns(ctx).get(srv_name(ctx), "SRV"))
      local wanted = wanted_srv(ctx)
      return has_srv(records, wanted), describe_srv(records), "+ " .. describe_srv { wanted }
    end,
    run = function(ctx)
      local dns = estate.dns(ctx)
      local records = dns_call(dns.get(srv_name(ctx), "SRV"))
      ctx.data.old_srv = records
      local new = {}
      for i, record in ipairs(records) do new[i] = record end
      new[#new + 1] = wanted_srv(ctx)        -- the standby pools' records stay
      dns_call(dns.set(srv_name(ctx), "SRV", new, ctx.inventory.dns.ttl))
      wait_propagation(ctx, srv_name(ctx), "SRV", new)
    end,
    rollback = function(ctx)
      if not ctx.data.old_srv then return end
      local dns = estate.dns(ctx)
      dns.get(srv_name(ctx), "SRV")
      dns_call(dns.set(srv_name(ctx), "SRV", ctx.data.old_srv, ctx.inventory.dns.ttl))
    end }
end

-- What a state seen from outside means at this point of the run, beyond pass or fail.
local function port_remark(ctx, state)
  if state == "open" and ctx.data.services_stopped then
    return " (although the new pool's services are stopped: something else answers on this"
      .. " address — check that the NAT rule leads to the new pool's Access Edge)"
  elseif state == "unreachable" then
    return (" (no route from %s: check public_ip in the inventory and the vantage host's"
      .. " network)"):format(estate.vantage_name(ctx))
  end
  return ""
end

local function step_port()
  return { id = "port-5269", title = T.port,
    guidance = {
      en = "filtered means a firewall drops the traffic: open it (and its NAT to the Access Edge)",
      de = "gefiltert heißt, eine Firewall verwirft den Verkehr: Port freigeben (samt NAT zur "
        .. "Access-Edge)",
      fr = "filtré signifie qu’un pare-feu rejette le trafic : ouvrez-le (et sa traduction NAT "
        .. "vers l’Access Edge)" },
    check = function(ctx)
      local outside = estate.net(ctx, "vantage").connect { host = ctx.params.public_ip,
        port = XMPP_PORT, timeout = 5 }
      local seen = { ("%s:%d from %s: %s"):format(ctx.params.public_ip, XMPP_PORT,
        estate.vantage_name(ctx), outside.state) .. port_remark(ctx, outside.state) }
      local ok = outside.state == "open" or outside.state == "closed"
      for _, host in ipairs(edges(ctx)) do
        local address = host.internal_address
        if address then
          local inside = estate.net(ctx, "inside").connect { host = address, port = GATEWAY_PORT,
                                                           timeout = 5 }
          seen[#seen + 1] = ("%s:%d (XMPP gateway, internal): %s"):format(address, GATEWAY_PORT,
                                                                         inside.state)
          ok = ok and (inside.state == "open" or inside.state == "closed")
        end
      end
      return ok, table.concat(seen, "; ")
    end }
end

local function step_start()
  return { id = "start-services", title = T.start,
    hosts = edges,
    check = function(ctx, host)
      local running, detail = all_in(statuses(host), "Running")
      if not route_moved(ctx) then return false, detail .. " (route not moved yet)", "Running" end
      return running, detail, "Running"
    end,
    run = function(ctx, host)
      lync.start_services(host, { computer = host.name, timeout = ctx.params.service_timeout,
                                  interval = poll(ctx, 1) })
    end,
    verify = function(_, host)
      return all_in(statuses(host), "Running")
    end }
end

local function step_answers()
  return { id = "federation-answers", title = T.answers,
    guidance = { en = "see docs/verification.md for what the failed stage means" },
    check = function(ctx)
      local query = estate.query(ctx)
      local result = xmpp.probe {
        domain = ctx.inventory.domain, timeout = 5, net = estate.probe_net(ctx),
        from = estate.probe_from(ctx), ca_file = estate.ca_file(ctx),
        resolver = function(name, type)
          local answer = query { name = name, type = type }
          return answer and answer.records or {}
        end }
      if not result.ok then
        return false, ("stage %s failed: %s"):format(result.failed, result[result.failed].detail)
      end
      local detail = result.connect.detail or ""
      if not detail:find(ctx.params.public_ip, 1, true) then
        return false, "federation answers, but not on the new pool: " .. detail
      end
      return true, detail
    end }
end

--- steps() -> the steps of moving XMPP federation to ctx.params.to_pool, in order
function M.steps()
  return { step_deployed(), step_stop(), step_route(), step_replication(), step_a_record(),
           step_srv_record(), step_port(), step_start(), step_answers() }
end

--- params(direction) -> the runbook parameters; direction "failover" targets
-- inventory.failover.to_pool, "failback" returns to inventory.failover.from_pool.
function M.params(direction)
  local function to(inventory)
    local f = inventory.failover or {}
    return direction == "failback" and f.from_pool or f.to_pool
  end
  local function from(inventory)
    local f = inventory.failover or {}
    return direction == "failback" and f.to_pool or f.from_pool
  end
  local function pool_field(field, fallback)
    return function(inventory)
      local pool = (inventory.pools or {})[to(inventory) or ""]
      return pool and pool[field] or fallback
    end
  end
  return {
    to_pool = { type = "string", required = true, default = to,
                description = "the Edge pool that will host XMPP federation (FQDN)" },
    from_pool = { type = "string", default = from, description = "the pool it leaves" },
    site = { type = "string", description = "the site of the new pool (default: discovered)" },
    public_ip = { type = "string", required = true, default = pool_field("public_ip"),
                  pattern = "^[%x:%.]+$",
                  description = "the new pool's public Access Edge IP (after NAT), never an FQDN" },
    srv_priority = { type = "integer", default = pool_field("srv_priority", 10),
                     description = "priority of the new pool's SRV record" },
    service_timeout = { type = "number", default = 300,
                        description = "seconds the services may take to stop or start" },
    replication_timeout = { type = "number", default = 600,
                            description = "seconds CMS replication may take" },
  }
end

return M
