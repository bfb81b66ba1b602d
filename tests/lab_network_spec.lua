-- modules/lab/network.lua: the embedded lab's port states and XMPP servers, and xmpp.probe
-- running over them. Nothing here touches the network (192.0.2.x exist only in the
-- simulated topology). #netsim
local netsim = require "lab.network"
local xmpp = require "xmpp"

local EDGE = "192.0.2.21"

local function topology()
  return netsim.new {
    hosts = { [EDGE] = { name = "edge1.contoso.com", services = {},
                         xmpp = { domain = "contoso.com",
                                  certificate = { "contoso.com", "*.contoso.com" } } } },
  }
end

describe("netsim port states #netsim", function()
  it("follows step 6 and 7: closed while stopped, filtered behind a rule, open once started",
    function()
      local sim = topology()
      local outside = sim.from("vantage")
      assert.equal("closed", outside.connect { host = EDGE, port = 5269 }.state)
      sim.perimeter(5269, "drop")
      local blocked = outside.connect { host = EDGE, port = 5269, timeout = 2 }
      assert.same({ "filtered", "timeout", 2 }, { blocked.state, blocked.reason, blocked.rtt })
      assert.equal("closed", sim.connect { host = EDGE, port = 5269 }.state) -- inside: passes
      sim.perimeter(5269, nil)
      sim.start(EDGE, 5269, "xmpp")
      assert.equal("open", outside.connect { host = EDGE, port = 5269 }.state)
    end)

  it("maps firewall rules the way the real network does", function()
    local sim = topology()
    sim.start(EDGE, 5269)
    for rule, expected in pairs { drop = "filtered timeout", reject = "filtered icmp-admin-prohibited",
                                  reset = "closed conn-refused" } do
      sim.firewall(EDGE, 5269, rule)
      local r = sim.connect { host = EDGE, port = 5269 }
      assert.equal(expected, r.state .. " " .. r.reason)
    end
    assert.equal("unreachable", sim.connect { host = "192.0.2.99", port = 5269 }.state)
  end)

  it("returns the codes of net.open for ports that do not open", function()
    local sim = topology()
    local sock, message, code = sim.open { host = EDGE, port = 5269 }
    assert.is_nil(sock)
    assert.equal("refused", code)
    assert.matches("simulated", message)
  end)

  it("raises on misuse", function()
    local sim = topology()
    assert.has_error(function() sim.connect { host = EDGE, port = 0 } end)
    assert.has_error(function() sim.firewall(EDGE, 5269, "maybe") end)
    assert.has_error(function() sim.start("192.0.2.99", 5269) end)
  end)
end)

describe("xmpp.probe over netsim #netsim #xmpp", function()
  it("passes every stage against a running simulated Edge", function()
    local sim = topology()
    sim.start(EDGE, 5269, "xmpp")
    local result = xmpp.probe { domain = "contoso.com", net = sim.from("vantage"),
                                targets = { { host = EDGE, port = 5269 } } }
    assert.is_true(result.ok, xmpp.summary(result))
    assert.is_true(result.dialback)
    local seen = sim.from("vantage").connect { host = EDGE, port = 5269 }
    assert.equal("vantage (simulated)", seen.from)
  end)

  it("fails at connect with the firewall named, and at certificate for a wrong name", function()
    local sim = topology()
    sim.start(EDGE, 5269, "xmpp")
    sim.perimeter(5269, "drop")
    local blocked = xmpp.probe { domain = "contoso.com", net = sim.from("vantage"),
                                 targets = { { host = EDGE, port = 5269 } } }
    assert.equal("connect", blocked.failed)
    assert.matches("firewall", blocked.connect.detail)
    local wrong = xmpp.probe { domain = "fabrikam.com", net = sim,
                               targets = { { host = EDGE, port = 5269 } } }
    assert.equal("certificate", wrong.failed)
    assert.matches("not fabrikam.com", wrong.certificate.detail)
  end)
end)
