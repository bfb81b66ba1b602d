-- Checks from an external vantage point through SSH (modules/vantage.lua), in network
-- namespaces (tests/lab/netns.sh): the operator rbn-op (10.252.0.1), the server rbn-srv
-- (10.252.0.2: 5269 listens, 5270 nothing, 5271 dropped, 5273/5274 rejected with ICMP, and
-- 5269 dropped for the vantage host only — a perimeter firewall; Prosody on 10.252.0.5,
-- which the vantage host may reach) and the vantage host rbn-vp (10.252.0.3), where a real
-- sshd runs. The checks run from the operator's namespace. #net #netns
local lab = require "helpers.servers"
local lab_lock = require "lab_lock"
local support = require "support"
local quote = support.quote

describe("port states and the XMPP probe from an SSH vantage host #net #netns", function()
  local release, hosts, sshd, prosody, scratch
  setup(function()
    release = lab_lock.acquire("rbn")
    hosts = lab.start("netns")
    scratch = support.tmpdir()
    sshd = { name = "sshd", dir = scratch .. "/sshd" }
    os.execute("mkdir -p " .. quote(sshd.dir))
    local r = support.sh(("ip netns exec rbn-vp tests/lab/sshd.sh start %s auto 10.252.0.3"):format(
      quote(sshd.dir)))
    assert(r.code == 0, r.err)
    for key, value in r.out:gmatch("([%w_]+)=([^\n]*)") do sshd[key] = value end
    prosody = lab.start("prosody", "10.252.0.5", "contoso.com", "rbn-srv")
  end)
  teardown(function()
    lab.stop(prosody)
    if sshd then support.sh("tests/lab/sshd.sh stop " .. quote(sshd.dir)) end
    lab.stop(hosts)
    os.execute("rm -rf " .. quote(scratch))
    release()
  end)

  -- Runs a script in a task in the operator's namespace with lua5.4 and the runbook.so of
  -- this run (the sanitizer build's too, its runtime preloaded again for that process), or
  -- with the runbook binary; the script starts with `host`, the vantage host's inventory
  -- entry, and `extra` merged into it.
  local function from_operator(script, extra, with_binary)
    local entry = ("{ name = 'vp', address = '10.252.0.3', port = %s, user = %q, key_file = %q, "
      .. "known_hosts = %q }"):format(sshd.port, sshd.user, sshd.shell_key, sshd.known_hosts)
    script = ("local host = %s\nfor key, value in pairs(%s) do host[key] = value end\n"):format(
      entry, extra or "{}") .. script
    if with_binary then
      local path = support.write(scratch .. "/check.lua", script)
      return support.sh(("ip netns exec rbn-op %s run %s"):format(quote(support.bin), quote(path)))
    end
    local so_dir = os.getenv("RUNBOOK_SO_DIR") or "build/lib"
    local path = support.write(scratch .. "/check.lua", ("package.cpath = %q\npackage.path = %q\n"
      .. "require('runbook.task').run(function()\n%s\nend)\n"):format(so_dir .. "/?.so;"
      .. package.cpath, package.path, script))
    return support.sh(("ip netns exec rbn-op env LD_PRELOAD=%s lua5.4 %s"):format(
      quote(os.getenv("LD_PRELOAD") or ""), quote(path)))
  end

  local function logins()
    local r = support.sh("cat " .. quote(sshd.dir) .. "/sshd.*.log")
    local count = 0
    for _ in r.out:gmatch("Accepted publickey") do count = count + 1 end
    return count
  end

  -- Prints "host:port state reason" for each target checked through the vantage host.
  local CHECK = [[
    local vantage = require("vantage").new(host)
    for _, target in ipairs(targets) do
      local r = vantage.connect { host = target[1], port = target[2], timeout = 2 }
      print(("%s:%d %s %s | %s"):format(target[1], target[2], r.state, r.reason, r.from))
    end
  ]]
  local FAILING = {   -- each of these makes the vantage host's connect fail at once
    { "10.252.0.2", 5270, "closed conn-refused" },        -- nothing listens: RST
    { "10.252.0.2", 5273, "filtered icmp-port-unreachable from 10.252.0.2" },
    { "10.252.0.2", 5274, "filtered icmp-admin-prohibited from 10.252.0.2" },
    { "10.253.0.1", 5269, "unreachable no-route" },       -- no route from the vantage host
  }
  local function targets_of(cases)
    local list = {}
    for i, case in ipairs(cases) do list[i] = ("{ %q, %d }"):format(case[1], case[2]) end
    return "local targets = { " .. table.concat(list, ", ") .. " }\n"
  end

  it("sees filtered from outside where the operator sees open, and says from where", function()
    local r = from_operator([[
      local vantage = require("vantage").new(host)
      local net = require "runbook.net"
      for _, port in ipairs { 5269, 5270, 5271 } do
        local inside = net.connect { host = "10.252.0.2", port = port, timeout = 1 }
        local outside = vantage.connect { host = "10.252.0.2", port = port, timeout = 1 }
        print(port, inside.state, outside.state, outside.from)
      end
    ]], "{ allow_commands = true }")
    assert.equal(0, r.code, r.err)
    assert.matches("5269\topen\tfiltered\tvantage host vp", r.out)
    assert.matches("5270\tclosed\tclosed\t", r.out)
    assert.matches("5271\tfiltered\tfiltered\t", r.out)
  end)

  it("tells a RST from an ICMP rejection and no route by asking the vantage host", function()
    local r = from_operator(targets_of(FAILING) .. CHECK, "{ allow_commands = true }")
    assert.equal(0, r.code, r.err)
    for _, case in ipairs(FAILING) do
      assert.is_truthy(r.out:find(("%s:%d %s | vantage host vp"):format(case[1], case[2],
        case[3]), 1, true), r.out)
    end
  end)

  it("asks the vantage host also while planning: its probe is a proven read", function()
    local r = from_operator("require('runbook.task.core').enter_plan_mode()\n"
      .. targets_of(FAILING) .. CHECK .. [[
      local session = assert(require("runbook.ssh").session(require("cmdlet").ssh_options(host)))
      print("other command:", pcall(session.exec, session, "true"))
    ]], "{ allow_commands = true }")
    assert.equal(0, r.code, r.err)
    for _, case in ipairs(FAILING) do
      assert.is_truthy(r.out:find(("%s:%d %s | vantage host vp"):format(case[1], case[2],
        case[3]), 1, true), r.out)
    end
    assert.matches("other command:\tfalse\t.*refusing to run `true` over SSH", r.out)
  end)

  it("says unknown, never closed, when it may not ask the vantage host", function()
    local r = from_operator(targets_of(FAILING) .. CHECK .. [[
      local results = {}
      for i, target in ipairs(targets) do
        results[i] = vantage.connect { host = target[1], port = target[2], timeout = 2 }
      end
      local ok, message = require("ports").expect(results, "closed")
      print("expect closed:", ok, message)
    ]])
    assert.equal(0, r.code, r.err)
    for _, case in ipairs(FAILING) do
      assert.is_truthy(r.out:find(("%s:%d unknown connect-failed"):format(case[1], case[2]), 1,
        true), r.out)
    end
    assert.matches("expect closed:\tfalse\t", r.out)
    assert.matches("allow_commands = true", r.out)
  end)

  it("checks 50 targets at once through a few reused SSH sessions, all correct", function()
    local before = logins()
    local r = from_operator(([[
      local targets, expected = {}, {}
      local function add(address, port, state)
        targets[#targets + 1] = { host = address, port = port }
        expected[#targets] = state
      end
      add("10.252.0.2", 5271, "filtered")      -- dropped for everyone (first: the sessions
      add("10.252.0.2", 5269, "filtered")      -- that time out are replaced mid-run)
      for port = 6000, 6043 do add("10.252.0.2", port, "closed") end
      add("10.252.0.5", 5269, "open")          -- Prosody's s2s
      add("10.252.0.5", 45222, "open")         -- Prosody's c2s
      add("10.252.0.3", %s, "open")            -- the vantage host's own sshd
      add("10.253.0.1", 5269, "unreachable")
      local vantage = require("vantage").new(host)
      local results = require("ports").check(targets, { net = vantage, timeout = 1 })
      local wrong = 0
      for i, result in ipairs(results) do
        if result.state ~= expected[i] or result.from ~= "vantage host vp" then
          wrong = wrong + 1
          print("WRONG", result.address, result.port, result.state, expected[i], result.detail)
        end
      end
      local stats = vantage.stats()
      print(("checked %%d wrong %%d logins %%d peak %%d"):format(#results, wrong, stats.logins,
        stats.peak))
    ]]):format(sshd.port), "{ allow_commands = true, max_sessions = 3 }")
    assert.equal(0, r.code, r.err)
    local checked, wrong, made, peak = r.out:match(
      "checked (%d+) wrong (%d+) logins (%d+) peak (%d+)")
    assert.equal("50", checked, r.out)
    assert.equal("0", wrong, r.out)
    assert.is_true(tonumber(peak) <= 3, r.out)
    -- 3 sessions, and one new login after each of the 2 timeouts (a timeout ends a session)
    assert.is_true(tonumber(made) <= 5, r.out)
    assert.equal(tonumber(made), logins() - before)
  end)

  -- The probe through estate's wiring, as the runbooks run it; prints the summary.
  local PROBE = [[
    local estate, xmpp = require "estate", require "xmpp"
    host.transport = "ssh"
    local ctx = { inventory = { vantage = host }, data = {} }
    local direct = require("runbook.net").connect { host = "10.252.0.5", port = 5269, timeout = 1 }
    print("direct from the operator:", direct.state)
    local result = xmpp.probe { domain = "contoso.com", targets = { { host = "10.252.0.5" } },
      net = estate.probe_net(ctx), from = estate.probe_from(ctx), ca_file = %q, timeout = 5 }
    print(xmpp.summary(result))
    print("failed:", result.failed)
  ]]

  it("runs the whole XMPP probe through the vantage host's tunnel", function()
    -- the operator's own way to 10.252.0.5:5269 is dropped: only the tunnel can get there
    assert.equal(0, support.sh("ip netns exec rbn-srv nft add rule inet rbn input ip saddr "
      .. "10.252.0.1 ip daddr 10.252.0.5 tcp dport 5269 drop").code)
    local r = from_operator(PROBE:format(prosody.ca_file))
    assert.equal(0, r.code, r.err)
    assert.matches("direct from the operator:\tfiltered", r.out)
    assert.matches("XMPP s2s probe of contoso.com from vantage host vp\n", r.out)
    for _, stage in ipairs { "resolve", "connect", "stream", "starttls", "tls", "certificate",
                             "features" } do
      assert.matches("%[ ok %] " .. stage, r.out)
    end
    assert.matches("SNI contoso%.com", r.out)
    assert.matches("failed:\tnil", r.out)
  end)

  it("fails a certificate for the wrong name at the certificate stage, through the tunnel",
    function()
      lab.stop(prosody)
      prosody = lab.start("prosody", "10.252.0.5", "wrong.example", "rbn-srv")
      local r = from_operator(PROBE:format(prosody.ca_file))
      assert.equal(0, r.code, r.err)
      assert.matches("from vantage host vp\n", r.out)
      assert.matches("%[ ok %] tls", r.out)
      assert.matches("%[FAIL%] certificate [^\n]*wrong%.example", r.out)
      assert.matches("failed:\tcertificate", r.out)
    end)

  it("fails with what to do when the vantage host cannot be reached", function()
    local r = from_operator([[
      local vantage = require("vantage").new(host)
      vantage.connect { host = "10.252.0.2", port = 5269, timeout = 1 }
    ]], "{ port = 1, timeout = 2 }", "with the runbook binary")
    assert.equal(1, r.code)
    assert.matches("^runbook: %[vantage%] cannot reach the vantage host vp", r.err)
  end)
end)
