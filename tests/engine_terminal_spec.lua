--- engine_terminal_spec — on a terminal: the confirmation, a step's confirm,
-- rollback questions, colour, prompts.
-- The engine (modules/runbook/) driven through ./runbook with the fixture runbook
-- tests/fixtures/books/drill.lua; set-up in tests/helpers/drill.lua.
local support = require "support"
local quote, write = support.quote, support.write
local drill_lib = require "helpers.drill"
local d = drill_lib.use()
before_each(d.fresh)
after_each(d.clean)


-- A customization of drill that asks before moving the route (confirm = a question).
local function confirming_drill()
  return write(d.scratch .. "/confirming.lua", [[
    local drill = require("runbook").extend "drill"
    drill.steps[drill:index_of("route")].confirm = { en = "Users lose the route for a minute. " }
    return drill
  ]])
end

local PROCEED = "Proceed with these changes? [y/N] "

describe("on a terminal", function()
  it("asks once before changing anything, and y proceeds", function()
    local r = d.on_terminal({ { "expect", PROCEED }, { "send", "y\n" } },
      "run -i inventory.lua drill")
    assert.equal(0, r.code, r.out)
    assert.equal("edge2", d.state().route)
    local _, questions = r.out:gsub("%[y/N%]", "")
    assert.equal(1, questions)
  end)

  it("exits 3 and changes nothing when the answer is n", function()
    local r = d.on_terminal({ { "expect", PROCEED }, { "send", "n\n" } },
      "run -i inventory.lua drill")
    assert.equal(3, r.code, r.out)
    assert.matches("declined: nothing was changed", r.out)
    assert.same(drill_lib.INITIAL, d.state())
    assert.same({}, d.journals())
  end)

  it("asks before a step with confirm: n stops there (exit 3) after the earlier steps", function()
    local r = d.on_terminal({ { "expect", PROCEED }, { "send", "y\n" },
      { "expect", "Users lose the route for a minute. Carry out this step? [y/N] " },
      { "send", "n\n" } }, "run -i inventory.lua " .. quote(confirming_drill()))
    assert.equal(3, r.code, r.out)
    local s = d.state()
    assert.equal("edge1", s.route)
    assert.same({ a = "stopped", b = "stopped", c = "stopped" }, s.services)
    local events = d.events_of(d.journals()[1])
    assert.same({ event = "declined", step = "route" }, { event = events[#events].event,
                                                          step = events[#events].step })
  end)

  it("carries out a step with confirm when the answer is y", function()
    local r = d.on_terminal({ { "expect", PROCEED }, { "send", "y\n" },
      { "expect", "Carry out this step? [y/N] " }, { "send", "y\n" } },
      "run -i inventory.lua " .. quote(confirming_drill()))
    assert.equal(0, r.code, r.out)
    assert.equal("edge2", d.state().route)
  end)

  it("does not ask a step's confirm with --yes", function()
    local r = d.drill("run --yes -i inventory.lua " .. quote(confirming_drill()))
    assert.equal(0, r.code, r.err)
    assert.is_nil(r.out:find("Carry out this step", 1, true))
    assert.equal("edge2", d.state().route)
  end)

  it("asks whether to roll back after a failure (the default --rollback there)", function()
    write(d.inventory, d.inventory_text("fail = 'start:b',\n"))
    local r = d.on_terminal({ { "expect", PROCEED }, { "send", "y\n" },
      { "expect", "Roll back the completed steps? [y/N] " }, { "send", "y\n" } },
      "run -i inventory.lua drill")
    assert.equal(1, r.code, r.out)
    assert.equal("edge1", d.state().route)
    assert.equal(1, d.state().applied["undo route"])
  end)

  it("never asks nor rolls back by default off a terminal", function()
    write(d.inventory, d.inventory_text("fail = 'start:b',\n"))
    local r = d.drill("run --yes -i inventory.lua drill")
    assert.equal(1, r.code)
    assert.is_nil(r.out:find("Roll back", 1, true))
    assert.equal("edge2", d.state().route)
    assert.is_nil(d.state().applied["undo route"])
  end)

  it("colours the output on a terminal only, and never with NO_COLOR", function()
    local coloured = d.on_terminal({}, "plan -i inventory.lua drill")
    assert.equal(0, coloured.code, coloured.out)
    assert.truthy(coloured.out:find("\27[32m", 1, true), coloured.out)
    local no_color = d.on_terminal({}, "plan -i inventory.lua drill", "NO_COLOR=1")
    assert.equal(0, no_color.code, no_color.out)
    assert.is_nil(no_color.out:find("\27[", 1, true))
    local piped = d.drill("plan -i inventory.lua drill")
    assert.equal(0, piped.code)
    assert.is_nil(piped.out:find("\27[", 1, true))
  end)

  it("asks for a prompt credential on the terminal without echoing it", function()
    local secret = "Typed-Secret-4711"
    write(d.inventory, d.inventory_text("password = 'prompt',\n"))
    local r = support.sh(("cd %s && RUNBOOK_STATE_DIR=%s RUNBOOK_PATH=%s /usr/bin/python3 %s %s %s "
      .. "%s run --yes --rollback never -i inventory.lua drill"):format(quote(d.scratch),
      quote(d.scratch .. "/state"), quote(drill_lib.BOOKS), quote(support.root .. "/tests/pty_secret.py"),
      quote("Password for drill: "), quote(secret), quote(support.bin)))
    assert.matches("Password for drill: ", r.out)
    assert.matches("\necho=off\n", r.out)
    assert.matches("authenticating with <redacted> and none", r.out)  -- the typed one, used
    assert.is_nil(r.out:find(secret, 1, true))
    assert.matches("\nexit=1\n$", r.out)          -- the drill's injected refusal
  end)
end)
