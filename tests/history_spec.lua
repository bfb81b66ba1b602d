-- `runbook history` (modules/runbook/history.lua): the runs of the state directory, newest
-- first, read from their journals; --resumable, --json, --lang. Runs of the shipped failover
-- against the embedded lab, through the binary.
local cjson = require "cjson"
local support = require "support"
local quote = support.quote

local scratch
before_each(function() scratch = support.tmpdir() end)
after_each(function() os.execute("rm -rf " .. quote(scratch)) end)

local function runbook(args, env)
  return support.sh(("RUNBOOK_STATE_DIR=%s %s %s %s"):format(quote(scratch .. "/state"),
    env or "", quote(support.bin), args))
end

local function history_json(args)
  local r = runbook("history --json " .. (args or ""))
  assert.equal(0, r.code, r.err)
  local runs = {}
  for line in r.out:gmatch("[^\n]+") do runs[#runs + 1] = cjson.decode(line) end
  return runs
end

describe("runbook history", function()
  it("says where it looked when no run is recorded", function()
    local r = runbook("history")
    assert.equal(0, r.code, r.err)
    assert.equal("no run recorded in " .. scratch .. "/state\n", r.out)
  end)

  it("lists a finished, a rolled-back and a failed run, newest first", function()
    assert.equal(0, runbook("run --yes -q xmpp-failover", "USER=alice").code)
    assert.equal(1, runbook("run --yes -q --rollback auto --set lab.fault=stuck-service "
      .. "xmpp-failover").code)
    assert.equal(1, runbook("run --yes -q --rollback never --set lab.fault=stuck-service "
      .. "xmpp-failover").code)
    local runs = history_json()
    assert.equal(3, #runs)
    local failed, rolled_back, done = runs[1], runs[2], runs[3]
    assert.same({ "failed", "rolled-back", "done" },
                { failed.result, rolled_back.result, done.result })
    assert.equal("xmpp-failover", done.runbook)
    assert.equal("alice", done.user)
    local outcomes = 0                     -- each step × host the run changed, once
    for _ in support.slurp(done.journal):gmatch('"event":"outcome"') do outcomes = outcomes + 1 end
    assert.is_true(outcomes >= 7)          -- 2 stopped, route, replication, A, 2 started …
    assert.equal(outcomes, done.changes)
    assert.equal(0, rolled_back.changes)   -- every change restored
    assert.equal(2, failed.changes)        -- both Edge servers left half-stopped
    assert.equal("stop-services", failed.step)
    assert.matches("/examples/lab%.lua$", done.inventory)
    assert.is_true(done.duration > 0 and done.duration < 60)
    for _, run in ipairs(runs) do assert.is_false(run.resumable) end
    local text = runbook("history").out
    assert.matches("xmpp%-failover  done +" .. outcomes
      .. " changes +[%d.]+ s  lab%.lua by alice\n",
      text)
    assert.matches("failed, rolled back %(stop%-services%)  0 changes", text)
    assert.matches("\n    " .. scratch:gsub("%p", "%%%0") .. "/state/xmpp%-failover%-", text)
  end)

  it("lists with --resumable only the run resume can take, with the command", function()
    assert.equal(0, runbook("run --yes -q xmpp-failover").code)
    local crash = support.crash_hook(scratch, "federation-route")
    local killed = runbook("run --yes -q " .. quote(crash))
    assert.equal(137, killed.code)
    local journal = support.crashed_journal(scratch .. "/state")
    local runs = history_json("--resumable")
    assert.equal(1, #runs)
    assert.equal(journal, runs[1].journal)
    assert.equal("crashed", runs[1].result)
    assert.is_true(runs[1].resumable)
    local text = runbook("history --resumable").out
    assert.matches("ended without a record %(killed%?%)", text)
    assert.matches("\n    runbook resume " .. journal:gsub("%p", "%%%0") .. "\n", text)
    assert.equal(0, runbook("resume --yes -q " .. quote(journal)).code)
    assert.same({}, history_json("--resumable"))
    assert.equal("done", history_json()[1].result)
  end)

  it("calls a run running only while the process that began it lives", function()
    assert.equal(0, runbook("run --yes -q xmpp-failover").code)
    local journal = history_json()[1].journal
    local start = cjson.decode(support.slurp(journal):match("^[^\n]+"))
    local plan = support.slurp(journal):match("^[^\n]+\n([^\n]+\n)")
    -- a process named runbook holding a pid, as a later run would after pid reuse
    support.sh("cp /bin/sleep " .. quote(scratch .. "/runbook"))
    local holder = support.sh(quote(scratch .. "/runbook") .. " 60 >/dev/null 2>&1 & echo $!")
    local pid = assert(tonumber(holder.out))
    finally(function() support.sh("kill " .. pid) end)
    local function rewritten(t)  -- the run, killed after its plan, with this pid and start
      start.pid, start.t = pid, t
      local file = assert(io.open(journal, "w"))
      file:write(cjson.encode(start), "\n", plan)
      file:close()
      return history_json()[1].result
    end
    assert.equal("crashed", rewritten(os.time() - 3600))  -- the pid's process began later
    assert.equal("running", rewritten(os.time() + 60))    -- it began before the journal
  end)

  it("speaks the chosen language", function()
    assert.equal(1, runbook("run --yes -q --rollback auto --set lab.fault=stuck-service "
      .. "xmpp-failover").code)
    assert.matches("fehlgeschlagen, zurückgesetzt %(stop%-services%)  0 Änderungen",
                   runbook("history --lang de").out)
    assert.matches("en échec, annulé", runbook("history --lang fr").out)
  end)

  it("takes no argument, and refuses options it does not list (exit 2)", function()
    assert.equal(2, runbook("history somefile").code)
    assert.equal(2, runbook("history --yes").code)
  end)
end)
