--- federation — what the XMPP federation runbooks know about a Lync estate: the facts their
-- steps check, the changes they make with what they saw before, and their parameters.
-- The steps themselves, Microsoft's procedure with its omissions put right, are in
-- runbooks/xmpp-failover.lua (xmpp-failback extends it); this module keeps them short.
local capabilities = require "capabilities"
local cmdlet = require "cmdlet"
local estate = require "estate"
local i18n = require "runbook.i18n"
local journal = require "runbook.journal"
local lync = require "lync"
local propagation = require "dns.propagation"
local task = require "runbook.task"
local xmpp = require "xmpp"

local M = {}

local XMPP_PORT, GATEWAY_PORT = 5269, 23456

--- say(key, ...) -> the message `key` in the operator's language, formatted with ...
-- (modules/federation_messages.lua: every word this module and its runbooks show)
local say = require "federation_messages"

-- ------------------------------------------------------------------ facts

-- Seconds between two looks at something that changes: the lab's simulation is instant.
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
    if not data and ctx.params.undo_journal then error(say("undo_journal", path), 0) end
    ctx.data.undoing = data and { data = data, journal = path } or false
    if data then
      ctx.note(say("undoing", path))
    else
      ctx.note(say("no_journal", ctx.params.from_pool or "?", path))
    end
  end
  return ctx.data.undoing and ctx.data.undoing.data or nil
end

-- The Lync services of an Edge server, as a map name -> status and as the list. A server
-- that reports none is no Edge server of this pool: saying "all stopped" of it would be
-- vacuously true, so it is an error.
local function statuses(host)
  local map, list = {}, lync.services(host, { computer = host.name })
  if #list == 0 then
    error(say("no_lync_services", host.name), 0)
  end
  for _, service in ipairs(list) do map[service.Name] = service.Status end
  return map, list
end

