--- runbook.metrics — a plan's verdicts as Prometheus gauges in node_exporter's textfile-
-- collector format (`--metrics FILE`), so that "is the estate still ready?" is a metric
-- that can alert: one gauge per check (step) and per host of a check (for the readiness
-- audit: per pool), whether everything holds, when it last ran and how long it took. The
-- CLI writes the text whole (cli.lua write_whole: a temporary file renamed over it), so the
-- collector never reads half of one.

local M = {}

-- A label value as the exposition format wants it: \, " and newline escaped.
local function label(value)
  return (tostring(value):gsub("[\\\"\n]", { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }))
end

local function labels(pairs_list)
  local parts = {}
  for i = 1, #pairs_list, 2 do
    parts[#parts + 1] = ('%s="%s"'):format(pairs_list[i], label(pairs_list[i + 1]))
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

-- A check holds when its status is "done"; "change", "pending" and "blocked" do not.
local function holds(status) return status == "done" and 1 or 0 end

--- text(runbook_id, entries, blockers, started, duration) -> the file's text
function M.text(runbook_id, entries, blockers, started, duration)
  local out = {
    "# HELP runbook_check_ok Whether a step's check holds (1) or not (0), at the last run.",
    "# TYPE runbook_check_ok gauge" }
  local ready = #blockers == 0 and #entries > 0
  for _, entry in ipairs(entries) do
    out[#out + 1] = ("runbook_check_ok%s %d"):format(labels { "runbook", runbook_id,
      "step", entry.id }, holds(entry.status))
    ready = ready and entry.status == "done"
  end
  out[#out + 1] = "# HELP runbook_check_host_ok Whether a step's check holds for one of its "
    .. "hosts (for the readiness audit: each Edge pool)."
  out[#out + 1] = "# TYPE runbook_check_host_ok gauge"
  for _, entry in ipairs(entries) do
    for _, host in ipairs(entry.hosts or {}) do
      if host.host then
        out[#out + 1] = ("runbook_check_host_ok%s %d"):format(labels { "runbook", runbook_id,
          "step", entry.id, "host", host.host }, holds(host.status))
      end
    end
  end
  local id = labels { "runbook", runbook_id }
  for _, gauge in ipairs {
    { "runbook_ready", "Whether every check holds and nothing the run needs is missing.",
      ready and 1 or 0, "%d" },
    { "runbook_preflight_blockers", "Capabilities the run needs that are missing.",
      #blockers, "%d" },
    { "runbook_last_run_timestamp_seconds", "When the checks last ran (seconds since 1970).",
      started, "%d" },
    { "runbook_last_run_duration_seconds", "How long the last run of the checks took.",
      duration, "%.3f" } } do
    out[#out + 1] = ("# HELP %s %s"):format(gauge[1], gauge[2])
    out[#out + 1] = ("# TYPE %s gauge"):format(gauge[1])
    out[#out + 1] = ("%s%s " .. gauge[4]):format(gauge[1], id, gauge[3])
  end
  return table.concat(out, "\n") .. "\n"
end

return M
