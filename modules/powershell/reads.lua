--- powershell.reads — what runbook can prove to be a PowerShell read, registered with
-- runbook.reads (the engine's registry of read verifiers, which knows no PowerShell). While
-- planning and inside a read-only task every primitive that can change a system refuses,
-- unless its caller shows a read permit for what it sends; runtime/permit.c mints one only
-- when the verifier of its kind says yes. The proof comes from the command itself, never
-- from a caller's word. This module registers:
--   "powershell"       the command line (and stdin) is exactly what modules/powershell.lua
--                      builds for a script, the script is its command_script() (the framed
--                      answer the cmdlet layer sends) or wrap() of one pipeline, and the
--                      pipeline is either
--                      * an instance of a template a module registered (template()): the
--                        exact text powershell.command builds for that cmdlet from literal
--                        values — how runbook's own modules prove their reads; or
--                      * proven by the classifier: every statement a command on the list of
--                        reads (modules/powershell/reads_allowed.lua) with allowed
--                        parameters and literal values, or a variable, an assignment of such
--                        a command, or its result's properties — what organizations and the
--                        REPL send. No method call, static member, type conversion,
--                        try/catch or exit.
--                      Both read the script with the tokenizer the Lync emulator uses
--                      (modules/powershell/parser.lua); what it cannot parse is not a read.
--   "powershell-session"  the command line of a persistent session's process, exactly as
--                      powershell.session_command builds it (its loop runs only what it is
--                      sent, and each script sent needs a permit of its own);
--   "powershell-frame" one script written into a session: powershell.session_frame of a
--                      session_script whose pipeline is proven as for "powershell".
-- (vantage registers "vantage-connect", the vantage host's TCP probe, itself.)
-- When in doubt the answer is no: nil and the reason, which the refusal shows.
local registry = require "runbook.reads"
local allowed = require "powershell.reads_allowed"
local parser = require "powershell.parser"
local powershell = require "powershell"

local M = {}

--- is_read_cmdlet(name) -> whether the cmdlet is on the list of reads (case-insensitive).
function M.is_read_cmdlet(name)
  return allowed.entry(name) ~= nil
end

--- allow(name, {reason=, parameters=}): an organization's read (powershell.reads_allowed).
M.allow = allowed.allow

local HEAD, TAIL = powershell.wrap("\0"):match("^(.-)%z(.*)$")
local SESSION_HEAD, SESSION_TAIL = powershell.session_script("\0"):match("^(.-)%z(.*)$")

-- The pipeline inside powershell.wrap's script (or session_script's, with the session's
-- head and tail), or nil when script is not such a wrap.
local function pipeline_of(script, head, tail)
  head, tail = head or HEAD, tail or TAIL
  if #script < #head + #tail or script:sub(1, #head) ~= head
     or script:sub(-#tail) ~= tail then
    return nil
  end
  return script:sub(#head + 1, #script - #tail)
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

-- ------------------------------------------------------------- templates

local templates = {}   -- cmdlet name (exact) -> {parameter name (exact) -> kind}
local scripts = {}     -- fixed pipelines -> true
local projections = {} -- cmdlet name (exact) -> {projection suffix (text) -> true}
local tails = {}       -- cmdlet name (exact) -> {anchored Lua patterns of what follows it}

-- The kinds a template's parameter may have, and the list kinds they must match.
local TEMPLATE_KINDS = { string = { text = true, host = true }, strings = { texts = true },
                         switch = { switch = true }, integer = { integer = true } }

local function template_error(spec)
  if type(spec) ~= "table" then return "a template is a table" end
  if spec.script then
    if type(spec.script) ~= "string" then return "script must be a string" end
    local ok, why = M.powershell_read(spec.script)
    return not ok and why or nil
  end
  local entry = allowed.entry(spec.cmdlet)
  if not entry or entry.name ~= spec.cmdlet then
    return ("%s is not on the list of reads (%s)"):format(tostring(spec.cmdlet), allowed.MODULE)
  end
  for parameter, kind in pairs(spec.parameters or {}) do
    local listed = entry.parameters[parameter]
    local list_kind = type(listed) == "table" and listed[1] or listed
    if not (TEMPLATE_KINDS[kind] and TEMPLATE_KINDS[kind][list_kind]) then
      return ("-%s %s does not fit the list's -%s %s"):format(parameter, tostring(kind),
                                                            parameter, tostring(list_kind))
    end
  end
end

--- template(spec): registers a read a module sends, so verify proves its instances by
-- construction. spec: {cmdlet = "Get-CsService", parameters = {EdgeServer = "switch",
-- PoolFqdn = "string"}, project = fields} (kinds: string, strings, switch, integer; any
-- subset may be given; project: the fields of a powershell.projection the command is
-- followed by — its text is fixed, so the whole pipeline is compared)
-- or {script = "(Get-Command -Name 'Set-CsSite').Parameters.Keys"} (that text exactly),
-- or a cmdlet with tail = "^ | ForEach%-Object { … }$": an anchored Lua pattern the text
-- after the command must match whole — for a fixed shape whose only variable parts are
-- literals the pattern pins down (a service wait's state and timeout).
-- A template never widens the reads: its cmdlet and parameters must be on the list.
function M.template(spec)
  local why = template_error(spec)
  if why then error("[reads] not a read template: " .. why, 2) end
  if spec.script then scripts[spec.script] = true; return end
  local known = templates[spec.cmdlet] or {}
  for parameter, kind in pairs(spec.parameters or {}) do known[parameter] = kind end
  templates[spec.cmdlet] = known
  if spec.tail then
    assert(type(spec.tail) == "string" and spec.tail:sub(1, 1) == "^" and spec.tail:sub(-1) == "$",
           "[reads] a template's tail is an anchored pattern: ^…$")
    tails[spec.cmdlet] = tails[spec.cmdlet] or {}
    table.insert(tails[spec.cmdlet], spec.tail)
  end
  if spec.project then    -- the cmdlet's output shaped on the server (powershell.projection)
    projections[spec.cmdlet] = projections[spec.cmdlet] or {}
    -- loaded on first use: only projected templates need it
    projections[spec.cmdlet][require("powershell.projection").suffix(spec.project)] = true
  end
end

-- The Lua value a literal argument node holds, for a template's kind (nil: it holds none).
local function value_of(kind, node)
  if kind == "switch" then
    if node.kind == "variable" and (node.name == "true" or node.name == "false") then
      return node.name == "true"
    end
  elseif kind == "string" then
    if node.kind == "literal" and not node.bareword and type(node.value) == "string" then
      return node.value
    end
  elseif kind == "integer" then
    if node.kind == "literal" and math.type(node.value) == "integer" then return node.value end
  elseif kind == "strings" and node.kind == "array" and #node.body <= 1 then
    local inner = node.body[1]
    local items = inner and (inner.kind == "list" and inner.items or { inner }) or {}
    local list = {}
    for i, item in ipairs(items) do
      list[i] = value_of("string", item)
      if list[i] == nil then return nil end
    end
    return list
  end
end

-- The text powershell.command builds for a command node of a registered template, from
-- its literal values; nil when the node is no such instance.
local function rebuilt(node)
  local template = node.kind == "command" and templates[node.name]
  if not template or #node.positional > 0 then return nil end
  local values = {}
  for _, parameter in ipairs(node.order) do
    local kind = template[parameter]
    values[parameter] = kind and value_of(kind, node.named[parameter])
    if values[parameter] == nil then return nil end
  end
  local ok, text = pcall(powershell.command, node.name, values)
  if ok and allowed.check_command(node) == nil then return text end
end

-- Whether pipeline is exactly what powershell.command builds for a registered template,
-- alone or followed by one of the projections (or tails) registered with it.
local function instance_of_template(pipeline, tree)
  if scripts[pipeline] then return true end
  local node = #tree.body == 1 and tree.body[1]
  if node and node.kind == "pipeline" and #node.elements == 2
     and node.elements[1].kind == "command" then
    local command = node.elements[1]
    for suffix in pairs(projections[command.name] or {}) do
      local head = #pipeline > #suffix and pipeline:sub(-#suffix) == suffix
                   and pipeline:sub(1, #pipeline - #suffix)
      if head then return instance_of_template(head, { body = { command } }) end
    end
    local head = tails[command.name] and rebuilt(command)
    if head and pipeline:sub(1, #head) == head then
      for _, pattern in ipairs(tails[command.name]) do
        if pipeline:sub(#head + 1):find(pattern) then return true end
      end
    end
    return false
  end
  return node and rebuilt(node) == pipeline or false
end

-- ------------------------------------------------------------- the classifier

local walk

local function walk_list(nodes)
  for _, node in ipairs(nodes or {}) do
    local why = walk(node)
    if why then return why end
  end
end

-- PowerShell's automatic variables; with the preference variables (*Preference) and the
-- PS* ones ($PSDefaultParameterValues gives every later cmdlet a -ComputerName) a read
-- cannot set them.
local AUTOMATIC = {}
for name in ("_ args input this true false null error host executioncontext myinvocation "
             .. "pwd home shellid stacktrace ofs lastexitcode matches foreach switch "
             .. "maximumhistorycount formatenumerationlimit"):gmatch("%S+") do
  AUTOMATIC[name] = true
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
  assign = function(node)
    local name = node.name:lower()
    if AUTOMATIC[name] or name:match("preference$") or name:match("^ps") then
      return ("it sets $%s, which changes how PowerShell runs what follows"):format(node.name)
    end
    return walk(node.value)
  end,
  hashtable = function(node)
    for _, pair in ipairs(node.pairs) do
      local why = walk(pair.value)
      if why then return why end
    end
  end,
  command = function(node) return allowed.check_command(node) end,
  call = function(node)
    local name = node.type and ("[%s]::%s"):format(node.type, node.name) or node.name
    return ("it calls the method %s, which may change something"):format(name)
  end,
  static = function(node) return ("it uses [%s]::%s"):format(node.type, node.name) end,
  cast = function(node)
    return ("it converts a value to [%s], which may run code"):format(node.type)
  end,
  try = function() return "try/catch is no part of a read (it can hide a refusal)" end,
  exit = function() return "exit is no part of a read" end,
  join = function() return "-join is no part of a read" end,
}

function walk(node)
  local check = NODES[node.kind]
  if not check then
    return ("it contains a %s, which runbook cannot prove harmless"):format(node.kind)
  end
  return check(node)
end

local function parse(text)
  local ok, tree = pcall(parser.parse, text)
  if ok then return tree end
  return nil, "it is not PowerShell runbook can read through ("
    .. (type(tree) == "table" and tree.message or tostring(tree)) .. ")"
end

--- powershell_read(pipeline) -> true | nil, reason: whether a pipeline only reads, by the
-- classifier and the list of reads (templates aside).
function M.powershell_read(pipeline)
  local tree, why = parse(pipeline)
  if not tree then return nil, why end
  why = walk(tree)
  if why then return nil, why end
  return true
end

local VERIFIERS = {}

-- Whether the pipeline of a whole script (as built by modules/powershell.lua) only reads.
local function script_reads(script, pipeline)
  local whole, why = parse(script)   -- the whole script, as the emulator reads it
  if not whole then return nil, why end
  local tree
  tree, why = parse(pipeline)
  if not tree then return nil, why end
  if instance_of_template(pipeline, tree) then return true, "template" end
  local ok
  ok, why = M.powershell_read(pipeline)
  if ok then return true, "list" end
  return nil, why
end

local NOT_BUILT = "it is not a script runbook's cmdlet layer built (modules/powershell.lua)"

function VERIFIERS.powershell(command_line, stdin)
  local script = script_of(command_line, stdin)
  local pipeline = script and (powershell.command_pipeline(script) or pipeline_of(script))
  if not pipeline then return nil, NOT_BUILT end
  return script_reads(script, pipeline)
end

-- A persistent session's process (powershell.session_command): its loop runs only the
-- scripts written to it, each of which needs a permit of its own ("powershell-frame").
VERIFIERS["powershell-session"] = function(command_line, stdin)
  local encoded = command_line:match(
    "^powershell %-NoLogo %-NoProfile %-NonInteractive %-EncodedCommand ([%w+/=]+)$")
  local script = encoded and powershell.from_utf16le(powershell.unbase64(encoded) or "\0")
  local boundary = script and powershell.session_boundary(script)
  if stdin == nil and boundary and powershell.session_command(boundary) == command_line then
    return true, "session"
  end
  return nil, "it is not the persistent session runbook starts (powershell.session_command)"
end

-- One script written into a session: exactly powershell.session_frame of a session_script
-- whose pipeline reads, by a template or by the list.
VERIFIERS["powershell-frame"] = function(frame, stdin)
  local script = stdin == nil and frame:match("^([%w+/=]+)\n$") and
    powershell.unbase64(frame:sub(1, -2))
  if not script or not utf8.len(script) or powershell.session_frame(script) ~= frame then
    return nil, NOT_BUILT
  end
  local pipeline = pipeline_of(script, SESSION_HEAD, SESSION_TAIL)
  if not pipeline then return nil, NOT_BUILT end
  return script_reads(script, pipeline)
end

for kind, verifier in pairs(VERIFIERS) do registry.register(kind, verifier) end

--- verify(kind, command, stdin): runbook.reads.verify, for callers that hold this module.
M.verify = registry.verify

return M
