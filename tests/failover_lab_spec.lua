-- runbooks/xmpp-failover.lua, xmpp-failback.lua and examples/custom-failover.lua against the
-- embedded lab (modules/lab/world.lua, examples/lab.lua), through ./runbook. The lab keeps
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
    -- every server serves the change at the first look (serial 3: the lease took serial 2)
    for _, server in ipairs { "ns1", "ns2" } do
      assert.matches(server .. " serves the new A xmpp.contoso.com (serial 3)", r.out, 1, true)
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
    -- again: every step holds but the manual one, which says again what is left to do
    local function zone_versions()
      return #cjson.decode(slurp(lab_dir .. "/dns-zone.json")).versions
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
  -- The zone as a real estate has it before a failover: the SRV record names the old pool's
  -- host, so that the SRV step has a change to make as well (the lab's own zone names
  -- xmpp.contoso.com already). The plan makes the lab write its files first.
  local function seed_zone()
    assert.equal(0, runbook("plan xmpp-failover").code)
    local path = lab_dir .. "/dns-zone.json"
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
    local zone = cjson.decode(slurp(lab_dir .. "/dns-zone.json"))
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
        local r = runbook("run --yes " .. mode .. quote(support.crash_hook(scratch, step.id,
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
        r = runbook("resume --yes " .. quote(support.crashed_journal(scratch .. "/state")))
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
      .. quote(support.crash_hook(scratch, "dns-a-record")))
    assert.equal(137, r.code)
    local journal = support.crashed_journal(scratch .. "/state")
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
    local r = runbook("run --yes " .. quote(support.crash_hook(scratch, "federation-route")))
    assert.equal(137, r.code)
    local journal = support.crashed_journal(scratch .. "/state")
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

describe("examples/custom-failover.lua", function()
  local book = quote(support.root .. "/examples/custom-failover.lua")

  it("adds the change-ticket check and the notification around the shipped steps, and "
    .. "changes nothing the second time", function()
    local notes = scratch .. "/notes"
    local r = runbook("run --yes --set notify_file=" .. quote(notes) .. " " .. book)
    assert.equal(1, r.code)
    assert.matches("open a change ticket", r.out)
    local args = ("run --yes --set ticket=CHG-4711 --set notify_file=%s %s"):format(
      quote(notes), book)
    r = runbook(args)
    assert.equal(0, r.code, r.out)
    assert.matches("%[12/12%] Tell the service desk", r.out)
    assert.equal("CHG-4711: XMPP federation now on edgepool2.contoso.com\n", slurp(notes))
    assert_failed_over()
    r = runbook(args)
    assert.equal(0, r.code, r.out)
    assert.matches("nothing to change", r.out)
    assert.equal("CHG-4711: XMPP federation now on edgepool2.contoso.com\n", slurp(notes))
  end)

  it("asks for the file the service desk reads", function()
    local r = runbook("check --set ticket=CHG-4711 " .. book)
    assert.equal(2, r.code)
    assert.matches("notify_file", r.err)
  end)

  it("gives its change-ticket guidance in German and French", function()
    local cases = { { "de", "öffnen Sie ein Change%-Ticket und übergeben Sie es mit %-%-set ticket=" },
                    { "fr", "ouvrez un ticket de changement et indiquez%-le avec %-%-set ticket=" } }
    for _, case in ipairs(cases) do
      local r = runbook(("plan --lang %s --set notify_file=%s %s"):format(case[1],
        quote(scratch .. "/notes"), book))
      assert.equal(1, r.code, r.err)
      assert.matches(case[2], r.out)
    end
  end)

  it("still works when the shipped runbook gains a step", function()
    -- the next release of xmpp-failover: a copy of today's with a step more, on RUNBOOK_PATH
    local release, marker = scratch .. "/release", scratch .. "/announced"
    os.execute("mkdir -p " .. quote(release))
    os.execute(("cp %s %s/"):format(quote(support.root .. "/runbooks/xmpp-federation.titles.lua"),
                                    quote(release)))        -- its German and French titles
    local text = slurp(support.root .. "/runbooks/xmpp-failover.lua")
    local copy, found = text:gsub("\nreturn runbook%.define {",
      "\nlocal shipped = runbook.define {", 1)
    assert.equal(1, found, "runbooks/xmpp-failover.lua no longer returns runbook.define { … }")
    support.write(release .. "/xmpp-failover.lua", copy .. ([[
      table.insert(shipped.steps, shipped:index_of("stop-services"), {
        id = "announce-maintenance", title = "Announce the maintenance window",
        check = function() return io.open(%q) ~= nil, "not announced", "announced" end,
        run = function() assert(io.open(%q, "w")):close() end })
      return shipped
    ]]):format(marker, marker))
    local notes = scratch .. "/notes"
    local r = runbook(("run --yes --set ticket=CHG-4711 --set notify_file=%s %s"):format(
      quote(notes), book), "RUNBOOK_PATH=" .. quote(release))
    assert.equal(0, r.code, r.out .. r.err)
    assert.matches("%[3/13%] Announce the maintenance window", r.out)
    assert.matches("%[4/13%] A change ticket authorises the failover", r.out)
    assert.matches("%[13/13%] Tell the service desk", r.out)
    assert.truthy(io.open(marker), "the shipped runbook's new step ran")
    assert.equal("CHG-4711: XMPP federation now on edgepool2.contoso.com\n", slurp(notes))
    assert_failed_over()
  end)
end)

describe("docs/writing-runbooks.md's extension example", function()
  local function example()
    local page = slurp(support.root .. "/docs/writing-runbooks.md")
    local code = assert(page:match("```lua\n(%-%-%- Contoso's failover.-)```"),
      "docs/writing-runbooks.md has no example extending xmpp-failover")
    return support.write(scratch .. "/contoso-failover.lua", code)
  end

  it("runs as written: fails over, pages once, and declares its parameters", function()
    local book, pager = quote(example()), scratch .. "/pager.log"
    local args = ("run --yes --set ticket=CHG-1234 --set pager_file=%s %s"):format(
      quote(pager), book)
    local r = runbook(args)
    assert.equal(0, r.code, r.out .. r.err)
    assert.matches("A change ticket is open", r.out)
    assert.equal("CHG-1234: XMPP federation moved to edgepool2.contoso.com\n", slurp(pager))
    assert_failed_over()
    r = runbook(args)
    assert.matches("nothing to change", r.out)
    r = runbook("check --set ticket=4711 --set pager_file=x " .. book)
    assert.equal(2, r.code)
    assert.matches("ticket", r.err)
  end)

  it("holds the A record back when its before check fails", function()
    local r = runbook(("run --yes --rollback never --set ticket=CHG-1234 --set pager_file=%s "
      .. "--set public_ip=192.0.2.77 %s"):format(quote(scratch .. "/pager.log"), quote(example())))
    assert.equal(1, r.code)
    assert.matches("192%.0%.2%.77 is not in our public network 203%.0%.113%.0/24", r.out)
    assert.equal("198.51.100.10", a_record())
    for _, version in ipairs(cjson.decode(slurp(lab_dir .. "/dns-zone.json")).versions) do
      assert.equal("198.51.100.10", version["xmpp.contoso.com A"][1].address)  -- never written
    end
  end)
end)

describe("an organization's check on a precondition step", function()
  local function custom(before)
    return quote(support.write(scratch .. "/custom.lua", ([[
      local failover = require("runbook").extend "xmpp-failover"
      failover:add_check("port-5269", { before = function(ctx) %s end })
      return failover
    ]]):format(before)))
  end

  local function summary_of(out)
    for line in out:gmatch("[^\n]+") do
      local event = cjson.decode(line)
      if event.event == "summary" then return event end
    end
  end

  it("keeps it a precondition: a filtered port 5269 still stops the run there", function()
    local r = runbook("run --yes --json --rollback auto --set lab.fault=filtered-port "
      .. custom("return true"))
    assert.equal(1, r.code)
    local summary = summary_of(r.out)
    assert.equal("port-5269", summary.step)
    assert.matches("filtered", summary.error)
    assert.is_nil(site_route("Site2"))
    for name, status in pairs(services("edge2a.contoso.com")) do
      assert.equal("Running", status, name)
    end
  end)

  it("stops the run there when the organization's check does not hold", function()
    local r = runbook("run --yes --json --rollback never "
      .. custom('return false, "the firewall team has not signed off"'))
    assert.equal(1, r.code)
    local summary = summary_of(r.out)
    assert.equal("port-5269", summary.step)
    assert.matches("the firewall team has not signed off", summary.error)
    assert.equal("Stopped", services("edge2a.contoso.com").RTCSRV)   -- step 8 never ran
  end)
end)

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
    return support.write(scratch .. "/two-domains.lua", text)
  end

  local function rrset(key)
    local zone = cjson.decode(slurp(lab_dir .. "/dns-zone.json"))
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
    assert.matches("✓ 1/7 One SRV record per Edge pool", after.out, 1, true)
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
    local path = support.write(scratch .. "/ttl.lua", (slurp(support.root .. "/examples/lab.lua")
      :gsub('xmpp_host = "xmpp.contoso.com", ttl = 300 }',
            'xmpp_host = "xmpp.contoso.com", ttl = 300, ttl_threshold = 120 }', 1)))
    local r = runbook("plan xmpp-dr-readiness -i " .. quote(path))
    assert.equal(1, r.code, r.out)
    assert.matches("xmpp.contoso.com A has TTL 300 s, over 120 s", r.out, 1, true)
    assert.matches("_xmpp-server._tcp.contoso.com SRV has TTL 300 s, over 120 s", r.out, 1, true)
    assert.matches("✓ 2/7 Partners keep", runbook("plan xmpp-dr-readiness").out, 1, true)
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
    support.write(lab_dir .. "/lync-state.json", cjson.encode(state))
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
    local state = cjson.decode(slurp(lab_dir .. "/lync-state.json"))
    state.certificates[1].AlternativeNames = { "sip.contoso.com" }
    support.write(lab_dir .. "/lync-state.json", cjson.encode(state))
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
    local path = support.write(scratch .. "/partner.lua", (slurp(support.root
      .. "/examples/lab.lua"):gsub('  management = "fe1.contoso.com",', '  management = '
      .. '"fe1.contoso.com",\n  xmpp_partner_host = "xmpp.jabber.example",', 1)))
    assert.equal(0, runbook("plan xmpp-failover -i " .. quote(path)).code)   -- the lab's files
    local state = lync_state()
    state.unreachable = { "10.0.2.12:23456", "xmpp.jabber.example:5269" }
    support.write(lab_dir .. "/lync-state.json", cjson.encode(state))
    local r = runbook("plan xmpp-dr-readiness -i " .. quote(path))
    assert.equal(1, r.code, r.out)
    assert.matches("fe1.contoso.com → 10.0.2.12:23456 fails", r.out, 1, true)
    assert.matches("edge2a.contoso.com → xmpp.jabber.example:5269 fails", r.out, 1, true)
    state.unreachable = {}
    support.write(lab_dir .. "/lync-state.json", cjson.encode(state))
    r = runbook("plan xmpp-dr-readiness -i " .. quote(path))
    assert.matches("edge2a.contoso.com → xmpp.jabber.example:5269 connects", r.out, 1, true)
  end)
end)

