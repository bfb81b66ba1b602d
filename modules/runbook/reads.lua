--- runbook.reads — what runbook can prove to be a read. While planning and inside a read-only
-- task (a step's hosts, check, verify) every primitive that can change a system refuses,
-- unless its caller shows a read permit for what it sends; runtime/permit.c mints one only
-- when verify() says yes here. The proof comes from the command itself, never from a
-- caller's word:
--   "powershell"       the command line (and stdin) is exactly what modules/powershell.lua
--                      builds for a script, the script is its wrap() of one pipeline, and
--                      every command of that pipeline is a Get-, Test- or Resolve- cmdlet,
--                      with no .NET method call, static member or type conversion anywhere.
--                      What lync.psparse cannot parse is not a read.
--   "vantage-connect"  the vantage host's own TCP connect probe (modules/vantage.lua).
-- When in doubt the answer is no: nil and the reason, which the refusal shows.
local powershell = require "powershell"
local psparse = require "lync.psparse"

local M = {}

-- The cmdlet verbs that only look (Microsoft's approved verbs: Get, Test, Resolve).
M.READ_VERBS = { get = true, test = true, resolve = true }

--- is_read_cmdlet(name) -> whether the cmdlet's verb is a read verb (case-insensitive).
function M.is_read_cmdlet(name)
  local verb = tostring(name):match("^(%a+)%-%a")
  return verb ~= nil and M.READ_VERBS[verb:lower()] == true
end

local HEAD, TAIL = powershell.wrap("\0"):match("^(.-)%z(.*)$")

-- The pipeline inside powershell.wrap's script, or nil when script is not such a wrap.
local function pipeline_of(script)
  if #script < #HEAD + #TAIL or script:sub(1, #HEAD) ~= HEAD
     or script:sub(-#TAIL) ~= TAIL then
    return nil
  end
  return script:sub(#HEAD + 1, #script - #TAIL)
end

-- The script a PowerShell command line (and stdin) carries, when it is exactly what
-- powershell.invocation builds for it: on the command line, or on stdin behind the bootstrap.
local function script_of(command_line, stdin)
  local encoded = command_line:match(
    "^powershell %-NoProfile %-NonInteractive %-EncodedCommand ([%w+/=]+)$")
  if not encoded then return nil end
  local script
  if stdin then
    script = powershell.unbase64((stdin:gsub("[\r\n]", "")))
  else
    script = powershell.from_utf16le(powershell.unbase64(encoded) or "\0")
  end
  if not script or not utf8.len(script) then return nil end
  local ok, line, input = pcall(powershell.invocation, script)
  if not ok or line ~= command_line or input ~= stdin then return nil end
  return script
end

local walk

local function walk_list(nodes)
  for _, node in ipairs(nodes or {}) do
    local why = walk(node)
    if why then return why end
  end
end

-- Why each kind of node might not be a read (nil: it is one, once its parts are).
local NODES = {
  script = function(node) return walk_list(node.body) end,
  literal = function() end,
  variable = function() end,
  array = function(node) return walk_list(node.body) end,
  paren = function(node) return walk(node.inner) end,
  list = function(node) return walk_list(node.items) end,
  member = function(node) return walk(node.object) end,
  join = function(node) return walk(node.value) end,
  assign = function(node) return walk(node.value) end,
  exit = function(node) return node.code and walk(node.code) end,
  try = function(node) return walk_list(node.body) or walk_list(node.catch) end,
  hashtable = function(node)
    for _, pair in ipairs(node.pairs) do
      local why = walk(pair.value)
      if why then return why end
    end
  end,
  command = function(node)
    if not M.is_read_cmdlet(node.name) then
      return ("%s is not a Get-, Test- or Resolve- cmdlet"):format(node.name)
    end
    for _, key in ipairs(node.order) do
      local why = walk(node.named[key])
      if why then return why end
    end
    return walk_list(node.positional)
  end,
  call = function(node)
    local name = node.type and ("[%s]::%s"):format(node.type, node.name) or node.name
    return ("it calls the method %s, which may change something"):format(name)
  end,
  static = function(node) return ("it uses [%s]::%s"):format(node.type, node.name) end,
  cast = function(node)
    return ("it converts a value to [%s], which may run code"):format(node.type)
  end,
}

function walk(node)
  local check = NODES[node.kind]
  if not check then
    return ("it contains a %s, which runbook cannot prove harmless"):format(node.kind)
  end
  return check(node)
end

--- powershell_read(pipeline) -> true | nil, reason: whether a pipeline only reads.
function M.powershell_read(pipeline)
  local ok, tree = pcall(psparse.parse, pipeline)
  if not ok then
    return nil, "it is not PowerShell runbook can read through ("
      .. (type(tree) == "table" and tree.message or tostring(tree)) .. ")"
  end
  local why = walk(tree)
  if why then return nil, why end
  return true
end

local VERIFIERS = {}

function VERIFIERS.powershell(command_line, stdin)
  local script = script_of(command_line, stdin)
  local pipeline = script and pipeline_of(script)
  if not pipeline then
    return nil, "it is not a script runbook's cmdlet layer built (modules/powershell.lua)"
  end
  return M.powershell_read(pipeline)
end

VERIFIERS["vantage-connect"] = function(command, stdin)
  local host, port, timeout = command:match(" ([%x%.:]+) (%d+) ([%d%.]+)$")
  local vantage = require "vantage"
  if stdin == nil and host and
     command == vantage.connect_command(host, tonumber(port), tonumber(timeout)) then
    return true
  end
  return nil, "it is not the vantage host's connect probe"
end

--- verify(kind, command, stdin) -> true | nil, reason. Called by runtime/permit.c only.
function M.verify(kind, command, stdin)
  local verifier = VERIFIERS[kind]
  if not verifier then return nil, ("runbook knows no read of kind %q"):format(tostring(kind)) end
  return verifier(command, stdin)
end

return M
