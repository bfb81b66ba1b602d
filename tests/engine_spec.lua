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
      local r = drill("run --yes " .. case[1] .. " -i inventory.lua drill", NO_LOCALE .. case[2])
      assert.equal(0, r.code, r.err)
      assert.matches(case[3], r.out)
      assert.matches(case[4], r.out)
    end)
  end

  it("says in French why it stops: a precondition, no terminal, an extra check", function()
    local fr = "LC_ALL= LC_MESSAGES= LANG=fr_FR.UTF-8"
    local r = drill("run --yes -i inventory.lua drill", fr)
    assert.matches("toutes les étapes terminées", r.out)
    write(state_file, cjson.encode(INITIAL))
    r = drill("run -i inventory.lua drill", fr)
    assert.equal(2, r.code)
    assert.matches("l’entrée standard n’est pas un terminal, personne ne peut donc confirmer : "
      .. "rien n’a été modifié ; relancez avec %-%-yes", r.err)
    local custom = write(scratch .. "/custom.lua", [[
      local drill = require("runbook").extend "drill"
      drill:add_check("route", { before = function() return false end })
      return drill
    ]])
    r = drill("run --yes -i inventory.lua " .. quote(custom), fr)
    assert.equal(1, r.code)
    assert.matches("échec de la vérification préalable de l’étape 'route' : aucune raison "
      .. "donnée", r.out)
    assert.matches("arrêté à une étape en échec : 1 modifiée%(s%), 1 déjà faite%(s%), 1 en "
      .. "échec", r.out)
    os.remove(state_file)
    r = drill("run --yes -i inventory.lua drill", fr)
    assert.equal(1, r.code)
    assert.matches("impossible de continuer : condition préalable non remplie — create the",
      r.out)
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
    local r = drill("run --yes --json -i inventory.lua drill")
    assert.equal(0, r.code, r.err)
    assert.same(with(RUNNING, { run_start = RUN_START, plan_step = PLAN_STEP,
      summary = "changed duration event failed ok skipped" }), fields_of(r.out))
  end)

  it("a plan: run_start marked plan, plan steps, its summary", function()
    local r = drill("plan --json -i inventory.lua drill")
    assert.equal(0, r.code, r.err)
    assert.same({ run_start = "event inventory plan runbook simulation title",
                  plan_step = PLAN_STEP, summary = "change done event ok pending plan" },
                fields_of(r.out))
  end)

  it("a plan a check blocks: reasons, and a summary naming the step", function()
    os.remove(state_file)
    local r = drill("run --yes --json -i inventory.lua drill")
    assert.equal(1, r.code)
    assert.same({ run_start = RUN_START, plan_step = BLOCKED_STEP,
      summary = "blocked changed error event failed ok skipped step" }, fields_of(r.out))
  end)

  it("a failure with rollback: errors, rollback events, the failed step", function()
    write(inventory, inventory_text("fail = 'start:b',\n"))
    local r = drill("run --yes --rollback auto --json -i inventory.lua drill")
    assert.equal(1, r.code)
    assert.same(with(RUNNING, { run_start = RUN_START, plan_step = PLAN_STEP,
      host_done = "duration error event host ok step",
      step_done = "duration error event id number status",
      rollback = "event finished host ok step title",
      summary = "changed duration error event failed left ok restored skipped step" }), fields_of(r.out))
  end)

  it("a refusal without a terminal: a summary, and no journal named or made", function()
    local r = drill("run --json -i inventory.lua drill")
    assert.equal(2, r.code)
    assert.same({ run_start = RUN_START, plan_step = PLAN_STEP,
      summary = "changed error event failed ok refused skipped" }, fields_of(r.out))
    assert.same({}, journals())
    assert.is_nil(drill("run -i inventory.lua drill").out:find("journal", 1, true))
  end)

  it("an interrupted run: a summary with the step and the journal to resume", function()
    local marker = scratch .. "/hanging"
    local r = support.sh(([[
      cd %s && RUNBOOK_STATE_DIR=%s RUNBOOK_PATH=%s DRILL_HANG=stop:b DRILL_MARKER=%s \
        %s run --yes --json -i inventory.lua drill >%s/out & pid=$!
      i=0; while [ ! -e %s ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
      kill -INT $pid; wait $pid; echo "exit=$?"]]):format(quote(scratch),
      quote(scratch .. "/state"), quote(BOOKS), quote(marker), quote(support.bin), quote(scratch),
      quote(marker)))
    assert.matches("exit=4", r.out)
    assert.same(with(RUNNING, { run_start = RUN_START, plan_step = PLAN_STEP, note = false,
      summary = "changed duration event failed interrupted ok resume skipped step" }),
      fields_of(slurp(scratch .. "/out")))
  end)
end)

