-- The event loop and the task library (runtime/loop.c, runtime/task.c,
-- modules/runbook/task.lua), loaded from runbook.so as lua5.4 would. #c
local task = require "runbook.task"

describe("task scheduling #c", function()
  it("runs 200 sleeping tasks interleaved and wakes them in deadline order", function()
    local events = {}
    task.run(function()
      -- Each task sleeps until a deadline fixed before the first spawn, so the order
      -- cannot depend on how long spawning the 200 took (a GC pause, a loaded machine).
      local base = task.now() + 0.1
      local handles = {}
      for i = 1, 200 do
        handles[i] = task.spawn(function()
          events[#events + 1] = "start"
          task.sleep(base + (201 - i) * 0.0005 - task.now())
          events[#events + 1] = i
        end)
      end
      for _, handle in ipairs(handles) do assert(handle:join()) end
    end)
    for i = 1, 200 do assert.equal("start", events[i]) end   -- all asleep at once
    for k = 1, 200 do assert.equal(201 - k, events[200 + k]) end -- shortest deadline first
  end)

  it("wakes 200 tasks that sleep the same time as one batch, in one or two loop turns", function()
    local core = require "runbook.task.core"
    local woke_in_turn = {}
    task.run(function()
      local handles = {}
      for i = 1, 200 do
        handles[i] = task.spawn(function()
          task.sleep(0.05)
          woke_in_turn[i] = core.turns()
        end)
      end
      for _, handle in ipairs(handles) do assert(handle:join()) end
    end)
    local turns = {}
    for i = 1, 200 do turns[woke_in_turn[i]] = true end
    local distinct = 0
    for _ in pairs(turns) do distinct = distinct + 1 end
    assert.equal(200, #woke_in_turn)
    assert.is_true(distinct <= 2, ("woke in %d different turns"):format(distinct))
  end)

  it("returns a task's results through join, in the order they were returned", function()
    local ok, a, b = task.run(function()
      return task.spawn(function(x, y) task.yield(); return x + y, "two" end, 1, 2):join()
    end)
    assert.same({ true, 3, "two" }, { ok, a, b })
  end)

  it("hands a task's error to whoever joins it", function()
    local ok, err = task.run(function()
      return task.spawn(function() error("boom", 0) end):join()
    end)
    assert.is_false(ok)
    assert.equal("boom", err)
  end)

  it("raises the main task's error from run", function()
    assert.has_error(function() task.run(function() error("main failed", 0) end) end,
      "main failed")
  end)

  it("times out a join without stopping the task", function()
    local first, second, status = task.run(function()
      local sleeper = task.spawn(function() task.sleep(0.05); return "woke" end)
      local a, b = sleeper:join(0.001)
      local status = sleeper:status()
      return { a, b }, { sleeper:join() }, status
    end)
    assert.same({ nil, "timeout" }, first)
    assert.same({ true, "woke" }, second)
    assert.equal("waiting", status)
  end)

  it("treats a plain coroutine.yield inside a task as a yield to the loop", function()
    local trace = {}
    task.run(function()
      local other = task.spawn(function() trace[#trace + 1] = "other" end)
      coroutine.yield()
      trace[#trace + 1] = "main"
      other:join()
    end)
    assert.same({ "other", "main" }, trace)
  end)

  it("detects a deadlock instead of hanging", function()
    local ok, err = pcall(task.run, function()
      local a
      local b = task.spawn(function() task.yield(); a:join() end)
      a = task.spawn(function() b:join() end)
      a:join()
    end)
    assert.is_false(ok)
    assert.matches("every task is waiting for something that can never happen %(deadlock%)", err)
  end)

  it("refuses a waiting primitive outside any task, saying what to do", function()
    local ok, err = pcall(task.sleep, 0)
    assert.is_false(ok)
    assert.matches("must run inside a task: wrap the call in task.run", err)
  end)
end)

describe("cancellation #c", function()
  it("wakes a sleeping task with the error 'cancelled' and closes its resources", function()
    local closed = false
    local ok, err, status = task.run(function()
      local sleeper = task.spawn(function()
        local _guard <close> = setmetatable({}, { __close = function() closed = true end })
        task.sleep(3600)
      end)
      task.yield()
      sleeper:cancel()
      local ok, err = sleeper:join()
      return ok, err, sleeper:status()
    end)
    assert.is_false(ok)
    assert.equal("cancelled", err)
    assert.equal("cancelled", status)
    assert.is_true(closed)
  end)

  it("never starts a task cancelled before it ran", function()
    local ran = false
    local ok, err = task.run(function()
      local t = task.spawn(function() ran = true end)
      t:cancel()
      return t:join()
    end)
    assert.same({ false, "cancelled" }, { ok, err })
    assert.is_false(ran)
  end)

  it("cancels again at every later wait, even if the task caught the first one", function()
    local attempts = 0
    task.run(function()
      local stubborn = task.spawn(function()
        for _ = 1, 3 do
          attempts = attempts + 1
          pcall(task.sleep, 3600)
        end
        return task.cancelled()
      end)
      task.yield()
      stubborn:cancel()
      assert.same({ true, true }, { stubborn:join() })
    end)
    assert.equal(3, attempts)
  end)

  it("lets shielded cleanup wait after a cancel, then cancels at the next wait", function()
    local steps = {}
    local ok, err = task.run(function()
      local worker = task.spawn(function()
        local _, why = pcall(task.sleep, 3600)
        steps[#steps + 1] = why
        task.shielded(function()
          task.sleep(0.01)                     -- would raise "cancelled" unshielded
          steps[#steps + 1] = "cleaned up"
          task.shielded(task.sleep, 0.01)      -- nesting keeps the shield
          steps[#steps + 1] = "nested"
        end)
        steps[#steps + 1] = tostring(task.cancelled())
        task.sleep(3600)
        steps[#steps + 1] = "never"
      end)
      task.yield()
      worker:cancel()
      return worker:join()
    end)
    assert.same({ false, "cancelled" }, { ok, err })
    assert.same({ "cancelled", "cleaned up", "nested", "true" }, steps)
  end)

  it("holds a cancel that arrives during the shield until it ends", function()
    local order = {}
    task.run(function()
      local worker = task.spawn(function()
        task.shielded(function()
          task.sleep(0.05)
          order[#order + 1] = "shield done"
        end)
        local ok = pcall(task.sleep, 3600)
        order[#order + 1] = ok and "slept" or "cancelled after"
      end)
      task.yield()
      worker:cancel()
      worker:join()
    end)
    assert.same({ "shield done", "cancelled after" }, order)
  end)

  it("cancels the tasks left behind when run's function returns", function()
    local cleaned = false
    task.run(function()
      task.spawn(function()
        local _guard <close> = setmetatable({}, { __close = function() cleaned = true end })
        task.sleep(3600)
      end)
      task.yield()
    end)
    assert.is_true(cleaned)
  end)
end)

describe("task.parallel #c", function()
  it("returns results in input order whatever order they finish in", function()
    local finished = {}
    local results, failures = task.parallel({ 5, 4, 3, 2, 1 }, function(n)
      task.sleep(n * 0.0005)
      finished[#finished + 1] = n
      return n * 10
    end)
    assert.same({ 50, 40, 30, 20, 10 }, results)
    assert.same({}, failures)
    assert.same({ 1, 2, 3, 4, 5 }, finished)
  end)

  it("collects a failing item's error and keeps its siblings' results", function()
    local results, failures = task.parallel({ "a", "b", "c", "d" }, function(item)
      task.yield()
      if item == "b" or item == "d" then error("no " .. item, 0) end
      return item:upper()
    end)
    assert.same({ "A", nil, "C" }, { results[1], results[2], results[3] })
    assert.equal(2, #failures)
    assert.same({ 2, "b", "no b" }, { failures[1].index, failures[1].item, failures[1].error })
    assert.same({ 4, "d", "no d" }, { failures[2].index, failures[2].item, failures[2].error })
    assert.matches("stack traceback", failures[1].traceback)
  end)

  it("never runs more than `limit` items at once", function()
    local running, peak = 0, 0
    task.parallel({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, function()
      running = running + 1
      peak = math.max(peak, running)
      task.sleep(0.0005)
      running = running - 1
    end, { limit = 3 })
    assert.equal(3, peak)
  end)

  it("handles an empty list", function()
    local results, failures = task.parallel({}, function() error("never") end)
    assert.same({}, results)
    assert.same({}, failures)
  end)

  it("rejects a limit below one", function()
    assert.has_error(function() task.parallel({ 1 }, print, { limit = 0 }) end)
  end)
end)

describe("task.timeout #c", function()
  it("returns the function's results when it finishes in time", function()
    assert.same({ true, 42, "x" },
      { task.timeout(5, function() task.yield(); return 42, "x" end) })
  end)

  it("cancels the function and returns false, 'timeout' when time runs out", function()
    local cleaned = false
    local ok, err = task.timeout(0.001, function()
      local _guard <close> = setmetatable({}, { __close = function() cleaned = true end })
      task.sleep(3600)
    end)
    assert.same({ false, "timeout" }, { ok, err })
    assert.is_true(cleaned)
  end)

  it("returns false and the error when the function fails", function()
    assert.same({ false, "bad" }, { task.timeout(1, function() error("bad", 0) end) })
  end)
end)
