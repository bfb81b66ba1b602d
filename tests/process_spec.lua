-- runbook.process (runtime/process.c): programs run inside the event loop, for the local
-- cmdlet transport. #c
local task = require "runbook.task"
local process = require "runbook.process"

local function run(argv, options)
  return task.run(function() return process.run(argv, options) end)
end

describe("process.run #c", function()
  it("returns stdout, stderr and the exit status, with no shell in between", function()
    local r = assert(run { "sh", "-c", "echo out; echo err >&2; exit 3" })
    assert.same({ stdout = "out\n", stderr = "err\n", status = 3 }, r)
    assert.equal("$(x); `y`\n", assert(run { "echo", "$(x); `y`" }).stdout)
  end)

  it("feeds stdin while reading a big output, without a pipe filling up", function()
    local input = ("0123456789abcdef"):rep(1 << 16)          -- 1 MiB each way
    local r = assert(run({ "sh", "-c", "cat; cat >&2 </dev/null; head -c 1048576 /dev/zero >&2" },
                         { stdin = input }))
    assert.equal(input, r.stdout)
    assert.equal(1 << 20, #r.stderr)
    assert.equal(0, r.status)
  end)

  it("reports the signal that ended the program as 128 + signal", function()
    assert.equal(128 + 15, assert(run { "sh", "-c", "kill -TERM $$" }).status)
  end)

  it("kills a program that outlives its timeout", function()
    local started = task.run(task.now)
    local r, message, code = run({ "sleep", "30" }, { timeout = 0.2 })
    assert.is_nil(r)
    assert.equal("timeout", code)
    assert.matches("killed", message)
    assert.is_true(task.run(task.now) - started < 5)
  end)

  it("kills the program when its task is cancelled", function()
    local dir = os.tmpname()
    local ok, err = task.run(function()
      local worker = task.spawn(process.run, { "sh", "-c", "echo $$ > " .. dir .. "; exec sleep 30" })
      while true do
        local f = io.open(dir)
        local pid = f and f:read("n")
        if f then f:close() end
        if pid then break end
        task.sleep(0.01)
      end
      worker:cancel()
      return worker:join()
    end)
    assert.same({ false, "cancelled" }, { ok, err })
    local f = io.open(dir)
    local pid = f:read("n")
    f:close()
    os.remove(dir)
    assert.is_false(os.execute("kill -0 " .. pid .. " 2>/dev/null") == true)
  end)

  it("says when a program cannot start", function()
    local r, message, code = run { "/nonexistent/powershell" }
    assert.is_nil(r)
    assert.equal("missing", code)
    assert.matches("cannot start /nonexistent/powershell: No such file", message, 1, true)
  end)

  it("raises on misuse", function()
    assert.has_error(function() run {} end)
    assert.has_error(function() run { "echo", 1 } end)
    assert.has_error(function() process.run { "echo" } end)   -- outside a task
  end)
end)
