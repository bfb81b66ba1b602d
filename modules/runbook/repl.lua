--- runbook.repl — the Lua side of `runbook repl` (runtime/repl.c reads the lines).
-- A line is compiled as an expression first, then as a statement (like lua.c); an
-- incomplete statement waits for more lines. What compiles runs as a task inside the
-- event loop, so every primitive works at the prompt; results are pretty-printed.
local session_lib = require "runbook.session"
local core = require "runbook.task.core"
local fs = require "runbook.fs"
local host = require "runbook.host"
local say = require "runbook.say"
local pretty = require "runbook.pretty"
local i18n = require "runbook.i18n"
local t = require "runbook.repl_messages"   -- what the REPL says, in en, de and fr

local M = {}
local pending = nil      -- source of a statement still incomplete

-- Incident helpers register here: {help = {{name=, usage=, text=, example=}, ...},
-- text a string or {en=, de=, fr=} (shown in the chosen language, i18n.pick),
-- install = function(env, ctx)}. The REPL knows no product: with an inventory it loads
-- the plug-ins named in PLUGINS, which register themselves (modules/diagnostics.lua:
-- status(), dig(), port(), probe(), ps()). An organization may append its own module.
M.PLUGINS = { "diagnostics" }
local helper_sets = {}

--- register(set): a plug-in's helpers, installed into the REPL's globals with an inventory.
function M.register(set)
  assert(type(set) == "table" and type(set.install) == "function",
         "[repl] register{help = list, install = function(env, ctx)}")
  helper_sets[#helper_sets + 1] = set
end

-- With an inventory (-i, $RUNBOOK_INVENTORY, else the embedded lab), every registered
-- helper set is installed as globals.
local function load_helpers(options)
  local path, simulation = session_lib.inventory_path(options)
  local inventory, err = session_lib.load_inventory(path)
  if not inventory then
    if options.inventory or os.getenv("RUNBOOK_INVENTORY") then say.error(err); return 2 end
    return 0
  end
  local ctx = { inventory = inventory, data = {}, params = {},
                simulation = simulation or inventory.lab ~= nil }
  for _, name in ipairs(M.PLUGINS) do require(name) end   -- they register themselves
  M.helpers = {}
  for _, set in ipairs(helper_sets) do
    set.install(_G, ctx)
    for _, entry in ipairs(set.help or {}) do M.helpers[#M.helpers + 1] = entry end
  end
  _G.inventory = inventory
  M.inventory_path = path
  if ctx.simulation then say.note(t("simulated")) end
  local calls = {}
  for i, entry in ipairs(M.helpers) do calls[i] = entry.usage end
  say.note(t("ready", path, table.concat(calls, ", ")))
  return 0
end

-- The text of help(): every helper with a line and an example, then the primitives.
local function help_text()
  local lines = {}
  if M.helpers then
    lines[1] = t("helpers_for", M.inventory_path:match("[^/]+$"))
    for _, entry in ipairs(M.helpers) do
      lines[#lines + 1] = "  " .. entry.usage
      lines[#lines + 1] = "      " .. i18n.pick(entry.text)
      lines[#lines + 1] = "      " .. t("example", entry.example)
    end
  else
    lines[1] = t("no_helpers")
  end
  local names = {}
  for name in pairs(M.primitive_names()) do names[#names + 1] = name end
  table.sort(names)
  lines[#lines + 1] = t("primitives")
  lines[#lines + 1] = "      " .. table.concat(names, ", ")
  lines[#lines + 1] = t("help_more")
  return table.concat(lines, "\n")
end

-- help(value): one helper's call, line and example; a table's functions; else help().
local function help_about(value)
  for _, entry in ipairs(M.helpers or {}) do
    if rawget(_G, entry.name) == value or entry.name == value then
      return ("%s\n  %s\n  %s"):format(entry.usage, i18n.pick(entry.text),
        t("example", entry.example))
    end
  end
  if type(value) == "table" then
    local keys = {}
    for key, item in pairs(value) do
      if type(key) == "string" then
        keys[#keys + 1] = key .. (type(item) == "function" and "()" or "")
      end
    end
    table.sort(keys)
    return table.concat(keys, ", ")
  end
  return t("no_help", pretty.format(value))
end

--- help: the REPL's help, a global. `help`, `=help` and `help()` print the list of
-- helpers and primitives; `help(dig)` (or help "dig") one helper.
M.help = setmetatable({}, {
  __name = "runbook.help",
  __call = function(_, ...)
    print(select("#", ...) == 0 and help_text() or help_about((...)))
  end,
  __tostring = function() return help_text() end,
})

-- The directories of package.cpath's templates DIR/?.so: where runbook/NAME.so live.
local function cpath_dirs()
  local dirs = {}
  for template in package.cpath:gmatch("[^;]+") do
    dirs[#dirs + 1] = template:match("^(.*)/%?%.so$")
  end
  return dirs
end

--- primitive_names() -> set of NAME for each C primitive runbook.NAME: those built into the
-- binary (package.preload) and those loaded on first use (runbook/NAME.so on the cpath).
function M.primitive_names()
  local names = {}
  for module in pairs(package.preload) do
    local name = module:match("^runbook%.([%w_]+)$")
    if name then names[name] = true end
  end
  for _, dir in ipairs(cpath_dirs()) do
    for _, file in ipairs(fs.list(dir .. "/runbook") or {}) do
      local name = file:match("^([%w_]+)%.so$")
      if name then names[name] = true end
    end
  end
  return names
end

--- install_primitives(env): every primitive becomes a global of env, required when first
-- named, so `dns.query(...)` works at the prompt without a require and costs nothing unused.
function M.install_primitives(env)
  local names = M.primitive_names()
  M.lazy_globals = names
  setmetatable(env, { __index = function(_, name)
    if not names[name] then return nil end
    local module = require("runbook." .. name)
    rawset(env, name, module)
    return module
  end })
end

function M.setup(options)
  say.setup(options)
  i18n.setup(options.lang)
  M.install_primitives(_G)
  _G.help = M.help
  local ok, code = pcall(load_helpers, options)
  if not ok then say.error(tostring(code)); return 2 end
  return code
end

--- greet(): the two lines a prompt on a terminal opens with.
function M.greet()
  print(t("greeting"))
end

-- Runs the chunk as a task and prints what it returned or why it failed.
local function evaluate(chunk)
  local main = core.spawn(chunk)
  core.drive(main)
  if core.interrupted() then
    core.clear_interrupt()
    say.error(t("cancelled"))
    return
  end
  local outcome = table.pack(main:result())
  if not outcome[1] then
    local err = outcome[2]
    say.error(tostring(err))
    local meta = getmetatable(err)
    if meta and meta.__name == "runbook.usage" then return end   -- its one line says it
    local trace = say.short_traceback(main:traceback())
    if trace then io.stderr:write(trace, "\n") end
    return
  end
  for i = 2, outcome.n do
    if outcome[i] == M.help then M.help() else print(pretty.format(outcome[i])) end
  end
end

--- feed(line) -> 1 when the statement needs more lines, else 0.
function M.feed(line)
  local source = pending and (pending .. "\n" .. line) or line:gsub("^=", "return ", 1)
  local chunk, err
  if not pending then chunk = load("return " .. source, "=stdin", "t") end
  if not chunk then chunk, err = load(source, "=stdin", "t") end
  if not chunk then
    if err:match("<eof>$") then pending = source; return 1 end
    pending = nil
    say.error(err)
    return 0
  end
  pending = nil
  evaluate(chunk)
  return 0
end

--- reset(): Ctrl-C at the prompt; the unfinished statement is dropped.
function M.reset()
  pending = nil
  return 0
end

-- Adds to names every module under dir (a modules/ tree): a/b.lua is "a.b", a/init.lua "a".
local function add_modules_under(dir, prefix, names, depth)
  if depth > 4 then return end
  for _, entry in ipairs(fs.list(dir) or {}) do
    local base = entry:match("^([%w_%-]+)%.lua$")
    if entry == "init.lua" and prefix ~= "" then
      names[prefix:sub(1, -2)] = true
    elseif base then
      names[prefix .. base] = true
    elseif entry:match("^[%w_%-]+$") then
      local path = dir .. "/" .. entry
      if (fs.stat(path) or {}).type == "directory" then
        add_modules_under(path, prefix .. entry .. ".", names, depth + 1)
      end
    end
  end
end

--- module_names() -> sorted names require can load: preloaded modules, the modules/ tree
-- and the primitives loaded on first use.
function M.module_names()
  local names = {}
  for module in pairs(package.preload) do names[module] = true end
  add_modules_under(host.datadir .. "/modules", "", names, 1)
  for name in pairs(M.primitive_names()) do names["runbook." .. name] = true end
  local sorted = {}
  for name in pairs(names) do sorted[#sorted + 1] = name end
  table.sort(sorted)
  return sorted
end

-- A global's value for completion; a lazy primitive is loaded now, as using it would.
local function global(name)
  local value = rawget(_G, name)
  if value == nil and M.lazy_globals and M.lazy_globals[name] then
    local ok, module = pcall(require, "runbook." .. name)
    value = ok and module or nil
  end
  return value
end

-- The table whose keys complete what follows base .. separator, or nil.
local function scope_of(base, separator)
  if separator == "" then return _G end
  local scope, first = nil, true
  for name in base:gmatch("[^.:]+") do
    if first then scope = global(name) else
      scope = type(scope) == "table" and rawget(scope, name) or nil
    end
    first = false
  end
  local meta = getmetatable(scope)
  if type(scope) ~= "table" and meta and type(meta.__index) == "table" then
    scope = meta.__index
  end
  return type(scope) == "table" and scope or nil
end

-- Candidates for a module name typed inside require "…" or require("…").
local function complete_module(word)
  local candidates = {}
  for _, name in ipairs(M.module_names()) do
    if name:sub(1, #word) == word then candidates[#candidates + 1] = name end
  end
  return candidates
end

--- complete(word [, before]) -> candidates: globals (the lazy primitives included) and fields
-- reached through `.` or `:`; module names when the line before word is `require "` or
-- `require(`.
function M.complete(word, before)
  if before and before:match("require%s*%(?%s*[\"']$") then return complete_module(word) end
  local base, separator, prefix = word:match("^(.-)([.:]?)([%w_]*)$")
  local scope = scope_of(base, separator)
  if not scope then return {} end
  local candidates, seen = {}, {}
  local function add(key, value)
    if type(key) == "string" and key:sub(1, #prefix) == prefix and not seen[key] and
        (separator ~= ":" or type(value) == "function") then
      seen[key] = true
      candidates[#candidates + 1] = base .. separator .. key
    end
  end
  for key, value in pairs(scope) do add(key, value) end
  if scope == _G then for name in pairs(M.lazy_globals or {}) do add(name) end end
  table.sort(candidates)
  return candidates
end

return M
