--- runbook.journal — the append-only record of a run, one JSON object per line, each
-- line fsync'd before the engine goes on: an intent before every change, its outcome
-- after. `runbook resume` reads it back. Also the lock (flock) that keeps two runs of the same
-- runbook off the same target.
local core = require "runbook.task.core"
local cjson = require "cjson"
local fs = require "runbook.fs"
local i18n = require "runbook.i18n"
local secrets = require "runbook.secrets"

local M = {}

--- The directory for journals and locks: $RUNBOOK_STATE_DIR, else the XDG state dir.
function M.state_dir()
  local dir = os.getenv("RUNBOOK_STATE_DIR")
  if not dir or dir == "" then
    local base = os.getenv("XDG_STATE_HOME")
    if not base or base == "" then base = (os.getenv("HOME") or "/tmp") .. "/.local/state" end
    dir = base .. "/runbook"
  end
  assert(fs.mkdir(dir .. "/locks"))
  return dir
end

local Journal = {}
Journal.__index = Journal

--- create(runbook_id) -> journal with a fresh file name
function M.create(runbook_id)
  local path = ("%s/%s-%s-%d.jsonl"):format(M.state_dir(), runbook_id,
    os.date("!%Y%m%dT%H%M%SZ"), fs.pid())
  return setmetatable({ path = path }, Journal)
end

function M.open(path)
  return setmetatable({ path = path }, Journal)
end

-- The wall clock in seconds with milliseconds: os.time() read once, then the loop's
-- monotonic clock, so the durations between records of one process are exact (history and
-- report draw them) and the absolute time is right to the second, as `time` is.
local anchor_wall, anchor_monotonic
function M.clock()
  local now = core.now()
  if not anchor_wall then anchor_wall, anchor_monotonic = os.time(), now end
  return math.floor((anchor_wall + now - anchor_monotonic) * 1000 + 0.5) / 1000
end

--- write(record): appended and fsync'd; raises if the disk refuses (a run must not go on
-- without its journal). No secret reaches the disk: secrets.json redacts every string of
-- the record before encoding (a JSON-escaped secret would slip past a redaction after it).
-- Each record has `time` (ISO 8601, UTC) and `t` (M.clock()).
function Journal:write(record)
  record.time = record.time or os.date("!%Y-%m-%dT%H:%M:%SZ")
  record.t = record.t or M.clock()
  local line = secrets.json(record) .. "\n"
  local ok, err = fs.append(self.path, line)
  if not ok then error("[journal] " .. i18n.t("journal_failed", err), 0) end
end

--- read(path) -> records | nil, message
function M.read(path)
  local file, err = io.open(path)
  if not file then return nil, err end
  local records, number = {}, 0
  for line in file:lines() do
    number = number + 1
    local ok, record = pcall(cjson.decode, line)
    if ok then records[#records + 1] = record
    elseif number > 1 then break      -- a torn last line after a crash: ignore it
    else file:close(); return nil, i18n.t("not_a_journal", path) end
  end
  file:close()
  return records
end

--- recall(records) -> what the run remembered (ctx.remember: "data" records; the last
-- record of a key wins)
function M.recall(records)
  local data = {}
  for _, record in ipairs(records) do
    if record.event == "data" and type(record.key) == "string" then
      data[record.key] = record.value
    end
  end
  return data
end

local function finished_ok(records)
  local last = records[#records]
  return last ~= nil and last.event == "finish" and last.ok == true
end

-- Journal file names end in -YYYYMMDDTHHMMSSZ-PID.jsonl: newest first.
local function newest_first(dir)
  local entries = {}
  for _, name in ipairs(fs.list(dir) or {}) do
    local stamp, pid = name:match("%-(%d+T%d+Z)%-(%d+)%.jsonl$")
    if stamp then entries[#entries + 1] = { name = name, stamp = stamp, pid = tonumber(pid) } end
  end
  table.sort(entries, function(a, b)
    if a.stamp ~= b.stamp then return a.stamp > b.stamp end
    return a.pid > b.pid
  end)
  return entries
end
M.newest_first = newest_first

--- remembered{path=, where=function(data) -> boolean, limit=100} -> data, path | nil, why
-- What an earlier, successfully finished run remembered: the run of the journal `path`, or
-- else the newest of the state directory's journals (at most `limit`) whose data passes
-- `where`. How a failback finds what the failover it undoes saw before its changes.
function M.remembered(options)
  if options.path then
    local records, err = M.read(options.path)
    if not records then return nil, err end
    if not finished_ok(records) then
      return nil, options.path .. ": that run did not finish successfully"
    end
    return M.recall(records), options.path
  end
  local dir = M.state_dir()
  for i, entry in ipairs(newest_first(dir)) do
    if i > (options.limit or 100) then break end
    local path = dir .. "/" .. entry.name
    local records = M.read(path)
    if records and finished_ok(records) then
      local data = M.recall(records)
      if not options.where or options.where(data) then return data, path end
    end
  end
  return nil, "no finished run in " .. dir .. " matches"
end

--- lock(runbook_id, target) -> release function | nil, message
-- flock(2) on locks/RUNBOOK--TARGET.lock (runbook.fs.lock), held until release() or until
-- the process ends however it ends: the kernel lets go of a dead run's lock, so none is
-- ever stale and none is taken over. Two runs racing for it: exactly one wins.
function M.lock(runbook_id, target)
  local name = (runbook_id .. "--" .. target):gsub("[^%w%.%-_]", "_")
  local path = M.state_dir() .. "/locks/" .. name .. ".lock"
  local lock, err, code, holder = fs.lock(path)
  if lock then return function() lock:release() end end
  if code == "locked" then
    return nil, i18n.t("lock_held", runbook_id, target,
      holder > 0 and tostring(holder) or i18n.t("unknown"), path)
  end
  return nil, i18n.t("lock_failed", path, err)
end

return M
