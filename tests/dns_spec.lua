-- runbook.dns queries (runtime/dns.c: c-ares driven by the event loop) against a real BIND
-- named on 127.0.53.1 serving a fresh contoso.com (tests/lab/named.sh). #c #dns
local task = require "runbook.task"
local dns = require "runbook.dns"
local lab = require "lab"
local lab_lock = require "lab_lock"
local support = require "support"

-- A UDP socket that receives and never answers: the timeout case. Returns its pid.
local function start_silent_server(address, port)
  local pipe = io.popen(("exec /usr/bin/python3 -c %s"):format(support.quote(([[
import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("%s", %d))
print(os.getpid(), flush=True)
time.sleep(120)
]]):format(address, port))))
  local pid = pipe:read("l")
  return pid, pipe
end

describe("dns.query against named #dns", function()
  local named, silent_pid, silent_pipe, release

  setup(function()
    release = lab_lock.acquire("dns")   -- one test run at a time on 127.0.53.x
    named = lab.start("named", "127.0.53.1", "5301")
    silent_pid, silent_pipe = start_silent_server("127.0.53.4", 5398)
  end)

  teardown(function()
    lab.stop(named)
    if silent_pid then os.execute("kill " .. silent_pid) end
    if silent_pipe then silent_pipe:close() end
    release()
  end)

  local function query(name, type, extra)
    local args = { name = name, type = type, server = named.address,
                   port = tonumber(named.port), timeout = 2, tries = 2 }
    for k, v in pairs(extra or {}) do args[k] = v end
    return task.run(function() return dns.query(args) end)
  end

  it("answers an A record with its name, TTL and address", function()
    local answer = assert(query("sip.contoso.com", "A"))
    assert.equal("NOERROR", answer.rcode)
    assert.is_true(answer.aa)
    assert.same({ { name = "sip.contoso.com", type = "A", ttl = 300, address = "192.0.2.10" } },
                answer.records)
  end)

  local cases = {
    { "alias.contoso.com", "CNAME", { target = "sip.contoso.com" } },
    { "_xmpp-server._tcp.contoso.com", "SRV",
      { priority = 10, weight = 0, port = 5269, target = "edge1.contoso.com" } },
    { "contoso.com", "NS", { target = "ns1.contoso.com" } },
    { "contoso.com", "SOA", { mname = "ns1.contoso.com", rname = "hostmaster.contoso.com",
      serial = 1, refresh = 3600, retry = 600, expire = 86400, minimum = 300 } },
    { "txt.contoso.com", "TXT", { text = "hello world", strings = { "hello world" } } },
  }
  for _, case in ipairs(cases) do
    local name, type, fields = case[1], case[2], case[3]
    it(("decodes a %s record"):format(type), function()
      local answer = assert(query(name, type))
      assert.equal(1, #answer.records)
      local record = answer.records[1]
      assert.equal(name, record.name)
      assert.equal(type, record.type)
      for key, value in pairs(fields) do assert.same(value, record[key], key) end
    end)
  end

  it("returns NOERROR without records for a name without that type", function()
    local answer = assert(query("sip.contoso.com", "AAAA"))
    assert.equal("NOERROR", answer.rcode)
    assert.same({}, answer.records)
    assert.equal("SOA", answer.authority[1].type)
  end)

  it("returns NXDOMAIN as an answer, not an error", function()
    local answer = assert(query("nowhere.contoso.com", "A"))
    assert.equal("NXDOMAIN", answer.rcode)
    assert.same({}, answer.records)
  end)

  it("retries over TCP when the UDP answer is truncated", function()
    local answer = assert(query("big.contoso.com", "TXT"))
    assert.equal(20, #answer.records)
  end)

  it("keeps 1,000 queries in flight at once and answers each", function()
    local names = { "sip", "edge1", "ns1", "nowhere" }
    local expected = { sip = "192.0.2.10", edge1 = "192.0.2.21", ns1 = named.address }
    local results, failures = task.run(function()
      local items = {}
      for i = 1, 1000 do items[i] = names[i % #names + 1] end
      return task.parallel(items, function(label)
        local answer = assert(dns.query { name = label .. ".contoso.com", type = "A",
          server = named.address, port = tonumber(named.port), timeout = 5 })
        return { label = label, answer = answer }
      end, { limit = 1000 })
    end)
    assert.same({}, failures or {})
    assert.equal(1000, #results)
    for _, result in ipairs(results) do
      if result.label == "nowhere" then
        assert.equal("NXDOMAIN", result.answer.rcode)
      else
        assert.equal(expected[result.label], result.answer.records[1].address)
      end
    end
  end)

  it("times out against a server that never answers, saying where", function()
    local answer, message, code = query("contoso.com", "SOA",
      { server = "127.0.53.4", port = 5398, timeout = 0.2, tries = 1 })
    assert.is_nil(answer)
    assert.equal("timeout", code)
    assert.matches("127.0.53.4:5398", message, 1, true)
    assert.matches("timed out", message)
  end)

  it("reports refused when nothing listens on the port", function()
    local answer, message, code = query("contoso.com", "SOA",
      { server = "127.0.53.5", port = 5399, timeout = 1, tries = 1 })
    assert.is_nil(answer)
    assert.equal("refused", code)
    assert.matches("127.0.53.5:5399", message, 1, true)
  end)

  it("reports REFUSED from a server that is not authoritative for the name", function()
    local answer, _, code = query("example.org", "A")
    assert.is_nil(answer)
    assert.equal("refused", code)
  end)

  it("raises on misuse: outside a task, unknown type, a host name as server", function()
    assert.has_error(function() dns.query { name = "contoso.com" } end)
    task.run(function()
      assert.has_error(function() dns.query { name = "contoso.com", type = "BOGUS" } end)
      assert.has_error(function()
        dns.query { name = "contoso.com", server = "ns1.contoso.com" }
      end)
    end)
  end)

  it("lets a query's task be cancelled and keeps working afterwards", function()
    local answer = task.run(function()
      local waiting = task.spawn(function()
        return dns.query { name = "contoso.com", type = "SOA", server = "127.0.53.4",
                           port = 5398, timeout = 2, tries = 1 }
      end)
      task.yield()
      waiting:cancel()
      return dns.query { name = "sip.contoso.com", type = "A", server = named.address,
                         port = tonumber(named.port) }
    end)
    assert.equal("192.0.2.10", answer.records[1].address)
  end)
end)
