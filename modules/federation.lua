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
local journal = require "runbook.journal"
local lync = require "lync"
local propagation = require "dns.propagation"
local xmpp = require "xmpp"

local M = {}

local XMPP_PORT, GATEWAY_PORT = 5269, 23456
local AS_BEFORE = " (as before the failover)"

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

-- What a change saw before it, journaled (ctx.remember) under the pool it moved to, so that
-- a resumed run can roll back and a failback can restore it exactly.
local function remember(ctx, key, value)
  if ctx.data.moved_to ~= target(ctx) then ctx.remember("moved_to", target(ctx)) end
  ctx.remember(key, value)
end

-- The failover a failback undoes: what the newest successful run that moved federation to
-- the pool we now leave saw before its changes (or the run of params.undo_journal).
-- nil when the runbook does not undo (failover), or when no such run is known.
local function undoing(ctx)
  if not ctx.params.undo then return nil end
  if ctx.data.undoing == nil then
    local leaving = (ctx.params.from_pool or ""):lower()
    local data, path = journal.remembered { path = ctx.params.undo_journal,
      where = function(seen) return type(seen.moved_to) == "string"
                                    and seen.moved_to:lower() == leaving end }
    if not data and ctx.params.undo_journal then error("[federation] undo_journal " .. path, 0) end
    ctx.data.undoing = data and { data = data, journal = path } or false
    if data then
      ctx.note("undoing the failover of " .. path)
    else
      ctx.note(("no journal of a successful move to %s (%s): the records get the original "
        .. "pool's values and the other site's route stays; --set undo_journal=PATH names "
        .. "one"):format(ctx.params.from_pool or "?", path))
    end
  end
  return ctx.data.undoing and ctx.data.undoing.data or nil
end

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

-- Waits until every authoritative server answers with the records and the primary's SOA
-- serial after the change (when the provider tells it), with progress; then says how long
-- resolvers may still hand out the RRset as it was before (old).
local function wait_propagation(ctx, name, type, records, old)
  local dns, provider = ctx.inventory.dns, estate.dns(ctx)
  local serial = provider.serial and dns_call(provider.serial()) or nil
  local result, message = propagation.wait {
    zone = dns.zone, name = name, type = type, records = records, old = old, serial = serial,
    servers = estate.authoritative(ctx), query = estate.query(ctx),
    deadline = dns.propagation_timeout or 300, interval = poll(ctx, 2),
    progress = function(event)
      if event.converged then
        ctx.note(("%s serves the new %s %s%s"):format(tostring(event.server), type, name,
          event.serial and (" (serial %s)"):format(event.serial) or ""))
      end
    end,
  }
  if not result then error("[federation] " .. tostring(message), 0) end
  if result.old_ttl and old and #old == 0 then
    ctx.note(("resolvers may still answer that %s has no %s record for up to %d s more")
      :format(name, type, result.old_ttl))
  elseif result.old_ttl then
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
T.route_restore = {
  en = "The other site's XMPP federation route is as it was before the failover",
  de = "Die XMPP-Verbundroute des anderen Standorts ist wie vor dem Failover",
  fr = "L’itinéraire de fédération XMPP de l’autre site est tel qu’avant le basculement" }
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
      remember(ctx, "route_site", site_of(ctx))
      remember(ctx, "previous_route", result.previous or false)   -- false: the site had none
      ctx.note(("Set-CsSite used -%s (the parameter this server has)"):format(result.parameter))
    end,
    rollback = function(ctx)
      forget_route(ctx)
      local previous = ctx.data.previous_route
      if previous then lync.set_federation_route(cms(ctx), site_of(ctx), previous)
      elseif previous == false then lync.clear_federation_route(cms(ctx), site_of(ctx))
      else ctx.note("the route before this run was not journaled: left as it is") end
    end }
end

-- The site whose route the undone failover set, when it is not the site we return to, and
-- the route it had before; nil when there is nothing of the kind to restore.
local function route_to_restore(ctx)
  local undo = undoing(ctx)
  if not undo or type(undo.route_site) ~= "string" or undo.previous_route == nil then return nil end
  if undo.route_site:lower() == site_of(ctx):lower() then return nil end
  return undo.route_site, undo.previous_route or nil
end

