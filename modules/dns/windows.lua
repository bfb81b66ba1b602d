--- dns.windows — the DNS provider for Windows DNS Server through its PowerShell cmdlets
-- (Get-/Add-/Remove-DnsServerResourceRecord) over the cmdlet layer (modules/cmdlet.lua):
-- the route for Active Directory-integrated zones, which accept only GSS-TSIG updates.
--
--   local p = require("dns.windows").new {
--     zone = "contoso.com",
--     host = { name = "dns1.contoso.com", transport = "ssh", … },  -- an inventory host
--     computer = nil,   -- -ComputerName: another DNS server to manage from host
--   }
-- Replacing an RRset removes it and adds the new records: Windows has no atomic replace
-- of a whole RRset, so compare-and-swap re-reads just before the change (a write landing
-- between that read and the change is not seen — as with the powerdns provider).
local cmdlet = require "cmdlet"
local provider = require "dns.provider"

local M = {}

-- A Get-DnsServerResourceRecord object (as JSON) -> a provider record
local function record_of(name, type, object)
  local data, ttl = object.RecordData or {}, object.TimeToLive or {}
  local record = { name = provider.bare(name), type = type,
                   ttl = math.tointeger(ttl.TotalSeconds) or 3600 }
  if type == "A" then record.address = (data.IPv4Address or {}).IPAddressToString
  elseif type == "AAAA" then record.address = (data.IPv6Address or {}).IPAddressToString
  elseif type == "SRV" then
    record.target = provider.bare(data.DomainName)
    record.port, record.priority = math.tointeger(data.Port), math.tointeger(data.Priority)
    record.weight = math.tointeger(data.Weight)
  elseif type == "CNAME" then record.target = provider.bare(data.HostNameAlias)
  else record.text = data.DescriptiveText end
  return record
end

local function time_to_live(seconds)
  return ("%02d:%02d:%02d"):format(seconds // 3600, seconds % 3600 // 60, seconds % 60)
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

function M.new(config)
  assert(type(config) == "table", "[dns.windows] new(config): config must be a table")
  local zone = provider.bare(assert(config.zone, "[dns.windows] config.zone is required"))
  local host = assert(config.host, "[dns.windows] config.host (an inventory host) is required")
  local remember, recall = provider.memory()
  local p = { kind = "windows", zone = zone }

  local function relative(name)
    local bare = provider.bare(name)
    if bare == zone then return "@" end
    return (bare:gsub("%." .. zone:gsub("%p", "%%%0") .. "$", ""))
  end

  local function fetch(name, type)
    local objects, record = cmdlet.try(host, "Get-DnsServerResourceRecord", {
      ZoneName = zone, Name = relative(name), RRType = type, ComputerName = config.computer })
    if not objects then
      if tostring(record and record.FullyQualifiedErrorId):find("9714", 1, true) then return {} end
      return nil, ("[dns.windows] reading %s %s from %s failed: %s"):format(provider.bare(name),
        type, tostring(host.name), tostring(record and record.message)), "windows"
    end
    local records = {}
    for i, object in ipairs(objects) do records[i] = record_of(name, type, object) end
    return records
  end

  function p.get(name, type)
    local records, message, code = fetch(name, type:upper())
    if records then remember(name, type:upper(), records) end
    return records and provider.copy(records), message, code
  end

  local function write(name, type, old, records, ttl)
    if #old > 0 then
      cmdlet(host, "Remove-DnsServerResourceRecord", { ZoneName = zone, Name = relative(name),
        RRType = type, ComputerName = config.computer, Force = true })
    end
    for _, record in ipairs(records) do
      local parameters = add_parameters(type, record)
      parameters.ZoneName, parameters.Name = zone, relative(name)
      parameters.TimeToLive, parameters.ComputerName = time_to_live(ttl), config.computer
      cmdlet(host, "Add-DnsServerResourceRecord", parameters)
    end
  end

  function p.set(name, type, records, ttl)
    type = type:upper()
    local old, message, code = provider.previous(recall, p.get, name, type)
    if not old then return nil, message, code end
    local prepared, unchanged = provider.prepare(zone, name, type, records, ttl, old)
    if not prepared then return unchanged end
    local diff
    ttl, diff = prepared.ttl, prepared.diff
    local fresh
    fresh, message, code = provider.still_as_read("dns.windows", fetch, zone, name, type, old)
    if not fresh then return nil, message, code end
    local ok, err = pcall(write, name, type, old, records, ttl)
    if not ok then return nil, "[dns.windows] " .. tostring(err), "windows" end
    return provider.changed(remember, name, type, records, ttl, old, diff)
  end

  function p.delete(name, type)
    return p.set(name, type, {}, nil)
  end

  return p
end

return M
