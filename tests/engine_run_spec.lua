--- engine_run_spec — runbook run: steps, journal, audit log, failure and rollback,
-- verify, Ctrl-C, the lock, the inventory.
-- The engine (modules/runbook/) driven through ./runbook with the fixture runbook
-- tests/fixtures/books/drill.lua; set-up in tests/helpers/drill.lua.
local cjson = require "cjson"
local support = require "support"
local quote, write, slurp = support.quote, support.write, support.slurp
local drill_lib = require "helpers.drill"
local d = drill_lib.use()
before_each(d.fresh)
after_each(d.clean)

describe("runbook run", function()
  it("carries out every step, journals intent and outcome, exits 0", function()
    local r = d.drill("run --yes -i inventory.lua drill")
    assert.equal(0, r.code, r.err)
    local s = d.state()
    assert.same({ a = "running", b = "running", c = "running" }, s.services)
    assert.equal("edge2", s.route)
    for _, host in ipairs { "a", "b", "c" } do
      assert.equal(1, s.applied["stop:" .. host])
      assert.equal(1, s.applied["start:" .. host])
    end
    local events = d.events_of(d.journals()[1])
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
    assert.equal(0, d.drill("run --yes -i inventory.lua drill").code)
    local before = slurp(d.state_file)
    local r = d.drill("run --yes -i inventory.lua drill")
    assert.equal(0, r.code)
    assert.matches("nothing to change", r.out)
    assert.equal(before, slurp(d.state_file))
  end)

  it("refuses to go on without --yes when nobody can confirm", function()
    local r = d.drill("run -i inventory.lua drill")
    assert.equal(2, r.code)
    assert.matches("run again with %-%-yes", r.err)
    assert.same(drill_lib.INITIAL, d.state())
  end)

  it("stops with the guidance of a precondition that does not hold", function()
    os.remove(d.state_file)
    local r = d.drill("run --yes -i inventory.lua drill")
    assert.equal(1, r.code)
    assert.matches("create the state file first", r.out)
  end)

  it("uses --set over the inventory and the runbook's default", function()
    assert.equal(0, d.drill("run --yes -i inventory.lua --set route=edge9 drill").code)
    assert.equal("edge9", d.state().route)
  end)

  -- The language: --lang, else LC_ALL, else LC_MESSAGES, else LANG (empty ones do not count).
  local NO_LOCALE = "LC_ALL= LC_MESSAGES= LANG= "
  local languages = {
    { "--lang de", "", "Dienste beenden", "alle Schritte erledigt: 3 geändert, 1 bereits erledigt, "
      .. "0 fehlgeschlagen" },
    { "--lang fr", "", "Arrêter les services",
      "toutes les étapes terminées : 3 modifiée%(s%), 1 déjà faite%(s%), 0 en échec" },
    { "", "LANG=fr_FR.UTF-8", "Arrêter les services", "toutes les étapes terminées" },
    { "", "LANG=fr_FR.UTF-8 LC_MESSAGES=de_DE.UTF-8", "Dienste beenden", "alle Schritte erledigt" },
    { "", "LANG=fr_FR.UTF-8 LC_MESSAGES=fr_FR LC_ALL=de_DE.UTF-8", "Dienste beenden",
      "3 geändert" },
    { "", "LANG=de_DE.UTF-8 LC_ALL=C.UTF-8", "Stop the services", "3 changed, 1 already done" },
    { "--lang fr", "LC_ALL=de_DE.UTF-8", "Arrêter les services", "toutes les étapes terminées" },
  }
  for _, case in ipairs(languages) do
    it(("speaks the language of %s %s"):format(case[1], case[2]), function()
      local r = d.drill("run --yes " .. case[1] .. " -i inventory.lua drill", NO_LOCALE .. case[2])
      assert.equal(0, r.code, r.err)
      assert.matches(case[3], r.out)
      assert.matches(case[4], r.out)
    end)
  end

  it("says in French why it stops: a precondition, no terminal, an extra check", function()
    local fr = "LC_ALL= LC_MESSAGES= LANG=fr_FR.UTF-8"
    local r = d.drill("run --yes -i inventory.lua drill", fr)
    assert.matches("toutes les étapes terminées", r.out)
    write(d.state_file, cjson.encode(drill_lib.INITIAL))
    r = d.drill("run -i inventory.lua drill", fr)
    assert.equal(2, r.code)
    assert.matches("l’entrée standard n’est pas un terminal, personne ne peut donc confirmer : "
      .. "rien n’a été modifié ; relancez avec %-%-yes", r.err)
    local custom = write(d.scratch .. "/custom.lua", [[
      local drill = require("runbook").extend "drill"
      drill:add_check("route", { before = function() return false end })
      return drill
    ]])
    r = d.drill("run --yes -i inventory.lua " .. quote(custom), fr)
    assert.equal(1, r.code)
    assert.matches("échec de la vérification préalable de l’étape 'route' : aucune raison "
      .. "donnée", r.out)
    assert.matches("arrêté à une étape en échec : 1 modifiée%(s%), 1 déjà faite%(s%), 1 en "
      .. "échec", r.out)
    os.remove(d.state_file)
    r = d.drill("run --yes -i inventory.lua drill", fr)
    assert.equal(1, r.code)
    assert.matches("impossible de continuer : condition préalable non remplie — create the",
      r.out)
  end)

  it("prints one JSON object per event with --json", function()
    local r = d.drill("run --yes --json -i inventory.lua drill")
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
    local audit = d.scratch .. "/audit.jsonl"
    assert.equal(0, d.drill("run --yes --audit-log " .. quote(audit) .. " -i inventory.lua drill").code)
    local records = d.events_of(audit)
    assert.is_true(#records > 5)
    assert.is_string(records[1].user)
    assert.equal("summary", records[#records].event)
  end)
end)

describe("failure and rollback", function()
  it("stops at the failed step and host, and rolls back completed steps in reverse", function()
    write(d.inventory, d.inventory_text("fail = 'start:b',\n"))
    local r = d.drill("run --yes --rollback auto -i inventory.lua drill")
    assert.equal(1, r.code)
    assert.matches("b: start refused on b %(injected%)", r.out)
    local s = d.state()
    assert.equal("edge1", s.route)
    assert.same({ a = "running", b = "running", c = "running" }, s.services)
    assert.equal(1, s.applied["undo route"])
  end)

  it("leaves the changes in place with --rollback never", function()
    write(d.inventory, d.inventory_text("fail = 'start:b',\n"))
    assert.equal(1, d.drill("run --yes --rollback never -i inventory.lua drill").code)
    assert.equal("edge2", d.state().route)
  end)
end)

describe("Ctrl-C during a run", function()
  it("cancels the step, exits 4 with the journal to resume, and resume finishes", function()
    local marker = d.scratch .. "/hanging"
    local r = support.sh(([[
      cd %s && RUNBOOK_STATE_DIR=%s RUNBOOK_PATH=%s DRILL_HANG=stop:b DRILL_MARKER=%s \
        %s run --yes -i inventory.lua drill & pid=$!
      i=0; while [ ! -e %s ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
      kill -INT $pid; wait $pid; echo "exit=$?"]]):format(quote(d.scratch), quote(d.scratch .. "/state"),
      quote(drill_lib.BOOKS), quote(marker), quote(support.bin), quote(marker)))
    assert.matches("exit=4", r.out)
    assert.matches("resume with: runbook resume .*%.jsonl", r.out)
    r = d.drill("resume --yes " .. quote(d.journals()[1]))
    assert.equal(0, r.code, r.err)
    assert.same({ a = "running", b = "running", c = "running" }, d.state().services)
  end)
end)

describe("the lock", function()
  it("refuses a second run while the first holds it, and is free at once when it is killed",
    function()
    -- the first run waits inside step "stop" on host b (DRILL_HANG) and holds the lock
    local marker = d.scratch .. "/hanging"
    local env = ("RUNBOOK_STATE_DIR=%s RUNBOOK_PATH=%s"):format(quote(d.scratch .. "/state"),
      quote(drill_lib.BOOKS))
    local r = support.sh(([[
      cd %s || exit 99
      DRILL_HANG=stop:b DRILL_MARKER=%s %s %s run --yes -i inventory.lua drill >/dev/null 2>&1 &
      holder=$!
      i=0; while [ ! -e %s ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
      echo "holder=$holder"
      %s %s run --yes -i inventory.lua drill; echo "second=$?"
      kill -9 $holder; wait $holder; echo "holder exit=$?"]]):format(quote(d.scratch),
      quote(marker), env, quote(support.bin), quote(marker), env, quote(support.bin)))
    local holder = r.out:match("holder=(%d+)")
    assert.matches("second=1\n", r.out)
    assert.matches("another run of drill against drill.test is in progress %(pid " .. holder
      .. ", lock .*drill%-%-drill%.test%.lock%)", r.err)
    assert.matches("holder exit=137", r.out)
    assert.equal(1, d.state().applied["stop:a"])   -- the second run changed nothing
    r = d.drill("resume --yes " .. quote(d.journals()[1]))
    assert.equal(0, r.code, r.err)
    assert.is_nil(r.err:find("lock", 1, true))
    assert.same({ a = "running", b = "running", c = "running" }, d.state().services)
  end)
end)

describe("a step's verify", function()
  it("fails the step when it does not hold: the run stops there", function()
    local marks = d.scratch .. "/marks"
    local book = write(d.scratch .. "/verified.lua", ([[
      local function mark(text)
        local file = assert(io.open(%q, "a")); file:write(text, "\n"); file:close()
      end
      return require("runbook").define { id = "verified", steps = {
        { id = "change", check = function() return false, "old", "new" end,
          run = function() mark("changed") end,
          verify = function() return false, "the change did not stick" end },
        { id = "next", check = function() return false, "old", "new" end,
          run = function() mark("next step ran") end },
      } }
    ]]):format(marks))
    write(d.inventory, "return {}")
    local r = d.drill("run --yes --rollback never --json -i inventory.lua " .. quote(book))
    assert.equal(1, r.code)
    assert.equal("changed\n", slurp(marks))
    local summary = cjson.decode(r.out:match("[^\n]+\n$"))
    assert.equal("change", summary.step)
    assert.matches("verification failed: the change did not stick", summary.error)
  end)
end)

describe("the inventory", function()
  it("comes from RUNBOOK_INVENTORY when no -i is given, and -i wins over it", function()
    local r = d.drill("run --yes drill", "RUNBOOK_INVENTORY=" .. quote(d.inventory))
    assert.equal(0, r.code, r.err)
    assert.equal("edge2", d.state().route)
    write(d.state_file, cjson.encode(drill_lib.INITIAL))
    r = d.drill("run --yes -i inventory.lua drill", "RUNBOOK_INVENTORY=/nonexistent/inventory.lua")
    assert.equal(0, r.code, r.err)
  end)

  it("names the audit log in audit_log", function()
    local audit = d.scratch .. "/from-inventory.jsonl"
    write(d.inventory, d.inventory_text(("audit_log = %q,\n"):format(audit)))
    assert.equal(0, d.drill("run --yes -i inventory.lua drill").code)
    local records = d.events_of(audit)
    assert.equal("run_start", records[1].event)
    assert.is_string(records[1].user)
    assert.equal("summary", records[#records].event)
  end)
end)
