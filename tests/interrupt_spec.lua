-- Ctrl-C (runtime/loop.c): the first interrupt cancels every task gracefully and exits 4;
-- the second ends the process at once. The runbook writes marker files so the test waits
-- for each state instead of sleeping.
local support = require "support"
local quote, write = support.quote, support.write

-- Starts the runbook, waits for each marker before sending the next SIGINT.
local function interrupt(runbook_path, markers)
  local script = { ("%s run %s & pid=$!"):format(quote(support.bin), quote(runbook_path)) }
  for _, marker in ipairs(markers) do
    script[#script + 1] = ("i=0; while [ ! -e %s ] && [ $i -lt 1000 ]; do sleep 0.01; "
      .. "i=$((i+1)); done; kill -INT $pid"):format(quote(marker))
  end
  script[#script + 1] = "wait $pid; echo \"exit=$?\""
  return support.sh(table.concat(script, "\n"))
end

describe("Ctrl-C", function()
  local scratch
  before_each(function() scratch = support.tmpdir() end)
  after_each(function() os.execute("rm -rf " .. quote(scratch)) end)

  it("cancels every task, lets them clean up, and exits 4", function()
    local ready = scratch .. "/ready"
    local path = write(scratch .. "/long.lua", ([[
      local workers = {}
      for i = 1, 3 do
        workers[i] = task.spawn(function()
          local guard <close> = setmetatable({}, { __close = function()
            print("worker " .. i .. " cleaned up")
          end })
          task.sleep(3600)
        end)
      end
      task.yield()
      io.open(%q, "w"):close()
      for _, worker in ipairs(workers) do worker:join() end
    ]]):format(ready))
    local r = interrupt(path, { ready })
    assert.matches("exit=4\n$", r.out)
    for i = 1, 3 do assert.matches("worker " .. i .. " cleaned up", r.out) end
    assert.matches("runbook: interrupted", r.err)
  end)

  it("ends the process at the second Ctrl-C when a task ignores cancellation", function()
    local ready, cancelled = scratch .. "/ready", scratch .. "/cancelled"
    local path = write(scratch .. "/stubborn.lua", ([[
      io.open(%q, "w"):close()
      local ok, err = pcall(task.sleep, 3600)
      io.open(%q, "w"):close()
      while true do pcall(task.sleep, 1) end
    ]]):format(ready, cancelled))
    local r = interrupt(path, { ready, cancelled })
    assert.matches("exit=130\n$", r.out)
  end)
end)
