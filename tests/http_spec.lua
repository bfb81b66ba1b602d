-- runbook.http (runtime/http.c: libcurl multi driven by the event loop) against a real
-- PowerDNS webserver and API on 127.0.53.2 (tests/lab/pdns.sh). #c #http
local task = require "runbook.task"
local http = require "runbook.http"
local lab = require "helpers.servers"
local lab_lock = require "lab_lock"
local support = require "support"

-- A TCP port that accepts and never answers: the timeout case. Returns its pid and pipe.
local function start_silent_listener(address, port)
  local pipe = io.popen(("exec /usr/bin/python3 -c %s"):format(support.quote(([[
import os, socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("%s", %d))
s.listen(16)
print(os.getpid(), flush=True)
time.sleep(120)
]]):format(address, port))))
  return pipe:read("l"), pipe
end

describe("http.request against PowerDNS #http", function()
  local pdns, api, silent_pid, silent_pipe, release

  setup(function()
    release = lab_lock.acquire("dns")   -- one test run at a time on 127.0.53.x
    pdns = lab.start("pdns", "127.0.53.2", "5304", "8084")
    api = pdns.api_url .. "/api/v1/servers/localhost"
    silent_pid, silent_pipe = start_silent_listener("127.0.53.6", 8086)
  end)

  teardown(function()
    lab.stop(pdns)
    if silent_pid then os.execute("kill " .. silent_pid) end
    if silent_pipe then silent_pipe:close() end
    release()
  end)

  local function request(args)
    return task.run(function() return http.request(args) end)
  end

  it("GETs JSON with the API key: status, lowercased headers, body", function()
    local response = assert(request { url = api, headers = { ["X-API-Key"] = pdns.api_key } })
    assert.equal(200, response.status)
    assert.equal("application/json", response.headers["content-type"])
    assert.matches('"daemon_type": *"authoritative"', response.body)
  end)

  it("returns 401 without the key (an HTTP status is not an error)", function()
    local response = assert(request { url = api })
    assert.equal(401, response.status)
  end)

  it("sends a body with PATCH and gets 204, visible to dig at once", function()
    local body = [[{"rrsets": [{"name": "http.contoso.com.", "type": "A", "ttl": 60,
      "changetype": "REPLACE", "records": [{"content": "192.0.2.80", "disabled": false}]}]}]]
    local response = assert(request { method = "PATCH", url = api .. "/zones/contoso.com.",
      headers = { ["X-API-Key"] = pdns.api_key, ["Content-Type"] = "application/json" },
      body = body })
    assert.equal(204, response.status)
    local r = support.sh(("dig @%s -p %s +short http.contoso.com A"):format(pdns.address,
                                                                         pdns.port))
    assert.equal("192.0.2.80\n", r.out)
  end)

  it("authenticates with HTTP basic auth, and gets 401 with a wrong password", function()
    local page = pdns.api_url .. "/"
    assert.equal(401, assert(request { url = page }).status)
    local ok = assert(request { url = page, auth = "basic", user = "runbook",
                                password = pdns.web_password })
    assert.equal(200, ok.status)
    local wrong = assert(request { url = page, auth = "basic", user = "runbook",
                                   password = "not-the-password" })
    assert.equal(401, wrong.status)
  end)

  it("returns 404 and 422 with PowerDNS's error in the body", function()
    local headers = { ["X-API-Key"] = pdns.api_key }
    local missing = assert(request { url = api .. "/zones/fabrikam.com.", headers = headers })
    assert.equal(404, missing.status)
    local bad = assert(request { method = "PATCH", url = api .. "/zones/contoso.com.",
      headers = headers, body = [[{"rrsets": [{"name": "outside.fabrikam.com.", "type": "A",
      "changetype": "REPLACE", "ttl": 60, "records": [{"content": "192.0.2.1"}]}]}]] })
    assert.equal(422, bad.status)
    assert.matches("error", bad.body)
  end)

  it("runs 50 requests at once, each answered", function()
    local results, failures = task.run(function()
      local items = {}
      for i = 1, 50 do items[i] = i end
      return task.parallel(items, function()
        return assert(http.request { url = api, headers = { ["X-API-Key"] = pdns.api_key } })
          .status
      end)
    end)
    assert.same({}, failures)
    assert.equal(50, #results)
    for _, status in ipairs(results) do assert.equal(200, status) end
  end)

  it("times out against a server that accepts and never answers", function()
    local response, message, code = request { url = "http://127.0.53.6:8086/", timeout = 0.3 }
    assert.is_nil(response)
    assert.equal("timeout", code)
    assert.matches("GET http://127.0.53.6:8086/", message, 1, true)
  end)

  it("reports refused when nothing listens", function()
    local response, message, code = request { url = "http://127.0.53.5:8087/x" }
    assert.is_nil(response)
    assert.equal("refused", code)
    assert.matches("127.0.53.5:8087", message, 1, true)
  end)

  it("keeps credentials out of error messages", function()
    local response, message = request { url = "http://user:s3cr3t-pw@127.0.53.5:8087/x?key=k3y",
      auth = "basic", user = "admin", password = "an0ther-s3cret" }
    assert.is_nil(response)
    assert.is_nil(message:find("s3cr3t-pw", 1, true))
    assert.is_nil(message:find("an0ther-s3cret", 1, true))
    assert.is_nil(message:find("k3y", 1, true))
  end)

  it("lets a request's task be cancelled, then serves the next request", function()
    local response = task.run(function()
      local waiting = task.spawn(function()
        return http.request { url = "http://127.0.53.6:8086/", timeout = 30 }
      end)
      task.yield()
      waiting:cancel()
      return http.request { url = api, headers = { ["X-API-Key"] = pdns.api_key } }
    end)
    assert.equal(200, response.status)
  end)

  it("raises on misuse: outside a task, no URL, another scheme", function()
    assert.has_error(function() http.request { url = api } end)
    task.run(function()
      assert.has_error(function() http.request {} end)
      assert.has_error(function() http.request { url = "ftp://127.0.53.2/" } end)
    end)
  end)
end)

describe("http.request over TLS #http", function()
  local dir, pid, pipe, release

  setup(function()
    release = lab_lock.acquire("dns")
    dir = support.tmpdir()
    local r = support.sh(("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.53.10 "
      .. "-addext subjectAltName=IP:127.0.53.10 -keyout %s/key.pem -out %s/cert.pem"):format(
      dir, dir))
    assert.equal(0, r.code, r.err)
    pipe = io.popen(("exec /usr/bin/python3 tests/lab/https_echo.py 127.0.53.10 8443 "
      .. "%s/cert.pem %s/key.pem & echo $!"):format(dir, dir))
    pid = pipe:read("l")
    assert.equal("ready", pipe:read("l"))
  end)

  teardown(function()
    if pid then os.execute("kill " .. pid) end
    if pipe then pipe:close() end
    os.execute("rm -rf " .. support.quote(dir))
    release()
  end)

  local function request(args)
    return task.run(function() return http.request(args) end)
  end

  it("verifies the server against ca_file and sends the body", function()
    local response = assert(request { method = "POST", url = "https://127.0.53.10:8443/wsman",
      ca_file = dir .. "/cert.pem", body = "hello" })
    assert.equal(200, response.status)
    assert.equal("POST /wsman 5", response.body)
  end)

  it("refuses a certificate it cannot verify, with code tls", function()
    local response, message, code = request { url = "https://127.0.53.10:8443/",
      ca_file = "/etc/ssl/certs/ca-certificates.crt" }
    assert.is_nil(response)
    assert.equal("tls", code)
    assert.matches("https://127.0.53.10:8443/", message, 1, true)
  end)

  it("keeps one connection per http.connection, apart from the shared pool", function()
    local url = "https://127.0.53.10:8443/conn"
    local ports = task.run(function()
      local conn <close> = http.connection()
      local other <close> = http.connection()
      local seen = {}
      for i = 1, 3 do
        seen[i] = assert(conn:request { url = url, ca_file = dir .. "/cert.pem" })
                    .headers["x-client-port"]
      end
      seen.other = assert(other:request { url = url, ca_file = dir .. "/cert.pem" })
                     .headers["x-client-port"]
      conn:close()
      seen.closed = select(2, pcall(conn.request, conn, { url = url }))
      return seen
    end)
    assert.truthy(ports[1])
    assert.equal(ports[1], ports[2])
    assert.equal(ports[1], ports[3])
    assert.not_equal(ports[1], ports.other)
    assert.matches("the http connection is closed", ports.closed)
  end)

  it("accepts it with tls_verify = false", function()
    local response = assert(request { url = "https://127.0.53.10:8443/x", tls_verify = false })
    assert.equal("GET /x 0", response.body)
  end)
end)
