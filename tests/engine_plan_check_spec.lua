--- engine_plan_check_spec — runbook plan and runbook check; inventories with FQDN
-- keys, params and --set.
-- The engine (modules/runbook/) driven through ./runbook with the fixture runbook
-- tests/fixtures/books/drill.lua; set-up in tests/helpers/drill.lua.
local support = require "support"
local quote, write, slurp = support.quote, support.write, support.slurp
local d = require("helpers.drill").use()
before_each(d.fresh)
after_each(d.clean)

describe("runbook plan", function()
  it("shows current → desired per host and changes nothing", function()
    local before = slurp(d.state_file)
    local r = d.drill("plan -i inventory.lua drill")
    assert.equal(0, r.code, r.err)
    assert.equal(before, slurp(d.state_file))
    assert.matches("Stop the services — will change", r.out)
    assert.matches("a: running → stopped", r.out)
    assert.matches("edge1 → edge2", r.out)
    assert.same({}, d.journals())
  end)

  it("refuses a check that tries to change something", function()
    local book = write(d.scratch .. "/sneaky.lua", [[
      local runbook = require "runbook"
      return runbook.define { id = "sneaky", steps = {
        { id = "peek", check = function() task.check_mutation("restart the server"); return true end,
          run = function() end } } }
    ]])
    write(d.inventory, "return {}")
    for _, command in ipairs { "plan", "run --yes" } do
      local r = d.drill(command .. " -i inventory.lua " .. quote(book))
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
      write(d.inventory, d.inventory_text(case[1]))
      local r = d.drill("check -i inventory.lua drill")
      assert.equal(2, r.code)
      assert.matches(case[2], r.err)
    end)
  end

  it("reports a missing required value", function()
    write(d.inventory, "return { hosts = { 'a' } }")
    local r = d.drill("check -i inventory.lua drill")
    assert.equal(2, r.code)
    assert.matches("state_file: required", r.err)
  end)

  it("rejects an unknown --set parameter, naming the known ones", function()
    local r = d.drill("check -i inventory.lua --set rout=x drill")
    assert.equal(2, r.code)
    assert.matches("drill has no parameter 'rout' %(its parameters: route%)", r.err)
  end)

  it("accepts a valid runbook and inventory without touching anything", function()
    os.remove(d.state_file)   -- a check that ran would notice
    local r = d.drill("check -i inventory.lua drill")
    assert.equal(0, r.code, r.err)
    assert.matches("drill.lua: ok %(4 steps", r.out)
  end)
end)

describe("an inventory with FQDN keys, its params and --set", function()
  -- a runbook whose inventory has maps keyed by FQDN, nested; its one step notes what it got
  local function estate_runbook()
    return write(d.scratch .. "/estate.lua", [[
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
    write(d.inventory, INVENTORY)
    local r = d.drill("check -i inventory.lua estate.lua")
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
    write(d.inventory, "return { params = { ttl = 60, site = 'Site2' } }")
    local r = d.drill("plan -i inventory.lua estate.lua")
    assert.equal(0, r.code, r.err)
    assert.matches("param ttl=60 integer", r.out)
  end)

  it("converts --set values to the type the schema wants at that path", function()
    estate_runbook()
    write(d.inventory, 'return { servers = { ["edge2a.contoso.com"] = { port = 5985 } } }')
    local r = d.drill("plan -i inventory.lua --set dns.ttl=60 --set dns.secure=true "
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
    write(d.inventory, "return {}")
    local r = d.drill("check -i inventory.lua --set dns.ttl=soon estate.lua")
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
      write(d.scratch .. "/declared.lua", ([[
        local runbook = require "runbook"
        local declared = runbook.define {
          id = "declared", params = { %s },
          steps = { { id = "a", check = function() return true end } } }
        return declared]]):format(case[1]))
      write(d.inventory, "return {}")
      local r = d.drill("check -i inventory.lua declared.lua")
      assert.equal(1, r.code)
      assert.matches("declared%.lua:2: %[runbook%] declared: " .. case[2], r.err)
    end)
  end

  it("refuses an inventory field declared with an unknown type", function()
    write(d.scratch .. "/declared.lua", [[
      return require("runbook").define { id = "declared",
        inventory = { dns = { type = "record", fields = { ttl = { type = "int" } } } },
        steps = { { id = "a", check = function() return true end } } }]])
    local r = d.drill("check -i inventory.lua declared.lua")
    assert.equal(1, r.code)
    -- `return runbook.define {…}` is a tail call: no line of the runbook is left to name
    assert.matches("^runbook: %[runbook%] declared: inventory%.dns%.ttl: unknown type 'int'", r.err)
  end)

  it("refuses a parameter a customization adds with an unknown type (exit 2)", function()
    local custom = write(d.scratch .. "/custom.lua", [[
      local drill = require("runbook").extend "drill"
      drill.params.ticket = { type = "strin", required = true }
      return drill
    ]])
    local r = d.drill("check -i inventory.lua " .. quote(custom))
    assert.equal(2, r.code)
    assert.matches("custom%.lua: params%.ticket: unknown type 'strin' %(did you mean 'string'%?%)",
      r.err)
  end)
end)
