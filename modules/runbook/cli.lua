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

M.EXIT = { done = 0, failed = 1, usage = 2, declined = 3, interrupted = 4, preflight = 5,
           changes_pending = 6 }
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

-- Finds and compiles the runbook: chunk, path | nil, why.
local function compile_runbook(name)
  local path, err = M.find_runbook(name)
  if not path then return nil, err end
  local chunk, syntax = loadfile(path, "t")
  if not chunk then
    return nil, syntax .. "\n  (the runbook does not compile: fix that line, then `runbook check "
      .. path .. "`)"
  end
  return chunk, path
end

-- Finds and compiles the runbook; on failure says why and returns nil.
local function load_runbook(name)
  local chunk, path_or_err = compile_runbook(name)
  if not chunk then say.error(path_or_err); return nil end
  return chunk, path_or_err
end

-- Runs fn as the main task; reports its failure; returns the exit code.
local function execute(fn, ...)
  local main = core.spawn(fn, ...)
  local finished = core.drive(main)
  task.run_exit_handlers()   -- sessions kept for the run end here, after Ctrl-C too
  if task.interrupted() then
    say.error(i18n.t("interrupted"))
    return EXIT.interrupted
  end
  local outcome = table.pack(main:result())
  if not finished then
    say.error(i18n.t("deadlock"))
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

