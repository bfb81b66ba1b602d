--- runbook.secrets — credentials by reference, never inline. A reference is `env:NAME`,
-- `file:PATH` (refused unless mode 0600 or stricter), `prompt` (asked without echo) or
-- `agent` (ssh-agent holds the key). resolve() returns a Secret: the value sits in a
-- closure, not in a field, so no encoder or printer can reach it; tostring() shows only
-- the reference. Every value resolved is remembered so that output can redact it, in every
-- form a writer may give it (as is, JSON-escaped, Lua-quoted): redact() for text, json()
-- for the JSON of the journal, --json and the audit log (redacted before and after encoding).
local cjson = require "cjson"
local fs = require "runbook.fs"
local t = require("runbook.i18n").t

local M = {}
local known_values = {}          -- value -> true: what output must never show
local forms = {}                 -- every form of every known value, longest first

-- The JSON encoder of everything runbook writes: its own instance, so that no other module's
-- settings change it; `/` left unescaped where the library allows (lua-cjson 2.1.0 does not).
local encoder = cjson.new()
if encoder.encode_escape_forward_slash then encoder.encode_escape_forward_slash(false) end

-- The forms a value takes in what runbook writes: as is; inside a JSON string, with `/`
-- escaped as `\/` (lua-cjson 2.1.0) or not (other encoders); inside a Lua %q string.
local function forms_of(value)
  local json = cjson.encode(value):sub(2, -2)
  return { value, json, (json:gsub("\\/", "/")), ("%q"):format(value):sub(2, -2) }
end

-- Remembers a value output must never show, in all its forms.
local function remember(value)
  if type(value) ~= "string" or #value < 4 or known_values[value] then return end
  known_values[value] = true
  local seen = {}
  for _, form in ipairs(forms) do seen[form] = true end
  for _, form in ipairs(forms_of(value)) do
    if not seen[form] then forms[#forms + 1], seen[form] = form, true end
  end
  table.sort(forms, function(a, b) return #a > #b end)
end

local Secret = {}
Secret.__index = Secret
Secret.__name = "runbook.secret"
function Secret.__tostring(secret) return "<secret " .. secret.reference .. ">" end

local function new_secret(reference, value)
  remember(value)
  return setmetatable({ reference = reference, reveal = function() return value end }, Secret)
end

-- Why the variable of an env: reference cannot be used, or nil.
local function env_problem(name)
  local value = os.getenv(name)
  if not value or value == "" then
    return t("env_unset", name)
  end
end

-- Why the file of a file: reference cannot be used (missing, not a file, readable by
-- others), or nil. Looks at the file's mode only, never at its content.
local function file_problem(path)
  local info, err = fs.stat(path)
  if not info then return "[secrets] " .. err end
  if info.type ~= "file" then return t("not_a_file", path) end
  if info.mode & 0x3F ~= 0 then   -- any group or other permission
    return t("readable_by_others", path, info.mode, path)
  end
end

local function from_env(name)
  local problem = env_problem(name)
  if problem then error(problem, 0) end
  return os.getenv(name)
end

local function from_file(path)
  local problem = file_problem(path)
  if problem then error(problem, 0) end
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
  os.execute("stty -echo </dev/tty 2>/dev/null")    -- before the prompt: nothing typed echoes
  tty:write(("Password for %s: "):format(label or "credential"))
  tty:flush()
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

--- probe(reference) -> true | nil, message: whether resolve() will get a value — the
-- variable is set; the file exists, is a file, mode 0600 or stricter — without reading a
-- file or keeping a value. How `runbook check` finds a bad credential before any traffic.
-- `prompt` and `agent` are asked for when used.
function M.probe(reference)
  if getmetatable(reference) == Secret then return true end
  local kind, rest = tostring(reference):match("^(%a+):(.+)$")
  local problem
  if kind == "env" then problem = env_problem(rest)
  elseif kind == "file" then problem = file_problem(rest)
  elseif reference ~= "prompt" and reference ~= "agent" then
    problem = t("not_a_reference")
  end
  if problem then return nil, problem end
  return true
end

--- protect(value): a value derived from a secret (the key inside a TSIG key file, a token
-- obtained with a password) is redacted like the secret itself.
function M.protect(value)
  remember(value)
end

-- text with every occurrence of needle (plain, not a pattern) replaced by <redacted>
local function replace(text, needle)
  local start = text:find(needle, 1, true)
  while start do
    text = text:sub(1, start - 1) .. "<redacted>" .. text:sub(start + #needle)
    start = text:find(needle, start + #"<redacted>", true)
  end
  return text
end

--- redact(text) -> text with every form of every resolved secret replaced by <redacted>
function M.redact(text)
  if type(text) ~= "string" then return text end
  for _, form in ipairs(forms) do text = replace(text, form) end
  return text
end

--- redact_data(value) -> a copy of value (tables walked, keys too) with every string
-- redacted and every Secret replaced by its reference.
function M.redact_data(value, copies)
  if type(value) == "string" then return M.redact(value) end
  if getmetatable(value) == Secret then return tostring(value) end
  if type(value) ~= "table" then return value end
  copies = copies or {}
  if copies[value] then return copies[value] end
  local copy = {}
  copies[value] = copy
  for key, item in pairs(value) do
    copy[M.redact_data(key, copies)] = M.redact_data(item, copies)
  end
  return copy
end

--- json(value) -> one line of JSON without any secret: the strings are redacted before
-- encoding, and the encoded text once more in case an escape made a new form.
function M.json(value)
  return M.redact(encoder.encode(M.redact_data(value)))
end

return M
