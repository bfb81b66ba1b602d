--- layering_spec — the layering check (tests/helpers/layering.lua, run by `make lint`)
-- finds each seam it exists for in a fixture tree that has them, and none in one that
-- has none.
package.path = "tests/?.lua;" .. package.path
local layering = require "helpers.layering"

local function messages(root)
  local found = {}
  for _, problem in ipairs(layering.check(root)) do found[#found + 1] = layering.format(problem) end
  table.sort(found)
  return found
end

describe("the layering check", function()
  it("finds an upward require, product -> lab, a hidden local require and a cycle", function()
    assert.same({
      "modules/cmdlet.lua: require cycle: cmdlet -> vantage -> cmdlet",
      "modules/cmdlet.lua:2: product code requires lab module \"lab.emulator\"",
      "modules/cmdlet.lua:5: require \"vantage\" inside a function without a comment saying why",
      "modules/runbook/reads.lua:2: engine code requires product module \"powershell\"",
    }, messages("tests/fixtures/layering/seams"))
  end)

  it("accepts downward requires, a commented lazy require, requires in strings", function()
    assert.same({}, messages("tests/fixtures/layering/clean"))
  end)

  it("tells a function-local require from one in a top-level block", function()
    local found = layering.requires(table.concat({
      "if x then local a = require 'a' end",
      "local function f() for i = 1, 2 do local b = require('b') end end",
      "repeat local c = require 'c' until true",
      "local t = { f = function() return require 'd' end }",
      "local e = require 'e'",
    }, "\n"))
    local where = {}
    for _, r in ipairs(found) do where[r.name] = r.in_function end
    assert.same({ a = false, b = true, c = false, d = true, e = false }, where)
  end)
end)
