-- runbooks/xmpp-failover.lua, xmpp-failback.lua and xmpp-dr-readiness.lua against the
-- embedded lab (modules/lab/), through ./runbook: a failover, its faults, the failback, the
-- readiness audit, the REPL. Set-up in tests/helpers/embedded.lua.
local cjson = require "cjson"
local support = require "support"
local quote, slurp = support.quote, support.slurp
local e = require("helpers.embedded").use()
before_each(e.fresh)
after_each(e.clean)
local runbook, site_route, services = e.runbook, e.site_route, e.services
local a_record, assert_failed_over, zone_now = e.a_record, e.assert_failed_over, e.zone_now
local records_of = e.records_of

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
    -- every server serves the change at the first look (serial 3: the lease took serial 2)
    for _, server in ipairs { "ns1", "ns2" } do
      assert.matches(server .. " serves the new A xmpp.contoso.com (serial 3)", r.out, 1, true)
    end
    assert.matches("resolvers may hand out the old A xmpp.contoso.com for up to 300 s more",
                   r.out, 1, true)
  end)

  it("changes nothing the second time", function()
    assert.equal(0, runbook("run xmpp-failover --yes").code)
    local before = slurp(e.lab_dir .. "/lync-state.json") .. slurp(e.lab_dir .. "/dns-zone.json")
    local r = runbook("run xmpp-failover --yes")
    assert.equal(0, r.code)
    assert.matches("nothing to change", r.out)
    assert.equal(before, slurp(e.lab_dir .. "/lync-state.json") .. slurp(e.lab_dir .. "/dns-zone.json"))
  end)

  it("plans without changing anything and shows the route parameter it will use", function()
    local r = runbook("plan xmpp-failover")
    assert.equal(0, r.code, r.err)
    assert.matches("Set%-CsSite %-Identity Site2 %-XmppFederationRoute EdgeServer:edgepool2", r.out)
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

  it("unreachable-edge: preflight stops it before changing anything, naming the server", function()
    local r = runbook("run xmpp-failover --yes --set lab.fault=unreachable-edge")
    assert.equal(5, r.code)
    assert.matches("edge2a.contoso.com:22: timed out", r.out)
    assert.is_nil(site_route("Site2"))
  end)

  it("dns-refused: preflight finds the refusing DNS server before any change", function()
    local r = runbook("run xmpp-failover --yes --set lab.fault=dns-refused")
    assert.equal(5, r.code)
    assert.matches("✗ preflight: %[dns%.sim%] zone contoso%.com refuses updates", r.out)
    assert.is_nil(site_route("Site2"))
    assert.equal("198.51.100.10", a_record())
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
    -- again: every step holds but the manual one, which says again what is left to do
    local function zone_versions()
      return #cjson.decode(slurp(e.lab_dir .. "/dns-zone.json")).versions
    end
    local versions = zone_versions()
    local again = runbook("run xmpp-failback --yes").out
    assert.matches("all steps done: 1 changed, 11 already done", again, 1, true)
    assert.equal(versions, zone_versions())    -- no lease taken: nothing was written
    assert.matches("~ 12/12 Manual:", again, 1, true)
  end)

  it("leaves steps 4 and 5 of Microsoft's failback page to the operator, in plan and summary",
    function()
    assert.equal(0, runbook("run xmpp-failover --yes").code)
    local plan = runbook("plan xmpp-failback").out
    assert.matches("~ 12/12 Manual: the restored site's Front End pools use its Edge pool again",
                   plan, 1, true)
    assert.matches("Associate Edge Pool (for media components): edgepool1.contoso.com, then "
                   .. "publish the topology", plan, 1, true)
    local r = runbook("run xmpp-failback --yes")
    assert.equal(0, r.code, r.out)
    local summary = r.out:match("all steps done[^\n]*\n(.*)$")
    assert.truthy(summary, r.out)
    assert.matches("manual step, left to you: if the Front End pools of Site1 (fepool.contoso.com) "
                   .. "kept running: in Topology Builder", summary, 1, true)
    assert.matches("manual step, left to you: if a Front End pool of Site1 failed over too: "
                   .. "Invoke-CsPoolFailback -PoolFqdn <pool> for it now", summary, 1, true)
    local json = runbook("run xmpp-failback --yes --json").out
    local manual
    for line in json:gmatch("[^\n]+") do
      local event = cjson.decode(line)
      if event.event == "summary" then manual = event.manual end
    end
    assert.equal(3, #manual)
    assert.matches("Enable federation for this Edge pool (Port 5061)", manual[3], 1, true)
  end)

  it("without the failover's journal, returns to the original pool and leaves the rest",
    function()
    assert.equal(0, runbook("run xmpp-failover --yes").code)
    os.execute("rm -f " .. quote(e.scratch .. "/state") .. "/*.jsonl")
    local r = runbook("run xmpp-failback --yes")
    assert.equal(0, r.code, r.out)
    assert.equal("198.51.100.10", a_record())
    assert.equal("EdgeServer:edgepool1.contoso.com", site_route("Site1"))
    assert.equal("EdgeServer:edgepool2.contoso.com", site_route("Site2"))
    assert.matches("no journal of a successful move to edgepool2.contoso.com", r.out)
  end)

  it("refuses an undo_journal that did not finish", function()
    local path = support.write(e.scratch .. "/half.jsonl", '{"event":"start"}\n')
    local r = runbook("run xmpp-failback --yes --set undo_journal=" .. quote(path))
    assert.equal(1, r.code)
    assert.matches("undo_journal .*half%.jsonl: that run did not finish successfully", r.out)
  end)
end)

describe("xmpp-dr-readiness", function()
  it("lists the missing SRV record of the standby pool and exits 1, changing nothing", function()
    local r = runbook("plan xmpp-dr-readiness")
    assert.equal(1, r.code)
    assert.matches("edgepool2.contoso.com has no SRV record 20 0 5269 xmpp.contoso.com", r.out,
                   1, true)
    assert.matches("✓ 5/%d+ The Lync services run", r.out)
  end)

  it("agrees with the failover's SRV step before and after the failover", function()
    local function verdicts()
      local failover = runbook("plan xmpp-failover").out
      local readiness = runbook("plan xmpp-dr-readiness").out
      local function mark(text, pattern)
        for _, sign in ipairs { "✓", "~", "✗" } do
          if text:find(sign .. " " .. pattern, 1, true) then return sign end
        end
      end
      return mark(failover, "7/10 The SRV record"), mark(readiness, "1/8 One SRV"), readiness
    end
    local failover, readiness, said = verdicts()
    assert.equal("~", failover)    -- the new pool's 20 0 5269 record is missing …
    assert.equal("✗", readiness)   -- … by the same verdict
    assert.matches("contoso.com: edgepool2.contoso.com has no SRV record 20 0 5269 "
                   .. "xmpp.contoso.com", said, 1, true)
    assert.equal(0, runbook("run xmpp-failover --yes").code)
    failover, readiness, said = verdicts()
    assert.equal("✓", failover)
    assert.equal("✓", readiness, said)
    local zone = cjson.decode(slurp(e.lab_dir .. "/dns-zone.json"))
    local srv = {}
    for i, r in ipairs(zone.versions[#zone.versions]["_xmpp-server._tcp.contoso.com SRV"]) do
      srv[i] = ("%d %d %d %s"):format(r.priority, r.weight, r.port, r.target)
    end
    table.sort(srv)
    assert.same({ "10 0 5269 xmpp.contoso.com", "20 0 5269 xmpp.contoso.com" }, srv)
  end)

  it("names the firewall when 5269 is filtered from outside", function()
    local r = runbook("plan xmpp-dr-readiness --set lab.fault=filtered-port")
    assert.equal(1, r.code)
    assert.matches("203.0.113.10: stage connect failed: .*filtered", r.out)
    -- every pool that fails has its own line, not only the one the heading names
    assert.matches("\n[^\n]*✗ edgepool1%.contoso%.com: 198%.51%.100%.10: stage connect failed", r.out)
    assert.matches("\n[^\n]*✗ edgepool2%.contoso%.com: 203%.0%.113%.10: stage connect failed", r.out)
  end)

  it("reports every Windows server's remoting as the lab, faking no WinRM result", function()
    local r = runbook("plan xmpp-dr-readiness")
    assert.matches("✓ 8/8 runbook reaches every Windows server", r.out, 1, true)
    for _, name in ipairs { "fe1", "edge1a", "edge1b", "edge2a", "edge2b" } do
      assert.matches(name .. ".contoso.com: the embedded lab (transport sim): its emulator "
                     .. "answered; the lab has no WinRM listener", r.out, 1, true)
    end
    assert.is_nil(r.out:find("NTLM", 1, true))
  end)

  it("fails the remoting check for an Edge server that does not answer, naming the cause",
     function()
    local r = runbook("plan xmpp-dr-readiness --set lab.fault=unreachable-edge")
    assert.is_true(r.code == 1 or r.code == 5, r.out)
    assert.matches("✗ 8/8 runbook reaches every Windows server .* edge2a%.contoso%.com: "
                   .. "transport lab%-unreachable: no answer in time %(timeout%)", r.out)
    assert.matches("✓ fe1%.contoso%.com: the embedded lab", r.out)   -- what held, by server
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
