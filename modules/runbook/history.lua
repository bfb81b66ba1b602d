--- runbook.history — the runs the state directory remembers, read from their journals
-- (runbook.journal): what ran, against which inventory, who started it and when, how long
-- it took, how it ended, how many changes it left, and whether `runbook resume` can take
-- it. `runbook history` shows them newest first; the report (runbook.report) starts here.
-- Reading only: a journal is never written here.
local fs = require "runbook.fs"
local i18n = require "runbook.i18n"
local journal_lib = require "runbook.journal"

local M = {}

-- Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil).
local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

--- epoch(iso) -> seconds since 1970 of "YYYY-MM-DDTHH:MM:SSZ", or nil
function M.epoch(iso)
  local y, mo, d, h, mi, s = tostring(iso):match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)Z$")
  if not y then return nil end
  return days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400
    + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
end

--- moment(record) -> the record's time in seconds: `t` (milliseconds), else `time`
function M.moment(record)
  return record.t or M.epoch(record.time)
end

local function first_line(path)
  local file = io.open(path)
  if not file then return nil end
  local line = file:read("l")
  file:close()
  return line
end

-- When process pid started, in seconds since the epoch: the boot time (/proc/stat btime)
-- plus its start in clock ticks (field 22 of /proc/PID/stat, after the parenthesised
-- name; USER_HZ is 100 in Linux's user ABI). nil when it cannot be read.
local function process_started(pid)
  local stat = first_line("/proc/" .. pid .. "/stat")
  local ticks = stat and stat:match("%) %S+" .. (" %S+"):rep(18) .. " (%d+)")
  local file = io.open("/proc/stat")
  local boot = file and file:read("a"):match("\nbtime (%d+)")
  if file then file:close() end
  return ticks and boot and tonumber(boot) + tonumber(ticks) / 100 or nil
end

-- Whether the run that wrote the journal still runs: its pid is a runbook process that
-- started before the journal did (a pid the kernel gave again to a later runbook is not
-- that run; 2 s of slack for btime's whole seconds).
local function still_running(pid, since)
  pid = pid and math.tointeger(pid)
  if not pid or pid == fs.pid() or first_line("/proc/" .. pid .. "/comm") ~= "runbook" then
    return false
  end
  local started = process_started(pid)
  return not (started and since and started > since + 2)
end

-- What the run's summary (its "shown" record) lists as left changed: set of step|host, or
-- nil when the journal has no summary (killed, or written before summaries were kept).
local function summary_left(records)
  for i = #records, 1, -1 do
    local record = records[i]
    if record.event == "shown" and record.kind == "summary" then
      local keys = {}
      for _, left in ipairs(record.left or {}) do
        keys[left.step .. "|" .. (left.host or "")] = true
      end
      return keys
    end
  end
end

-- The changes a run left: outcomes not rolled back — done ones, and half-done ones (a
-- failed outcome) that the summary lists as left or, without a summary, all of them (a
-- step that only waits has a failed outcome and nothing to leave: the summary knows).
local function changes_left(records)
  local left, count, listed = {}, 0, summary_left(records)
  for _, record in ipairs(records) do
    local key = record.step and (record.step .. "|" .. (record.host or ""))
    if record.event == "outcome" then
      left[key] = record.ok or not listed or listed[key] or nil
    elseif record.event == "rolled_back" and record.ok then
      left[key] = nil
    end
  end
  for _ in pairs(left) do count = count + 1 end
  return count
end

-- How the run ended: "done", "failed", "rolled-back", "interrupted", "declined",
-- "running", or "crashed" (no record of an end: killed, power cut).
local function result_of(records, header)
  local rolled_back, failed
  for _, record in ipairs(records) do
    if record.event == "finish" then
      if record.ok then return "done" end
      return (rolled_back and changes_left(records) == 0) and "rolled-back" or "failed"
    elseif record.event == "rolled_back" then rolled_back = true
    elseif record.event == "failed" then failed = true
    end
  end
  local last                -- the last record of the run's own (not a "shown" one)
  for i = #records, 1, -1 do
    if records[i].event ~= "shown" then last = records[i]; break end
  end
  if last.event == "interrupted" then return "interrupted" end
  if last.event == "declined" then return "declined" end
  if still_running(header.pid, M.moment(header)) then return "running" end
  return failed and "failed" or "crashed"
end

-- The step the run stopped at (failed, interrupted or declined), if any.
local function stopped_at(records)
  for i = #records, 1, -1 do
    local event = records[i].event
    if event == "failed" or event == "interrupted" or event == "declined" then
      return records[i].step
    end
  end
end

--- summary(path, records) -> one run: {journal, runbook, inventory, user, machine, start,
-- duration, result, changes, resumable, step}; nil when the file is no run's journal.
function M.summary(path, records)
  local header = records[1]
  if not header or header.event ~= "start" then return nil end
  local finished = false
  for _, record in ipairs(records) do finished = finished or record.event == "finish" end
  local result = result_of(records, header)
  local first, last = M.moment(header), M.moment(records[#records])
  return { journal = path, runbook = header.runbook_id or header.runbook,
    inventory = header.inventory, user = header.user, machine = header.machine,
    start = header.time, duration = first and last and (last - first) or nil, result = result,
    changes = changes_left(records), step = stopped_at(records),
    resumable = not finished and result ~= "running" }
end

--- runs{resumable=} -> the runs of the state directory, newest first (only the ones
-- `runbook resume` can take with resumable). Unreadable files are left out.
function M.runs(options)
  options = options or {}
  local dir, runs = journal_lib.state_dir(), {}
  for _, entry in ipairs(journal_lib.newest_first(dir)) do
    local path = dir .. "/" .. entry.name
    local records = journal_lib.read(path)
    local run = records and M.summary(path, records)
    if run and (run.resumable or not options.resumable) then
      run.started_at = M.moment(records[1]) or 0
      runs[#runs + 1] = run
    end
  end
  -- by the start record's clock: two runs of one second are ordered too
  table.sort(runs, function(a, b)
    if a.started_at ~= b.started_at then return a.started_at > b.started_at end
    return a.journal > b.journal
  end)
  for _, run in ipairs(runs) do run.started_at = nil end
  return runs
end

--- duration_text(seconds) -> "0.4 s", "42 s", "12 min 5 s", "2 h 3 min"
function M.duration_text(seconds)
  if not seconds then return "?" end
  if seconds < 10 then return ("%.1f s"):format(seconds) end
  seconds = math.floor(seconds + 0.5)
  if seconds < 60 then return ("%d s"):format(seconds) end
  if seconds < 3600 then return ("%d min %d s"):format(seconds // 60, seconds % 60) end
  return ("%d h %d min"):format(seconds // 3600, seconds % 3600 // 60)
end

--- result_text(run) -> how the run ended, in the operator's language
function M.result_text(run)
  local text = i18n.t("history_" .. run.result:gsub("%-", "_"))
  if run.step and run.result ~= "done" then text = text .. " (" .. run.step .. ")" end
  return text
end

-- The file name of a path, for the table (the full path is on the line below).
local function base_name(path)
  return tostring(path or "?"):match("([^/]+)$") or "?"
end

-- rows padded column by column to the widest cell (widths in characters, not bytes)
local function aligned(rows)
  local widths = {}
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do widths[i] = math.max(widths[i] or 0, utf8.len(cell) or #cell) end
  end
  local lines = {}
  for r, row in ipairs(rows) do
    local cells = {}
    for i, cell in ipairs(row) do
      cells[i] = i < #row and cell .. (" "):rep(widths[i] - (utf8.len(cell) or #cell)) or cell
    end
    lines[r] = table.concat(cells, "  ")
  end
  return lines
end

--- show(runs): the human table, a run per line and its journal under it; with the
-- `resume` command for the runs it can take.
function M.show(runs)
  if #runs == 0 then
    print(i18n.t("history_none", journal_lib.state_dir()))
    return
  end
  local rows = {}
  for i, run in ipairs(runs) do
    rows[i] = { (run.start or "?"):gsub("T", " "), run.runbook, M.result_text(run),
      i18n.t("history_changes", run.changes), M.duration_text(run.duration),
      base_name(run.inventory) .. (run.user and (" " .. i18n.t("history_by", run.user)) or "") }
  end
  for i, line in ipairs(aligned(rows)) do
    print(line)
    print("    " .. (runs[i].resumable and "runbook resume " or "") .. runs[i].journal)
  end
end

return M
