-- The whole failover against the real test lab: one real sshd address per Windows server
-- (the Lync emulator as forced command), BIND named with TSIG for the external zone, and a
-- real Prosody answering XMPP on the new pool's public address. Everything on 127.0.77.x
-- and 127.0.22.5x; the probe's DNS is our named, so nothing leaves loopback. The WinRM cases
-- put the WS-Management emulator on the same addresses, in each mode Windows ships or is
-- hardened to (the Kerberos case with a KDC on 127.0.88.4:8804).
local cjson = require "cjson"
local emulator = require "lab.emulator"
local embedded_lab = require "lab.world"
local lab = require "helpers.servers"
local lab_lock = require "lab_lock"
local support = require "support"
local quote, slurp, write = support.quote, support.slurp, support.write

local FE, EDGE_OLD, EDGE_A, EDGE_B = "127.0.22.50", "127.0.22.51", "127.0.22.52", "127.0.22.53"
local NEW_IP, OLD_IP, DNS_IP = "127.0.77.20", "127.0.77.21", "127.0.77.53"

local sshd, named, prosody, scratch, inventory, release

local TOPOLOGY = {
  sites = { Site1 = { route = "edgepool1.contoso.com" }, Site2 = {} },
  pools = {
    ["edgepool1.contoso.com"] = { site = "Site1", servers = { "edge1a.contoso.com" } },
    ["edgepool2.contoso.com"] = { site = "Site2",
                                  servers = { "edge2a.contoso.com", "edge2b.contoso.com" } },
  },
}

-- Every emulated server starts from the same topology (each answers from its own file).
local function seed_servers(state_dir)
  local state = embedded_lab.lync_state({ domain = "contoso.com", management = "fe1.contoso.com",
    sip_domains = { "contoso.com", "im.contoso.com" } }, TOPOLOGY)
  for _, address in ipairs { FE, EDGE_OLD, EDGE_A, EDGE_B } do
    emulator.save_state((state_dir or sshd.state_dir) .. "/" .. address .. ".json", state)
  end
end

-- The zone before the failover: the SRV record points at the old pool, closed on loopback.
local function seed_zone()
  local r = support.sh(("nsupdate -k %s <<'EOF'\nserver %s %s\nzone contoso.com\n"
    .. "update delete edge1.contoso.com A\nupdate add edge1.contoso.com 300 A %s\n"
    .. "update delete xmpp.contoso.com A\nupdate delete _xmpp-server._tcp.contoso.com SRV\n"
    .. "update add _xmpp-server._tcp.contoso.com 300 SRV 10 0 5269 edge1.contoso.com.\n"
    .. "update delete _xmpp-server._tcp.im.contoso.com SRV\n"
    .. "update add _xmpp-server._tcp.im.contoso.com 300 SRV 10 0 5269 edge1.contoso.com.\n"
    .. "update delete _xmpp-server._tcp.other.contoso.com SRV\n"
    .. "update add _xmpp-server._tcp.other.contoso.com 300 SRV 5 0 5269 edge9.contoso.com.\n"
    .. "update delete _runbook-lease.contoso.com TXT\n"
    .. "send\nEOF"):format(quote(named.key), named.address, named.port, OLD_IP))
  assert(r.code == 0, r.err)
end

