--- dns.gss_tsig — GSS-TSIG (RFC 3645): the key that signs dynamic updates of a zone that
-- takes only secure updates (Windows DNS with an AD-integrated zone set to "Secure only";
-- BIND with tkey-gssapi-keytab). A Kerberos security context with the DNS server is
-- negotiated through TKEY queries (RFC 2930, mode 3) that carry runbook.gss's tokens, and the
-- server's last answer, signed with the new context, is verified. The context holds the key:
-- runbook.dns.update signs each update with its MIC in C, so no key is ever a Lua string.
--
--   local key, message, code = require("dns.gss_tsig").negotiate {
--     server = "192.0.2.53", port = 53,
--     server_name = "dc1.contoso.com",      -- the DNS server's name: its SPN DNS/<name>
--     principal = "svc-runbook@CONTOSO.COM",
--     password = secret,                    -- a runbook.secrets Secret, or
--     ccache = "FILE:/tmp/krb5cc_svc",      -- a ccache holding the principal's ticket
--     timeout = 5 }
--   -- key = {name=, gss=ctx, principal=, expires=}: dns.update{key = key, ...}
-- Failures return nil, message, code with a cause of runbook.failure: "auth" (the KDC or
-- the DNS server refused: the message says which, and why — clock skew, unknown principal,
-- a keytab that does not match), "unreachable" (no KDC answered), or the transport's.
local dns = require "runbook.dns"
local gss = require "runbook.gss"
local secrets = require "runbook.secrets"

local M = {}

-- What a TKEY error means when Kerberos gave no reason of its own (RFC 2930 §2.6).
local TKEY_ERRORS = {
  BADKEY = "the DNS server could not accept the Kerberos ticket: its keytab (BIND: "
    .. "tkey-gssapi-keytab; Windows: the DC's own account) holds no key for %s that matches "
    .. "the KDC's (a re-exported keytab, another kvno), or the clocks of this host and the "
    .. "server differ by more than 5 minutes: see the server's log",
  BADNAME = "the DNS server refused the key name %s: see the server's log",
  BADMODE = "the DNS server does not negotiate GSS-API keys (TKEY mode 3): configure "
    .. "tkey-gssapi-keytab (BIND), or use a Windows DNS server of the zone",
  BADALG = "the DNS server does not know the algorithm gss-tsig: it does not support GSS-TSIG",
}

-- A unique key name (RFC 3645 §3.1.1: chosen by the client), as nsupdate -g makes them.
local function key_name(server_name)
  return ("%d.sig-%s"):format(math.random(0, 0x7fffffff), server_name)
end

-- The failure of a TKEY answer with an error: Kerberos's own reason when the server sent
-- one (a KRB-ERROR token: clock skew, ...), else what the error means.
local function refused(context, answer, where, spn, name)
  if answer.token and #answer.token > 0 then
    local _, message, code = context:step(answer.token)
    if message then
      return nil, ("%s refused the security context: %s"):format(where, message), code or "auth"
    end
  end
  local meaning = TKEY_ERRORS[answer.error] or "see the server's log"
  return nil, ("%s refused the security context (TKEY error %s): " .. meaning):format(where,
    answer.error, answer.error == "BADNAME" and name or spn), "auth"
end

--- negotiate(options) -> key | nil, message, code (see the header)
function M.negotiate(options)
  assert(type(options) == "table", "[dns.gss_tsig] negotiate(options): a table")
  local server_name = assert(options.server_name, "[dns.gss_tsig] server_name is required: "
    .. "the DNS server's host name, whose service principal is DNS/<name>")
  local where = ("the DNS server %s (%s:%s)"):format(server_name, options.server,
                                                      options.port or 53)
  local as = options.principal or "the ccache's principal"
  local context = gss.initiator { mech = "negotiate", target = "DNS@" .. server_name,
    user = options.principal, password = options.password and options.password.reveal() or nil,
    ccache = options.ccache, kerberos_only = true }
  local name = key_name(server_name)
  local token, established, code = context:step()
  local answer
  -- each leg: our token in a TKEY query, the server's in its answer, until the context is
  -- complete on both sides (the server signs the answer that completes it)
  repeat
    if not token then
      return nil, ("GSS-TSIG with %s as %s: %s"):format(where, as, established), code
    end
    secrets.protect(token)          -- an AP-REQ carries a ticket
    local message
    answer, message, code = dns.tkey { server = options.server, port = options.port,
      name = name, token = token, timeout = options.timeout }
    if not answer then return nil, "[dns.gss_tsig] " .. message, code end
    if answer.error then return refused(context, answer, where, "DNS/" .. server_name, name) end
    if established then
      token = ""
    elseif #answer.token == 0 then
      return nil, ("%s ended the negotiation before the context was complete"):format(where),
        "protocol"
    else
      token, established, code = context:step(answer.token)
    end
  until established and token == ""
  local verified, wrong, why = dns.verify_tkey(answer.reply, { name = name, gss = context },
    ("%s:%s"):format(options.server, options.port or 53))
  if not verified then   -- a clock skew or a forged answer: the context is not trusted
    return nil, "[dns.gss_tsig] " .. wrong, (why == "badtime" or why == "badsig"
      or why == "unsigned") and "auth" or why
  end
  return { name = name, gss = context, principal = options.principal,
           expires = answer.expiration }
end

return M
