--- lab.emulator_dns — the DnsServer module cmdlets the `windows` DNS provider uses, over
-- an emulated Windows DNS Server's zones (state.dns_zones), for the tests: the Windows side
-- is the only side runbook emulates. Output follows Get-DnsServerResourceRecord's
-- CimInstance (HostName, RecordType, TimeToLive as a TimeSpan, RecordData a CIM instance
-- per type, which ConvertTo-Json writes without its adapted properties: docs/emulator.md);
-- errors follow the module's WIN32 codes (9714 not found, 9711 exists).
local M = {}

local cjson = require "cjson"

local kit   -- ps_error, object, array, cim, text, enum: given by lab.emulator_cmdlets


local function zone_of(context, args)
  local zones = context.state.dns_zones or {}
  local zone = zones[(args.ZoneName or ""):lower()]
  if not zone then
    kit.ps_error(("The zone %s was not found on server %s."):format(tostring(args.ZoneName),
      context.state.server), "ObjectNotFound", "WIN32 9601,Get-DnsServerResourceRecord")
  end
  return zone
end

local function relative(name, zone_name)
  name = (name or "@"):lower():gsub("%.$", "")
  if name == zone_name then return "@" end
  return (name:gsub("%." .. zone_name:gsub("%p", "%%%0") .. "$", ""))
end