describe("the failover's ports from the servers themselves (issue 18, gap 6)", function()
  local function with_partner()
    local path = support.write(scratch .. "/partner.lua", (slurp(support.root
      .. "/examples/lab.lua"):gsub('  management = "fe1.contoso.com",', '  management = '
      .. '"fe1.contoso.com",\n  xmpp_partner_host = "xmpp.jabber.example",', 1)))
    assert.equal(0, runbook("plan xmpp-failover -i " .. quote(path)).code)   -- the lab's files
    return path
  end
  local function lync_edit(fn)
    local state = lync_state()
    fn(state)
    support.write(lab_dir .. "/lync-state.json", cjson.encode(state))
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

describe("xmpp-dr-readiness", function()
  it("lists the missing SRV record of the standby pool and exits 1, changing nothing", function()
    local r = runbook("plan xmpp-dr-readiness")
    assert.equal(1, r.code)
    assert.matches("edgepool2.contoso.com has no SRV record 20 0 5269 xmpp.contoso.com", r.out,
                   1, true)
    assert.matches("✓ 5/7 The Lync services run", r.out)
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
      return mark(failover, "7/10 The SRV record"), mark(readiness, "1/7 One SRV"), readiness
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
    local zone = cjson.decode(slurp(lab_dir .. "/dns-zone.json"))
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
