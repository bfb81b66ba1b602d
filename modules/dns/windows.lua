--- dns.windows — the DNS provider for Windows DNS Server through its PowerShell cmdlets
-- (Get-/Add-/Remove-DnsServerResourceRecord) over the cmdlet layer (modules/cmdlet.lua):
-- the route for Active Directory-integrated zones, which accept only GSS-TSIG updates.
--
--   local p = require("dns.windows").new {
--     zone = "contoso.com",
--     host = { name = "dns1.contoso.com", transport = "winrm", … },  -- an inventory host
--     computer = nil,   -- -ComputerName: another DNS server to manage from host
--   }
-- A change touches only the records that differ: Add-DnsServerResourceRecord for each new
-- record first, then Remove-DnsServerResourceRecord -RecordData for each one that goes, so
-- adding an SRV record never removes the others, even for a moment, and an RRset being
-- replaced is never empty. A TTL change rewrites the kept records one at a time (remove,
-- add with the new TTL): Windows refuses a second record with the same data. Windows has
-- no atomic compare-and-swap, so the RRset is re-read just before the change (a write
-- landing between that read and the change is not seen — as with the powerdns provider).
-- When a cmdlet fails midway the error says what was done and what the RRset holds now.
local cmdlet = require "cmdlet"
local provider = require "dns.provider"
local reads = require "powershell.reads"
local say = require "dns.messages"    -- what preflight says, in en, de and fr

local M = {}

-- What fetch keeps of each record, read on the server (powershell.projection): the
-- RecordData of a Get-DnsServerResourceRecord result is a CIM instance that ConvertTo-Json
-- would write without IPv4Address, DomainName or Port (docs/emulator.md), so every field is
-- turned into a string or a number there. A field the record type lacks reads '' or 0.
local PROJECT = {
  { "HostName", "HostName" }, { "RecordType", "RecordType" },
  { "TimeToLive", "TimeToLive.TotalSeconds", "int" },
  { "IPv4Address", "RecordData.IPv4Address" }, { "IPv6Address", "RecordData.IPv6Address" },
  { "DomainName", "RecordData.DomainName" }, { "Port", "RecordData.Port", "int" },
  { "Priority", "RecordData.Priority", "int" }, { "Weight", "RecordData.Weight", "int" },
  { "HostNameAlias", "RecordData.HostNameAlias" },
  { "DescriptiveText", "RecordData.DescriptiveText" },
}

-- fetch's read, registered so that plan and checks prove it by construction (runbook.reads).
reads.template { cmdlet = "Get-DnsServerResourceRecord",
                 parameters = { ZoneName = "string", Name = "string", RRType = "string",
                                ComputerName = "string" }, project = PROJECT }

-- A projected Get-DnsServerResourceRecord object -> a provider record; nil, why when the
-- object lacks what its type needs (a read that was not projected, or another shape).
local function record_of(name, rr_type, object)
  local record = { name = provider.bare(name), type = rr_type,
                   ttl = math.tointeger(object.TimeToLive) or 3600 }
  local function text(field)
    local value = object[field]
    return type(value) == "string" and value ~= "" and value or nil
  end
  if rr_type == "A" then record.address = text("IPv4Address")
  elseif rr_type == "AAAA" then record.address = text("IPv6Address")
  elseif rr_type == "SRV" then
    record.target = text("DomainName") and provider.bare(text("DomainName"))
    record.port, record.priority = math.tointeger(object.Port), math.tointeger(object.Priority)
    record.weight = math.tointeger(object.Weight)
  elseif rr_type == "CNAME" then
    record.target = text("HostNameAlias") and provider.bare(text("HostNameAlias"))
  else record.text = object.DescriptiveText end
  if (rr_type == "A" or rr_type == "AAAA") and not record.address
     or (rr_type == "SRV" or rr_type == "CNAME") and not record.target then
    return nil, ("the %s record of %s came without its data"):format(rr_type,
      provider.bare(name))
  end
  return record
end

