-- The Lync estate as it really is, against the embedded lab: planned maintenance and a dead
-- pool, every SIP domain and IPv6, other sites and TTLs, the XMPP prerequisites, the
-- configuration exported, the ports from where the traffic starts. Set-up in
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

describe("planned maintenance and a dead pool (issue 18, gap 7)", function()
  local function start_params()
    for _, event in ipairs(journal_events()) do
      if event.event == "start" then return event.params end
    end
  end

  it("dead-pool mode asks nothing of the old pool, and says so in the plan", function()
    local r = runbook("plan xmpp-failover")
    assert.matches("(mode dead-pool)", r.out, 1, true)
    assert.matches("mode dead-pool: the old pool failed and is not asked", r.out, 1, true)
  end)

  it("planned mode stops the old pool's XMPP proxy first, journaled, and keeps it stopped",
    function()
    local plan = runbook("plan xmpp-failover --set mode=planned")
    assert.matches("~ 2/10 Planned maintenance[^\n]*will change\n[^\n]*edge1a%.contoso%.com: "
      .. "RTCXMPPTGWPX=Running", plan.out)
    local r = runbook("run xmpp-failover --yes --set mode=planned")
    assert.equal(0, r.code, r.out .. r.err)
    for _, edge in ipairs { "edge1a.contoso.com", "edge1b.contoso.com" } do
      assert.equal("Stopped", services(edge).RTCXMPPTGWPX)
      assert.equal("Running", services(edge).RTCSRV)         -- only the XMPP proxy
    end
    assert_failed_over()
    assert.equal("planned", start_params().mode)
  end)

  it("planned mode's rollback starts the old pool's XMPP proxy again", function()
    local r = runbook("run xmpp-failover --yes --rollback auto --set mode=planned "
      .. "--set lab.fault=stuck-service")
    assert.equal(1, r.code, r.out)
    assert.equal("Running", services("edge1a.contoso.com").RTCXMPPTGWPX)
    assert.equal("Running", services("edge1b.contoso.com").RTCXMPPTGWPX)
  end)

  it("a dead Edge server blocks the run until this run excludes it by name", function()
    local blocked = runbook("run xmpp-failover --yes --set lab.fault=unreachable-edge")
    assert.equal(5, blocked.code, blocked.out)
    local r = runbook("run xmpp-failover --yes --set lab.fault=unreachable-edge "
      .. "--set exclude=edge2a.contoso.com")
    assert.equal(0, r.code, r.out .. r.err)
    assert.matches("excluded for this run: edge2a.contoso.com", r.out, 1, true)
    assert.equal("EdgeServer:edgepool2.contoso.com", site_route("Site2"))
    assert.equal("edge2a.contoso.com", start_params().exclude)
    for name, status in pairs(services("edge2a.contoso.com")) do   -- never touched
      assert.equal("Running", status, name)
    end
    assert.is_nil((lync_state().applied or {})["Stop-CsWindowsService edge2a.contoso.com RTCSRV"])
  end)

  it("refuses to exclude every Edge server of the new pool", function()
    local r = runbook("plan xmpp-failover --set exclude=edge2a.contoso.com,edge2b.contoso.com")
    assert.are_not.equal(0, r.code)
    assert.matches("every Edge server of edgepool2%.contoso%.com is excluded", r.out .. r.err)
  end)
end)

