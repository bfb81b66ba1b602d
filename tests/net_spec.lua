-- runbook.net (runtime/net.c): port states the way `nmap -sT` reports them, against real
-- peers — listeners, firewalls (nft) and hosts in network namespaces rbn-* that this spec
-- creates and deletes (tests/lab/netns.sh), and misbehaving peers on 127.0.52.x. #net
local net = require "runbook.net"
local task = require "runbook.task"
local lab = require "lab"
local lab_lock = require "lab_lock"
local support = require "support"

-- Runs a Lua chunk with lua5.4 inside a namespace, loading the same runbook.so as this
-- spec (the sanitizer build too: its runtime is preloaded again for that one process);
-- returns the printed lines.
local function run_in(namespace, code)
  local dir = support.tmpdir()
  local so_dir = os.getenv("RUNBOOK_SO_DIR") or "build/lib"
  local script = support.write(dir .. "/check.lua", ("package.cpath = %q\n"):format(
    so_dir .. "/?.so;" .. package.cpath) .. ("package.path = %q\n"):format(package.path) .. code)
  local r = support.sh(("ip netns exec %s env LD_PRELOAD=%s lua5.4 %s"):format(namespace,
    support.quote(os.getenv("LD_PRELOAD") or ""), support.quote(script)))
  os.execute("rm -rf " .. support.quote(dir))
  assert(r.code == 0, "lua5.4 in " .. namespace .. " failed: " .. r.err .. r.out)
  local lines = {}
  for line in r.out:gmatch("[^\n]+") do lines[#lines + 1] = line end
  return lines
end

-- The states of ports on host seen from a namespace: {[port] = "state reason"}.
local function states_from(namespace, host, ports, timeout)
  local code = ([[
    local net = require "runbook.net"
    require("runbook.task").run(function()
      for _, port in ipairs { %s } do
        local r = net.connect { host = %q, port = port, timeout = %s }
        print(port, r.state, r.reason, r.address)
      end
    end)]]):format(table.concat(ports, ", "), host, timeout or 0.5)
  local states = {}
  for _, line in ipairs(run_in(namespace, code)) do
    local port, state, reason, address = line:match("^(%d+)\t(%S+)\t(%S+)\t(%S+)$")
    assert.equal(host, address)
    states[tonumber(port)] = state .. " " .. reason
  end
  return states
end

describe("net.connect in network namespaces #net #netns", function()
  local hosts, prosody, release
  setup(function()
    release = lab_lock.acquire("rbn")
    hosts = lab.start("netns")
    prosody = lab.start("prosody", "10.252.0.4", "contoso.com", "rbn-srv")
  end)
  teardown(function()
    local ok, err = pcall(function()
      lab.stop(prosody)
      lab.stop(hosts)
    end)
    if release then release() end
    assert(ok, err)
  end)

  it("reports open, closed and filtered for a listener, no listener and each firewall rule",
    function()
      local states = states_from(hosts.operator, hosts.server, { 5269, 5270, 5271, 5272, 5273,
                                                                5274 })
      assert.same({
        [5269] = "open syn-ack",             -- a listener
        [5270] = "closed conn-refused",      -- nothing listening: the kernel answers RST
        [5271] = "filtered timeout",         -- nft drop
        [5272] = "closed conn-refused",      -- reject with tcp reset
        [5273] = "closed conn-refused",      -- reject with icmp port-unreachable (as nmap -sT)
        [5274] = "filtered host-unreachable", -- reject with icmp admin-prohibited
      }, states)
    end)

  it("sees filtered from the vantage host where the operator sees open", function()
    assert.equal("open syn-ack", states_from(hosts.operator, hosts.server, { 5269 })[5269])
    assert.equal("filtered timeout", states_from(hosts.vantage, hosts.server, { 5269 })[5269])
  end)

  it("completes the XMPP probe from the operator; the vantage host stops at connect, filtered",
    function()
      local code = ([[
        local xmpp = require "xmpp"
        local result = xmpp.probe { domain = "contoso.com", ca_file = %q, timeout = 1,
                                    targets = { { host = "10.252.0.4", port = 5269 } } }
        print(tostring(result.failed), result.connect.detail)]]):format(prosody.ca_file)
      local operator = run_in(hosts.operator, code)
      local vantage = run_in(hosts.vantage, code)
      assert.matches("^nil\t10.252.0.4:5269 open", operator[1])
      assert.matches("^connect\t10.252.0.4:5269 filtered %(timeout%).*firewall", vantage[1])
    end)

  it("closes the socket of a connect that is cancelled, without waiting for the collector",
    function()
      local lines = run_in(hosts.operator, [[
        local net, task, fs = require "runbook.net", require "runbook.task", require "runbook.fs"
        collectgarbage("stop")
        local before = #fs.list("/proc/self/fd")
        task.run(function()
          for _ = 1, 50 do
            local ok, err = task.timeout(0.01, net.connect,
              { host = "10.252.0.2", port = 5271, timeout = 5 })
            assert(ok == false and err == "timeout")
          end
        end)
        print(#fs.list("/proc/self/fd") - before)]])
      assert.same({ "0" }, lines)
    end)

  it("reports unreachable when there is no route to the network", function()
    assert.equal("unreachable no-route", states_from(hosts.operator, "10.253.0.1", { 5269 })[5269])
  end)

  -- ICMP rejects (5273, 5274) are left out: the kernel rate-limits ICMP errors
  -- (net.ipv4.icmp_ratelimit), so under a burst most of them go unanswered and read as
  -- filtered — docs/verification.md says so.
  it("checks 300 targets concurrently with task.parallel and a limit", function()
    local lines = run_in(hosts.operator, [[
      local net = require "runbook.net"
      local task = require "runbook.task"
      task.run(function()
      local targets = {}
      for i = 1, 300 do targets[i] = { host = "10.252.0.2", port = 5269 + i % 4, timeout = 1 } end
      local results, failures = task.parallel(targets, net.connect, { limit = 100 })
      local counts = {}
      for i = 1, 300 do
        assert(results[i].port == targets[i].port)
        counts[results[i].state] = (counts[results[i].state] or 0) + 1
      end
      print(#failures, counts.open, counts.closed, counts.filtered)
      end)]])
    -- ports 5269..5272 seventy-five times each: open, closed, filtered (drop), closed (reset)
    assert.same({ "0\t75\t150\t75" }, lines)
  end)
end)

describe("net on loopback #net", function()
  local peers, peers6, release
  setup(function()
    release = lab_lock.acquire("rbn")
    peers = lab.start("hostile", "127.0.52.2", 45301)
    peers6 = lab.start("hostile", "::1", 45321)
  end)
  teardown(function()
    local ok, err = pcall(function()
      lab.stop(peers)
      lab.stop(peers6)
    end)
    if release then release() end
    assert(ok, err)
  end)

  it("reports open and closed over IPv4, with the round-trip time", function()
    local open, closed = task.run(function()
      return net.connect { host = "127.0.52.2", port = 45304 },
             net.connect { host = "127.0.52.2", port = 45399 }
    end)
    assert.equal("open", open.state)
    assert.equal("127.0.52.2", open.address)
    assert.equal(45304, open.port)
    assert.is_true(open.rtt >= 0 and open.rtt < 5)
    assert.equal("closed", closed.state)
  end)

  it("reports open and closed over IPv6 on ::1, also written [::1]", function()
    local open, closed, bracketed = task.run(function()
      return net.connect { host = "::1", port = 45324 }, net.connect { host = "::1", port = 45399 },
             net.connect { host = "[::1]", port = 45324 }
    end)
    assert.equal("open", open.state)
    assert.equal("::1", open.address)
    assert.equal("closed", closed.state)
    assert.equal("open", bracketed.state)
  end)

  it("exchanges data over IPv6", function()
    local answer = task.run(function()
      local sock <close> = assert(net.open { host = "::1", port = 45324 })
      assert(sock:send("over six"))
      local got = ""
      while #got < 8 do got = got .. assert(sock:receive(64, { timeout = 2 })) end
      return got
    end)
    assert.equal("over six", answer)
  end)

  it("sends and receives over a stream, bounded by max_bytes", function()
    local first, rest = task.run(function()
      local sock <close> = assert(net.open { host = "127.0.52.2", port = 45304 })
      assert(sock:send("hello, peer"))
      local first = assert(sock:receive(5))
      local rest = ""
      while #rest < 6 do rest = rest .. assert(sock:receive(100, { timeout = 2 })) end
      return first, rest
    end)
    assert.equal("hello", first)
    assert.equal(", peer", rest)
  end)

  it("times out a receive from a peer that never speaks", function()
    local data, message, code = task.run(function()
      local sock <close> = assert(net.open { host = "127.0.52.2", port = 45301 })
      return sock:receive(100, { timeout = 0.2 })
    end)
    assert.is_nil(data)
    assert.equal("timeout", code)
    assert.matches("127.0.52.2:45301", message)
  end)

  it("returns refused from open when nothing listens", function()
    local sock, message, code = task.run(function()
      return net.open { host = "127.0.52.2", port = 45399 }
    end)
    assert.is_nil(sock)
    assert.equal("refused", code)
    assert.matches("127.0.52.2:45399", message)
  end)

  it("closes a socket twice without harm and refuses to use it after", function()
    local ok, err = task.run(function()
      local sock = assert(net.open { host = "127.0.52.2", port = 45304 })
      sock:close()
      sock:close()
      return pcall(sock.send, sock, "x")
    end)
    assert.is_false(ok)
    assert.matches("closed", err)
  end)

  it("raises on misuse: bad port, a name instead of an address, outside a task", function()
    task.run(function()
      assert.has_error(function() net.connect { host = "127.0.52.2", port = 0 } end)
      assert.has_error(function() net.connect { host = "127.0.52.2", port = 70000 } end)
      assert.has_error(function() net.connect { host = "127.0.52.2", port = "x" } end)
      assert.error_matches(function() net.connect { host = "fe1.contoso.com", port = 5269 } end,
        "not an IP address")
      local sock = assert(net.open { host = "127.0.52.2", port = 45304 })
      assert.has_error(function() sock:receive(0) end)
      sock:close()
    end)
    assert.error_matches(function() net.connect { host = "127.0.52.2", port = 45304 } end,
      "inside a task")
  end)
end)
