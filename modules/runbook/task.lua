--- runbook.task — concurrency for runbooks and modules.
-- A task is a coroutine scheduled by the C event loop (runtime/loop.c). A primitive that
-- waits for the network parks its task and the loop runs the others meanwhile, so "stop
-- the services on 40 Edge servers" takes as long as the slowest server, not the sum.
--
-- Conventions: an error inside a task stays with that task until someone joins it;
-- `parallel` and `timeout` hand errors back as values and never drop them. A cancelled
-- task receives the error string "cancelled" at its next wait.
local core = require "runbook.task.core"

local M = {
  spawn = core.spawn,          -- spawn(fn, ...) -> handle
  sleep = core.sleep,          -- sleep(seconds)
  yield = core.yield,          -- let the other ready tasks run once
  current = core.current,      -- handle of the running task, or nil
  cancelled = core.cancelled,  -- has the running task been asked to stop?
  now = core.now,              -- the loop's monotonic clock, in seconds
  interrupted = core.interrupted,
  planning = core.planning,              -- is this process only planning?
  check_mutation = core.check_mutation,  -- check_mutation(what): raises while planning
}

--- run(fn, ...) -> fn's results. Runs fn as a task and drives the loop until it ends;
-- tasks it leaves behind are cancelled and wound down. Raises fn's error.
function M.run(fn, ...)
  local main = core.spawn(fn, ...)
  local finished = core.drive(main)
  local outcome = table.pack(main:result())
  if not finished then
    error("every task is waiting for something that can never happen (deadlock)", 2)
  end
  if not outcome[1] then error(outcome[2], 0) end
  return table.unpack(outcome, 2, outcome.n)
end

--- shielded(fn, ...) -> fn's results. Runs fn with cancellation held back, also when the
-- task was cancelled already: for cleanup that must reach a server after Ctrl-C (closing
-- a remote shell). fn must bound its own waits (timeouts); the held cancellation raises at
-- the task's first wait after the shield. A second Ctrl-C still ends the process.
function M.shielded(fn, ...)
  core.shield(true)
  local outcome = table.pack(pcall(fn, ...))
  core.shield(false)
  if not outcome[1] then error(outcome[2], 0) end
  return table.unpack(outcome, 2, outcome.n)
end

local exit_handlers = {}

--- at_exit(fn): fn runs once the command's work ended (run, plan, resume, repl), after
-- Ctrl-C too, in a task of its own with cancellation held back: for what a module keeps
-- open for the whole run (persistent PowerShell sessions, pooled connections). fn must
-- bound its own waits. A module registers once, when it loads.
function M.at_exit(fn)
  assert(type(fn) == "function", "task.at_exit: fn must be a function")
  exit_handlers[#exit_handlers + 1] = fn
end

--- run_exit_handlers(): the command line calls it when the command's task ended; each
-- handler's error is dropped (the command's outcome is already decided).
function M.run_exit_handlers()
  local closing = core.spawn(function()
    for _, fn in ipairs(exit_handlers) do M.shielded(pcall, fn) end
  end)
  core.drive(closing)
end

--- read_only(fn, ...) -> fn's results. Runs fn in a read-only child task, where every
-- primitive that could change a system refuses (a step's hosts, check and verify; the
-- preflight's provers); raises what fn raised.
function M.read_only(fn, ...)
  local args = table.pack(...)
  local child = core.spawn(function()
    core.set_read_only()
    return fn(table.unpack(args, 1, args.n))
  end)
  local outcome = table.pack(child:join())
  if not outcome[1] then error(outcome[2], 0) end
  return table.unpack(outcome, 2, outcome.n)
end

-- Runs fn in a task: directly when already inside one, through run() otherwise.
local function in_task(fn, ...)
  if core.current() then return fn(...) end
  return M.run(fn, ...)
end

local function with_traceback(err)
  if err == "cancelled" then return err end
  return { error = err, traceback = debug.traceback(tostring(err), 2) }
end

-- Join every worker; if this task is cancelled meanwhile, cancel them too.
local function join_all(workers)
  for _, worker in ipairs(workers) do
    local ok, err = pcall(worker.join, worker)
    if not ok then
      for _, other in ipairs(workers) do other:cancel() end
      error(err, 0)
    end
  end
end

--- parallel(items, fn, {limit=}) -> results, failures
-- Calls fn(item, index) for every item, at most `limit` at once (default: all).
-- results[i] is fn's first result for items[i]; failures lists, in input order,
-- {index=, item=, error=, traceback=} for every item whose fn raised.
function M.parallel(items, fn, options)
  local limit = options and options.limit or math.max(#items, 1)
  assert(type(items) == "table", "task.parallel: items must be a list")
  assert(math.type(limit) == "integer" and limit >= 1, "task.parallel: limit must be >= 1")
  return in_task(function()
    local results, failed, next_index = {}, {}, 1
    local function worker()
      while next_index <= #items do
        local index = next_index
        next_index = index + 1
        local ok, value = xpcall(fn, with_traceback, items[index], index)
        if ok then
          results[index] = value
        elseif value == "cancelled" then
          error(value, 0)
        else
          failed[index] = { index = index, item = items[index],
                            error = value.error, traceback = value.traceback }
        end
      end
    end
    local workers = {}
    for i = 1, math.min(limit, #items) do workers[i] = core.spawn(worker) end
    join_all(workers)
    local failures = {}
    for index = 1, #items do failures[#failures + 1] = failed[index] end
    return results, failures
  end)
end

--- timeout(seconds, fn, ...) -> true, fn's results | false, error
-- The error is "timeout" when fn did not finish in time; fn is then cancelled.
function M.timeout(seconds, fn, ...)
  assert(type(seconds) == "number" and seconds >= 0, "task.timeout: seconds must be >= 0")
  local args = table.pack(...)
  return in_task(function()
    local child = core.spawn(fn, table.unpack(args, 1, args.n))
    local joined = table.pack(pcall(child.join, child, seconds))
    if not joined[1] then child:cancel(); error(joined[2], 0) end
    if joined[2] == nil then
      child:cancel()
      child:join()
      return false, "timeout"
    end
    return table.unpack(joined, 2, joined.n)
  end)
end

return M
