-- The runbook engine (modules/runbook/engine.lua, session.lua, journal.lua, output.lua,
-- cli.lua) driven through ./runbook with the fixture runbook tests/fixtures/books/drill.lua.
local cjson = require "cjson"
local support = require "support"
local quote, write, slurp = support.quote, support.write, support.slurp

local BOOKS = support.root .. "/tests/fixtures/books"
local INITIAL = { route = "edge1", services = { a = "running", b = "running", c = "running" },
                  applied = { ["-"] = 0 } }

local scratch, state_file, inventory

local function inventory_text(extra)
  return ([[
return {
  domain = "drill.test",
  state_file = %q,
  hosts = { "a", "b", "c" },
  new_route = "edge2",
%s}
]]):format(state_file, extra or "")
end

local function state()
  return cjson.decode(slurp(state_file))
end

-- Runs `runbook ARGS` with the drill inventory, the fixture runbooks and a private state dir.
local function drill(args, env, stdin)
  return support.sh(("cd %s && RUNBOOK_STATE_DIR=%s RUNBOOK_PATH=%s %s %s %s"):format(
    quote(scratch), quote(scratch .. "/state"), quote(BOOKS), env or "", quote(support.bin),
    args), stdin)
end

local function journals()
  local found = {}
  for _, name in ipairs(require("runbook.fs").list(scratch .. "/state") or {}) do
    if name:match("%.jsonl$") then found[#found + 1] = scratch .. "/state/" .. name end
  end
  return found
end

local function events_of(path)
  local events = {}
  for line in slurp(path):gmatch("[^\n]+") do events[#events + 1] = cjson.decode(line) end
  return events
end

before_each(function()
  scratch = support.tmpdir()
  state_file = scratch .. "/drill-state.json"
  write(state_file, cjson.encode(INITIAL))
  inventory = write(scratch .. "/inventory.lua", inventory_text())
end)

after_each(function() os.execute("rm -rf " .. quote(scratch)) end)

describe("runbook run", function()
  it("carries out every step, journals intent and outcome, exits 0", function()
    local r = drill("run --yes -i inventory.lua drill")
    assert.equal(0, r.code, r.err)
    local s = state()
    assert.same({ a = "running", b = "running", c = "running" }, s.services)
    assert.equal("edge2", s.route)
    for _, host in ipairs { "a", "b", "c" } do
      assert.equal(1, s.applied["stop:" .. host])
      assert.equal(1, s.applied["start:" .. host])
    end
    local events = events_of(journals()[1])
    assert.equal("start", events[1].event)
    local intents, outcomes = 0, 0
    for _, e in ipairs(events) do
      if e.event == "intent" then intents = intents + 1 end
      if e.event == "outcome" and e.ok then outcomes = outcomes + 1 end
    end
    assert.equal(7, intents)
    assert.equal(7, outcomes)
    assert.equal("finish", events[#events].event)
  end)

  it("changes nothing the second time and says so", function()
    assert.equal(0, drill("run --yes -i inventory.lua drill").code)
    local before = slurp(state_file)
    local r = drill("run --yes -i inventory.lua drill")
    assert.equal(0, r.code)
    assert.matches("nothing to change", r.out)
    assert.equal(before, slurp(state_file))
  end)

  it("refuses to go on without --yes when nobody can confirm", function()
    local r = drill("run -i inventory.lua drill")
    assert.equal(2, r.code)
    assert.matches("run again with %-%-yes", r.err)
    assert.same(INITIAL, state())
  end)

  it("stops with the guidance of a precondition that does not hold", function()
    os.remove(state_file)
    local r = drill("run --yes -i inventory.lua drill")
    assert.equal(1, r.code)
    assert.matches("create the state file first", r.out)
  end)

  it("uses --set over the inventory and the runbook's default", function()
    assert.equal(0, drill("run --yes -i inventory.lua --set route=edge9 drill").code)
    assert.equal("edge9", state().route)
  end)

  it("speaks German with --lang de", function()
    local r = drill("run --yes --lang de -i inventory.lua drill")
    assert.matches("Dienste beenden", r.out)
    assert.matches("alle Schritte erledigt", r.out)
  end)

  it("prints one JSON object per event with --json", function()
    local r = drill("run --yes --json -i inventory.lua drill")
    assert.equal(0, r.code)
    local kinds = {}
    for line in r.out:gmatch("[^\n]+") do
      local event = cjson.decode(line)
      kinds[event.event] = (kinds[event.event] or 0) + 1
    end
    assert.equal(1, kinds.run_start)
    assert.equal(4, kinds.plan_step)
    assert.equal(4, kinds.step_start)
    assert.equal(6, kinds.host_done)
    assert.equal(1, kinds.summary)
  end)

  it("appends who did what to the audit log", function()
    local audit = scratch .. "/audit.jsonl"
    assert.equal(0, drill("run --yes --audit-log " .. quote(audit) .. " -i inventory.lua drill").code)
    local records = events_of(audit)
    assert.is_true(#records > 5)
    assert.is_string(records[1].user)
    assert.equal("summary", records[#records].event)
  end)
end)

describe("runbook plan", function()
  it("shows current → desired per host and changes nothing", function()
    local before = slurp(state_file)
    local r = drill("plan -i inventory.lua drill")
    assert.equal(0, r.code, r.err)
    assert.equal(before, slurp(state_file))
    assert.matches("Stop the services — will change", r.out)
    assert.matches("a: running → stopped", r.out)
    assert.matches("edge1 → edge2", r.out)
    assert.same({}, journals())
  end)

  it("refuses a check that tries to change something", function()
    local book = write(scratch .. "/sneaky.lua", [[
      local runbook = require "runbook"
      return runbook.define { id = "sneaky", steps = {
        { id = "peek", check = function() task.check_mutation("restart the server"); return true end,
          run = function() end } } }
    ]])
    write(inventory, "return {}")
    for _, command in ipairs { "plan", "run --yes" } do
      local r = drill(command .. " -i inventory.lua " .. quote(book))
      assert.equal(1, r.code)
      assert.matches("refusing to restart the server", r.out)
    end
  end)
end)

describe("runbook check", function()
  local cases = {
    { "hostz = {},\n", "inventory.lua:6: hostz: unknown key %(did you mean 'hosts'%?%)" },
    { "fail = 42,\n", "inventory.lua:6: fail: expected a string, got 42" },
    { "password = 'hunter2-inline',\n", "inventory.lua:6: password: expected a credential reference" },
  }
  for _, case in ipairs(cases) do
    it("reports " .. case[1]:gsub("\n", "") .. " with file:line and exits 2", function()
      write(inventory, inventory_text(case[1]))
      local r = drill("check -i inventory.lua drill")
      assert.equal(2, r.code)
      assert.matches(case[2], r.err)
    end)
  end

  it("reports a missing required value", function()
    write(inventory, "return { hosts = { 'a' } }")
    local r = drill("check -i inventory.lua drill")
    assert.equal(2, r.code)
    assert.matches("state_file: required", r.err)
  end)

  it("rejects an unknown --set parameter, naming the known ones", function()
    local r = drill("check -i inventory.lua --set rout=x drill")
    assert.equal(2, r.code)
    assert.matches("drill has no parameter 'rout' %(its parameters: route%)", r.err)
  end)

  it("accepts a valid runbook and inventory without touching anything", function()
    os.remove(state_file)   -- a check that ran would notice
    local r = drill("check -i inventory.lua drill")
    assert.equal(0, r.code, r.err)
    assert.matches("drill.lua: ok %(4 steps", r.out)
  end)
end)

describe("failure and rollback", function()
  it("stops at the failed step and host, and rolls back completed steps in reverse", function()
    write(inventory, inventory_text("fail = 'start:b',\n"))
    local r = drill("run --yes --rollback auto -i inventory.lua drill")
    assert.equal(1, r.code)
    assert.matches("b: start refused on b %(injected%)", r.out)
    local s = state()
    assert.equal("edge1", s.route)
    assert.same({ a = "running", b = "running", c = "running" }, s.services)
    assert.equal(1, s.applied["undo route"])
  end)

  it("leaves the changes in place with --rollback never", function()
    write(inventory, inventory_text("fail = 'start:b',\n"))
    assert.equal(1, drill("run --yes --rollback never -i inventory.lua drill").code)
    assert.equal("edge2", state().route)
  end)
end)

describe("secrets", function()
  it("never shows a secret value in output, JSON, journal or audit log", function()
    local secret = "S3cret-Value-4711"
    write(inventory, inventory_text("password = 'env:DRILL_SECRET',\n"))
    local audit = scratch .. "/audit.jsonl"
    local human = drill("run --yes -v -i inventory.lua drill", "DRILL_SECRET=" .. secret)
    write(state_file, cjson.encode(INITIAL))
    local json = drill("run --yes --json --audit-log " .. quote(audit) .. " -i inventory.lua drill",
      "DRILL_SECRET=" .. secret)
    assert.equal(1, human.code)
    assert.matches("<redacted>", human.out)
    local everything = human.out .. human.err .. json.out .. json.err .. slurp(audit)
    for _, path in ipairs(journals()) do everything = everything .. slurp(path) end
    assert.is_nil(everything:find(secret, 1, true))
  end)

  it("refuses a file: credential readable by others", function()
    local file = write(scratch .. "/pw", "x")
    os.execute("chmod 644 " .. quote(file))
    write(inventory, inventory_text(("password = 'file:%s',\n"):format(file)))
    local r = drill("run --yes -i inventory.lua drill")
    assert.equal(1, r.code)
    assert.matches("chmod 600", r.out)
  end)
end)

describe("kill -9 and resume", function()
  local points = {
    { "stop:b:before", "inside the fan-out, after the intent" },
    { "stop:b:after", "inside the fan-out, after the change (outcome unknown)" },
    { "route::after", "after a single-host change" },
    { "start:a:before", "at the boundary into the last step" },
  }
  for _, point in ipairs(points) do
    it("resumes from " .. point[2] .. " without applying any change twice", function()
      local r = drill("run --yes -i inventory.lua drill", "DRILL_CRASH=" .. point[1])
      assert.equal(137, r.code)
      local journal = journals()[1]
      r = drill("resume --yes " .. quote(journal))
      assert.equal(0, r.code, r.out .. r.err)
      assert.matches("taking over the stale lock", r.err)
      local s = state()
      assert.same({ a = "running", b = "running", c = "running" }, s.services)
      assert.equal("edge2", s.route)
      for change, count in pairs(s.applied) do
        if change ~= "-" then assert.equal(1, count, change) end
      end
      assert.equal("finish", events_of(journal)[#events_of(journal)].event)
    end)
  end

  it("refuses to resume a run that finished", function()
    assert.equal(0, drill("run --yes -i inventory.lua drill").code)
    local r = drill("resume --yes " .. quote(journals()[1]))
    assert.equal(2, r.code)
    assert.matches("already finished", r.err)
  end)
end)

describe("Ctrl-C during a run", function()
  it("cancels the step, exits 4 with the journal to resume, and resume finishes", function()
    local marker = scratch .. "/hanging"
    local r = support.sh(([[
      cd %s && RUNBOOK_STATE_DIR=%s RUNBOOK_PATH=%s DRILL_HANG=stop:b DRILL_MARKER=%s \
        %s run --yes -i inventory.lua drill & pid=$!
      i=0; while [ ! -e %s ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
      kill -INT $pid; wait $pid; echo "exit=$?"]]):format(quote(scratch), quote(scratch .. "/state"),
      quote(BOOKS), quote(marker), quote(support.bin), quote(marker)))
    assert.matches("exit=4", r.out)
    assert.matches("resume with: runbook resume .*%.jsonl", r.out)
    r = drill("resume --yes " .. quote(journals()[1]))
    assert.equal(0, r.code, r.err)
    assert.same({ a = "running", b = "running", c = "running" }, state().services)
  end)
end)

describe("the lock", function()
  it("refuses a second run against the same target while the first holds it", function()
    os.execute("mkdir -p " .. quote(scratch .. "/state/locks"))
    local holder = io.popen("sh -c 'echo $PPID'"):read("l")   -- busted itself: alive
    write(scratch .. "/state/locks/drill--drill.test.lock", holder)
    local r = drill("run --yes -i inventory.lua drill")
    assert.equal(1, r.code)
    assert.matches("another run of drill against drill.test is in progress %(pid " .. holder, r.err)
    assert.same(INITIAL, state())
  end)
end)

describe("extending a runbook", function()
  it("inserts steps and checks around named steps of the shipped runbook", function()
    local custom = write(scratch .. "/custom.lua", [[
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
    local r = drill("run --yes -i inventory.lua " .. quote(custom))
    assert.equal(0, r.code, r.err)
    assert.matches("%[2/5%] Tell the service desk", r.out)
    assert.matches("service desk notified", r.out)
    r = drill("run --yes -i inventory.lua --set route=forbidden " .. quote(custom))
    assert.equal(1, r.code)
    assert.matches("route is forbidden by policy", r.out)
  end)

  it("names the steps that exist when a customization targets a missing one", function()
    local custom = write(scratch .. "/custom.lua", [[
      local drill = require("runbook").extend "drill"
      drill:remove("no-such-step")
      return drill
    ]])
    local r = drill("check -i inventory.lua " .. quote(custom))
    assert.equal(1, r.code)
    assert.matches("drill has no step 'no%-such%-step' %(its steps: ready, stop, route, start%)", r.err)
  end)
end)