-- options (all optional): ca_file the probe trusts, server_defaults (the transport settings of
-- every server: SSH to the lab sshd unless given), public_ip of the new pool, vantage record
local function inventory_text(options)
  options = options or {}
  local servers = {}
  for fqdn, address in pairs { ["fe1.contoso.com"] = FE, ["edge1a.contoso.com"] = EDGE_OLD,
                               ["edge2a.contoso.com"] = EDGE_A, ["edge2b.contoso.com"] = EDGE_B } do
    servers[#servers + 1] = ("    [%q] = { address = %q },"):format(fqdn, address)
  end
  local vantage = options.vantage
    or ('{ transport = "local", name = "the test host", ca_file = %q }'):format(
      options.ca_file or prosody.ca_file)
  return ([[
return {
  domain = "contoso.com",
  sip_domains = { "contoso.com", "im.contoso.com" },
  management = "fe1.contoso.com",
  server_defaults = %s,
  servers = {
%s
  },
  pools = {
    ["edgepool1.contoso.com"] = { public_ip = %q, srv_priority = 10,
                                  srv_target = "edge1.contoso.com" },
    ["edgepool2.contoso.com"] = { public_ip = %q, srv_priority = 20 },
  },
  dns = { provider = "rfc2136", zone = "contoso.com", xmpp_host = "xmpp.contoso.com", ttl = 60,
          server = %q, port = %s, key = %q, propagation_timeout = 20,
          authoritative = { { address = %q, port = %s, name = "ns1" } },
          resolver = { address = %q, port = %s } },
  vantage = %s,
  failover = { from_pool = "edgepool1.contoso.com", to_pool = "edgepool2.contoso.com" },
}
]]):format(options.server_defaults or ("{ transport = 'ssh', port = %s, user = %q, key_file = %q, "
      .. "known_hosts = %q, command_timeout = 60 }"):format(sshd.port, sshd.user, sshd.lync_key,
      sshd.known_hosts), table.concat(servers, "\n"),
    OLD_IP, options.public_ip or NEW_IP, named.address, named.port, "file:" .. named.key,
    named.address, named.port, named.address, named.port, vantage)
end

local function runbook(args)
  return support.sh(("cd %s && RUNBOOK_STATE_DIR=%s %s %s -i %s"):format(quote(scratch),
    quote(scratch .. "/state"), quote(support.bin), args, quote(inventory)))
end

local function dig(name, type)
  return support.sh(("dig @%s -p %s +short %s %s"):format(named.address, named.port, name, type)).out
end

-- An SRV RRset as dig prints it, sorted.
local function srv_set(name)
  local list = {}
  for line in dig(name, "SRV"):gmatch("[^\n]+") do list[#list + 1] = line end
  table.sort(list)
  return list
end

-- What the failover's SRV step and the readiness audit's SRV step say, from their plans:
-- ✓ or ~ / ✗ (issue 18: they use one verdict and must agree).
local function srv_verdicts()
  local function mark(text, pattern)
    for _, sign in ipairs { "✓", "~", "✗" } do
      if text:find(sign .. " " .. pattern, 1, true) then return sign end
    end
  end
  local failover = runbook("plan xmpp-failover").out
  local readiness = runbook("plan xmpp-dr-readiness").out
  return mark(failover, "7/10 The SRV record"), mark(readiness, "1/8 One SRV"), readiness
end

local function fe_state() return cjson.decode(slurp(sshd.state_dir .. "/" .. FE .. ".json")) end

local function site2_route()
  for _, site in ipairs(fe_state().sites) do
    if site.Identity == "Site:Site2" then return site.route end
  end
end

local function edge_services(address, computer)
  local state = cjson.decode(slurp(sshd.state_dir .. "/" .. address .. ".json"))
  local map = {}
  for _, service in ipairs(state.services[computer]) do map[service.Name] = service.Status end
  return map
end

local function serial()
  return dig("contoso.com", "SOA"):match("^%S+ %S+ (%d+)")
end

-- The emulated servers' processes still running after a run, once their input has ended
-- (a closed session's process ends when it has read all its input; given 5 s): "" when none.
local function lingering_emulators()
  local pattern = quote("[l]ync-emulator " .. sshd.state_dir)
  return support.sh(("for i in $(seq 50); do pgrep -f %s >/dev/null || exit 0; "
    .. "sleep 0.1; done; pgrep -af %s"):format(pattern, pattern)).out
end

describe("xmpp-failover against real servers #e2e", function()
  setup(function()
    release = lab_lock.acquire("failover-e2e")   -- one run at a time on 127.0.77.x
    sshd = lab.start("sshd", "auto", FE, EDGE_OLD, EDGE_A, EDGE_B)
    named = lab.start("named", DNS_IP, "5301")
    prosody = lab.start("prosody", NEW_IP)
    os.execute("chmod 600 " .. quote(named.key))
  end)
  teardown(function()
    lab.stop(sshd)
    lab.stop(named)
    lab.stop(prosody)
    release()
  end)

  before_each(function()
    scratch = support.tmpdir()
    inventory = write(scratch .. "/e2e.lua", inventory_text())
    -- the previous case's servers have ended: none can write its state over this case's
    assert.equal("", lingering_emulators())
    seed_servers()
    seed_zone()
  end)
  after_each(function() os.execute("rm -rf " .. quote(scratch)) end)

  it("plans without changing the zone serial or the servers' state", function()
    local zone_serial, before = serial(), slurp(sshd.state_dir .. "/" .. FE .. ".json")
    local r = runbook("plan xmpp-failover")
    assert.equal(0, r.code, r.out .. r.err)
    assert.matches("XmppFederationRoute EdgeServer:edgepool2.contoso.com", r.out)
    assert.equal(zone_serial, serial())
    assert.equal(before, slurp(sshd.state_dir .. "/" .. FE .. ".json"))
  end)

  it("fails over: dig sees the new A and SRV, the emulators the route and services, "
    .. "Prosody answers, and a second run changes nothing", function()
    local failover_says, readiness_says, said = srv_verdicts()
    assert.same({ "~", "✗" }, { failover_says, readiness_says }, said)   -- both: missing
    assert.matches("im.contoso.com: edgepool2.contoso.com has no SRV record 20 0 5269 "
                   .. "xmpp.contoso.com", said, 1, true)
    os.execute("rm -f " .. quote(sshd.state_dir) .. "/*.counters")
    local r = runbook("run xmpp-failover --yes")
    assert.equal(0, r.code, r.out .. r.err .. "\nProsody alive: "
      .. tostring(os.execute("kill -0 " .. prosody.pid)) .. "\nProsody's log:\n"
      .. slurp(prosody.dir .. "/prosody.log"):sub(-2000))
    assert.equal(NEW_IP .. "\n", dig("xmpp.contoso.com", "A"))
    -- every SIP domain: exactly the old pool's record (priority 10, kept) and the new pool's
    -- (priority 20, added); another name's record untouched (issue 18, gaps 2 and 3)
    for _, domain in ipairs { "contoso.com", "im.contoso.com" } do
      assert.same({ "10 0 5269 edge1.contoso.com.", "20 0 5269 xmpp.contoso.com." },
                  srv_set("_xmpp-server._tcp." .. domain), domain)
    end
    assert.same({ "5 0 5269 edge9.contoso.com." }, srv_set("_xmpp-server._tcp.other.contoso.com"))
    assert.equal("EdgeServer:edgepool2.contoso.com", site2_route())
    for name, status in pairs(edge_services(EDGE_A, "edge2a.contoso.com")) do
      assert.equal("Running", status, name)
    end
    assert.matches("%[%d+/10%] XMPP federation answers", r.out)
    -- one PowerShell per Windows server for the whole run (issue 15), each session closed
    for _, address in ipairs { FE, EDGE_A, EDGE_B } do
      local counted = emulator.counters(sshd.state_dir .. "/" .. address .. ".json")
      assert.equal(1, counted.processes, address)
      assert.equal(1, counted.sessions, address)
    end
    assert.equal(0, emulator.counters(sshd.state_dir .. "/" .. EDGE_OLD .. ".json").processes)
    assert.equal("", lingering_emulators())
    local zone_serial = serial()
    r = runbook("run xmpp-failover --yes")
    assert.equal(0, r.code, r.out .. r.err)
    assert.matches("nothing to change", r.out)
    assert.equal(zone_serial, serial())
    failover_says, readiness_says, said = srv_verdicts()
    assert.same({ "✓", "✓" }, { failover_says, readiness_says }, said)   -- both: right
  end)

  it("stops at step 2 when a service refuses to stop, and rollback restarts the others", function()
    local path = sshd.state_dir .. "/" .. EDGE_A .. ".json"
    local state = emulator.load_state(path)
    for _, service in ipairs(state.services["edge2a.contoso.com"]) do
      if service.Name == "RTCSRV" then service.refuse_stop = true end
    end
    emulator.save_state(path, state)
    local r = runbook("run xmpp-failover --yes --rollback auto")
    assert.equal(1, r.code, r.out .. r.err)
    assert.matches("Stop%-CsWindowsService on edge2a.contoso.com failed: Service 'Lync Server "
      .. "Access Edge %(RTCSRV%)' cannot be stopped", r.out)
    for name, status in pairs(edge_services(EDGE_B, "edge2b.contoso.com")) do
      assert.equal("Running", status, name)
    end
    assert.is_nil(site2_route())
  end)

  it("stops before any change when an Edge server does not answer", function()
    write(inventory, (inventory_text():gsub('address = "' .. EDGE_B:gsub("%.", "%%.") .. '"',
      'address = "127.0.77.99"')))
    local r = runbook("run xmpp-failover --yes")
    assert.equal(5, r.code)                -- preflight: a capability is missing
    assert.matches("edge2b.contoso.com", r.out)
    assert.matches("refused", r.out)
    assert.is_nil(site2_route())
    assert.equal("", dig("xmpp.contoso.com", "A"))
  end)

  it("reports in readiness each Windows server reached over SSH, and one that is not",
     function()
    local r = runbook("plan xmpp-dr-readiness")
    assert.matches("✓ 8/8 runbook reaches every Windows server", r.out, 1, true)
    for name, address in pairs { fe1 = FE, edge1a = EDGE_OLD, edge2a = EDGE_A, edge2b = EDGE_B } do
      assert.matches(("%s.contoso.com: ssh %s:%%d+: works"):format(name, address:gsub("%.", "%%.")),
                     r.out)
    end
    write(inventory, (inventory_text():gsub('address = "' .. EDGE_B:gsub("%.", "%%.") .. '"',
      'address = "127.0.77.99"')))
    r = runbook("plan xmpp-dr-readiness")
    assert.matches("✗ 8/8 runbook reaches every Windows server .* edge2b%.contoso%.com: ssh "
                   .. "127%.0%.77%.99:%d+: .*refused.* — what to do: start the OpenSSH server "
                   .. "there", r.out)
  end)

  -- kill -9 right after a step's change (outcome not yet journaled), then resume.
  for _, step in ipairs { "stop-services", "dns-a-record", "start-services" } do
    it("resumes after kill -9 right after " .. step .. ", changing nothing twice", function()
      local r = runbook("run --yes " .. quote(support.crash_hook(scratch, step)))
      assert.equal(137, r.code, r.out .. r.err)
      local journal = support.crashed_journal(scratch .. "/state")
      local serial_after_crash = tonumber(serial())
      r = runbook("resume --yes " .. quote(journal))
      assert.equal(0, r.code, r.out .. r.err)
      assert.equal(NEW_IP .. "\n", dig("xmpp.contoso.com", "A"))
      assert.equal("EdgeServer:edgepool2.contoso.com", site2_route())
      for name, status in pairs(edge_services(EDGE_B, "edge2b.contoso.com")) do
        assert.equal("Running", status, name)
      end
      -- zone updates after the crash: A and the SRV record of each SIP domain (two, both
      -- in this zone) when they were still to do, the SRV records only when the A record was
      -- written before the crash, none after the DNS steps; and one more for the run's
      -- lease, released at the end (the resumed run finds the lease its own)
      local expected = { ["stop-services"] = 4, ["dns-a-record"] = 3, ["start-services"] = 1 }
      assert.equal(serial_after_crash + expected[step], tonumber(serial()))
      assert.equal("", dig("_runbook-lease.contoso.com", "TXT"))     -- released
    end)
  end

  it("runs the organization's customized runbook end to end", function()
    local notes = scratch .. "/notes"
    local command = ("cd %s && RUNBOOK_STATE_DIR=%s %s run --yes --set ticket=CHG-4711 "
      .. "--set notify_file=%s %s -i %s"):format(quote(scratch), quote(scratch .. "/state"),
      quote(support.bin), quote(notes), quote(support.root .. "/examples/custom-failover.lua"),
      quote(inventory))
    local r = support.sh(command)
    assert.equal(0, r.code, r.out .. r.err)
    assert.matches("%[%d+/%d+%] A change ticket authorises the failover", r.out)
    assert.equal(NEW_IP .. "\n", dig("xmpp.contoso.com", "A"))
    assert.equal("CHG-4711: XMPP federation now on edgepool2.contoso.com\n", slurp(notes))
    r = support.sh(command)                      -- the service desk is told once
    assert.equal(0, r.code, r.out .. r.err)
    assert.matches("nothing to change", r.out)
    assert.equal("CHG-4711: XMPP federation now on edgepool2.contoso.com\n", slurp(notes))
  end)

  it("fails back to the original pool once it is healthy again, restoring the state before "
    .. "the failover exactly", function()
    local srv_before, sites_before = dig("_xmpp-server._tcp.contoso.com", "SRV"), fe_state().sites
    local first = runbook("run xmpp-failover --yes")
    assert.equal(0, first.code, first.out .. first.err)
    local original = lab.start("prosody", OLD_IP)      -- the failed pool recovers
    finally(function() lab.stop(original) end)
    local bundle = write(scratch .. "/ca.pem", slurp(prosody.ca_file) .. slurp(original.ca_file))
    write(inventory, inventory_text { ca_file = bundle })
    local r = runbook("run xmpp-failback --yes")
    assert.equal(0, r.code, r.out .. r.err)
    assert.equal("", dig("xmpp.contoso.com", "A"))          -- there was none before
    assert.equal(srv_before, dig("_xmpp-server._tcp.contoso.com", "SRV"))
    assert.same(sites_before, fe_state().sites)
    for _, edge in ipairs { { EDGE_A, "edge2a.contoso.com" }, { EDGE_B, "edge2b.contoso.com" },
                            { EDGE_OLD, "edge1a.contoso.com" } } do
      for name, status in pairs(edge_services(edge[1], edge[2])) do
        assert.equal("Running", status, edge[2] .. " " .. name)
      end
    end
    assert.matches("%[%d+/12%] XMPP federation answers", r.out)
    assert.matches("manual step, left to you: if the Front End pools of Site1", r.out, 1, true)
    local zone_serial = serial()
    -- again: nothing changes; only the manual steps of the failback page are said again
    assert.matches("all steps done: 1 changed, 11 already done",
                   runbook("run xmpp-failback --yes").out, 1, true)
    assert.equal(zone_serial, serial())
  end)

  it("fails over with every Windows server reached over WinRM (NTLM over HTTPS)", function()
    support.unwind_fully()   -- gss-ntlmssp's own leak is suppressed by its whole stack
    local winrm = lab.start("winrm", "auto", FE, EDGE_OLD, EDGE_A, EDGE_B)
    finally(function() lab.stop(winrm) end)
    seed_servers(winrm.state_dir)
    local secret = write(scratch .. "/winrm-password", winrm.password .. "\n")
    os.execute("chmod 600 " .. quote(secret))
    write(inventory, inventory_text { server_defaults = ("{ transport = 'winrm', port = %s, "
      .. "user = %q, password = %q, ca_file = %q, command_timeout = 20 }"):format(winrm.port,
      winrm.user, "file:" .. secret, winrm.ca_file) })
    local audit = scratch .. "/audit.jsonl"
    local r = runbook("run xmpp-failover --yes -v --audit-log " .. quote(audit))
    assert.equal(0, r.code, r.out .. r.err)
    assert.equal(NEW_IP .. "\n", dig("xmpp.contoso.com", "A"))
    -- the secrets of a whole failover (WinRM password, TSIG key) appear in no byte written
    local json = runbook("run xmpp-failover --yes --json --audit-log " .. quote(audit))
    assert.equal(0, json.code, json.err)
    local everything = r.out .. r.err .. json.out .. json.err .. slurp(audit)
    for _, name in ipairs(require("runbook.fs").list(scratch .. "/state")) do
      if name:match("%.jsonl$") then everything = everything .. slurp(scratch .. "/state/" .. name) end
    end
    assert.is_nil(everything:find(winrm.password, 1, true))
    local tsig_secret = slurp(named.key):match('secret "([^"]+)"')
    assert.is_truthy(#tsig_secret > 20)
    assert.is_nil(everything:find(tsig_secret, 1, true))
    assert.matches("Set%-CsSite", slurp(audit))
    local fe = cjson.decode(slurp(winrm.state_dir .. "/" .. FE .. ".json"))
    local route
    for _, site in ipairs(fe.sites) do if site.Identity == "Site:Site2" then route = site.route end end
    assert.equal("EdgeServer:edgepool2.contoso.com", route)
    local edge = cjson.decode(slurp(winrm.state_dir .. "/" .. EDGE_B .. ".json"))
    for _, service in ipairs(edge.services["edge2b.contoso.com"]) do
      assert.equal("Running", service.Status, service.Name)
    end
    local log = slurp(winrm.log)
    local _, created = log:gsub("\ncreate ", "")
    local _, deleted = log:gsub("\ndelete ", "")
    assert.equal(6, created)                   -- two runs, one shell per server touched each
    assert.equal(created, deleted)             -- every shell opened was closed again
    for _, address in ipairs { FE, EDGE_A, EDGE_B } do
      local counted = emulator.counters(winrm.state_dir .. "/" .. address .. ".json")
      assert.equal(2, counted.processes, address)   -- one PowerShell per server per run
      assert.equal(2, counted.sessions, address)
    end
  end)

  -- One PowerShell per Windows server for the whole run (issue 15): a shell each, its one
  -- command the persistent session, every shell deleted at the end; none on the old pool.
  local function assert_one_session_each(winrm, log)
    for _, address in ipairs { FE, EDGE_A, EDGE_B } do
      local counted = emulator.counters(winrm.state_dir .. "/" .. address .. ".json")
      assert.equal(1, counted.processes, address)
      assert.equal(1, counted.sessions, address)
    end
    assert.equal(0, emulator.counters(winrm.state_dir .. "/" .. EDGE_OLD .. ".json").processes)
    local _, created = ("\n" .. log):gsub("\ncreate ", "")
    local _, deleted = ("\n" .. log):gsub("\ndelete ", "")
    assert.equal(3, created, log)
    assert.equal(created, deleted)
  end

  -- Windows as it ships, and hardened (issue 17): the WS-Management emulator enforcing the
  -- settings of each mode; a whole failover over it, every server reached the same way.
  -- Returns the emulator's log of the run (one line per operation, authentication, seal).
  local function failover_over_winrm(winrm, defaults, environment, prepare)
    seed_servers(winrm.state_dir)
    if prepare then prepare(winrm.state_dir) end
    write(inventory, inventory_text { server_defaults = defaults })
    local r = support.sh(("cd %s && %s RUNBOOK_STATE_DIR=%s %s run xmpp-failover --yes -v "
      .. "-i %s"):format(quote(scratch), environment or "", quote(scratch .. "/state"),
      quote(support.bin), quote(inventory)))
    assert.equal(0, r.code, r.out .. r.err)
    assert.equal(NEW_IP .. "\n", dig("xmpp.contoso.com", "A"))
    local fe = cjson.decode(slurp(winrm.state_dir .. "/" .. FE .. ".json"))
    local route
    for _, site in ipairs(fe.sites) do
      if site.Identity == "Site:Site2" then route = site.route end
    end
    assert.equal("EdgeServer:edgepool2.contoso.com", route)
    local log = slurp(winrm.log)
    assert.is_nil(log:find("auth refused", 1, true), log)
    assert.is_nil(log:find("auth failed", 1, true), log)
    return log, r.out .. r.err
  end

  -- the operations the emulator logged, and how many of them came sealed
  local function operations_and_seals(log, mechanism)
    local _, operations = log:gsub("\n[a-z]+ [%x%-]+", "")
    local _, sealed = log:gsub("sealed " .. mechanism .. " %d+", "")
    return operations, sealed
  end

  local function password_file(name, password)
    local path = write(scratch .. "/" .. name, password .. "\n")
    os.execute("chmod 600 " .. quote(path))
    return "file:" .. path
  end

  it("fails over over WinRM as Windows ships it: HTTP 5985, AllowUnencrypted false, NTLM "
     .. "sealed", function()
    local winrm = lab.start("winrm", "--shipped", "auto", FE, EDGE_OLD, EDGE_A, EDGE_B)
    finally(function() lab.stop(winrm) end)
    local log, output = failover_over_winrm(winrm, ("{ transport = 'winrm', scheme = 'http', "
      .. "auth = 'ntlm', port = %s, user = %q, password = %q, command_timeout = 20 }"):format(
      winrm.port, winrm.user, password_file("ntlm", winrm.password)))
    local operations, sealed = operations_and_seals(log, "ntlm")
    assert.is_true(operations > 10, log)
    assert.equal(operations, sealed)           -- no message crossed in the clear
    assert.matches("auth ok ntlm", log, 1, true)
    assert.is_nil(output:find(winrm.password, 1, true))
    assert_one_session_each(winrm, log)
  end)

  it("fails over over WinRM one shell per command where a server cannot keep a session",
     function()
    local winrm = lab.start("winrm", "--shipped", "auto", FE, EDGE_OLD, EDGE_A, EDGE_B)
    finally(function() lab.stop(winrm) end)
    local log, output = failover_over_winrm(winrm, ("{ transport = 'winrm', scheme = 'http', "
      .. "auth = 'ntlm', port = %s, user = %q, password = %q, command_timeout = 20 }"):format(
      winrm.port, winrm.user, password_file("ntlm", winrm.password)), nil, function(state_dir)
        for _, address in ipairs { FE, EDGE_A, EDGE_B } do   -- JEA-like: no session there
          local path = state_dir .. "/" .. address .. ".json"
          local state = emulator.load_state(path)
          state.sessions = false
          emulator.save_state(path, state)
        end
      end)
    assert.matches("no persistent PowerShell session (the server said: The syntax is not "
                   .. "supported by this runspace", output, 1, true)
    for _, address in ipairs { FE, EDGE_A, EDGE_B } do
      local counted = emulator.counters(winrm.state_dir .. "/" .. address .. ".json")
      assert.equal(0, counted.sessions, address)
      assert.is_true(counted.processes > 2, address)
    end
    local _, created = ("\n" .. log):gsub("\ncreate ", "")
    local _, deleted = ("\n" .. log):gsub("\ndelete ", "")
    assert.equal(created, deleted)
  end)

  it("fails over over WinRM on HTTPS with CbtHardeningLevel Strict (NTLM bound to the TLS "
     .. "channel)", function()
    local winrm = lab.start("winrm", "--cbt", "strict", "auto", FE, EDGE_OLD, EDGE_A, EDGE_B)
    finally(function() lab.stop(winrm) end)
    local log = failover_over_winrm(winrm, ("{ transport = 'winrm', auth = 'ntlm', port = %s, "
      .. "user = %q, password = %q, ca_file = %q, command_timeout = 20 }"):format(winrm.port,
      winrm.user, password_file("ntlm", winrm.password), winrm.ca_file))
    local operations = operations_and_seals(log, "ntlm")
    assert.is_true(operations > 10, log)
    assert.matches("auth ok ntlm", log, 1, true)
    assert_one_session_each(winrm, log)
  end)

  it("fails over over WinRM with Kerberos from the test KDC, over HTTP with encryption",
     function()
    -- an address per suite: the two suites' runs of this spec never share a KDC
    local address = os.getenv("RUNBOOK_CHILD_ASAN_OPTIONS") and "127.0.88.5" or "127.0.88.4"
    local kdc = lab.start("kdc", address, "8804", "fe1.contoso.com", "edge1a.contoso.com",
                          "edge2a.contoso.com", "edge2b.contoso.com")
    local winrm
    -- one finally per test (busted keeps the last one given): it stops both servers
    finally(function() lab.stop(winrm); lab.stop(kdc) end)
    winrm = lab.start("winrm", "--shipped", "--kerberos", kdc.dir, "auto", FE, EDGE_OLD,
                      EDGE_A, EDGE_B)
    local log, output = failover_over_winrm(winrm, ("{ transport = 'winrm', scheme = 'http', "
      .. "auth = 'kerberos', port = %s, user = %q, password = %q, command_timeout = 20 }")
      :format(winrm.port, kdc.user, password_file("kerberos", kdc.password)),
      "KRB5_CONFIG=" .. quote(kdc.krb5_conf))
    local operations, sealed = operations_and_seals(log, "kerberos")
    assert.is_true(operations > 10, log)
    assert.equal(operations, sealed)
    assert.matches("auth ok kerberos administrator@RUNBOOK.TEST", log, 1, true)
    assert.is_nil(log:find("auth ok ntlm", 1, true))
    assert.is_nil(output:find(kdc.password, 1, true))
    assert_one_session_each(winrm, log)
  end)

  -- The readiness audit's remoting step over the real WS-Management emulator (issue 17): how
  -- each Windows server is reached, tried as it is; readiness changes nothing.
  local function readiness_over_winrm(winrm, defaults, environment)
    seed_servers(winrm.state_dir)
    write(inventory, inventory_text { server_defaults = defaults })
    local r = support.sh(("cd %s && %s RUNBOOK_STATE_DIR=%s %s plan xmpp-dr-readiness -v -i %s")
      :format(quote(scratch), environment or "", quote(scratch .. "/state"), quote(support.bin),
              quote(inventory)))
    assert.is_nil((r.out .. r.err):find(winrm.password, 1, true))
    return r
  end

  it("reports in readiness that every Windows server is reached as Windows ships it, "
     .. "sealed NTLM over HTTP", function()
    local winrm = lab.start("winrm", "--shipped", "auto", FE, EDGE_OLD, EDGE_A, EDGE_B)
    finally(function() lab.stop(winrm) end)
    local r = readiness_over_winrm(winrm, ("{ transport = 'winrm', scheme = 'http', "
      .. "port = %s, user = %q, password = %q }"):format(winrm.port, winrm.user,
      password_file("ntlm", winrm.password)))
    assert.matches("✓ 8/8 runbook reaches every Windows server", r.out, 1, true)
    for _, name in ipairs { "fe1", "edge1a", "edge2a", "edge2b" } do
      assert.matches(("%s.contoso.com: http/%s NTLM sealed (configured): works; https/5986 "
        .. "NTLM: nothing listens on port 5986 (refused)"):format(name, winrm.port), r.out, 1,
        true)
    end
    assert.is_nil(slurp(winrm.log):find("auth failed", 1, true))
  end)

  it("reports in readiness a local administrator other than the built-in one refused for "
     .. "UAC's remote restrictions, with the PowerShell that lifts them", function()
    local winrm = lab.start("winrm", "--shipped", "--user", "ops", "auto", FE, EDGE_OLD,
                            EDGE_A, EDGE_B)
    finally(function() lab.stop(winrm) end)
    local r = readiness_over_winrm(winrm, ("{ transport = 'winrm', scheme = 'http', "
      .. "port = %s, user = %q, password = %q }"):format(winrm.port, "FE1\\ops",
      password_file("ntlm", winrm.password)))
    assert.is_true(r.code == 1 or r.code == 5, r.out .. r.err)
    assert.matches("✗ 8/8 runbook reaches every Windows server", r.out, 1, true)
    assert.matches("fe1.contoso.com: http/" .. winrm.port .. " NTLM sealed (configured): "
      .. "authentication refused (401, auth): either the password of FE1\\ops is wrong, or "
      .. "ops is a local administrator other than the built-in Administrator", r.out, 1, true)
    assert.matches("LocalAccountTokenFilterPolicy -PropertyType DWord -Value 1 -Force", r.out,
                   1, true)
  end)

  it("reports in readiness Kerberos from the test KDC working over sealed HTTP, and what "
     .. "NTLM with the same account came to", function()
    local address = os.getenv("RUNBOOK_CHILD_ASAN_OPTIONS") and "127.0.88.5" or "127.0.88.4"
    local kdc = lab.start("kdc", address, "8804", "fe1.contoso.com", "edge1a.contoso.com",
                          "edge2a.contoso.com", "edge2b.contoso.com")
    local winrm
    finally(function() lab.stop(winrm); lab.stop(kdc) end)   -- one finally: both servers
    winrm = lab.start("winrm", "--shipped", "--kerberos", kdc.dir, "auto", FE, EDGE_OLD,
                      EDGE_A, EDGE_B)
    local r = readiness_over_winrm(winrm, ("{ transport = 'winrm', scheme = 'http', "
      .. "auth = 'kerberos', port = %s, user = %q, password = %q }"):format(winrm.port,
      kdc.user, password_file("kerberos", kdc.password)), "KRB5_CONFIG=" .. quote(kdc.krb5_conf))
    assert.is_nil((r.out .. r.err):find(kdc.password, 1, true))
    assert.matches("✓ 8/8 runbook reaches every Windows server", r.out, 1, true)
    -- the emulator's NTLM account has the lab's password, not the KDC's: refused, and said so
    assert.matches(("fe1.contoso.com: http/%s Kerberos sealed (configured): works; https/5986 "
      .. "Kerberos: nothing listens on port 5986 (refused); http/%s NTLM sealed: "
      .. "authentication refused (401, auth): the user %s or its password is wrong")
      :format(winrm.port, winrm.port, kdc.user), r.out, 1, true)
  end)

  it("finds a TSIG key BIND rejects in preflight, before any change", function()
    local good = slurp(named.key)
    finally(function() write(named.key, good) end)
    write(named.key, (good:gsub('secret "[^"]+"', 'secret "' .. ("QUJD"):rep(11) .. '"')))
    local zone_serial = serial()
    local plan = runbook("plan xmpp-failover")
    assert.equal(5, plan.code, plan.out .. plan.err)
    assert.matches("✗ preflight: %[dns%.rfc2136%][^\n]*BADSIG", plan.out)
    local r = runbook("run xmpp-failover --yes --rollback auto")
    assert.equal(5, r.code, r.out .. r.err)
    assert.matches("BADSIG", r.out)
    assert.is_nil(site2_route())
    assert.equal("", dig("xmpp.contoso.com", "A"))
    assert.equal(zone_serial, serial())       -- the prerequisite-only update changed nothing
    assert.equal("Running", edge_services(EDGE_A, "edge2a.contoso.com").RTCSRV)
  end)

  it("proves the TSIG key with a prerequisite-only update that leaves the serial alone", function()
    local zone_serial = serial()
    local plan = runbook("plan xmpp-failover")
    assert.equal(0, plan.code, plan.out .. plan.err)
    assert.matches("✓ preflight: 127%.0%.[%d.]+:%d+ accepts the TSIG key", plan.out)
    assert.equal(zone_serial, serial())
  end)

  -- The fault matrix's real-lab subset (tests/fault_matrix_spec.lua has every cell in the
  -- embedded lab): one failing call inside each changing Lync step, the end state read from
  -- the emulators' state files and from BIND with dig.
  local REAL_CELLS = {
    { server = EDGE_A, fail = { cmdlet = "Stop-CsWindowsService", computer = "edge2a.contoso.com",
                                at = 2 }, step = "stop%-services" },
    { server = FE, fail = { cmdlet = "Set-CsSite", at = 1 }, step = "federation%-route" },
    { server = EDGE_B, fail = { cmdlet = "Start-CsWindowsService",
                                computer = "edge2b.contoso.com", at = 5 }, step = "start%-services" },
  }
  for _, cell in ipairs(REAL_CELLS) do
    it(("restores the estate when %s fails inside %s (real lab)"):format(cell.fail.cmdlet,
        cell.step:gsub("%%", "")), function()
      local path = sshd.state_dir .. "/" .. cell.server .. ".json"
      local state = emulator.load_state(path)
      state.fail_call = cell.fail
      emulator.save_state(path, state)
      local a_before, srv_before = dig("xmpp.contoso.com", "A"),
        dig("_xmpp-server._tcp.contoso.com", "SRV")
      local r = runbook("run xmpp-failover --yes --rollback auto")
      assert.equal(1, r.code, r.out .. r.err)
      assert.matches("injected fault", r.out)
      assert.matches("restored: " .. cell.step, r.out)
      assert.is_nil(r.out:find("left changed", 1, true), r.out)
      assert.is_nil(site2_route())
      assert.equal(a_before, dig("xmpp.contoso.com", "A"))
      assert.equal(srv_before, dig("_xmpp-server._tcp.contoso.com", "SRV"))
      for _, edge in ipairs { { EDGE_A, "edge2a.contoso.com" }, { EDGE_B, "edge2b.contoso.com" } } do
        for name, status in pairs(edge_services(edge[1], edge[2])) do
          assert.equal("Running", status, edge[2] .. " " .. name)
        end
      end
    end)
  end

  -- The new pool's public address is 10.253.0.1 on this host; the vantage host is a real sshd
  -- in namespace rbe-vp whose firewall drops 5269 towards it (tests/lab/perimeter.sh).
  it("stops at the port check when a perimeter firewall drops 5269, and rollback restores "
    .. "the route and the records", function()
    local perimeter = lab.start("perimeter")
    finally(function() lab.stop(perimeter) end)
    write(inventory, inventory_text { public_ip = perimeter.public,
      vantage = ("{ transport = 'ssh', name = 'rbe-vp', address = %q, port = %s, user = %q, "
        .. "key_file = %q, known_hosts = %q, timeout = 5 }"):format(perimeter.vantage,
        perimeter.port, perimeter.user, perimeter.shell_key, perimeter.known_hosts) })
    local r = runbook("run xmpp-failover --yes --rollback auto")
    assert.equal(1, r.code, r.out .. r.err)
    assert.matches("%[%d+/10%] Port 5269 of the new Edge pool is open externally", r.out)
    assert.matches("10%.253%.0%.1:5269 from vantage host rbe%-vp: filtered", r.out)
    assert.matches("a firewall drops the traffic", r.out)
    assert.is_nil(site2_route())
    assert.equal("", dig("xmpp.contoso.com", "A"))
    assert.equal("10 0 5269 edge1.contoso.com.\n", dig("_xmpp-server._tcp.contoso.com", "SRV"))
    for name, status in pairs(edge_services(EDGE_A, "edge2a.contoso.com")) do
      assert.equal("Running", status, name)
    end
  end)
end)
