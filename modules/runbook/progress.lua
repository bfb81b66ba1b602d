--- runbook.progress — what a wait tells the operator while it waits. A module that polls
-- (CMS replication, DNS propagation, services reaching a state) opens a meter, updates it
-- on each poll and closes it however the wait ends:
--   progress.during({ what = "cms-replication", host = "fe1", limit = 600, total = 2 },
--     function(meter) … meter:update(1, 2, "edge2b.contoso.com") … end)
-- The engine installs a sink (runbook.output: a live line on a terminal, periodic lines
-- otherwise, "progress" events with --json); without one (a plain script, the REPL) a
-- meter costs nothing. The words come from the catalogue (runbook.i18n, "progress_" keys),
-- so a meter's text is in the operator's language.
local core = require "runbook.task.core"
local i18n = require "runbook.i18n"

local M = { sink = nil }

-- Tells the sink; a sink that fails (a display problem) must not fail the wait it shows.
local function tell(meter, phase)
  local sink = M.sink
  if not sink then return end
  local ok, err = pcall(sink, meter, phase)
  if not ok and not M.sink_failed then
    M.sink_failed = true
    require("runbook.say").warn("progress: " .. tostring(err))   -- seldom: loaded when needed
  end
end

local Meter = {}
Meter.__index = Meter

--- begin{what=, host=, limit=, total=, subject=} -> meter. `what` names the wait (its
-- catalogue key is progress_<what>), `subject` what it waits for (a record, a state).
function M.begin(spec)
  local meter = setmetatable({ what = spec.what, host = spec.host, limit = spec.limit,
    subject = spec.subject, total = spec.total or 0, done = 0, started = core.now() }, Meter)
  if M.sink then
    meter.ticker = core.spawn(function()   -- the elapsed time moves on between polls too
      while true do core.sleep(1); tell(meter, "tick") end
    end)
  end
  return meter
end

--- meter:update(done, total [, detail]): how far the wait is; detail says what is missing:
-- a text, or {behind = {names}} (shown as "behind: …" in the operator's language).
function Meter:update(done, total, detail)
  self.done, self.total, self.detail = done, total or self.total, detail
  tell(self, "update")
end

--- meter:finish(ok): the wait is over (ok: it reached what it waited for).
function Meter:finish(ok)
  if self.ticker then self.ticker:cancel(); self.ticker = nil end
  self.ok = ok and true or false
  tell(self, "finish")
end

--- meter:elapsed() -> seconds since the wait began
function Meter:elapsed()
  return core.now() - self.started
end

--- meter:text() -> "waiting for CMS replication: 1/2 Edge servers up to date
-- (edge2b.contoso.com) (40 s of 600 s)" while it waits, "CMS replication: 2/2 Edge servers
-- up to date, after 41 s" once finished; in the operator's language
function Meter:text()
  local values = { done = self.done, total = self.total, subject = self.subject or self.host }
  local text = i18n.t("progress_" .. self.what:gsub("%-", "_"))
    :gsub("{(%w+)}", function(name) return tostring(values[name] or "?") end)
  local detail = self.detail
  if type(detail) == "table" then
    detail = #detail.behind > 0 and i18n.t("progress_behind", table.concat(detail.behind, ", "))
  end
  if detail and detail ~= "" then text = text .. " (" .. detail .. ")" end
  local elapsed = ("%d"):format(math.floor(self:elapsed() + 0.5))
  if self.ok ~= nil then
    return i18n.t(self.ok and "progress_finished" or "progress_stopped", text, elapsed)
  end
  local time = self.limit and i18n.t("progress_time_of", elapsed, ("%g"):format(self.limit))
    or i18n.t("progress_time", elapsed)
  return i18n.t("progress_waiting", text) .. " " .. time
end

--- during(spec, fn) -> fn's results: fn(meter) inside a meter that is closed however fn
-- ends (its error raised again as it was).
function M.during(spec, fn)
  local meter = M.begin(spec)
  local outcome = table.pack(pcall(fn, meter))
  meter:finish(outcome[1] and outcome[2] ~= nil and outcome[2] ~= false)
  if not outcome[1] then error(outcome[2], 0) end
  return table.unpack(outcome, 2, outcome.n)
end

return M
