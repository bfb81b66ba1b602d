--- estate — the inventory of a Lync Server 2013 / Skype for Business estate as the XMPP
-- federation runbooks read it, and the handles built from it: cmdlet hosts, the DNS
-- provider, DNS queries, and the network as seen from inside or from the vantage point.
-- Pool membership is not retyped in the inventory: it is discovered from the topology
-- (Get-CsPool on the management server). The embedded lab (modules/lab/init.lua) plugs in here.
local lync = require "lync"
local say = require "estate_messages"     -- the vantage point's name, in en, de and fr

local M = {}

local SERVER_FIELDS = {
  transport = { type = "string", values = { "ssh", "sim", "winrm", "local" } },
  address = { type = "string", description = "where to connect, if not the FQDN" },
  port = { type = "integer" },
  user = { type = "string" },
  key_file = { type = "string", file = "private_key" },
  passphrase = { type = "credential" },
  password = { type = "credential" },
  agent = { type = "boolean" },
  known_hosts = { type = "string", file = "known_hosts" },
  host_key_policy = { type = "string", values = { "strict", "accept-new" } },
  timeout = { type = "number" },
  command_timeout = { type = "number" },
  scheme = { type = "string", values = { "https", "http" },
             description = "WinRM over https (default) or plain http (explicit opt-in)" },
  auth = { type = "string", values = { "ntlm", "basic", "kerberos" },
           description = "WinRM authentication (default ntlm)" },
  ca_file = { type = "string", file = "ca",
              description = "CA certificates for the WinRM listener's certificate" },
  allow_unencrypted = { type = "boolean", description = "WinRM over http: send messages "
                        .. "unsealed (only where the service has AllowUnencrypted)" },
  ccache = { type = "string", description = "WinRM/Kerberos: the credential cache holding the "
             .. "user's ticket (FILE:/path), when no password is given" },
  operation_timeout = { type = "number", description = "WinRM: seconds one Receive waits" },
  max_envelope_size = { type = "integer", description = "WinRM: MaxEnvelopeSize in bytes" },
  powershell = { type = "list", of = { type = "string" },
                 description = "local transport: the PowerShell program and its first arguments" },
  internal_address = { type = "string", description = "the Edge server's internal interface" },
}

local IP = "^[%x:%.]+$"
local HOST_NAME = "^%w[%w%-%.]*%.?$"

-- SRV priority and weight are 16-bit numbers (RFC 2782).
local function srv_number(value)
  if value >= 0 and value <= 65535 then return true end
  return false, ("%d is not in 0-65535 (an SRV priority or weight, RFC 2782)"):format(value)
end

