--- engine_extend_spec — extending a runbook: insert, replace, remove, add_check.
-- The engine (modules/runbook/) driven through ./runbook with the fixture runbook
-- tests/fixtures/books/drill.lua; set-up in tests/helpers/drill.lua.
local support = require "support"
local quote, write = support.quote, support.write
local drill_lib = require "helpers.drill"
local d = drill_lib.use()
before_each(d.fresh)
after_each(d.clean)

describe("extending a runbook", function()
  it("inserts steps and checks around named steps of the shipped runbook", function()
    local custom = write(d.scratch .. "/custom.lua", [[
      local runbook = require "runbook"
      local drill = runbook.extend "drill"
      local notes = {}
      drill:insert_before("stop", { id = "notify", title = "Tell the service desk",
        check = function() return false, "not told", "told" end,
        run = function(ctx) ctx.note("service desk notified") end })
      drill:add_check("route", { before = function(ctx)
        return ctx.params.route ~= "forbidden", "route is forbidden by policy" end })
      return drill
    ]])
    local r = d.drill("run --yes -i inventory.lua " .. quote(custom))
    assert.equal(0, r.code, r.err)
    assert.matches("%[2/5%] Tell the service desk", r.out)
    assert.matches("service desk notified", r.out)
    r = d.drill("run --yes -i inventory.lua --set route=forbidden " .. quote(custom))
    assert.equal(1, r.code)
    assert.matches("route is forbidden by policy", r.out)
  end)

  it("names the steps that exist when a customization targets a missing one", function()
    local custom = write(d.scratch .. "/custom.lua", [[
      local drill = require("runbook").extend "drill"
      drill:remove("no-such-step")
      return drill
    ]])
    local r = d.drill("check -i inventory.lua " .. quote(custom))
    assert.equal(1, r.code)
    assert.matches("drill has no step 'no%-such%-step' %(its steps: ready, stop, route, start%)", r.err)
  end)
end)

describe("extending a runbook: replace, remove, add_check", function()
  local function custom(body)
    return write(d.scratch .. "/custom.lua", "local drill = require('runbook').extend 'drill'\n"
      .. body .. "\nreturn drill\n")
  end

  it("replaces a step, given the old one to build on", function()
    local book = custom([[
      drill:replace("route", function(old)
        local step = {}
        for key, value in pairs(old) do step[key] = value end
        step.title = "Move the route our way"
        step.run = function(ctx) ctx.note("by our change procedure"); return old.run(ctx) end
        return step
      end)]])
    local r = d.drill("run --yes -i inventory.lua " .. quote(book))
    assert.equal(0, r.code, r.err)
    assert.matches("%[3/4%] Move the route our way", r.out)
    assert.matches("by our change procedure", r.out)
    assert.equal("edge2", d.state().route)
  end)

  it("removes a step", function()
    local r = d.drill("run --yes -i inventory.lua " .. quote(custom('drill:remove("stop")')))
    assert.equal(0, r.code, r.err)
    assert.matches("%[2/3%] Move the route", r.out)
    assert.equal("edge2", d.state().route)
    assert.is_nil(d.state().applied["stop:a"])
  end)

  it("asks a before check in plan too, where it shows why the step cannot proceed", function()
    local book = custom([[drill:add_check("stop", { before = function(ctx, host)
      return host ~= "b", "b is in a maintenance window" end })]])
    local r = d.drill("plan -i inventory.lua " .. quote(book))
    assert.equal(1, r.code)
    assert.matches("pre%-check of step 'stop' failed: b is in a maintenance window", r.out)
    assert.same(drill_lib.INITIAL, d.state())
  end)

  it("asks a before check read-only: it cannot change anything", function()
    local book = custom([[drill:add_check("route", { before = function()
      task.check_mutation("page the on-call engineer"); return true end })]])
    local r = d.drill("run --yes --rollback never -i inventory.lua " .. quote(book))
    assert.equal(1, r.code)
    assert.matches("refusing to page the on%-call engineer", r.out)
    assert.equal("edge1", d.state().route)
  end)

  it("does not hold up a step that is already done with its before check", function()
    assert.equal(0, d.drill("run --yes -i inventory.lua drill").code)
    local book = custom([[drill:add_check("route", { before = function()
      return false, "only before the change" end })]])
    local r = d.drill("run --yes -i inventory.lua " .. quote(book))
    assert.equal(0, r.code, r.out)
    assert.matches("nothing to change", r.out)
  end)

  it("refuses an after check on a precondition, which changes nothing", function()
    local r = d.drill("check -i inventory.lua " .. quote(custom(
      'drill:add_check("ready", { after = function() return true end })')))
    assert.equal(1, r.code)
    assert.matches("step 'ready' changes nothing .* use before", r.err)
  end)
end)
