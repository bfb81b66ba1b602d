--- dns.propagation — waits until every authoritative server of a zone serves a change.
-- Finds the servers (the zone's NS records, then their addresses) unless given, queries
-- them all concurrently until each answers with the wanted records (and at least the
-- wanted SOA serial), with a deadline and progress callbacks. Reports the TTL of the old
-- answers: how long resolvers may still hand them out after every server converged.
--
--   local result, message, code = propagation.wait {
--     zone = "contoso.com", name = "sip.contoso.com", type = "A",
--     records = { { address = "192.0.2.11" } },   -- the wanted RRset ({} = absent)
--     serial = 7,                                  -- optional: minimum SOA serial
--     servers = { { address = "192.0.2.53", port = 53 } },  -- optional: else found by NS
--     resolver = { server = "192.0.2.1", port = 53 },       -- for finding them (default:
--                                                           -- the system resolver)
--     port = 53, deadline = 300, interval = 2, query_timeout = 2,
--     progress = function(event) end,   -- {server=, converged=, serial=, records=, error=}
--     query = dns.query,                -- injectable (dns.sim's query for the lab)
--   }
--   -> {servers = {{address=, port=, serial=, attempts=}}, old_ttl = seconds | nil}
--   | nil, message naming the servers that did not converge, "timeout" | lookup codes
local dns = require "runbook.dns"
local task = require "runbook.task"
local provider = require "dns.provider"

local M = {}

-- The zone's servers: NS targets, with addresses from the additional section or queried.
function M.servers_of(zone, options)
  options = options or {}
  local query = options.query or dns.query
  local resolver = options.resolver or {}
  local answer, message, code = query { name = zone, type = "NS", server = resolver.server,
    port = resolver.port, timeout = options.query_timeout }
  if not answer then return nil, "[dns.propagation] finding the servers of " .. zone .. ": "
                                 .. message, code end
  local names = provider.only(answer.records, zone, "NS")
  if #names == 0 then
    return nil, ("[dns.propagation] %s has no NS records (%s)"):format(zone, answer.rcode),
           "nxdomain"
  end
  local servers = {}
  for _, ns in ipairs(names) do
    local addresses = {}
    for _, extra in ipairs(answer.additional or {}) do
      if provider.bare(extra.name) == provider.bare(ns.target) and extra.address then
        addresses[#addresses + 1] = extra.address
      end
    end
    if #addresses == 0 then
      for _, type in ipairs { "A", "AAAA" } do
        local found = query { name = ns.target, type = type, server = resolver.server,
          port = resolver.port, timeout = options.query_timeout }
        for _, record in ipairs(found and provider.only(found.records, ns.target, type) or {}) do
          addresses[#addresses + 1] = record.address
        end
      end
    end
    if #addresses == 0 then
      return nil, ("[dns.propagation] the server %s of %s has no address"):format(ns.target,
                                                                                zone), "nxdomain"
    end
    for _, address in ipairs(addresses) do
      servers[#servers + 1] = { name = provider.bare(ns.target), address = address,
                                port = options.port }
    end
  end
  return servers
end

-- TTL resolvers may keep an answer that is not the wanted one: the records' TTL, or for an
-- empty answer the negative-caching TTL (SOA minimum, capped by the SOA's own TTL).
local function ttl_of_answer(answer, records)
  if #records > 0 then
    local ttl = 0
    for _, record in ipairs(records) do ttl = math.max(ttl, record.ttl or 0) end
    return ttl
  end
  for _, record in ipairs(answer.authority or {}) do
    if record.type == "SOA" then return math.min(record.ttl, record.minimum) end
  end
end

-- One server's state after one round of queries.
local function check(server, options, state)
  local query = options.query or dns.query
  local args = { server = server.address, port = server.port, timeout = options.query_timeout,
                 tries = 1 }
  local event = { server = server.name or server.address, address = server.address }
  if options.serial then
    args.name, args.type = options.zone, "SOA"
    local soa, message = query(args)
    if not soa then event.error = message; return event end
    local record = provider.only(soa.records, options.zone, "SOA")[1]
    event.serial = record and record.serial
  end
  args.name, args.type = options.name, options.type
  local answer, message = query(args)
  if not answer then event.error = message; return event end
  event.records = provider.only(answer.records, options.name, options.type)
  local serial_ok = not options.serial or (event.serial or -1) >= options.serial
  event.converged = serial_ok and provider.same(options.type, event.records, options.records)
  if not event.converged and not state.old_ttl_seen then
    local ttl = ttl_of_answer(answer, event.records)
    if ttl then state.old_ttl = math.max(state.old_ttl or 0, ttl) end
  end
  return event
end

local function describe(server)
  return ("%s (%s:%s)"):format(server.name or server.address, server.address, server.port or 53)
end

function M.wait(options)
  assert(type(options) == "table", "[dns.propagation] wait(options): options must be a table")
  assert(options.zone and options.name and options.type and options.records,
         "[dns.propagation] wait needs zone, name, type and records")
  options.type = options.type:upper()
  local servers = options.servers
  if not servers then
    local message, code
    servers, message, code = M.servers_of(options.zone, options)
    if not servers then return nil, message, code end
  end
  local progress = options.progress or function() end
  local interval = options.interval or 1
  local state, status = {}, {}
  for i, server in ipairs(servers) do
    status[i] = { address = server.address, port = server.port, name = server.name,
                  attempts = 0 }
  end
  local finished, err = task.timeout(options.deadline or 300, function()
    task.parallel(servers, function(server, i)
      while true do
        local event = check(server, options, state)
        status[i].attempts = status[i].attempts + 1
        status[i].serial, status[i].last = event.serial, event
        progress(event)
        if event.converged then status[i].converged = true; return end
        task.sleep(interval)
      end
    end)
    return true
  end)
  if finished then return { servers = status, old_ttl = state.old_ttl } end
  if err ~= "timeout" then error(err, 0) end
  local late = {}
  for i, server in ipairs(servers) do
    if not status[i].converged then
      local last = status[i].last or {}
      late[#late + 1] = describe(server) .. (last.error and ": " .. last.error
        or (": serves serial %s, %d record(s)"):format(last.serial or "?", #(last.records or {})))
    end
  end
  return nil, ("[dns.propagation] %s %s in %s did not reach every server within %gs; still "
    .. "behind: %s"):format(options.name, options.type, options.zone, options.deadline or 300,
    table.concat(late, "; ")), "timeout"
end

return M
