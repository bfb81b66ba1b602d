-- Trust under failure (issue 13), through ./runbook against the embedded lab: rollback by
-- intent, preflight before the first change, no vacuous truth, failures named by their
-- real cause without source paths, files checked by `check`, secrets never echoed, and
-- evidence instead of "skipped". Each case is a reproduction that failed before.
local cjson = require "cjson"
local support = require "support"
support.unwind_fully()   -- WinRM/NTLM loads gss-ntlmssp, whose leak tests/lsan.supp names
local quote, slurp = support.quote, support.slurp

local scratch, lab_dir

local function runbook(args, prefix)
  return support.sh(("cd / && %s RUNBOOK_STATE_DIR=%s %s %s --set lab.state_dir=%s"):format(
    prefix or "", quote(scratch .. "/state"), quote(support.bin), args, quote(lab_dir)))
end

-- A runbook run with an inventory of our own (no lab): the state dir is scratch's; wrapper
-- (optional) is a command that runs the binary, given as its arguments.
local function runbook_with(args, wrapper)
  return support.sh(("cd / && RUNBOOK_STATE_DIR=%s %s %s %s"):format(
    quote(scratch .. "/state"), wrapper or "", quote(support.bin), args))
end

local function lync_state() return cjson.decode(slurp(lab_dir .. "/lync-state.json")) end

