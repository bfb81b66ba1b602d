--- runbook.session — everything a run needs, checked before any network traffic: the
-- runbook definition, the inventory (data only, validated against its schema, problems
-- reported as file:line with the key and what was expected), and the parameters
-- (--set, then the inventory's params, then the runbook's defaults).
local files = require "runbook.files"
local datalines = require "runbook.datalines"
local host = require "runbook.host"
local i18n = require "runbook.i18n"
local output = require "runbook.output"
local schema = require "runbook.schema"
local secrets = require "runbook.secrets"

local M = {}

-- Fields every inventory may have, whatever the runbook.
local BASE_FIELDS = {
  params = { type = "map", of = { type = "any" },
             description = "values for the runbook's parameters" },
  audit_log = { type = "string", description = "file the audit log is appended to" },
  lab = { type = "any", description = "settings of the embedded lab simulation" },
  target = { type = "string",
             description = "what the run acts on, for the lock (default: domain)" },
}

-- The inventory's `params`: only the runbook's parameters, each of its declared type
-- (required nowhere: --set or the default may give it).
local function params_record(definition)
  local fields = {}
  for name, param in pairs(definition.params) do
    local field = {}
    for key, value in pairs(param) do field[key] = value end
    field.required, field.default = nil, nil
    fields[name] = field
  end
  return { type = "record", fields = fields, description = BASE_FIELDS.params.description }
end

local function inventory_schema(definition)
  local fields = {}
  for name, field in pairs(BASE_FIELDS) do fields[name] = field end
  fields.params = params_record(definition)
  for name, field in pairs(definition.inventory) do fields[name] = field end
  return { type = "record", fields = fields }
end

--- Where the inventory comes from: -i, $RUNBOOK_INVENTORY, else the embedded lab.
function M.inventory_path(options)
  if options.inventory then return options.inventory, false end
  local from_env = os.getenv("RUNBOOK_INVENTORY")
  if from_env and from_env ~= "" then return from_env, false end
  return host.datadir .. "/examples/lab.lua", true
end

