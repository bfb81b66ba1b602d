--- runbook.cli — the subcommands behind the command line. runtime/main.c parses and
-- validates the words; this module finds the runbook, loads it and runs it in the loop.
-- Every function takes the options table main.c builds and returns an exit code.
local cjson = require "cjson"
local fs = require "runbook.fs"
local host = require "runbook.host"
local say = require "runbook.say"
local task = require "runbook.task"
local core = require "runbook.task.core"

local M = {}

M.EXIT = { done = 0, failed = 1, usage = 2, declined = 3, interrupted = 4 }
local EXIT = M.EXIT

--- Directories searched for a runbook named without a path, in order.
function M.search_path()
  local dirs = { "." }
  for dir in (os.getenv("RUNBOOK_PATH") or ""):gmatch("[^:]+") do dirs[#dirs + 1] = dir end
  dirs[#dirs + 1] = host.datadir .. "/runbooks"
  return dirs
end

local function is_file(path)
  local info = fs.stat(path)
  return info ~= nil and info.type == "file"
end

--- find_runbook(name) -> path | nil, message
function M.find_runbook(name)
  if name:find("/", 1, true) then
    if is_file(name) then return name end
    return nil, ("runbook %s: no such file"):format(name)
  end
  for _, dir in ipairs(M.search_path()) do
    for _, candidate in ipairs { name, name .. ".lua" } do
      local path = dir == "." and candidate or dir .. "/" .. candidate
      if is_file(path) then return path end
    end
  end
  return nil, ("runbook '%s' not found in %s: give its path, or add its directory to "
    .. "RUNBOOK_PATH"):format(name, table.concat(M.search_path(), ", "))
end

-- Finds and compiles the runbook; on failure says why and returns nil.
local function load_runbook(name)
  local path, err = M.find_runbook(name)
  if not path then say.error(err); return nil end
  local chunk, syntax = loadfile(path, "t")
  if not chunk then
    say.error(syntax .. "\n  (the runbook does not compile: fix that line, then `runbook check "
      .. path .. "`)")
    return nil
  end
  return chunk, path
end

-- Runs fn as the main task; reports its failure; returns the exit code.
local function execute(fn, ...)
  local main = core.spawn(fn, ...)
  local finished = core.drive(main)
  if task.interrupted() then
    say.error("interrupted: every task was cancelled")
    return EXIT.interrupted
  end
  local outcome = table.pack(main:result())
  if not finished then
    say.error("every task is waiting for something that can never happen (deadlock)")
    return EXIT.failed
  end
  if outcome[1] then
    return math.type(outcome[2]) == "integer" and outcome[2] or EXIT.done
  end
  say.error(tostring(outcome[2]))
  local trace = say.short_traceback(main:traceback())
  if trace then io.stderr:write(trace, "\n") end
  return EXIT.failed
end
M.execute = execute

function M.run(options)
  local chunk = load_runbook(options.argument)
  if not chunk then return EXIT.usage end
  return execute(chunk)
end

-- An inventory is data: it is compiled and run in an empty environment.
local function check_inventory(path)
  local chunk, err = loadfile(path, "t", {})
  if not chunk then return nil, err end
  local ok, inventory = pcall(chunk)
  if not ok then return nil, tostring(inventory) end
  if type(inventory) ~= "table" then
    return nil, path .. ": an inventory must return a table (`return { ... }`)"
  end
  return inventory
end

function M.check(options)
  local chunk, path = load_runbook(options.argument)
  if not chunk then return EXIT.usage end
  local inventory = options.inventory or os.getenv("RUNBOOK_INVENTORY")
  if inventory then
    local ok, err = check_inventory(inventory)
    if not ok then say.error(err); return EXIT.usage end
  end
  if not options.quiet then print(path .. ": ok") end
  return EXIT.done
end

-- The first `---` line of a runbook: its one-line description.
local function describe(path)
  local file = io.open(path)
  if not file then return "" end
  for line in file:lines() do
    local text = line:match("^%-%-%-%s*(.*)")
    if text then file:close(); return text end
  end
  file:close()
  return ""
end

function M.list(options)
  local seen = {}
  for _, dir in ipairs(M.search_path()) do
    for _, name in ipairs(fs.list(dir) or {}) do
      local path = dir .. "/" .. name
      if name:match("%.lua$") and not seen[name] and is_file(path) then
        seen[name] = true
        if options.json then
          print(cjson.encode { name = name, path = path, description = describe(path) })
        else
          print(("%-28s %s\n%-28s   (%s)"):format(name, describe(path), "", path))
        end
      end
    end
  end
  return EXIT.done
end

local function not_yet(options)
  say.error(("`runbook %s` needs the runbook engine (steps, plan, journal), which is not "
    .. "built yet: use `runbook run` meanwhile"):format(options.command))
  return EXIT.usage
end
M.plan = not_yet
M.resume = not_yet

function M.main(options)
  say.setup(options)
  return M[options.command](options)
end

return M
