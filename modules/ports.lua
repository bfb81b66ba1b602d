--- ports — port checks by name, many at once, and what their states mean for the failover
-- (docs/verification.md). Built on runbook.net (or a netsim topology) and runbook.dns.
--
--   local ports = require "ports"
--   local results = ports.check({ { host = "edge1.contoso.com", port = 5269 }, ... },
--                               { limit = 100, timeout = 3, from = "vantage1", net = nil,
--                                 resolver = nil, dns_server = nil, dns_port = nil })
--   -- one result per address: {host=, port=, address=, state=, reason=, rtt=, from=};
--   -- a name that does not resolve gives state = "unresolved" with detail = why
--   local ok, message = ports.expect(results, "closed")   -- step 6 (services stopped)
--   local ok, message = ports.expect(results, "open")     -- after step 7
-- Conventions: states are results, never errors; misuse raises "[ports] ...".
local task = require "runbook.task"

local M = {}

local function is_address(host)
  return host:match("^%d+%.%d+%.%d+%.%d+$") or host:find(":", 1, true)
end

-- The default resolver: runbook.dns, A then AAAA.
local function dns_resolver(options)
  -- loaded on first use: callers may bring their own resolver
  local dns = require "runbook.dns"
  return function(name, rtype)
    local answer, message = dns.query { name = name, type = rtype, timeout = options.timeout,
                                        server = options.dns_server, port = options.dns_port }
    if not answer then return nil, message end
    local records = {}
    for _, record in ipairs(answer.records) do
      if record.type == rtype then records[#records + 1] = record end
    end
    return records
  end
end

-- Expands names into one {host=, port=, address=} per address (or an "unresolved" result).
local function expand(targets, options)
  local resolve = options.resolver
  local expanded = {}
  for _, target in ipairs(targets) do
    if type(target) ~= "table" or type(target.host) ~= "string" then
      error("[ports] every target must be {host=, port=}", 3)
    end
    if is_address(target.host) then
      expanded[#expanded + 1] = { host = target.host, port = target.port, address = target.host }
    else
      resolve = resolve or dns_resolver(options)
      local found, why = 0, {}
      for _, rtype in ipairs { "A", "AAAA" } do
        local records, message = resolve(target.host, rtype)
        if not records then why[#why + 1] = rtype .. ": " .. tostring(message) end
        for _, record in ipairs(records or {}) do
          found = found + 1
          expanded[#expanded + 1] = { host = target.host, port = target.port,
                                      address = record.address }
        end
      end
      if found == 0 then
        expanded[#expanded + 1] = { host = target.host, port = target.port, state = "unresolved",
          detail = ("%s has no address%s"):format(target.host,
            #why > 0 and (" (" .. table.concat(why, "; ") .. ")") or "") }
      end
    end
  end
  return expanded
end

--- check(targets, options) -> results, in the order of targets (see the header)
function M.check(targets, options)
  options = options or {}
  if type(targets) ~= "table" then error("[ports] check expects a list of {host=, port=}", 2) end
  -- loaded on first use: callers may bring their own net (vantage)
  local net = options.net or require "runbook.net"
  local function run()
    local expanded = expand(targets, options)
    local results, failures = task.parallel(expanded, function(target)
      if target.state then target.from = options.from or "this host"; return target end
      local result = net.connect { host = target.address, port = target.port,
                                   timeout = options.timeout or 3 }
      -- a net that checks from elsewhere (a vantage host) says where; options.from renames it
      result.host, result.from = target.host, options.from or result.from or "this host"
      return result
    end, { limit = options.limit or 100 })
    if failures[1] then error(failures[1].error, 0) end
    return results
  end
  if task.current() then return run() end
  return task.run(run)
end

local function where(result)
  return ("%s:%d (%s)"):format(result.host, result.port, tostring(result.address or "?"))
end

-- An SSH vantage host whose connect failed at once, without a way to ask it why.
local UNKNOWN = "the connect from %s failed at once and SSH does not say why (a RST means "
  .. "closed, an ICMP rejection filtered): set allow_commands = true for the vantage host "
  .. "so runbook can ask it (docs/verification.md)"

local ADVICE = {
  closed = {
    open = "something already listens: are the services of the new pool really stopped, "
      .. "and does the name point at the new pool?",
    filtered = "a firewall blocks the port (perimeter firewall, the server's own firewall "
      .. "or a NAT rule): open it for the federation partners; starting services won't help",
    unreachable = "no route from %s: check the address and the vantage host",
    unresolved = "the name does not resolve",
    unknown = UNKNOWN,
  },
  open = {
    closed = "nothing listens: is the federation service started on this server?",
    filtered = "a firewall blocks the port (perimeter firewall, the server's own firewall "
      .. "or a NAT rule)",
    unreachable = "no route from %s: check the address and the vantage host",
    unresolved = "the name does not resolve",
    unknown = UNKNOWN,
  },
}

--- expect(results, "closed"|"open") -> true, summary | false, message naming every
-- deviating port, its state and what it means (docs/verification.md)
function M.expect(results, expected)
  local advice = ADVICE[expected]
  if advice == nil then error("[ports] expect: expected must be \"closed\" or \"open\"", 2) end
  local problems = {}
  for _, result in ipairs(results) do
    if result.state ~= expected then
      local why = result.reason and (" (" .. result.reason .. ")") or ""
      problems[#problems + 1] = ("%s is %s%s from %s: %s"):format(where(result), result.state,
        why, result.from, (advice[result.state] or "unexpected"):format(result.from))
    end
  end
  if #problems > 0 then return false, table.concat(problems, "\n") end
  return true, ("%d port(s) %s as expected"):format(#results, expected)
end

return M
