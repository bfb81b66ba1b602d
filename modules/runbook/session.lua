--- runbook.session — everything a run needs, checked before any network traffic: the
-- runbook definition, the inventory (data only, validated against its schema, problems
-- reported as file:line with the key and what was expected), and the parameters
-- (--set, then the inventory's params, then the runbook's defaults).
local datalines = require "runbook.datalines"
local host = require "runbook.host"
local i18n = require "runbook.i18n"
local output = require "runbook.output"
local schema = require "runbook.schema"
local secrets = require "runbook.secrets"

local M = {}

-- Fields every inventory may have, whatever the runbook.
local BASE_FIELDS = {
  params = { type = "map", of = { type = "any" }, description = "values for the runbook's parameters" },
  audit_log = { type = "string", description = "file the audit log is appended to" },
  lab = { type = "any", description = "settings of the embedded lab simulation" },
  target = { type = "string", description = "what the run acts on, for the lock (default: domain)" },
}

local function inventory_schema(definition)
  local fields = {}
  for name, field in pairs(BASE_FIELDS) do fields[name] = field end
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

-- Coerces a --set string to the type the schema wants.
local function coerce(text, kind)
  if kind == "number" or kind == "integer" then return tonumber(text) or text end
  if kind == "boolean" then
    if text == "true" then return true elseif text == "false" then return false end
  end
  if kind == "list" then
    local items = {}
    for item in text:gmatch("[^,]+") do items[#items + 1] = item end
    return items
  end
  return text
end

local function set_path(tree, path, value)
  local parent, last = tree, nil
  for name in path:gmatch("[^.]+") do
    if last then
      parent[last] = type(parent[last]) == "table" and parent[last] or {}
      parent = parent[last]
    end
    last = name
  end
  parent[last] = value
end

-- --set KEY=VALUE: a parameter of the runbook, or a dotted path into the inventory.
local function apply_sets(definition, inventory, sets, problems)
  local values = {}
  for _, assignment in ipairs(sets or {}) do
    local name, text = assignment:match("^([^=]+)=(.*)$")
    local param = definition.params[name]
    local root = name:match("^[^.]+")
    if param then
      values[name] = coerce(text, param.type)
    elseif name:find(".", 1, true) and inventory_schema(definition).fields[root] then
      set_path(inventory, name, coerce(text, "string"))
    else
      local names = {}
      for param_name in pairs(definition.params) do names[#names + 1] = param_name end
      table.sort(names)
      problems[#problems + 1] = ("--set %s: %s has no parameter '%s' (its parameters: %s)"):format(
        assignment, definition.id, name, #names > 0 and table.concat(names, ", ") or "none")
    end
  end
  return values
end

local function resolve_params(definition, inventory, set_values, problems)
  local params, from_inventory = {}, inventory.params or {}
  for name, param in pairs(definition.params) do
    local value = set_values[name]
    if value == nil then value = from_inventory[name] end
    if value == nil then
      value = param.default
      if type(value) == "function" then value = value(inventory) end
    end
    params[name] = value
    for _, problem in ipairs(schema.validate(value, param)) do
      problems[#problems + 1] = ("parameter '%s': %s"):format(name, problem.message)
    end
  end
  return params
end

--- load_inventory(path) -> inventory, source | nil, message
function M.load_inventory(path)
  local file = io.open(path)
  if not file then return nil, ("inventory %s: cannot be read (give -i FILE or set "
    .. "RUNBOOK_INVENTORY)"):format(path) end
  local source = file:read("a")
  file:close()
  local chunk, err = load(source, "@" .. path, "t", {})
  if not chunk then return nil, err end
  local ok, inventory = pcall(chunk)
  if not ok then return nil, tostring(inventory) .. " (an inventory is data: no function may be called)" end
  if type(inventory) ~= "table" then
    return nil, path .. ":1: an inventory must return a table (`return { ... }`)"
  end
  return inventory, source
end

--- prepare(definition, options) -> session | nil, problems (list of messages)
function M.prepare(definition, options)
  local path, simulation = M.inventory_path(options)
  local inventory, source = M.load_inventory(path)
  if not inventory then return nil, { source } end
  local problems = {}
  local set_values = apply_sets(definition, inventory, options.set, problems)
  local lines = datalines.map(source)
  for _, problem in ipairs(schema.validate(inventory, inventory_schema(definition))) do
    problems[#problems + 1] = ("%s:%d: %s: %s"):format(path,
      datalines.line_of(lines, problem.path), problem.path, problem.message)
  end
  local params = resolve_params(definition, inventory, set_values, problems)
  if #problems > 0 then return nil, problems end
  simulation = simulation or inventory.lab ~= nil
  local session
  local ctx = {
    params = params, inventory = inventory, runbook = definition, simulation = simulation,
    lang = i18n.lang, data = {},
    secret = function(reference, label) return secrets.resolve(reference, label) end,
    note = function(text) output.line("      " .. tostring(text)) end,
    -- ctx.data[key] = value, and journaled: a resumed run and a later runbook see it too
    remember = function(key, value) M.remember(session, key, value) end,
  }
  session = { definition = definition, options = options, inventory = inventory,
              inventory_path = path, params = params, simulation = simulation, ctx = ctx,
              completed = {}, done_order = {}, unsettled = {},
              target = inventory.target or inventory.domain or path }
  return session
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