local function statuses(computer)
  local list = {}
  for _, service in ipairs(lync_state().services[computer]) do
    list[#list + 1] = service.Name .. "=" .. service.Status
  end
  table.sort(list)
  return table.concat(list, " ")
end

local function a_record()
  local zone = cjson.decode(slurp(lab_dir .. "/dns-zone.json"))
  return zone.versions[#zone.versions]["xmpp.contoso.com A"][1].address
end

local ALL_RUNNING = "REPLICA=Running RTCCLSAGT=Running RTCDATAPROXY=Running "
  .. "RTCMEDIARELAY=Running RTCMRAUTH=Running RTCSRV=Running RTCXMPPTGWPX=Running"

before_each(function()
  scratch = support.tmpdir()
  lab_dir = scratch .. "/lab"
  os.execute("mkdir -p " .. quote(lab_dir))
end)
after_each(function() os.execute("rm -rf " .. quote(scratch)) end)

describe("rollback by intent #trust", function()
  it("restores a host whose services were stopped half-way (stuck-service)", function()
    local r = runbook("run xmpp-failover --yes --rollback auto --set lab.fault=stuck-service")
    assert.equal(1, r.code, r.out .. r.err)
    assert.matches("restored: stop%-services @ edge2a%.contoso%.com %(half%-done%)", r.out)
    assert.matches("restored: stop%-services @ edge2b%.contoso%.com", r.out)
    -- RTCSRV refused to stop; the three stopped before it run again
    assert.equal(ALL_RUNNING, statuses("edge2a.contoso.com"))
    assert.equal(ALL_RUNNING, statuses("edge2b.contoso.com"))
  end)

  it("says what it leaves changed with --rollback never, and exits 1", function()
    local r = runbook("run xmpp-failover --yes --rollback never --set lab.fault=stuck-service")
    assert.equal(1, r.code, r.out .. r.err)
    assert.matches("left changed: stop%-services @ edge2a%.contoso%.com %(half%-done%) — not "
      .. "rolled back", r.out)
  end)
end)

describe("preflight before the first change #trust", function()
  it("blocks plan and run with exit 5 when an Edge server does not answer, changing nothing",
    function()
    local plan = runbook("plan xmpp-failover --set lab.fault=unreachable-edge")
    assert.equal(5, plan.code, plan.out .. plan.err)
    assert.matches("✗ preflight: cannot log in to edge2a%.contoso%.com: .*%(timeout%)", plan.out)
    assert.matches("✓ preflight: fe1%.contoso%.com: logged in", plan.out)
    local run = runbook("run xmpp-failover --yes --set lab.fault=unreachable-edge")
    assert.equal(5, run.code, run.out .. run.err)
    assert.matches("cannot start: a capability the run needs is missing", run.out)
    assert.equal("198.51.100.10", a_record())
    assert.equal(ALL_RUNNING, statuses("edge2b.contoso.com"))
    assert.is_nil(slurp(lab_dir .. "/lync-state.json"):find("Stopped", 1, true))
  end)

  it("blocks when the DNS server refuses updates, before any service is stopped", function()
    local run = runbook("run xmpp-failover --yes --set lab.fault=dns-refused")
    assert.equal(5, run.code, run.out .. run.err)
    assert.matches("✗ preflight: %[dns%.sim%] zone contoso%.com refuses updates", run.out)
    assert.equal(ALL_RUNNING, statuses("edge2a.contoso.com"))
  end)

  it("proves every capability of a clean estate and says what it proved", function()
    local plan = runbook("plan xmpp-failover")
    assert.equal(0, plan.code, plan.out .. plan.err)
    for _, host in ipairs { "fe1", "edge2a", "edge2b" } do
      assert.matches("✓ preflight: " .. host .. "%.contoso%.com: logged in", plan.out)
    end
    assert.matches("✓ preflight: zone contoso%.com accepts updates", plan.out)
    assert.matches("✓ preflight: the simulated Internet can connect out", plan.out)
  end)
end)

describe("no vacuous truth #trust", function()
  it("an Edge server that reports no services is neither all stopped nor all running", function()
    local plan = runbook("plan xmpp-failover --set lab.fault=no-services")
    assert.equal(1, plan.code, plan.out .. plan.err)
    assert.matches("3/10 .* edge2a%.contoso%.com reports no Lync services: is it an Edge server "
      .. "of this pool%?", plan.out)
    assert.is_nil(plan.out:find("all Stopped", 1, true))
  end)
end)

describe("failures named by their real cause #trust", function()
  it("an unresolvable Front End is a name-resolution failure, not 'deploy the pool'", function()
    support.write(scratch .. "/northwind.lua", [[
      return {
        domain = "northwind.test", management = "fe1.northwind.test",
        server_defaults = { transport = "winrm", user = "admin", password = "env:RB_PW" },
        pools = { ["edgepool2.northwind.test"] = { public_ip = "203.0.113.10" } },
        dns = { provider = "manual", zone = "northwind.test", xmpp_host = "xmpp.northwind.test",
                server = "127.0.0.1", port = 9 },
        failover = { from_pool = "edgepool1.northwind.test",
                     to_pool = "edgepool2.northwind.test" },
      }]])
    -- a network namespace with loopback only: the name cannot resolve, nothing leaves
    local plan = runbook_with("plan xmpp-failover -i " .. quote(scratch .. "/northwind.lua"),
      "RB_PW=x unshare -n sh -c 'ip link set lo up; exec \"$0\" \"$@\"'")
    assert.equal(5, plan.code, plan.out .. plan.err)
    local first = plan.out:match("[^\n]*1/10[^\n]*")
    assert.matches("could not run Get%-CsPool on fe1%.northwind%.test: .*%(name%-resolution%)",
      first)
    assert.is_nil(plan.out:find("deploy the Edge pool", 1, true), plan.out)
    assert.is_nil((plan.out .. plan.err):find("%.lua:%d+:"), plan.out .. plan.err)
  end)
end)

describe("check validates the files an inventory names #trust", function()
  local function inventory(server_fields)
    return support.write(scratch .. "/inv.lua", ([[
      return {
        domain = "contoso.com", management = "fe1.contoso.com",
        server_defaults = { transport = "ssh", user = "admin", %s },
        pools = { ["edgepool2.contoso.com"] = { public_ip = "203.0.113.10" } },
        dns = { provider = "manual", zone = "contoso.com", xmpp_host = "xmpp.contoso.com" },
        failover = { from_pool = "edgepool1.contoso.com", to_pool = "edgepool2.contoso.com" },
      }]]):format(server_fields))
  end

  local CASES = {
    { "key_file = '/nonexistent/id_ed25519'", "/nonexistent/id_ed25519 does not exist" },
    { "key_file = KEY644", "permissions 0644 of .* are too open: a private key must be readable "
      .. "by its owner only %(chmod 600%)" },
    { "key_file = NOTKEY", "is not a private key" },
    { "known_hosts = NOTKEY", "line 1 is not a line of a known_hosts file" },
    { "key_file = '/tmp'", "/tmp is a directory, not a file" },
  }
  for _, case in ipairs(CASES) do
    it("refuses " .. case[1], function()
      local key644 = support.write(scratch .. "/key644", "-----BEGIN OPENSSH PRIVATE KEY-----\n")
      os.execute("chmod 644 " .. quote(key644))
      local notkey = support.write(scratch .. "/notkey", "hello\n")
      os.execute("chmod 600 " .. quote(notkey))
      local fields = case[1]:gsub("KEY644", "'" .. key644 .. "'"):gsub("NOTKEY", "'" .. notkey .. "'")
      local r = runbook_with("check xmpp-failover -i " .. quote(inventory(fields)))
      assert.equal(2, r.code, r.out .. r.err)
      assert.matches("inv%.lua:%d+: server_defaults%.[%w_]+: .*" .. case[2], r.err)
    end)
  end
end)

describe("a secret is never echoed #trust", function()
  local SECRET = "Sup3r$ecretPassw0rd-7c1"
  local FIELDS = {
    "server_defaults = { password = SECRET }",
    "server_defaults = { passphrase = SECRET }",
    "servers = { ['edge2a.contoso.com'] = { password = SECRET } }",
    "dns = { provider = 'rfc2136', zone = 'contoso.com', xmpp_host = 'xmpp.contoso.com', "
      .. "server = '127.0.0.1', key = SECRET }",
    "dns = { provider = 'powerdns', zone = 'contoso.com', xmpp_host = 'xmpp.contoso.com', "
      .. "api_url = 'http://127.0.0.1:9', api_key = SECRET }",
    "vantage = { transport = 'ssh', address = '127.0.0.1', password = SECRET }",
    "vantage = { transport = 'ssh', address = '127.0.0.1', passphrase = SECRET }",
  }
  for _, field in ipairs(FIELDS) do
    it("refuses " .. field .. " without showing it, in every command and --json", function()
      local source = ([[
        return {
          domain = "contoso.com", management = "fe1.contoso.com",
          pools = { ["edgepool2.contoso.com"] = { public_ip = "203.0.113.10" } },
          dns = { provider = "manual", zone = "contoso.com", xmpp_host = "xmpp.contoso.com" },
          failover = { from_pool = "edgepool1.contoso.com", to_pool = "edgepool2.contoso.com" },
          %s,
        }]]):format(field:gsub("SECRET", "'" .. SECRET .. "'"))
      -- a field given twice (dns) keeps the later one: the one with the secret
      local path = support.write(scratch .. "/inv.lua", source)
      for _, command in ipairs { "check", "check --json", "plan", "plan --json", "run --yes",
                                 "run --yes --json" } do
        local r = runbook_with(command .. " xmpp-failover -i " .. quote(path))
        assert.equal(2, r.code, command .. ": " .. r.out .. r.err)
        assert.is_nil((r.out .. r.err):find(SECRET, 1, true), command .. ": " .. r.out .. r.err)
        assert.matches("of 23 characters %(not shown", r.out .. r.err, nil, nil)
      end
      local journals = support.sh("cat " .. quote(scratch .. "/state") .. "/*.jsonl 2>/dev/null")
      assert.is_nil(journals.out:find(SECRET, 1, true))
    end)
  end
end)

describe("evidence, not 'skipped' #trust", function()
  it("shows what the final check saw, and plans no change for services that run", function()
    local plan = runbook("plan xmpp-failover")
    assert.is_nil(plan.out:find("9/10 [^\n]* — will change"), plan.out)
    assert.matches("9/10 [^\n]* checked again after the earlier steps: all Running now", plan.out)
    local run = runbook("run xmpp-failover --yes")
    assert.equal(0, run.code, run.out .. run.err)
    assert.matches("%[10/10%][^\n]*\n[^\n]*already holds, as the check saw:\n[^\n]*federation "
      .. "answers: contoso%.com → 203%.0%.113%.10:5269 open", run.out)
    lab_dir = scratch .. "/lab-json"            -- a fresh lab for the same run in --json
    os.execute("mkdir -p " .. quote(lab_dir))
    local json = runbook("run xmpp-failover --yes --json")
    assert.matches('"event":"preflight"', json.out)
    assert.matches('"evidence":%[{"saw":"federation answers: contoso%.com', json.out)
  end)
end)

describe("preflight proves the vantage host forwards #trust", function()
  local dir, sshd
  setup(function()
    dir = support.tmpdir()
    local r = support.sh(("SSHD_EXTRA_CONFIG='AllowTcpForwarding no' tests/lab/sshd.sh start %s "
      .. "auto 127.0.22.61"):format(quote(dir)))
    assert(r.code == 0, r.err)
    sshd = {}
    for key, value in r.out:gmatch("([%w_]+)=([^\n]*)") do sshd[key] = value end
  end)
  teardown(function()
    support.sh("tests/lab/sshd.sh stop " .. quote(dir))
    os.execute("rm -rf " .. quote(dir))
  end)

  -- The reproduction: a vantage host whose sshd forbids TCP forwarding made `plan` exit 0
  -- and `run` stop at the port step after the route and the A record had changed.
  it("blocks before the first change when the vantage host forbids TCP forwarding", function()
    local preflight = require "runbook.preflight"
    local capabilities = require "capabilities"
    local task = require "runbook.task"
    local ctx = { data = {}, params = {}, inventory = { domain = "contoso.com",
      management = "fe1.contoso.com", pools = {}, dns = { provider = "manual", zone = "contoso.com" },
      vantage = { transport = "ssh", name = "vp", address = "127.0.22.61",
                  port = tonumber(sshd.port), user = sshd.user, key_file = sshd.shell_key,
                  known_hosts = sshd.known_hosts, timeout = 5 } } }
    local session = { ctx = ctx, definition = { steps = { { id = "port-5269",
      needs = function() return { capabilities.vantage { host = "127.0.22.61", port = 9 } } end } } } }
    local results, blocked = task.run(function()
      return preflight.run(session, { { status = "change" } })
    end)
    assert.is_true(blocked)
    assert.matches("vp refuses to open connections for us: allow TCP forwarding", results[1].text)
    assert.same({ "port-5269" }, results[1].steps)
  end)
end)

describe("one run at a time against an estate, from any machine #trust", function()
  -- Another operator's run holds the lease: its TXT record in the lab's zone.
  local function hold_lease(expires)
    local plan = runbook("plan xmpp-failover")      -- creates the lab's files
    assert.equal(0, plan.code, plan.out .. plan.err)
    local path = lab_dir .. "/dns-zone.json"
    local zone = cjson.decode(slurp(path))
    local latest = {}
    for key, value in pairs(zone.versions[#zone.versions]) do latest[key] = value end
    latest["_runbook-lease.contoso.com TXT"] = { { name = "_runbook-lease.contoso.com",
      type = "TXT", ttl = 60,
      text = ("holder=bob@ops2 pid=77 run=xmpp-failover-other expires=%d"):format(expires) } }
    zone.versions[#zone.versions + 1] = latest
    support.write(path, cjson.encode(zone))
  end

  local function lease_record()
    local zone = cjson.decode(slurp(lab_dir .. "/dns-zone.json"))
    return zone.versions[#zone.versions]["_runbook-lease.contoso.com TXT"]
  end

  it("refuses while another run holds the lease, naming it, and changes nothing", function()
    hold_lease(os.time() + 600)
    local plan = runbook("plan xmpp-failover")
    assert.equal(5, plan.code, plan.out .. plan.err)
    assert.matches("✗ preflight: another run holds the estate's lease: bob@ops2 %(pid 77, run "
      .. "xmpp%-failover%-other%)", plan.out)
    local run = runbook("run xmpp-failover --yes")
    assert.equal(5, run.code, run.out .. run.err)
    assert.equal("198.51.100.10", a_record())
    assert.equal(ALL_RUNNING, statuses("edge2a.contoso.com"))
  end)

  it("takes over a lease whose holder died (expired), and releases its own at the end", function()
    hold_lease(os.time() - 1)
    local run = runbook("run xmpp-failover --yes")
    assert.equal(0, run.code, run.out .. run.err)
    assert.equal("203.0.113.10", a_record())
    local record = lease_record()
    assert.is_true(record == nil or #record == 0, "the lease is released")
  end)
end)
