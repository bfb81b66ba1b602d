--- runbook.cli — the subcommands behind the command line. runtime/main.c parses and
-- validates the words; this module finds the runbook, loads it and runs it in the loop.
-- Every function takes the options table main.c builds and returns an exit code.
local fs = require "runbook.fs"
local host = require "runbook.host"
local say = require "runbook.say"
local task = require "runbook.task"
local core = require "runbook.task.core"

-- What only runbook definitions (and `list --json`) need is loaded on first use, so that a
-- plain script starts as fast as lua5.4 itself would (bench/startup.sh).
local function lazy(name)
  return setmetatable({}, { __index = function(_, key) return require(name)[key] end })
end
local cjson = lazy "cjson"
local engine = lazy "runbook.engine"
local i18n = lazy "runbook.i18n"
local journal_lib = lazy "runbook.journal"
local output = lazy "runbook.output"
local session_lib = lazy "runbook.session"

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

-- Validation problems: each on its own line, exit 2.
local function report_problems(problems)
  for _, problem in ipairs(problems) do say.error(problem) end
  return EXIT.usage
end

local function setup_output(session, options)
  output.setup { json = options.json, quiet = options.quiet, simulation = session.simulation,
                 audit_log = options.audit_log or session.inventory.audit_log }
end

-- Runs the runbook file's top level (inside the task): its definition, or nil and the
-- exit code of a plain script (which has done its work by now).
local function definition_of(chunk, path)
  local result = chunk()
  if not require("runbook").is_definition(result) then
    return nil, math.type(result) == "integer" and result or EXIT.done
  end
  result.path = path
  return result
end

local function confirm(options)
  if options.yes then return true end
  if not fs.isatty(0) then
    say.error("standard input is not a terminal, so nobody can confirm: nothing was changed; "
      .. "run again with --yes to proceed without confirmation")
    return false, EXIT.usage
  end
  if engine.ask(i18n.t("confirm")) then return true end
  say.error(i18n.t("declined"))
  return false, EXIT.declined
end

