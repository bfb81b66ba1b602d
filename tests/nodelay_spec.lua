-- Every TCP connection the runtime opens sends a small write at once (TCP_NODELAY, issue
-- 16): without it, the second of two small writes waits for the peer's delayed ACK (40 ms
-- on Linux, 200 ms on Windows). Read back with getsockopt (net.tcp_connections) while a
-- connection of each kind is open: net.open, an SSH session (libssh2's socket), dns.update
-- over TCP and an HTTP request (libcurl's), against peers that accept and stay silent
-- (tests/lab/hostile.sh) and a real sshd (tests/lab/sshd.sh).
local net = require "runbook.net"
local task = require "runbook.task"
local lab = require "lab"
local lab_lock = require "lab_lock"

local HOSTILE, BASE = "127.0.16.1", 45401

-- This process's connections to address:port.
local function connections_to(address, port)
  local found = {}
  for _, connection in ipairs(net.tcp_connections()) do
    if connection.address == address and connection.port == port then
      found[#found + 1] = connection
    end
  end
  return found
end

-- Runs call in a task of its own and, once it holds a connection to address:port (asked
-- every 5 ms for at most 5 s), returns that connection's entries; the call is cancelled.
local function connections_during(address, port, call)
  collectgarbage()                   -- the sockets of earlier cases, closed by their __gc
  assert.same({}, connections_to(address, port))
  return task.run(function()
    local running = task.spawn(call)
    local deadline, found = task.now() + 5, {}
    local function busy()
      local status = running:status()
      return status == "ready" or status == "waiting"
    end
    while #found == 0 and task.now() < deadline and busy() do
      task.sleep(0.005)
      found = connections_to(address, port)
    end
    if busy() then running:cancel() end
    assert(#found > 0, ("no connection to %s:%d appeared (the call: %s)"):format(address,
      port, busy() and "still running" or tostring(select(2, running:result()))))
    return found
  end)
end

describe("TCP_NODELAY on every TCP connection #nodelay", function()
  local peers, sshd, release

  setup(function()
    release = lab_lock.acquire("nodelay")
    peers = lab.start("hostile", HOSTILE, BASE)
    sshd = lab.start("sshd", "auto", "127.0.16.2")
  end)

  teardown(function()
    lab.stop(sshd)
    lab.stop(peers)
    if release then release() end
  end)

  it("lists this process's connections with the option as the kernel has it", function()
    local listed = task.run(function()
      local socket = assert(net.open { host = HOSTILE, port = tonumber(peers.silent) })
      local found = connections_to(HOSTILE, tonumber(peers.silent))
      socket:close()
      return { found = found, after = connections_to(HOSTILE, tonumber(peers.silent)) }
    end)
    assert.equal(1, #listed.found)
    assert.is_number(listed.found[1].fd)
    assert.same({}, listed.after)
  end)

  it("net.open", function()
    local found = connections_during(HOSTILE, tonumber(peers.silent), function()
      local socket <close> = assert(net.open { host = HOSTILE, port = tonumber(peers.silent) })
      socket:receive(1, { timeout = 10 })
    end)
    assert.is_true(found[1].nodelay)
  end)

  it("an SSH session (the socket libssh2 writes to)", function()
    local ssh = require "runbook.ssh"
    local port = tonumber(sshd.port)
    local found = connections_during("127.0.16.2", port, function()
      local session <close> = assert(ssh.session { host = "127.0.16.2", port = port, user = sshd.user,
        key_file = sshd.shell_key, known_hosts = sshd.known_hosts, timeout = 10 })
      session:exec("sleep 10")
    end)
    assert.is_true(found[1].nodelay)
  end)

  it("dns.update over TCP (an update too big for UDP)", function()
    local dns = require "runbook.dns"
    local changes = {}
    for i = 1, 40 do
      changes[i] = { op = "add", name = ("host%d.contoso.com"):format(i), type = "A",
                     ttl = 60, address = "192.0.2." .. i }
    end
    local found = connections_during(HOSTILE, tonumber(peers.silent), function()
      dns.update { server = HOSTILE, port = tonumber(peers.silent), zone = "contoso.com",
                   changes = changes, timeout = 10, tries = 1 }
    end)
    assert.is_true(found[1].nodelay)
  end)

  it("an HTTP request (libcurl sets it by default)", function()
    local http = require "runbook.http"
    local found = connections_during(HOSTILE, tonumber(peers.silent), function()
      http.request { method = "GET", url = ("http://%s:%s/"):format(HOSTILE, peers.silent),
                     timeout = 10 }
    end)
    assert.is_true(found[1].nodelay)
  end)
end)
