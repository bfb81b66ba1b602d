--- lab.world — the embedded lab: a two-site Lync topology, its external DNS zone and its port
-- states, simulated in this process behind the same interfaces the real transports use
-- (the Lync emulator as the `sim` cmdlet transport, lab.dns as the DNS provider, lab.network as
-- the network). Nothing here touches the network. Everything the lab shows is labelled
-- as a simulation by the engine ([sim] on every line).
--
-- The inventory's `lab` table describes it (examples/lab.lua):
--   lab = { sites = { Site1 = { route = "edgepool1.contoso.com" }, Site2 = {} },
--           pools = { ["edgepool1.contoso.com"] = { site = "Site1", servers = {…} }, … },
--           fault = "none", state_dir = nil }
-- Faults (--set lab.fault=NAME): stuck-service (an Edge service refuses to stop),
-- unreachable-edge (an Edge server does not answer), stuck-replication (the CMS never
-- reaches the new pool), access-denied (Set-CsSite is refused), dns-refused (the DNS
-- server refuses updates), lagging-dns (a secondary serves the old data for a while),
-- filtered-port (the perimeter firewall drops 5269), old-parameter (Set-CsSite has the
-- procedure's -XmppExternalFederationRoute instead of the reference's -XmppFederationRoute),
-- no-services (an Edge server of the pool reports no Lync service at all), no-xmpp-partner
-- (Get-CsXmppAllowedPartner lists none), no-xmpp-policy (no external access policy has
-- EnableXmppAccess), expired-certificate (the Access Edge certificate
-- expired yesterday), sfb-2019 (the servers run Skype for Business Server 2019), cms-down
-- (no Central Management Store master answers).
-- One call can be made to fail, for the fault matrix (tests/fault_matrix_spec.lua):
--   --set lab.fail_call=Stop-CsWindowsService@edge2a.contoso.com#2   the 2nd call of that
--     changing cmdlet on that computer (#N alone: any computer) fails, changing nothing;
--   --set lab.fail_update=N   the N-th DNS update of the run is refused.
local cjson = require "cjson"
local cmdlet = require "cmdlet"
local emulator = require "lab.emulator"
local simulated_net = require "lab.network"
local sim_dns = require "lab.dns"

local M = {}

M.FAULTS = { "none", "stuck-service", "unreachable-edge", "stuck-replication", "access-denied",
             "dns-refused", "lagging-dns", "filtered-port", "old-parameter", "no-services",
             "no-xmpp-partner", "expired-certificate", "sfb-2019", "cms-down",
             "no-xmpp-policy" }

--- SETTINGS: the keys of an inventory's `lab` table that this module reads, as schema
-- nodes (shell completion offers them; the inventory schema leaves `lab` free-form).
M.SETTINGS = {
  fault = { type = "string", description = "fault injected into the embedded lab",
            values = M.FAULTS },
  state_dir = { type = "string", description = "where the lab keeps its files" },
  fail_call = { type = "string",
                description = "CMDLET@COMPUTER#N: that call of a changing cmdlet fails" },
  fail_update = { type = "integer", description = "the N-th DNS update of the run is refused" },
  dns_lag = { type = "integer",
              description = "with lagging-dns: answers ns2 serves the old data for (3)" },
}

local function check_fault(fault)
  for _, known in ipairs(M.FAULTS) do if known == fault then return fault end end
  error(("[lab] unknown fault '%s': one of %s"):format(tostring(fault),
    table.concat(M.FAULTS, ", ")), 0)
end

local function sorted_pools(lab)
  local names = {}
  for name in pairs(lab.pools) do names[#names + 1] = name end
  table.sort(names)
  return names
end

--- lync_state(inventory, lab) -> the emulator state of the topology `lab` describes (sites,
-- pools, services and CMS replicas of every server); also seeds the real-server tests.
local function lync_state(inventory, lab)
  local state = emulator.default_state(inventory.management)
  state.replication_delay = 2
  state.sites, state.services, state.replicas = {}, {}, {}
  state.pools = { { Identity = "fepool." .. inventory.domain, Site = "Site:Site1",
                    Services = { "Registrar:fepool." .. inventory.domain },
                    Computers = { inventory.management } } }
  local site_names = {}
  for name in pairs(lab.sites) do site_names[#site_names + 1] = name end
  table.sort(site_names)
  for id, name in ipairs(site_names) do
    local route = lab.sites[name].route
    state.sites[id] = { Identity = "Site:" .. name, SiteId = id, DisplayName = name,
                        Kind = "Central", route = route and ("EdgeServer:" .. route) or nil }
  end
  local computers = { inventory.management }
  for _, pool in ipairs(sorted_pools(lab)) do
    local def = lab.pools[pool]
    state.pools[#state.pools + 1] = { Identity = pool, Site = "Site:" .. def.site,
      Services = { "EdgeServer:" .. pool }, Computers = def.servers }
    for _, server in ipairs(def.servers) do computers[#computers + 1] = server end
  end
  local names = { "sip." .. inventory.domain }          -- the Access Edge certificate names
  for _, domain in ipairs(inventory.sip_domains or { inventory.domain }) do
    names[#names + 1] = domain
  end
  names[#names + 1] = inventory.domain
  state.certificates = { { Use = "AccessEdgeExternal", Subject = "CN=" .. names[1],
                           AlternativeNames = names, NotAfter = os.time() + 365 * 86400 } }
  for _, computer in ipairs(computers) do
    state.services[computer] = emulator.edge_services()
    state.replicas[#state.replicas + 1] = { ReplicaFqdn = computer, UpToDate = true,
                                            pending = 0, LastStatusReport = state.clock }
  end
  return state
end

local function first_target_server(inventory, lab)
  local pool = (inventory.failover or {}).to_pool or sorted_pools(lab)[#sorted_pools(lab)]
  return lab.pools[pool].servers[1]
end

-- "Stop-CsWindowsService@edge2a.contoso.com#2" -> {cmdlet=, computer=, at=}
local function parse_fail_call(text)
  local cmdlet_name, rest = tostring(text):match("^([%a%-]+)(.*)$")
  local computer, at = (rest or ""):match("^@([^#]+)#(%d+)$")
  if not computer then at = (rest or ""):match("^#(%d+)$") end
  if not cmdlet_name or not at then
    error(("[lab] lab.fail_call '%s': write CMDLET@COMPUTER#N or CMDLET#N")
      :format(tostring(text)), 0)
  end
  return { cmdlet = cmdlet_name, computer = computer, at = tonumber(at) }
end

local function apply_lync_fault(state, fault, target)
  if fault == "stuck-service" then
    for _, service in ipairs(state.services[target]) do
      if service.Name == "RTCSRV" then service.refuse_stop = true end
    end
  elseif fault == "stuck-replication" then
    for _, replica in ipairs(state.replicas) do
      if replica.ReplicaFqdn == target then replica.stuck = true end
    end
  elseif fault == "access-denied" then
    state.denied = { "Set-CsSite" }
  elseif fault == "old-parameter" then
    state.route_parameter = "XmppExternalFederationRoute"
  elseif fault == "no-services" then
    state.services[target] = {}
  elseif fault == "no-xmpp-partner" then
    state.xmpp_partners = {}
  elseif fault == "no-xmpp-policy" then
    state.external_access_policies = {
      { Identity = "Global", EnableFederationAccess = true, EnableXmppAccess = false },
      { Identity = "Tag:SipFederationOnly", EnableFederationAccess = true } }
  elseif fault == "expired-certificate" then
    state.certificates = { { Use = "AccessEdgeExternal", Subject = "CN=sip.contoso.com",
      AlternativeNames = { "sip.contoso.com", "contoso.com" }, NotAfter = os.time() - 86400 } }
  elseif fault == "cms-down" then
    state.cms = { ActiveMasterFqdn = cjson.null }
  elseif fault == "sfb-2019" then
    state.version = "Skype for Business Server 2019 (7.0.2046.0): Volume license key installed."
  end
end

-- JSON gives every number back as a float; ports and serials must be integers again.
local function integers(value)
  if type(value) == "number" then return math.tointeger(value) or value end
  if type(value) == "table" then
    for key, item in pairs(value) do value[key] = integers(item) end
  end
  return value
end

-- The zone as it is before the failover: the XMPP name points at the original pool.
-- It is kept in zone_file after every change, so that later runs see the same zone.
local function zone(inventory, lab, zone_file)
  local saved = io.open(zone_file)
  if saved then
    local state = integers(cjson.decode(saved:read("a")))
    saved:close()
    return sim_dns.new { shared = { state = state } }
  end
  local from = (inventory.failover or {}).from_pool or sorted_pools(lab)[1]
  local pool, dns = inventory.pools[from], inventory.dns
  local records = {
    { name = dns.xmpp_host, type = "A", ttl = dns.ttl or 300, address = pool.public_ip } }
  if pool.public_ipv6 then
    records[2] = { name = dns.xmpp_host, type = "AAAA", ttl = dns.ttl or 300,
                   address = pool.public_ipv6 }
  end
  local domains = { inventory.domain }             -- every SIP domain has the pool's SRV
  for _, domain in ipairs(inventory.sip_domains or {}) do
    if domain ~= inventory.domain then domains[#domains + 1] = domain end
  end
  for _, domain in ipairs(domains) do
    records[#records + 1] = { name = "_xmpp-server._tcp." .. domain, type = "SRV",
      ttl = dns.ttl or 300, priority = pool.srv_priority or 10, weight = pool.srv_weight or 0,
      port = 5269, target = pool.srv_target or dns.xmpp_host }
  end
  return sim_dns.new { zone = dns.zone, servers = { "ns1", "ns2" }, records = records }
end

local function is_running(service)
  return service.Status == "Running" or service.Status == 4
end

-- The network: a pool's public address listens on 5269 while an Edge server of the pool
-- runs its Access Edge service; each server's internal interface likewise on 23456.
local function network(inventory, lab, state_file, fault)
  local hosts = {}
  for _, pool in ipairs(sorted_pools(lab)) do
    hosts[inventory.pools[pool].public_ip] = { name = pool, xmpp = { domain = inventory.domain,
      certificate = { inventory.domain, "*." .. inventory.domain } } }
    for _, server in ipairs(lab.pools[pool].servers) do
      local entry = (inventory.servers or {})[server] or {}
      if entry.internal_address then hosts[entry.internal_address] = { name = server } end
    end
  end
  local sim = simulated_net.new { hosts = hosts,
    perimeter = fault == "filtered-port" and { [5269] = "drop" } or {} }
  local function sync()
    local state = emulator.load_state(state_file)
    for _, pool in ipairs(sorted_pools(lab)) do
      local any = false
      for _, server in ipairs(lab.pools[pool].servers) do
        local running = false
        for _, service in ipairs(state.services[server] or {}) do
          if service.Name == "RTCSRV" and is_running(service) then running = true end
        end
        any = any or running
        local address = ((inventory.servers or {})[server] or {}).internal_address
        if address then
          if running then sim.start(address, 23456) else sim.stop(address, 23456) end
        end
      end
      local ip = inventory.pools[pool].public_ip
      if any then sim.start(ip, 5269, "xmpp") else sim.stop(ip, 5269) end
    end
  end
  return function(from)
    local view = from == "vantage" and sim.from("vantage") or sim
    return {
      simulated = true,
      connect = function(target) sync(); return view.connect(target) end,
      open = function(target) sync(); return view.open(target) end,
    }
  end
end

local function persist(p, zone_file)
  local set = p.set
  local function save()
    local file = assert(io.open(zone_file, "w"))
    file:write(cjson.encode(p.state))
    file:close()
  end
  function p.set(...)
    local result, message, code = set(...)
    if result and result.changed then save() end
    return result, message, code
  end
  local existing = io.open(zone_file)
  if existing then existing:close() else save() end
  return p
end

M.lync_state = lync_state

local worlds = setmetatable({}, { __mode = "k" })

-- The lab's files: lab.state_dir (kept), else a temporary directory removed with the world.
local function state_dir(lab)
  if lab.state_dir then return lab.state_dir, nil end
  local pipe = io.popen("mktemp -d /tmp/runbook-lab.XXXXXX")
  local dir = pipe:read("l")
  pipe:close()
  local cleanup = setmetatable({}, { __gc = function() os.execute("rm -rf '" .. dir .. "'") end })
  return dir, cleanup
end

--- world(inventory) -> {attach=, dns=, net=, authoritative=, state_file=}, one per inventory
function M.world(inventory)
  if worlds[inventory] then return worlds[inventory] end
  local lab = inventory.lab
  local fault = check_fault(lab.fault or "none")
  local target = first_target_server(inventory, lab)
  local dir, cleanup = state_dir(lab)
  local state_file = dir .. "/lync-state.json"
  local existing = io.open(state_file)
  if existing then existing:close()      -- a persistent lab (state_dir) keeps its state
  else
    local state = lync_state(inventory, lab)
    apply_lync_fault(state, fault, target)
    if lab.fail_call then state.fail_call = parse_fail_call(lab.fail_call) end
    emulator.save_state(state_file, state)
  end
  local dns = persist(zone(inventory, lab, dir .. "/dns-zone.json"), dir .. "/dns-zone.json")
  if fault == "dns-refused" then dns.fault { refuse_updates = true } end
  if fault == "lagging-dns" then dns.lag("ns2", tonumber(lab.dns_lag) or 3) end
  if lab.fail_update then dns.fault { refuse_update_at = tonumber(lab.fail_update) } end
  cmdlet.register_transport("lab-unreachable", function(host)
    return nil, ("cannot connect to %s:22: timed out after 5 s (simulated)"):format(host.name),
      "timeout"
  end)
  local world = {
    state_file = state_file, dns = dns, net = network(inventory, lab, state_file, fault),
    authoritative = { { name = "ns1", address = "ns1" }, { name = "ns2", address = "ns2" } },
    cleanup = cleanup,
  }
  function world.attach(host)
    host.transport, host.state_file = "sim", state_file
    if fault == "unreachable-edge" and host.name == target then
      host.transport = "lab-unreachable"
    end
  end
  worlds[inventory] = world
  return world
end

return M