--- is_definition(value): whether a runbook file's top level returned a runbook definition
-- (runbook.define's); without the runbook library loaded nothing can be one.
function M.is_definition(value)
  local library = package.loaded["runbook"]   -- a definition needs it: a plain script does not
  return library ~= nil and library.is_definition(value)
end

-- Runs the runbook file's top level (inside the task): its definition, or nil and the
-- exit code of a plain script (which has done its work by now).
local function definition_of(chunk, path)
  local result = chunk()
  if not M.is_definition(result) then
    return nil, math.type(result) == "integer" and result or EXIT.done
  end
  result.path = path
  return result
end

-- Asks once before the changes; says how a refusal ends (a summary event, as every run).
local function confirm(options)
  if options.yes then return true end
  if not fs.isatty(0) then
    local message = i18n.t("not_a_terminal")
    say.error(message)
    output.emit("summary", { ok = false, refused = true, error = message, changed = 0,
                             skipped = 0, failed = 0 })
    return false, EXIT.usage
  end
  if engine.ask(i18n.t("confirm")) then return true end
  output.emit("summary", { ok = false, declined = true, changed = 0, skipped = 0, failed = 0 })
  return false, EXIT.declined
end

-- The first step the plan found blocked: its id and why.
local function first_blocked(entries)
  for _, entry in ipairs(entries) do
    if entry.status == "blocked" then return entry.id, entry.reason end
  end
end

-- The runbook's lease across machines (`lease = function(ctx) … end` in its definition:
-- a record on the estate that two operators' runs both must touch, modules/lease.lua),
-- taken after the confirmation, before the first change. A runbook without one gets a
-- lease that holds nothing.
local NO_LEASE = { release = function() return true end, renew = function() return true end }

local function take_lease(session)
  local make = session.definition.lease
  local lease = make and make(session.ctx)
  if not lease then return NO_LEASE end
  local ok, why = lease.take()
  if not ok then return nil, tostring(why) end
  return lease
end

-- A resumed run that finds nothing left to do lets go of the lease its run still holds.
local function release_own_lease(session)
  local make = session.definition.lease
  local lease = make and make(session.ctx)
  if lease and lease.release_own then task.shielded(lease.release_own) end
end

-- Writes text to path through a temporary file renamed over it: a reader never sees half a
-- report or half a metrics file. -> true | nil, message
local function write_whole(path, text)
  local temporary = path .. ".tmp" .. fs.pid()
  local file, err = io.open(temporary, "wb")
  if not file then return nil, err end
  local ok, write_err = file:write(text)
  file:close()
  if ok then ok, write_err = os.rename(temporary, path) end
  if not ok then os.remove(temporary); return nil, write_err end
  return true
end

-- --metrics FILE: the plan's verdicts as gauges (runbook.metrics), written whole; a file
-- that cannot be written is said, and the run goes on.
local function write_metrics(session, entries, blockers, started, begun)
  local metrics = require "runbook.metrics"   -- only runs that were asked for it
  local text = metrics.text(session.definition.id, entries, blockers, started, core.now() - begun)
  local ok, err = write_whole(session.options.metrics, text)
  if not ok then say.error(i18n.t("metrics_failed", session.options.metrics, tostring(err))) end
end

-- After the lock is taken: plan, confirm, execute. The journal is named only once it
-- exists, after the confirmation.
local function plan_then_execute(session, journal, header)
  output.emit("run_start", { runbook = session.definition.id,
    title = session.definition.title or session.definition.id,
    inventory = session.inventory_path, simulation = session.simulation })
  local started, begun = os.time(), core.now()
  local entries, blocked = engine.plan(session)
  local blockers = engine.preflight(session, entries)
  if session.options.metrics then write_metrics(session, entries, blockers, started, begun) end
  if blocked or #blockers > 0 then
    local step, reason = first_blocked(entries)
    local code = engine.blocked_code(entries, blockers)
    output.emit("summary", { ok = false, blocked = true, preflight = code == EXIT.preflight or nil,
      changed = 0, skipped = 0, failed = blocked and 1 or 0, step = step,
      error = reason or blockers[1].text })
    return code
  end
  local pending = false
  for _, entry in ipairs(entries) do pending = pending or entry.status == "change" end
  if not pending then
    release_own_lease(session)    -- a resumed run with nothing left: its lease goes too
    output.line(i18n.t("no_changes"))
    output.emit("summary", { ok = true, changed = 0, skipped = #entries, failed = 0 })
    return EXIT.done
  end
  local accepted, refusal = confirm(session.options)
  if not accepted then return refusal end
  -- a run whose pending steps change nothing (a wait, a manual step said) takes no lease:
  -- it would write the estate for nothing
  local changes = false
  for _, entry in ipairs(entries) do
    local step = session.definition.steps[entry.number]
    changes = changes or (entry.status ~= "done" and not (step and step.changes_nothing))
  end
  local lease, why = NO_LEASE, nil
  if changes then lease, why = take_lease(session) end
  if not lease then
    say.error(why)
    output.emit("summary", { ok = false, refused = true, changed = 0, skipped = 0, failed = 0,
                             error = why })
    return EXIT.failed
  end
  session.journal = journal
  journal:write(header)
  journal:write { event = "plan", steps = entries }    -- the report's "before"
  require("runbook.output").recorder = function(record) journal:write(record) end   -- (lazy)
  output.emit("journal", { path = journal.path, resumed = header.event == "resume" })
  session.heartbeat = lease.renew          -- each step pushes the lease's expiry on
  local ok, code = pcall(engine.execute, session)
  require("runbook.task").shielded(lease.release)   -- also after Ctrl-C
  if not ok then error(code, 0) end
  return code
end

-- Whether two parameter values (one read back from JSON) are the same data.
local function same_value(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for key, value in pairs(a) do if not same_value(value, b[key]) then return false end end
  for key in pairs(b) do if a[key] == nil then return false end end
  return true
end

-- A resumed run goes on with the parameters it started with (its journal's start record):
-- the message naming the first one that would now differ, or nil.
local function changed_parameter(journaled, now)
  local names = {}
  for name in pairs(now) do names[#names + 1] = name end
  for name in pairs(journaled) do if now[name] == nil then names[#names + 1] = name end end
  table.sort(names)
  for _, name in ipairs(names) do
    if not same_value(journaled[name], now[name]) then
      return i18n.t("resume_parameter_changed", name, cjson.encode(journaled[name]),
        cjson.encode(now[name]))
    end
  end
end

-- This machine's name, for the journal: who ran what from where (history, report).
local function machine_name()
  local file = io.open("/proc/sys/kernel/hostname")
  local name = file and file:read("l")
  if file then file:close() end
  return name
end

-- The shared path of run and resume.
local function start(options, definition, resumed)
  i18n.setup(options.lang)
  local session, problems = session_lib.prepare(definition, options)
  if not session then return report_problems(problems) end
  resumed = resumed or {}
  local changed = resumed.params and changed_parameter(resumed.params, session.params)
  if changed then return report_problems { changed } end
  setup_output(session, options)
  for _, entry in ipairs(resumed.completed or {}) do
    session.completed[entry.key] = entry.ref.finished or nil
    session.done_order[#session.done_order + 1] = entry.ref
  end
  session.unsettled = resumed.unsettled or {}
  for key, value in pairs(resumed.remembered or {}) do session.ctx.data[key] = value end
  local resumed_journal = resumed.journal
  local journal = resumed_journal or journal_lib.create(definition.id)
  -- the run's name (its journal's), the same when it is resumed: what a lease holds
  session.ctx.run_id = tostring(journal.path):match("([^/]+)%.jsonl$") or definition.id
  local header = resumed_journal and { event = "resume", pid = fs.pid() } or
    { event = "start", runbook = fs.realpath(definition.path) or definition.path,
      runbook_id = definition.id, inventory = fs.realpath(session.inventory_path) or
      session.inventory_path, set = options.set, params = session.params, lang = i18n.lang,
      pid = fs.pid(), user = output.who ~= "unknown" and output.who or nil,
      machine = machine_name() }
  local release, err = journal_lib.lock(definition.id, session.target)
  if not release then say.error(err); return EXIT.failed end
  local ok, code = pcall(plan_then_execute, session, journal, header)
  release()
  if not ok then error(code, 0) end
  return code
end

function M.run(options)
  i18n.setup(options.lang)      -- before the runbook's top level: its definition errors too
  local chunk, path = load_runbook(options.argument)
  if not chunk then return EXIT.usage end
  return execute(function()
    local definition, code = definition_of(chunk, path)
    if not definition then return code end
    return start(options, definition)
  end)
end

-- How many of the plan's steps are in each status: { change =, done =, pending =, blocked = }.
local function count_statuses(entries)
  local counts = { change = 0, done = 0, pending = 0, blocked = 0 }
  for _, entry in ipairs(entries) do counts[entry.status] = (counts[entry.status] or 0) + 1 end
  return counts
end

-- The end of a plan: a summary event (its last line, shown with -q too: it is the answer)
-- and the exit code — with --detailed-exitcode, 6 when changes are pending.
local function plan_verdict(options, entries, blocked, blockers)
  local counts = count_statuses(entries)
  local code = (blocked or #blockers > 0) and engine.blocked_code(entries, blockers) or nil
  local step, reason = first_blocked(entries)
  output.emit("summary", { plan = true, ok = code == nil, blocked = code and true or nil,
    preflight = code == EXIT.preflight or nil, change = counts.change, done = counts.done,
    pending = counts.pending, step = step, error = reason or (blockers[1] or {}).text })
  if code then return code end
  if counts.change > 0 and options.detailed_exitcode then return EXIT.changes_pending end
  return EXIT.done
end

function M.plan(options)
  i18n.setup(options.lang)
  local chunk, path = load_runbook(options.argument)
  if not chunk then return EXIT.usage end
  core.enter_plan_mode()
  return execute(function()
    local definition = definition_of(chunk, path)
    if not definition then
      say.error(path .. " is a plain script, not a runbook definition: there is nothing to plan")
      return EXIT.usage
    end
    local session, problems = session_lib.prepare(definition, options)
    if not session then return report_problems(problems) end
    setup_output(session, options)
    output.emit("run_start", { runbook = definition.id, title = definition.title or definition.id,
      inventory = session.inventory_path, simulation = session.simulation, plan = true })
    local entries, blocked = engine.plan(session)
    local blockers = engine.preflight(session, entries)
    return plan_verdict(options, entries, blocked and true or false, blockers)
  end)
end

-- check's findings about a compiled runbook, inside the task: { ok=, steps=, inventory=,
-- problems= }. A plain script (no definition) is only compiled and run, as `run` would.
local function check_definition(chunk, path, options)
  local definition = definition_of(chunk, path)
  if definition then
    local session, problems = session_lib.prepare(definition, options)
    if not session then return { ok = false, problems = problems } end
    return { ok = true, steps = #definition.steps, inventory = session.inventory_path }
  elseif options.inventory then
    local inventory, err = session_lib.load_inventory(options.inventory)
    if not inventory then return { ok = false, problems = { err } } end
    return { ok = true, inventory = options.inventory }
  end
  return { ok = true }
end

-- Tells check's verdict: one JSON object with --json, else the problems on stderr or
-- "PATH: ok" on stdout. Returns the exit code.
local function tell_verdict(options, verdict)
  local code = verdict.ok and EXIT.done or verdict.code or EXIT.usage
  verdict.code = nil
  if options.json then
    print(cjson.encode(verdict))
    return code
  end
  if not verdict.ok then return report_problems(verdict.problems) end
  local where = verdict.steps and (" (%d steps; inventory %s)"):format(verdict.steps,
    verdict.inventory) or ""
  if not options.quiet then print(verdict.runbook .. ": ok" .. where) end
  return code
end

--- check: the runbook compiles and defines valid steps; the inventory and the parameters
-- pass their schema. No network traffic (plan mode is on, no check runs). With --json the
-- verdict is one object on stdout: {runbook, ok, steps, inventory, problems}.
function M.check(options)
  i18n.setup(options.lang)
  local chunk, path = compile_runbook(options.argument)
  if not chunk then
    if not options.json then say.error(path); return EXIT.usage end
    return tell_verdict(options, { runbook = options.argument, ok = false, problems = { path } })
  end
  core.enter_plan_mode()
  return execute(function()
    local verdict
    if options.json then
      local ok
      ok, verdict = pcall(check_definition, chunk, path, options)
      if not ok then
        verdict = { ok = false, problems = { tostring(verdict) }, code = EXIT.failed }
      end
    else
      verdict = check_definition(chunk, path, options)
    end
    verdict.runbook = path
    return tell_verdict(options, verdict)
  end)
end

--- version --json: one object {runbook = "x.y.z", libraries = {Lua = "5.4.6", ...}}. The
-- text form is printed by runtime/main.c, which loads no module for it.
function M.version()
  -- loaded on first use: a plain script starts without it (bench/startup.sh)
  local rows = require "runbook.version"
  local libraries = {}
  for i = 2, #rows do libraries[rows[i][1]] = rows[i][2] end
  print(cjson.encode { runbook = rows[1][2], libraries = libraries })
  return EXIT.done
end

-- What a journal says is done: outcomes that were not rolled back since (a failed one is
-- a half-done change: rolled back, and run again by a resume); and
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
      if steps[record.step] then    -- a failed outcome changed the host too (half-done)
        order[#order + 1] = { key = k, ref = { step = steps[record.step],
          host = record.host or false, finished = record.ok and true or false } }
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
    return nil, i18n.t("no_start_record", path)
  end
  for _, record in ipairs(records) do
    if record.event == "finish" then
      return nil, i18n.t("already_finished", path,
        i18n.t(record.ok and "done" or "finished_failed"))
    end
  end
  return records
end

-- The --set list of a resumed run: the interrupted run's, then the new ones — which may
-- add values, never change one it had. -> list | nil, message
local function resumed_sets(journaled, given)
  local merged, value_of = {}, {}
  for _, assignment in ipairs(journaled or {}) do
    local key, value = assignment:match("^([^=]+)=(.*)$")
    if key then value_of[key] = value end
    merged[#merged + 1] = assignment
  end
  for _, assignment in ipairs(given) do
    local key, value = assignment:match("^([^=]+)=(.*)$")
    if key and value_of[key] ~= nil and value_of[key] ~= value then
      return nil, i18n.t("resume_set_changes", assignment, key, value_of[key])
    end
    if key and value_of[key] == nil then merged[#merged + 1] = assignment end
    if key then value_of[key] = value end
  end
  return merged
end

-- -i on resume may only name the interrupted run's inventory (or stand in for it when that
-- file is gone). -> nil | message
local function other_inventory(given, journaled)
  local given_path, journaled_path = fs.realpath(given), journaled and fs.realpath(journaled)
  if given_path and journaled_path and given_path ~= journaled_path then
    return i18n.t("resume_other_inventory", journaled_path, given)
  end
end

--- resume JOURNAL: the same runbook, inventory, --set values and parameters as the
-- interrupted run (new --set values may add to them, never change them); steps the
-- journal shows done are not repeated, the rest is checked first as always.
function M.resume(options)
  i18n.setup(options.lang)
  local records, err = unfinished(options.argument)
  if not records then say.error(err); return EXIT.usage end
  local header = records[1]
  options.lang = options.lang or header.lang     -- the interrupted run's, unless --lang says
  i18n.setup(options.lang)
  local chunk, path = load_runbook(header.runbook)
  if not chunk then return EXIT.usage end
  local sets, conflict = resumed_sets(header.set, options.set)
  if not conflict and options.inventory then
    conflict = other_inventory(options.inventory, header.inventory)
  end
  if conflict then say.error(conflict); return EXIT.usage end
  options.inventory = options.inventory or header.inventory
  options.set = sets
  return execute(function()
    local definition = definition_of(chunk, path)
    if not definition then return EXIT.usage end
    local completed, unsettled = completed_in(records, definition)
    return start(options, definition, { completed = completed, unsettled = unsettled,
      journal = journal_lib.open(options.argument), remembered = journal_lib.recall(records),
      params = header.params })
  end)
end

-- The text of the file at path when it is a runbook: it requires "runbook" and calls
-- define or extend. Read, never run: listing must not execute whatever *.lua lies in ./.
local function runbook_text(path)
  local file = io.open(path)
  if not file then return nil end
  local text = file:read("a") or ""
  file:close()
  local uses_runbook = text:find("require%s*%(?%s*[\"']runbook[\"']")
  local defines = text:find("[.:]define%s*[{(]") or text:find("[.:]extend%s*[\"'(]")
  return uses_runbook and defines and text or nil
end

-- The first `---` line of a runbook's text: its one-line description.
local function describe(text)
  for line in text:gmatch("[^\n]+") do
    local description = line:match("^%-%-%-%s*(.*)")
    if description then return description end
  end
  return ""
end

--- runbooks() -> the runbooks of the search path, the first of each name only (as
-- find_runbook would pick it): a list of {name=, path=, description=}. Other Lua files
-- there (inventories, modules, scripts) are left out.
function M.runbooks()
  local found, seen = {}, {}
  for _, dir in ipairs(M.search_path()) do
    for _, name in ipairs(fs.list(dir) or {}) do
      local path = dir .. "/" .. name
      local first = name:match("%.lua$") and not seen[name] and is_file(path)
      if first then seen[name] = true end
      local text = first and runbook_text(path)
      if text then
        found[#found + 1] = { name = name, path = path, description = describe(text) }
      end
    end
  end
  return found
end

--- list: the runbooks found, each with its description and path.
function M.list(options)
  for _, runbook in ipairs(M.runbooks()) do
    if options.json then
      print(cjson.encode(runbook))
    else
      print(("%-28s %s\n%-28s   (%s)"):format(runbook.name, runbook.description, "", runbook.path))
    end
  end
  return EXIT.done
end

--- history: the runs of the state directory, newest first (runbook.history); with
-- --resumable only those `resume` can take; with --json one object per run.
function M.history(options)
  i18n.setup(options.lang)
  local history = require "runbook.history"   -- only this command reads past runs
  local runs = history.runs { resumable = options.resumable }
  if not options.json then history.show(runs); return EXIT.done end
  for _, run in ipairs(runs) do print(cjson.encode(run)) end
  return EXIT.done
end


--- report JOURNAL: the run as a page people read (runbook.report): HTML, or Markdown
-- with --format md; on stdout, or in the file -o names (written whole). In the journal's
-- language unless --lang says.
function M.report(options)
  local records, err = journal_lib.read(options.argument)
  if not records then say.error(("%s: %s"):format(options.argument, err)); return EXIT.usage end
  i18n.setup(options.lang or (records[1] or {}).lang)
  local report = require "runbook.report"    -- only this command draws reports
  local model, why = report.model(records, options.argument)
  if not model then say.error(why); return EXIT.usage end
  -- loaded on first use: a plain script starts without it (bench/startup.sh)
  local render = require("runbook.report_page")[options.format == "md" and "markdown" or "html"]
  local page = render(model)
  if not options.output then io.stdout:write(page); return EXIT.done end
  local ok, write_err = write_whole(options.output, page)
  if not ok then
    say.error(i18n.t("report_write_failed", options.output, write_err))
    return EXIT.failed
  end
  say.note(i18n.t("report_written", options.output))
  return EXIT.done
end

-- The shell completions (runtime/completion/) ask runbook.complete for their candidates
-- with $_RUNBOOK_COMPLETE set: it answers in place of the command, which does not run.
M.runbook_text, M.unfinished_journal = runbook_text, unfinished

function M.main(options)
  say.setup(options)
  local completing = os.getenv("_RUNBOOK_COMPLETE")
  if completing and completing ~= "" then
    -- loaded on first use: a plain script starts as fast as lua5.4 (bench/startup.sh)
    return require("runbook.complete").answer(completing, options, M)
  end
  return M[options.command](options)
end

return M
