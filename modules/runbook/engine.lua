--- runbook.engine — turns a runbook definition into a safe, repeatable run.
-- check (read-only, in tasks marked read-only so no primitive can change anything),
-- then run, then verify; every change journaled before and after (fsync'd); steps whose
-- check holds are skipped; a failure stops the run and may roll completed steps back.
local fs = require "runbook.fs"
local say = require "runbook.say"
local core = require "runbook.task.core"
local failure = require "runbook.failure"
local i18n = require "runbook.i18n"
local output = require "runbook.output"
local phase = require "runbook.phase"
local preflight_lib = require "runbook.preflight"
local task = require "runbook.task"

local M = {}

local EXIT = { done = 0, failed = 1, usage = 2, declined = 3, interrupted = 4, preflight = 5 }
M.EXIT = EXIT

--- clean(err) -> the message an operator reads: without the file:line of the module that
-- raised it (kept with -v), which says nothing about what to do.
local function clean(err)
  local text = tostring(err)
  if say.verbose then return text end
  -- anywhere (a check may quote an error), but only the product's own sources: the
  -- file:line of the operator's own runbook is theirs to act on
  return (text:gsub("[^%s:]*/modules/[^%s:]+%.lua:%d+: ", "")
              :gsub("[^%s:]*/runbooks/[^%s:]+%.lua:%d+: ", ""))
end
M.clean = clean

local function host_name(host)
  if host == false or host == nil then return nil end
  if type(host) == "table" then return host.name or host.fqdn or host.host or tostring(host) end
  return tostring(host)
end
M.host_name = host_name

local read_only = task.read_only   -- mutating primitives refuse inside it

local function hosts_of(session, step)
  if not step.hosts then return { false } end
  local hosts = read_only(step.hosts, session.ctx)
  if type(hosts) ~= "table" or #hosts == 0 then
    error(i18n.t("no_hosts", step.id), 0)
  end
  return hosts
end

-- A check returns `holds, current, desired` or one table `{ ok =, saw =, want =, later = }`
-- (later: it does not hold only because an earlier step of this runbook has yet to run —
-- the plan shows it as checked again then, never as a change of a state that holds).
local function check_result(holds, current, desired)
  if type(holds) == "table" and getmetatable(holds) == nil then
    return holds.ok and true or false, holds.saw, holds.want, holds.later
  end
  return holds, current, desired, false
end

--- check_host(session, step, host) -> {status="done"|"change"|"later"|"blocked", current=,
-- desired=, reason=}
local function check_host(session, step, host)
  local ok, holds, current, desired = pcall(read_only, step.check, session.ctx, host or nil)
  if not ok then
    if holds == "cancelled" then error(holds, 0) end
    -- a server that could not be asked is a missing capability (exit 5), not a verdict
    return { host = host_name(host), status = "blocked", reason = clean(holds),
             transport = failure.is_transport(holds) or nil }
  end
  local later
  holds, current, desired, later = check_result(holds, current, desired)
  if holds then return { host = host_name(host), status = "done", current = current } end
  if later then
    return { host = host_name(host), status = "later", current = current,
             reason = output.describe(current) }
  end
  if not step.run then
    local guidance = i18n.pick(step.guidance)
    return { host = host_name(host), status = "blocked", current = current,
             reason = i18n.t("precondition")
               .. (current ~= nil and (i18n.t("colon") .. output.describe(current)) or "")
               .. (guidance ~= "" and (" — " .. guidance) or "") }
  end
  return { host = host_name(host), status = "change", current = current, desired = desired }
end

--- plan(session) -> entries, blocked: every check, nothing else.
-- In a plan, a step after one that will change things is checked against today's state:
-- if it does not hold it is "pending" (checked again when the run reaches it), not blocked.
function M.plan(session)
  local entries, blocked, changes_before = {}, false, false
  preflight_lib.prepare(session)   -- every server's PowerShell session opens at once
  phase.begin("plan")   -- the plan changes nothing: what its checks read is kept throughout
  for number, step in ipairs(session.definition.steps) do
    output.during(step.id)
    local ok, hosts = pcall(hosts_of, session, step)
    local entry = { number = number, total = #session.definition.steps, id = step.id,
                    title = step.title or step.id, hosts = {} }
    if not ok then
      entry.status, entry.reason = "blocked", clean(hosts)
    else
      local results = task.parallel(hosts,
                                    function(host) return check_host(session, step, host) end,
        { limit = step.limit or 32 })
      entry.hosts, entry.status = results, "done"
      for _, result in ipairs(results) do
        if result.status == "blocked"
           or (result.status == "later" and entry.status ~= "blocked") then
          entry.status, entry.reason = "blocked", result.reason
          entry.transport = entry.transport or result.transport
        elseif result.status == "change" and entry.status ~= "blocked" then
          entry.status = "change"
        end
      end
    end
    if entry.status == "blocked" and changes_before then entry.status = "pending" end
    changes_before = changes_before or entry.status == "change"
    blocked = blocked or entry.status == "blocked"
    entries[number] = entry
    output.emit("plan_step", entry)
  end
  return entries, blocked
end

--- blocked_code(entries, blockers) -> the exit code of a run that cannot start: 5 when a
-- capability is missing (a preflight blocker, or a check whose server could not be asked),
-- 1 when a check's verdict blocks it.
function M.blocked_code(entries, blockers)
  if #blockers > 0 then return EXIT.preflight end
  for _, entry in ipairs(entries) do
    if entry.status == "blocked" and entry.transport then return EXIT.preflight end
  end
  return EXIT.failed
end

--- preflight(session, entries) -> blockers: every need of the steps the run will reach,
-- proven before the first change (runbook.preflight), each shown as a "preflight" event;
-- the ones that failed, each {kind=, key=, steps=, text=}.
function M.preflight(session, entries)
  local results = preflight_lib.run(session, entries)
  local blockers = {}
  for _, result in ipairs(results) do
    output.emit("preflight", result)
    if not result.ok then blockers[#blockers + 1] = result end
  end
  return blockers
end

local function key(step, host)
  return step.id .. "|" .. (host_name(host) or "")
end

-- Asks the operator on stderr, never stdout: stdout is the output, which with --json must
-- hold JSON and nothing else. The answer is read from stdin, a terminal by then.
local function ask(question)
  io.stderr:write(question)
  io.stderr:flush()
  return i18n.is_yes(io.stdin:read("l"))
end
M.ask = ask

-- A change of the run being resumed whose outcome the journal lacks (killed in between),
-- and which its check now finds done: it was made, so it is journaled and rolled back as
-- any other change of the run.
local function settle(session, step, host)
  local k = key(step, host)
  session.unsettled[k] = nil
  session.journal:write { event = "outcome", step = step.id, host = host_name(host), ok = true,
                          settled = true }
  session.completed[k] = true
  session.done_order[#session.done_order + 1] = { step = step, host = host, finished = true }
end

-- One host of one step: check, then (journaled) run and verify. Returns "skipped"|"changed".
-- A host whose run has started is in done_order from that moment, finished or not: a run
-- that fails half-way has changed the host too, and rollback restores it (by intent).
local function apply_host(session, step, host)
  local name = host_name(host)
  if session.completed[key(step, host)] then return "skipped" end
  local state = check_host(session, step, host)
  if state.status == "done" then
    if session.unsettled[key(step, host)] then settle(session, step, host) end
    return "skipped", state.current
  end
  -- "later" at run time: the earlier step it waits for did not bring the state it needs
  if state.status == "blocked" or state.status == "later" then error(state.reason, 0) end
  session.journal:write { event = "intent", step = step.id, host = name }
  local started = { step = step, host = host, finished = false }
  session.done_order[#session.done_order + 1] = started
  step.run(session.ctx, host or nil)
  if step.verify then
    local ok, message = read_only(step.verify, session.ctx, host or nil)
    if not ok then
      error(i18n.t("verify_failed") .. i18n.t("colon") .. tostring(message or ""), 0)
    end
  end
  session.journal:write { event = "outcome", step = step.id, host = name, ok = true }
  session.completed[key(step, host)] = true
  started.finished = true
  return "changed"
end

-- Runs one step over its hosts concurrently; returns "changed"|"skipped"|nil, error.
local function execute_step(session, number, step)
  local total = #session.definition.steps
  phase.begin(step.id)
  output.emit("step_start", { number = number, total = total, id = step.id,
                              title = step.title or step.id })
  if step.confirm and not session.options.yes then
    local question = i18n.pick(step.confirm ~= true and step.confirm or nil)
    if not ask(question .. i18n.t("confirm_step")) then
      return nil, "declined"
    end
  end
  local started = core.now()
  local hosts = hosts_of(session, step)
  local changed, evidence = false, {}
  local results, failures = task.parallel(hosts, function(host)
    local begun = core.now()
    local ok, outcome, saw = pcall(apply_host, session, step, host)
    if ok and outcome == "skipped" and saw ~= nil then
      evidence[#evidence + 1] = { host = step.hosts and host_name(host) or nil,
                                  saw = output.describe(saw) }
    end
    if not ok and outcome == "cancelled" then error(outcome, 0) end
    if not ok then
      session.journal:write { event = "outcome", step = step.id, host = host_name(host),
                              ok = false, error = clean(outcome) }
    end
    if step.hosts then
      output.emit("host_done", { step = step.id, host = host_name(host), ok = ok,
        error = not ok and clean(outcome) or nil, duration = core.now() - begun })
    end
    if not ok then error(outcome, 0) end
    return outcome
  end, { limit = step.limit or 32 })
  for _, result in pairs(results) do changed = changed or result == "changed" end
  local duration = (core.now()) - started
  if #failures > 0 then
    for _, failed in ipairs(failures) do
      if failed.error == "cancelled" then error("cancelled", 0) end
    end
    local first = failures[1]
    local message = (step.hosts and (host_name(first.item) .. ": ") or "") .. clean(first.error)
    output.emit("step_done", { number = number, id = step.id, status = "failed",
                               error = message, duration = duration })
    return nil, message
  end
  local status = changed and "changed" or "skipped"
  table.sort(evidence, function(a, b) return (a.host or "") < (b.host or "") end)
  output.emit("step_done", { number = number, id = step.id, status = status, duration = duration,
                             evidence = #evidence > 0 and evidence or nil })
  return status
end

local function rollback_mode(session)
  local mode = session.options.rollback
  if mode then return mode end
  return (fs.isatty(0) and not session.options.json) and "ask" or "never"
end

-- A resumed run knows the hosts of the interrupted one by name: find the inventory entry.
local function host_entry(session, step, host)
  if type(host) ~= "string" then return host end
  for _, candidate in ipairs(hosts_of(session, step)) do
    if host_name(candidate) == host then return candidate end
  end
  return host
end

-- The hosts whose run started in this run (or in the run it resumes), newest first, each
-- once: what a rollback must restore.
local function started_changes(session)
  local seen, changes = {}, {}
  for i = #session.done_order, 1, -1 do
    local entry = session.done_order[i]
    local k = key(entry.step, entry.host)
    if not seen[k] and not entry.step.changes_nothing then
      seen[k] = true
      changes[#changes + 1] = entry
    end
  end
  return changes
end

-- One change rolled back (journaled, shown); returns what became of it.
local function roll_back_one(session, entry)
  local name = host_name(entry.host)
  local step = entry.step
  local result = { step = step.id, title = step.title or step.id, host = name,
                   finished = entry.finished ~= false }
  if not step.rollback then
    result.ok, result.error = false, i18n.t("no_rollback_function")
    return result
  end
  output.during(step.id)
  phase.begin(step.id)
  session.journal:write { event = "rollback", step = step.id, host = name }
  local ok, err = pcall(function()
    return step.rollback(session.ctx, host_entry(session, step, entry.host) or nil)
  end)
  result.ok, result.error = ok, not ok and clean(err) or nil
  session.journal:write { event = "rolled_back", step = step.id, host = name, ok = ok,
                          error = result.error }
  output.emit("rollback", result)
  return result, ok
end

-- Undoes the changes of this run (and of the run it resumes), newest first: every host
-- whose run started, also one that failed half-way. Returns what was restored and what
-- was left changed (with why), for the summary.
local function roll_back(session)
  local changes = started_changes(session)
  local restored, left = {}, {}
  if #changes == 0 then return restored, left end
  local mode = rollback_mode(session)
  if mode == "ask" and not ask(i18n.t("rollback_ask")) then mode = "never" end
  for _, entry in ipairs(changes) do
    if mode == "never" then
      left[#left + 1] = { step = entry.step.id, host = host_name(entry.host),
                          finished = entry.finished ~= false, error = i18n.t("not_rolled_back") }
    else
      local result, ok = roll_back_one(session, entry)
      if ok then restored[#restored + 1] = result else left[#left + 1] = result end
    end
  end
  return restored, left
end

--- execute(session) -> exit code: the steps in order, after the plan was accepted.
function M.execute(session)
  local counts, started = { changed = 0, skipped = 0, failed = 0 }, core.now()
  for number, step in ipairs(session.definition.steps) do
    if session.heartbeat then pcall(session.heartbeat) end   -- a lease's expiry, pushed on
    local ok, status, err = pcall(execute_step, session, number, step)
    if not ok then status, err = nil, status end
    if err == "cancelled" or task.interrupted() then
      output.emit("summary", { ok = false, interrupted = true, resume = session.journal.path,
        step = step.id, changed = counts.changed, skipped = counts.skipped, failed = 0,
        duration = core.now() - started })
      session.journal:write { event = "interrupted", step = step.id }   -- the last record
      return EXIT.interrupted
    end
    if err == "declined" then
      output.emit("summary", { ok = false, declined = true, resume = session.journal.path,
        step = step.id, changed = counts.changed, skipped = counts.skipped, failed = 0,
        duration = core.now() - started })
      session.journal:write { event = "declined", step = step.id }      -- the last record
      return EXIT.declined
    end
    if not status then
      counts.failed = counts.failed + 1
      session.journal:write { event = "failed", step = step.id, error = tostring(err) }
      local restored, left = roll_back(session)
      output.emit("summary", { ok = false, changed = counts.changed, skipped = counts.skipped,
        failed = counts.failed, duration = core.now() - started, step = step.id,
        error = tostring(err), restored = restored, left = left, manual = session.manual })
      session.journal:write { event = "finish", ok = false }
      return EXIT.failed
    end
    counts[status] = counts[status] + 1
  end
  -- the summary first: its record in the journal (runbook.report) comes before "finish",
  -- which stays the journal's last record
  output.emit("summary", { ok = true, changed = counts.changed, skipped = counts.skipped,
                           failed = 0, duration = core.now() - started,
                           manual = session.manual })   -- steps left to the operator
  session.journal:write { event = "finish", ok = true }
  return EXIT.done
end

return M
