-- runbook.dns queries (runtime/dns.c: c-ares driven by the event loop) against a real BIND
-- named on 127.0.53.1 serving a fresh contoso.com (tests/lab/named.sh), a server that
-- answers only retries (tests/lab/dns_second_try.py, 127.0.53.7), and through a resolv.conf
-- naming another named on 127.0.53.11 port 53. #c #dns
local task = require "runbook.task"
local dns = require "runbook.dns"
local lab = require "helpers.servers"
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

-- tests/lab/dns_second_try.py: answers every query's second datagram, never its first.
local function start_second_try_server(address, port)
  local pipe = io.popen(("exec /usr/bin/python3 tests/lab/dns_second_try.py %s %d & echo $!")
    :format(address, port))
  local pid = pipe:read("l")
  assert.equal("ready", pipe:read("l"))
  return pid, pipe
end

describe("dns.query against named #dns", function()
  local named, silent_pid, silent_pipe, second_try_pid, second_try_pipe, release

  setup(function()
    release = lab_lock.acquire("dns")   -- one test run at a time on 127.0.53.x
    named = lab.start("named", "127.0.53.1", "5301")
    silent_pid, silent_pipe = start_silent_server("127.0.53.4", 5398)
    second_try_pid, second_try_pipe = start_second_try_server("127.0.53.7", 5397)
  end)

  teardown(function()
    lab.stop(named)
    for _, pid in ipairs { silent_pid or "", second_try_pid or "" } do
      if pid ~= "" then os.execute("kill " .. pid) end
    end
    if silent_pipe then silent_pipe:close() end
    if second_try_pipe then second_try_pipe:close() end
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
    { "ipv6.contoso.com", "AAAA", { address = "2001:db8::10", ttl = 300 } },
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

  it("retries when the first datagram goes unanswered (tries = 2)", function()
    local answer = assert(query("retried.contoso.com", "A",
      { server = "127.0.53.7", port = 5397, timeout = 0.3, tries = 2 }))
    -- the responder numbers the datagrams of a query: this is the answer to the second
    assert.same({ { name = "retried.contoso.com", type = "A", ttl = 60,
                    address = "192.0.2.2" } }, answer.records)
  end)

  it("sends one datagram only with tries = 1, and times out", function()
    local answer, message, code = query("once.contoso.com", "A",
      { server = "127.0.53.7", port = 5397, timeout = 0.3, tries = 1 })
    assert.is_nil(answer)
    assert.equal("timeout", code)
    assert.matches("(1 tries, first after 0.3s)", message, 1, true)
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

describe("dns.query through a resolv.conf (resolv_conf) #dns", function()
  local named, dir, release

  setup(function()
    release = lab_lock.acquire("dns")
    named = lab.start("named", "127.0.53.11", "53")   -- resolv.conf has no port: 53
    dir = support.tmpdir()
    support.write(dir .. "/resolv.conf", "nameserver 127.0.53.11\noptions timeout:5\n")
    support.write(dir .. "/nobody.conf", "nameserver 127.0.53.12\n")
  end)

  teardown(function()
    lab.stop(named)
    if dir then os.execute("rm -rf " .. support.quote(dir)) end
    release()
  end)

  local function query(args)
    return task.run(function() return dns.query(args) end)
  end

  it("asks the servers the file lists", function()
    local answer = assert(query { name = "sip.contoso.com", type = "A",
                                  resolv_conf = dir .. "/resolv.conf", timeout = 2 })
    assert.is_true(answer.aa)        -- the lab's named, authoritative; no system resolver
    assert.same({ { name = "sip.contoso.com", type = "A", ttl = 300, address = "192.0.2.10" } },
                answer.records)
  end)

  it("names the file in its messages", function()
    local answer, message, code = query { name = "sip.contoso.com", type = "A",
      resolv_conf = dir .. "/nobody.conf", timeout = 0.5, tries = 1 }
    assert.is_nil(answer)
    assert.equal("refused", code)    -- nothing listens on 127.0.53.12:53
    assert.matches("to the servers of " .. dir .. "/nobody.conf", message, 1, true)
  end)

  it("raises when the file cannot be read, or comes with a server", function()
    task.run(function()
      local ok, message = pcall(dns.query, { name = "sip.contoso.com",
                                             resolv_conf = dir .. "/missing.conf" })
      assert.is_false(ok)
      assert.matches("cannot read resolv_conf '" .. dir .. "/missing.conf': No such file",
                     message, 1, true)
      ok, message = pcall(dns.query, { name = "sip.contoso.com", server = "127.0.53.11",
                                       resolv_conf = dir .. "/resolv.conf" })
      assert.is_false(ok)
      assert.matches("give server or resolv_conf, not both", message, 1, true)
    end)
  end)
end)
