--- runbook.report_page — the report's two forms: html(model), one self-contained page
-- (inline style, no script, no link or image beside it, printable on A4), and
-- markdown(model) for a change ticket. Both show the same sections in the same order:
-- the facts, the timeline (HTML only), the steps with what their checks saw before, the
-- changes before → after per host, the final verification, rollbacks, what was left.
local i18n = require "runbook.i18n"
local report = require "runbook.report"
local timeline = require "runbook.report_timeline"

local M = {}
local t = i18n.t

local function escape(value)
  return (tostring(value or ""):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;",
    [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }))
end

local STYLE = [[
body { font-family: sans-serif; margin: 2em; color: #212121; max-width: 1000px; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; width: 100%; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 4px 6px; text-align: left; vertical-align: top;
         font-size: 0.9em; overflow-wrap: break-word; }
th { background: #eee; } .facts th { width: 12em; }
.ok { color: #2e7d32; } .failed { color: #c62828; } .muted { color: #616161; }
.step { page-break-inside: avoid; border-left: 4px solid #bbb; padding-left: 0.8em; margin: 1em 0; }
.step.changed { border-color: #2e7d32; } .step.failed { border-color: #c62828; }
pre { white-space: pre-wrap; margin: 0.2em 0; font-size: 0.85em; }
svg.timeline { max-width: 100%; height: auto; }
@media print { body { margin: 0; max-width: none; } h2 { page-break-after: avoid; } }
]]

local function step_class(step)
  return step.status == "changed" and "changed" or step.status == "failed" and "failed" or ""
end

local function status_text(step)
  if step.status == "changed" then return t("report_step_changed")
  elseif step.status == "skipped" then return t("already")
  elseif step.status == "failed" then return t("failed") .. ": " .. report.text(step.error)
  elseif step.started then return t("report_unknown_outcome") end
  return t("report_not_reached")
end

-- One step: its title, how it ended and in what time, what its check saw before (per host),
-- its notes and waits, the evidence when it already held.
local function html_step(out, step)
  out[#out + 1] = ('<div class="step %s"><h3>%s. %s</h3>'):format(step_class(step),
    escape(step.number or ""), escape(report.title(step)))
  out[#out + 1] = ("<p>%s — %s</p>"):format(escape(status_text(step)),
    escape(report.seconds(step.duration)))
  out[#out + 1] = ("<table><tr><th>%s</th><th>%s</th><th>%s</th></tr>"):format(
    escape(t("report_host")), escape(t("report_before")), escape(t("report_outcome")))
  for _, name in ipairs(step.host_order) do
    local host = step.hosts[name]
    out[#out + 1] = ("<tr><td>%s</td><td><pre>%s</pre></td><td>%s</td></tr>"):format(
      escape(name ~= "" and name or "—"), escape(report.text(host.before)),
      escape(report.host_outcome(step, host)))
  end
  out[#out + 1] = "</table>"
  for _, line in ipairs(step.notes) do out[#out + 1] = ("<pre>%s</pre>"):format(escape(line)) end
  for _, line in ipairs(step.waits) do
    out[#out + 1] = ('<pre class="muted">%s</pre>'):format(escape(line))
  end
  out[#out + 1] = "</div>"
end

local function html_table(out, head, rows)
  local cells = {}
  for i, label in ipairs(head) do cells[i] = "<th>" .. escape(label) .. "</th>" end
  out[#out + 1] = "<table><tr>" .. table.concat(cells) .. "</tr>"
  for _, row in ipairs(rows) do
    for i, value in ipairs(row) do cells[i] = "<td>" .. escape(value) .. "</td>" end
    out[#out + 1] = "<tr>" .. table.concat(cells, "", 1, #row) .. "</tr>"
  end
  if #rows == 0 then
    out[#out + 1] = ('<tr><td colspan="%d" class="muted">%s</td></tr>'):format(#head,
      escape(t("report_none")))
  end
  out[#out + 1] = "</table>"
end

-- The rows of the changes table: step, host, before, after, outcome, duration.
local function changes(model)
  local rows = {}
  for _, row in ipairs(report.change_rows(model)) do
    rows[#rows + 1] = { ("%s. %s"):format(row.step.number or "", report.title(row.step)),
      row.host ~= "" and row.host or "—", row.before, row.after, row.outcome,
      report.seconds(row.duration) }
  end
  return rows
end

local function evidence_lines(step)
  local lines = {}
  for _, seen in ipairs(step and step.evidence or {}) do
    lines[#lines + 1] = (seen.host and (seen.host .. ": ") or "") .. report.text(seen.saw)
  end
  for _, note in ipairs(step and step.notes or {}) do lines[#lines + 1] = note end
  return lines
end

local function rollback_rows(model)
  local rows = {}
  for _, rollback in ipairs(model.rollbacks) do
    rows[#rows + 1] = { rollback.step, rollback.host or "—",
      rollback.ok and t("report_restored") or (t("failed") .. ": " .. report.text(rollback.error)) }
  end
  return rows
end

local function left_rows(model)
  local rows = {}
  for _, left in ipairs(report.left_different(model)) do
    rows[#rows + 1] = { left.step .. (left.finished == false and t("half_done") or ""),
      left.host or "—", report.text(left.error) }
  end
  return rows
end

local function html_final(out, model)
  local step = report.final_step(model)
  out[#out + 1] = ("<h2>%s</h2>"):format(escape(t("report_final")))
  if not step then
    out[#out + 1] = ("<p>%s</p>"):format(escape(t("report_not_reached")))
    return
  end
  out[#out + 1] = ("<p>%s. %s — %s</p>"):format(escape(step.number or ""),
    escape(report.title(step)), escape(status_text(step)))
  for _, line in ipairs(evidence_lines(step)) do
    out[#out + 1] = ("<pre>%s</pre>"):format(escape(line))
  end
end

--- html(model) -> the page
function M.html(model)
  local header = model.header
  local out = { "<!DOCTYPE html>", ('<html lang="%s"><head><meta charset="utf-8">'):format(
    i18n.lang), ("<title>%s</title>"):format(escape(t("report_title") .. ": "
    .. (header.runbook_id or ""))), "<style>" .. STYLE .. "</style></head><body>",
    ("<h1>%s: %s</h1>"):format(escape(t("report_title")), escape(header.runbook_id or "")) }
  out[#out + 1] = '<table class="facts">'
  for _, fact in ipairs(report.facts(model)) do
    out[#out + 1] = ("<tr><th>%s</th><td>%s</td></tr>"):format(escape(fact[1]), escape(fact[2]))
  end
  out[#out + 1] = "</table>"
  out[#out + 1] = ("<h2>%s</h2>"):format(escape(t("report_timeline")))
  out[#out + 1] = timeline.svg(model)
  out[#out + 1] = ("<h2>%s</h2>"):format(escape(t("report_changes")))
  html_table(out, { t("report_step"), t("report_host"), t("report_before"), t("report_after"),
    t("report_outcome"), t("report_duration") }, changes(model))
  html_final(out, model)
  out[#out + 1] = ("<h2>%s</h2>"):format(escape(t("report_rollbacks")))
  html_table(out, { t("report_step"), t("report_host"), t("report_outcome") }, rollback_rows(model))
  out[#out + 1] = ("<h2>%s</h2>"):format(escape(t("report_left")))
  html_table(out, { t("report_step"), t("report_host"), t("report_why") }, left_rows(model))
  out[#out + 1] = ("<h2>%s</h2>"):format(escape(t("report_steps")))
  for _, step in ipairs(model.steps) do html_step(out, step) end
  out[#out + 1] = "</body></html>"
  return table.concat(out, "\n") .. "\n"
end

-- ------------------------------------------------------------------ Markdown

local function md_cell(value)
  return (tostring(value or ""):gsub("|", "\\|"):gsub("\n", " "))
end

local function md_table(out, head, rows)
  local cells = {}
  for i, label in ipairs(head) do cells[i] = md_cell(label) end
  out[#out + 1] = "| " .. table.concat(cells, " | ") .. " |"
  out[#out + 1] = "|" .. ("---|"):rep(#head)
  for _, row in ipairs(rows) do
    for i, value in ipairs(row) do cells[i] = md_cell(value) end
    out[#out + 1] = "| " .. table.concat(cells, " | ", 1, #row) .. " |"
  end
  if #rows == 0 then out[#out + 1] = "| " .. t("report_none") .. (" |"):rep(#head) end
  out[#out + 1] = ""
end

--- markdown(model) -> the report for a change ticket
function M.markdown(model)
  local out = { ("# %s: %s"):format(t("report_title"), model.header.runbook_id or ""), "" }
  md_table(out, { "", "" }, report.facts(model))
  out[#out + 1] = "## " .. t("report_changes")
  md_table(out, { t("report_step"), t("report_host"), t("report_before"), t("report_after"),
    t("report_outcome"), t("report_duration") }, changes(model))
  out[#out + 1] = "## " .. t("report_final")
  local step = report.final_step(model)
  out[#out + 1] = step and ("%s. %s — %s"):format(step.number or "", report.title(step),
    status_text(step)) or t("report_not_reached")
  for _, line in ipairs(evidence_lines(step)) do out[#out + 1] = "    " .. line end
  out[#out + 1] = ""
  out[#out + 1] = "## " .. t("report_rollbacks")
  md_table(out, { t("report_step"), t("report_host"), t("report_outcome") }, rollback_rows(model))
  out[#out + 1] = "## " .. t("report_left")
  md_table(out, { t("report_step"), t("report_host"), t("report_why") }, left_rows(model))
  out[#out + 1] = "## " .. t("report_steps")
  for _, each in ipairs(model.steps) do
    out[#out + 1] = ("- **%s. %s** — %s (%s)"):format(each.number or "", report.title(each),
      status_text(each), report.seconds(each.duration))
    for _, name in ipairs(each.host_order) do
      local host = each.hosts[name]
      out[#out + 1] = ("  - %s%s: %s"):format(name ~= "" and (name .. " ") or "",
        md_cell(report.text(host.before)), report.host_outcome(each, host))
    end
  end
  return table.concat(out, "\n") .. "\n"
end

return M
