--- lab.dns — an in-memory zone behind the provider interface, for the embedded lab and
-- for tests of code that changes DNS. It keeps every version of the zone (the SOA serial
-- counts them) and serves them through query(), a stand-in for dns.query, from several
-- "servers" that can lag behind the primary. Faults can be injected:
--   p.fault { refuse_updates = true }     set/delete answer like a server saying REFUSED
--   p.fault { refuse_update_at = N }      only the N-th update (set or delete) is refused
--   p.lag(server, answers)                that server keeps serving the version it has for
--                                         its next `answers` queries, then catches up
--   p.lag(server, math.huge)              a server that never converges
--   p.edit(name, type, records)           someone else's change (no compare-and-swap)
-- p.serial() is the zone's SOA serial on the primary: the number of versions.
--
--   local p = require("lab.dns").new { zone = "contoso.com", records = {...},
--                                      servers = { "ns1", "ns2" } }
--   local q = require("lab.dns").new { shared = p }      -- another client, same zone
local provider = require "dns.provider"
local say = require "dns.messages"    -- in en, de and fr

local M = {}

-- The zone: versions[i] maps "name TYPE" -> records; servers[name] = {version=, lag=}.
local function new_state(config)
  local first = {}
  for _, record in ipairs(config.records or {}) do
    local slot = provider.bare(record.name) .. " " .. record.type:upper()
    first[slot] = first[slot] or {}
    local c = provider.copy({ record })[1]
    c.name, c.type, c.ttl = provider.bare(record.name), record.type:upper(), record.ttl or 3600
    table.insert(first[slot], c)
  end
  local state = { zone = provider.bare(config.zone), versions = { first }, servers = {},
                  faults = {}, primary = (config.servers or { "primary" })[1] }
  for _, server in ipairs(config.servers or { "primary" }) do
    state.servers[server] = { version = 1, lag = 0 }
  end
  return state
end

local function latest(state) return state.versions[#state.versions] end

-- A new version with slot replaced by records.
local function commit(state, slot, records)
  local next_version = {}
  for k, v in pairs(latest(state)) do next_version[k] = v end
  next_version[slot] = #records > 0 and provider.copy(records) or nil
  state.versions[#state.versions + 1] = next_version
  state.servers[state.primary].version = #state.versions
end

function M.new(config)
  assert(type(config) == "table", "[dns.sim] new(config): config must be a table")
  local state = config.shared and config.shared.state or new_state(config)
  local updates_tried = 0

  local function slot(name, rtype) return provider.bare(name) .. " " .. rtype:upper() end

  local p = provider.new {
    label = "dns.sim", kind = "sim", zone = state.zone, state = state,

    fetch = function(name, rtype)
      return provider.copy(latest(state)[slot(name, rtype)] or {})
    end,

    write = function(change)
      updates_tried = updates_tried + 1      -- in this process: a fault of this run, not kept
      if state.faults.refuse_updates or state.faults.refuse_update_at == updates_tried then
        return nil, say("sim_refused", state.zone), "refused_update"
      end
      local new = provider.copy(change.records)
      for _, record in ipairs(new) do
        record.name, record.type, record.ttl = provider.bare(change.name), change.type, change.ttl
      end
      commit(state, slot(change.name, change.type), new)
      return true
    end,
  }

  function p.fault(faults)
    for k, v in pairs(faults) do state.faults[k] = v end
  end

  function p.lag(server, answers)
    local s = assert(state.servers[server], "[dns.sim] no server " .. tostring(server))
    s.lag = answers
  end

  function p.edit(name, type, records)
    commit(state, slot(name, type), records)
  end

  function p.serial() return #state.versions end

  function p.prove()
    if state.faults.refuse_updates then
      return nil, say("sim_refuses", state.zone), "refused_update"
    end
    return true, say("sim_accepts", state.zone)
  end

  --- query{name=, type=, server=} -> an answer shaped like dns.query's, from that server.
  function p.query(args)
    local s = state.servers[args.server or state.primary]
    if not s then return nil, "[dns.sim] no server " .. tostring(args.server), "refused" end
    if s.lag > 0 then s.lag = s.lag - 1 else s.version = #state.versions end
    local version = state.versions[s.version]
    local type = (args.type or "A"):upper()
    if type == "SOA" and provider.bare(args.name) == state.zone then
      return { rcode = "NOERROR", aa = true, records = { { name = state.zone, type = "SOA",
        ttl = 3600, mname = "ns1." .. state.zone, rname = "hostmaster." .. state.zone,
        serial = s.version, refresh = 3600, retry = 600, expire = 86400, minimum = 300 } } }
    end
    local records = provider.copy(version[slot(args.name, type)] or {})
    local exists = #records > 0
    if not exists then
      local prefix = provider.bare(args.name) .. " "
      for key in pairs(version) do
        if key:sub(1, #prefix) == prefix then exists = true end
      end
    end
    return { rcode = exists and "NOERROR" or "NXDOMAIN", aa = true, records = records }
  end

  return p
end

return M
