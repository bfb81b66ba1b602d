-- runbook.fs (runtime/fs.c): the run lock (flock), absolute paths, and appends that make the
-- new file's name durable. The lock is tested in this process and between processes that
-- race for it; the journal's use of it in engine_resume_spec.lua.
local fs = require "runbook.fs"
local support = require "support"
local quote, write, slurp = support.quote, support.write, support.slurp

local scratch
before_each(function() scratch = support.tmpdir() end)
after_each(function() os.execute("rm -rf " .. quote(scratch)) end)

describe("fs.lock", function()
  it("refuses a second holder with the holder's pid until released", function()
    local path = scratch .. "/x.lock"
    local lock = assert(fs.lock(path))
    local again, message, code, holder = fs.lock(path)
    assert.is_nil(again)
    assert.equal("locked", code)
    assert.equal(fs.pid(), holder)
    assert.matches("x%.lock is held by process " .. fs.pid(), message)
    lock:release()
    lock:release()                                  -- twice is harmless
    assert.truthy(fs.lock(path))
  end)

  it("lets go when the handle is closed or collected", function()
    local path = scratch .. "/x.lock"
    do
      local _lock <close> = assert(fs.lock(path))
      assert.is_nil(fs.lock(path))
    end
    assert.truthy(fs.lock(path))                     -- no reference kept: garbage at once
    collectgarbage()
    collectgarbage()
    assert.truthy(fs.lock(path))
  end)

  it("takes a lock file that names a process that is gone: nothing is stale", function()
    local path = write(scratch .. "/x.lock", "999999999\n")
    local lock = assert(fs.lock(path))
    assert.equal(fs.pid() .. "\n", slurp(path))
    lock:release()
  end)

  it("says why when the lock file cannot be made", function()
    local lock, message, code = fs.lock(scratch .. "/no/such/dir/x.lock")
    assert.is_nil(lock)
    assert.equal("missing", code)
    assert.matches("cannot open", message)
  end)

  it("lets exactly one of eight racing processes hold it; the others name that one", function()
    local path, done = scratch .. "/race.lock", scratch .. "/done"
    local script = write(scratch .. "/race.lua", ([[
      local fs = require "runbook.fs"
      local lock, _, code, holder = fs.lock(%q)
      if not lock then print("refused " .. code .. " " .. holder) return end
      print("won " .. fs.pid())
      for _ = 1, 1000 do
        if fs.stat(%q) then break end
        task.sleep(0.01)
      end
    ]]):format(path, done))
    local r = support.sh(([[
      cd %s || exit 99
      for i in 1 2 3 4 5 6 7 8; do %s run %s >out.$i 2>&1 & done
      i=0; while [ "$(cat out.* | grep -c refused)" -lt 7 ] && [ $i -lt 1000 ]; do
        sleep 0.01; i=$((i+1)); done
      touch %s; wait; cat out.*]]):format(quote(scratch), quote(support.bin), quote(script),
      quote(done)))
    local winners, refusals = {}, {}
    for pid in r.out:gmatch("won (%d+)") do winners[#winners + 1] = pid end
    for holder in r.out:gmatch("refused locked (%d+)") do refusals[#refusals + 1] = holder end
    assert.equal(1, #winners, r.out)
    assert.equal(7, #refusals, r.out)
    for _, holder in ipairs(refusals) do assert.equal(winners[1], holder) end
  end)
end)

describe("fs.realpath", function()
  it("makes a path relative to the working directory absolute", function()
    write(scratch .. "/inventory.lua", "return {}")
    write(scratch .. "/where.lua", 'print(require("runbook.fs").realpath("inventory.lua"))')
    local r = support.sh(("cd %s && %s run where.lua"):format(quote(scratch), quote(support.bin)))
    assert.equal(fs.realpath(scratch) .. "/inventory.lua\n", r.out)
    assert.equal("/", fs.realpath(scratch):sub(1, 1))
  end)

  it("says why when the path does not exist", function()
    local missing, message, code = fs.realpath(scratch .. "/none")
    assert.is_nil(missing)
    assert.equal("missing", code)
    assert.matches("cannot resolve .*/none", message)
  end)
end)

describe("fs.append", function()
  it("fsyncs the directory once, when it creates the file", function()
    assert(os.execute("command -v strace >/dev/null 2>&1"),
      "strace is missing: vendor/install.sh test installs it")
    write(scratch .. "/append.lua", [[
      local fs = require "runbook.fs"
      for i = 1, 3 do assert(fs.append("journal/run.jsonl", "line " .. i .. "\n")) end
    ]])
    os.execute("mkdir " .. quote(scratch .. "/journal"))
    -- LeakSanitizer stops the world with ptrace, which strace already holds: off for this one
    local r = support.sh(("cd %s && ASAN_OPTIONS=detect_leaks=0 strace -f -y -e trace=fsync "
      .. "-o trace %s run append.lua"):format(quote(scratch), quote(support.bin)))
    assert.equal(0, r.code, r.err)
    assert.equal("line 1\nline 2\nline 3\n", slurp(scratch .. "/journal/run.jsonl"))
    local trace = slurp(scratch .. "/trace")
    local _, file_syncs = trace:gsub("fsync%(%d+<[^>]*/journal/run%.jsonl>%) = 0", "")
    local _, directory_syncs = trace:gsub("fsync%(%d+<[^>]*/journal>%) = 0", "")
    assert.equal(3, file_syncs, trace)
    assert.equal(1, directory_syncs, trace)
  end)
end)
