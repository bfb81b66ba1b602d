--- diagnostics — short helpers for `runbook repl -i INVENTORY` during an incident. Each
-- prints a readable answer and returns the data, so it can be inspected further:
--   status()                 one screen: XMPP route per site, services of every Edge server,
--                            A and SRV records on every authoritative server, 5269 from outside
--   dig(name [, type])       records as each of the zone's servers (or the lab) answers
-- Names resolve only through the inventory: its DNS servers and its `servers` entries; this
-- machine's resolver only with dns.system_resolver = true.
--   port(host, port [, {from="vantage"|"inside"}])   open / closed / filtered / unreachable
--   probe([domain])          the XMPP server-to-server probe, stage by stage
--   ps(server, script)       a PowerShell expression on a server of the inventory
local cmdlet = require "cmdlet"
local estate = require "estate"
local i18n = require "runbook.i18n"
local lync = require "lync"
local xmpp = require "xmpp"
local say = require "diagnostics_messages"   -- what the helpers say, in en, de and fr
local help_lines = i18n.catalogues.diagnostics  -- their help, shown in the chosen language

local M = {}

--- HELP: each helper with its call, what it shows and an example, in the order help()
-- lists them (runbook.repl's help).
M.HELP = {
  { name = "status", usage = "status()",
    text = help_lines.help_status,
    example = "s = status(); =s.routes.Site1" },
  { name = "dig", usage = "dig(name [, type])",
    text = help_lines.help_dig,
    example = 'dig("_xmpp-server._tcp.contoso.com", "SRV")' },
  { name = "port", usage = 'port(host, port [, {from = "inside"}])',
    text = help_lines.help_port,
    example = 'port("xmpp.contoso.com", 5269)' },
  { name = "probe", usage = "probe([domain])",
    text = help_lines.help_probe,
    example = 'probe("contoso.com")' },
  { name = "ps", usage = "ps(server, script)",
    text = help_lines.help_ps,
    example = 'ps("fe1.contoso.com", "(Get-CsSite -Identity \'Site2\').Identity")' },
}

local USAGE = {}
for _, entry in ipairs(M.HELP) do USAGE[entry.name] = entry end

--- usage_error(message): an error the REPL shows as its one line, without a traceback:
-- a helper called with what it does not take.
local function usage_error(helper, expected, got)
  local entry = USAGE[helper]
  local line = say("usage", entry.usage, say(expected), got, entry.example)
  error(setmetatable({ text = line }, { __name = "runbook.usage",
    __tostring = function(e) return e.text end }), 0)
end
M.usage_error = usage_error

-- The value as a message shows it: a string quoted, nothing as "nothing".
local function shown(value)
  if value == nil then return say("nothing") end
  if type(value) == "string" then return ("%q"):format(value) end
  return ("%s %s"):format(type(value), tostring(value))
end

local function need_name(helper, value, what)
  if type(value) ~= "string" or value == "" then usage_error(helper, what, shown(value)) end
end

local address_of   -- defined below servers_to_ask, which it uses

-- The DNS servers the helpers ask: the inventory's authoritative list; else the zone's NS,
-- asked of the inventory's dns.server (each name resolved there too); else its resolver.
-- Never this machine's resolver unless the inventory says so (dns.system_resolver = true).
local function servers_to_ask(ctx)
  local listed = estate.authoritative(ctx)
  if listed then return listed end
  local dns = ctx.inventory.dns
  if dns.server then
    local query, found = estate.query(ctx), {}
    local answer = query { name = dns.zone, type = "NS", server = dns.server, port = dns.port }
    for _, record in ipairs(answer and answer.records or {}) do
      local a = query { name = record.target, type = "A", server = dns.server, port = dns.port }
      local address = a and a.records[1] and a.records[1].address
      found[#found + 1] = { name = record.target, address = address or dns.server,
                            port = dns.port }
    end
    if #found > 0 then return found end
    return { { name = dns.server, address = dns.server, port = dns.port } }
  end
  if dns.resolver then
    return { { name = say("resolver", dns.resolver.address), address = dns.resolver.address,
               port = dns.resolver.port } }
  end
  if dns.system_resolver then return { { name = say("system_resolver") } } end
  error(say("no_dns_server"), 0)
end

-- A query function that asks only the inventory's DNS: in the lab the lab's; else its
-- resolver; else the first server servers_to_ask names (this machine's resolver only with
-- dns.system_resolver = true, where servers_to_ask says so).
local function inventory_query(ctx)
  if estate.lab_of(ctx) or ctx.inventory.dns.resolver then return estate.query(ctx) end
  local server, query = servers_to_ask(ctx)[1], estate.query(ctx)
  return function(args)
    local with = { server = server.address, port = server.port }
    for key, value in pairs(args) do with[key] = value end
    return query(with)
  end
end

-- The address port() connects to: an address as given; a server of the inventory at its
-- address; else the name's A record from the inventory's DNS servers (never this
-- machine's resolver unless the inventory allows it).
function address_of(ctx, host)
  if host:match("^[%d.]+$") or host:find(":", 1, true) then return host end
  local entry = (ctx.inventory.servers or {})[host]
  if entry and entry.address then return entry.address end
  local answer, message = inventory_query(ctx) { name = host, type = "A" }
  local record = answer and answer.records and answer.records[1]
  if record and record.address then return record.address end
  local said = message or (answer and answer.rcode)   -- the resolver's words, or none
  error(say("no_a_record", host, said and i18n.verbatim(tostring(said)) or say("no_answer")), 0)
end

-- Whether runbook may contact a server of the topology: the lab's, one the inventory gives
-- an address, or any when the inventory lets this machine's resolver find it.
local function reachable_by_inventory(ctx, host)
  return estate.lab_of(ctx) ~= nil or host.address ~= nil or ctx.inventory.dns.system_resolver
end

local function print_rows(title, rows)
  print(title)
  for _, row in ipairs(rows) do print("  " .. row) end
end

--- install(env, ctx): puts the helpers into env (the REPL's globals) for this inventory.
function M.install(env, ctx)
  function env.dig(name, type)
    need_name("dig", name, "a_name")
    if type ~= nil and (_G.type(type) ~= "string" or not type:match("^%a+$")) then
      usage_error("dig", "a_record_type", shown(type))
    end
    type = (type or "A"):upper()
    local rows, answers = {}, {}
    for _, server in ipairs(servers_to_ask(ctx)) do
      local answer, message = estate.query(ctx) { name = name, type = type, server = server.address,
                                                  port = server.port }
      answers[server.name or server.address] = answer or message
      local text = {}
      for _, record in ipairs(answer and answer.records or {}) do
        text[#text + 1] = record.address or (record.priority and ("%d %d %d %s"):format(
          record.priority, record.weight, record.port, record.target)) or record.target
          or record.text or tostring(record.serial)
      end
      rows[#rows + 1] = ("%-12s %s"):format(server.name or server.address or say("resolver", ""),
        answer and (answer.rcode .. " " .. table.concat(text, ", "))
          or say("dns_error", i18n.verbatim(tostring(message))))
    end
    print_rows(("%s %s"):format(name, type), rows)
    return answers
  end

  function env.port(host, number, options)
    need_name("port", host, "a_host")
    if math.type(number) ~= "integer" or number < 1 or number > 65535 then
      usage_error("port", "a_port", shown(number))
    end
    if options ~= nil and (type(options) ~= "table" or (options.from ~= nil
        and options.from ~= "vantage" and options.from ~= "inside")) then
      usage_error("port", "a_from", shown(options))
    end
    local from = options and options.from or "vantage"
    local address = address_of(ctx, host)
    local result = estate.net(ctx, from).connect { host = address, port = number, timeout = 5 }
    print(say("port_from", host, number, from == "vantage" and estate.vantage_name(ctx)
      or say("inside"), result.state))
    return result
  end

  function env.probe(domain)
    if domain ~= nil then need_name("probe", domain, "a_domain") end
    local query = inventory_query(ctx)
    local result = xmpp.probe { domain = domain or ctx.inventory.domain, timeout = 5,
      net = estate.probe_net(ctx), from = estate.probe_from(ctx), ca_file = estate.ca_file(ctx),
      resolver = function(name, type)
        local answer = query { name = name, type = type }
        return answer and answer.records or {}
      end }
    print(xmpp.summary(result))
    return result
  end

  function env.ps(server, script)
    need_name("ps", server, "a_server")
    need_name("ps", script, "an_expression")
    return cmdlet.evaluate(estate.host(ctx, server), script)
  end

  function env.status()
    local cms, data = estate.cms(ctx), { routes = {}, services = {}, ports = {} }
    local topology = lync.topology(cms)
    local rows = {}
    for site, info in pairs(topology.sites) do
      data.routes[site] = info.route
      rows[#rows + 1] = ("%-10s %s"):format(site, info.route or say("no_route"))
    end
    table.sort(rows)
    print_rows(say("route_heading", topology.route_parameter), rows)
    rows = {}
    for pool in pairs(ctx.inventory.pools) do
      for _, host in ipairs(estate.edge_servers(ctx, pool)) do
        local ok, list = false, say("not_in_inventory")
        if reachable_by_inventory(ctx, host) then
          ok, list = pcall(lync.services, host, { computer = host.name })
        end
        local states = {}
        for _, service in ipairs(ok and list or {}) do
          states[#states + 1] = service.Name .. "=" .. service.Status
        end
        data.services[host.name] = ok and list or tostring(list)
        rows[#rows + 1] = ("%-24s %s"):format(host.name,
          ok and table.concat(states, " ") or tostring(list))
      end
    end
    table.sort(rows)
    print_rows(say("services_heading"), rows)
    data.a = env.dig(ctx.inventory.dns.xmpp_host, "A")
    data.srv = env.dig("_xmpp-server._tcp." .. ctx.inventory.domain, "SRV")
    print(say("ports_heading", estate.vantage_name(ctx)))
    local pools = {}
    for pool in pairs(ctx.inventory.pools) do pools[#pools + 1] = pool end
    table.sort(pools)
    for _, pool in ipairs(pools) do
      local info = ctx.inventory.pools[pool]
      local result = estate.net(ctx, "vantage").connect {
        host = info.public_ip, port = 5269, timeout = 5 }
      data.ports[pool] = result.state
      print(("  %-24s %-15s %s"):format(pool, info.public_ip, result.state))
    end
    return data
  end
end

require("runbook.repl").register { help = M.HELP, install = M.install }

return M
