--- options_agree_spec — the option list has one source, runtime/usage.c (what each command's
-- --help prints and main.c accepts); README.md's Options paragraph and the man page's
-- OPTIONS section are tested to name exactly the same options, and every command.
local support = require "support"

local function help_of(command)
  local result = support.runbook(command and (command .. " --help") or "--help")
  assert.equal(0, result.code, result.err)
  return result.out
end

local function commands()
  local names = {}
  for line in help_of():match("commands:\n(.-)\n\n"):gmatch("[^\n]+") do
    names[#names + 1] = line:match("^  (%l+)")
  end
  return names
end

-- The long options a --help lists in its options: section.
local function options_of(help, into)
  local section = help:match("\noptions:\n(.-)\n\n") or ""
  for line in section:gmatch("[^\n]+") do
    local long = line:match("^%s+%-?%a?,?%s*(%-%-[%w%-]+)")
    if long then into[long] = true end
  end
  return into
end

local function sorted(set)
  local list = {}
  for k in pairs(set) do list[#list + 1] = k end
  table.sort(list)
  return list
end

local function usage_options()
  local all = {}
  for _, command in ipairs(commands()) do options_of(help_of(command), all) end
  return all
end

describe("the option list", function()
  it("README's Options paragraph names exactly the options of usage.c", function()
    local readme = support.slurp("README.md")
    local paragraph = assert(readme:match("\nOptions: (.-)\n\n"), "README has an Options paragraph")
    local named = {}
    for long in paragraph:gmatch("`[^`]-(%-%-[%w%-]+)[^`]-`") do named[long] = true end
    assert.same(sorted(usage_options()), sorted(named))
  end)

  it("the man page's OPTIONS section names exactly the options of usage.c", function()
    local man = support.slurp("docs/runbook.1")
    local section = assert(man:match("\n%.SH OPTIONS\n(.-)\n%.SH "), "the man page has OPTIONS")
    local named = {}
    for line in section:gmatch("[^\n]+") do
      if line:find("^%.B") then
        for long in line:gsub("\\%-", "-"):gmatch("(%-%-[%w%-]+)") do named[long] = true end
      end
    end
    assert.same(sorted(usage_options()), sorted(named))
  end)

  it("README's table and the man page's COMMANDS name every command", function()
    local readme, man = support.slurp("README.md"), support.slurp("docs/runbook.1")
    for _, command in ipairs(commands()) do
      assert.truthy(readme:find("\n| `" .. command, 1, true), command .. " in README's table")
      assert.truthy(man:find("\n.BI? " .. command .. "[ \n]"), command .. " in the man page")
    end
  end)
end)
