-- `runbook run RUNBOOK --metrics FILE` (modules/runbook/metrics.lua): the readiness audit's
-- verdicts as node_exporter textfile gauges — one per check and per host of a check (each
-- Edge pool), readiness, last run time and duration — written whole. Through the binary,
-- against the embedded lab.
local support = require "support"
local quote = support.quote

local scratch
before_each(function() scratch = support.tmpdir() end)
after_each(function() os.execute("rm -rf " .. quote(scratch)) end)

local function runbook(args) return support.on_lab(scratch, args) end

-- The samples of the file: name{labels} -> value
local function samples(text)
  local found = {}
  for line in text:gmatch("[^\n]+") do
    if not line:match("^#") then
      local series, value = line:match("^(%S+) (%S+)$")
      assert.truthy(series, "a sample line: " .. line)
      found[series] = tonumber(value)
    end
  end
  return found
end

describe("runbook run --metrics", function()
  it("writes a gauge per check and per pool, readiness, time and duration", function()
    local file = scratch .. "/runbook.prom"
    local before = os.time()
    local r = runbook("run --yes -q --metrics " .. quote(file) .. " xmpp-dr-readiness")
    assert.equal(1, r.code)          -- the lab's second pool has no SRV record of its own
    local text = support.slurp(file)
    assert.matches("# TYPE runbook_check_ok gauge\n", text)
    local s = samples(text)
    local id = 'runbook="xmpp-dr-readiness"'
    assert.equal(0, s["runbook_check_ok{" .. id .. ',step="srv-per-pool"}'])
    assert.equal(1, s["runbook_check_ok{" .. id .. ',step="services-running"}'])
    for _, pool in ipairs { "edgepool1.contoso.com", "edgepool2.contoso.com" } do
      assert.equal(1, s["runbook_check_host_ok{" .. id .. ',step="federation-each-pool",host="'
        .. pool .. '"}'], pool)
    end
    assert.equal(0, s["runbook_ready{" .. id .. "}"])
    assert.equal(0, s["runbook_preflight_blockers{" .. id .. "}"])
    local at = s["runbook_last_run_timestamp_seconds{" .. id .. "}"]
    assert.is_true(at >= before and at <= os.time() + 1)
    local took = s["runbook_last_run_duration_seconds{" .. id .. "}"]
    assert.is_true(took > 0 and took < 30)
  end)

  it("says the estate is ready once every check holds", function()
    local file = scratch .. "/runbook.prom"
    local r = runbook("run --yes -q --metrics " .. quote(file) .. " xmpp-failover")
    assert.equal(0, r.code, r.err)
    r = runbook("run --yes -q --metrics " .. quote(file) .. " xmpp-failover")
    assert.equal(0, r.code, r.err)          -- nothing to change: every check holds
    assert.equal(1, samples(support.slurp(file))['runbook_ready{runbook="xmpp-failover"}'])
  end)

  it("replaces the file whole, leaving no temporary file beside it", function()
    local file = scratch .. "/runbook.prom"
    support.write(file, "old\n")
    runbook("run --yes -q --metrics " .. quote(file) .. " xmpp-dr-readiness")
    assert.matches("^# HELP runbook_check_ok", support.slurp(file))
    local left = support.sh("ls " .. quote(scratch)).out
    assert.is_nil(left:find(".tmp.", 1, true), left)
  end)

  it("goes on when the file cannot be written, and says why", function()
    local r = runbook("run --yes -q --metrics /nonexistent/dir/x.prom xmpp-dr-readiness")
    assert.equal(1, r.code)
    assert.matches("%-%-metrics /nonexistent/dir/x%.prom: not written: ", r.err)
  end)
end)
