--- runbook.complete — the candidates the shell completions (runtime/completion/) ask the
-- binary for, so that the scripts repeat nothing runbook itself knows. One candidate a
-- line, optionally followed by a tab and a description. Asked for as
--   _RUNBOOK_COMPLETE=runbooks   runbook list                 names find_runbook takes
--   _RUNBOOK_COMPLETE=journals   runbook list                 journals `resume` takes
--   _RUNBOOK_COMPLETE=set-keys   runbook check RUNBOOK|JOURNAL
--   _RUNBOOK_COMPLETE=set-values runbook check RUNBOOK|JOURNAL --set KEY=
-- (cli.main hands over before the command runs). A --set key is a parameter of the runbook
-- or a dotted path into the inventory; a key ending in "." is the start of one (a map's
-- entries are the inventory's to name). No network, no inventory, no secret is read: the
-- runbook's top level runs as `check` runs it, in plan mode, and only for a file that
-- defines a runbook (cli.runbook_text), never for a plain script.
local cli    -- runbook.cli, handed over by answer(): it requires this module
local core = require "runbook.task.core"
local fs = require "runbook.fs"
local i18n = require "runbook.i18n"
local journal = require "runbook.journal"
local session = require "runbook.session"

local M = {}

-- One candidate line; description is optional (tabs and newlines in it become spaces).
local function offer(candidate, description)
  if description and description ~= "" then
    print(candidate .. "\t" .. description:gsub("%s+", " "))
  else
    print(candidate)
  end
end

local function sorted_keys(map)
  local keys = {}
  for key in pairs(map) do if type(key) == "string" then keys[#keys + 1] = key end end
  table.sort(keys)
  return keys
end

-- runbooks: every name `runbook list` shows, without ".lua" (find_runbook adds it).
local function offer_runbooks()
  for _, found in ipairs(cli.runbooks()) do
    offer(found.name:gsub("%.lua$", ""), found.description)
  end
end

-- journals: the full path of every journal of the state directory whose run has not
-- finished (`resume` refuses the others), described by its runbook and start time.
local function offer_journals()
  local ok, dir = pcall(journal.state_dir)
  if not ok then return end
  local names = fs.list(dir) or {}
  table.sort(names)
  for _, name in ipairs(names) do
    local path = dir .. "/" .. name
    local records = name:match("%.jsonl$") and cli.unfinished_journal(path)
    if records then
      offer(path, ("%s, started %s"):format(records[1].runbook_id or "?",
        records[1].time or "?"))
    end
  end
end

-- The runbook file a completion names: the runbook argument, or a journal's runbook.
local function runbook_path_of(argument)
  if argument:match("%.jsonl$") then
    local records = journal.read(argument)
    return records and records[1] and records[1].runbook
  end
  return cli.find_runbook(argument)
end

-- Calls with_definition(definition) inside a task once the runbook's top level has run,
-- as `check` would; does nothing when the argument names no runbook definition.
local function with_definition_of(argument, with_definition)
  local path = argument and runbook_path_of(argument)
  if not (path and cli.runbook_text(path)) then return cli.EXIT.done end
  local chunk = loadfile(path, "t")
  if not chunk then return cli.EXIT.done end
  core.enter_plan_mode()
  return cli.execute(function()
    local definition = chunk()
    if cli.is_definition(definition) then with_definition(definition) end
  end)
end

-- The nodes of the inventory's schema a --set path may start at: the runbook's
-- inventory fields and the embedded lab's settings.
local function inventory_roots(definition)
  local roots = {}
  for name, node in pairs(definition.inventory) do roots[name] = node end
  -- the `lab` table is free-form in the schema: the embedded lab declares its keys
  roots.lab = roots.lab or { type = "record", fields = require(session.LAB_PLUGIN).SETTINGS }
  return roots
end

-- What a key's candidate line says of it: its description, else its type and values.
local function description_of(node)
  if node.description then return node.description end
  local values = type(node.values) == "table" and table.concat(node.values, ", ")
  return values and ("%s: %s"):format(node.type, values) or node.type
end

-- The --set paths below node: a scalar is a key, a map or a list the start of one.
local function offer_paths(path, node)
  if node.type == "record" then
    for _, name in ipairs(sorted_keys(node.fields or {})) do
      offer_paths(path .. "." .. name, node.fields[name])
    end
  elseif node.type == "map" or node.type == "list" or node.type == "any" then
    offer(path .. ".", node.description)
  else
    offer(path, description_of(node))
  end
end

-- set-keys: the parameters, then the inventory paths. A top-level inventory field is set
-- by a dotted path only (a bare name is a parameter), so a scalar there is no key.
local function offer_set_keys(definition)
  for _, name in ipairs(sorted_keys(definition.params)) do
    offer(name, description_of(definition.params[name]))
  end
  local roots = inventory_roots(definition)
  for _, name in ipairs(sorted_keys(roots)) do
    local node = roots[name]
    if node.type == "record" or node.type == "map" or node.type == "list"
      or node.type == "any" then
      offer_paths(name, node)
    end
  end
end

-- The schema node at names[from..] below node; a map's key may span several names (an
-- FQDN), so every split is tried.
local function node_at(node, names, from)
  if node == nil or from > #names then return node end
  if node.type == "record" then
    return node_at((node.fields or {})[names[from]], names, from + 1)
  elseif node.type == "map" or node.type == "list" then
    for last = from, #names - 1 do
      local found = node_at(node.of, names, last + 1)
      if found then return found end
    end
  end
end

-- The schema node of a --set key: a parameter, else an inventory path.
local function node_of_key(definition, key)
  if definition.params[key] then return definition.params[key] end
  local names = {}
  for name in key:gmatch("[^.]+") do names[#names + 1] = name end
  return #names > 1 and node_at(inventory_roots(definition)[names[1]], names, 2) or nil
end

-- set-values: what the key of the last --set takes, when its schema says (one of a list
-- of values, or a boolean).
local function offer_set_values(definition, key)
  local node = key and node_of_key(definition, key)
  if not node then return end
  local values = node.values
  if type(values) == "function" then values = values() end
  if node.type == "boolean" then values = { "true", "false" } end
  for _, value in ipairs(values or {}) do offer(tostring(value)) end
end

--- answer(what, options, cli) -> exit code: prints the candidates for what (see the
-- header); cli is runbook.cli, whose finders (runbooks, journals) it uses.
function M.answer(what, options, cli_module)
  cli = cli_module
  i18n.setup(options.lang)
  if what == "runbooks" then
    offer_runbooks()
  elseif what == "journals" then
    offer_journals()
  elseif what == "set-keys" then
    return with_definition_of(options.argument, offer_set_keys)
  elseif what == "set-values" then
    local last = options.set[#options.set]
    local key = last and last:match("^([^=]+)=")
    return with_definition_of(options.argument, function(definition)
      offer_set_values(definition, key)
    end)
  end
  return cli.EXIT.done
end

return M