local function time_span(seconds)
  return kit.object { "Days", seconds // 86400, "Hours", seconds % 86400 // 3600,
    "Minutes", seconds % 3600 // 60, "Seconds", seconds % 60, "TotalSeconds", seconds + 0.0 }
end

-- "hh:mm:ss" or "d.hh:mm:ss" (what a TimeSpan parameter takes) -> seconds
local function seconds_of(value)
  if value == nil then return 3600 end
  local d, h, m, s = tostring(value):match("^(%d+)%.(%d+):(%d+):(%d+)$")
  if not d then d, h, m, s = 0, tostring(value):match("^(%d+):(%d+):(%d+)$") end
  if not h then kit.ps_error(("Cannot convert value \"%s\" to type \"System.TimeSpan\"."):format(
    tostring(value)), "InvalidArgument", "ParameterArgumentTransformationError") end
  return tonumber(d) * 86400 + tonumber(h) * 3600 + tonumber(m) * 60 + tonumber(s)
end

-- An IPAddress: ToString() gives the address; AddressFamily is an enum.
local function ip_address(address, family)
  return kit.text(address, { "Address", family == 2 and 0 or cjson.null,
    "AddressFamily", kit.enum("System.Net.Sockets.AddressFamily", family,
                              family == 2 and "InterNetwork" or "InterNetworkV6"),
    "IPAddressToString", address })
end

-- RecordData: a CIM instance of the record type's class (DnsServerResourceRecordA, …).
local function record_data(record)
  local d = record.data
  if record.type == "A" then
    return kit.cim("DnsServerResourceRecordA", { "IPv4Address", ip_address(d.address, 2) })
  elseif record.type == "AAAA" then
    return kit.cim("DnsServerResourceRecordAAAA", { "IPv6Address", ip_address(d.address, 23) })
  elseif record.type == "SRV" then
    return kit.cim("DnsServerResourceRecordSrv", { "DomainName", d.target .. ".", "Port", d.port,
                   "Priority", d.priority, "Weight", d.weight })
  elseif record.type == "CNAME" then
    return kit.cim("DnsServerResourceRecordCName", { "HostNameAlias", d.target .. "." })
  end
  return kit.cim("DnsServerResourceRecordTxt", { "DescriptiveText", d.text })
end

local function shown(record)
  return kit.cim("DnsServerResourceRecord", { "DistinguishedName", cjson.null,
    "HostName", record.name, "RecordClass", "IN", "RecordData", record_data(record),
    "RecordType", record.type, "Timestamp", cjson.null, "TimeToLive", time_span(record.ttl),
    "Type", 1 })
end

function M.get(context, args)
  local zone = zone_of(context, args)
  local name = args.Name and relative(args.Name, args.ZoneName:lower())
  local out = {}
  for _, record in ipairs(zone.records) do
    if (not name or record.name == name)
       and (not args.RRType or record.type == args.RRType:upper()) then
      out[#out + 1] = shown(record)
    end
  end
  if name and #out == 0 then
    kit.ps_error(("Failed to get %s record in %s zone on %s server."):format(args.Name,
      args.ZoneName, context.state.server), "ObjectNotFound",
      "WIN32 9714,Get-DnsServerResourceRecord")
  end
  return out
end

local function data_from(args)
  if args.A then return "A", { address = args.IPv4Address } end
  if args.AAAA then return "AAAA", { address = args.IPv6Address } end
  if args.CName then return "CNAME", { target = tostring(args.HostNameAlias):gsub("%.$", "") } end
  if args.Srv then
    return "SRV", { target = tostring(args.DomainName):gsub("%.$", ""), port = args.Port,
                    priority = args.Priority, weight = args.Weight }
  end
  if args.Txt then return "TXT", { text = args.DescriptiveText } end
  kit.ps_error("Parameter set cannot be resolved using the specified named parameters.",
    "InvalidArgument", "AmbiguousParameterSet,Add-DnsServerResourceRecord")
end

local function same_data(a, b)
  for key, value in pairs(a) do if b[key] ~= value then return false end end
  return true
end

function M.add(context, args)
  local zone = zone_of(context, args)
  local type, data = data_from(args)
  local name = relative(args.Name, args.ZoneName:lower())
  for _, record in ipairs(zone.records) do
    if record.name == name and record.type == type and same_data(data, record.data) then
      kit.ps_error(("Failed to create resource record %s in zone %s on server %s."):format(
        args.Name, args.ZoneName, context.state.server), "ResourceExists",
        "WIN32 9711,Add-DnsServerResourceRecord")
    end
  end
  zone.records[#zone.records + 1] = { name = name, type = type, ttl = seconds_of(args.TimeToLive),
                                      data = data }
  context.changed = true
  return {}
end

-- -RecordData (String[]) -> the record data it names, parsed per type as the DnsServer
-- module does: the address (A, AAAA), the alias (CNAME), "priority","weight","port",
-- "target." (SRV: Microsoft's Example 4 of Remove-DnsServerResourceRecord), the text (TXT).
local function wanted_data(context, args, rr_type)
  local value = args.RecordData
  local list = type(value) == "table" and value or { value }
  local function name_of(text) return (tostring(text):lower():gsub("%.$", "")) end
  if rr_type == "A" or rr_type == "AAAA" then return { address = tostring(list[1]):lower() } end
  if rr_type == "CNAME" then return { target = name_of(list[1]) } end
  if rr_type == "TXT" then return { text = tostring(list[1]) } end
  local priority, weight, port = tonumber(list[1]), tonumber(list[2]), tonumber(list[3])
  if rr_type ~= "SRV" or #list ~= 4 or not (priority and weight and port) then
    kit.ps_error(("Failed to remove %s record %s in zone %s on server %s: the record data "
      .. "is not valid for the record type."):format(rr_type, args.Name, args.ZoneName,
      context.state.server), "InvalidArgument", "WIN32 87,Remove-DnsServerResourceRecord")
  end
  return { priority = priority, weight = weight, port = port, target = name_of(list[4]) }
end

-- Whether a stored record's data is what -RecordData names (names and addresses in any
-- case, text exactly).
local function data_matches(wanted, data)
  for key, value in pairs(wanted) do
    local have = data[key]
    if type(value) == "string" and key ~= "text" then
      if tostring(have):lower():gsub("%.$", "") ~= value then return false end
    elseif have ~= value then return false end
  end
  return true
end

-- Without -RecordData every record of the name and type goes; with it, only the records
-- holding that data (as the DnsServer module documents).
function M.remove(context, args)
  local zone = zone_of(context, args)
  local name, rr_type = relative(args.Name, args.ZoneName:lower()), tostring(args.RRType):upper()
  local wanted = args.RecordData ~= nil and wanted_data(context, args, rr_type)
  local kept, removed = {}, 0
  for _, record in ipairs(zone.records) do
    local match = record.name == name and record.type == rr_type
                  and (not wanted or data_matches(wanted, record.data))
    if match then removed = removed + 1 else kept[#kept + 1] = record end
  end
  if removed == 0 then
    kit.ps_error(("Failed to remove %s record %s in zone %s on server %s."):format(rr_type,
      args.Name, args.ZoneName, context.state.server), "ObjectNotFound",
      "WIN32 9714,Remove-DnsServerResourceRecord")
  end
  zone.records = kept
  context.changed = true
  return {}
end

--- specs(spec, with, should, tools) -> the cmdlet specs to register
function M.specs(spec, with, should, tools)
  kit = tools
  local common = { "ZoneName", "Name", "ComputerName", "ZoneScope" }
  return {
    spec("Get-DnsServerResourceRecord", "Get-DnsServerResourceRecord",
         with(common, { "RRType", "Node" }), M.get, { positional = { "ZoneName", "Name" } }),
    spec("Add-DnsServerResourceRecord", "Add-DnsServerResourceRecord",
         with(common, with({ "A", "AAAA", "CName", "Srv", "Txt", "IPv4Address", "IPv6Address",
           "HostNameAlias", "DomainName", "Port", "Priority", "Weight", "DescriptiveText",
           "TimeToLive", "AllowUpdateAny", "PassThru" }, should)), M.add, { mutates = true }),
    spec("Remove-DnsServerResourceRecord", "Remove-DnsServerResourceRecord",
         with(common, with({ "RRType", "RecordData" }, should)), M.remove, { mutates = true }),
  }
end

return M