describe("every SIP domain, and IPv6 (issue 18, gap 3)", function()
  -- the lab's inventory with a second SIP domain and public IPv6 addresses
  local function inventory()
    local text = slurp(support.root .. "/examples/lab.lua")
      :gsub('  domain = "contoso.com",', '  domain = "contoso.com",\n  sip_domains = { '
        .. '"contoso.com", "fabrikam.com" },', 1)
      :gsub('public_ip = "198.51.100.10", srv_priority = 10 }',
            'public_ip = "198.51.100.10", srv_priority = 10, public_ipv6 = "2001:db8::10" }', 1)
      :gsub('public_ip = "203.0.113.10", srv_priority = 20 }',
            'public_ip = "203.0.113.10", srv_priority = 20, public_ipv6 = "2001:DB8::20" }', 1)
    return support.write(e.scratch .. "/two-domains.lua", text)
  end

  local function rrset(key)
    local zone = cjson.decode(slurp(e.lab_dir .. "/dns-zone.json"))
    local list = {}
    for i, r in ipairs(zone.versions[#zone.versions][key] or {}) do
      list[i] = r.address or ("%d %d %d %s"):format(r.priority, r.weight, r.port, r.target)
    end
    table.sort(list)
    return table.concat(list, ", ")
  end

  it("gives every SIP domain the new pool's SRV record and moves the AAAA with the A",
    function()
    local path = inventory()
    local before = runbook("plan xmpp-dr-readiness -i " .. quote(path))
    assert.matches("fabrikam.com: edgepool2.contoso.com has no SRV record", before.out, 1, true)
    local r = runbook("run xmpp-failover --yes -i " .. quote(path))
    assert.equal(0, r.code, r.out .. r.err)
    for _, domain in ipairs { "contoso.com", "fabrikam.com" } do
      assert.equal("10 0 5269 xmpp.contoso.com, 20 0 5269 xmpp.contoso.com",
                   rrset("_xmpp-server._tcp." .. domain .. " SRV"))
    end
    assert.equal("203.0.113.10", rrset("xmpp.contoso.com A"))
    assert.equal("2001:db8::20", rrset("xmpp.contoso.com AAAA"))
    local after = runbook("plan xmpp-dr-readiness -i " .. quote(path))
    assert.matches("✓ 1/8 One SRV record per Edge pool", after.out, 1, true)
  end)

  it("rolls the AAAA and every domain's SRV back with the A", function()
    local path = inventory()
    local r = runbook("run xmpp-failover --yes --rollback auto --set lab.fault=filtered-port -i "
      .. quote(path))
    assert.equal(1, r.code, r.out)
    assert.equal("198.51.100.10", rrset("xmpp.contoso.com A"))
    assert.equal("2001:db8::10", rrset("xmpp.contoso.com AAAA"))
    assert.equal("10 0 5269 xmpp.contoso.com", rrset("_xmpp-server._tcp.fabrikam.com SRV"))
  end)
end)

describe("other sites, TTLs (issue 18, gaps 4 and 12)", function()
  it("names in the plan the other site that still routes XMPP to the pool we leave", function()
    local r = runbook("plan xmpp-failover")
    assert.matches("Site1 still routes XMPP to edgepool1.contoso.com, the pool we leave", r.out,
                   1, true)
    assert.equal(0, runbook("run xmpp-failover --yes").code)
    assert.matches("Site1 still routes XMPP to edgepool1.contoso.com",
                   runbook("plan xmpp-failover").out, 1, true)   -- still true after it
  end)

  it("reports the XMPP records whose TTL is over the inventory's threshold", function()
    local path = support.write(e.scratch .. "/ttl.lua", (slurp(support.root .. "/examples/lab.lua")
      :gsub('xmpp_host = "xmpp.contoso.com", ttl = 300 }',
            'xmpp_host = "xmpp.contoso.com", ttl = 300, ttl_threshold = 120 }', 1)))
    local r = runbook("plan xmpp-dr-readiness -i " .. quote(path))
    assert.equal(1, r.code, r.out)
    assert.matches("xmpp.contoso.com A has TTL 300 s, over 120 s", r.out, 1, true)
    assert.matches("_xmpp-server._tcp.contoso.com SRV has TTL 300 s, over 120 s", r.out, 1, true)
    assert.matches("✓ 2/8 Partners keep", runbook("plan xmpp-dr-readiness").out, 1, true)
  end)
end)

describe("XMPP prerequisites (issue 18, gap 5)", function()
  for _, case in ipairs {
    { "no-xmpp-partner", "Get%-CsXmppAllowedPartner lists no partner" },
    { "no-xmpp-policy", "no external access policy allows XMPP %(EnableXmppAccess is False in "
      .. "Global, Tag:SipFederationOnly%): Set%-CsExternalAccessPolicy %-Identity Global "
      .. "%-EnableXmppAccess %$true" },
    { "expired-certificate", "edge2a%.contoso%.com: the Access Edge certificate CN=sip%.contoso"
      .. "%.com has expired" },
    { "sfb-2019", "edge2a%.contoso%.com runs Skype for Business Server 2019, which has no XMPP "
      .. "federation: it cannot host it" },
    { "cms-down", "no Central Management Store master answers .*fail the Central Management "
      .. "Server over first %(Invoke%-CsManagementServerFailover%)" },   -- gap 11
  } do
    it("refuses the failover before any change, and the audit names it: " .. case[1], function()
      local r = runbook("run xmpp-failover --yes --set lab.fault=" .. case[1])
      assert.equal(1, r.code, r.out)
      assert.matches(case[2], r.out)
      assert.is_nil(site_route("Site2"))
      assert.equal("198.51.100.10", a_record())
      local audit = runbook("plan xmpp-dr-readiness --set lab.fault=" .. case[1])
      assert.matches(case[2], audit.out)
    end)
  end

  it("names the external access policies that allow XMPP (EnableXmppAccess)", function()
    assert.matches("XMPP access allowed by Global", runbook("plan xmpp-failover").out, 1, true)
    local state = lync_state()
    state.external_access_policies = { { Identity = "Global" },
      { Identity = "Tag:XmppUsers", EnableXmppAccess = true } }
    support.write(e.lab_dir .. "/lync-state.json", cjson.encode(state))
    local r = runbook("plan xmpp-failover")
    assert.matches("XMPP access allowed by Tag:XmppUsers only: only users granted it reach "
                   .. "XMPP partners", r.out, 1, true)
    assert.matches("✓ 1/10", r.out, 1, true)
  end)

  it("says where the CMS master is, and that it is in the site of the pool we leave", function()
    local r = runbook("plan xmpp-failover")
    assert.matches("CMS master fepool.contoso.com in Site1 (the site of edgepool1.contoso.com, "
      .. "the pool we leave", r.out, 1, true)
  end)

  it("refuses a certificate that does not name every SIP domain", function()
    assert.equal(0, runbook("plan xmpp-failover").code)     -- the lab's files, then its cert:
    local state = cjson.decode(slurp(e.lab_dir .. "/lync-state.json"))
    state.certificates[1].AlternativeNames = { "sip.contoso.com" }
    support.write(e.lab_dir .. "/lync-state.json", cjson.encode(state))
    local r = runbook("plan xmpp-failover")
    assert.matches("does not name contoso.com, which partners ask for", r.out, 1, true)
  end)
end)

describe("the configuration exported before the topology changes (issue 18, gap 8)", function()
  it("exports to the inventory's directory, journals the file and warns of Topology Builder",
    function()
    local plan = runbook("plan xmpp-failover")
    assert.matches("Export-CsConfiguration -FileName D:\\RunbookExports\\", plan.out, 1, true)
    local r = runbook("run xmpp-failover --yes")
    assert.equal(0, r.code, r.out)
    local exports = lync_state().exports
    assert.equal(1, #exports)
    assert.matches("^D:\\RunbookExports\\xmpp%-failover%-.*%.zip$", exports[1].file)
    assert.matches("a later Topology Builder publish may overwrite the route", r.out, 1, true)
    local journaled, at, route_at
    for i, event in ipairs(journal_events()) do
      if event.event == "data" and event.key == "configuration_export" then
        journaled, at = event.value.file, i
      end
      if event.event == "data" and event.key == "previous_route" then route_at = i end
    end
    assert.equal(exports[1].file, journaled)
    assert.is_true(at < route_at)           -- exported before the route step changes anything
    assert.is_nil(runbook("run xmpp-failover --yes").out:find("configuration exported"))
  end)
end)

describe("ports tried from where the traffic starts (issue 18, gap 6)", function()
  it("asks the Front End for 23456 and each Edge server for outbound 5269", function()
    local path = support.write(e.scratch .. "/partner.lua", (slurp(support.root
      .. "/examples/lab.lua"):gsub('  management = "fe1.contoso.com",', '  management = '
      .. '"fe1.contoso.com",\n  xmpp_partner_host = "xmpp.jabber.example",', 1)))
    assert.equal(0, runbook("plan xmpp-failover -i " .. quote(path)).code)   -- the lab's files
    local state = lync_state()
    state.unreachable = { "10.0.2.12:23456", "xmpp.jabber.example:5269" }
    support.write(e.lab_dir .. "/lync-state.json", cjson.encode(state))
    local r = runbook("plan xmpp-dr-readiness -i " .. quote(path))
    assert.equal(1, r.code, r.out)
    assert.matches("fe1.contoso.com → 10.0.2.12:23456 fails", r.out, 1, true)
    assert.matches("edge2a.contoso.com → xmpp.jabber.example:5269 fails", r.out, 1, true)
    state.unreachable = {}
    support.write(e.lab_dir .. "/lync-state.json", cjson.encode(state))
    r = runbook("plan xmpp-dr-readiness -i " .. quote(path))
    assert.matches("edge2a.contoso.com → xmpp.jabber.example:5269 connects", r.out, 1, true)
  end)
end)

describe("the failover's ports from the servers themselves (issue 18, gap 6)", function()
  local function with_partner()
    local path = support.write(e.scratch .. "/partner.lua", (slurp(support.root
      .. "/examples/lab.lua"):gsub('  management = "fe1.contoso.com",', '  management = '
      .. '"fe1.contoso.com",\n  xmpp_partner_host = "xmpp.jabber.example",', 1)))
    assert.equal(0, runbook("plan xmpp-failover -i " .. quote(path)).code)   -- the lab's files
    return path
  end
  local function lync_edit(fn)
    local state = lync_state()
    fn(state)
    support.write(e.lab_dir .. "/lync-state.json", cjson.encode(state))
  end

  it("refuses before any change when an Edge server cannot connect out on 5269", function()
    local path = with_partner()
    assert.matches("edge2a.contoso.com → xmpp.jabber.example:5269 connects",
                   runbook("plan xmpp-failover -i " .. quote(path)).out, 1, true)
    lync_edit(function(state) state.unreachable = { "xmpp.jabber.example:5269" } end)
    local r = runbook("run xmpp-failover --yes -i " .. quote(path))
    assert.equal(1, r.code, r.out)
    assert.matches("cannot proceed: a check does not hold, nothing was changed", r.out, 1, true)
    assert.matches("✗ 1/10 .*edge2a%.contoso%.com → xmpp%.jabber%.example:5269 fails.*"
                   .. "open outbound TCP 5269 from the Access Edge", r.out)
    assert.is_nil(site_route("Site2"))
    for name, status in pairs(services("edge2a.contoso.com")) do assert.equal("Running", status, name) end
  end)

  it("refuses before any change when the Front End cannot reach 23456 of a running Edge",
     function()
    local path = with_partner()
    lync_edit(function(state) state.unreachable = { "10.0.2.12:23456" } end)
    local r = runbook("run xmpp-failover --yes -i " .. quote(path))
    assert.equal(1, r.code, r.out)
    assert.matches("cannot proceed: a check does not hold, nothing was changed", r.out, 1, true)
    assert.matches("fe1.contoso.com → 10.0.2.12:23456 fails", r.out, 1, true)
    assert.is_nil(site_route("Site2"))
  end)

  it("asks 23456 of a stopped Edge again once its services run, and rolls back", function()
    local path = with_partner()
    lync_edit(function(state)
      state.unreachable = { "10.0.2.12:23456" }
      for _, service in ipairs(state.services["edge2b.contoso.com"]) do
        if service.Name ~= "REPLICA" then service.Status = "Stopped" end
      end
    end)
    local plan = runbook("plan xmpp-failover -i " .. quote(path)).out
    assert.matches("fe1.contoso.com → 10.0.2.12:23456 fails (the services of edge2b.contoso.com "
                   .. "are stopped, so nothing listens: tried again once they run)", plan, 1, true)
    local r = runbook("run xmpp-failover --yes --json --rollback auto -i " .. quote(path)
                      .. " --set service_timeout=0.3")
    assert.equal(1, r.code, r.out)
    local summary
    for line in r.out:gmatch("[^\n]+") do
      local event = cjson.decode(line)
      if event.event == "summary" then summary = event end
    end
    assert.matches("start%-services", summary.step)
    assert.matches("fe1.contoso.com → 10.0.2.12:23456 fails", cjson.encode(summary), 1, true)
    assert.is_nil(site_route("Site2"))
    assert.equal("198.51.100.10", a_record())
  end)
end)
