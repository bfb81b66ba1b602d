--- dns.rfc2136 — the DNS provider for servers that take RFC 2136 dynamic updates signed
-- with TSIG: BIND, Knot, PowerDNS (with dnsupdate=yes); Windows DNS only for zones that
-- accept nonsecure updates (AD-integrated secure zones: the windows provider). Reads go to
-- the primary with dns.query; changes are UPDATE messages whose prerequisites are the
-- values read (compare-and-swap).
--
--   local p = require("dns.rfc2136").new {
--     zone = "contoso.com", server = "192.0.2.53", port = 53,
--     key = "file:/etc/runbook/tsig.key",   -- credential reference to a tsig-keygen file
--     -- or key_file = PATH (same format, no permission check), or key = {name=, algorithm=,
--     -- secret=}; without a key, updates go unsigned
--     -- or GSS-TSIG (RFC 3645: Windows DNS "Secure only", BIND tkey-gssapi-keytab):
--     -- key = { gss = true, server_name = "dc1.contoso.com" (its SPN: DNS/<name>),
--     --         principal = "svc-runbook@CONTOSO.COM", credentials = "env:…" (the password's
--     --         reference) or ccache = "FILE:/path", krb5_config = PATH (optional) }
--     timeout = 5, tries = 3 }
--   p.get(name, type) / p.set(name, type, records, ttl) / p.delete(name, type)
--   p.serial()   the zone's SOA serial, asked of the primary
-- See modules/dns/provider.lua for the shared contract.
local dns = require "runbook.dns"
local dns_key = require "dns.key"
local provider = require "dns.provider"
local say = require "dns.messages"    -- what preflight says, in en, de and fr
local secrets = require "runbook.secrets"

local M = {}

-- a copy of record with fields set over it
local function with(record, fields)
  local copy = {}
  for k, v in pairs(record) do copy[k] = v end
  for k, v in pairs(fields) do copy[k] = v end
  return copy
end

local CONFLICT = { nxrrset = true, yxrrset = true, nxdomain = true, yxdomain = true }

-- key = {gss = true, …} -> a function that returns the GSS-TSIG key (dns.gss_tsig),
-- negotiated on first use and again once it expires or the server forgot it (BADKEY).
local function gss_signer(config, key)
  -- loaded only for GSS-TSIG: it loads runbook.gss (MIT Kerberos, gss-ntlmssp)
  local gss_tsig = require "dns.gss_tsig"
  assert(key.server_name, "[dns.rfc2136] key.server_name is required for GSS-TSIG: the DNS "
    .. "server's host name (its service principal is DNS/<name>)")
  assert(key.credentials or key.ccache or key.principal == nil, "[dns.rfc2136] GSS-TSIG as "
    .. tostring(key.principal) .. " needs credentials (the password's reference) or ccache")
  if key.krb5_config then
    -- loaded only for GSS-TSIG with its own krb5.conf (MIT Kerberos)
    require("runbook.gss").use_krb5_config(key.krb5_config)
  end
  local password = key.credentials and secrets.resolve(key.credentials,
    "the Kerberos password of " .. tostring(key.principal)) or nil
  local negotiated
  return function(again)
    if negotiated and not again and (negotiated.expires == 0
                                     or os.time() < negotiated.expires - 60) then
      return negotiated
    end
    local fresh, message, code = gss_tsig.negotiate { server = config.server,
      port = config.port, server_name = key.server_name, principal = key.principal,
      password = password, ccache = key.ccache, timeout = config.timeout }
    if not fresh then return nil, message, code end
    negotiated = fresh
    return fresh
  end
end