describe("runbook run --json on a terminal", function()
  -- Drives `runbook run --json` through a pseudo-terminal (tests/pty_session.py) with stdout
  -- sent to a file: the questions must reach the operator, and only JSON the file.
  local function on_terminal(book, steps)
    local command = ("cd %s && RUNBOOK_STATE_DIR=%s RUNBOOK_PATH=%s exec %s run --json "
      .. "-i inventory.lua %s >%s/out"):format(quote(scratch), quote(scratch .. "/state"),
      quote(BOOKS), quote(support.bin), quote(book), quote(scratch))
    local transcript = support.sh(("/usr/bin/python3 tests/pty_session.py %s /bin/sh -c %s"):format(
      quote(cjson.encode(steps)), quote(command))).out
    return transcript, slurp(scratch .. "/out")
  end

  it("asks on the terminal, not in the JSON, and a declined step ends with a summary", function()
    local book = write(scratch .. "/careful.lua", [[
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
    assert.equal("edge1", state().route)
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

describe("an inventory with FQDN keys, its params and --set", function()
  -- a runbook whose inventory has maps keyed by FQDN, nested; its one step notes what it got
  local function estate_runbook()
    return write(scratch .. "/estate.lua", [[
      local runbook = require "runbook"
      local server = { type = "record", fields = {
        password = { type = "credential" }, port = { type = "integer" },
        options = { type = "map", of = { type = "record", fields = {
          retries = { type = "integer" } } } } } }
      return runbook.define {
        id = "estate",
        params = { ttl = { type = "integer", default = 300 }, site = { type = "string" } },
        inventory = {
          servers = { type = "map", of = server },
          dns = { type = "record", fields = { ttl = { type = "integer" },
            secure = { type = "boolean" },
            resolvers = { type = "list", of = { type = "integer" } } } },
        },
        steps = { { id = "show", title = "Show", check = function(ctx)
          local dns = ctx.inventory.dns or {}
          local edge = (ctx.inventory.servers or {})["edge2a.contoso.com"]
          ctx.note(("dns.ttl=%s %s"):format(dns.ttl, math.type(dns.ttl)))
          ctx.note(("secure=%s %s"):format(dns.secure, type(dns.secure)))
          ctx.note(("resolvers=%s"):format(table.concat(dns.resolvers or {}, "+")))
          ctx.note(("edge2a.port=%s %s"):format(edge and edge.port, math.type(edge and edge.port)))
          ctx.note(("param ttl=%s %s"):format(ctx.params.ttl, math.type(ctx.params.ttl)))
          return true
        end } },
      }
    ]])
  end

  local INVENTORY = [[
return {
  servers = {
    ["edge2a.contoso.com"] = {
      password = "inline-secret",
      port = "5986",
    },
    ["edge2b.contoso.com"] = { options = {
      ["tls.strict"] = { retries = "x", extra = 1 },
    } },
  },
  params = { site = 7, bogus = 1 },
}
]]
  local problems = {
    { 4, 'servers["edge2a.contoso.com"].password: expected a credential reference' },
    { 5, 'servers["edge2a.contoso.com"].port: expected a whole number, got \'5986\'' },
    { 8, 'servers["edge2b.contoso.com"].options["tls.strict"].extra: unknown key' },
    { 8, 'servers["edge2b.contoso.com"].options["tls.strict"].retries: expected a whole number' },
    { 11, "params.bogus: unknown key" },
    { 11, "params.site: expected a string, got 7" },
  }

  it("reports each problem under an FQDN key at its own line", function()
    estate_runbook()
    write(inventory, INVENTORY)
    local r = drill("check -i inventory.lua estate.lua")
    assert.equal(2, r.code)
    for _, problem in ipairs(problems) do
      local line = ("inventory.lua:%d: %s"):format(problem[1], problem[2])
      assert.truthy(r.err:find(line, 1, true), line .. "\n in:\n" .. r.err)
    end
    local _, count = r.err:gsub("\n", "")
    assert.equal(#problems, count, r.err)   -- params.site once: with its line, not again
  end)

  it("accepts the runbook's parameters in the inventory's params", function()
    estate_runbook()
    write(inventory, "return { params = { ttl = 60, site = 'Site2' } }")
    local r = drill("plan -i inventory.lua estate.lua")
    assert.equal(0, r.code, r.err)
    assert.matches("param ttl=60 integer", r.out)
  end)

  it("converts --set values to the type the schema wants at that path", function()
    estate_runbook()
    write(inventory, 'return { servers = { ["edge2a.contoso.com"] = { port = 5985 } } }')
    local r = drill("plan -i inventory.lua --set dns.ttl=60 --set dns.secure=true "
      .. "--set dns.resolvers=53,5353 --set servers.edge2a.contoso.com.port=5986 --set ttl=61 "
      .. "estate.lua")
    assert.equal(0, r.code, r.err)
    for _, seen in ipairs { "dns.ttl=60 integer", "secure=true boolean", "resolvers=53+5353",
                            "edge2a.port=5986 integer", "param ttl=61 integer" } do
      assert.truthy(r.out:find(seen, 1, true), seen .. "\n in:\n" .. r.out)
    end
  end)

  it("reports a --set value that does not convert, at the path it names", function()
    estate_runbook()
    write(inventory, "return {}")
    local r = drill("check -i inventory.lua --set dns.ttl=soon estate.lua")
    assert.equal(2, r.code)
    assert.matches("dns%.ttl: expected a whole number, got 'soon'", r.err)
  end)

  local declarations = {
    { "ttl = { type = 'strng' }",
      "params.ttl: unknown type 'strng' %(did you mean 'string'%?%) %(the types: string, number" },
    { "ttl = { type = 'integer', requird = true }",
      "params.ttl: unknown key 'requird' %(did you mean 'required'%?%)" },
    { "ttl = { type = 'integer', default = 'soon' }",
      "params.ttl: the default expected a whole number, got 'soon'" },
    { "ttl = { type = 'list', of = { type = 'integr' } }",
      "params.ttl%[…%]: unknown type 'integr'" },
    { "ttl = 'integer'", "params.ttl: a declaration is a table" },
    { "ttl = { type = 'string', values = 'a,b' }", "params.ttl: values must be a table" },
  }
  for _, case in ipairs(declarations) do
    it("refuses the parameter declaration " .. case[1] .. " where it is defined", function()
      write(scratch .. "/declared.lua", ([[
        local runbook = require "runbook"
        local declared = runbook.define {
          id = "declared", params = { %s },
          steps = { { id = "a", check = function() return true end } } }
        return declared]]):format(case[1]))
      write(inventory, "return {}")
      local r = drill("check -i inventory.lua declared.lua")
      assert.equal(1, r.code)
      assert.matches("declared%.lua:2: %[runbook%] declared: " .. case[2], r.err)
    end)
  end

  it("refuses an inventory field declared with an unknown type", function()
    write(scratch .. "/declared.lua", [[
      return require("runbook").define { id = "declared",
        inventory = { dns = { type = "record", fields = { ttl = { type = "int" } } } },
        steps = { { id = "a", check = function() return true end } } }]])
    local r = drill("check -i inventory.lua declared.lua")
    assert.equal(1, r.code)
    -- `return runbook.define {…}` is a tail call: no line of the runbook is left to name
    assert.matches("^runbook: %[runbook%] declared: inventory%.dns%.ttl: unknown type 'int'", r.err)
  end)

  it("refuses a parameter a customization adds with an unknown type (exit 2)", function()
    local custom = write(scratch .. "/custom.lua", [[
      local drill = require("runbook").extend "drill"
      drill.params.ticket = { type = "strin", required = true }
      return drill
    ]])
    local r = drill("check -i inventory.lua " .. quote(custom))
    assert.equal(2, r.code)
    assert.matches("custom%.lua: params%.ticket: unknown type 'strin' %(did you mean 'string'%?%)",
      r.err)
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
  -- Every form a secret can take in what runbook writes: as is, JSON-escaped (with and
  -- without `\/` for `/`) and as Lua's %q writes it.
  local function forms_of(secret)
    local json = cjson.encode(secret):sub(2, -2)
    local html = secret:gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
      ['"'] = "&quot;", ["'"] = "&#39;" })
    return { secret, json, (json:gsub("\\/", "/")), ("%q"):format(secret):sub(2, -2), html }
  end

  it("never shows an env: or file: secret with / + = \" \\ in any form, anywhere", function()
    local env_secret, file_secret = [[Tq/9+x="k\Zw/=]], [[F1le/Se+cr=t"\/end\]]
    local file = write(scratch .. "/token", file_secret .. "\n")
    os.execute("chmod 600 " .. quote(file))
    write(inventory, inventory_text(("password = 'env:DRILL_SECRET',\ntoken = 'file:%s',\n"):format(
      file)))
    local audit, env = scratch .. "/audit.jsonl", "DRILL_SECRET=" .. quote(env_secret)
    local human = drill("run --yes -v -i inventory.lua drill", env)
    write(state_file, cjson.encode(INITIAL))
    local json = drill("run --yes --json --audit-log " .. quote(audit) .. " -i inventory.lua drill",
      env)
    assert.equal(1, human.code)
    assert.equal(1, json.code)
    assert.matches("authenticating with <redacted> and <redacted>", human.out)
    local notes = {}
    for line in json.out:gmatch("[^\n]+") do
      local event = cjson.decode(line)
      if event.event == "note" then notes[#notes + 1] = event.text end
    end
    assert.same({ "authenticating with <redacted> and <redacted>" }, notes)
    local everything = human.out .. human.err .. json.out .. json.err .. slurp(audit)
    for _, path in ipairs(journals()) do     -- the journals, and the reports made of them
      local html, md = drill("report " .. quote(path)), drill("report --format md " .. quote(path))
      assert.equal(0, html.code, html.err)
      assert.matches("<redacted>", md.out)
      everything = everything .. slurp(path) .. html.out .. md.out
    end
    assert.matches('"credentials"', everything)   -- the journal's data record is there
    for _, secret in ipairs { env_secret, file_secret } do
      for _, form in ipairs(forms_of(secret)) do
        assert.is_nil(everything:find(form, 1, true), form)
      end
    end
  end)

  -- check finds a credential that cannot be had, before any traffic and without reading it
  local unusable = {
    { "a file: credential readable by others", "mode 644", "password = 'file:%s/pw',\n",
      "inventory.lua:6: password: %[secrets%] .*/pw is readable by others %(mode 644%): run "
        .. "`chmod 600" },
    { "a file: credential that does not exist", "missing", "password = 'file:%s/none',\n",
      "inventory.lua:6: password: %[secrets%] cannot stat .*/none" },
    { "a file: credential that is a directory", "directory", "password = 'file:%s/dir',\n",
      "inventory.lua:6: password: %[secrets%] .*/dir is not a file" },
    { "an env: credential whose variable is not set", "unset", "token = 'env:DRILL_UNSET',\n",
      "inventory.lua:6: token: %[secrets%] environment variable DRILL_UNSET is not set" },
  }
  for _, case in ipairs(unusable) do
    it("refuses " .. case[1] .. " in check, plan and run (exit 2)", function()
      write(scratch .. "/pw", "x")
      os.execute(("chmod 644 %s; mkdir -m 700 %s"):format(quote(scratch .. "/pw"),
        quote(scratch .. "/dir")))
      write(inventory, inventory_text(case[3]:format(scratch)))
      for _, command in ipairs { "check", "plan", "run --yes" } do
        local r = drill(command .. " -i inventory.lua drill", "DRILL_UNSET=")
        assert.equal(2, r.code, case[2] .. ": " .. r.out .. r.err)
        assert.matches(case[4], r.err)
      end
      assert.same(INITIAL, state())
      assert.equal(0, #journals())
    end)
  end

  it("accepts usable credentials in check without reading the file", function()
    local file = write(scratch .. "/pw", "x")
    os.execute("chmod 200 " .. quote(file))   -- unreadable even for us: check must not read it
    write(inventory, inventory_text(("password = 'file:%s',\ntoken = 'env:DRILL_TOKEN',\n"):format(
      file)))
    local r = drill("check -i inventory.lua drill", "DRILL_TOKEN=t0ken")
    assert.equal(0, r.code, r.err)
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
      assert.is_nil(r.err:find("lock", 1, true))   -- the dead run's lock went with it
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

describe("resume goes on with the interrupted run's values", function()
  -- drill with an inventory record, so that --set can name an inventory path too
  local function custom_drill()
    return write(scratch .. "/custom.lua", [[
      local drill = require("runbook").extend "drill"
      local inventory = { change = { type = "record", fields = { ticket = { type = "string" } } } }
      for name, field in pairs(drill.inventory) do inventory[name] = field end
      drill.inventory = inventory
      return drill
    ]])
  end

  -- runs custom.lua (a relative path) with args, killed by kill -9 after the route's change
  local function crash_after_route(args)
    custom_drill()
    local r = drill("run --yes -i inventory.lua " .. args .. " custom.lua",
      "DRILL_CRASH=route::after")
    assert.equal(137, r.code, r.err)
    return journals()[1]
  end

  it("keeps the interrupted run's --set values when the resume adds an inventory path", function()
    local journal = crash_after_route("--set route=edge3")
    local r = drill("resume --yes --set change.ticket=CHG-1 " .. quote(journal))
    assert.equal(0, r.code, r.out .. r.err)
    assert.equal("edge3", state().route)
    assert.equal(1, state().applied.route)
  end)

  local refusals = {
    { "a --set that changes a --set of the interrupted run", "--set route=edge3",
      "--set route=edge4",
      "resume: %-%-set route=edge4 would change route, which the interrupted run had as " ..
        "\"edge3\"" },
    { "a --set that changes a parameter the run had from its inventory", "", "--set route=edge9",
      "resume: parameter route was \"edge2\" in the interrupted run and would now be \"edge9\"" },
    { "an inventory edited so that a parameter changes", "", "new_route=edge7",
      "resume: parameter route was \"edge2\" in the interrupted run and would now be \"edge7\"" },
    { "-i naming another inventory", "", "-i other.lua",
      "resume: the interrupted run used the inventory .*/inventory%.lua, not other%.lua" },
  }
  for _, case in ipairs(refusals) do
    it("refuses " .. case[1] .. " (exit 2), and changes nothing", function()
      local journal = crash_after_route(case[2])
      local before = slurp(journal)
      local resume_args = case[3]
      if case[3] == "new_route=edge7" then
        write(inventory, (inventory_text():gsub('"edge2"', '"edge7"')))
        resume_args = ""
      end
      write(scratch .. "/other.lua", inventory_text())
      local r = drill("resume --yes " .. resume_args .. " " .. quote(journal))
      assert.equal(2, r.code, r.out .. r.err)
      assert.matches(case[4], r.err)
      assert.equal(1, state().applied.route)
      assert.equal(before, slurp(journal))
    end)
  end

  it("journals absolute paths, so that resume works from any directory", function()
    local journal = crash_after_route("")
    local start = events_of(journal)[1]
    local fs = require "runbook.fs"
    assert.equal(fs.realpath(scratch) .. "/custom.lua", start.runbook)
    assert.equal(fs.realpath(scratch) .. "/inventory.lua", start.inventory)
    local r = support.sh(("cd / && RUNBOOK_STATE_DIR=%s RUNBOOK_PATH=%s %s resume --yes %s"):format(
      quote(scratch .. "/state"), quote(BOOKS), quote(support.bin), quote(journal)))
    assert.equal(0, r.code, r.out .. r.err)
    assert.equal("edge2", state().route)
    assert.equal(1, state().applied.route)
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
  it("refuses a second run while the first holds it, and is free at once when it is killed",
    function()
    -- the first run waits inside step "stop" on host b (DRILL_HANG) and holds the lock
    local marker = scratch .. "/hanging"
    local env = ("RUNBOOK_STATE_DIR=%s RUNBOOK_PATH=%s"):format(quote(scratch .. "/state"),
      quote(BOOKS))
    local r = support.sh(([[
      cd %s || exit 99
      DRILL_HANG=stop:b DRILL_MARKER=%s %s %s run --yes -i inventory.lua drill >/dev/null 2>&1 &
      holder=$!
      i=0; while [ ! -e %s ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
      echo "holder=$holder"
      %s %s run --yes -i inventory.lua drill; echo "second=$?"
      kill -9 $holder; wait $holder; echo "holder exit=$?"]]):format(quote(scratch),
      quote(marker), env, quote(support.bin), quote(marker), env, quote(support.bin)))
    local holder = r.out:match("holder=(%d+)")
    assert.matches("second=1\n", r.out)
    assert.matches("another run of drill against drill.test is in progress %(pid " .. holder
      .. ", lock .*drill%-%-drill%.test%.lock%)", r.err)
    assert.matches("holder exit=137", r.out)
    assert.equal(1, state().applied["stop:a"])   -- the second run changed nothing
    r = drill("resume --yes " .. quote(journals()[1]))
    assert.equal(0, r.code, r.err)
    assert.is_nil(r.err:find("lock", 1, true))
    assert.same({ a = "running", b = "running", c = "running" }, state().services)
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

-- Runs `runbook ARGS` like drill() on a pseudo-terminal (tests/pty_session.py): script is a
-- list of { "expect", text } and { "send", text }. Returns what the terminal showed and the
-- exit code.
local function drill_on_terminal(script, args, env)
  local r = support.sh(("cd %s && RUNBOOK_STATE_DIR=%s RUNBOOK_PATH=%s %s /usr/bin/python3 "
    .. "%s %s %s %s"):format(quote(scratch), quote(scratch .. "/state"), quote(BOOKS), env or "",
      quote(support.root .. "/tests/pty_session.py"), quote(cjson.encode(script)),
      quote(support.bin), args))
  return { out = r.out, code = tonumber(r.out:match("\nexit=(%d+)\n$")) }
end

-- A customization of drill that asks before moving the route (confirm = a question).
local function confirming_drill()
  return write(scratch .. "/confirming.lua", [[
    local drill = require("runbook").extend "drill"
    drill.steps[drill:index_of("route")].confirm = { en = "Users lose the route for a minute. " }
    return drill
  ]])
end

local PROCEED = "Proceed with these changes? [y/N] "

describe("on a terminal", function()
  it("asks once before changing anything, and y proceeds", function()
    local r = drill_on_terminal({ { "expect", PROCEED }, { "send", "y\n" } },
      "run -i inventory.lua drill")
    assert.equal(0, r.code, r.out)
    assert.equal("edge2", state().route)
    local _, questions = r.out:gsub("%[y/N%]", "")
    assert.equal(1, questions)
  end)

  it("exits 3 and changes nothing when the answer is n", function()
    local r = drill_on_terminal({ { "expect", PROCEED }, { "send", "n\n" } },
      "run -i inventory.lua drill")
    assert.equal(3, r.code, r.out)
    assert.matches("declined: nothing was changed", r.out)
    assert.same(INITIAL, state())
    assert.same({}, journals())
  end)

  it("asks before a step with confirm: n stops there (exit 3) after the earlier steps", function()
    local r = drill_on_terminal({ { "expect", PROCEED }, { "send", "y\n" },
      { "expect", "Users lose the route for a minute. Carry out this step? [y/N] " },
      { "send", "n\n" } }, "run -i inventory.lua " .. quote(confirming_drill()))
    assert.equal(3, r.code, r.out)
    local s = state()
    assert.equal("edge1", s.route)
    assert.same({ a = "stopped", b = "stopped", c = "stopped" }, s.services)
    local events = events_of(journals()[1])
    assert.same({ event = "declined", step = "route" }, { event = events[#events].event,
                                                          step = events[#events].step })
  end)

  it("carries out a step with confirm when the answer is y", function()
    local r = drill_on_terminal({ { "expect", PROCEED }, { "send", "y\n" },
      { "expect", "Carry out this step? [y/N] " }, { "send", "y\n" } },
      "run -i inventory.lua " .. quote(confirming_drill()))
    assert.equal(0, r.code, r.out)
    assert.equal("edge2", state().route)
  end)

  it("does not ask a step's confirm with --yes", function()
    local r = drill("run --yes -i inventory.lua " .. quote(confirming_drill()))
    assert.equal(0, r.code, r.err)
    assert.is_nil(r.out:find("Carry out this step", 1, true))
    assert.equal("edge2", state().route)
  end)

  it("asks whether to roll back after a failure (the default --rollback there)", function()
    write(inventory, inventory_text("fail = 'start:b',\n"))
    local r = drill_on_terminal({ { "expect", PROCEED }, { "send", "y\n" },
      { "expect", "Roll back the completed steps? [y/N] " }, { "send", "y\n" } },
      "run -i inventory.lua drill")
    assert.equal(1, r.code, r.out)
    assert.equal("edge1", state().route)
    assert.equal(1, state().applied["undo route"])
  end)

  it("never asks nor rolls back by default off a terminal", function()
    write(inventory, inventory_text("fail = 'start:b',\n"))
    local r = drill("run --yes -i inventory.lua drill")
    assert.equal(1, r.code)
    assert.is_nil(r.out:find("Roll back", 1, true))
    assert.equal("edge2", state().route)
    assert.is_nil(state().applied["undo route"])
  end)

  it("colours the output on a terminal only, and never with NO_COLOR", function()
    local coloured = drill_on_terminal({}, "plan -i inventory.lua drill")
    assert.equal(0, coloured.code, coloured.out)
    assert.truthy(coloured.out:find("\27[32m", 1, true), coloured.out)
    local no_color = drill_on_terminal({}, "plan -i inventory.lua drill", "NO_COLOR=1")
    assert.equal(0, no_color.code, no_color.out)
    assert.is_nil(no_color.out:find("\27[", 1, true))
    local piped = drill("plan -i inventory.lua drill")
    assert.equal(0, piped.code)
    assert.is_nil(piped.out:find("\27[", 1, true))
  end)

  it("asks for a prompt credential on the terminal without echoing it", function()
    local secret = "Typed-Secret-4711"
    write(inventory, inventory_text("password = 'prompt',\n"))
    local r = support.sh(("cd %s && RUNBOOK_STATE_DIR=%s RUNBOOK_PATH=%s /usr/bin/python3 %s %s %s "
      .. "%s run --yes --rollback never -i inventory.lua drill"):format(quote(scratch),
      quote(scratch .. "/state"), quote(BOOKS), quote(support.root .. "/tests/pty_secret.py"),
      quote("Password for drill: "), quote(secret), quote(support.bin)))
    assert.matches("Password for drill: ", r.out)
    assert.matches("\necho=off\n", r.out)
    assert.matches("authenticating with <redacted> and none", r.out)  -- the typed one, used
    assert.is_nil(r.out:find(secret, 1, true))
    assert.matches("\nexit=1\n$", r.out)          -- the drill's injected refusal
  end)
end)

describe("a step's verify", function()
  it("fails the step when it does not hold: the run stops there", function()
    local marks = scratch .. "/marks"
    local book = write(scratch .. "/verified.lua", ([[
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
    write(inventory, "return {}")
    local r = drill("run --yes --rollback never --json -i inventory.lua " .. quote(book))
    assert.equal(1, r.code)
    assert.equal("changed\n", slurp(marks))
    local summary = cjson.decode(r.out:match("[^\n]+\n$"))
    assert.equal("change", summary.step)
    assert.matches("verification failed: the change did not stick", summary.error)
  end)
end)

describe("the inventory", function()
  it("comes from RUNBOOK_INVENTORY when no -i is given, and -i wins over it", function()
    local r = drill("run --yes drill", "RUNBOOK_INVENTORY=" .. quote(inventory))
    assert.equal(0, r.code, r.err)
    assert.equal("edge2", state().route)
    write(state_file, cjson.encode(INITIAL))
    r = drill("run --yes -i inventory.lua drill", "RUNBOOK_INVENTORY=/nonexistent/inventory.lua")
    assert.equal(0, r.code, r.err)
  end)

  it("names the audit log in audit_log", function()
    local audit = scratch .. "/from-inventory.jsonl"
    write(inventory, inventory_text(("audit_log = %q,\n"):format(audit)))
    assert.equal(0, drill("run --yes -i inventory.lua drill").code)
    local records = events_of(audit)
    assert.equal("run_start", records[1].event)
    assert.is_string(records[1].user)
    assert.equal("summary", records[#records].event)
  end)
end)

describe("extending a runbook: replace, remove, add_check", function()
  local function custom(body)
    return write(scratch .. "/custom.lua", "local drill = require('runbook').extend 'drill'\n"
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
    local r = drill("run --yes -i inventory.lua " .. quote(book))
    assert.equal(0, r.code, r.err)
    assert.matches("%[3/4%] Move the route our way", r.out)
    assert.matches("by our change procedure", r.out)
    assert.equal("edge2", state().route)
  end)

  it("removes a step", function()
    local r = drill("run --yes -i inventory.lua " .. quote(custom('drill:remove("stop")')))
    assert.equal(0, r.code, r.err)
    assert.matches("%[2/3%] Move the route", r.out)
    assert.equal("edge2", state().route)
    assert.is_nil(state().applied["stop:a"])
  end)

  it("asks a before check in plan too, where it shows why the step cannot proceed", function()
    local book = custom([[drill:add_check("stop", { before = function(ctx, host)
      return host ~= "b", "b is in a maintenance window" end })]])
    local r = drill("plan -i inventory.lua " .. quote(book))
    assert.equal(1, r.code)
    assert.matches("pre%-check of step 'stop' failed: b is in a maintenance window", r.out)
    assert.same(INITIAL, state())
  end)

  it("asks a before check read-only: it cannot change anything", function()
    local book = custom([[drill:add_check("route", { before = function()
      task.check_mutation("page the on-call engineer"); return true end })]])
    local r = drill("run --yes --rollback never -i inventory.lua " .. quote(book))
    assert.equal(1, r.code)
    assert.matches("refusing to page the on%-call engineer", r.out)
    assert.equal("edge1", state().route)
  end)

  it("does not hold up a step that is already done with its before check", function()
    assert.equal(0, drill("run --yes -i inventory.lua drill").code)
    local book = custom([[drill:add_check("route", { before = function()
      return false, "only before the change" end })]])
    local r = drill("run --yes -i inventory.lua " .. quote(book))
    assert.equal(0, r.code, r.out)
    assert.matches("nothing to change", r.out)
  end)

  it("refuses an after check on a precondition, which changes nothing", function()
    local r = drill("check -i inventory.lua " .. quote(custom(
      'drill:add_check("ready", { after = function() return true end })')))
    assert.equal(1, r.code)
    assert.matches("step 'ready' changes nothing .* use before", r.err)
  end)
end)
