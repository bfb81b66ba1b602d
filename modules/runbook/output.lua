--- runbook.output — what the operator and machines see of a run. Every event goes
-- through emit(): the human view (step numbers and titles, host-by-host progress,
-- durations, summary; colour only on a terminal and never with NO_COLOR), or with --json
-- one JSON object per event on stdout; and, when configured, the audit log. No secret gets
-- out: human text passes secrets.redact, JSON is made by secrets.json (strings redacted
-- before encoding). docs/writing-runbooks.md documents every event and field of --json.
local cjson = require "cjson"
local fs = require "runbook.fs"
local i18n = require "runbook.i18n"
local say = require "runbook.say"
local secrets = require "runbook.secrets"

local M = { json = false, quiet = false, colour = false, simulation = false, audit = nil,
            step = nil, live = false }
local live = {}          -- the meters of waits on the live line (a terminal), in order
local live_shown = false -- the live line is on the screen: a line printed clears it first

local codes = { green = "32", yellow = "33", red = "31", bold = "1", dim = "2" }

function M.setup(options)
  M.json = options.json and true or false
  M.quiet = options.quiet and true or false
  M.colour = not M.json and fs.isatty(1) and (os.getenv("NO_COLOR") or "") == ""
  M.audit = options.audit_log
  M.simulation = options.simulation and true or false
  M.who = os.getenv("SUDO_USER") or os.getenv("USER") or os.getenv("LOGNAME") or "unknown"
  M.live = not M.json and not M.quiet and fs.isatty(1)
  require("runbook.progress").sink = M.progress   -- progress needs i18n, loaded by then
end

local function paint(colour, text)
  if not M.colour then return text end
  return "\27[" .. codes[colour] .. "m" .. text .. "\27[0m"
end
M.paint = paint

-- One line of the human view; `always`: also with -q (a command's answer, as plan's verdict).
local draw_live

local function line(text, always)
  if M.json or (M.quiet and not always) then return end
  if M.simulation then text = paint("yellow", "[sim] ") .. text end
  if live_shown then io.stdout:write("\r\27[K") end
  io.stdout:write(say.naming_docs(secrets.redact(text)), "\n")
  live_shown = false
  if #live > 0 then draw_live() end
  io.stdout:flush()
end
M.line = line

