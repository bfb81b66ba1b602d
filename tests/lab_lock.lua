--- lab_lock — one `make test` at a time in the specs that own fixed lab resources (issue 6:
-- namespaces rbn-*, Prosody on 127.0.52.3:5269, ...). Several people run the whole suite at
-- once on this machine; two runs of the same spec would fight over the same addresses.
--   local release = lab_lock.acquire("rbn")   -- waits until no other run holds it
--   ... lab.start ... tests ... lab.stop ...
--   release()
-- The lock is flock(1) on /tmp/runbook-lab-NAME.lock, held by a small shell process that
-- lives until release() (or until this process dies: the holder watches its parent).
local support = require "support"

local M = {}

local function exists(path)
  local file = io.open(path, "rb")
  if file then file:close() end
  return file ~= nil
end

local function own_pid()
  local pipe = io.popen("echo $PPID")
  local pid = pipe:read("l")
  pipe:close()
  return pid
end

-- A hold this very process forgot to release (a teardown that raised): drop it, or the
-- next acquire would wait for itself.
local function drop_own_stale_hold(marker, pid)
  local file = io.open(marker, "rb")
  if not file then return end
  local owner, dir = file:read("a"):match("^(%d+) (%S+)")
  file:close()
  if owner ~= pid or not dir or not exists(dir .. "/held") then return end
  support.write(dir .. "/stop", "")
  local deadline = os.time() + 5
  while exists(dir .. "/held") and os.time() <= deadline do os.execute("sleep 0.05") end
end

--- acquire(name [, wait_seconds=600]) -> release function; raises when it cannot get it
function M.acquire(name, wait_seconds)
  local marker, pid = "/tmp/runbook-lab-" .. name .. ".owner", own_pid()
  drop_own_stale_hold(marker, pid)
  local dir = support.tmpdir()
  local held, stop = dir .. "/held", dir .. "/stop"
  -- the holder exits when told to, or when the process that started it is gone
  -- (tmpdir paths are mktemp's: no characters that need quoting)
  os.execute(([[
unset LD_PRELOAD
owner=$PPID
flock -x /tmp/runbook-lab-%s.lock sh -c "
  touch %s
  while [ ! -e %s ] && kill -0 $owner 2>/dev/null; do sleep 0.05; done
  rm -rf %s" </dev/null >/dev/null 2>&1 &
]]):format(name, held, stop, dir))
  local deadline = os.time() + (wait_seconds or 600)
  while not exists(held) do
    if os.time() > deadline then
      support.write(stop, "")
      error("lab lock " .. name .. " still held by another test run after " ..
        (wait_seconds or 600) .. " s", 2)
    end
    os.execute("sleep 0.05")
  end
  support.write(marker, pid .. " " .. dir)
  return function() support.write(stop, "") end   -- the holder removes dir as it goes
end

return M
