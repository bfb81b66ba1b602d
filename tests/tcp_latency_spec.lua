-- No exchange waits for a delayed ACK (issue 16), against peers on loopback
-- (tests/lab/hostile.sh, a real sshd from tests/lab/sshd.sh):
-- * every TCP connection the runtime opens sends a small write at once (TCP_NODELAY):
--   read back with getsockopt (net.tcp_connections) while a connection of each kind is
--   open — net.open, an SSH session (libssh2's socket), dns.update over TCP, an HTTP
--   request (libcurl's);
-- * TLS records a handshake leaves for the peer go in the same segment as the first
--   application data (the kernel's count of data segments sent, over a socket; the
--   transport's :send calls, over a transport object);
-- * a peer that holds its answer for our ACK (Nagle's algorithm on its side, as Python's
--   TLS and HTTP servers here, Prosody, sshd without a pty) gets it at once (TCP_QUICKACK),
--   not after the kernel's delayed-ACK timer (40 ms at the least): over a TLS stream and
--   over libcurl's HTTP (tests/lab/https_echo.py writes a response's headers and body
--   apart, as the WinRM emulator does).
local net = require "runbook.net"
local task = require "runbook.task"
local lab = require "helpers.servers"
local lab_lock = require "lab_lock"

local HOSTILE, BASE = "127.0.16.1", 45401
local HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream=" ..
  "'http://etherx.jabber.org/streams' to='contoso.com' version='1.0'>"

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

describe("no exchange waits for a delayed ACK #latency", function()
  local peers, sshd, release, echo_pid, echo_pipe

  setup(function()
    release = lab_lock.acquire("nodelay")
    peers = lab.start("hostile", HOSTILE, BASE)
    sshd = lab.start("sshd", "auto", "127.0.16.2")
    local certs = peers.dir .. "/certs/contoso"
    echo_pipe = io.popen(("exec /usr/bin/python3 tests/lab/https_echo.py %s %d %s.pem %s.key"
      .. " & echo $!"):format(HOSTILE, BASE + 20, certs, certs))
    echo_pid = echo_pipe:read("l")
    assert.equal("ready", echo_pipe:read("l"))
  end)

  teardown(function()
    if echo_pid then os.execute("kill " .. echo_pid) end
    if echo_pipe then echo_pipe:close() end
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

  it("TCP_NODELAY: net.open", function()
    local found = connections_during(HOSTILE, tonumber(peers.silent), function()
      local socket <close> = assert(net.open { host = HOSTILE, port = tonumber(peers.silent) })
      socket:receive(1, { timeout = 10 })
    end)
    assert.is_true(found[1].nodelay)
  end)

  it("TCP_NODELAY: an SSH session (the socket libssh2 writes to)", function()
    local ssh = require "runbook.ssh"
    local port = tonumber(sshd.port)
    local found = connections_during("127.0.16.2", port, function()
      local session <close> = assert(ssh.session { host = "127.0.16.2", port = port,
        user = sshd.user, key_file = sshd.shell_key, known_hosts = sshd.known_hosts,
        timeout = 10 })
      session:exec("sleep 10")
    end)
    assert.is_true(found[1].nodelay)
  end)

  it("TCP_NODELAY: dns.update over TCP (an update too big for UDP)", function()
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

  it("TCP_NODELAY: an HTTP request (libcurl sets it by default)", function()
    local http = require "runbook.http"
    local found = connections_during(HOSTILE, tonumber(peers.silent), function()
      http.request { method = "GET", url = ("http://%s:%s/"):format(HOSTILE, peers.silent),
                     timeout = 10 }
    end)
    assert.is_true(found[1].nodelay)
  end)

  -- Receives from conn until what was read contains text. -> everything read
  local function receive_until(conn, text)
    local seen = ""
    repeat
      seen = seen .. assert(conn:receive(4096, { timeout = 5 }))
    until seen:find(text, 1, true)
    return seen
  end

  -- A plain socket to the hostile XMPP server offering SASL EXTERNAL, past <proceed/>.
  local function until_proceed()
    local socket = assert(net.open { host = HOSTILE, port = tonumber(peers.sasl_external) })
    socket:send(HEADER)
    receive_until(socket, "</stream:features>")
    socket:send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    receive_until(socket, "<proceed")
    return socket
  end

  local function segments_sent(socket)
    for _, connection in ipairs(net.tcp_connections()) do
      if connection.fd == socket:fd() then return connection.segments_sent end
    end
  end

  it("TLS over a socket: the client's Finished leaves with the first application data",
    function()
    local counts = task.run(function()
      local socket = until_proceed()
      local before = segments_sent(socket)
      local stream <close> = assert(socket:starttls { servername = "contoso.com",
                                                      verify = false })
      local after_handshake = segments_sent(socket)
      assert(stream:send(HEADER))
      local after_send = segments_sent(socket)
      receive_until(stream, "</stream:features>")
      return { handshake = after_handshake - before, first_send = after_send - after_handshake }
    end)
    assert.same({ handshake = 1, first_send = 1 }, counts)   -- ClientHello; Finished + header
  end)

  it("TLS over a transport object: one :send for the Finished and the first data", function()
    local sends = task.run(function()
      local socket = until_proceed()
      local count = 0
      local transport = {
        send = function(_, data, options)
          count = count + 1
          return socket:send(data, options)
        end,
        receive = function(_, max, options) return socket:receive(max, options) end,
        close = function() socket:close() end,
      }
      local tls = require "runbook.tls"
      local stream <close> = assert(tls.wrap(transport, { servername = "contoso.com",
                                                           verify = false }))
      local after_handshake = count
      assert(stream:send(HEADER))
      local after_send = count
      receive_until(stream, "</stream:features>")
      return { handshake = after_handshake, first_send = after_send - after_handshake }
    end)
    assert.same({ handshake = 1, first_send = 1 }, sends)
  end)

  -- The hostile server answers the restarted stream after its TLS 1.3 session tickets,
  -- with Nagle's algorithm on: its answer waits for our ACK of the tickets. A delayed ACK
  -- takes 40 ms at the least (the kernel's TCP_DELACK_MIN), so without TCP_QUICKACK every
  -- restart takes 40 ms or more; with it, about a millisecond here. The median of five
  -- restarts, so that one stall of this shared machine does not decide.
  it("a peer that holds its answer for our ACK gets it at once", function()
    local took = task.run(function()
      local times = {}
      for i = 1, 5 do
        local socket = until_proceed()
        local stream <close> = assert(socket:starttls { servername = "contoso.com",
                                                        verify = false })
        local started = task.now()
        assert(stream:send(HEADER))
        receive_until(stream, "</stream:features>")
        times[i] = task.now() - started
      end
      table.sort(times)
      return times
    end)
    assert.is_true(took[3] < 0.040, ("median %.1f ms (%s)"):format(took[3] * 1000,
      table.concat(took, ", ")))
  end)

  -- https_echo.py writes a response's headers, then its body: with Nagle on, the body waits
  -- for our ACK of the headers. Five requests on one kept-alive connection; the median.
  it("an HTTP server that holds its body for our ACK gets it at once (libcurl)", function()
    local http = require "runbook.http"
    local took = task.run(function()
      local connection <close> = http.connection()
      local times = {}
      for i = 1, 5 do
        local started = task.now()
        local response = assert(connection:request { method = "GET", tls_verify = false,
          url = ("https://%s:%d/%d"):format(HOSTILE, BASE + 20, i), timeout = 5 })
        assert.equal(200, response.status)
        times[i] = task.now() - started
      end
      table.sort(times)
      return times
    end)
    assert.is_true(took[3] < 0.040, ("median %.1f ms (%s)"):format(took[3] * 1000,
      table.concat(took, ", ")))
  end)
end)
