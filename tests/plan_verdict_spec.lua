-- What `runbook plan` answers a script (modules/runbook/cli.lua plan_verdict): its last
-- line, also with -q; a summary event ending --json as in run; with --detailed-exitcode,
-- nothing to change (0), changes pending (6) and blocked (1, 5) told apart. Against the
-- embedded lab, through the binary.
local cjson = require "cjson"
local support = require "support"
local quote = support.quote

local scratch
before_each(function() scratch = support.tmpdir() end)
after_each(function() os.execute("rm -rf " .. quote(scratch)) end)

local function runbook(args) return support.on_lab(scratch, args) end

-- The plan's steps by status, counted from its plan_step events (the runbook may grow).
local function counted(out)
  local counts = { change = 0, done = 0, pending = 0, blocked = 0 }
  for line in out:gmatch("[^\n]+") do
    local event = cjson.decode(line)
    if event.event == "plan_step" then counts[event.status] = counts[event.status] + 1 end
  end
  return counts
end

local function last_event(out)
  local last
  for line in out:gmatch("[^\n]+") do last = cjson.decode(line) end
  return last
end

describe("runbook plan with changes pending", function()
  it("says so in one line with -q, and exits 0 without --detailed-exitcode", function()
    local r = runbook("plan -q xmpp-failover")
    assert.equal(0, r.code, r.err)
    local n = counted(runbook("plan --json xmpp-failover").out)
    assert.is_true(n.change >= 4)
    assert.equal(("[sim] plan: %d steps to change, %d already done, %d checked again after them\n")
      :format(n.change, n.done, n.pending), r.out)
  end)

  it("exits 6 with --detailed-exitcode", function()
    local r = runbook("plan -q --detailed-exitcode xmpp-failover")
    assert.equal(6, r.code, r.err)
  end)

  it("ends --json with a summary event counting the steps", function()
    local r = runbook("plan --json --detailed-exitcode xmpp-failover")
    assert.equal(6, r.code, r.err)
    local n = counted(r.out)
    assert.same({ event = "summary", plan = true, ok = true, change = n.change, done = n.done,
                  pending = n.pending }, last_event(r.out))
  end)

  it("says the verdict in the chosen language", function()
    local r = runbook("plan -q --lang de xmpp-failover")
    assert.matches("Plan: %d+ Schritte zu ändern, %d+ bereits erledigt, %d+ danach erneut geprüft",
                   r.out)
  end)
end)

describe("runbook plan with nothing to change", function()
  it("exits 0 with --detailed-exitcode and says nothing is to change", function()
    assert.equal(0, runbook("run --yes -q xmpp-failover").code)
    local r = runbook("plan -q --detailed-exitcode xmpp-failover")
    assert.equal(0, r.code, r.err)
    local json = runbook("plan --json --detailed-exitcode xmpp-failover")
    local steps = counted(json.out).done
    assert.equal(("[sim] plan: nothing to change (%d steps already done)\n"):format(steps), r.out)
    assert.same({ event = "summary", plan = true, ok = true, change = 0, done = steps,
                  pending = 0 }, last_event(json.out))
  end)
end)

describe("runbook plan that is blocked", function()
  it("exits 1 when a check blocks, with the step in the summary", function()
    local r = runbook("plan --json --detailed-exitcode --set lab.fault=no-services xmpp-failover")
    assert.equal(1, r.code, r.err)
    local summary = last_event(r.out)
    assert.equal("summary", summary.event)
    assert.is_true(summary.plan)
    assert.is_false(summary.ok)
    assert.is_true(summary.blocked)
    assert.is_nil(summary.preflight)
    assert.is_string(summary.step)
    assert.is_string(summary.error)
  end)

  it("exits 5 when preflight finds a capability missing, and says it with -q", function()
    local r = runbook("plan -q --detailed-exitcode --set lab.fault=dns-refused xmpp-failover")
    assert.equal(5, r.code, r.err)
    assert.matches("cannot start: a capability the run needs is missing", r.out)
    local json = runbook("plan --json --set lab.fault=dns-refused xmpp-failover")
    assert.is_true(last_event(json.out).preflight)
  end)

  it("refuses --detailed-exitcode on run (exit 2)", function()
    local r = runbook("run --detailed-exitcode --yes xmpp-failover")
    assert.equal(2, r.code)
    assert.matches("`run` does not take %-%-detailed%-exitcode", r.err)
  end)
end)
