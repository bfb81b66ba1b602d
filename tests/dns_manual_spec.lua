-- dns.manual (modules/dns/manual.lua): prints the exact records for the operator, waits
-- through an injected prompt, then verifies against a real BIND named (127.0.53.1) that the
-- change is served. The "operator" here makes the change with nsupdate. #dns
local task = require "runbook.task"
local lab = require "helpers.servers"
local lab_lock = require "lab_lock"
local support = require "support"
local manual = require "dns.manual"

describe("dns provider manual #dns", function()
  local named, release

  setup(function()
    release = lab_lock.acquire("dns")   -- one test run at a time on 127.0.53.x
    named = lab.start("named", "127.0.53.1", "5307")
  end)
  teardown(function()
    lab.stop(named)
    release()
  end)

  -- an operator who types the change into nsupdate
  local function nsupdate(commands)
    local r = support.sh(("nsupdate -k %s"):format(support.quote(named.key)),
      ("server %s %s\nzone contoso.com\n%s\nsend\n"):format(named.address, named.port,
                                                            commands))
    assert.equal(0, r.code, r.err)
  end

  local function provider(prompt)
    return manual.new { zone = "contoso.com", server = named.address,
                        port = tonumber(named.port), prompt = prompt, attempts = 2 }
  end

  it("prints the exact records, waits for the operator, then verifies", function()
    local shown = {}
    local result = task.run(function()
      return assert(provider(function(text)
        shown[#shown + 1] = text
        nsupdate("update delete sip.contoso.com A\nupdate add sip.contoso.com 300 A 192.0.2.12")
        return true
      end).set("sip.contoso.com", "A", { { address = "192.0.2.12" } }))
    end)
    assert.is_true(result.changed)
    assert.equal(1, #shown)
    assert.matches("remove  sip.contoso.com. 300 IN A 192.0.2.10", shown[1], 1, true)
    assert.matches("add     sip.contoso.com. 300 IN A 192.0.2.12", shown[1], 1, true)
  end)

  it("asks again while the zone does not serve the change, then gives up", function()
    local prompts = 0
    local result, message, code = task.run(function()
      return provider(function() prompts = prompts + 1; return true end)
        .set("edge1.contoso.com", "A", { { address = "192.0.2.22" } })
    end)
    assert.is_nil(result)
    assert.equal("unverified", code)
    assert.equal(2, prompts)
    assert.matches("edge1.contoso.com A", message, 1, true)
  end)

  it("stops when the operator gives up", function()
    local result, _, code = task.run(function()
      return provider(function() return false end)
        .set("_xmpp-server._tcp.contoso.com", "SRV",
             { { priority = 10, weight = 0, port = 5269, target = "edge9.contoso.com" } })
    end)
    assert.is_nil(result)
    assert.equal("cancelled", code)
  end)

  it("writes SRV records as zone-file lines with absolute targets", function()
    assert.equal("_xmpp-server._tcp.contoso.com. 300 IN SRV 10 0 5269 edge2.contoso.com.",
      manual.zone_line("_xmpp-server._tcp.contoso.com", "SRV", 300,
                       { priority = 10, weight = 0, port = 5269, target = "edge2.contoso.com" }))
  end)
end)
