-- The fault matrix: for every changing step of xmpp-failover and every position of the call
-- that fails inside it (first, middle, last call; each Edge server), a run with
-- --rollback auto ends with the estate exactly as it was before the run, read from the
-- embedded lab's own state (Lync emulator state, the zone), and the summary names what it
-- restored, half-done hosts included. Rollback is by intent: a host whose run started is
-- restored whether or not its run finished.
local cjson = require "cjson"
local support = require "support"
local quote, slurp = support.quote, support.slurp

-- Each Edge server has five Lync services; stop-services stops the four but REPLICA, and
-- start-services starts all five, one call each.
local CELLS = {
  { step = "stop-services", fail = "lab.fail_call=Stop-CsWindowsService@edge2a.contoso.com#1" },
  { step = "stop-services", fail = "lab.fail_call=Stop-CsWindowsService@edge2a.contoso.com#2" },
  { step = "stop-services", fail = "lab.fail_call=Stop-CsWindowsService@edge2a.contoso.com#4" },
  { step = "stop-services", fail = "lab.fail_call=Stop-CsWindowsService@edge2b.contoso.com#1" },
  { step = "stop-services", fail = "lab.fail_call=Stop-CsWindowsService@edge2b.contoso.com#4" },
  { step = "federation-route", fail = "lab.fail_call=Set-CsSite#1" },
  { step = "dns-a-record", fail = "lab.fail_update=2" },       -- the 1st takes the lease
  { step = "start-services", fail = "lab.fail_call=Start-CsWindowsService@edge2a.contoso.com#1" },
  { step = "start-services", fail = "lab.fail_call=Start-CsWindowsService@edge2a.contoso.com#3" },
  { step = "start-services", fail = "lab.fail_call=Start-CsWindowsService@edge2a.contoso.com#5" },
  { step = "start-services", fail = "lab.fail_call=Start-CsWindowsService@edge2b.contoso.com#1" },
  { step = "start-services", fail = "lab.fail_call=Start-CsWindowsService@edge2b.contoso.com#5" },
}

-- A record as text with its fields in order ("address=… name=… ttl=… type=A").
local function record_text(record)
  local fields = {}
  for key, value in pairs(record) do fields[#fields + 1] = key .. "=" .. tostring(value) end
  table.sort(fields)
  return table.concat(fields, " ")
end

-- The estate as one comparable text: every service's status, every site's route, and the
-- records of the zone's newest version.
local function estate_of(lab_dir)
  local lync = cjson.decode(slurp(lab_dir .. "/lync-state.json"))
  local lines = {}
  for computer, services in pairs(lync.services) do
    for _, service in ipairs(services) do
      lines[#lines + 1] = ("service %s %s %s"):format(computer, service.Name, service.Status)
    end
  end
  for _, site in ipairs(lync.sites) do
    lines[#lines + 1] = ("route %s %s"):format(site.Identity, tostring(site.route))
  end
  local zone = cjson.decode(slurp(lab_dir .. "/dns-zone.json"))
  for rrset, records in pairs(zone.versions[#zone.versions]) do
    for _, record in ipairs(records) do
      lines[#lines + 1] = ("record %s %s"):format(rrset, record_text(record))
    end
  end
  table.sort(lines)
  return table.concat(lines, "\n")
end

describe("the fault matrix of xmpp-failover in the embedded lab #faults", function()
  for _, cell in ipairs(CELLS) do
    it(("restores the estate when %s fails (%s)"):format(cell.step, cell.fail), function()
      local scratch = support.tmpdir()
      local function runbook(command)
        return support.sh(("cd / && RUNBOOK_STATE_DIR=%s %s %s xmpp-failover --set "
          .. "lab.state_dir=%s --set %s"):format(quote(scratch .. "/state"),
          quote(support.bin), command, quote(scratch .. "/lab"), cell.fail))
      end
      os.execute("mkdir -p " .. quote(scratch .. "/lab"))
      local plan = runbook("plan")
      assert.equal(0, plan.code, plan.out .. plan.err)
      local before = estate_of(scratch .. "/lab")
      local run = runbook("run --yes --rollback auto")
      local after = estate_of(scratch .. "/lab")
      os.execute("rm -rf " .. quote(scratch))
      assert.equal(1, run.code, run.out .. run.err)
      assert.matches("FAILED: .*injected fault", run.out)
      assert.matches("restored: " .. cell.step:gsub("%-", "%%-"), run.out)
      assert.is_nil(run.out:find("left changed", 1, true), run.out)
      assert.equal(before, after)
    end)
  end
end)
