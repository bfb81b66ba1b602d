--- runbook.report — a run's journal as something people read: `runbook report JOURNAL`.
-- model(records) gathers what the journal holds (runbook.journal writes the plan and what
-- the operator was shown as "shown" records); html(model) is one self-contained page (no
-- script, no link, no file beside it, printable) with a timeline of steps × hosts drawn
-- here as SVG; markdown(model) the same for a change ticket. Words come from the catalogue
-- (runbook.i18n). Secrets never reach a journal (runbook.secrets redacts before writing),
-- and what is shown passes secrets.redact once more.
local cjson = require "cjson"
local history = require "runbook.history"
local i18n = require "runbook.i18n"
local secrets = require "runbook.secrets"

local M = {}

local t = i18n.t

-- ------------------------------------------------------------------ the model

-- The step of the model with this id, made on first sight.
local function step_of(model, id)
  local step = model.by_id[id]
  if not step then
    step = { id = id, title = id, hosts = {}, host_order = {}, notes = {}, waits = {} }
    model.by_id[id] = step
    model.steps[#model.steps + 1] = step
  end
  return step
end

-- The host row of a step, made on first sight ("" for a step without hosts).
local function host_of(step, name)
  name = name or ""
  local host = step.hosts[name]
  if not host then
    host = { name = name }
    step.hosts[name] = host
    step.host_order[#step.host_order + 1] = name
  end
  return host
end

local function take_plan(model, record)
  if model.planned then return end
  model.planned = true
  for _, entry in ipairs(record.steps or {}) do
    local step = step_of(model, entry.id)
    step.number = math.tointeger(entry.number) or entry.number
    step.title, step.plan = entry.title or entry.id, entry.status
    step.reason = entry.reason
    for _, seen in ipairs(entry.hosts or {}) do
      local host = host_of(step, seen.host)
      host.before, host.desired, host.plan = seen.current, seen.desired, seen.status
    end
  end
end

-- What a "shown" record adds: the step's times, outcome, notes, waits; the summary.
local function take_shown(model, record, moment)
  local kind = record.kind
  if kind == "summary" then model.summary = record; return end
  local step = record.step and step_of(model, record.step)
    or record.id and step_of(model, record.id)
  if not step then return end
  if kind == "step_start" then step.started = moment
  elseif kind == "step_done" then
    step.ended, step.status, step.error = moment, record.status, record.error
    step.duration, step.evidence = record.duration, record.evidence
  elseif kind == "note" then step.notes[#step.notes + 1] = record.text
  elseif kind == "progress" then step.waits[#step.waits + 1] = record.text
  elseif kind == "host_done" then host_of(step, record.host).duration = record.duration
  end
end

-- The journal's own records: a change's intent and outcome, a rollback, how it stopped.
local function take_event(model, record, moment)
  local event = record.event
  if event == "intent" or event == "outcome" then
    local host = host_of(step_of(model, record.step), record.host)
    if event == "intent" then host.from = moment
    else host.to, host.ok, host.error = moment, record.ok, record.error end
  elseif event == "rollback" then
    host_of(step_of(model, record.step), record.host).rollback_from = moment
  elseif event == "rolled_back" then
    local host = host_of(step_of(model, record.step), record.host)
    host.rollback_to, host.rolled_back, host.rollback_error = moment, record.ok, record.error
    model.rollbacks[#model.rollbacks + 1] = { step = record.step, host = record.host,
      ok = record.ok, error = record.error }
  end
end

--- model(records, path) -> what the report shows, or nil, message
function M.model(records, path)
  local header = records[1]
  if not header or header.event ~= "start" then return nil, t("no_start_record", path) end
  local model = { header = header, run = history.summary(path, records), steps = {},
                  by_id = {}, rollbacks = {} }
  for _, record in ipairs(records) do
    local moment = history.moment(record)
    model.first = model.first or moment
    model.last = moment or model.last
    if record.event == "plan" then take_plan(model, record)
    elseif record.event == "shown" then take_shown(model, record, moment)
    else take_event(model, record, moment) end
  end
  table.sort(model.steps, function(a, b) return (a.number or 999) < (b.number or 999) end)
  return model
end

-- ------------------------------------------------------------------ shared words

local function text(value)
  if value == nil then return "" end
  if type(value) == "table" then
    local ok, encoded = pcall(cjson.encode, value)
    return secrets.redact(ok and encoded or tostring(value))
  end
  return secrets.redact(tostring(value))
end

local function title(step) return text(i18n.pick(step.title)) end

local function seconds(value)
  return value and history.duration_text(value) or "—"
end

local function clock(moment)
  return moment and os.date("!%Y-%m-%d %H:%M:%S UTC", math.floor(moment)) or "—"
end

-- How a host of a step ended, in words: changed, failed, already held, never reached.
local function host_outcome(step, host)
  if host.ok == true then
    return host.rolled_back and t("report_changed_rolled_back") or t("report_changed")
  elseif host.ok == false then
    return t("report_failed") .. (host.error and (": " .. host.error) or "")
  elseif host.from then return t("report_unknown_outcome")
  elseif step.status == "skipped" or host.plan == "done" then return t("report_held")
  elseif step.started then return t("report_not_changed")
  end
  return t("report_not_reached")
end

-- What stayed different from before the run although it did not finish as meant: the
-- summary's list (a finished run: none), else (interrupted, killed)
-- every change the journal shows done or begun and not rolled back.
local function left_different(model)
  if model.summary then return model.summary.left or {} end
  local left = {}
  for _, step in ipairs(model.steps) do
    for _, name in ipairs(step.host_order) do
      local host = step.hosts[name]
      if host.from and not host.rolled_back then
        left[#left + 1] = { step = step.id, host = name ~= "" and name or nil,
                            finished = host.ok == true, error = host.error }
      end
    end
  end
  return left
end
M.left_different = left_different

-- The final verification: the last step that ran, with the evidence its check saw or how
-- its change was verified.
local function final_step(model)
  for i = #model.steps, 1, -1 do
    if model.steps[i].status then return model.steps[i] end
  end
end

-- The facts at the top: {label, value} rows.
local function facts(model)
  local header, run = model.header, model.run
  local operator = header.user and (header.user .. (header.machine and ("@" .. header.machine)
    or "")) or (header.machine or "—")
  return {
    { t("report_runbook"), text(header.runbook_id or header.runbook) },
    { t("report_inventory"), text(header.inventory) },
    { t("report_operator"), text(operator) },
    { t("report_started"), clock(model.first) },
    { t("report_ended"), clock(model.last) },
    { t("report_duration"), seconds(run.duration) },
    { t("report_result"), history.result_text(run) },
    { t("report_changes_left"), tostring(run.changes) },
    { t("journal"), text(run.journal:match("[^/]+$")) },
  }
end
M.facts = facts

-- Every change row of the report: {step, host, before, after, outcome, duration}.
local function change_rows(model)
  local rows = {}
  for _, step in ipairs(model.steps) do
    for _, name in ipairs(step.host_order) do
      local host = step.hosts[name]
      if host.plan == "change" or host.from then
        rows[#rows + 1] = { step = step, host = name, before = text(host.before),
          after = text(host.desired), outcome = host_outcome(step, host),
          duration = host.from and host.to and (host.to - host.from) or host.duration }
      end
    end
  end
  return rows
end
M.change_rows = change_rows

M.host_outcome, M.title, M.text, M.seconds, M.clock, M.final_step =
  host_outcome, title, text, seconds, clock, final_step

return M
