--- runbook.failure — the one list of failure causes. A primitive that fails returns
-- `nil, message, code` (the C convention); modules raise a failure that keeps its cause, so
-- that the engine and the operator can tell a transport failure (the server could not be
-- asked) from a domain verdict (the server answered: no such pool). docs/architecture.md
-- lists the causes; docs/troubleshooting.md says what to do about each.
--
--   local failure = require "runbook.failure"
--   failure.raise("not-found", "[lync] pool 'x' not found on fe1")   -- a domain verdict
--   failure.raise_code(code, message)      -- a primitive's code, mapped to its cause
--   failure.cause(err) -> "timeout" | … | nil (an error that is no failure: a bug, a message)
--   failure.is_transport(err) -> whether the server could not be asked at all
local M = {}

-- cause -> whether it means "could not ask" (transport) rather than "asked, and the
-- answer is no" (domain).
M.CAUSES = {
  timeout = true,            -- no answer in time
  refused = true,            -- nothing listens, or a firewall rejects (RST)
  unreachable = true,        -- no route to the host
  filtered = true,           -- dropped by a firewall (an ICMP rejection or silence)
  closed = true,             -- the peer closed the connection mid-exchange
  ["name-resolution"] = true, -- the name does not resolve
  auth = true,               -- the credentials were refused
  hostkey = true,            -- the SSH host key is unknown or changed
  tls = true,                -- the TLS handshake or the certificate failed
  protocol = true,           -- the peer spoke something else, or a library failed
  limit = true,              -- a size limit was reached
  cancelled = true,          -- Ctrl-C
  ["not-found"] = false,     -- the server answered: no such object
  denied = false,            -- the server answered: not allowed (a PowerShell error)
  conflict = false,          -- the data changed since it was read (compare-and-swap)
  refused_update = false,    -- the DNS server refused the change (REFUSED, NOTAUTH)
  command = false,           -- the command ran and failed (a PowerShell error record)
  precondition = false,      -- the estate is not as the step needs it
}

-- Words primitives return today -> causes (runtime/*.c; modules' own words).
local FROM_CODE = {
  resolve = "name-resolution", nxdomain = "name-resolution", badname = "name-resolution",
  ssh = "protocol", http = "protocol", failed = "protocol", syntax = "protocol",
  notauth = "refused_update", servfail = "protocol",
}

-- A failure reads like its message wherever code expects the string errors it used to
-- get: tostring, .., #, and string methods (err:match(...), err:find(...)).
local Failure = { __name = "runbook.failure" }
Failure.__tostring = function(self) return self.message end
Failure.__index = function(self, key)
  local method = string[key]
  if method then return function(_, ...) return method(rawget(self, "message"), ...) end end
end
Failure.__concat = function(a, b) return tostring(a) .. tostring(b) end
Failure.__len = function(self) return #self.message end

--- cause_of_code(code) -> the cause a primitive's code names ("protocol" when unknown)
function M.cause_of_code(code)
  if code == nil then return "protocol" end
  code = tostring(code)
  if M.CAUSES[code] ~= nil then return code end
  return FROM_CODE[code] or "protocol"
end

--- new(cause, message) -> a failure value (for error())
function M.new(cause, message)
  assert(M.CAUSES[cause] ~= nil, "[failure] unknown cause " .. tostring(cause))
  return setmetatable({ cause = cause, message = tostring(message) }, Failure)
end

--- raise(cause, message): raises a failure (no position: the message names its object)
function M.raise(cause, message)
  error(M.new(cause, message), 0)
end

--- raise_code(code, message): raises the failure a primitive's code names
function M.raise_code(code, message)
  error(M.new(M.cause_of_code(code), message), 0)
end

--- cause(err) -> the cause of a failure, or nil for any other error value
function M.cause(err)
  if getmetatable(err) == Failure then return err.cause end
  return nil
end

--- is_transport(err) -> true when err is a failure whose cause means "could not ask"
function M.is_transport(err)
  local cause = M.cause(err)
  return cause ~= nil and M.CAUSES[cause] == true
end

return M
