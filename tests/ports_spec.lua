-- modules/ports.lua: port checks by name, and step 6 / step 7 expectations — against a
-- real named (names → addresses through runbook.dns) and real listeners on 127.0.52.9-10,
-- and against netsim for the filtered case (loopback cannot filter). #ports
local ports = require "ports"
local netsim = require "lab.network"
local lab = require "helpers.servers"
local lab_lock = require "lab_lock"
local support = require "support"

local OPEN, DNS = "127.0.52.9", "127.0.52.10"

describe("ports.check #ports #dns", function()
  local peers, named, release
  setup(function()
    release = lab_lock.acquire("rbn")
    peers = lab.start("hostile", OPEN, 45331)   -- 45331..45336 listen
    named = lab.start("named", DNS, "5301")
    local update = support.sh(("nsupdate -k %s"):format(support.quote(named.key)), ([[
server %s 5301
zone contoso.com
update delete edge1.contoso.com. A
update add edge1.contoso.com. 300 A %s
update add edge1.contoso.com. 300 A %s
send
]]):format(DNS, OPEN, "127.0.52.11"))
    assert(update.code == 0, update.err)
  end)
  teardown(function()
    local ok, err = pcall(function()
      lab.stop(peers)
      lab.stop(named)
    end)
    if release then release() end
    assert(ok, err)
  end)

  it("resolves a name and checks every address, saying from where", function()
    local results = ports.check({ { host = "edge1.contoso.com", port = 45334 } },
      { dns_server = DNS, dns_port = 5301, from = "the operator's host" })
    assert.equal(2, #results)
    local by_address = {}
    for _, result in ipairs(results) do by_address[result.address] = result end
    local open, closed = by_address[OPEN], by_address["127.0.52.11"]
    assert.same({ "edge1.contoso.com", "open", "the operator's host" },
      { open.host, open.state, open.from })
    assert.same({ "edge1.contoso.com", "closed" }, { closed.host, closed.state })
  end)

  it("reports a name without addresses as unresolved", function()
    local results = ports.check({ { host = "nothing.contoso.com", port = 5269 } },
      { dns_server = DNS, dns_port = 5301 })
    assert.equal("unresolved", results[1].state)
    assert.matches("nothing.contoso.com has no address", results[1].detail)
  end)

  it("expects closed in step 6 and open after step 7, naming what is wrong", function()
    local results = ports.check({ { host = OPEN, port = 45334 }, { host = OPEN, port = 45399 } })
    local ok, message = ports.expect(results, "closed")
    assert.is_false(ok)
    assert.matches(OPEN .. ":45334 %(" .. OPEN .. "%) is open .*services of the new pool",
      message)
    ok, message = ports.expect(results, "open")
    assert.is_false(ok)
    assert.matches(":45399 .* is closed .*nothing listens", message)
    assert.is_true((ports.expect({ results[2] }, "closed")))
  end)

  it("names the firewall when step 6 sees filtered (netsim)", function()
    local sim = netsim.new { hosts = { ["192.0.2.21"] = { services = {} } },
                             perimeter = { [5269] = "drop" } }
    local results = ports.check({ { host = "192.0.2.21", port = 5269 } },
      { net = sim.from("vantage"), from = "vantage1" })
    local ok, message = ports.expect(results, "closed")
    assert.is_false(ok)
    assert.matches("is filtered %(timeout%) from vantage1: a firewall blocks the port", message)
  end)

  it("keeps the origin a vantage net reports when no from is given", function()
    local sim = netsim.new { hosts = { ["192.0.2.21"] = { services = {} } },
                             perimeter = { [5269] = "drop" } }
    local results = ports.check({ { host = "192.0.2.21", port = 5269 } },
      { net = sim.from("vantage") })
    assert.equal("vantage (simulated)", results[1].from)
    assert.equal("this host", ports.check({ { host = OPEN, port = 45399 } })[1].from)
  end)

  it("raises on misuse", function()
    assert.has_error(function() ports.check("edge1") end)
    assert.has_error(function() ports.check({ "edge1" }) end)
    assert.has_error(function() ports.expect({}, "maybe") end)
  end)
end)
