-- kill -9 during the failover against the embedded lab, then resume: nothing done twice,
-- the interrupted run's values kept, its rollback with what it saw. Set-up in
-- tests/helpers/embedded.lua.
local cjson = require "cjson"
local support = require "support"
local quote, slurp = support.quote, support.slurp
local e = require("helpers.embedded").use()
before_each(e.fresh)
after_each(e.clean)
local runbook, lync_state, site_route = e.runbook, e.lync_state, e.site_route
local services, a_record, journal_events = e.services, e.a_record, e.journal_events
local assert_failed_over = e.assert_failed_over

describe("kill -9 during the failover, then resume", function()
  -- The zone as a real estate has it before a failover: the SRV record names the old pool's
  -- host, so that the SRV step has a change to make as well (the lab's own zone names
  -- xmpp.contoso.com already). The plan makes the lab write its files first.
  local function seed_zone()
    assert.equal(0, runbook("plan xmpp-failover").code)
    local path = e.lab_dir .. "/dns-zone.json"
    local zone = cjson.decode(slurp(path))
    zone.versions[1]["_xmpp-server._tcp.contoso.com SRV"][1].target = "edge1.contoso.com"
    support.write(path, cjson.encode(zone))
  end

  -- What the crashed journal holds of a step: intents and outcomes.
  local function journaled(step)
    local intents, outcomes = 0, 0
    for _, event in ipairs(journal_events()) do
      if event.step == step and event.event == "intent" then intents = intents + 1 end
      if event.step == step and event.event == "outcome" then outcomes = outcomes + 1 end
    end
    return intents, outcomes
  end

  -- From the lab itself, not from the journal: every cmdlet change was made exactly once
  -- (the emulator counts each call), every service of the new pool stopped and started
  -- once, the route set once, and the zone went through the A and the SRV change once each.
  local function assert_applied_once()
    local applied = lync_state().applied
    for what, count in pairs(applied) do assert.equal(1, count, what .. " applied twice") end
    assert.equal(1, applied["Set-CsSite Site2"])
    for _, edge in ipairs { "edge2a.contoso.com", "edge2b.contoso.com" } do
      for name in pairs(services(edge)) do
        if name ~= "REPLICA" then
          assert.equal(1, applied[("Stop-CsWindowsService %s %s"):format(edge, name)], edge .. name)
        end
        assert.equal(1, applied[("Start-CsWindowsService %s %s"):format(edge, name)], edge .. name)
      end
    end
    -- the A and the SRV record each changed once (the run's lease record comes and goes too)
    local zone = cjson.decode(slurp(e.lab_dir .. "/dns-zone.json"))
    for _, rrset in ipairs { "xmpp.contoso.com A", "_xmpp-server._tcp.contoso.com SRV" } do
      local changes = 0
      for i = 2, #zone.versions do
        if cjson.encode(zone.versions[i][rrset]) ~= cjson.encode(zone.versions[i - 1][rrset]) then
          changes = changes + 1
        end
      end
      assert.equal(1, changes, rrset .. " changed more than once")
    end
  end

  -- Every step of the shipped runbook that changes something; a fan-out step is also
  -- killed between its hosts.
  local moments = {
    single = { "first-host", "boundary" },
    fan_out = { "first-host", "next-host", "all-hosts", "boundary" },
  }
  local said = { ["first-host"] = "right after its (first Edge server's) change",
    ["next-host"] = "between its first and second Edge server",
    ["all-hosts"] = "right after its last Edge server's change",
    ["boundary"] = "at the step boundary, after its outcome" }
  for _, step in ipairs(dofile("runbooks/xmpp-failover.lua").steps) do
    -- the SRV step fans out over the SIP domains: the lab has one (gap 3's test has two)
    local fans = step.hosts and step.id ~= "dns-srv-record"
    for _, moment in ipairs(step.run and moments[fans and "fan_out" or "single"] or {}) do
      it(("killed %s %s: resume ends failed over, no change applied twice"):format(
          step.id, said[moment]), function()
        seed_zone()
        -- the old pool's step changes something only in planned mode (issue 18, gap 7)
        local mode = step.id == "old-pool-xmpp" and "--set mode=planned " or ""
        local r = runbook("run --yes " .. mode .. quote(support.crash_hook(e.scratch, step.id,
                                                                          moment)))
        assert.equal(137, r.code, r.out .. r.err)
        local intents, outcomes = journaled(step.id)
        if moment == "boundary" then
          assert.is_true(outcomes > 0 and outcomes == intents, "outcomes journaled")
        elseif moment == "next-host" then
          assert.same({ 1, 1 }, { intents, outcomes })
        else
          assert.equal(intents - 1, outcomes, "the last change's outcome is not journaled")
        end
        r = runbook("resume --yes " .. quote(support.crashed_journal(e.scratch .. "/state")))
        assert.equal(0, r.code, r.out .. r.err)
        assert_failed_over()
        assert_applied_once()
      end)
    end
  end
end)

describe("resume keeps the interrupted run's --set values", function()
  -- every runbook() call adds --set lab.state_dir=…: the resume gives a --set of its own
  it("changes the A record once, to the public IP the interrupted run was given", function()
    local r = runbook("run --yes --rollback never --set public_ip=192.0.2.77 "
      .. quote(support.crash_hook(e.scratch, "dns-a-record")))
    assert.equal(137, r.code)
    local journal = support.crashed_journal(e.scratch .. "/state")
    -- a resume that would change a value the interrupted run had is refused, changing nothing
    r = runbook("resume --yes --set public_ip=203.0.113.10 " .. quote(journal))
    assert.equal(2, r.code)
    assert.matches("would change public_ip, which the interrupted run had as \"192%.0%.2%.77\"",
      r.err)
    r = runbook("resume --yes --rollback never " .. quote(journal))
    assert.equal(1, r.code, r.out .. r.err)   -- no Edge pool answers on 192.0.2.77
    assert.equal("192.0.2.77", a_record())
    local changes = 0
    for _, event in ipairs(journal_events()) do
      if event.event == "intent" and event.step == "dns-a-record" then changes = changes + 1 end
    end
    assert.equal(1, changes)
  end)
end)

describe("a resumed run rolls back with what the interrupted run saw", function()
  it("restores the route journaled before the crash, and the change it settled", function()
    local r = runbook("run --yes " .. quote(support.crash_hook(e.scratch, "federation-route")))
    assert.equal(137, r.code)
    local journal = support.crashed_journal(e.scratch .. "/state")
    local remembered
    for line in slurp(journal):gmatch("[^\n]+") do
      local record = cjson.decode(line)
      if record.event == "data" and record.key == "previous_route" then remembered = record end
    end
    assert.is_false(remembered.value)
    -- the resumed run's first DNS update (the A record: its lease is its own already) fails
    r = runbook("resume --yes --rollback auto --set lab.fail_update=1 " .. quote(journal))
    assert.equal(1, r.code, r.out .. r.err)
    assert.matches("rolling back: Set%-CsSite.* ✓", r.out)
    assert.is_nil(r.out:find("not journaled", 1, true))
    assert.is_nil(site_route("Site2"))
    assert.equal("198.51.100.10", a_record())
    -- the fan-out step of the interrupted run is rolled back on its hosts too
    assert.matches("rolling back: Stop%-CsWindowsService.*@ edge2a.contoso.com ✓", r.out)
    for name, status in pairs(services("edge2a.contoso.com")) do
      assert.equal("Running", status, name)
    end
  end)
end)
