-- runbook.tls over a transport object (runtime/tls.c's memory BIOs): what lets the XMPP probe
-- run through an SSH tunnel (tests/vantage_spec.lua does that against Prosody). Here the
-- transport is a Lua object over a runbook.socket to tests/lab/https_echo.py on 127.0.56.1,
-- so the TLS records pass through Lua and can be counted, cut or delayed. #tls
local net = require "runbook.net"
local task = require "runbook.task"
local tls = require "runbook.tls"
local lab_lock = require "lab_lock"
local support = require "support"

local ADDRESS, PORT = "127.0.56.1", 8443

-- A transport over a socket that counts what passes and can be told to misbehave.
local function transport_over(sock, misbehave)
  local t = { sent = 0, received = 0, closed = 0 }
  function t:send(data, options)
    self.sent = self.sent + #data
    return sock:send(data, options)
  end
  function t:receive(max, options)
    if misbehave then return misbehave(options) end
    local data, message, code = sock:receive(max, options)
    self.received = self.received + #(data or "")
    return data, message, code
  end
  function t:peer() return sock:peer() end
  function t:close() self.closed = self.closed + 1; return sock:close() end
  return t
end

describe("runbook.tls over a transport object #tls", function()
  local dir, pid, pipe, release
  setup(function()
    release = lab_lock.acquire("tls")
    dir = support.tmpdir()
    local r = support.sh(("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=echo.test "
      .. "-addext subjectAltName=DNS:echo.test -keyout %s/key.pem -out %s/cert.pem"):format(dir,
      dir))
    assert.equal(0, r.code, r.err)
    pipe = io.popen(("exec /usr/bin/python3 tests/lab/https_echo.py %s %d %s/cert.pem "
      .. "%s/key.pem & echo $!"):format(ADDRESS, PORT, dir, dir))
    pid = pipe:read("l")
    assert.equal("ready", pipe:read("l"))
  end)
  teardown(function()
    if pid then os.execute("kill " .. pid) end
    if pipe then pipe:close() end
    os.execute("rm -rf " .. support.quote(dir))
    release()
  end)

  -- wrap(transport-maker, options) in a task -> stream or nil, message, code; transport
  local function wrapped(make, options)
    return task.run(function()
      local sock = assert(net.open { host = ADDRESS, port = PORT, timeout = 5 })
      local transport = make(sock)
      local stream, message, code = tls.wrap(transport, options)
      return { stream = stream, message = message, code = code, transport = transport }
    end)
  end

  it("handshakes, verifies and carries data through the object's send and receive", function()
    local seen = task.run(function()
      local sock = assert(net.open { host = ADDRESS, port = PORT, timeout = 5 })
      local transport = transport_over(sock)
      local stream = assert(tls.wrap(transport, { servername = "echo.test",
        ca_file = dir .. "/cert.pem", timeout = 5 }))
      local certificate = stream:certificate()
      assert(stream:send("GET /through-lua HTTP/1.1\r\nHost: echo.test\r\n\r\n"))
      local answer = ""
      while not answer:find("GET /through%-lua 0") do
        answer = answer .. assert(stream:receive(4096, { timeout = 5 }))
      end
      stream:close()
      stream:close()                                     -- twice is fine
      return { certificate = certificate, answer = answer, transport = transport,
               text = tostring(stream) }
    end)
    assert.is_true(seen.certificate.verified)
    assert.same({ "echo.test" }, seen.certificate.dns_names)
    assert.matches("^HTTP/1%.1 200", seen.answer)
    assert.is_true(seen.transport.sent > 0 and seen.transport.received > 0)
    assert.equal(1, seen.transport.closed)
    assert.matches("closed", seen.text)
  end)

  it("fails verification with code verify, as over a socket", function()
    local r = wrapped(transport_over, { servername = "other.test", ca_file = dir .. "/cert.pem" })
    assert.is_nil(r.stream)
    assert.equal("verify", r.code)
    assert.matches("hostname mismatch", r.message)
  end)

  it("says closed when the transport closes during the handshake", function()
    local r = wrapped(function(sock)
      return transport_over(sock, function() return nil, "the tunnel is closed", "closed" end)
    end, { servername = "echo.test", verify = false })
    assert.is_nil(r.stream)
    assert.equal("closed", r.code)
    assert.matches("closed the connection %(during handshake with", r.message)
  end)

  it("gives the transport only the time left, and times out with code timeout", function()
    local asked = {}
    local started = task.run(function() return task.now() end)
    local r = wrapped(function(sock)
      return transport_over(sock, function(options)
        asked[#asked + 1] = options.timeout
        task.sleep(options.timeout)
        return nil, "no answer", "timeout"
      end)
    end, { servername = "echo.test", verify = false, timeout = 0.3 })
    local took = task.run(function() return task.now() end) - started
    assert.equal("timeout", r.code)
    assert.matches("handshake with echo%.test timed out", r.message)
    assert.is_true(asked[1] > 0 and asked[1] <= 0.3, tostring(asked[1]))
    assert.is_true(took < 2, tostring(took))
  end)

  it("refuses an object without send and receive", function()
    assert.has_error(function()
      task.run(function() tls.wrap({ receive = function() end }, {}) end)
    end)
  end)
end)
