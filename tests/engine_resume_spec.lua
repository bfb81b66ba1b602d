--- engine_resume_spec — secrets never shown; kill -9 and resume; resume goes on
-- with the run's values.
-- The engine (modules/runbook/) driven through ./runbook with the fixture runbook
-- tests/fixtures/books/drill.lua; set-up in tests/helpers/drill.lua.
local cjson = require "cjson"
local support = require "support"
local quote, write, slurp = support.quote, support.write, support.slurp
local drill_lib = require "helpers.drill"
local d = drill_lib.use()
before_each(d.fresh)
after_each(d.clean)

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
    local file = write(d.scratch .. "/token", file_secret .. "\n")
    os.execute("chmod 600 " .. quote(file))
    write(d.inventory, d.inventory_text(("password = 'env:DRILL_SECRET',\ntoken = 'file:%s',\n"):format(
      file)))
    local audit, env = d.scratch .. "/audit.jsonl", "DRILL_SECRET=" .. quote(env_secret)
    local human = d.drill("run --yes -v -i inventory.lua drill", env)
    write(d.state_file, cjson.encode(drill_lib.INITIAL))
    local json = d.drill("run --yes --json --audit-log " .. quote(audit) .. " -i inventory.lua drill",
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
    for _, path in ipairs(d.journals()) do     -- the journals, and the reports made of them
      local html, md = d.drill("report " .. quote(path)), d.drill("report --format md " .. quote(path))
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
      write(d.scratch .. "/pw", "x")
      os.execute(("chmod 644 %s; mkdir -m 700 %s"):format(quote(d.scratch .. "/pw"),
        quote(d.scratch .. "/dir")))
      write(d.inventory, d.inventory_text(case[3]:format(d.scratch)))
      for _, command in ipairs { "check", "plan", "run --yes" } do
        local r = d.drill(command .. " -i inventory.lua drill", "DRILL_UNSET=")
        assert.equal(2, r.code, case[2] .. ": " .. r.out .. r.err)
        assert.matches(case[4], r.err)
      end
      assert.same(drill_lib.INITIAL, d.state())
      assert.equal(0, #d.journals())
    end)
  end

  it("accepts usable credentials in check without reading the file", function()
    local file = write(d.scratch .. "/pw", "x")
    os.execute("chmod 200 " .. quote(file))   -- unreadable even for us: check must not read it
    write(d.inventory, d.inventory_text(("password = 'file:%s',\ntoken = 'env:DRILL_TOKEN',\n"):format(
      file)))
    local r = d.drill("check -i inventory.lua drill", "DRILL_TOKEN=t0ken")
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
      local r = d.drill("run --yes -i inventory.lua drill", "DRILL_CRASH=" .. point[1])
      assert.equal(137, r.code)
      local journal = d.journals()[1]
      r = d.drill("resume --yes " .. quote(journal))
      assert.equal(0, r.code, r.out .. r.err)
      assert.is_nil(r.err:find("lock", 1, true))   -- the dead run's lock went with it
      local s = d.state()
      assert.same({ a = "running", b = "running", c = "running" }, s.services)
      assert.equal("edge2", s.route)
      for change, count in pairs(s.applied) do
        if change ~= "-" then assert.equal(1, count, change) end
      end
      assert.equal("finish", d.events_of(journal)[#d.events_of(journal)].event)
    end)
  end

  it("refuses to resume a run that finished", function()
    assert.equal(0, d.drill("run --yes -i inventory.lua drill").code)
    local r = d.drill("resume --yes " .. quote(d.journals()[1]))
    assert.equal(2, r.code)
    assert.matches("already finished", r.err)
  end)
end)

describe("resume goes on with the interrupted run's values", function()
  -- drill with an inventory record, so that --set can name an inventory path too
  local function custom_drill()
    return write(d.scratch .. "/custom.lua", [[
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
    local r = d.drill("run --yes -i inventory.lua " .. args .. " custom.lua",
      "DRILL_CRASH=route::after")
    assert.equal(137, r.code, r.err)
    return d.journals()[1]
  end

  it("keeps the interrupted run's --set values when the resume adds an inventory path", function()
    local journal = crash_after_route("--set route=edge3")
    local r = d.drill("resume --yes --set change.ticket=CHG-1 " .. quote(journal))
    assert.equal(0, r.code, r.out .. r.err)
    assert.equal("edge3", d.state().route)
    assert.equal(1, d.state().applied.route)
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
        write(d.inventory, (d.inventory_text():gsub('"edge2"', '"edge7"')))
        resume_args = ""
      end
      write(d.scratch .. "/other.lua", d.inventory_text())
      local r = d.drill("resume --yes " .. resume_args .. " " .. quote(journal))
      assert.equal(2, r.code, r.out .. r.err)
      assert.matches(case[4], r.err)
      assert.equal(1, d.state().applied.route)
      assert.equal(before, slurp(journal))
    end)
  end

  it("journals absolute paths, so that resume works from any directory", function()
    local journal = crash_after_route("")
    local start = d.events_of(journal)[1]
    local fs = require "runbook.fs"
    assert.equal(fs.realpath(d.scratch) .. "/custom.lua", start.runbook)
    assert.equal(fs.realpath(d.scratch) .. "/inventory.lua", start.inventory)
    local r = support.sh(("cd / && RUNBOOK_STATE_DIR=%s RUNBOOK_PATH=%s %s resume --yes %s"):format(
      quote(d.scratch .. "/state"), quote(drill_lib.BOOKS), quote(support.bin), quote(journal)))
    assert.equal(0, r.code, r.out .. r.err)
    assert.equal("edge2", d.state().route)
    assert.equal(1, d.state().applied.route)
  end)
end)
