-- One function decides whether a pool's SRV record is present and right
-- (federation.pool_srv_verdict); the failover's SRV step changes only what it says, and
-- never another pool's or another name's record (issue 18, gap 2).
local f = require "federation"

local function srv(priority, weight, target, port)
  return { priority = priority, weight = weight, port = port or 5269, target = target }
end

-- A ctx as the engine gives steps, over an inventory of two pools.
local function ctx_of(pools)
  return { inventory = { domain = "contoso.com", pools = pools,
                         dns = { xmpp_host = "xmpp.contoso.com" } },
           params = { to_pool = "edgepool2.contoso.com" }, data = {} }
end

local TWO = {
  ["edgepool1.contoso.com"] = { public_ip = "198.51.100.10", srv_priority = 10 },
  ["edgepool2.contoso.com"] = { public_ip = "203.0.113.10", srv_priority = 5 },
}
local PER_POOL = {
  ["edgepool1.contoso.com"] = { public_ip = "198.51.100.10", srv_priority = 10,
                                srv_target = "xmpp1.contoso.com" },
  ["edgepool2.contoso.com"] = { public_ip = "203.0.113.10", srv_priority = 20,
                                srv_weight = 5, srv_target = "xmpp2.contoso.com." },
}

describe("the SRV verdict of a pool", function()
  for _, case in ipairs {
    { "the issue's case: the old pool's 10 0 5269 xmpp is not the new pool's priority 5",
      TWO, { srv(10, 0, "xmpp.contoso.com.") }, false,
      { "10 0 5269 xmpp.contoso.com", "5 0 5269 xmpp.contoso.com" } },
    { "present and right, in another case and with a final dot",
      TWO, { srv(10, 0, "xmpp.contoso.com"), srv(5, 0, "XMPP.Contoso.COM.") }, true,
      { "10 0 5269 xmpp.contoso.com", "5 0 5269 xmpp.contoso.com" } },
    { "a stale record of the pool (other priority, same target) is replaced, others stay",
      PER_POOL, { srv(10, 0, "xmpp1.contoso.com"), srv(30, 0, "xmpp2.contoso.com"),
                  srv(1, 0, "sip.fabrikam.example") }, false,
      { "1 0 5269 sip.fabrikam.example", "10 0 5269 xmpp1.contoso.com",
        "20 5 5269 xmpp2.contoso.com" } },
    { "a record with the right target on another port is not the pool's",
      PER_POOL, { srv(20, 5, "xmpp2.contoso.com", 5270) }, false,
      { "20 5 5269 xmpp2.contoso.com", "20 5 5270 xmpp2.contoso.com" } },
    { "the weight is part of the verdict",
      PER_POOL, { srv(20, 0, "xmpp2.contoso.com") }, false, { "20 5 5269 xmpp2.contoso.com" } },
    { "an empty RRset holds no pool's record", TWO, {}, false, { "5 0 5269 xmpp.contoso.com" } },
  } do
    local name, pools, records, right, after = table.unpack(case)
    it(name, function()
      local ctx = ctx_of(pools)
      local holds = f.pool_srv_verdict(ctx, "edgepool2.contoso.com", records)
      assert.equal(right, holds)
      local wanted = f.wanted_srvs(ctx, records)
      assert.equal(table.concat(after, "; "), f.describe_srv(wanted))
      -- what the failover would write is right by the same verdict, and keeps every record
      -- that is not the pool's own stale one
      assert.is_true((f.pool_srv_verdict(ctx, "edgepool2.contoso.com", wanted)))
      for _, record in ipairs(records) do
        if not (record.target:lower():match("^xmpp2") and record.port == 5269) then
          assert.matches(f.describe_srv { record }, f.describe_srv(wanted), 1, true)
        end
      end
    end)
  end

  it("never takes another pool's exact record for the pool's stale one", function()
    local pools = {
      ["edgepool1.contoso.com"] = { srv_priority = 10 },
      ["edgepool2.contoso.com"] = { srv_priority = 20 } }
    local ctx = ctx_of(pools)
    local _, detail, verdict = f.pool_srv_verdict(ctx, "edgepool2.contoso.com",
                                                  { srv(10, 0, "xmpp.contoso.com") })
    assert.same({}, verdict.stale)
    assert.equal("edgepool2.contoso.com has no SRV record 20 0 5269 xmpp.contoso.com", detail)
  end)
end)
