--- engine_json_spec — the --json contract (docs/writing-runbooks.md), also on a terminal.
-- The engine (modules/runbook/) driven through ./runbook with the fixture runbook
-- tests/fixtures/books/drill.lua; set-up in tests/helpers/drill.lua.
local cjson = require "cjson"
local support = require "support"
local quote, write, slurp = support.quote, support.write, support.slurp
local drill_lib = require "helpers.drill"
local d = drill_lib.use()
before_each(d.fresh)
after_each(d.clean)

describe("the --json contract (docs/writing-runbooks.md)", function()
  -- Each event kind's fields over a whole run (hosts.X: the fields of plan_step's hosts),
  -- sorted: what a machine reading --json relies on. Every line of stdout must be JSON.
  local function fields_of(out)
    local kinds = {}
    for line in out:gmatch("[^\n]+") do
      local event = cjson.decode(line)
      local fields = kinds[event.event] or {}
      for key, value in pairs(event) do
        fields[key] = true
        for _, host in ipairs(key == "hosts" and value or {}) do
          for name in pairs(host) do fields["hosts." .. name] = true end
        end
      end
      kinds[event.event] = fields
    end
    local sets = {}
    for kind, fields in pairs(kinds) do
      local names = {}
      for name in pairs(fields) do names[#names + 1] = name end
      table.sort(names)
      sets[kind] = table.concat(names, " ")
    end
    return sets
  end

  local RUN_START = "event inventory runbook simulation title"
  local PLAN_STEP = "event hosts hosts.current hosts.desired hosts.host hosts.status id number "
    .. "status title total"
  local BLOCKED_STEP = "event hosts hosts.host hosts.reason hosts.status id number reason status "
    .. "title total"
  local RUNNING = { journal = "event path resumed", step_start = "event id number title total",
    host_done = "duration event host ok step", step_done = "duration event id number status",
    note = "event step text" }

  local function with(base, extra)
    local all = {}
    for kind, fields in pairs(base) do all[kind] = fields end
    for kind, fields in pairs(extra) do all[kind] = fields or nil end
    return all
  end

  it("a run: plan, journal, steps, hosts, notes, summary", function()
    local r = d.drill("run --yes --json -i inventory.lua drill")
    assert.equal(0, r.code, r.err)
    assert.same(with(RUNNING, { run_start = RUN_START, plan_step = PLAN_STEP,
      summary = "changed duration event failed ok skipped" }), fields_of(r.out))
  end)

  it("a plan: run_start marked plan, plan steps, its summary", function()
    local r = d.drill("plan --json -i inventory.lua drill")
    assert.equal(0, r.code, r.err)
    assert.same({ run_start = "event inventory plan runbook simulation title",
                  plan_step = PLAN_STEP, summary = "change done event ok pending plan" },
                fields_of(r.out))
  end)

  it("a plan a check blocks: reasons, and a summary naming the step", function()
    os.remove(d.state_file)
    local r = d.drill("run --yes --json -i inventory.lua drill")
    assert.equal(1, r.code)
    assert.same({ run_start = RUN_START, plan_step = BLOCKED_STEP,
      summary = "blocked changed error event failed ok skipped step" }, fields_of(r.out))
  end)

  it("a failure with rollback: errors, rollback events, the failed step", function()
    write(d.inventory, d.inventory_text("fail = 'start:b',\n"))
    local r = d.drill("run --yes --rollback auto --json -i inventory.lua drill")
    assert.equal(1, r.code)
    assert.same(with(RUNNING, { run_start = RUN_START, plan_step = PLAN_STEP,
      host_done = "duration error event host ok step",
      step_done = "duration error event id number status",
      rollback = "event finished host ok step title",
      summary = "changed duration error event failed left ok restored skipped step" }), fields_of(r.out))
  end)

  it("a refusal without a terminal: a summary, and no journal named or made", function()
    local r = d.drill("run --json -i inventory.lua drill")
    assert.equal(2, r.code)
    assert.same({ run_start = RUN_START, plan_step = PLAN_STEP,
      summary = "changed error event failed ok refused skipped" }, fields_of(r.out))
    assert.same({}, d.journals())
    assert.is_nil(d.drill("run -i inventory.lua drill").out:find("journal", 1, true))
  end)

  it("an interrupted run: a summary with the step and the journal to resume", function()
    local marker = d.scratch .. "/hanging"
    local r = support.sh(([[
      cd %s && RUNBOOK_STATE_DIR=%s RUNBOOK_PATH=%s DRILL_HANG=stop:b DRILL_MARKER=%s \
        %s run --yes --json -i inventory.lua drill >%s/out & pid=$!
      i=0; while [ ! -e %s ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
      kill -INT $pid; wait $pid; echo "exit=$?"]]):format(quote(d.scratch),
      quote(d.scratch .. "/state"), quote(drill_lib.BOOKS), quote(marker), quote(support.bin), quote(d.scratch),
      quote(marker)))
    assert.matches("exit=4", r.out)
    assert.same(with(RUNNING, { run_start = RUN_START, plan_step = PLAN_STEP, note = false,
      summary = "changed duration event failed interrupted ok resume skipped step" }),
      fields_of(slurp(d.scratch .. "/out")))
  end)
end)

describe("runbook run --json on a terminal", function()
  -- Drives `runbook run --json` through a pseudo-terminal (tests/pty_session.py) with stdout
  -- sent to a file: the questions must reach the operator, and only JSON the file.
  local function on_terminal(book, steps)
    local command = ("cd %s && RUNBOOK_STATE_DIR=%s RUNBOOK_PATH=%s exec %s run --json "
      .. "-i inventory.lua %s >%s/out"):format(quote(d.scratch), quote(d.scratch .. "/state"),
      quote(drill_lib.BOOKS), quote(support.bin), quote(book), quote(d.scratch))
    local transcript = support.sh(("/usr/bin/python3 tests/pty_session.py %s /bin/sh -c %s"):format(
      quote(cjson.encode(steps)), quote(command))).out
    return transcript, slurp(d.scratch .. "/out")
  end

  it("asks on the terminal, not in the JSON, and a declined step ends with a summary", function()
    local book = write(d.scratch .. "/careful.lua", [[
      local drill = require("runbook").extend "drill"
      drill:replace("route", function(step) step.confirm = true; return step end)
      return drill
    ]])
    local transcript, out = on_terminal(book, {
      { "expect", "Proceed with these changes? [y/N]" }, { "send", "y\r" },
      { "expect", "Carry out this step? [y/N]" }, { "send", "n\r" } })
    assert.not_matches("timeout waiting", transcript)
    assert.matches("exit=3\n$", transcript)
    assert.is_nil(out:find("[y/N]", 1, true))
    local events = {}
    for line in out:gmatch("[^\n]+") do events[#events + 1] = cjson.decode(line) end
    local summary = events[#events]
    assert.equal("summary", summary.event)
    assert.is_true(summary.declined)
    assert.equal("route", summary.step)
    assert.equal(1, summary.changed)
    assert.matches("%.jsonl$", summary.resume)
    assert.equal("edge1", d.state().route)
  end)
end)