-- Failback only: the route the failover gave the other site goes back to what it was.
local function step_route_restore()
  return { id = "federation-route-restore", title = T.route_restore,
    check = function(ctx)
      local site, previous = route_to_restore(ctx)
      if not site then return true, "no other site's route to restore" end
      local current, parameter = lync.federation_route(cms(ctx), site)
      return bare_route(current) == bare_route(previous),
        ("%s -%s %s"):format(site, parameter, current or "(none)"),
        ("%s -%s %s%s"):format(site, parameter, previous or "(none)", AS_BEFORE)
    end,
    run = function(ctx)
      local site, previous = route_to_restore(ctx)
      ctx.data.restored_route = { site = site,
        was = lync.federation_route(cms(ctx), site) or false }
      if previous then lync.set_federation_route(cms(ctx), site, previous)
      else lync.clear_federation_route(cms(ctx), site) end
    end,
    rollback = function(ctx)
      local restored = ctx.data.restored_route
      if not restored then return end
      if restored.was then lync.set_federation_route(cms(ctx), restored.site, restored.was)
      else lync.clear_federation_route(cms(ctx), restored.site) end
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

local function shown(records)
  return #records > 0 and addresses(records) or "(none)"
end

-- Puts an RRset back as it was (none: deletes it), without waiting: rollbacks.
local function restore(ctx, name, type, records)
  local dns = estate.dns(ctx)
  dns.get(name, type)                 -- the provider compares against what it read last
  if #records == 0 then dns_call(dns.delete(name, type))
  else dns_call(dns.set(name, type, records, ctx.inventory.dns.ttl)) end
end

-- Replaces an RRset read just before (none: deletes it), then waits until every
-- authoritative server serves it.
local function replace(ctx, name, type, records)
  local dns = estate.dns(ctx)
  local change
  if #records == 0 then change = dns_call(dns.delete(name, type))
  else change = dns_call(dns.set(name, type, records, ctx.inventory.dns.ttl)) end
  wait_propagation(ctx, name, type, records, change.old)
end

-- The A record wanted: the new pool's public IP; when a failback undoes a failover, the
-- record exactly as that failover found it (possibly none).
local function wanted_a(ctx)
  local undo = undoing(ctx)
  if undo and type(undo.old_a) == "table" then
    local list = {}
    for i, record in ipairs(undo.old_a) do list[i] = { address = record.address } end
    return list, AS_BEFORE
  end
  return { { address = ctx.params.public_ip } }, ""
end

local function step_a_record()
  return { id = "dns-a-record", title = T.a_record,
    check = function(ctx)
      local name = ctx.inventory.dns.xmpp_host
      local records = dns_call(estate.dns(ctx).get(name, "A"))
      local wanted, why = wanted_a(ctx)
      return addresses(records) == addresses(wanted), ("%s A %s"):format(name, shown(records)),
        ("%s A %s%s"):format(name, shown(wanted), why)
    end,
    run = function(ctx)
      local name = ctx.inventory.dns.xmpp_host
      remember(ctx, "old_a", dns_call(estate.dns(ctx).get(name, "A")))
      replace(ctx, name, "A", (wanted_a(ctx)))
    end,
    rollback = function(ctx)
      local old = ctx.data.old_a
      if not old and ctx.params.from_pool then
        old = { { address = estate.pool(ctx, ctx.params.from_pool).public_ip } }
      end
      if old then restore(ctx, ctx.inventory.dns.xmpp_host, "A", old) end
    end }
end

local function wanted_srv(ctx)
  return { priority = ctx.params.srv_priority, weight = 0, port = XMPP_PORT,
           target = ctx.inventory.dns.xmpp_host }
end

local function bare_target(record) return (record.target:lower():gsub("%.$", "")) end

local function has_srv(records, wanted)
  for _, record in ipairs(records) do
    if bare_target(record) == bare_target(wanted) and record.port == wanted.port then
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

-- The same SRV records, whatever their order, case or final dot.
local function same_srv(a, b)
  local function keys(records)
    local list = {}
    for i, r in ipairs(records) do
      list[i] = ("%d %d %d %s"):format(r.priority, r.weight, r.port, bare_target(r))
    end
    table.sort(list)
    return table.concat(list, ";")
  end
  return keys(a) == keys(b)
end

-- The SRV records wanted: today's plus the new pool's when missing (the standby pools'
-- records stay); when a failback undoes a failover, exactly those that failover found.
local function wanted_srvs(ctx, records)
  local undo = undoing(ctx)
  if undo and type(undo.old_srv) == "table" then return undo.old_srv, true end
  if has_srv(records, wanted_srv(ctx)) then return records, false end
  local new = {}
  for i, record in ipairs(records) do new[i] = record end
  new[#new + 1] = wanted_srv(ctx)
  return new, false
end

local function step_srv_record()
  return { id = "dns-srv-record", title = T.srv_record,
    check = function(ctx)
      local records = dns_call(estate.dns(ctx).get(srv_name(ctx), "SRV"))
      local wanted, as_before = wanted_srvs(ctx, records)
      return same_srv(records, wanted), describe_srv(records),
        as_before and (describe_srv(wanted) .. AS_BEFORE) or ("+ " .. describe_srv { wanted_srv(ctx) })
    end,
    run = function(ctx)
      local records = dns_call(estate.dns(ctx).get(srv_name(ctx), "SRV"))
      remember(ctx, "old_srv", records)
      replace(ctx, srv_name(ctx), "SRV", (wanted_srvs(ctx, records)))
    end,
    rollback = function(ctx)
      if ctx.data.old_srv then restore(ctx, srv_name(ctx), "SRV", ctx.data.old_srv) end
    end }
end

-- What a state seen from outside means at this point of the run, beyond pass or fail.
local function port_remark(ctx, state)
  if state == "open" and ctx.data.services_stopped then
    return " (although the new pool's services are stopped: something else answers on this"
      .. " address — check that the NAT rule leads to the new pool's Access Edge)"
  elseif state == "unknown" then
    return (" (%s's SSH server says only that the connect failed, not whether a RST or an ICMP"
      .. " rejection ended it: set allow_commands = true for the vantage host so runbook can"
      .. " ask it)"):format(estate.vantage_name(ctx))
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

--- steps(direction) -> the steps of moving XMPP federation to ctx.params.to_pool, in order.
-- A "failback" also puts back the other site's route the failover set; with the failover's
-- journal its A and SRV steps restore the records exactly as that failover found them.
function M.steps(direction)
  local steps = { step_deployed(), step_stop(), step_route(), step_replication(),
                  step_a_record(), step_srv_record(), step_port(), step_start(), step_answers() }
  if direction == "failback" then table.insert(steps, 4, step_route_restore()) end
  return steps
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
  local params = {
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
  if direction == "failback" then
    params.undo = { type = "boolean", default = true,
      description = "restore the route and the A and SRV records exactly as the last failover "
        .. "to the pool we leave found them (from that run's journal)" }
    params.undo_journal = { type = "string",
      description = "the journal of the failover to undo (default: the newest successful one "
        .. "in the state directory)" }
  end
  return params
end

return M
