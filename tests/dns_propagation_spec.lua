-- dns.propagation (modules/dns/propagation.lua): waiting until every authoritative server
-- serves a change. A BIND primary (127.0.53.1) and its secondary (127.0.53.3), which the
-- primary never notifies: the secondary stays behind until the test makes it transfer
-- (rndc retransfer), or never converges. The providers' serial() against named and
-- PowerDNS (127.0.53.2). The sim covers lag, serials and TTLs without servers. #dns
local task = require "runbook.task"
local dns = require "runbook.dns"
local process = require "runbook.process"
local lab = require "helpers.servers"
local lab_lock = require "lab_lock"
local support = require "support"
local propagation = require "dns.propagation"
local powerdns = require "dns.powerdns"
local rfc2136 = require "dns.rfc2136"
local sim = require "lab.dns"

-- The zone's SOA serial as dig sees it at address:port.
local function dig_serial(address, port)
  local r = support.sh(("dig @%s -p %s +short +norecurse contoso.com SOA"):format(address, port))
  assert.equal(0, r.code, r.err)
  return tonumber(r.out:match("^%S+ %S+ (%d+)"))
end

describe("dns.propagation against a primary and its secondary #dns", function()
  local primary, secondary, servers, release

  setup(function()
    release = lab_lock.acquire("dns")   -- one test run at a time on 127.0.53.x
    primary = lab.start("named", "127.0.53.1", "5306")
    secondary = lab.start("named", "127.0.53.3", "5306", "secondary", primary.address,
                          primary.port, primary.key)
    servers = {
      { name = "ns1", address = primary.address, port = 5306 },
      { name = "ns2", address = secondary.address, port = 5306 },
    }
  end)

  teardown(function()
    lab.stop(secondary)
    lab.stop(primary)
    release()
  end)

  local function provider()
    return rfc2136.new { zone = "contoso.com", server = primary.address,
                         port = tonumber(primary.port), key_file = primary.key }
  end

  -- In a task: the secondary transfers the zone now (what a NOTIFY would have started).
  local function retransfer()
    local r = assert(process.run { "rndc", "-c", secondary.rndc_conf, "retransfer",
                                   "contoso.com" })
    assert.equal(0, r.status, r.stderr)
  end

  -- In a task: waits until the secondary serves at least serial (a transfer is
  -- asynchronous), polling its SOA; raises after 10 s.
  local function wait_until_secondary_serves(serial)
    local deadline = task.now() + 10
    while true do
      local answer = dns.query { name = "contoso.com", type = "SOA", server = secondary.address,
                                 port = 5306, timeout = 1 }
      local soa = answer and answer.records[1]
      if soa and soa.serial >= serial then return end
      assert(task.now() < deadline, "the secondary did not transfer serial " .. serial)
      task.sleep(0.02)
    end
  end

  it("finds the zone's servers through NS and their addresses", function()
    local found = task.run(function()
      return assert(propagation.servers_of("contoso.com", {
        resolver = { server = primary.address, port = 5306 }, port = 5306 }))
    end)
    assert.same({ { name = "ns1.contoso.com", address = primary.address, port = 5306 } }, found)
  end)

  it("rfc2136's serial() is the serial the primary serves, raised by each change", function()
    local before, after = task.run(function()
      local p = provider()
      local serial = assert(p.serial())
      assert(p.set("txt.contoso.com", "TXT", { { text = "serial " .. serial } }))
      return serial, assert(p.serial())
    end)
    assert.equal(dig_serial(primary.address, 5306), after)
    assert.is_true(after > before)
  end)

  it("waits for a secondary not yet transferred, then succeeds once it transfers", function()
    local events, serial, transfer = {}, nil, nil
    local result = task.run(function()
      local p = provider()
      local old = assert(p.get("sip.contoso.com", "A"))
      local wanted = { { address = "192.0.2.50" } }
      assert(p.set("sip.contoso.com", "A", wanted))
      serial = assert(p.serial())
      local done = assert(propagation.wait {
        zone = "contoso.com", name = "sip.contoso.com", type = "A", records = wanted,
        old = old, serial = serial, servers = servers, deadline = 20, interval = 0.05,
        progress = function(event)
          events[#events + 1] = event
          if event.server == "ns2" and not event.converged and not transfer then
            transfer = task.spawn(retransfer)   -- only once it was seen behind
          end
        end,
      })
      assert(transfer:join())
      return done
    end)
    local behind, converged = {}, {}
    for _, event in ipairs(events) do
      if event.server == "ns2" and not event.converged then behind[#behind + 1] = event end
      if event.converged then converged[event.server] = event.serial end
    end
    assert.is_true(#behind >= 1)
    assert.is_true(behind[1].serial < serial)
    assert.equal("192.0.2.10", behind[1].records[1].address)
    assert.same({ ns1 = serial, ns2 = serial }, converged)
    assert.equal(300, result.old_ttl)
    assert.is_true(result.servers[1].converged and result.servers[2].converged)
  end)

  it("reports the old TTL when every server already serves the change", function()
    local result, serial = task.run(function()
      local p = provider()
      local old = assert(p.get("sip.contoso.com", "A"))    -- TTL 300
      local wanted = { { address = "192.0.2.70" } }
      assert(p.set("sip.contoso.com", "A", wanted, 60))
      local serial = assert(p.serial())
      retransfer()
      wait_until_secondary_serves(serial)
      return assert(propagation.wait {
        zone = "contoso.com", name = "sip.contoso.com", type = "A", records = wanted,
        old = old, serial = serial, servers = servers, deadline = 5, interval = 0.05,
      }), serial
    end)
    assert.same({ 1, 1 }, { result.servers[1].attempts, result.servers[2].attempts })
    assert.same({ serial, serial }, { result.servers[1].serial, result.servers[2].serial })
    assert.equal(300, result.old_ttl)   -- the TTL resolvers cached, not the new 60
  end)

  it("gives up at the deadline, naming the secondary that was never notified", function()
    local result, message, code = task.run(function()
      local p = provider()
      local wanted = { { address = "192.0.2.60" } }
      assert(p.set("edge1.contoso.com", "A", wanted))
      return propagation.wait {
        zone = "contoso.com", name = "edge1.contoso.com", type = "A", records = wanted,
        serial = assert(p.serial()), servers = servers, deadline = 0.5, interval = 0.05,
      }
    end)
    assert.is_nil(result)
    assert.equal("timeout", code)
    local serial = dig_serial(primary.address, 5306)
    assert.matches(("still behind: ns2 (127.0.53.3:5306): serves serial %d (wanted %d), 1 "
      .. "record(s) (a secondary behind: does the primary notify it"):format(
      dig_serial(secondary.address, 5306), serial), message, 1, true)
    assert.is_nil(message:find("ns1 (", 1, true))
  end)
end)

describe("dns.powerdns serial() #dns", function()
  local pdns, release

  setup(function()
    release = lab_lock.acquire("dns")
    pdns = lab.start("pdns", "127.0.53.2", "5308", "8088")
  end)

  teardown(function()
    lab.stop(pdns)
    release()
  end)

  it("is the serial PowerDNS serves, raised by each change", function()
    local before, after = task.run(function()
      local p = powerdns.new { zone = "contoso.com", api_url = pdns.api_url,
                               api_key = "file:" .. pdns.api_key_file }
      local serial = assert(p.serial())
      assert(p.set("sip.contoso.com", "A", { { address = "192.0.2.80" } }))
      return serial, assert(p.serial())
    end)
    assert.equal(dig_serial(pdns.address, 5308), after)
    assert.is_true(after > before)
  end)
end)

describe("dns.propagation with the sim #dns", function()
  local function zone()
    return sim.new { zone = "contoso.com", servers = { "ns1", "ns2" },
      records = { { name = "sip.contoso.com", type = "A", ttl = 600, address = "192.0.2.10" } } }
  end
  local both = { { address = "ns1" }, { address = "ns2" } }

  local function wait(p, options)
    options.zone, options.query, options.servers = "contoso.com", p.query, both
    options.type, options.interval = options.type or "A", options.interval or 0
    options.deadline = options.deadline or 5
    return task.run(function() return propagation.wait(options) end)
  end

  it("waits out a secondary that lags three answers", function()
    local p = zone()
    p.lag("ns2", 3)
    local wanted = { { address = "192.0.2.11" } }
    assert(p.set("sip.contoso.com", "A", wanted))
    local result = assert(wait(p, { name = "sip.contoso.com", records = wanted,
                                    serial = p.serial() }))
    assert.equal(1, result.servers[1].attempts)
    assert.equal(3, result.servers[2].attempts)  -- lag counts answers: SOA + A per check
    assert.equal(600, result.old_ttl)            -- seen on ns2, even without `old`
  end)

  local ttl_cases = {
    -- the name changed, the TTL resolvers may still keep what it had before
    { "the old records' TTL", "sip.contoso.com", 600 },
    { "the negative TTL (SOA minimum) for a name that had none", "new.contoso.com", 300 },
  }
  for _, case in ipairs(ttl_cases) do
    local what, name, expected = case[1], case[2], case[3]
    it("reports " .. what .. " when every server converges at the first look", function()
      local p = zone()
      local wanted = { { address = "192.0.2.12" } }
      local old = p.get(name, "A")
      assert(p.set(name, "A", wanted, 60))
      local result = assert(wait(p, { name = name, records = wanted, old = old,
                                      serial = p.serial() }))
      assert.same({ 1, 1 }, { result.servers[1].attempts, result.servers[2].attempts })
      assert.equal(expected, result.old_ttl)
    end)
  end

  it("waits for the serial even when a server already serves the wanted data", function()
    local p = zone()
    local wanted = { { address = "192.0.2.13" } }
    assert(p.set("sip.contoso.com", "A", wanted))
    p.query { name = "sip.contoso.com", type = "A", server = "ns2" }   -- ns2 at this version
    p.lag("ns2", 2)
    p.edit("edge1.contoso.com", "A", { { address = "192.0.2.21" } })  -- a later version
    local result = assert(wait(p, { name = "sip.contoso.com", records = wanted,
                                    serial = p.serial() }))
    assert.equal(2, result.servers[2].attempts)   -- right data, old serial: not yet
    assert.equal(p.serial(), result.servers[2].serial)
  end)

  it("times out on a secondary that never converges", function()
    local p = zone()
    p.lag("ns2", math.huge)
    assert(p.set("sip.contoso.com", "A", { { address = "192.0.2.11" } }))
    local result, message, code = wait(p, { name = "sip.contoso.com",
      records = { { address = "192.0.2.11" } }, interval = 0.01, deadline = 0.2 })
    assert.is_nil(result)
    assert.equal("timeout", code)
    assert.matches("still behind: ns2", message, 1, true)
  end)

  local serial_cases = {
    -- served, wanted, reached (RFC 1982: serials wrap at 2^32)
    { 7, 7, true }, { 8, 7, true }, { 6, 7, false },
    { 0, 4294967295, true }, { 4294967295, 0, false }, { 5, 4294967290, true },
  }
  for _, case in ipairs(serial_cases) do
    it(("counts serial %d as %s %d"):format(case[1], case[3] and "reaching" or "before",
                                            case[2]), function()
      assert.equal(case[3], propagation.serial_reached(case[1], case[2]))
    end)
  end
end)
