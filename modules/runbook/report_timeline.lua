--- runbook.report_timeline — the timeline of a run as an SVG picture: a row for each step
-- and host, time from left to right; a bar for each change (green done, red failed, amber
-- begun and never ended: interrupted), an orange bar for its rollback, a grey mark where a
-- step's check found it already done. Drawn here from the report's model; plain SVG that a
-- browser shows without script and prints as it is.
local report = require "runbook.report"
local i18n = require "runbook.i18n"

local M = {}

local LABEL, WIDTH, ROW, TOP = 330, 960, 24, 34
local COLOURS = { ok = "#2e7d32", failed = "#c62828", open = "#f9a825", rollback = "#ef6c00",
                  held = "#9e9e9e" }

local function escape(value)
  return (tostring(value):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
    ['"'] = "&quot;", ["'"] = "&#39;" }))
end

-- The rows: every step, and for a step with hosts each host on its own row.
local function rows_of(model)
  local rows = {}
  for _, step in ipairs(model.steps) do
    for _, name in ipairs(#step.host_order > 0 and step.host_order or { "" }) do
      local label = ("%s %s"):format(step.number or "", step.id)
      if name ~= "" then label = label .. " @ " .. name end
      rows[#rows + 1] = { step = step, host = step.hosts[name] or {}, label = label }
    end
  end
  return rows
end

-- x of a moment: the run's span over the drawing's width (a run of no time: one point).
local function scale(model)
  local from, to = model.first or 0, math.max(model.last or 0, (model.first or 0) + 0.001)
  return function(moment)
    moment = math.max(from, math.min(to, moment or from))
    return LABEL + (WIDTH - LABEL - 20) * (moment - from) / (to - from)
  end, to - from
end

local function bar(out, x1, x2, y, colour, tip, dashed)
  out[#out + 1] = ('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"%s>'
    .. '<title>%s</title></rect>'):format(x1, y + 5, math.max(x2 - x1, 3), ROW - 10, colour,
    dashed and ' stroke="#6d4c00" stroke-dasharray="3 2"' or "", escape(tip))
end

-- The marks of one row: the change, its rollback, or the check that found it done.
local function draw_row(out, row, x, y, last)
  local step, host = row.step, row.host
  local outcome = report.host_outcome(step, host)
  if host.from then
    local colour = host.ok == true and COLOURS.ok or host.ok == false and COLOURS.failed
      or COLOURS.open
    bar(out, x(host.from), x(host.to or last), y, colour, row.label .. ": " .. outcome,
      host.to == nil)
  elseif step.started then
    out[#out + 1] = ('<circle cx="%.1f" cy="%d" r="5" fill="%s"><title>%s</title></circle>')
      :format(x(step.started), y + ROW // 2, COLOURS.held, escape(row.label .. ": " .. outcome))
  end
  if host.rollback_from then
    bar(out, x(host.rollback_from), x(host.rollback_to or last), y, COLOURS.rollback,
      row.label .. ": " .. i18n.t("rollback"), host.rollback_to == nil)
  end
end

-- Time ticks under the rows: 0 s, then four more to the end.
local function axis(out, x, span, first, height)
  for i = 0, 4 do
    local moment = first + span * i / 4
    local at = x(moment)
    out[#out + 1] = ('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>'):format(at,
      TOP - 6, at, height - 18)
    out[#out + 1] = ('<text x="%.1f" y="%d" text-anchor="middle" font-size="11">%s</text>')
      :format(at, height - 4, escape(report.seconds(span * i / 4)))
  end
end

local function legend(out)
  local items = { { COLOURS.ok, "report_changed" }, { COLOURS.failed, "report_failed" },
    { COLOURS.open, "report_unknown_outcome" }, { COLOURS.rollback, "rollback" },
    { COLOURS.held, "report_held" } }
  local x = 4
  for _, item in ipairs(items) do
    local label = i18n.t(item[2])
    out[#out + 1] = ('<rect x="%d" y="8" width="12" height="12" fill="%s"/><text x="%d" y="18" '
      .. 'font-size="11">%s</text>'):format(x, item[1], x + 16, escape(label))
    x = x + 30 + 7 * utf8.len(label)
  end
end

--- svg(model) -> the timeline as an <svg> element
function M.svg(model)
  local rows = rows_of(model)
  local height = TOP + #rows * ROW + 24
  local x, span = scale(model)
  local out = { ('<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="%d" '
    .. 'height="%d" viewBox="0 0 %d %d" role="img" font-family="sans-serif">'):format(WIDTH,
    height, WIDTH, height),
    ("<title>%s</title>"):format(escape(i18n.t("report_timeline"))) }
  legend(out)
  axis(out, x, span, model.first or 0, height)
  for i, row in ipairs(rows) do
    local y = TOP + (i - 1) * ROW
    if i % 2 == 0 then
      out[#out + 1] = ('<rect x="0" y="%d" width="%d" height="%d" fill="#f5f5f5"/>'):format(y,
        WIDTH, ROW)
    end
    out[#out + 1] = ('<text x="4" y="%d" font-size="12">%s</text>'):format(y + 16,
      escape(row.label))
    draw_row(out, row, x, y, model.last)
  end
  out[#out + 1] = "</svg>"
  return table.concat(out, "\n")
end

return M
