--- dns.propagation — waits until every authoritative server of a zone serves a change.
-- Finds the servers (the zone's NS records, then their addresses) unless given, queries
-- them all concurrently until each answers with the wanted records and at least the
-- primary's SOA serial after the change, with a deadline and progress callbacks. Reports
-- the TTL of the old answer: how long resolvers may still hand it out after every server
-- converged.
--
--   local result, message, code = propagation.wait {
--     zone = "contoso.com", name = "sip.contoso.com", type = "A",
--     records = { { address = "192.0.2.11" } },   -- the wanted RRset ({} = absent)
--     old = { { address = "192.0.2.10", ttl = 300 } },  -- the RRset before the change,
--                          -- with its TTL ({} = there was none: the zone's negative TTL)
--     serial = 7,          -- the primary's SOA serial after the change (provider.serial())
--     servers = { { address = "192.0.2.53", port = 53 } },  -- optional: else found by NS
--     resolver = { server = "192.0.2.1", port = 53 },       -- for finding them (default:
--                                                           -- the system resolver)
--     port = 53, deadline = 300, interval = 2, query_timeout = 2,
--     progress = function(event) end,   -- {server=, converged=, serial=, records=, error=}
--     query = dns.query,                -- injectable (dns.sim's query for the lab)
--   }
--   -> {servers = {{address=, port=, serial=, attempts=}}, old_ttl = seconds | nil}
--   | nil, message naming the servers that did not converge, "timeout" | lookup codes
-- Without `old`, old_ttl comes only from servers seen still serving other data (nil when
-- every server had the change at the first look); without `serial`, only the data counts.
local dns = require "runbook.dns"
local i18n = require "runbook.i18n"
local meters = require "runbook.progress"
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

--- serial_reached(served, wanted) -> whether the SOA serial served is wanted or a later
-- one, in serial number arithmetic (RFC 1982): serials wrap around at 2^32.
function M.serial_reached(served, wanted)
  return ((served - wanted) & 0xFFFFFFFF) < 0x80000000
end

-- The TTL resolvers may keep an answer with these records: the largest of theirs, or for
-- none the negative-caching TTL (RFC 2308: the SOA's minimum, capped by the SOA's TTL).
local function ttl_of(records, soa)
  if #records > 0 then
    local ttl = 0
    for _, record in ipairs(records) do ttl = math.max(ttl, record.ttl or 0) end
    return ttl
  end
  return soa and math.min(soa.ttl, soa.minimum)
end

local function note_old_ttl(state, ttl)
  if ttl then state.old_ttl = math.max(state.old_ttl or 0, ttl) end
end

-- The zone's SOA record as the server serves it (false: none in the answer), or nil, message.
local function soa_of(query, args, zone)
  args.name, args.type = zone, "SOA"
  local answer, message = query(args)
  if not answer then return nil, message end
  return provider.only(answer.records, zone, "SOA")[1] or false
end

-- One server's state after one round of queries: its SOA serial, then the RRset. An answer
-- with other data than the wanted is an old one: its TTL counts towards old_ttl.
local function check(server, options, state)
  local query = options.query or dns.query
  local args = { server = server.address, port = server.port, timeout = options.query_timeout,
                 tries = 1 }
  local event = { server = server.name or server.address, address = server.address }
  local soa, message = soa_of(query, args, options.zone)
  if soa == nil then event.error = message; return event end
  event.serial = soa and soa.serial or nil
  if soa and options.old and #options.old == 0 then note_old_ttl(state, ttl_of({}, soa)) end
  args.name, args.type = options.name, options.type
  local answer
  answer, message = query(args)
  if not answer then event.error = message; return event end
  event.records = provider.only(answer.records, options.name, options.type)
  local serial_ok = not options.serial
    or (event.serial ~= nil and M.serial_reached(event.serial, options.serial))
  local same = provider.same(options.type, event.records, options.records)
  if not same then
    local soa_of_answer = provider.only(answer.authority or {}, options.zone, "SOA")[1]
    note_old_ttl(state, ttl_of(event.records, soa_of_answer))
  end
  event.converged = serial_ok and same
  return event
end

local function describe(server)
  return ("%s (%s:%s)"):format(server.name or server.address, server.address, server.port or 53)
end

-- What a server that did not converge served last, for the timeout message.
local function behind(server, status, options)
  local last = status.last or {}
  if last.error then return describe(server) .. ": " .. last.error end
  return ("%s: serves serial %s%s, %d record(s)%s"):format(describe(server),
    last.serial or "?", options.serial and (" (wanted %s)"):format(options.serial) or "",
    #(last.records or {}), provider.same(options.type, last.records or {}, options.records)
    and " as wanted" or "")
end

-- How many servers converged, and the others as the progress line names them:
-- "ns2: serial 2" (what it serves), "ns3: no answer".
local function standing(status)
  local converged, waiting = 0, {}
  for _, server in ipairs(status) do
    if server.converged then converged = converged + 1
    elseif server.last then
      local name = server.name or server.address
      waiting[#waiting + 1] = server.last.error and i18n.t("progress_no_answer", name)
        or i18n.t("progress_serial", name, tostring(server.last.serial or "?"))
    end
  end
  return converged, waiting
end

-- Every server's status, polled concurrently until all converged (true) or the deadline;
-- a wait that lasts shows its progress server by server (runbook.progress).
local function poll_all(servers, options, state, status)
  local progress = options.progress or function() end
  local interval = options.interval or 1
  return meters.during({ what = "dns-propagation", subject = options.name .. " " .. options.type,
                         limit = options.deadline or 300, total = #servers }, function(meter)
    return task.timeout(options.deadline or 300, function()
      task.parallel(servers, function(server, i)
        while true do
          local event = check(server, options, state)
          status[i].attempts = status[i].attempts + 1
          status[i].serial, status[i].last = event.serial, event
          progress(event)
          if event.converged then status[i].converged = true end
          local converged, waiting = standing(status)
          meter:update(converged, #servers, { behind = waiting })
          if event.converged then return end
          task.sleep(interval)
        end
      end)
      return true
    end)
  end)
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
  local state, status = {}, {}
  if options.old and #options.old > 0 then note_old_ttl(state, ttl_of(options.old)) end
  for i, server in ipairs(servers) do
    status[i] = { address = server.address, port = server.port, name = server.name,
                  attempts = 0 }
  end
  local finished, err = poll_all(servers, options, state, status)
  if finished then return { servers = status, old_ttl = state.old_ttl } end
  if err ~= "timeout" then error(err, 0) end
  local late = {}
  for i, server in ipairs(servers) do
    if not status[i].converged then late[#late + 1] = behind(server, status[i], options) end
  end
  return nil, ("[dns.propagation] %s %s in %s did not reach every server within %gs; still "
    .. "behind: %s (a secondary behind: does the primary notify it, and do its zone "
    .. "transfers work?)"):format(options.name, options.type, options.zone,
    options.deadline or 300, table.concat(late, "; ")), "timeout"
end

return M
