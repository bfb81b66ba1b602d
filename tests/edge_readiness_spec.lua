-- The first step's check asks every Edge server of the new pool at once (modules/federation.lua,
-- prerequisites): a server's first Lync cmdlet loads the module (seconds on a real server), so
-- asking one server after the other would add those seconds up. And the Edge servers the
-- inventory lists for the pool start their PowerShell while the Front End is still asked for
-- the topology (estate.edge_servers, lync.warm). Proven without a clock: the transport holds
-- each Edge server's first cmdlet until every Edge server has sent one, and the Front End's
-- first until the listed Edge servers have.
local support = require "support"
local task = require "runbook.task"
local cmdlet = require "cmdlet"
local emulator = require "lab.emulator"
local federation = require "federation"

local EDGES = { "edge2a.contoso.com", "edge2b.contoso.com", "edge2c.contoso.com" }
local dir, arrived

local declared   -- the Edge servers the inventory lists, or nil

-- Waits until `wanted` Edge servers have sent their first cmdlet (20 s at most).
local function until_arrived(wanted)
  local deadline = task.now() + 20          -- one after the other would never all arrive
  repeat
    local count = 0
    for _ in pairs(arrived) do count = count + 1 end
    if count >= wanted then return end
    task.sleep(0.01)
  until task.now() > deadline
end

local fe_asked = false
cmdlet.register_transport("gated", function(host, command_line, options)
  if host.name == "fe1.contoso.com" and declared and not fe_asked then
    fe_asked = true
    until_arrived(#declared)
  elseif host.name ~= "fe1.contoso.com" and not arrived[host.name] then
    arrived[host.name] = true
    until_arrived(#EDGES)
  end
  return emulator.run_command_line(command_line, dir .. "/" .. host.name .. ".json",
                                   options.stdin)
end)

describe("the new pool's readiness", function()
  before_each(function()
    dir, arrived, declared, fe_asked = support.tmpdir(), {}, nil, false
    local topology = { edge_servers = { "edge1.contoso.com", EDGES[1] } }
    local fe = emulator.default_state("fe1.contoso.com", topology)
    fe.pools[3].Computers = EDGES
    emulator.save_state(dir .. "/fe1.contoso.com.json", fe)
    for _, name in ipairs(EDGES) do
      emulator.save_state(dir .. "/" .. name .. ".json", emulator.default_state(name, topology))
    end
  end)
  after_each(function() os.execute("rm -rf " .. support.quote(dir)) end)

  local function context()
    return { params = {}, data = {}, inventory = {
      domain = "contoso.com", management = "fe1.contoso.com",
      server_defaults = { transport = "gated" }, servers = {},
      pools = { ["edgepool2.contoso.com"] = { edge_servers = declared } } } }
  end

  it("asks every Edge server at once", function()
    local ctx = context()
    local started = os.time()
    local holds, detail = task.run(function()
      return federation.prerequisites(ctx, "edgepool2.contoso.com")
    end)
    assert.is_true(holds, detail)
    assert.is_true(os.time() - started < 15, "one Edge server after the other")
    for _, name in ipairs(EDGES) do assert.matches(name:gsub("%p", "%%%0"), detail) end
  end)

  it("starts the listed Edge servers' PowerShell while the Front End is asked", function()
    declared = EDGES
    local started = os.time()
    local holds, detail = task.run(function()
      return federation.prerequisites(context(), "edgepool2.contoso.com")
    end)
    assert.is_true(holds, detail)
    assert.is_true(os.time() - started < 15, "the Edge servers waited for the Front End")
    assert.is_nil(detail:find("the inventory lists", 1, true), detail)
  end)

  it("says so when the inventory's list is not the topology's, and uses the topology's",
     function()
    declared = { EDGES[1], EDGES[2] }
    local holds, detail = task.run(function()
      return federation.prerequisites(context(), "edgepool2.contoso.com")
    end)
    assert.is_true(holds, detail)
    assert.matches("the inventory lists edge2a%.contoso%.com, edge2b%.contoso%.com for "
      .. "edgepool2%.contoso%.com, the topology edge2a%.contoso%.com, edge2b%.contoso%.com, "
      .. "edge2c%.contoso%.com: the topology's are used", detail)
    assert.matches("edge2c%.contoso%.com: Lync Server 2013", detail)
  end)
end)