-- After the lock is taken: plan, confirm, execute.
local function plan_then_execute(session, journal, header)
  output.emit("run_start", { runbook = session.definition.id,
    title = session.definition.title or session.definition.id, journal = journal.path,
    inventory = session.inventory_path, simulation = session.simulation })
  local entries, blocked = engine.plan(session)
  if blocked then
    output.emit("summary", { ok = false, blocked = true, changed = 0, skipped = 0, failed = 1 })
    return EXIT.failed
  end
  local pending = false
  for _, entry in ipairs(entries) do pending = pending or entry.status == "change" end
  if not pending then
    output.line(i18n.t("no_changes"))
    output.emit("summary", { ok = true, changed = 0, skipped = #entries, failed = 0 })
    return EXIT.done
  end
  local accepted, refusal = confirm(session.options)
  if not accepted then return refusal end
  session.journal = journal
  journal:write(header)
  return engine.execute(session)
end

-- The shared path of run and resume.
local function start(options, definition, resumed)
  i18n.setup(options.lang)
  local session, problems = session_lib.prepare(definition, options)
  if not session then return report_problems(problems) end
  setup_output(session, options)
  resumed = resumed or {}
  for _, entry in ipairs(resumed.completed or {}) do
    session.completed[entry.key] = true
    session.done_order[#session.done_order + 1] = entry.ref
  end
  session.unsettled = resumed.unsettled or {}
  for key, value in pairs(resumed.remembered or {}) do session.ctx.data[key] = value end
  local resumed_journal = resumed.journal
  local journal = resumed_journal or journal_lib.create(definition.id)
  local header = resumed_journal and { event = "resume", pid = fs.pid() } or
    { event = "start", runbook = definition.path, runbook_id = definition.id,
      inventory = session.inventory_path, set = options.set, lang = i18n.lang, pid = fs.pid() }
  local release, err = journal_lib.lock(definition.id, session.target, say.warn)
  if not release then say.error(err); return EXIT.failed end
  local ok, code = pcall(plan_then_execute, session, journal, header)
  release()
  if not ok then error(code, 0) end
  return code
end

function M.run(options)
  local chunk, path = load_runbook(options.argument)
  if not chunk then return EXIT.usage end
  return execute(function()
    local definition, code = definition_of(chunk, path)
    if not definition then return code end
    return start(options, definition)
  end)
end

function M.plan(options)
  local chunk, path = load_runbook(options.argument)
  if not chunk then return EXIT.usage end
  core.enter_plan_mode()
  return execute(function()
    local definition = definition_of(chunk, path)
    if not definition then
      say.error(path .. " is a plain script, not a runbook definition: there is nothing to plan")
      return EXIT.usage
    end
    i18n.setup(options.lang)
    local session, problems = session_lib.prepare(definition, options)
    if not session then return report_problems(problems) end
    setup_output(session, options)
    output.emit("run_start", { runbook = definition.id, title = definition.title or definition.id,
      inventory = session.inventory_path, simulation = session.simulation, plan = true })
    local _, blocked = engine.plan(session)
    return blocked and EXIT.failed or EXIT.done
  end)
end

--- check: the runbook compiles and defines valid steps; the inventory and the parameters
-- pass their schema. No network traffic (plan mode is on, no check runs).
function M.check(options)
  local chunk, path = load_runbook(options.argument)
  if not chunk then return EXIT.usage end
  core.enter_plan_mode()
  return execute(function()
    local definition = definition_of(chunk, path)
    local where = ""
    if definition then
      local session, problems = session_lib.prepare(definition, options)
      if not session then return report_problems(problems) end
      where = (" (%d steps; inventory %s)"):format(#definition.steps, session.inventory_path)
    elseif options.inventory then
      local inventory, err = session_lib.load_inventory(options.inventory)
      if not inventory then return report_problems { err } end
    end
    if not options.quiet then print(path .. ": ok" .. where) end
    return EXIT.done
  end)
end

-- What a journal says is done: successful outcomes that were not rolled back since; and
-- the changes whose intent it has without an outcome (unsettled: the check decides).
local function completed_in(records, definition)
  local steps, order, position, unsettled = {}, {}, {}, {}
  for _, step in ipairs(definition.steps) do steps[step.id] = step end
  for _, record in ipairs(records) do
    local k = record.step and (record.step .. "|" .. (record.host or ""))
    if record.event == "intent" then
      unsettled[k] = true
    elseif record.event == "outcome" then
      unsettled[k] = nil
      if record.ok and steps[record.step] then
        order[#order + 1] = { key = k, ref = { step = steps[record.step], host = record.host or false } }
        position[k] = #order
      end
    elseif record.event == "rolled_back" and position[k] then
      order[position[k]] = false
    end
  end
  local entries = {}
  for _, entry in ipairs(order) do if entry then entries[#entries + 1] = entry end end
  return entries, unsettled
end

local function unfinished(path)
  local records, err = journal_lib.read(path)
  if not records then return nil, err end
  if not records[1] or records[1].event ~= "start" then
    return nil, path .. ": not a runbook journal (no start record)"
  end
  for _, record in ipairs(records) do
    if record.event == "finish" then
      return nil, ("%s: that run already finished (%s): nothing to resume"):format(path,
        record.ok and "done" or "failed")
    end
  end
  return records
end

--- resume JOURNAL: the same runbook, inventory and --set as the interrupted run; steps the
-- journal shows done are not repeated, the rest is checked first as always.
function M.resume(options)
  local records, err = unfinished(options.argument)
  if not records then say.error(err); return EXIT.usage end
  local header = records[1]
  local chunk, path = load_runbook(header.runbook)
  if not chunk then return EXIT.usage end
  options.inventory = options.inventory or header.inventory
  if #options.set == 0 then options.set = header.set or {} end
  options.lang = options.lang or header.lang
  return execute(function()
    local definition = definition_of(chunk, path)
    if not definition then return EXIT.usage end
    local completed, unsettled = completed_in(records, definition)
    return start(options, definition, { completed = completed, unsettled = unsettled,
      journal = journal_lib.open(options.argument), remembered = journal_lib.recall(records) })
  end)
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


function M.main(options)
  say.setup(options)
  return M[options.command](options)
end

return M