-- A --set string as the schema node wants it: "60" is 60 for an integer; a list is
-- comma-separated. What does not convert stays a string, for the schema to report.
local function coerce(text, node)
  local kind = node and node.type
  if kind == "number" or kind == "integer" then return tonumber(text) or text end
  if kind == "boolean" then
    if text == "true" then return true elseif text == "false" then return false end
  end
  if kind == "list" then
    local items = {}
    for item in text:gmatch("[^,]+") do items[#items + 1] = coerce(item, node.of) end
    return items
  end
  return text
end

-- The schema node of a table's entry `key`; nil below `any` or a scalar.
local function child_node(node, key)
  if not node then return nil end
  if node.type == "record" then return (node.fields or {})[key] end
  if node.type == "map" or node.type == "list" then return node.of end
end

-- Where a dotted --set path leads: the table to set in, the key and the value's schema
-- node. A map's key may contain dots (an FQDN): the longest key the inventory already has
-- wins. Missing tables on the way are made.
local function locate(tree, node, names)
  local i = 1
  while true do
    local key, stop = names[i], i
    if node and node.type == "map" then
      for j = #names, i + 1, -1 do
        local joined = table.concat(names, ".", i, j)
        if tree[joined] ~= nil then key, stop = joined, j; break end
      end
    elseif node and node.type == "list" then
      key = math.tointeger(tonumber(key)) or key
    end
    node = child_node(node, key)
    if stop == #names then return tree, key, node end
    if type(tree[key]) ~= "table" then tree[key] = {} end
    tree, i = tree[key], stop + 1
  end
end

local function set_path(definition, inventory, path, text)
  local names = {}
  for name in path:gmatch("[^.]+") do names[#names + 1] = name end
  local parent, key, node = locate(inventory, inventory_schema(definition), names)
  parent[key] = coerce(text, node)
end

-- --set KEY=VALUE: a parameter of the runbook, or a dotted path into the inventory.
local function apply_sets(definition, inventory, sets, problems)
  local values = {}
  for _, assignment in ipairs(sets or {}) do
    local name, text = assignment:match("^([^=]+)=(.*)$")
    local param = definition.params[name]
    local root = name:match("^[^.]+")
    if param then
      values[name] = coerce(text, param)
    elseif name:find(".", 1, true) and inventory_schema(definition).fields[root] then
      set_path(definition, inventory, name, text)
    else
      local names = {}
      for param_name in pairs(definition.params) do names[#names + 1] = param_name end
      table.sort(names)
      problems[#problems + 1] = i18n.t("set_no_parameter", assignment, definition.id, name,
        #names > 0 and table.concat(names, ", ") or i18n.t("none"))
    end
  end
  return values
end

-- A value from the inventory's params was checked with the inventory (with its line);
-- the others (--set, defaults) are checked here.
local function resolve_params(definition, inventory, set_values, problems)
  local params = {}
  local from_inventory = type(inventory.params) == "table" and inventory.params or {}
  for name, param in pairs(definition.params) do
    local value, checked = set_values[name], false
    if value == nil then value, checked = from_inventory[name], from_inventory[name] ~= nil end
    if value == nil then
      value = param.default
      if type(value) == "function" then value = value(inventory) end
    end
    params[name] = value
    local found = checked and {} or schema.validate(value, param)
    for _, problem in ipairs(found) do
      problems[#problems + 1] = i18n.t("parameter_problem", name, problem.message)
    end
  end
  return params
end

-- Instructions an inventory may take: a thousand servers take well under 1 % of it.
local INSTRUCTION_BUDGET = 50000000
local HOOK_EVERY = 10000

-- Runs an inventory's chunk as data: in its empty environment, without string methods
-- (the string metatable's __index is hidden meanwhile: `("x"):rep(1e9)` is code) and
-- within an instruction budget (`while true do end` would hang `runbook check`).
-- -> true, value | false, message
local function run_as_data(chunk, path)
  local string_meta = getmetatable("")
  local string_index = string_meta.__index
  local hook, mask, count = debug.gethook()
  local too_long, spent = {}, 0
  string_meta.__index = nil
  debug.sethook(function()
    spent = spent + HOOK_EVERY
    if spent > INSTRUCTION_BUDGET then error(too_long, 0) end
  end, "", HOOK_EVERY)
  local ok, result = pcall(chunk)
  debug.sethook(hook, mask, count)
  string_meta.__index = string_index
  if ok then return true, result end
  if result == too_long then
    return false, i18n.t("inventory_too_long", path)
  end
  return false, i18n.t("inventory_code", tostring(result))
end

-- Every credential the inventory names can be had when a step asks for it (the variable
-- is set, the file has mode 0600 or stricter): said by `check`, before any traffic. No
-- value is read.
local function probe_credentials(inventory, inventory_node, report)
  schema.each(inventory, inventory_node, function(value, node, where)
    if node.type ~= "credential" or not schema.is_credential_reference(value) then return end
    local ok, message = secrets.probe(value)
    if not ok then report(where, message) end
  end)
end

-- Every file the inventory names (a field declared with `file = KIND`) exists, can be
-- read and holds that kind: said by `check`, before any traffic (runbook.files).
local function probe_files(inventory, inventory_node, report)
  schema.each(inventory, inventory_node, function(value, node, where)
    if not node.file or type(value) ~= "string" then return end
    local ok, message = files.probe(value, node.file)
    if not ok then report(where, message) end
  end)
end

--- load_inventory(path) -> inventory, source | nil, message
--- LAB_PLUGIN: the module of the simulated estate, loaded for an inventory with a `lab`
-- table (the embedded default): it registers the sim transport and the simulated world
-- with the product (modules/lab/init.lua). A real estate never loads it.
M.LAB_PLUGIN = "lab"

function M.load_inventory(path)
  local file = io.open(path)
  if not file then return nil, i18n.t("inventory_unreadable", path) end
  local source = file:read("a")
  file:close()
  local chunk, err = load(source, "@" .. path, "t", {})
  if not chunk then return nil, err end
  local ok, inventory = run_as_data(chunk, path)
  if not ok then return nil, inventory end
  if type(inventory) ~= "table" then
    return nil, i18n.t("inventory_not_table", path)
  end
  if inventory.lab ~= nil then require(M.LAB_PLUGIN) end   -- the simulated estate plugs in
  return inventory, source
end

-- The declarations of parameters and inventory fields; runbook.define checks them too,
-- but a customization may add some after it (`failover.params.ticket = { … }`).
local function declaration_problems(definition)
  local problems = {}
  for _, part in ipairs { "params", "inventory" } do
    for name, node in pairs(definition[part]) do
      local problem = schema.declaration_problem(node, ("%s.%s"):format(part, tostring(name)))
      if problem then
        problems[#problems + 1] = ("%s: %s"):format(definition.path or definition.id, problem)
      end
    end
  end
  return problems
end

--- prepare(definition, options) -> session | nil, problems (list of messages)
function M.prepare(definition, options)
  local declared = declaration_problems(definition)
  if #declared > 0 then return nil, declared end
  local path, simulation = M.inventory_path(options)
  local inventory, source = M.load_inventory(path)
  if not inventory then return nil, { source } end
  local problems = {}
  local set_values = apply_sets(definition, inventory, options.set, problems)
  local lines = datalines.map(source)
  local function report(where, message)
    problems[#problems + 1] = ("%s:%d: %s: %s"):format(path, datalines.line_of(lines, where),
      where, message)
  end
  local inventory_node = inventory_schema(definition)
  for _, problem in ipairs(schema.validate(inventory, inventory_node)) do
    report(problem.path, problem.message)
  end
  probe_credentials(inventory, inventory_node, report)
  probe_files(inventory, inventory_node, report)
  local params = resolve_params(definition, inventory, set_values, problems)
  if #problems > 0 then return nil, problems end
  simulation = simulation or inventory.lab ~= nil
  local session
  local ctx = {
    params = params, inventory = inventory, runbook = definition, simulation = simulation,
    lang = i18n.lang, data = {},
    secret = function(reference, label) return secrets.resolve(reference, label) end,
    note = function(text) output.note(text) end,   -- a line, or with --json a "note" event
    -- a step the runbook leaves to the operator: a note now, and a line of the summary
    manual = function(text) M.manual(session, text) end,
    -- ctx.data[key] = value, and journaled: a resumed run and a later runbook see it too
    remember = function(key, value) M.remember(session, key, value) end,
  }
  session = { definition = definition, options = options, inventory = inventory,
              inventory_path = path, params = params, simulation = simulation, ctx = ctx,
              completed = {}, done_order = {}, unsettled = {},
              target = inventory.target or inventory.domain or path }
  return session
end

--- manual(session, text): a step the runbook cannot do safely and leaves to the operator,
-- said as a note now and listed again in the summary (session.manual), never left unsaid.
function M.manual(session, text)
  session.manual = session.manual or {}
  session.manual[#session.manual + 1] = text
  output.note(i18n.t("manual_step", text))
end

--- remember(session, key, value): what a step saw before its change (the value a rollback
-- or a later runbook restores), kept in ctx.data and, during a run, in the journal as a
-- "data" record. value must be JSON data (tables of strings, numbers, booleans).
function M.remember(session, key, value)
  if type(key) ~= "string" then error("ctx.remember: the key must be a string", 2) end
  session.ctx.data[key] = value
  if session.journal then
    session.journal:write { event = "data", key = key, value = value == nil and false or value }
  end
end


return M
