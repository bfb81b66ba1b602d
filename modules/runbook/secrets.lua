--- runbook.secrets — credentials by reference, never inline. A reference is `env:NAME`,
-- `file:PATH` (refused unless mode 0600 or stricter), `prompt` (asked without echo) or
-- `agent` (ssh-agent holds the key). resolve() returns a Secret: the value sits in a
-- closure, not in a field, so no encoder or printer can reach it; tostring() shows only
-- the reference. Every value resolved is remembered so that output can redact it.
local fs = require "runbook.fs"

local M = {}
local known_values = {}          -- value -> true: what output must never show

local Secret = {}
Secret.__index = Secret
Secret.__name = "runbook.secret"
function Secret.__tostring(secret) return "<secret " .. secret.reference .. ">" end

local function new_secret(reference, value)
  if value and #value >= 4 then known_values[value] = true end
  return setmetatable({ reference = reference, reveal = function() return value end }, Secret)
end

local function from_env(name)
  local value = os.getenv(name)
  if not value or value == "" then
    error(("[secrets] environment variable %s is not set: export it before the run, or "
      .. "change the credential reference"):format(name), 0)
  end
  return value
end

local function from_file(path)
  local info, err = fs.stat(path)
  if not info then error("[secrets] " .. err, 0) end
  if info.mode & 0x3F ~= 0 then   -- any group or other permission
    error(("[secrets] %s is readable by others (mode %o): run `chmod 600 %s`"):format(
      path, info.mode, path), 0)
  end
  local file = assert(io.open(path, "rb"))
  local value = file:read("a"):gsub("[\r\n]+$", "")
  file:close()
  return value
end

local function from_prompt(reference, label)
  local tty = io.open("/dev/tty", "r+")
  if not tty then
    error(("[secrets] %s asks for a prompt but there is no terminal: use env: or file:"):format(
      label or reference), 0)
  end
  tty:write(("Password for %s: "):format(label or "credential"))
  tty:flush()
  os.execute("stty -echo </dev/tty 2>/dev/null")
  local value = tty:read("l")
  os.execute("stty echo </dev/tty 2>/dev/null")
  tty:write("\n")
  tty:close()
  return value or ""
end

--- resolve(reference [, label]) -> Secret. Raises with what to do when it cannot.
function M.resolve(reference, label)
  if getmetatable(reference) == Secret then return reference end
  local kind, rest = tostring(reference):match("^(%a+):(.+)$")
  if kind == "env" then return new_secret(reference, from_env(rest)) end
  if kind == "file" then return new_secret(reference, from_file(rest)) end
  if reference == "prompt" then return new_secret(reference, from_prompt(reference, label)) end
  if reference == "agent" then return new_secret(reference, nil) end
  error(("[secrets] %s is not a credential reference: write env:NAME, file:PATH, prompt or "
    .. "agent — never the secret itself"):format(label or "a credential"), 0)
end

--- redact(text) -> text with every resolved secret value replaced by <redacted>
function M.redact(text)
  if type(text) ~= "string" then return text end
  for value in pairs(known_values) do
    local start = text:find(value, 1, true)
    while start do
      text = text:sub(1, start - 1) .. "<redacted>" .. text:sub(start + #value)
      start = text:find(value, start + 10, true)
    end
  end
  return text
end

return M