-- The live line of the waits going on (a terminal only), cut to the terminal's width.
function draw_live()
  local texts = {}
  for _, meter in ipairs(live) do texts[#texts + 1] = meter:text() end
  local text = secrets.redact(table.concat(texts, " · "))
  local width = (tonumber(os.getenv("COLUMNS")) or 100) - (M.simulation and 7 or 0) - 1
  if utf8.len(text) and utf8.len(text) > width then
    text = text:sub(1, (utf8.offset(text, width) or #text + 1) - 1)
  end
  if M.simulation then text = paint("yellow", "[sim] ") .. text end
  io.stdout:write("\r\27[K", text)
  io.stdout:flush()
  live_shown = true
end

local function audit(event)
  if not M.audit then return end
  local record = { time = os.date("!%Y-%m-%dT%H:%M:%SZ"), user = M.who }
  for key, value in pairs(event) do record[key] = value end
  local ok, err = fs.append(M.audit, secrets.json(record) .. "\n")
  if not ok then io.stderr:write("runbook: warning: ", i18n.t("audit_failed", err), "\n") end
end

local function seconds(duration)
  return duration and (" (%.2fs)"):format(duration) or ""
end

local function describe(value)
  if value == nil then return "?" end
  if type(value) == "table" then
    local ok, text = pcall(cjson.encode, value)
    return ok and text or tostring(value)
  end
  return tostring(value)
end
M.describe = describe

local human = {}

function human.run_start(e)
  if M.simulation then line(paint("yellow", i18n.t("simulation"))) end
  line(paint("bold", ("%s — %s"):format(e.runbook, i18n.pick(e.title))))
end

-- "label: text", with the colon of the language (French: " : ")
local function labelled(label, text)
  return label .. i18n.t("colon") .. text
end

function human.journal(e)
  line(labelled(i18n.t("journal"), e.path))
end

function human.note(e)
  line("      " .. e.text)
end

-- One proven need before the first change, or a blocker with what to do.
function human.preflight(e)
  local mark = e.ok and paint("green", "✓") or paint("red", "✗")
  local steps = table.concat(e.steps or {}, ", ")
  line(("  %s %s %s%s"):format(mark, labelled(i18n.t("preflight"), e.text),
    paint("dim", "(" .. steps .. ")"), ""))
end

-- What a check saw when it held: the evidence, never a bare "skipped".
local function show_evidence(evidence)
  for _, seen in ipairs(evidence or {}) do
    line(paint("dim", "        " .. (seen.host and (seen.host .. ": ") or "") .. seen.saw))
  end
end

-- A blocked step of several servers: every server's line, not only the one in the heading
-- (a readiness audit must name each server that fails, and show what held on the others).
local function show_each_host(hosts)
  if not hosts or #hosts < 2 then return end
  for _, host in ipairs(hosts) do
    if host.status == "done" then
      local saw = host.current ~= nil and (": " .. describe(host.current)) or ""
      line(paint("dim", ("      ✓ %s%s"):format(host.host or "", saw)))
    elseif host.status == "blocked" or host.status == "later" then   -- what it saw, else why
      local text = host.current ~= nil and describe(host.current) or host.reason or ""
      local name = host.host or ""
      if text:sub(1, #name + 2) == name .. ": " then text = text:sub(#name + 3) end  -- once
      line(("      %s %s"):format(paint("red", "✗"), labelled(name, text)))
    end
  end
end

function human.plan_step(e)
  local head = ("%d/%d %s"):format(e.number, e.total, i18n.pick(e.title))
  if e.status == "done" then
    line(paint("green", "  ✓ ") .. head .. paint("dim", " — " .. i18n.t("already")))
    local evidence = {}
    for _, host in ipairs(e.hosts or {}) do
      if host.current ~= nil then
        evidence[#evidence + 1] = { host = host.host, saw = describe(host.current) }
      end
    end
    show_evidence(evidence)
  elseif e.status == "pending" then
    line(paint("dim", "  … ") .. head ..
      paint("dim", " — " .. labelled(i18n.t("pending"), e.reason or "")))
  elseif e.status == "blocked" then
    line(paint("red", "  ✗ ") .. head .. " — " .. labelled(i18n.t("would_fail"), e.reason or ""))
    show_each_host(e.hosts)
  else
    line(paint("yellow", "  ~ ") .. head .. " — " .. i18n.t("will_change"))
  end
  for _, host in ipairs(e.status == "change" and e.hosts or {}) do
    if host.status == "change" then
      local where = host.host and (host.host .. ": ") or ""
      line(("      %s%s → %s"):format(where, describe(host.current), describe(host.desired)))
    end
  end
end

-- A wait's progress: a line now and then when stdout is no terminal (the live line shows
-- it on one), and the line that says how it ended.
function human.progress(e)
  if e.finished or not M.live then line(paint("dim", "      " .. e.text)) end
end

function human.step_start(e)
  line(paint("bold", ("[%d/%d] %s"):format(e.number, e.total, i18n.pick(e.title))))
end

function human.host_done(e)
  local mark = e.ok and paint("green", "✓") or paint("red", "✗")
  local text = e.ok and i18n.t("done") or labelled(i18n.t("failed"), tostring(e.error))
  line(("      %s %s %s%s"):format(mark, e.host or "", text, seconds(e.duration)))
end

function human.step_done(e)
  if e.status == "skipped" then
    line(paint("dim", "      " .. i18n.t("skipped")))
    show_evidence(e.evidence)
  elseif e.status == "failed" then
    line(paint("red", "      " .. labelled(i18n.t("failed"), tostring(e.error or ""))) ..
      seconds(e.duration))
  else
    line(paint("green", "      " .. i18n.t("done")) .. seconds(e.duration))
  end
end

function human.rollback(e)
  line(paint("yellow", ("  ↶ %s%s %s"):format(labelled(i18n.t("rollback"), i18n.pick(e.title)),
    e.host and (" @ " .. e.host) or "", e.ok and "✓" or ("✗ " .. tostring(e.error)))))
end

-- "stop-services @ edge2a.contoso.com (half-done)": a change the summary lists.
local function where_changed(change)
  return change.step .. (change.host and (" @ " .. change.host) or "")
    .. (change.finished == false and i18n.t("half_done") or "")
end

-- The summary's first words: how the run ended.
local function outcome_of(e)
  if e.ok then return i18n.t("summary_ok") end
  if e.interrupted then return i18n.t("summary_interrupted") end
  if e.declined then return i18n.t("declined_at", e.step) end
  return i18n.t("summary_failed")
end

-- The last line of a plan, shown with -q too: what `run` would do.
local function plan_summary(e)
  if e.blocked then
    line(paint("red", i18n.t(e.preflight and "summary_preflight" or "summary_blocked")), true)
  elseif (e.change or 0) == 0 then
    line(paint("green", i18n.t("plan_nothing", e.done or 0)), true)
  else
    line(paint("yellow", i18n.t("plan_changes", e.change, e.done or 0, e.pending or 0)), true)
  end
end

function human.summary(e)
  if e.plan then return plan_summary(e) end
  if e.refused then return end     -- the refusal itself was said on stderr
  if (e.declined and not e.step) or e.blocked then   -- nothing was changed: no counts
    local key = e.preflight and "summary_preflight" or e.blocked and "summary_blocked" or "declined"
    line(paint("red", i18n.t(key)))
    return
  end
  local counts = i18n.t("summary_counts", e.changed or 0, e.skipped or 0, e.failed or 0)
  line(paint(e.ok and "green" or "red", labelled(outcome_of(e), counts) .. seconds(e.duration)))
  for _, change in ipairs(e.restored or {}) do
    line(paint("yellow", "  " .. i18n.t("summary_restored", where_changed(change))))
  end
  for _, change in ipairs(e.left or {}) do
    line(paint("red", "  " .. i18n.t("summary_left", where_changed(change),
      tostring(change.error or ""))))
  end
  for _, text in ipairs(e.manual or {}) do      -- what the runbook could not do safely
    line(paint("yellow", "  " .. i18n.t("manual_step", text)))
  end
  if e.resume then line(labelled(i18n.t("resume_hint"), "runbook resume " .. e.resume)) end
end

-- The events a run's journal keeps too (as "shown" records, for runbook.report): what the
-- operator saw of the steps, from the first change on.
local RECORDED = { step_start = true, host_done = true, step_done = true, note = true,
                   rollback = true, summary = true, progress = true }

-- Into the journal (M.recorder, set once it exists): a copy, its kind as `kind`; a wait's
-- progress only when it ends.
local function record(kind, event)
  if not (M.recorder and RECORDED[kind]) or (kind == "progress" and not event.finished) then
    return
  end
  local copy = { event = "shown", kind = kind }
  for key, value in pairs(event) do if key ~= "event" then copy[key] = value end end
  M.recorder(copy)
end

--- emit(kind, fields): one event to the chosen view, to the audit log and, during a run, to
-- its journal. A step_start makes its step the one later notes belong to.
function M.emit(kind, event)
  event.event = kind
  record(kind, event)
  if kind == "step_start" then M.step = event.id end
  if M.json then
    io.stdout:write(secrets.json(event), "\n")
    io.stdout:flush()
  elseif human[kind] then
    human[kind](event)
  end
  audit(event)
end

local PROGRESS_PERIOD = 10   -- seconds between a wait's lines or events when nothing moves

local function progress_event(meter)
  return { step = M.step, host = meter.host, what = meter.what, subject = meter.subject,
    done = meter.done, total = meter.total, limit = meter.limit, text = meter:text(),
    behind = type(meter.detail) == "table" and #meter.detail.behind > 0 and meter.detail.behind
      or nil,
    elapsed = math.floor(meter:elapsed() * 10 + 0.5) / 10,
    finished = meter.ok ~= nil or nil, ok = meter.ok }
end

--- progress(meter, phase): runbook.progress's sink. A wait shows once it has lasted a
-- second: on a terminal in the live line (redrawn each second), and as a "progress" event
-- (a line without a terminal, JSON with --json, the audit log) when it moves or every
-- PROGRESS_PERIOD seconds; when it ends, one event says how.
function M.progress(meter, phase)
  if phase == "finish" then
    if not meter.shown then return end
    for i = #live, 1, -1 do if live[i] == meter then table.remove(live, i) end end
    if #live == 0 and live_shown and not M.json then
      io.stdout:write("\r\27[K"); live_shown = false
    end
    M.emit("progress", progress_event(meter))
    return
  end
  -- not yet a second; or all there (the finish follows and says so)
  if meter:elapsed() < 1 or (meter.total > 0 and meter.done >= meter.total) then return end
  local first, now = not meter.shown, meter:elapsed()
  meter.shown = true
  if M.live then
    if first then live[#live + 1] = meter end
    draw_live()
  end
  if first or meter.done ~= meter.last_done or now - meter.last_event >= PROGRESS_PERIOD then
    meter.last_done, meter.last_event = meter.done, now
    M.emit("progress", progress_event(meter))
  end
end

--- during(step_id): the step the engine checks, runs or rolls back now (notes name it).
function M.during(step_id)
  M.step = step_id
end

--- note(text): what a step tells the operator (ctx.note): a line under the step, or with
-- --json a "note" event.
function M.note(text)
  M.emit("note", { step = M.step, text = tostring(text) })
end

return M