--- The inventory schema (the runbooks' `inventory =`).
M.schema = {
  domain = { type = "string", required = true,
             description = "the SIP domain federated over XMPP, e.g. contoso.com" },
  sip_domains = { type = "list", of = { type = "string", pattern = HOST_NAME },
                  description = "every SIP domain federated over XMPP, each with its own "
                    .. "_xmpp-server._tcp SRV records (default: { domain })" },
  management = { type = "string", required = true,
                 description = "FQDN of the server where management cmdlets run (a Front End)" },
  xmpp_partner_host = { type = "string", pattern = HOST_NAME, description = "an XMPP "
    .. "partner's server the Access Edge must reach on 5269 outbound (the readiness audit asks "
    .. "each Edge server to connect there)" },
  management_export = { type = "string", description = "a directory on the management server "
    .. "where the failover exports the configuration (Export-CsConfiguration) before it "
    .. "changes the topology, e.g. D:\\RunbookExports" },
  server_defaults = { type = "record", fields = SERVER_FIELDS },
  servers = { type = "map", of = { type = "record", fields = SERVER_FIELDS } },
  pools = { type = "map", required = true, description = "the Edge pools, by FQDN", of = {
    type = "record", fields = {
      public_ip = { type = "string", pattern = IP,
                    description = "the public IP of the pool's Access Edge (after NAT)" },
      public_ipv6 = { type = "string", pattern = "^[%x:]+$",
                      description = "the public IPv6 address of the pool's Access Edge, if it "
                        .. "has one: the AAAA record of dns.xmpp_host" },
      srv_target = { type = "string", pattern = HOST_NAME,
                     description = "the host name the pool's _xmpp-server._tcp SRV record "
                       .. "names (default: dns.xmpp_host)" },
      srv_priority = { type = "integer", check = srv_number,
                       description = "priority of the pool's SRV record (default 10; lower is "
                         .. "preferred: give every pool its own)" },
      srv_weight = { type = "integer", check = srv_number,
                     description = "weight of the pool's SRV record (default 0)" },
      edge_servers = { type = "list", of = { type = "string", pattern = HOST_NAME },
                       description = "the pool's Edge servers as you expect them: their "
                         .. "PowerShell starts while the Front End is asked for the topology, "
                         .. "which stays the truth (a difference is shown)" },
    } } },
  dns = { type = "record", required = true, fields = {
    provider = { type = "string", required = true,
                 values = { "rfc2136", "powerdns", "windows", "manual", "sim" } },
    zone = { type = "string", required = true },
    xmpp_host = { type = "string", required = true,
                  description = "the A record XMPP federation uses (the SRV target)" },
    ttl = { type = "integer" },
    ttl_threshold = { type = "integer", description = "seconds: the readiness audit reports "
      .. "an XMPP A, AAAA or SRV record whose TTL is longer (e.g. 300)" },
    server = { type = "string", description = "primary server for reads and updates" },
    port = { type = "integer" },
    key = { type = "credential", description = "TSIG key file (tsig-keygen format)" },
    api_url = { type = "string" },
    api_key = { type = "credential" },
    server_id = { type = "string" },
    authoritative = { type = "list", of = { type = "record", fields = {
      address = { type = "string", required = true }, port = { type = "integer" },
      name = { type = "string" } } } },
    propagation_timeout = { type = "number" },
    system_resolver = { type = "boolean", description = "the REPL helpers may resolve names "
      .. "through this machine's resolver (default: only through the inventory)" },
    resolver = { type = "record", description = "the resolver for public lookups (the XMPP "
      .. "probe); default: the system's", fields = {
      address = { type = "string", required = true }, port = { type = "integer" } } },
  } },
  vantage = { type = "record", fields = {
    transport = { type = "string", values = { "local", "ssh", "sim" } },
    address = { type = "string" }, port = { type = "integer" }, user = { type = "string" },
    key_file = { type = "string", file = "private_key" }, passphrase = { type = "credential" },
    password = { type = "credential" }, agent = { type = "boolean" },
    known_hosts = { type = "string", file = "known_hosts" },
    host_key_policy = { type = "string", values = { "strict", "accept-new" } },
    timeout = { type = "number" },
    allow_commands = { type = "boolean", description = "ssh: may run one python3 command on "
      .. "the vantage host to tell a refused connection from an ICMP rejection" },
    max_sessions = { type = "integer", description = "ssh: most SSH sessions at once "
      .. "(default 4)" },
    name = { type = "string", description = "how reports name the vantage point" },
    ca_file = { type = "string", file = "ca", description = "CA certificates the XMPP probe trusts "
      .. "(default: the system's)" },
  } },
  failover = { type = "record", fields = {
    from_pool = { type = "string" }, to_pool = { type = "string" },
    mode = { type = "string", values = { "dead-pool", "planned" },
             description = "the default mode: dead-pool (the old pool failed) or planned" },
  } },
}

local make_world   -- registered by the lab plug-in (modules/lab/init.lua)

--- register_world(fn): fn(inventory) -> the simulated estate of an inventory's lab table.
-- The lab plug-in registers it; the product never requires the lab.
function M.register_world(fn)
  make_world = fn
end

local function lab_of(ctx)
  if ctx.inventory.lab == nil then return nil end
  assert(make_world, "[estate] the inventory has a lab table, but the lab plug-in is not "
    .. "loaded (runbook.session loads it for such an inventory)")
  ctx.data.lab = ctx.data.lab or make_world(ctx.inventory)
  return ctx.data.lab
end
M.lab_of = lab_of

--- host(ctx, fqdn) -> the cmdlet host of that server (modules/cmdlet.lua's shape)
function M.host(ctx, fqdn)
  ctx.data.hosts = ctx.data.hosts or {}
  if ctx.data.hosts[fqdn] then return ctx.data.hosts[fqdn] end   -- one table per server:
  local inventory, entry = ctx.inventory, { name = fqdn }         -- caches key on it
  for key, value in pairs(inventory.server_defaults or {}) do entry[key] = value end
  for key, value in pairs((inventory.servers or {})[fqdn] or {}) do entry[key] = value end
  local lab = lab_of(ctx)
  if lab then lab.attach(entry) end
  ctx.data.hosts[fqdn] = entry
  return entry
end

--- cms(ctx) -> the host the management cmdlets (Get-CsSite, Set-CsSite, …) run on
function M.cms(ctx)
  return M.host(ctx, ctx.inventory.management)
end

--- declared_edge_servers(ctx, pool) -> the FQDNs the inventory lists for the pool (may be {})
function M.declared_edge_servers(ctx, pool)
  return ((ctx.inventory.pools or {})[pool] or {}).edge_servers or {}
end

--- edge_servers(ctx, pool) -> hosts of the pool's Edge servers, from the topology. The ones
-- the inventory lists for the pool get their PowerShell started (and the Lync module loaded)
-- while the Front End is asked: seconds each on a real server, side by side.
function M.edge_servers(ctx, pool)
  ctx.data.edge_servers = ctx.data.edge_servers or {}
  if not ctx.data.edge_servers[pool] then
    local declared = {}
    for i, fqdn in ipairs(M.declared_edge_servers(ctx, pool)) do declared[i] = M.host(ctx, fqdn) end
    lync.warm(declared)
    local hosts = {}
    for i, fqdn in ipairs(lync.edge_servers_of(M.cms(ctx), pool)) do
      hosts[i] = M.host(ctx, fqdn)
    end
    ctx.data.edge_servers[pool] = hosts
  end
  return ctx.data.edge_servers[pool]
end

--- pool(ctx, fqdn) -> the inventory entry of an Edge pool; raises naming what is missing
function M.pool(ctx, fqdn)
  local pool = ctx.inventory.pools[fqdn]
  if not pool then
    local names = {}
    for name in pairs(ctx.inventory.pools) do names[#names + 1] = name end
    table.sort(names)
    error(("[estate] pool %s is not in the inventory's pools (it has: %s)"):format(
      tostring(fqdn), table.concat(names, ", ")), 2)
  end
  return pool
end

--- sip_domains(ctx) -> every SIP domain federated over XMPP, `domain` first
function M.sip_domains(ctx)
  local list, seen = { ctx.inventory.domain }, { [ctx.inventory.domain:lower()] = true }
  for _, domain in ipairs(ctx.inventory.sip_domains or {}) do
    if not seen[domain:lower()] then list[#list + 1] = domain; seen[domain:lower()] = true end
  end
  return list
end

--- zone_of(ctx, name) -> the zone a name is changed in: dns.zone when the name is in it,
-- else the SIP domain that holds it (a SIP domain outside dns.zone is a zone of its own,
-- served by the same server with the same key).
function M.zone_of(ctx, name)
  local bare, zone = name:lower():gsub("%.$", ""), ctx.inventory.dns.zone:lower()
  if ctx.inventory.dns.provider == "sim" then return ctx.inventory.dns.zone end  -- one zone
  if bare == zone or bare:sub(-#zone - 1) == "." .. zone then return ctx.inventory.dns.zone end
  for _, domain in ipairs(M.sip_domains(ctx)) do
    local d = domain:lower()
    if bare == d or bare:sub(-#d - 1) == "." .. d then return domain end
  end
  return ctx.inventory.dns.zone
end

--- dns(ctx [, zone]) -> the DNS provider of the zone (modules/dns/provider.lua's interface);
-- default dns.zone.
function M.dns(ctx, zone)
  local config, lab = ctx.inventory.dns, lab_of(ctx)
  zone = zone or config.zone
  ctx.data.dns_by_zone = ctx.data.dns_by_zone or {}
  if zone == config.zone and ctx.data.dns then return ctx.data.dns end
  if ctx.data.dns_by_zone[zone] then return ctx.data.dns_by_zone[zone] end
  local provider
  if config.provider == "sim" then
    assert(lab, "[estate] dns.provider = 'sim' works only in the embedded lab")
    provider = lab.dns                 -- the lab's one simulated server holds every zone
  elseif config.provider == "windows" then
    assert(config.server, "[estate] dns.provider = 'windows' needs dns.server: the FQDN of "
      .. "the Windows DNS server, whose transport comes from servers/server_defaults")
    -- loaded on first use: only dns.provider = 'windows' needs it
    provider = require("dns.windows").new { zone = zone, host = M.host(ctx, config.server) }
  else
    local settings = { zone = zone, server = config.server, port = config.port,
      key = config.key, api_url = config.api_url, api_key = config.api_key,
      server_id = config.server_id }
    provider = require("dns." .. config.provider).new(settings)
  end
  ctx.data.dns_by_zone[zone] = provider
  if zone == config.zone then ctx.data.dns = provider end
  return provider
end

--- query(ctx) -> a dns.query-shaped function (the lab's zone in the lab)
function M.query(ctx)
  local lab = lab_of(ctx)
  if lab then return lab.dns.query end
  -- loaded on first use: the lab answers DNS without it
  local query, resolver = require("runbook.dns").query, ctx.inventory.dns.resolver
  if not resolver then return query end
  return function(args)
    local with = {}
    for key, value in pairs(args) do with[key] = value end
    with.server = with.server or resolver.address
    with.port = with.port or resolver.port
    return query(with)
  end
end

--- ca_file(ctx) -> the CA file the XMPP probe trusts, or nil for the system's
function M.ca_file(ctx)
  return (ctx.inventory.vantage or {}).ca_file
end

--- authoritative(ctx) -> the servers propagation waits for (nil: found through NS)
function M.authoritative(ctx)
  local lab = lab_of(ctx)
  if lab then return lab.authoritative end
  return ctx.inventory.dns.authoritative
end

--- net(ctx, from) -> runbook.net-shaped object as seen from "inside" or the "vantage"
-- With vantage.transport = "ssh", checks "from outside" go through the vantage host.
local function ssh_vantage(ctx)
  local vantage = ctx.inventory.vantage or {}
  if vantage.transport ~= "ssh" then return nil end
  if not ctx.data.vantage then
    local host = { name = vantage.name or vantage.address }
    for key, value in pairs(vantage) do host[key] = value end
    -- loaded on first use: only an SSH vantage host needs it
    ctx.data.vantage = require("vantage").new(host)
  end
  return ctx.data.vantage
end

function M.net(ctx, from)
  local lab = lab_of(ctx)
  if lab then return lab.net(from) end
  if from == "vantage" and ssh_vantage(ctx) then return ssh_vantage(ctx) end
  -- loaded on first use: the lab's network stands in for it
  return require "runbook.net"
end

--- probe_net(ctx) -> the network the XMPP probe uses: the vantage point's (through an SSH
-- vantage host too: runbook.tls runs over its tunnel)
function M.probe_net(ctx)
  return M.net(ctx, "vantage")
end

--- vantage_name(ctx) -> where external checks are made, for reports
function M.vantage_name(ctx)
  local vantage = ctx.inventory.vantage or {}
  if lab_of(ctx) then return say("simulated_internet") end
  if vantage.transport == "ssh" then
    return say("vantage_host", vantage.name or vantage.address)
  end
  return vantage.name or say("this_host")
end

--- probe_from(ctx) -> where the XMPP probe runs, for reports: where the port checks run
function M.probe_from(ctx)
  return M.vantage_name(ctx)
end

return M
