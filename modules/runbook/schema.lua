--- runbook.schema — checks a data table (an inventory, parameters) against a schema and
-- says, for every problem, the key, what was expected and what was found.
-- A schema node: { type = "string"|"number"|"integer"|"boolean"|"record"|"map"|"list"|
-- "credential"|"any", required = bool, default = value, description = text,
-- fields = {name = node} (record), of = node (map, list), values = {…} (one of),
-- pattern = Lua pattern, check = function(value) -> ok, message }.
-- Records are strict: an unknown key is an error (with a suggestion when one is close).
-- Paths in problems are spelled by runbook.keypath (`servers["edge2a.contoso.com"].port`).
-- Messages are in the operator's language (runbook.i18n); keys and values are not translated.
local t = require("runbook.i18n").t

local M = {}

local function distance(a, b)
  local previous = {}
  for j = 0, #b do previous[j] = j end
  for i = 1, #a do
    local current = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      current[j] = math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
    end
    previous = current
  end
  return previous[#b]
end

local function suggestion(key, fields)
  local best, best_distance = nil, 3
  for name in pairs(fields) do
    local d = distance(key, name)
    if d < best_distance then best, best_distance = name, d end
  end
  return best and t("did_you_mean", best) or ""
end

local join = require("runbook.keypath").join

local function describe(value)
  if type(value) == "string" then return ("'%s'"):format(value) end
  return type(value) == "table" and t("a_table") or tostring(value)
end

-- A value where a credential belongs may be the secret itself: it is described by its
-- kind and length, never shown — not even when it is refused.
local function describe_refused(value, node)
  if node.type == "credential" or node.secret then
    return t("a_value_of_length", type(value), type(value) == "string" and #value or 0)
  end
  return describe(value)
end

--- A credential is a reference, never the secret itself.
function M.is_credential_reference(value)
  return type(value) == "string" and (value:match("^env:[%w_]+$") ~= nil
    or value:match("^file:.+") ~= nil or value == "prompt" or value == "agent")
end

local check
local checkers = {}

function checkers.string(value) return type(value) == "string", t("a_string") end
function checkers.number(value) return type(value) == "number", t("a_number") end
function checkers.integer(value) return math.type(value) == "integer", t("a_whole_number") end
function checkers.boolean(value) return type(value) == "boolean", t("true_or_false") end
function checkers.any() return true end

function checkers.credential(value)
  return M.is_credential_reference(value), t("a_credential")
end

function checkers.record(value, node, path, report)
  if type(value) ~= "table" then return false, t("a_table") end
  local fields = node.fields or {}
  for key, field in pairs(fields) do check(value[key], field, join(path, key), report) end
  for key in pairs(value) do
    if type(key) ~= "string" or not fields[key] then
      report(join(path, key), t("unknown_key") .. suggestion(tostring(key), fields))
    end
  end
  return true
end

function checkers.map(value, node, path, report)
  if type(value) ~= "table" then return false, t("a_table") end
  for key, item in pairs(value) do
    if type(key) ~= "string" then report(join(path, key), t("keys_must_be_names"))
    else check(item, node.of, join(path, key), report) end
  end
  return true
end

function checkers.list(value, node, path, report)
  if type(value) ~= "table" then return false, t("a_list") end
  for key in pairs(value) do
    if math.type(key) ~= "integer" or key < 1 or key > #value then
      report(join(path, key), t("list_no_named_keys"))
    end
  end
  for i, item in ipairs(value) do check(item, node.of, join(path, i), report) end
  return true
end

local function check_constraints(value, node, path, report)
  if node.values then
    for _, allowed in ipairs(node.values) do if value == allowed then return end end
    report(path, t("expected_one_of", table.concat(node.values, ", "),
                   describe_refused(value, node)))
  elseif node.pattern and not tostring(value):match(node.pattern) then
    report(path, t("does_not_look_like", describe_refused(value, node),
      node.description or node.pattern))
  elseif node.check then
    local fine, message = node.check(value)
    if not fine then report(path, message) end
  end
end

local ANY = { type = "any" }

function check(value, node, path, report)
  node = node or ANY                  -- a map or list without `of`: any items
  if value == nil then
    if node.required then
      report(path, t("required", node.description or t("a_type", node.type)))
    end
    return
  end
  local checker = checkers[node.type]
  if not checker then
    report(path, t("no_schema_type", describe(node.type)))
    return
  end
  local ok, expected = checker(value, node, path, report)
  if not ok then
    report(path, t("expected_got", expected, describe_refused(value, node)))
    return
  end
  check_constraints(value, node, path, report)
end

--- validate(value, schema) -> problems: list of {path=, message=} (empty when valid)
function M.validate(value, schema)
  local problems = {}
  check(value, schema, "", function(path, message)
    problems[#problems + 1] = { path = path, message = message }
  end)
  table.sort(problems, function(a, b) return a.path < b.path end)
  return problems
end

--- each(value, schema, visit): visit(value, node, path) for every value the schema
-- describes, the outer first: record fields, map and list items. How a caller finds, say,
-- every credential of an inventory.
function M.each(value, node, visit, path)
  path = path or ""
  node = node or ANY
  if value == nil then return end
  visit(value, node, path)
  if type(value) ~= "table" then return end
  if node.type == "record" then
    for key, field in pairs(node.fields or {}) do
      M.each(value[key], field, visit, join(path, key))
    end
  elseif node.type == "map" then
    for key, item in pairs(value) do
      if type(key) == "string" then M.each(item, node.of, visit, join(path, key)) end
    end
  elseif node.type == "list" then
    for i, item in ipairs(value) do M.each(item, node.of, visit, join(path, i)) end
  end
end

local DECLARATION_KEYS = { type = "any", required = "boolean", default = "any",
  description = "string", fields = "table", of = "table", values = "table",
  pattern = "string", check = "function", file = "string", secret = "boolean" }
local TYPE_NAMES = "string, number, integer, boolean, record, map, list, credential, any"

local function sub_declarations_problem(node, name)
  if node.type == "record" then
    for field_name, field in pairs(node.fields or {}) do
      local problem = M.declaration_problem(field, join(name, field_name))
      if problem then return problem end
    end
  elseif node.of ~= nil then
    return M.declaration_problem(node.of, name .. "[…]")
  end
end

--- declaration_problem(node, name) -> what is wrong with a schema node a runbook declares
-- (a parameter, an inventory field), or nil. Checked when the runbook is defined, so a
-- misspelt type is a clear message, not a crash while a value is checked.
function M.declaration_problem(node, name)
  if type(node) ~= "table" then
    return t("declaration_not_table", name)
  end
  if not checkers[node.type] then
    return t("declaration_unknown_type", name, describe(node.type),
      suggestion(tostring(node.type), checkers), TYPE_NAMES)
  end
  for key, value in pairs(node) do
    local wanted = DECLARATION_KEYS[key]
    if not wanted then
      return t("declaration_unknown_key", name, tostring(key),
        suggestion(tostring(key), DECLARATION_KEYS))
    elseif wanted ~= "any" and type(value) ~= wanted then
      return t("declaration_wrong_type", name, key, wanted, describe(value))
    end
  end
  if node.default ~= nil and type(node.default) ~= "function" then
    local problem = M.validate(node.default, node)[1]
    if problem then return t("declaration_default", name, problem.message) end
  end
  return sub_declarations_problem(node, name)
end

--- defaults(value, schema) -> value with every missing field that has a default filled in
function M.defaults(value, schema)
  if value == nil then value = schema.default end
  if type(value) == "table" and schema.type == "record" then
    for key, field in pairs(schema.fields or {}) do value[key] = M.defaults(value[key], field) end
  end
  return value
end

return M
