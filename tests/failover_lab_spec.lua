-- runbooks/xmpp-failover.lua, xmpp-failback.lua and examples/custom-failover.lua against the
-- embedded lab (modules/embedded_lab.lua, examples/lab.lua), through ./runbook. The lab keeps
-- its Lync state and its zone in lab.state_dir, which the tests read back.
local cjson = require "cjson"
local support = require "support"
local quote, slurp = support.quote, support.slurp

local scratch, lab_dir

local function runbook(args, env)
  return support.sh(("cd / && RUNBOOK_STATE_DIR=%s %s %s %s --set lab.state_dir=%s"):format(
    quote(scratch .. "/state"), env or "", quote(support.bin), args, quote(lab_dir)))
end

local function lync_state() return cjson.decode(slurp(lab_dir .. "/lync-state.json")) end

local function site_route(site)
  for _, s in ipairs(lync_state().sites) do
    if s.Identity == "Site:" .. site then return s.route end
  end
end

local function services(computer)
  local map = {}
  for _, service in ipairs(lync_state().services[computer]) do map[service.Name] = service.Status end
  return map
end

local function a_record()
  local zone = cjson.decode(slurp(lab_dir .. "/dns-zone.json"))
  return zone.versions[#zone.versions]["xmpp.contoso.com A"][1].address
end

local function journal_events()
  local events = {}
  for _, name in ipairs(require("runbook.fs").list(scratch .. "/state") or {}) do
    if name:match("%.jsonl$") then
      for line in slurp(scratch .. "/state/" .. name):gmatch("[^\n]+") do
        events[#events + 1] = cjson.decode(line)
      end
    end
  end
  return events
end

local function assert_failed_over()
  assert.equal("EdgeServer:edgepool2.contoso.com", site_route("Site2"))
  assert.equal("203.0.113.10", a_record())
  for _, edge in ipairs { "edge2a.contoso.com", "edge2b.contoso.com" } do
    for name, status in pairs(services(edge)) do assert.equal("Running", status, edge .. " " .. name) end
  end
end

before_each(function()
  scratch = support.tmpdir()
  lab_dir = scratch .. "/lab"
  os.execute("mkdir -p " .. quote(lab_dir))
end)
after_each(function() os.execute("rm -rf " .. quote(scratch)) end)

describe("xmpp-failover in the embedded lab", function()
  it("runs by bare name with no inventory, says [sim] on every line, and fails over", function()
    local r = runbook("run xmpp-failover.lua --yes")
    assert.equal(0, r.code, r.out .. r.err)
    for line in r.out:gmatch("[^\n]+") do assert.matches("^%[sim%] ", line) end
    assert.matches("SIMULATION", r.out)
    assert_failed_over()
  end)

  it("waits for the zone's new serial and tells how long resolvers may keep the old A", function()
    local r = runbook("run xmpp-failover --yes")
    assert.equal(0, r.code, r.out .. r.err)
    -- every server serves the change at the first look; the old TTL is reported all the same
    for _, server in ipairs { "ns1", "ns2" } do
      assert.matches(server .. " serves the new A xmpp.contoso.com (serial 2)", r.out, 1, true)
    end
    assert.matches("resolvers may hand out the old A xmpp.contoso.com for up to 300 s more",
                   r.out, 1, true)
  end)

  it("changes nothing the second time", function()
    assert.equal(0, runbook("run xmpp-failover --yes").code)
    local before = slurp(lab_dir .. "/lync-state.json") .. slurp(lab_dir .. "/dns-zone.json")
    local r = runbook("run xmpp-failover --yes")
    assert.equal(0, r.code)
    assert.matches("nothing to change", r.out)
    assert.equal(before, slurp(lab_dir .. "/lync-state.json") .. slurp(lab_dir .. "/dns-zone.json"))
  end)

  it("plans without changing anything and shows the route parameter it will use", function()
    local r = runbook("plan xmpp-failover")
    assert.equal(0, r.code, r.err)
    assert.matches("Set%-CsSite %-Identity Site:Site2 %-XmppFederationRoute EdgeServer:edgepool2", r.out)
    assert.matches("xmpp.contoso.com A 198.51.100.10 → xmpp.contoso.com A 203.0.113.10", r.out)
    assert.is_nil(site_route("Site2"))
    assert.equal("198.51.100.10", a_record())
  end)

  it("uses -XmppExternalFederationRoute where the server has only that", function()
    local r = runbook("run xmpp-failover --yes --set lab.fault=old-parameter")
    assert.equal(0, r.code)
    assert.matches("Set%-CsSite used %-XmppExternalFederationRoute", r.out)
  end)

  it("puts the public IP given in the A record, and the final probe catches an IP where "
    .. "no Edge pool answers", function()
    local r = runbook("run xmpp-failover --yes --rollback never --set public_ip=192.0.2.77")
    assert.equal(1, r.code)
    assert.equal("192.0.2.77", a_record())
    assert.matches("XMPP federation answers on the new Edge pool.*FAILED", r.out)
  end)

  it("refuses an FQDN as the public IP before touching anything", function()
    local r = runbook("run xmpp-failover --yes --set public_ip=edge2.contoso.com")
    assert.equal(2, r.code)
    assert.matches("public_ip", r.err)
  end)

  it("titles the steps in German after the seed document", function()
    local r = runbook("plan xmpp-failover --lang de")
    assert.matches("DNS%-A%-Eintrag für den XMPP%-Partnerverbund", r.out)
    assert.matches("Stop%-CsWindowsService auf jedem Edgeserver im neuen Edgepool", r.out)
  end)
end)

describe("faults in the embedded lab", function()
  local cases = {
    { "stuck-service", "stop%-services", "cannot be stopped" },
    { "access-denied", "federation%-route", "Access is denied" },
    { "dns-refused", "dns%-a%-record", "refused" },
    { "filtered-port", "port%-5269", "filtered.*a firewall drops" },
    { "stuck-replication", "cms%-replication", "not up to date within" },
  }
  for _, case in ipairs(cases) do
    it(case[1] .. ": stops at " .. case[2] .. " and rollback restores route and records", function()
      local r = runbook(("run xmpp-failover --yes --json --rollback auto --set lab.fault=%s "
        .. "--set replication_timeout=0.3 --set service_timeout=0.3"):format(case[1]))
      assert.equal(1, r.code)
      local summary
      for line in r.out:gmatch("[^\n]+") do
        local event = cjson.decode(line)
        if event.event == "summary" then summary = event end
      end
      assert.matches(case[2], summary.step)
      assert.matches(case[3], summary.error)
      assert.is_nil(site_route("Site2"))
      assert.equal("198.51.100.10", a_record())
      for name, status in pairs(services("edge2b.contoso.com")) do assert.equal("Running", status, name) end
    end)
  end

  it("unreachable-edge: stops before changing anything, naming the server", function()
    local r = runbook("run xmpp-failover --yes --set lab.fault=unreachable-edge")
    assert.equal(1, r.code)
    assert.matches("edge2a.contoso.com:22: timed out", r.out)
    assert.is_nil(site_route("Site2"))
  end)

  it("lagging-dns: waits until the lagging server serves the new record", function()
    local r = runbook("run xmpp-failover --yes --set lab.fault=lagging-dns")
    assert.equal(0, r.code)
    assert.matches("ns2 serves the new A xmpp.contoso.com", r.out)
  end)

  it("rejects an unknown fault, listing the known ones", function()
    local r = runbook("run xmpp-failover --yes --set lab.fault=meteor")
    assert.equal(1, r.code)
    assert.matches("unknown fault 'meteor': one of none, stuck%-service", r.out .. r.err)
  end)
end)

local function zone_now()
  local zone = cjson.decode(slurp(lab_dir .. "/dns-zone.json"))
  return zone.versions[#zone.versions], zone.versions[1]
end

-- The records of a zone version, without what a provider adds (ttl order, name case).
local function records_of(version)
  local seen = {}
  for key, records in pairs(version) do
    local list = {}
    for i, r in ipairs(records) do
      list[i] = r.address or ("%d %d %d %s"):format(r.priority, r.weight, r.port, r.target)
    end
    table.sort(list)
    seen[key] = table.concat(list, ", ")
  end
  return seen
end

describe("xmpp-failback", function()
  it("restores the state before the failover exactly, from its journal, and then holds",
    function()
    assert.equal(0, runbook("run xmpp-failover --yes").code)
    assert.equal("EdgeServer:edgepool2.contoso.com", site_route("Site2"))
    local r = runbook("run xmpp-failback --yes")
    assert.equal(0, r.code, r.out)
    assert.matches("Site2 %-XmppFederationRoute %(none%) %(as before the failover%)", r.out)
    local now, before = zone_now()
    assert.same(records_of(before), records_of(now))
    assert.equal("EdgeServer:edgepool1.contoso.com", site_route("Site1"))
    assert.is_nil(site_route("Site2"))
    for _, edge in ipairs { "edge1a.contoso.com", "edge2a.contoso.com" } do
      for name, status in pairs(services(edge)) do assert.equal("Running", status, edge .. name) end
    end
    assert.matches("nothing to change", runbook("run xmpp-failback --yes").out)
  end)

  it("without the failover's journal, returns to the original pool and leaves the rest",
    function()
    assert.equal(0, runbook("run xmpp-failover --yes").code)
    os.execute("rm -f " .. quote(scratch .. "/state") .. "/*.jsonl")
    local r = runbook("run xmpp-failback --yes")
    assert.equal(0, r.code, r.out)
    assert.equal("198.51.100.10", a_record())
    assert.equal("EdgeServer:edgepool1.contoso.com", site_route("Site1"))
    assert.equal("EdgeServer:edgepool2.contoso.com", site_route("Site2"))
    assert.matches("no journal of a successful move to edgepool2.contoso.com", r.out)
  end)

  it("refuses an undo_journal that did not finish", function()
    local path = support.write(scratch .. "/half.jsonl", '{"event":"start"}\n')
    local r = runbook("run xmpp-failback --yes --set undo_journal=" .. quote(path))
    assert.equal(1, r.code)
    assert.matches("undo_journal .*half%.jsonl: that run did not finish successfully", r.out)
  end)
end)

describe("kill -9 during the failover, then resume", function()
  -- The run is killed (kill -9) right after the step's change, before its outcome is journaled.
  local points = { "stop-services", "dns-a-record", "start-services" }
  for _, step in ipairs(points) do
    it("after " .. step .. ": resume ends failed over, each change applied once", function()
      local r = runbook("run --yes " .. quote(support.crash_hook(scratch, step)))
      assert.equal(137, r.code)
      local journal = support.crashed_journal(scratch .. "/state")
      r = runbook("resume --yes " .. quote(journal))
      assert.equal(0, r.code, r.out .. r.err)
      assert_failed_over()
      local applied = {}
      for _, event in ipairs(journal_events()) do
        if event.event == "outcome" and event.ok then
          local key = event.step .. "|" .. (event.host or "")
          assert.is_nil(applied[key], "applied twice: " .. key)
          applied[key] = true
        end
      end
    end)
  end
end)

describe("a resumed run rolls back with what the interrupted run saw", function()
  it("restores the route journaled before the crash, and the change it settled", function()
    local r = runbook("run --yes " .. quote(support.crash_hook(scratch, "federation-route")))
    assert.equal(137, r.code)
    local journal = support.crashed_journal(scratch .. "/state")
    local remembered
    for line in slurp(journal):gmatch("[^\n]+") do
      local record = cjson.decode(line)
      if record.event == "data" and record.key == "previous_route" then remembered = record end
    end
    assert.is_false(remembered.value)
    r = runbook("resume --yes --rollback auto --set lab.fault=dns-refused " .. quote(journal))
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

describe("examples/custom-failover.lua", function()
  it("adds the change-ticket check and the notification around the shipped steps", function()
    local book = quote(support.root .. "/examples/custom-failover.lua")
    local r = runbook("run --yes " .. book)
    assert.equal(1, r.code)
    assert.matches("open a change ticket", r.out)
    local notes = scratch .. "/notes"
    r = runbook("run --yes --set ticket=CHG-4711 " .. book, "NOTIFY_FILE=" .. quote(notes))
    assert.equal(0, r.code, r.out)
    assert.matches("%[11/11%] Tell the service desk", r.out)
    assert.equal("CHG-4711: XMPP federation now on edgepool2.contoso.com\n", slurp(notes))
    assert_failed_over()
    r = runbook("run --yes --set ticket=CHG-4711 " .. book, "NOTIFY_FILE=" .. quote(notes))
    assert.matches("nothing to change", r.out)
  end)
end)

describe("xmpp-dr-readiness", function()
  it("lists the missing SRV record of the standby pool and exits 1, changing nothing", function()
    local r = runbook("plan xmpp-dr-readiness")
    assert.equal(1, r.code)
    assert.matches("edgepool2.contoso.com has no SRV record", r.out)
    assert.matches("✓ 3/4 The Lync services run", r.out)
  end)

  it("names the firewall when 5269 is filtered from outside", function()
    local r = runbook("plan xmpp-dr-readiness --set lab.fault=filtered-port")
    assert.equal(1, r.code)
    assert.matches("203.0.113.10: stage connect failed: .*filtered", r.out)
  end)
end)

describe("runbook repl with the lab inventory", function()
  it("offers status(), dig(), port(), probe() and ps() that print and return data", function()
    local r = support.sh(("cd / && %s repl"):format(quote(support.bin)), table.concat({
      "s = status()", "=s.routes.Site1", "=dig('xmpp.contoso.com').ns2.records[1].address",
      "=port('203.0.113.10', 5269).state", "=probe().ok",
      "=ps('fe1.contoso.com', 'Get-CsSite')[2].Identity" }, "\n") .. "\n")
    assert.equal(0, r.code, r.err)
    assert.matches("XMPP federation route %(%-XmppFederationRoute%)", r.out)
    assert.matches('"edgepool1.contoso.com"\n', r.out)
    assert.matches('"198.51.100.10"\n', r.out)
    assert.matches('"open"\n', r.out)
    assert.matches("%[ ok %] certificate", r.out)
    assert.matches('"Site:Site2"', r.out)
    assert.matches("%[sim%]", r.err)
  end)
end)