-- Whether every service (but `except`) is in state, and what is not; map from statuses().
-- An empty map holds no service in any state: false, never vacuously true.
local function all_in(map, state, except)
  local behind, counted = {}, 0
  for name, status in pairs(map) do
    if name ~= except then
      counted = counted + 1
      if status ~= state then behind[#behind + 1] = name .. "=" .. status end
    end
  end
  if counted == 0 then return false, say("no_services") end
  table.sort(behind)
  return #behind == 0, #behind == 0 and say("all_in", state) or table.concat(behind, ", ")
end

-- ------------------------------------------------------------------ modes, exclusions
-- Two modes, chosen per run (--set mode=…), journaled with the run's parameters and shown in
-- the plan: "dead-pool" (the old pool failed: nothing of it is asked) and "planned" (the old
-- pool still runs: its XMPP proxy service is stopped first, so that partners stop reaching
-- it, and started again on rollback). --set exclude=FQDN[,FQDN] leaves named Edge servers
-- out of this run: the one way a preflight blocker for a dead server is waived.

local function mode(ctx) return ctx.params.mode or "dead-pool" end

-- The names --set exclude gave, lower-case, as a set (empty: none).
local function excluded(ctx)
  local set = {}
  for name in tostring(ctx.params.exclude or ""):gmatch("[^,%s]+") do set[name:lower()] = true end
  return set
end

-- The Edge servers of a pool that this run works on: those the topology lists, minus the
-- excluded ones. None left is an error, never a vacuous "all done".
local function pool_edges(ctx, pool)
  local skip, kept = excluded(ctx), {}
  for _, host in ipairs(estate.edge_servers(ctx, pool)) do
    if not skip[host.name:lower()] then kept[#kept + 1] = host end
  end
  if #kept == 0 then
    error(say("all_excluded", pool), 0)
  end
  return kept
end

local function edges(ctx) return pool_edges(ctx, target(ctx)) end

-- What the plan says of the run's mode and exclusions (for the first step's evidence).
local function mode_note(ctx)
  local names = {}
  for name in pairs(excluded(ctx)) do names[#names + 1] = name end
  table.sort(names)
  local text = say("mode", mode(ctx))
  if #names > 0 then text = text .. say("excluded", table.concat(names, ", ")) end
  return text
end

-- The old pool's XMPP proxy services (planned mode), by a display name with "XMPP": the
-- service name is not documented where runbook could source it (docs/emulator.md).
local function xmpp_services(host)
  local list = {}
  for _, service in ipairs(lync.services(host, { computer = host.name })) do
    if tostring(service.DisplayName):find("XMPP", 1, true) then list[#list + 1] = service end
  end
  if #list == 0 then
    error(say("no_xmpp_service", host.name), 0)
  end
  return list
end

-- Planned mode, the old pool: whether every XMPP proxy service is stopped, and what runs.
local function old_xmpp_stopped(ctx)
  if mode(ctx) ~= "planned" then
    return { ok = true, saw = say("dead_pool") }
  end
  local running, seen = {}, {}
  for _, host in ipairs(pool_edges(ctx, ctx.params.from_pool)) do
    for _, service in ipairs(xmpp_services(host)) do
      seen[#seen + 1] = ("%s: %s=%s"):format(host.name, service.Name, service.Status)
      if service.Status ~= "Stopped" then running[#running + 1] = host.name end
    end
  end
  return { ok = #running == 0, saw = table.concat(seen, "; "),
           want = say("old_proxy_stopped", "Stopped") }
end

local function stop_old_xmpp(ctx)
  for _, host in ipairs(pool_edges(ctx, ctx.params.from_pool)) do
    local names = {}
    for _, service in ipairs(xmpp_services(host)) do
      if service.Status ~= "Stopped" then names[#names + 1] = service.Name end
    end
    if #names > 0 then
      ctx.remember("old_xmpp_stopped." .. host.name, names)   -- what rollback starts again
      lync.stop_services(host, { computer = host.name, names = names,
        timeout = ctx.params.service_timeout, interval = poll(ctx, 1) })
    end
  end
end

local function start_old_xmpp(ctx)
  for _, host in ipairs(estate.edge_servers(ctx, ctx.params.from_pool)) do
    local names = ctx.data["old_xmpp_stopped." .. host.name]
    if names then
      lync.start_services(host, { computer = host.name, names = names,
        timeout = ctx.params.service_timeout, interval = poll(ctx, 1) })
    end
  end
end

local function edge_names(ctx)
  local names = {}
  for i, host in ipairs(edges(ctx)) do names[i] = host.name end
  return names
end

-- The SRV name of a SIP domain (default: the inventory's domain).
local function srv_name(ctx, domain)
  return "_xmpp-server._tcp." .. (domain or ctx.inventory.domain)
end

local function dns_call(ok, message)
  if not ok then error(say("dns_failed", tostring(message)), 0) end
  return ok
end

-- The SRV records of a SIP domain, from the zone that holds them.
local function srv_records(ctx, domain)
  local name = srv_name(ctx, domain)
  return dns_call(estate.dns(ctx, estate.zone_of(ctx, name)).get(name, "SRV"))
end

-- Waits until every authoritative server answers with the records and the primary's SOA
-- serial after the change (when the provider tells it), with progress; then says how long
-- resolvers may still hand out the RRset as it was before (old).
local function wait_propagation(ctx, name, type, records, old)
  local dns, zone = ctx.inventory.dns, estate.zone_of(ctx, name)
  local provider = estate.dns(ctx, zone)
  local serial = provider.serial and dns_call(provider.serial()) or nil
  local result, message = propagation.wait {
    zone = zone, name = name, type = type, records = records, old = old, serial = serial,
    servers = estate.authoritative(ctx), query = estate.query(ctx),
    deadline = dns.propagation_timeout or 300, interval = poll(ctx, 2),
    progress = function(event)
      if event.converged then
        ctx.note(say("serves", tostring(event.server), type, name,
          event.serial and say("serial", event.serial) or ""))
      end
    end,
  }
  if not result then error(say("dns_failed", i18n.verbatim(message)), 0) end
  if result.old_ttl and old and #old == 0 then
    ctx.note(say("old_absent", name, type, result.old_ttl))
  elseif result.old_ttl then
    ctx.note(say("old_ttl", type, name, result.old_ttl))
  end
end

-- ------------------------------------------------------------------ records


-- The site whose route the undone failover set, when it is not the site we return to, and
-- the route it had before; nil when there is nothing of the kind to restore.
local function route_to_restore(ctx)
  local undo = undoing(ctx)
  if not undo or type(undo.route_site) ~= "string" or undo.previous_route == nil then return nil end
  if undo.route_site:lower() == site_of(ctx):lower() then return nil end
  return undo.route_site, undo.previous_route or nil
end

local function addresses(records)
  local list = {}
  for i, record in ipairs(records) do list[i] = record.address end
  table.sort(list)
  return table.concat(list, ", ")
end

local function shown(records)
  return #records > 0 and addresses(records) or say("none")
end

-- Puts an RRset back as it was (none: deletes it), without waiting: rollbacks.
local function restore(ctx, name, type, records)
  local dns = estate.dns(ctx, estate.zone_of(ctx, name))
  dns.get(name, type)                 -- the provider compares against what it read last
  if #records == 0 then dns_call(dns.delete(name, type))
  else dns_call(dns.set(name, type, records, ctx.inventory.dns.ttl)) end
end

-- Replaces an RRset read just before (none: deletes it), then waits until every
-- authoritative server serves it.
local function replace(ctx, name, type, records)
  local dns = estate.dns(ctx, estate.zone_of(ctx, name))
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
    return list, say("as_before")
  end
  return { { address = ctx.params.public_ip } }, ""
end

-- The AAAA record wanted: the new pool's public IPv6 address, or none when it has none (an
-- AAAA left on the old pool would send IPv6 partners there); a failback's as found.
local function wanted_aaaa(ctx)
  local undo = undoing(ctx)
  if undo and type(undo.old_aaaa) == "table" then
    local list = {}
    for i, record in ipairs(undo.old_aaaa) do list[i] = { address = record.address } end
    return list, say("as_before")
  end
  local ipv6 = estate.pool(ctx, target(ctx)).public_ipv6
  return ipv6 and { { address = ipv6:lower() } } or {}, ""
end

-- ------------------------------------------------------------------ SRV records
-- One SRV record per Edge pool, each with its own priority (the procedure's introduction):
-- a pool's record is _xmpp-server._tcp.<domain> SRV <srv_priority> <srv_weight> 5269
-- <srv_target>, from the pool's inventory entry. pool_srv_verdict decides whether it is
-- present and right; the failover's SRV step and the readiness audit both ask it, so they
-- cannot disagree. A record is another pool's when it is exactly that pool's record: such
-- records, and every record of another name, are never changed.

local function bare_name(name) return (tostring(name):lower():gsub("%.$", "")) end

local function srv_key(r)
  return ("%d %d %d %s"):format(r.priority, r.weight, r.port, bare_name(r.target))
end

--- pool_srv(ctx, pool) -> the SRV record the pool should have (port 5269)
local function pool_srv(ctx, pool)
  local entry = estate.pool(ctx, pool)
  return { priority = entry.srv_priority or 10, weight = entry.srv_weight or 0,
           port = XMPP_PORT, target = bare_name(entry.srv_target or ctx.inventory.dns.xmpp_host) }
end

-- Whether the record is exactly the record of some pool of the inventory but `except`.
local function other_pools_record(ctx, record, except)
  for name in pairs(ctx.inventory.pools) do
    if name ~= except and srv_key(pool_srv(ctx, name)) == srv_key(record) then return name end
  end
end

--- pool_srv_verdict(ctx, pool, records) -> right, detail, verdict: whether the pool's SRV
-- record is among records (target, port, priority and weight all as the inventory says).
-- verdict = {wanted=, found=, stale={...}}: stale lists the records with the pool's target
-- and port but another priority or weight that are no other pool's record (what the
-- failover replaces).
local function pool_srv_verdict(ctx, pool, records)
  local wanted = pool_srv(ctx, pool)
  local verdict = { wanted = wanted, stale = {} }
  for _, record in ipairs(records) do
    if srv_key(record) == srv_key(wanted) then verdict.found = record
    elseif bare_name(record.target) == wanted.target and record.port == wanted.port
           and not other_pools_record(ctx, record, pool) then
      verdict.stale[#verdict.stale + 1] = record
    end
  end
  if verdict.found then return true, ("%s: %s"):format(pool, srv_key(wanted)), verdict end
  if #verdict.stale > 0 then
    local seen = {}
    for i, record in ipairs(verdict.stale) do seen[i] = srv_key(record) end
    return false, say("srv_differs", pool, table.concat(seen, ", "), srv_key(wanted)), verdict
  end
  return false, say("srv_missing", pool, srv_key(wanted)), verdict
end

local function describe_srv(records)
  local list = {}
  for i, r in ipairs(records) do list[i] = srv_key(r) end
  table.sort(list)
  return #list > 0 and table.concat(list, "; ") or say("none")
end

-- The same SRV records, whatever their order, case or final dot.
local function same_srv(a, b)
  return describe_srv(a) == describe_srv(b)
end

-- The SRV records wanted: today's with the new pool's record made right (its stale records
-- replaced, every other record kept); when a failback undoes a failover, exactly those that
-- failover found.
local function wanted_srvs(ctx, records, domain)
  local undo = undoing(ctx)
  domain = domain or ctx.inventory.domain
  local old = undo and (undo["old_srv." .. domain]            -- an older journal: old_srv
                        or domain == ctx.inventory.domain and undo.old_srv)
  if type(old) == "table" then
    local list = {}        -- as the journal keeps them: JSON numbers come back as floats
    for i, r in ipairs(old) do
      list[i] = { priority = math.tointeger(r.priority), weight = math.tointeger(r.weight),
                  port = math.tointeger(r.port), target = r.target }
    end
    return list, true
  end
  local right, _, verdict = pool_srv_verdict(ctx, target(ctx), records)
  if right then return records, false end
  local stale, new = {}, {}
  for _, record in ipairs(verdict.stale) do stale[record] = true end
  for _, record in ipairs(records) do
    if not stale[record] then new[#new + 1] = record end
  end
  new[#new + 1] = verdict.wanted
  return new, false
end

-- What a state seen from outside means at this point of the run, beyond pass or fail.
local function port_remark(ctx, state)
  if state == "open" and ctx.data.services_stopped then
    return say("open_while_stopped")
  elseif state == "closed" then
    return say("closed_passes")
  elseif state == "unknown" then
    return say("state_unknown", estate.vantage_name(ctx))
  elseif state == "unreachable" then
    return say("state_unreachable", estate.vantage_name(ctx))
  end
  return ""
end

-- ------------------------------------------------------------------ checks

--- replicated(ctx) -> holds, seen, wanted: CMS replication reports the new pool's Edge
-- servers up to date (after the route moved).
local function replicated(ctx)
  if not route_moved(ctx) then
    return false, say("route_not_set"), say("edges_up_to_date")
  end
  local wanted, behind = {}, {}
  for _, name in ipairs(edge_names(ctx)) do wanted[name:lower()] = true end
  for _, replica in ipairs(lync.replication_status(cms(ctx))) do
    if wanted[replica.ReplicaFqdn:lower()] and not replica.UpToDate then
      behind[#behind + 1] = replica.ReplicaFqdn
    end
  end
  if #behind == 0 then return true, say("up_to_date") end
  return false, say("behind", table.concat(behind, ", ")), say("up_to_date")
end

--- port_passes(ctx) -> holds, seen: 5269 of the new pool's public IP from the vantage host
-- (open or closed: the firewall passes). The internal ports are tried from the servers
-- themselves (outbound_xmpp, gateway_reached), not from where runbook runs.
local function port_passes(ctx)
  local outside = estate.net(ctx, "vantage").connect { host = ctx.params.public_ip,
    port = XMPP_PORT, timeout = 5 }
  local seen = say("port_from", ctx.params.public_ip, XMPP_PORT, estate.vantage_name(ctx),
    outside.state) .. port_remark(ctx, outside.state)
  return outside.state == "open" or outside.state == "closed", seen
end

--- answers(ctx) -> holds, seen: an XMPP server-to-server probe of the domain, through DNS,
-- reaches the new pool's public IP and passes every stage.
local function answers(ctx)
  local query = estate.query(ctx)
  local result = xmpp.probe {
    domain = ctx.inventory.domain, timeout = 5, net = estate.probe_net(ctx),
    from = estate.probe_from(ctx), ca_file = estate.ca_file(ctx),
    resolver = function(name, type)
      local answer = query { name = name, type = type }
      return answer and answer.records or {}
    end }
  if not result.ok then
    return false, say("stage_failed", result.failed, result[result.failed].detail)
  end
  local detail = result.connect.detail or ""
  if not detail:find(ctx.params.public_ip, 1, true) then
    return false, say("answers_elsewhere", detail)
  end
  -- the evidence the operator most wants to read: where it answered and how
  local saw = { say("answers", ctx.inventory.domain, detail) }
  for _, stage in ipairs { "starttls", "tls", "certificate", "features" } do
    if result[stage] and result[stage].detail then saw[#saw + 1] = result[stage].detail end
  end
  return true, table.concat(saw, "; ")
end

-- ------------------------------------------------------------------ needs
-- What a step needs of the estate, proven before the first change (runbook.preflight,
-- modules/capabilities.lua).

local SERVICE_CMDLETS = { "Get-CsWindowsService", "Stop-CsWindowsService",
                          "Start-CsWindowsService" }

local function edges_need(ctx)
  local needs = {}
  for i, host in ipairs(edges(ctx)) do needs[i] = capabilities.windows(host, SERVICE_CMDLETS) end
  return needs
end

-- Planned mode also needs the old pool's Edge servers (but the excluded ones).
local function old_edges_need(ctx)
  if mode(ctx) ~= "planned" then return {} end
  local needs = {}
  for i, host in ipairs(pool_edges(ctx, ctx.params.from_pool)) do
    needs[i] = capabilities.windows(host, SERVICE_CMDLETS)
  end
  return needs
end

local function cms_need(cmdlets)
  return function(ctx) return { capabilities.windows(cms(ctx), cmdlets) } end
end

-- The lease across machines (modules/lease.lua): a TXT record in the zone the run changes.
-- None with the manual provider: the operator makes each change, nothing is shared to lock.
local function lease(ctx)
  local provider = estate.dns(ctx)
  if provider.kind == "manual" then return nil end
  if not ctx.data.lease then
    -- loaded on first use: only runs that change DNS take a lease
    ctx.data.lease = require("lease").new(provider, "_runbook-lease." .. ctx.inventory.dns.zone,
      -- loaded on first use: only the lease's holder needs the pid
      { run = ctx.run_id or ctx.runbook.id, pid = require("runbook.fs").pid() })
  end
  return ctx.data.lease
end

local function dns_need(ctx)
  return { capabilities.dns_update(), capabilities.lease_free(lease(ctx)) }
end

local function vantage_need(ctx)
  return { capabilities.vantage { host = ctx.params.public_ip, port = XMPP_PORT } }
end

M.lease = lease

M.needs = {
  edges = edges_need,
  old_edges = old_edges_need,
  route = function(ctx)      -- and Export-CsConfiguration when the inventory asks for it
    local cmdlets = { "Get-CsSite", "Set-CsSite", "Get-CsPool" }
    if ctx.inventory.management_export then cmdlets[4] = "Export-CsConfiguration" end
    return cms_need(cmdlets)(ctx)
  end,
  replication = cms_need { "Get-CsManagementStoreReplicationStatus",
                           "Invoke-CsManagementStoreReplication" },
  dns = dns_need,
  vantage = vantage_need,
}

M.poll, M.target, M.cms, M.site_of, M.bare_route = poll, target, cms, site_of, bare_route
M.route_moved, M.forget_route, M.remember, M.undoing = route_moved, forget_route, remember, undoing
M.statuses, M.all_in, M.edges, M.edge_names = statuses, all_in, edges, edge_names
M.mode, M.excluded, M.mode_note = mode, excluded, mode_note
M.old_xmpp_stopped, M.stop_old_xmpp, M.start_old_xmpp = old_xmpp_stopped, stop_old_xmpp,
  start_old_xmpp
M.srv_name, M.dns_call, M.route_to_restore = srv_name, dns_call, route_to_restore
M.srv_records, M.wanted_aaaa = srv_records, wanted_aaaa

-- The inventory's edge_servers of a pool when they are not the topology's, said; else nil.
local function declared_differs(ctx, pool)
  local declared = estate.declared_edge_servers(ctx, pool)
  if #declared == 0 then return nil end
  local listed, names = {}, {}
  for _, host in ipairs(estate.edge_servers(ctx, pool)) do
    listed[#listed + 1] = host.name:lower()
  end
  for i, fqdn in ipairs(declared) do names[i] = fqdn:lower() end
  table.sort(listed)
  table.sort(names)
  if table.concat(listed, ",") == table.concat(names, ",") then return nil end
  return say("declared_differs", table.concat(names, ", "), pool,
             #listed > 0 and table.concat(listed, ", ") or say("none"))
end

-- What keeps one Edge server of the new pool from hosting XMPP federation: its version and
-- its AccessEdgeExternal certificates (names, expiry) -> {gaps=, product=, certs=}.
local function edge_gaps(host, days, domains)
  local gaps = {}
  local version = lync.server_version(host)
  if not version.product then
    gaps[#gaps + 1] = say("version_unknown", host.name, i18n.verbatim(version.text))
  elseif version.major >= 7 then
    gaps[#gaps + 1] = say("no_xmpp_in_version", host.name, version.product)
  end
  local certs = lync.certificates(host, "AccessEdgeExternal")
  if #certs == 0 then
    gaps[#gaps + 1] = say("no_certificate", host.name)
  end
  for _, cert in ipairs(certs) do
    local names = { [tostring(cert.Subject):match("CN=([^,]+)") or ""] = true }
    for _, name in ipairs(cert.AlternativeNames or {}) do names[name:lower()] = true end
    for _, domain in ipairs(domains) do
      if not names[domain:lower()] then
        gaps[#gaps + 1] = say("certificate_lacks_name", host.name, tostring(cert.Subject),
                              domain)
      end
    end
    local left = cert.NotAfter and (cert.NotAfter - os.time()) / 86400
    if not left or left < days then
      local subject = tostring(cert.Subject)
      gaps[#gaps + 1] = not left and say("certificate_no_date", host.name, subject)
        or left < 0 and say("certificate_expired", host.name, subject)
        or say("certificate_expires", host.name, subject, math.floor(left), days)
    end
  end
  return { gaps = gaps, product = version.product, certs = #certs }
end

--- prerequisites(ctx, pool) -> holds, detail: what XMPP federation needs of the estate and
-- of the pool's Edge servers (issue 18, gap 5): an XMPP allowed partner, federation allowed
-- on the Access Edge, an external access policy with EnableXmppAccess, no Skype for
-- Business Server 2019 (which has no XMPP federation), and
-- an Access Edge external certificate on each Edge server that names every SIP domain and
-- is valid for params.certificate_days (default 30) more days.
function M.prerequisites(ctx, pool)
  local gaps, seen = {}, {}
  local servers = pool_edges(ctx, pool)   -- first: the listed ones start while it is asked
  local partners = lync.xmpp_partners(cms(ctx))
  if #partners == 0 then
    gaps[#gaps + 1] = say("no_partner")
  else seen[#seen + 1] = say("partners", table.concat(partners, ", ")) end
  if not lync.federation_allowed(cms(ctx)) then
    gaps[#gaps + 1] = say("federation_off")
  end
  local allowing, denying = lync.xmpp_access_policies(cms(ctx))
  if #allowing == 0 then
    gaps[#gaps + 1] = say("no_xmpp_policy", #denying > 0
      and i18n.verbatim(table.concat(denying, ", ")) or say("none"))   -- the server's names
  else
    local global = false
    for _, identity in ipairs(allowing) do global = global or identity:lower() == "global" end
    seen[#seen + 1] = say(global and "xmpp_policy" or "xmpp_policy_granted",
                          i18n.verbatim(table.concat(allowing, ", ")))
  end
  local days, domains = (ctx.params or {}).certificate_days or 30, estate.sip_domains(ctx)
  local differs = declared_differs(ctx, pool)
  if differs then seen[#seen + 1] = differs end
  -- every Edge server at once: the first Lync cmdlet in a server's PowerShell loads the
  -- module (seconds), and one server after the other would add those up
  local found, failures = task.parallel(servers, function(host)
    return edge_gaps(host, days, domains)
  end)
  if failures[1] then error(failures[1].error, 0) end
  for i, host in ipairs(servers) do
    for _, gap in ipairs(found[i].gaps) do gaps[#gaps + 1] = gap end
    seen[#seen + 1] = say("server_seen", host.name, found[i].product or "?", found[i].certs)
  end
  if #gaps > 0 then return false, table.concat(gaps, "; ") end
  return true, table.concat(seen, "; ")
end

--- cms_master(ctx) -> holds, detail: the Central Management Store's master answers, and
-- where it is. None answering blocks the run: Set-CsSite could not write, and Microsoft's
-- pool failover page says to fail the Central Management Server over first
-- (Invoke-CsManagementServerFailover). A master in the site of the pool we leave is named.
function M.cms_master(ctx)
  local master = lync.cms_master(cms(ctx))
  if not master then
    return false, say("no_cms_master")
  end
  local ok, pool = pcall(lync.pool, cms(ctx), master)
  local site = ok and pool.Site and pool.Site:gsub("^[Ss]ite:", "") or "?"
  local detail = say("cms_master", master, site)
  local from = ctx.params.from_pool and pcall(lync.pool, cms(ctx), ctx.params.from_pool)
    and lync.pool(cms(ctx), ctx.params.from_pool).Site
  if from and site:lower() == from:gsub("^[Ss]ite:", ""):lower() then
    detail = detail .. say("cms_in_old_site", ctx.params.from_pool)
  end
  return true, detail
end

-- Export-CsConfiguration before the topology changes (issue 18, gap 8): to the directory on
-- the management server the inventory names (management_export), one file per run.
local function export_path(ctx)
  local dir = ctx.inventory.management_export
  if not dir then return nil end
  return ("%s\\%s.zip"):format(dir:gsub("[\\/]+$", ""),
                                 ctx.run_id or (ctx.runbook.id .. "-<this run>"))
end

--- export_plan(ctx) -> what the plan says comes before Set-CsSite
function M.export_plan(ctx)
  local path = export_path(ctx)
  if not path then
    return say("no_export_plan")
  end
  return say("export_plan", path)
end

--- export_configuration(ctx): exports the CMS configuration, journals the file, and warns
-- that a later Topology Builder publish may put the old route back.
function M.export_configuration(ctx)
  local path = export_path(ctx)
  if not path then
    return ctx.note(say("not_exported"))
  end
  cmdlet(cms(ctx), "Export-CsConfiguration", { FileName = path })
  ctx.remember("configuration_export", { host = cms(ctx).name, file = path })
  ctx.note(say("exported", path, cms(ctx).name))
end

-- One TCP connect made by the server `from` itself (Test-NetConnection) -> connects, evidence
local function tcp_from(from, address, port)
  local ok = lync.tcp_test(from, address, port)
  return ok, say(ok and "connects" or "fails", from.name, address, port)
end

--- outbound_xmpp(ctx) -> holds, detail: each Edge server of the new pool (but the excluded)
-- connects out to xmpp_partner_host on 5269, tried on the server itself (the port summary
-- for XMPP federation: XMPP/TCP/5269 from the Access Edge to any). Our services play no
-- part in it, so it is a precondition: the failover's first step asks it before any change.
-- With no partner host in the inventory it says so: not tried, never "open".
function M.outbound_xmpp(ctx)
  local partner = ctx.inventory.xmpp_partner_host
  if not partner then return true, say("outbound_not_tried") end
  local seen, failed = {}, {}
  for _, host in ipairs(edges(ctx)) do
    local ok, text = tcp_from(host, partner, XMPP_PORT)
    if ok then seen[#seen + 1] = text else failed[#failed + 1] = text end
  end
  if #failed > 0 then
    return false, table.concat(failed, "; ") .. say("outbound_blocked", partner)
  end
  return true, table.concat(seen, "; ")
end

--- gateway_reached(ctx, host [, before]) -> holds, detail: the Front End connects to the
-- Edge server's internal interface on 23456 (XMPP/MTLS/23456 from the Front End's XMPP
-- gateway), tried on the Front End itself. Nothing listens there while the Edge's services
-- are stopped, and Test-NetConnection cannot tell that from a firewall: before the run
-- changes anything (before = true) a failure counts only when the services run, and
-- start-services' verification, with the services running, asks again and decides.
function M.gateway_reached(ctx, host, before)
  if not host.internal_address then return true, say("gateway_not_tried", host.name) end
  local ok, text = tcp_from(cms(ctx), host.internal_address, GATEWAY_PORT)
  if ok or not before then return ok, text end
  local running = all_in(statuses(host), "Running")
  if running then return false, text end
  return true, text .. say("gateway_later", host.name)
end

--- ports_before(ctx) -> holds, detail: the failover's preflight of the internal ports, tried
-- from where the traffic starts: outbound 5269 from each Edge server, 23456 to each from the
-- Front End (gateway_reached before the run).
function M.ports_before(ctx)
  local ok, detail = M.outbound_xmpp(ctx)
  local seen, failed = { detail }, ok and {} or { detail }
  for _, host in ipairs(edges(ctx)) do
    local reached, text = M.gateway_reached(ctx, host, true)
    if reached then seen[#seen + 1] = text else failed[#failed + 1] = text end
  end
  if #failed > 0 then return false, table.concat(failed, "; ") end
  return true, table.concat(seen, "; ")
end

--- ports_from_servers(ctx, pool) -> holds, detail: the ports Microsoft's port summary for
-- XMPP federation needs, each tried from where its traffic starts (Test-NetConnection on
-- the server): 23456 from the Front End to each Edge server's internal interface, 5269
-- outbound from each Edge server to the inventory's xmpp_partner_host.
function M.ports_from_servers(ctx, pool)
  local seen, failed, tried = {}, {}, 0
  local partner = ctx.inventory.xmpp_partner_host
  for _, host in ipairs(pool_edges(ctx, pool)) do
    local checks = {}
    if host.internal_address then
      checks[#checks + 1] = { cms(ctx), host.internal_address, GATEWAY_PORT }
    end
    if partner then checks[#checks + 1] = { host, partner, XMPP_PORT } end
    for _, check in ipairs(checks) do
      local ok, text = tcp_from(table.unpack(check))
      tried = tried + 1
      if ok then seen[#seen + 1] = text else failed[#failed + 1] = text end
    end
  end
  if tried == 0 then
    return false, say("nothing_to_try", pool)
  end
  if not partner then seen[#seen + 1] = say("outbound_not_tried") end
  if #failed > 0 then return false, table.concat(failed, "; ") end
  return true, table.concat(seen, "; ")
end

--- front_end_manual_steps(ctx) -> association, pool_failback, sip_route: what Microsoft's
-- failback page
-- (JJ721897) asks besides the XMPP route, DNS and port, and runbook leaves to the operator,
-- with the restored site's Front End pools (Get-CsPool: a Registrar service in that site)
-- named: step 4, associating their Web Conferencing and A/V Conferencing with the site's
-- Edge pool again (a Topology Builder change and publish, "Changing the Edge pool
-- associated with a Front End pool"), and step 5, Invoke-CsPoolFailback for a Front End
-- pool that failed over too (a pool failback, a procedure of its own); and step 2, the SIP
-- federation route, if it was failed over too (Topology Builder, publish, Deployment Wizard).
function M.front_end_manual_steps(ctx)
  local site, pools = site_of(ctx), {}
  for _, pool in ipairs(lync.pools(cms(ctx))) do
    local in_site = (pool.Site or ""):gsub("^Site:", ""):lower() == site:lower()
    for _, service in ipairs(pool.Services or {}) do
      if in_site and service:match("^Registrar:") then pools[#pools + 1] = pool.Identity end
    end
  end
  local named = #pools > 0 and table.concat(pools, ", ") or say("none")
  return say("association_manual", site, named, target(ctx)),
         say("pool_failback_manual", site, named), say("sip_route_manual", target(ctx))
end

--- other_sites_note(ctx) -> "" or what the plan says of the other sites whose XMPP
-- federation route still names the pool we leave: the procedure sets only the new pool's
-- site, so their users' XMPP traffic keeps going to that pool (issue 18, gap 4).
function M.other_sites_note(ctx)
  local leaving = bare_route(ctx.params.from_pool)
  if not leaving then return "" end
  local topology, still = lync.topology(cms(ctx)), {}
  for name, site in pairs(topology.sites) do
    if name:lower() ~= site_of(ctx):lower() and bare_route(site.route) == leaving then
      still[#still + 1] = name
    end
  end
  if #still == 0 then return "" end
  table.sort(still)
  return say(#still == 1 and "other_site" or "other_sites", table.concat(still, ", "),
    ctx.params.from_pool, site_of(ctx), still[1], topology.route_parameter)
end

--- sip_domains(ctx) -> every SIP domain federated over XMPP (the SRV step's hosts)
function M.sip_domains(ctx) return estate.sip_domains(ctx) end

--- address_records(ctx) -> the A and the AAAA records of dns.xmpp_host
function M.address_records(ctx)
  local name = ctx.inventory.dns.xmpp_host
  local dns = estate.dns(ctx, estate.zone_of(ctx, name))
  return dns_call(dns.get(name, "A")), dns_call(dns.get(name, "AAAA"))
end
M.addresses, M.shown, M.restore, M.replace = addresses, shown, restore, replace
M.wanted_a = wanted_a
M.pool_srv, M.pool_srv_verdict, M.describe_srv, M.same_srv, M.wanted_srvs =
  pool_srv, pool_srv_verdict, describe_srv, same_srv, wanted_srvs
M.replicated, M.port_passes, M.answers = replicated, port_passes, answers
M.say = say

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
    mode = { type = "string", default = function(inventory)
               return (inventory.failover or {}).mode or "dead-pool" end,
             values = { "dead-pool", "planned" },
             description = "dead-pool: the pool we leave failed and is not asked; planned: it "
               .. "runs, and its XMPP proxy is stopped first" },
    exclude = { type = "string", pattern = "^[%w%.%-,]*$",
                description = "Edge servers this run leaves out (FQDN[,FQDN]): the one way a "
                  .. "dead server's preflight blocker is waived" },
    certificate_days = { type = "integer", default = 30,
      description = "days the Access Edge certificate must stay valid (prerequisites)" },
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
