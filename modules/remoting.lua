--- remoting — how runbook reaches one Windows server of the inventory, tried as it is: a
-- proven read (Get-Command -Name Get-Command, the one preflight sends) over each way its
-- settings make sensible, each classified by its real cause (modules/runbook/failure.lua):
--
--   local remoting = require "remoting"
--   local report = remoting.check(host, { timeout = 15 })
--   local holds, detail = remoting.verdict(host, report)   -- what the readiness audit says
--
-- Over WinRM the ways are: the configured listener, authentication and encryption; over
-- plain HTTP unsealed also sealed; the other listener (http/5985 sealed or https/5986) with
-- the same authentication; the other of NTLM and Kerberos where the credentials allow it
-- (else listed as not tried, with why). SSH, local and the lab's sim transport have one way:
-- the configured one. Each try is a read with its own deadline and a shell of its own (no
-- persistent session): nothing changes, in a plan as in a run.
--
-- report = { tries = { {label=, combination=, configured=, outcome=, cause=, message=} },
--            not_tried = { {label=, why=} } }
-- outcome: "works", "not-listening", "timeout", "tls", "auth", "unencrypted" (refused
-- unsealed while sealed works), "binding" (refused over HTTPS while HTTP works with the same
-- account), "other" (cause: the transport's failure cause). A 401 cannot tell a wrong
-- password from UAC's filtering of a local administrator (Windows answers both alike): the
-- detail says both where both can be.
local cmdlet = require "cmdlet"
local failure = require "runbook.failure"
local i18n = require "runbook.i18n"
local reads = require "powershell.reads"
local task = require "runbook.task"
local say = require "remoting_messages"   -- what the report says, in en, de and fr

local M = {}

reads.template { cmdlet = "Get-Command", parameters = { Name = "strings" } }
local PROBE = { Name = { "Get-Command" } }

M.TIMEOUT = 15     -- seconds for each try, connection and authentication included
local DEFAULT_PORT = { http = 5985, https = 5986 }
local AUTH_LABEL = { ntlm = "NTLM", kerberos = "Kerberos", basic = "Basic" }

-- ------------------------------------------------------------------ the account

--- account(host) -> "local" | "domain", the account's name without its domain, builtin
-- (the built-in Administrator, whom UAC's remote restrictions spare). HOST\name (HOST the
-- server's own first label), .\name and a bare name are local; DOMAIN\name and name@REALM
-- are domain accounts.
function M.account(host)
  local user = tostring(host.user or "")
  local kind, name
  if user:find("@", 1, true) then
    kind, name = "domain", user:match("^[^@]*")
  else
    local prefix, rest = user:match("^(.-)\\(.*)$")
    local short = tostring(host.name or ""):match("^[^.]*"):lower()
    if not prefix or prefix == "." or prefix:lower() == short then kind = "local" else
      kind = "domain"
    end
    name = rest or user
  end
  return kind, name, name:lower() == "administrator"
end

-- ------------------------------------------------------------------ the combinations

local function combination(scheme, port, auth, sealed, configured)
  return { scheme = scheme, port = port, auth = auth, sealed = scheme == "http" and sealed,
           configured = configured or nil }
end

local function label_of(c)
  local text = ("%s/%d %s"):format(c.scheme, c.port, AUTH_LABEL[c.auth] or tostring(c.auth))
  if c.scheme == "http" then text = text .. " " .. say(c.sealed and "sealed" or "unsealed") end
  if c.configured then text = text .. " (" .. say("configured") .. ")" end
  return text
end

-- Why an authentication cannot be tried with the host's credentials, or nil.
local function ruled_out(host, auth)
  if auth == "kerberos" then
    if host.ccache then return nil end
    if tostring(host.user or ""):find("@", 1, true) and host.password then return nil end
    local kind = M.account(host)
    if kind == "local" and host.user then return say("no_kerberos_local", host.user) end
    return say("no_kerberos_upn")
  end
  if not host.password then return say("no_ntlm_password") end
end

--- combinations(host) -> the WinRM combinations to try (the configured one first), and
-- those the credentials rule out {label=, why=}
function M.combinations(host)
  local scheme, auth = host.scheme or "https", host.auth or "ntlm"
  local port = host.port or DEFAULT_PORT[scheme]
  local list, seen, not_tried = {}, {}, {}
  local function add(c)
    local key = table.concat({ c.scheme, c.port, c.auth, tostring(c.sealed) }, " ")
    if not seen[key] then seen[key] = true; list[#list + 1] = c end
  end
  add(combination(scheme, port, auth, not host.allow_unencrypted, true))
  if scheme == "http" and host.allow_unencrypted and auth ~= "basic" then
    add(combination("http", port, auth, true))
  end
  local other = scheme == "http" and "https" or "http"
  local other_auth = (other == "http" and auth == "basic") and "ntlm" or auth
  local why = other_auth ~= auth and ruled_out(host, other_auth)
  local other_listener = combination(other, DEFAULT_PORT[other], other_auth, true)
  if why then not_tried[#not_tried + 1] = { label = label_of(other_listener), why = why }
  else add(other_listener) end
  local alternative = auth == "kerberos" and "ntlm" or "kerberos"
  local alternative_way = combination(scheme, port, alternative, true)
  why = ruled_out(host, alternative)
  if why then not_tried[#not_tried + 1] = { label = label_of(alternative_way), why = why }
  else add(alternative_way) end
  return list, not_tried
end

-- The host as one combination says: its own copy, one shell per try (no session).
local function variant(host, c, timeout)
  local copy = {}
  for key, value in pairs(host) do copy[key] = value end
  if c then
    copy.scheme, copy.port, copy.auth = c.scheme, c.port, c.auth
    copy.allow_unencrypted = (c.scheme == "http" and not c.sealed) or nil
  end
  copy.session = false
  copy.timeout = math.min(host.timeout or timeout, timeout)
  copy.command_timeout = timeout
  return copy
end

-- ------------------------------------------------------------------ one try

-- A raised error's text without a position (never a source path in operator output).
local function clean(err)
  return (tostring(err):gsub("^[^\n]-%.lua:%d+: ", ""))
end

-- The read over one way -> {outcome=, cause=, message=}
local function try(host, timeout)
  local finished, ok, objects, record = task.timeout(timeout, pcall, cmdlet.try, host,
                                                     "Get-Command", PROBE, { timeout = timeout })
  if not finished then return { outcome = "timeout", cause = "timeout", deadline = true } end
  if not ok then
    if objects == "cancelled" or failure.cause(objects) == "cancelled" then error(objects, 0) end
    return { outcome = "other", cause = failure.cause(objects) or "protocol",
             message = clean(objects) }
  end
  if objects or not record.transport then return { outcome = "works" } end
  local cause = record.cause
  local outcome = ({ refused = "not-listening", timeout = "timeout", tls = "tls",
                     auth = "auth" })[cause] or "other"
  return { outcome = outcome, cause = cause, message = tostring(record.message) }
end

-- A 401 over one way, read against the others: unsealed refused where sealed works is
-- AllowUnencrypted; HTTPS refused where HTTP works with the same account is the binding.
local function refine(tries)
  for _, t in ipairs(tries) do
    if t.outcome == "auth" then
      for _, u in ipairs(tries) do
        local a, b = t.combination, u.combination
        if u.outcome == "works" and b.auth == a.auth and b.scheme == "http" then
          if a.scheme == "http" and not a.sealed and b.sealed and b.port == a.port then
            t.outcome = "unencrypted"
          elseif a.scheme == "https" then
            t.outcome = "binding"
          end
        end
      end
    end
  end
end

--- check(host, {timeout=}) -> report (above). Raises only "cancelled".
function M.check(host, options)
  local timeout = (options or {}).timeout or M.TIMEOUT
  local transport = host.transport or "ssh"
  if transport ~= "winrm" then
    local t = try(variant(host, nil, timeout), timeout)
    t.label, t.configured, t.transport = transport, true, transport
    return { tries = { t }, not_tried = {}, timeout = timeout }
  end
  local list, not_tried = M.combinations(host)
  local results = task.parallel(list, function(c)
    return try(variant(host, c, timeout), timeout)
  end)
  local tries = {}
  for i, c in ipairs(list) do
    local t = results[i] or { outcome = "other", cause = "protocol", message = "no result" }
    t.combination, t.label, t.configured = c, label_of(c), c.configured
    tries[i] = t
  end
  refine(tries)
  return { tries = tries, not_tried = not_tried, timeout = timeout }
end

-- ------------------------------------------------------------------ what it says

-- What one try's outcome says.
local function detail_of(host, t, timeout)
  local kind, name, builtin = M.account(host)
  local auth = t.combination and t.combination.auth
  if t.outcome == "works" then
    if t.transport == "sim" then return say("lab_works") end
    return say("works")
  elseif t.outcome == "not-listening" then
    return say("not_listening", t.combination and t.combination.port or host.port or 22)
  elseif t.outcome == "timeout" and t.deadline then return say("timed_out", timeout)
  elseif t.outcome == "timeout" then return say("timed_out_said", i18n.verbatim(t.message))
  elseif t.outcome == "tls" then return say("tls_failed", i18n.verbatim(t.message))
  elseif t.outcome == "unencrypted" then return say("refused_unsealed")
  elseif t.outcome == "binding" then return say("refused_binding")
  elseif t.outcome == "auth" and auth == "kerberos" then
    return say("refused_kerberos", i18n.verbatim(t.message))
  elseif t.outcome == "auth" and auth and kind == "local" and not builtin then
    return say("refused_filtered", host.user, name)
  elseif t.outcome == "auth" and auth then
    return say("refused_credentials", tostring(host.user))
  end
  return say("failed_cause", i18n.verbatim(t.message or t.cause), t.cause)
end

local function label(t, host)
  if t.transport == "sim" then return say("lab_label") end
  if t.transport == "local" then return say("local_label") end
  if t.transport == "ssh" then
    return ("ssh %s:%d"):format(tostring(host.address or host.name), host.port or 22)
  end
  return t.transport and say("transport_label", t.transport) or t.label
end

-- The inventory fields of a way that works, as the operator writes them.
local function fields_of(host, c)
  local fields = { ('scheme = "%s"'):format(c.scheme), ("port = %d"):format(c.port),
                   ('auth = "%s"'):format(c.auth) }
  if host.allow_unencrypted and c.sealed then fields[#fields + 1] = "allow_unencrypted = false" end
  return table.concat(fields, ", ")
end

-- What to do when the configured way fails, for its outcome.
local function advice_for(host, t)
  local c = t.combination
  local kind, _, builtin = M.account(host)
  local port = c and c.port or host.port or 22
  if not c and t.transport ~= "ssh" then return say("fix_other", tostring(t.cause)) end
  if t.outcome == "not-listening" then
    if not c then return say("fix_sshd") end
    return say(c.scheme == "http" and "fix_http_listener" or "fix_https_listener")
  elseif t.outcome == "timeout" then return say("fix_firewall", port, port, port)
  elseif t.outcome == "tls" then return say("fix_tls", tostring(host.address or host.name))
  elseif t.outcome == "unencrypted" then return say("fix_unsealed")
  elseif t.outcome == "binding" then return say("fix_binding")
  elseif t.outcome == "auth" and not c then return say("fix_ssh_auth")
  elseif t.outcome == "auth" and c.auth == "kerberos" then return say("fix_kerberos")
  elseif t.outcome == "auth" and kind == "local" and not builtin then
    return say("fix_token_filter", tostring(host.user))
  elseif t.outcome == "auth" then return say("fix_credentials", tostring(host.user))
  elseif t.cause == "hostkey" then return say("fix_hostkey")
  end
  return say("fix_other", tostring(t.cause))
end

--- verdict(host, report) -> holds (the configured way works), the report as one line:
-- every way with what it came to, and what to do when the configured one fails (then led
-- by the server's name: the engine shows a failing check's text without it).
function M.verdict(host, report)
  local parts, configured, working = {}, nil, nil
  for _, t in ipairs(report.tries) do
    parts[#parts + 1] = label(t, host) .. ": " .. detail_of(host, t, report.timeout)
    if t.configured then configured = t
    elseif t.outcome == "works" and not working then working = t end
  end
  for _, n in ipairs(report.not_tried) do
    parts[#parts + 1] = n.label .. ": " .. say("not_tried", n.why)
  end
  if not configured then return false, tostring(host.name) .. ": " .. say("no_combination") end
  local text = table.concat(parts, "; ")
  if configured.outcome == "works" then return true, text end
  text = tostring(host.name) .. ": " .. text     -- a check that fails is shown without it
  local advice = working and say("use_instead", working.label, tostring(host.name),
                                 fields_of(host, working.combination))
                 or advice_for(host, configured)
  return false, text .. " — " .. say("what_to_do", advice)
end

--- unlisted(from, err) -> the verdict's text for a pool whose Edge servers could not be
-- listed (a pool stands for them in the report; its check fails, never passes vacuously)
function M.unlisted(from, err)
  return say("unlisted", tostring(from), i18n.verbatim(clean(err)),
             failure.cause(err) or "protocol")
end

--- readiness(host, options) -> holds, detail: check and verdict in one (a step's check)
function M.readiness(host, options)
  return M.verdict(host, M.check(host, options))
end

return M