function M.new(config)
  assert(type(config) == "table", "[dns.rfc2136] new(config): config must be a table")
  local zone = assert(config.zone, "[dns.rfc2136] config.zone is required")
  local server = assert(config.server, "[dns.rfc2136] config.server is required")
  local key = config.key
  if type(key) == "string" or (type(key) == "table" and key.reveal) then
    local reference = tostring(key)
    key = assert(dns_key.parse(secrets.resolve(key, "TSIG key").reveal(), reference))
    secrets.protect(key.secret)   -- the key file is redacted whole; the key alone must be too
  end
  if config.key_file then key = assert(dns_key.read(config.key_file)) end
  local gss_key = type(key) == "table" and key.gss == true and key or nil
  local gss_key_of = gss_key and gss_signer(config, gss_key)
  local function where() return ("%s:%s"):format(server, config.port or 53) end

  -- dns.update with the provider's key: a GSS-TSIG key negotiated when needed, and once
  -- more when the server forgot it (restarted: BADKEY); the update is not applied then.
  local function signed_update(message)
    if not gss_key_of then
      message.key = key
      return dns.update(message)
    end
    for attempt = 1, 2 do
      local signing, problem, code = gss_key_of(attempt == 2)
      if not signing then return nil, problem, code end
      message.key = signing
      local result, text, why = dns.update(message)
      if why == "refused_update" and text:find("answered REFUSED", 1, true) then
        return nil, ("%s (GSS-TSIG as %s: the zone must grant this principal: BIND's "
          .. "update-policy, or on Windows the zone's security: Create all child objects and "
          .. "Write)"):format(text, tostring(gss_key.principal or "the ccache's principal")),
          "refused_update"
      end
      if why ~= "badkey" then return result, text, why end
    end
    return nil, ("the DNS server at %s forgot the GSS-TSIG key negotiated again just "
                 .. "before: see its log"):format(where()), "auth"
  end

  -- One update old -> new with old as its prerequisite: only the records that differ are
  -- deleted and added, unless the TTL changes (an RRset has one TTL: it is rewritten).
  local function update(name, rtype, old, new, ttl)
    local prerequisite = { name = name, type = rtype, records = old }
    if #old == 0 then prerequisite = { name = name, type = rtype, exists = false } end
    local removed, added = provider.changes(rtype, old, new)
    local changes = {}
    if #old > 0 and #new > 0 and old[1].ttl ~= ttl then
      removed, added = {}, new
      changes[1] = { op = "delete_rrset", name = name, type = rtype }
    end
    for _, record in ipairs(removed) do
      changes[#changes + 1] = with(record, { op = "delete_record", name = name, type = rtype })
    end
    for _, record in ipairs(added) do
      changes[#changes + 1] = with(record, { op = "add", name = name, type = rtype, ttl = ttl })
    end
    local result, message, code = signed_update { server = server, port = config.port,
      zone = zone, timeout = config.timeout, tries = config.tries,
      prerequisites = { prerequisite }, changes = changes }
    if result then return true end
    if CONFLICT[code] then
      return nil, ("[dns.rfc2136] %s %s at %s changed since it was read; read it again and "
                   .. "decide (%s)"):format(name, rtype, where(), message), "conflict"
    end
    return nil, "[dns.rfc2136] " .. message, code
  end

  -- The update carries its own prerequisite (the values read): atomic, no re-read.
  local p = provider.new {
    label = "dns.rfc2136", kind = "rfc2136", zone = zone, atomic = true,
    fetch = function(name, rtype)
      local answer, message, code = dns.query { name = name, type = rtype, server = server,
        port = config.port, timeout = config.timeout, tries = config.tries }
      if not answer then return nil, "[dns.rfc2136] " .. message, code end
      return provider.only(answer.records, name, rtype)
    end,
    write = function(change)
      return update(change.name, change.type, change.old, change.records, change.ttl)
    end,
  }

  -- Proves the key without changing the zone (runbook.preflight): an UPDATE holding only
  -- the prerequisite "the zone's SOA exists" (RFC 2136 §2.4.1), signed, changes nothing;
  -- NOERROR means the server accepted the key. The server's update-policy for the names
  -- the run will change is not proven: that residual risk is said, not hidden.
  function p.prove()
    local result, message, code = signed_update { server = server, port = config.port,
      zone = zone, timeout = config.timeout, tries = config.tries,
      prerequisites = { { name = zone, type = "SOA", exists = true } } }
    if not result then return nil, "[dns.rfc2136] " .. message, code end
    local signer = key and say("tsig_key", tostring(key.name)) or say("unsigned")
    if gss_key then
      signer = say("gss_tsig", tostring(gss_key.principal or say("ccache_principal")))
    end
    return true, say("rfc2136_accepts", where(), signer, zone)
  end

  -- The serial the primary serves: after set(), the change's (BIND raises it per update).
  function p.serial()
    local answer, message, code = dns.query { name = zone, type = "SOA", server = server,
      port = config.port, timeout = config.timeout, tries = config.tries }
    if not answer then return nil, "[dns.rfc2136] " .. message, code end
    local soa = provider.only(answer.records, zone, "SOA")[1]
    if soa then return soa.serial end
    return nil, ("[dns.rfc2136] %s answered no SOA record for %s (%s): is it the zone's "
                 .. "primary?"):format(where(), zone, answer.rcode), "notauth"
  end

  return p
end

return M