-- seconds -> a TimeSpan literal ("hh:mm:ss", "d.hh:mm:ss" from one day on)
local function time_to_live(seconds)
  local clock = ("%02d:%02d:%02d"):format(seconds % 86400 // 3600, seconds % 3600 // 60,
                                          seconds % 60)
  if seconds < 86400 then return clock end
  return ("%d.%s"):format(seconds // 86400, clock)
end

-- The parameters of Add-DnsServerResourceRecord for one record
local function add_parameters(type, record)
  if type == "A" then return { A = true, IPv4Address = record.address } end
  if type == "AAAA" then return { AAAA = true, IPv6Address = record.address } end
  if type == "CNAME" then return { CName = true, HostNameAlias = record.target } end
  if type == "SRV" then
    return { Srv = true, DomainName = record.target, Port = record.port,
             Priority = record.priority, Weight = record.weight }
  end
  if type == "TXT" then return { Txt = true, DescriptiveText = record.text } end
  error("[dns.windows] cannot write " .. tostring(type) .. " records", 3)
end

-- Remove-DnsServerResourceRecord's -RecordData for one record, as Microsoft documents it:
-- the address for A, "priority","weight","port","target." for SRV.
local function record_data(type, record)
  if type == "A" or type == "AAAA" then return record.address end
  if type == "CNAME" then return provider.bare(record.target) .. "." end
  if type == "SRV" then
    return { tostring(record.priority), tostring(record.weight), tostring(record.port),
             provider.bare(record.target) .. "." }
  end
  if type == "TXT" then return record.text end
  error("[dns.windows] cannot remove " .. tostring(type) .. " records", 3)
end

-- The cmdlet calls that turn old into new, in the order that keeps the RRset populated:
-- additions, removals, then the TTL rewrite of kept records (a CNAME, which cannot have
-- a sibling, is removed before its replacement is added).
local function steps_of(type, old, new, ttl)
  local removed, added = provider.changes(type, old, new)
  local steps = {}
  local function push(list, verb, with_ttl)
    for _, record in ipairs(list) do
      steps[#steps + 1] = { verb = verb, record = record, ttl = with_ttl or record.ttl }
    end
  end
  if type == "CNAME" then push(removed, "remove"); push(added, "add", ttl)
  else push(added, "add", ttl); push(removed, "remove") end
  if #old > 0 and old[1].ttl ~= ttl then
    for _, record in ipairs(provider.kept(type, old, new)) do
      push({ record }, "remove")
      push({ record }, "add", ttl)
    end
  end
  return steps
end

function M.new(config)
  assert(type(config) == "table", "[dns.windows] new(config): config must be a table")
  local zone = provider.bare(assert(config.zone, "[dns.windows] config.zone is required"))
  local host = assert(config.host, "[dns.windows] config.host (an inventory host) is required")
  local p   -- the provider, made by the template below

  local function relative(name)
    local bare = provider.bare(name)
    if bare == zone then return "@" end
    return (bare:gsub("%." .. zone:gsub("%p", "%%%0") .. "$", ""))
  end

  local function fetch(name, type)
    local objects, record = cmdlet.try(host, "Get-DnsServerResourceRecord", {
      ZoneName = zone, Name = relative(name), RRType = type, ComputerName = config.computer },
      { project = PROJECT })
    if not objects then
      if tostring(record and record.FullyQualifiedErrorId):find("9714", 1, true) then return {} end
      return nil, ("[dns.windows] reading %s %s from %s failed: %s"):format(provider.bare(name),
        type, tostring(host.name), tostring(record and record.message)), "command"
    end
    local records = {}
    for i, object in ipairs(objects) do
      local why
      records[i], why = record_of(name, type, object)
      if not records[i] then
        return nil, ("[dns.windows] reading %s %s from %s: %s"):format(provider.bare(name),
          type, tostring(host.name), why), "command"
      end
    end
    return records
  end

  -- The cmdlet and parameters of one step (built for all steps before any runs: a record
  -- this provider cannot write raises before anything changed).
  local function call_of(name, type, step)
    local parameters
    if step.verb == "add" then
      parameters = add_parameters(type, step.record)
      parameters.TimeToLive = time_to_live(step.ttl)
    else
      parameters = { RRType = type, RecordData = record_data(type, step.record), Force = true }
    end
    parameters.ZoneName, parameters.Name = zone, relative(name)
    parameters.ComputerName = config.computer
    local verb = step.verb == "add" and "Add" or "Remove"
    return { cmdlet = verb .. "-DnsServerResourceRecord", parameters = parameters }
  end

  -- What a failed step leaves behind, for the operator: the steps done and the RRset now.
  local function failure(name, type, steps, done, record)
    local step = steps[done + 1]
    local now = p.get(name, type)
    local held = {}
    for i, r in ipairs(now or {}) do held[i] = provider.key(type, r) end
    return nil, ("[dns.windows] %s %s %s on %s failed after %d of %d changes: %s (%s); %s %s "
      .. "now holds: %s. Fix the cause, then repeat the change"):format(
      step.verb, provider.key(type, step.record), type, tostring(host.name), done, #steps,
      tostring(record and record.message), tostring(record and record.category),
      provider.bare(name), type, now and (#held > 0 and table.concat(held, ", ") or "nothing")
      or "(could not read it back)"), "command"
  end

  local function write(name, type, old, records, ttl)
    local steps, calls = steps_of(type, old, records, ttl), {}
    for i, step in ipairs(steps) do calls[i] = call_of(name, type, step) end
    for i, call in ipairs(calls) do
      local ok, record = cmdlet.try(host, call.cmdlet, call.parameters)
      if not ok then return failure(name, type, steps, i - 1, record) end
    end
    return true
  end

  p = provider.new {
    label = "dns.windows", kind = "windows", zone = zone, fetch = fetch,
    write = function(change)
      return write(change.name, change.type, change.old, change.records, change.ttl)
    end,
    -- Proves the login to the DNS server and the zone with a read (runbook.preflight).
    prove = function()
      local records, message, code = p.get(zone, "SOA")
      if not records then return nil, message, code end
      return true, say("windows_answers", tostring(host.name), zone)
    end,
  }
  return p
end

return M
