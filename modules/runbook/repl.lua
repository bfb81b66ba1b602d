--- runbook.repl — the Lua side of `runbook repl` (runtime/repl.c reads the lines).
-- A line is compiled as an expression first, then as a statement (like lua.c); an
-- incomplete statement waits for more lines. What compiles runs as a task inside the
-- event loop, so every primitive works at the prompt; results are pretty-printed.
local core = require "runbook.task.core"
local say = require "runbook.say"
local pretty = require "runbook.pretty"

local M = {}
local pending = nil      -- source of a statement still incomplete

-- With an inventory (-i, $RUNBOOK_INVENTORY, else the embedded lab), the incident helpers
-- of modules/diagnostics.lua become globals: status(), dig(), port(), probe(), ps().
local function load_helpers(options)
  local session_lib = require "runbook.session"
  local path, simulation = session_lib.inventory_path(options)
  local inventory, err = session_lib.load_inventory(path)
  if not inventory then
    if options.inventory or os.getenv("RUNBOOK_INVENTORY") then say.error(err); return 2 end
    return 0
  end
  local ctx = { inventory = inventory, data = {}, params = {},
                simulation = simulation or inventory.lab ~= nil }
  require("diagnostics").install(_G, ctx)
  _G.inventory = inventory
  if ctx.simulation then say.note("[sim] the embedded lab: every answer is simulated") end
  say.note(("inventory %s: status(), dig(name, type), port(host, port), probe(), ps(server, script)")
    :format(path))
  return 0
end

function M.setup(options)
  say.setup(options)
  local ok, code = pcall(load_helpers, options)
  if not ok then say.error(tostring(code)); return 2 end
  return code
end

-- Runs the chunk as a task and prints what it returned or why it failed.
local function evaluate(chunk)
  local main = core.spawn(chunk)
  core.drive(main)
  if core.interrupted() then
    core.clear_interrupt()
    say.error("interrupted: the line was cancelled")
    return
  end
  local outcome = table.pack(main:result())
  if not outcome[1] then
    say.error(tostring(outcome[2]))
    local trace = say.short_traceback(main:traceback())
    if trace then io.stderr:write(trace, "\n") end
    return
  end
  for i = 2, outcome.n do print(pretty.format(outcome[i])) end
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

--- complete(word) -> candidates: globals and fields reached through `.` or `:`.
function M.complete(word)
  local base, separator, prefix = word:match("^(.-)([.:]?)([%w_]*)$")
  local scope = _G
  if separator ~= "" then
    for name in base:gmatch("[^.:]+") do
      scope = type(scope) == "table" and rawget(scope, name) or nil
    end
    local meta = getmetatable(scope)
    if type(scope) ~= "table" and meta and type(meta.__index) == "table" then
      scope = meta.__index
    end
    if type(scope) ~= "table" then return {} end
  end
  local candidates = {}
  for key, value in pairs(scope) do
    if type(key) == "string" and key:sub(1, #prefix) == prefix and
        (separator ~= ":" or type(value) == "function") then
      candidates[#candidates + 1] = base .. separator .. key
    end
  end
  table.sort(candidates)
  return candidates
end

return M
