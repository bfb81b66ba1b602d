--- lease — one run at a time against an estate, whichever machine it starts on. The local
-- lock (runbook.fs.lock) keeps two runs on one machine apart; two operators on two machines
-- share only the estate, so the lease lives there: a TXT record in the zone the run changes,
-- written by compare-and-swap (the provider's prerequisites: RFC 2136's "RRset is exactly
-- this", PowerDNS's read-prepare-re-read), so two takers cannot both win.
--
--   local lease = require("lease").new(provider, "_runbook-lease.contoso.com", options)
--   local ok, holder = lease.take()     -- nil, "held by alice@ops1 (pid 4242, run …) until …"
--   lease.renew()                       -- pushes the expiry on (long waits)
--   lease.release()                     -- only while it is still ours
--
-- The record holds who took it, where, and until when (epoch seconds): a holder that died
-- leaves a lease that expires on its own; a later taker replaces an expired one.
local M = {}

M.DEFAULT_SECONDS = 900    -- renewed at every step: a dead holder's lease goes in 15 min

local function hostname()
  local file = io.open("/proc/sys/kernel/hostname")
  local name = file and file:read("l") or "unknown"
  if file then file:close() end
  return name
end

-- "holder=alice@ops1 pid=4242 run=xmpp-failover expires=1765000000" <-> table
local function encode(fields)
  return ("holder=%s pid=%s run=%s expires=%d"):format(fields.holder, fields.pid, fields.run,
    fields.expires)
end

local function decode(text)
  local fields = {}
  for key, value in tostring(text or ""):gmatch("(%w+)=(%S+)") do fields[key] = value end
  fields.expires = tonumber(fields.expires)
  return fields
end

local function describe(fields)
  return ("%s (pid %s, run %s) until %s"):format(fields.holder or "?", fields.pid or "?",
    fields.run or "?", fields.expires and os.date("!%Y-%m-%d %H:%M:%SZ", fields.expires) or "?")
end

--- new(provider, name, {run=, seconds=, now=, who=, pid=}) -> lease; run names the run (its
-- journal): the lease of a run that is resumed is its own.
function M.new(provider, name, options)
  options = options or {}
  local now = options.now or os.time
  local seconds = options.seconds or M.DEFAULT_SECONDS
  local mine = { holder = (options.who or os.getenv("USER") or "unknown") .. "@" .. hostname(),
                 pid = tostring(options.pid or "?"), run = options.run or "run" }
  local lease = {}
  local held   -- the record as we wrote it, while we hold the lease

  -- A lease that has not expired and is not this run's (a resumed run finds its own).
  local function held_by_other(other)
    return other ~= nil and other.expires ~= nil and other.expires > now()
      and other.run ~= mine.run
  end

  local function current()
    local records, message, code = provider.get(name, "TXT")
    if not records then return nil, message, code end
    return records
  end

  local function write()
    mine.expires = now() + seconds
    local record = { name = name, type = "TXT", ttl = 60, text = encode(mine) }
    local ok, message, code = provider.set(name, "TXT", { record }, 60)
    if not ok then return nil, message, code end
    held = record
    return true
  end

  --- take() -> true | nil, why (held by someone else, or the provider's failure)
  function lease.take()
    local records, message, code = current()
    if not records then return nil, message, code end
    local other = records[1] and decode(records[1].text)
    if held_by_other(other) then
      return nil, ("another run holds the lease %s: %s; wait for it to end, or remove the "
        .. "record if that run is gone"):format(name, describe(other)), "held"
    end
    if other and other.run == mine.run and other.expires and other.expires > now() then
      held, mine.expires = records[1], other.expires   -- a resumed run: its own, as it is
      return lease.renew()
    end
    return write(records)
  end

  --- renew() -> true | nil, why: pushes the expiry on once half the lease has passed (a
  -- write per step would bump the zone's serial at every step)
  function lease.renew()
    if not held then return nil, "the lease is not held" end
    if now() < mine.expires - seconds / 2 then return true end
    return write({ held })
  end

  --- release(): removes the record while it is still ours (a newer holder's stays)
  function lease.release()
    if not held then return true end
    local records = current()
    if not records or not records[1] or records[1].text ~= held.text then
      held = nil
      return true
    end
    held = nil
    return provider.delete(name, "TXT")
  end

  --- release_own(): removes a lease this run left behind (a resumed run that finds nothing
  -- left to do), without taking one first
  function lease.release_own()
    local records = current()
    local found = records and records[1] and decode(records[1].text)
    if found and found.run == mine.run then
      held = records[1]
      return lease.release()
    end
    return true
  end

  --- holder() -> the current holder's description, or nil when nobody holds it
  function lease.holder()
    local records = current()
    local other = records and records[1] and decode(records[1].text)
    if held_by_other(other) then return describe(other) end
    return nil
  end

  return lease
end

return M
