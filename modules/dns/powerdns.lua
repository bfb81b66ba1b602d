--- dns.powerdns — the DNS provider for PowerDNS Authoritative through its HTTP API
-- (/api/v1/servers/ID/zones/ZONE), over runbook.http. The API key is a credential
-- reference (env:NAME, file:PATH, prompt — see runbook.secrets) and never appears in a
-- message.
--
--   local p = require("dns.powerdns").new { zone = "contoso.com",
--     api_url = "http://192.0.2.53:8081", api_key = "file:/etc/runbook/pdns.key",
--     server_id = "localhost", timeout = 10, ca_file = nil }
--   p.get(name, type) / p.set(name, type, records, ttl) / p.delete(name, type)
--   p.serial()   the zone's SOA serial as served (the API's edited_serial)
--
-- Compare-and-swap: the API has no prerequisites, so set() and delete() read the RRset
-- again just before the PATCH and refuse ("conflict") when it is not what get() saw. A
-- write that lands between that read and the PATCH is not detected; the rfc2136 provider
-- (PowerDNS with dnsupdate=yes) is atomic.
local cjson = require "cjson"
local http = require "runbook.http"
local provider = require "dns.provider"
local say = require "dns.messages"    -- what preflight says, in en, de and fr
local secrets = require "runbook.secrets"

local M = {}

local function absolute(name) return provider.bare(name) .. "." end

-- PowerDNS content strings <-> record tables
local function txt_quote(text)
  return '"' .. text:gsub('[\\"]', "\\%0") .. '"'
end

local function txt_unquote(content)
  local parts = {}
  for quoted in content:gmatch('"((\\.|[^"\\])*)"') do
    parts[#parts + 1] = quoted:gsub("\\(%d%d%d)", function(d) return string.char(tonumber(d)) end)
                              :gsub("\\(.)", "%1")
  end
  return table.concat(parts)
end

local function content_of(type, record)
  if type == "A" or type == "AAAA" then return record.address
  elseif type == "CNAME" or type == "NS" then return absolute(record.target)
  elseif type == "SRV" then
    return ("%d %d %d %s"):format(record.priority, record.weight, record.port,
                                  absolute(record.target))
  elseif type == "TXT" then return txt_quote(record.text)
  end
  error(("[dns.powerdns] records of type %s are not supported"):format(type), 3)
end

local function record_of(name, type, ttl, content)
  local record = { name = provider.bare(name), type = type, ttl = ttl }
  if type == "A" or type == "AAAA" then record.address = content
  elseif type == "CNAME" or type == "NS" then record.target = provider.bare(content)
  elseif type == "SRV" then
    local priority, weight, port, target = content:match("^(%d+)%s+(%d+)%s+(%d+)%s+(%S+)$")
    record.priority, record.weight, record.port = tonumber(priority), tonumber(weight),
                                                  tonumber(port)
    record.target = provider.bare(target)
  elseif type == "TXT" then record.text = txt_unquote(content)
  elseif type == "SOA" then record.content = content
  else record.content = content end
  return record
end

-- A PowerDNS API call, JSON in and out: the decoded body | nil, message, code.
local function call(config, zone_url, api_key, method, body)
  local response, message, code = http.request { method = method, url = zone_url,
    headers = { ["X-API-Key"] = api_key, ["Content-Type"] = "application/json",
                Accept = "application/json" },
    body = body and cjson.encode(body), timeout = config.timeout or 10,
    ca_file = config.ca_file, tls_verify = config.tls_verify }
  if not response then return nil, "[dns.powerdns] " .. message, code end
  if response.status >= 200 and response.status < 300 then
    return response.body ~= "" and cjson.decode(response.body) or {}
  end
  local ok, decoded = pcall(cjson.decode, response.body)
  local detail = ok and type(decoded) == "table" and decoded.error or response.body:sub(1, 200)
  local codes = { [401] = "auth", [403] = "auth", [404] = "notfound", [422] = "invalid" }
  local hints = { [401] = "check the API key", [404] = "is the zone created on this server?",
                  [422] = "PowerDNS rejected the records" }
  return nil, ("[dns.powerdns] %s %s answered %d: %s%s"):format(method, zone_url,
    response.status, detail, hints[response.status] and " (" .. hints[response.status] .. ")"
    or ""), codes[response.status] or "http"
end

-- The zone's records of one name and type, from the zone's GET.
local function records_in(data, name, rtype)
  local records = {}
  for _, rrset in ipairs(data.rrsets or {}) do
    if provider.bare(rrset.name) == provider.bare(name) and rrset.type == rtype then
      for _, r in ipairs(rrset.records) do
        if not r.disabled then
          records[#records + 1] = record_of(name, rtype, math.tointeger(rrset.ttl) or 3600,
                                            r.content)
        end
      end
    end
  end
  return records
end

-- The PATCH body that makes the RRset hold change.records (none: delete it).
local function rrset_of(change)
  local rrset = { name = absolute(change.name), type = change.type, ttl = change.ttl,
                  changetype = "REPLACE", records = {} }
  for i, record in ipairs(change.records) do
    rrset.records[i] = { content = content_of(change.type, record), disabled = false }
  end
  if #change.records == 0 then rrset.changetype, rrset.records, rrset.ttl = "DELETE", nil, nil end
  return rrset
end

function M.new(config)
  assert(type(config) == "table", "[dns.powerdns] new(config): config must be a table")
  local zone = assert(config.zone, "[dns.powerdns] config.zone is required")
  local api_url = assert(config.api_url, "[dns.powerdns] config.api_url is required")
  assert(config.api_key, "[dns.powerdns] config.api_key (a credential reference) is required")
  local api_key = secrets.resolve(config.api_key, "PowerDNS API key").reveal()
  local zone_url = ("%s/api/v1/servers/%s/zones/%s"):format(api_url:gsub("/$", ""),
    config.server_id or "localhost", absolute(zone))
  local function api(method, body) return call(config, zone_url, api_key, method, body) end

  return provider.new {
    label = "dns.powerdns", kind = "powerdns", zone = zone,

    fetch = function(name, rtype)
      local data, message, code = api("GET")
      if not data then return nil, message, code end
      return records_in(data, name, rtype)
    end,

    write = function(change)
      local ok, message, code = api("PATCH", { rrsets = { rrset_of(change) } })
      if not ok then return nil, message, code end
      return true
    end,

    -- Proves the API key and the zone with a read (runbook.preflight): the zone's GET
    -- answers only to a valid key. Whether the key may write is not proven.
    prove = function()
      local data, message, code = api("GET")
      if not data then return nil, message, code end
      return true, say("powerdns_answers", api_url, zone)
    end,

    -- The serial queries see: edited_serial (after the zone's SOA-EDIT); each PATCH raises
    -- the stored one (SOA-EDIT-API, DEFAULT unless the zone says otherwise).
    serial = function()
      local data, message, code = api("GET")
      if not data then return nil, message, code end
      local serial = math.tointeger(data.edited_serial or data.serial)
      if serial then return serial end
      return nil, ("[dns.powerdns] GET %s gave no serial for %s (is the zone's SOA record "
                   .. "missing?)"):format(zone_url, zone), "invalid"
    end,
  }
end

return M
