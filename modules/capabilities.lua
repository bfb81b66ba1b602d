--- capabilities — what the XMPP federation runbooks need of an estate, proven by
-- runbook.preflight before the first change. A step lists its needs:
--   needs = function(ctx) return { capabilities.windows(host, { "Set-CsSite" }),
--                                  capabilities.dns_update(), capabilities.vantage(target) } end
-- and this module proves each kind once per run:
--   windows     the server answers, the login works, and the cmdlets exist there
--               (one Get-Command, which also loads the Lync module: the drift guard);
--   dns-update  the DNS provider accepts the run's credentials without a change
--               (provider.prove: a prerequisite-only RFC 2136 update, a keyed API read);
--   vantage     the vantage point can open connections for the port and XMPP checks
--               (an SSH vantage host that forbids TCP forwarding is a blocker).
local cmdlet = require "cmdlet"
local i18n = require "runbook.i18n"
local estate = require "estate"
local failure = require "runbook.failure"
local preflight = require "runbook.preflight"
local reads = require "powershell.reads"
local say = require "capabilities_messages"   -- what preflight says, in en, de and fr

local M = {}

-- The one read preflight sends per server, proven by construction (runbook.reads).
reads.template { cmdlet = "Get-Command", parameters = { Name = "strings" } }

--- windows(host, cmdlets) -> the need "this server answers and has these cmdlets"
function M.windows(host, cmdlets)
  return { kind = "windows", host = host, cmdlets = cmdlets }
end

--- dns_update() -> the need "the DNS provider accepts our changes"
function M.dns_update()
  return { kind = "dns-update" }
end

--- lease_free(lease) -> the need "no other run holds the estate's lease" (modules/lease.lua;
-- nil: the runbook has none)
function M.lease_free(lease)
  return { kind = "lease", lease = lease }
end

--- vantage(target) -> the need "the vantage point can connect out" ({host=, port=})
function M.vantage(target)
  return { kind = "vantage", target = target }
end

local function names_of(objects)
  local found = {}
  for _, object in ipairs(objects or {}) do
    local name = type(object) == "table" and object.Name or object
    if name then found[tostring(name):lower()] = true end
  end
  return found
end

-- The cmdlets of every windows need of one server are asked together.
local function merged_cmdlets(need)
  local list, seen = {}, {}
  for _, name in ipairs(need.cmdlets or {}) do
    if not seen[name:lower()] then seen[name:lower()] = true; list[#list + 1] = name end
  end
  table.sort(list)
  return list
end

preflight.register("windows", {
  key = function(need) return tostring(need.host.name) end,
  prepare = function(_, needs)    -- every server's session starts now, in parallel
    local hosts = {}
    for i, need in ipairs(needs) do hosts[i] = need.host end
    cmdlet.open_sessions(hosts)
  end,
  merge = function(into, need)
    local list = {}
    for _, name in ipairs(into.cmdlets or {}) do list[#list + 1] = name end
    for _, name in ipairs(need.cmdlets or {}) do list[#list + 1] = name end
    into.cmdlets = list
  end,
  prove = function(_, need)
    local wanted = merged_cmdlets(need)
    local objects, record = cmdlet.try(need.host, "Get-Command", { Name = wanted })
    if not objects then
      if record.transport then
        return nil, say("cannot_log_in", need.host.name, i18n.verbatim(record.message),
          record.cause)
      end
      return nil, say("lacks_cmdlet", need.host.name, i18n.verbatim(record.message))
    end
    local found, missing = names_of(objects), {}
    for _, name in ipairs(wanted) do
      if not found[name:lower()] then missing[#missing + 1] = name end
    end
    if #missing > 0 then
      return nil, say("has_no_cmdlets", need.host.name, table.concat(missing, ", "))
    end
    return true, say("logged_in", need.host.name, need.host.transport or "ssh",
      table.concat(wanted, ", "))
  end })

preflight.register("dns-update", {
  key = function() return "zone" end,
  prove = function(ctx)
    local provider = estate.dns(ctx)
    if not provider.prove then
      return nil, say("no_prove", tostring(provider.kind))
    end
    local ok, message = provider.prove()
    if not ok then return nil, tostring(message) end
    return true, message
  end })

preflight.register("lease", {
  key = function() return "lease" end,
  prove = function(_, need)
    if not need.lease then return true, say("no_lease") end
    local holder = need.lease.holder()
    if holder then
      return nil, say("lease_held", holder)
    end
    return true, say("lease_free")
  end })

preflight.register("vantage", {
  key = function(need) return ("%s:%s"):format(need.target.host, need.target.port) end,
  prove = function(ctx, need)
    local net = estate.net(ctx, "vantage")
    local ok, result = pcall(net.connect, { host = need.target.host, port = need.target.port,
                                            timeout = 5 })
    if not ok then
      if failure.cause(result) == "cancelled" or result == "cancelled" then error(result, 0) end
      return nil, tostring(result)
    end
    return true, say("connects_out", estate.vantage_name(ctx), need.target.host,
      need.target.port, tostring(result.state))
  end })

return M
