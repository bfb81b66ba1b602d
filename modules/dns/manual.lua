--- dns.manual — the DNS "provider" for zones nobody can change by program (a registrar's
-- web panel): it prints the exact records to create, change or remove, waits for the
-- operator to say it is done, then checks by query that the zone serves them. Reads are
-- queries to the zone's server (or the system resolver). The instructions are for the
-- RRset as get() read it: when it changed since, set() refuses with "conflict" before
-- asking anyone; in plan mode it refuses with the diff, asking no one.
--
--   local p = require("dns.manual").new { zone = "contoso.com",
--     server = "192.0.2.53", port = 53,          -- where to verify (default: system resolver)
--     prompt = function(text) ... end,           -- shows text, returns when the operator
--                                                -- is done (false/nil: gave up)
--     attempts = 3 }                             -- prompts before giving up
--   p.get(name, type) / p.set(name, type, records, ttl) / p.delete(name, type)
local dns = require "runbook.dns"
local provider = require "dns.provider"

local M = {}

-- The zone-file line of one record, as a registrar panel or a zone file takes it.
local function zone_line(name, type, ttl, record)
  local value = provider.key(type, record)
  if type == "CNAME" or type == "NS" or type == "SRV" then value = value .. "." end
  return ("%s. %d IN %s %s"):format(provider.bare(name), ttl, type, value)
end
M.zone_line = zone_line

-- What the operator must do to turn old into new: one line per record to remove, to add,
-- and (when the TTL changes) to keep with the new TTL.
local function instructions(zone, name, type, old, new, ttl)
  local removed, added = provider.changes(type, old, new)
  local lines = { ("In the DNS hosting of %s, for %s %s:"):format(zone, provider.bare(name),
                                                                 type) }
  for _, record in ipairs(removed) do
    lines[#lines + 1] = "  remove  " .. zone_line(name, type, record.ttl or ttl, record)
  end
  for _, record in ipairs(added) do
    lines[#lines + 1] = "  add     " .. zone_line(name, type, ttl, record)
  end
  if #old > 0 and old[1].ttl ~= ttl then
    for _, record in ipairs(provider.kept(type, old, new)) do
      lines[#lines + 1] = "  set TTL " .. zone_line(name, type, ttl, record)
    end
  end
  lines[#lines + 1] = "Press Enter when the change is saved."
  return table.concat(lines, "\n")
end

-- The default prompt: the terminal, not stdin (stdin may carry a runbook's input).
local function tty_prompt(text)
  local tty = io.open("/dev/tty", "r+")
  if not tty then
    error("[dns.manual] no terminal to ask the operator on: pass prompt= to dns.manual.new", 0)
  end
  tty:write(text, " ")
  tty:flush()
  local answer = tty:read("l")
  tty:close()
  return answer ~= nil
end

function M.new(config)
  assert(type(config) == "table", "[dns.manual] new(config): config must be a table")
  local zone = assert(config.zone, "[dns.manual] config.zone is required")
  local prompt = config.prompt or tty_prompt
  local query = config.query or dns.query

  local function fetch(name, type)
    local answer, message, code = query { name = name, type = type, server = config.server,
      port = config.port, timeout = config.timeout }
    if not answer then return nil, "[dns.manual] " .. message, code end
    return provider.only(answer.records, name, type)
  end

  -- Asks the operator until the zone serves records, or the attempts run out.
  local function ask(name, type, records, text)
    local message
    for attempt = 1, config.attempts or 3 do
      if not prompt(text, attempt) then
        return nil, ("[dns.manual] the operator did not confirm the change of %s %s")
                    :format(provider.bare(name), type), "cancelled"
      end
      local now
      now, message = fetch(name, type)
      if now and provider.same(type, now, records) then return now end
      text = ("%s %s is not served yet (%s). Check the change, then press Enter."):format(
        provider.bare(name), type, now and (#now .. " record(s) that differ") or message)
    end
    return nil, ("[dns.manual] %s %s still does not hold the wanted records after %d checks")
                :format(provider.bare(name), type, config.attempts or 3), "unverified"
  end

  -- Compare-and-swap as far as a person allows: the instructions are for the RRset as it
  -- was read, so a change by someone else since then stops here ("conflict"). What the
  -- zone serves once the operator confirms is what set() reports as new.
  return provider.new {
    label = "dns.manual", kind = "manual", zone = zone, fetch = fetch,
    write = function(change)
      return ask(change.name, change.type, change.records,
                 instructions(zone, change.name, change.type, change.old, change.records,
                              change.ttl))
    end,
    -- Nothing to prove ahead (runbook.preflight): the operator makes each change when asked.
    prove = function() return true, "manual: the operator makes each change when asked" end,
  }
end

return M
