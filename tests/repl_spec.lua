-- `runbook repl` (runtime/repl.c, modules/runbook/repl.lua, modules/runbook/pretty.lua).
local support = require "support"

describe("runbook repl", function()
  it("evaluates =expr, statements over several lines and keeps globals", function()
    local r = support.runbook("repl", "=1 + 1\nx = 20\n=x * 2\nfor i = 1, 2 do\nprint('line', i)\nend\n")
    assert.equal(0, r.code)
    assert.equal("2\n40\nline\t1\nline\t2\n", r.out)
  end)

  it("runs primitives at the prompt because each line runs as a task", function()
    local r = support.runbook("repl",
      "=task.timeout(1, function() task.sleep(0.001) return 'slept' end)\n")
    assert.equal("true\n\"slept\"\n", r.out)
  end)

  it("pretty-prints tables with sorted keys", function()
    local r = support.runbook("repl", "={ b = { 1, 2 }, a = 'x', [10] = true }\n")
    assert.equal('{\n  [10] = true,\n  a = "x",\n  b = {\n    1,\n    2\n  }\n}\n', r.out)
  end)

  it("reports an error with its line and carries on with the next line", function()
    local r = support.runbook("repl", "error('nope')\n=3\n")
    assert.matches("runbook: stdin:1: nope", r.err)
    assert.equal("3\n", r.out)
  end)

  it("reports a syntax error and does not wait for more input", function()
    local r = support.runbook("repl", "x = = 1\n=4\n")
    assert.matches("stdin:1: unexpected symbol", r.err)
    assert.equal("4\n", r.out)
  end)
end)

describe("repl completion", function()
  local repl = require "runbook.repl"
  setup(function() _G.task = require "runbook.task" end)
  teardown(function() _G.task = nil end)

  it("completes a module's functions after a dot", function()
    assert.same({ "task.shielded", "task.sleep", "task.spawn" }, repl.complete("task.s"))
  end)

  it("completes global names", function()
    local found = repl.complete("coro")
    assert.same({ "coroutine" }, found)
  end)

  it("completes methods after a colon through the metatable", function()
    _G.sample = "text"
    assert.same({ "sample:upper" }, repl.complete("sample:up"))
    _G.sample = nil
  end)

  it("returns nothing for an unknown prefix", function()
    assert.same({}, repl.complete("nosuchthing.x"))
  end)
end)

describe("pretty.format", function()
  local pretty = require "runbook.pretty"
  local cases = {
    { "text", '"text"' },
    { "two\nlines", '"two\\nlines"' },
    { 42, "42" },
    { {}, "{}" },
    { { ["not an identifier"] = 1 }, '{\n  ["not an identifier"] = 1\n}' },
  }
  for _, case in ipairs(cases) do
    it("formats " .. tostring(case[1]):gsub("\n", "\\n"), function()
      assert.equal(case[2], pretty.format(case[1]))
    end)
  end

  it("marks cycles instead of recursing forever", function()
    local t = {}
    t.self = t
    assert.equal("{\n  self = <cycle>\n}", pretty.format(t))
  end)
end)
