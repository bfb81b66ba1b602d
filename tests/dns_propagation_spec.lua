-- dns.propagation (modules/dns/propagation.lua): waiting until every authoritative server
-- serves a change. Two real BIND servers (127.0.53.1 and 127.0.53.3) serve contoso.com; the
-- second lags until the test updates it too, or never converges. The sim covers a
-- lagging secondary without servers. #dns
local task = require "runbook.task"
local lab = require "lab"
local lab_lock = require "lab_lock"
local propagation = require "dns.propagation"
local rfc2136 = require "dns.rfc2136"
local sim = require "dns.sim"

describe("dns.propagation against two named servers #dns", function()
  local first, second, servers, release

  setup(function()
    release = lab_lock.acquire("dns")   -- one test run at a time on 127.0.53.x
    first = lab.start("named", "127.0.53.1", "5306")
    second = lab.start("named", "127.0.53.3", "5306")
    servers = {
      { name = "ns1", address = first.address, port = 5306 },
      { name = "ns2", address = second.address, port = 5306 },
    }
  end)

  teardown(function()
    lab.stop(first)
    lab.stop(second)
    release()
  end)

  local function provider_for(server)
    return rfc2136.new { zone = "contoso.com", server = server.address,
                         port = tonumber(server.port), key_file = server.key }
  end

  it("finds the zone's servers through NS and their addresses", function()
    local found = task.run(function()
      return assert(propagation.servers_of("contoso.com", {
        resolver = { server = first.address, port = 5306 }, port = 5306 }))
    end)
    assert.same({ { name = "ns1.contoso.com", address = first.address, port = 5306 } }, found)
  end)

  it("waits for a lagging server, then succeeds, reporting the old TTL", function()
    local events = {}
    local result = task.run(function()
      local wanted = { { address = "192.0.2.50" } }
      assert(provider_for(first).set("sip.contoso.com", "A", wanted))
      local catching_up
      return assert(propagation.wait {
        zone = "contoso.com", name = "sip.contoso.com", type = "A", records = wanted,
        serial = 2, servers = servers, deadline = 20, interval = 0.05,
        progress = function(event)
          events[#events + 1] = event
          if event.server == "ns2" and not event.converged and not catching_up then
            -- the "transfer" reaches the second server only after it was seen behind
            catching_up = task.spawn(function()
              assert(provider_for(second).set("sip.contoso.com", "A", wanted))
            end)
          end
        end,
      })
    end)
    local behind, converged = 0, {}
    for _, event in ipairs(events) do
      if event.server == "ns2" and not event.converged then behind = behind + 1 end
      if event.converged then converged[event.server] = event.serial end
    end
    assert.is_true(behind >= 1)
    assert.same({ ns1 = 2, ns2 = 2 }, converged)
    assert.equal(300, result.old_ttl)
    assert.is_true(result.servers[1].converged and result.servers[2].converged)
  end)

  it("gives up at the deadline, naming the server that never converged", function()
    local result, message, code = task.run(function()
      local wanted = { { address = "192.0.2.60" } }
      assert(provider_for(first).set("edge1.contoso.com", "A", wanted))
      return propagation.wait {
        zone = "contoso.com", name = "edge1.contoso.com", type = "A", records = wanted,
        servers = servers, deadline = 0.5, interval = 0.05,
      }
    end)
    assert.is_nil(result)
    assert.equal("timeout", code)
    assert.matches("ns2 (127.0.53.3:5306)", message, 1, true)
    assert.is_nil(message:find("ns1 (", 1, true))
  end)
end)

describe("dns.propagation with the sim #dns", function()
  local function zone()
    return sim.new { zone = "contoso.com", servers = { "ns1", "ns2" },
      records = { { name = "sip.contoso.com", type = "A", ttl = 600, address = "192.0.2.10" } } }
  end

  it("waits out a secondary that lags three answers", function()
    local p = zone()
    p.lag("ns2", 3)
    local wanted = { { address = "192.0.2.11" } }
    assert(p.set("sip.contoso.com", "A", wanted))
    local result = task.run(function()
      return assert(propagation.wait { zone = "contoso.com", name = "sip.contoso.com",
        type = "A", records = wanted, serial = p.serial(), query = p.query, interval = 0,
        servers = { { address = "ns1" }, { address = "ns2" } }, deadline = 5 })
    end)
    assert.equal(1, result.servers[1].attempts)
    assert.equal(3, result.servers[2].attempts)  -- lag counts answers: SOA + A per check
    assert.equal(600, result.old_ttl)
  end)

  it("times out on a secondary that never converges", function()
    local p = zone()
    p.lag("ns2", math.huge)
    assert(p.set("sip.contoso.com", "A", { { address = "192.0.2.11" } }))
    local result, message, code = task.run(function()
      return propagation.wait { zone = "contoso.com", name = "sip.contoso.com", type = "A",
        records = { { address = "192.0.2.11" } }, query = p.query, interval = 0.01,
        servers = { { address = "ns1" }, { address = "ns2" } }, deadline = 0.2 }
    end)
    assert.is_nil(result)
    assert.equal("timeout", code)
    assert.matches("still behind: ns2", message, 1, true)
  end)
end)
