-- The command line (runtime/main.c, runtime/usage.c, modules/runbook/cli.lua), driven
-- through the real binary.
local support = require "support"
local runbook, write, quote = support.runbook, support.write, support.quote

local scratch
before_each(function() scratch = support.tmpdir() end)
after_each(function() os.execute("rm -rf " .. quote(scratch)) end)

describe("runbook version", function()
  it("prints runbook's version and every linked library's", function()
    local r = runbook("version")
    assert.equal(0, r.code)
    assert.matches("^runbook %d+%.%d+%.%d+\n", r.out)
    for _, library in ipairs { "Lua", "c%-ares", "libcurl", "libssh2", "expat", "OpenSSL",
                               "libedit" } do
      assert.matches("\n  " .. library .. " +%d", r.out)
    end
  end)

  it("prints one JSON object with --json", function()
    local r = runbook("version --json")
    assert.equal(0, r.code, r.err)
    local versions = require("cjson").decode(r.out)
    assert.matches("^%d+%.%d+%.%d+$", versions.runbook)
    assert.matches("^5%.4", versions.libraries.Lua)
    assert.truthy(versions.libraries.libssh2)
  end)
end)

describe("help", function()
  it("documents every command and the exit codes in `runbook --help`", function()
    local r = runbook("--help")
    assert.equal(0, r.code)
    for _, command in ipairs { "run", "plan", "check", "resume", "history", "report", "list",
                               "repl", "version" } do
      assert.matches("\n  " .. command .. " ", r.out)
    end
    assert.matches("4  interrupted", r.out)
  end)

  for _, command in ipairs { "run", "plan", "check", "resume", "history", "report", "list",
                             "repl", "version" } do
    it("has `runbook " .. command .. " --help`", function()
      local r = runbook(command .. " --help")
      assert.equal(0, r.code)
      assert.matches("^usage: runbook " .. command, r.out)
      assert.matches("exit status", r.out)
    end)
  end

  it("answers `runbook help run` like `runbook run --help`", function()
    assert.equal(runbook("run --help").out, runbook("help run").out)
  end)

  -- The options each command's --help lists (beyond -v, -q, -h); the others it refuses.
  local ALL = { "--inventory", "--set", "--yes", "--json", "--lang", "--rollback", "--audit-log" }
  local takes = {
    run = { "--inventory", "--set", "--yes", "--json", "--lang", "--rollback", "--audit-log",
            "--metrics" },
    resume = ALL,
    plan = { "--inventory", "--set", "--json", "--lang", "--detailed-exitcode" },
    check = { "--inventory", "--set", "--json", "--lang" },
    list = { "--json" }, repl = { "--inventory", "--lang" }, version = { "--json" },
    history = { "--json", "--lang", "--resumable" },
    report = { "--lang", "--output", "--format" },
  }
  for command, options in pairs(takes) do
    it("lists in `runbook " .. command .. " --help` exactly the options it takes", function()
      local text = runbook(command .. " --help").out
      local listed = {}
      for name in text:match("\noptions:\n(.-)\n\n"):gmatch("%-%-([%w-]+)") do
        if name ~= "verbose" and name ~= "quiet" and name ~= "help" then
          listed[#listed + 1] = "--" .. name
        end
      end
      assert.same(options, listed)
      assert.matches("%-v, %-%-verbose", text)
    end)
  end

  it("says in `runbook resume --help` where journals are kept", function()
    local text = runbook("resume --help").out
    local journals = "$RUNBOOK_STATE_DIR, else $XDG_STATE_HOME/runbook, else ~/.local/state/runbook"
    assert.truthy((text:gsub("\n", " ")):find(journals, 1, true))
  end)

  it("lists in `runbook --help` the environment variables the code reads", function()
    local section = "\n" .. runbook("--help").out:match("\nenvironment:\n(.-)\n\n")
    for _, name in ipairs { "RUNBOOK_INVENTORY", "RUNBOOK_PATH", "RUNBOOK_STATE_DIR",
                            "RUNBOOK_HOME", "NO_COLOR", "LANG" } do
      assert.matches("\n  [%w_, ]*" .. name, section)
    end
  end)

  it("documents every option and variable of --help in README.md and docs/runbook.1", function()
    local text = runbook("--help").out
    local readme = support.slurp("README.md")
    local man = support.slurp("docs/runbook.1"):gsub("\\%-", "-")
    for name in text:match("\noptions:\n(.-)\n\n"):gmatch("(%-%-[%w-]+)") do
      assert.truthy(readme:find("`[^`]*" .. name:gsub("%-", "%%-"), 1), name .. " in README.md")
      assert.truthy(man:find(name, 1, true), name .. " in docs/runbook.1")
    end
    for name in text:match("\nenvironment:\n(.-)\n\n"):gmatch("\n?  ([A-Z_]+)") do
      assert.truthy(man:find(name, 1, true), name .. " in docs/runbook.1")
    end
  end)
end)

describe("usage errors exit 2 and say what to try", function()
  local cases = {
    { "", "usage: runbook" },
    { "frobnicate", "unknown command 'frobnicate'" },
    { "run", "run needs an argument" },
    { "list extra", "unexpected argument 'extra'" },
    { "run x.lua y.lua", "unexpected argument 'y.lua'" },
    { "run --lang es x.lua", "%-%-lang 'es': expected en, de or fr" },
    { "run --rollback maybe x.lua", "%-%-rollback 'maybe'" },
    { "run --set novalue x.lua", "%-%-set 'novalue': expected KEY=VALUE" },
    { "run --set =v x.lua", "expected KEY=VALUE" },
    { "run -v -q x.lua", "exclude each other" },
    { "run --no-such-option x.lua", "unknown option '%-%-no%-such%-option'" },
    { "run -yz x.lua", "unknown option '%-z'" },
    { "run --yes=1 x.lua", "option '%-%-yes' takes no value" },
    { "run x.lua --inventory", "option '%-%-inventory' needs a value" },
    { "list --yes", "`list` does not take %-%-yes" },
    { "check --rollback auto x.lua", "`check` does not take %-%-rollback" },
    { "repl --audit-log a.log", "`repl` does not take %-%-audit%-log" },
    { "version --set a=b", "`version` does not take %-%-set" },
  }
  for _, case in ipairs(cases) do
    it("`runbook " .. case[1] .. "`", function()
      local r = runbook(case[1])
      assert.equal(2, r.code)
      assert.matches(case[2], r.err)
      local _, messages = r.err:gsub("runbook: ", "")
      assert.is_true(messages <= 1, "one message, not two")
    end)
  end
end)

describe("runbook run", function()
  it("runs a runbook and exits 0", function()
    local path = write(scratch .. "/ok.lua", "print('hello from ' .. _VERSION)")
    local r = runbook("run " .. quote(path))
    assert.equal(0, r.code)
    assert.equal("hello from Lua 5.4\n", r.out)
  end)

  it("exits 2 with file:line on stderr for a syntax error", function()
    local path = write(scratch .. "/broken.lua", "local x = 1\nif x then\n  x = = 2\nend\n")
    local r = runbook("run " .. quote(path))
    assert.equal(2, r.code)
    assert.matches("broken%.lua:3: unexpected symbol near '='", r.err)
    assert.matches("runbook check", r.err)
  end)

  it("exits 1 with file:line and a short traceback for a runtime error", function()
    local path = write(scratch .. "/fails.lua",
      "local function stop_services()\n  error('service refused to stop')\nend\nstop_services()\n")
    local r = runbook("run " .. quote(path))
    assert.equal(1, r.code)
    assert.matches("runbook: .*fails%.lua:2: service refused to stop", r.err)
    assert.matches("at .*fails%.lua:2: in local 'stop_services'\n"
      .. "  at .*fails%.lua:4: in main chunk\n$", r.err)
    assert.not_matches("%[C%]", r.err)
    assert.not_matches("modules/runbook/", r.err)      -- the host's own frames
  end)

  it("shows the whole traceback with -v, and the message once", function()
    local path = write(scratch .. "/fails.lua", "error('only once')\n")
    local err = runbook("run -v " .. quote(path)).err
    assert.matches("stack traceback", err)
    local _, times = err:gsub("only once", "")
    assert.equal(1, times)
  end)

  it("finds a bare name through RUNBOOK_PATH from any directory, with or without .lua", function()
    os.execute("mkdir -p " .. quote(scratch .. "/books"))
    write(scratch .. "/books/hello.lua", "print('found')")
    for _, name in ipairs { "hello.lua", "hello" } do
      local r = support.sh(("cd / && RUNBOOK_PATH=/nonexistent:%s %s run %s"):format(
        quote(scratch .. "/books"), quote(support.bin), name))
      assert.equal(0, r.code)
      assert.equal("found\n", r.out)
    end
  end)

  it("prefers ./ over RUNBOOK_PATH", function()
    os.execute("mkdir -p " .. quote(scratch .. "/books"))
    write(scratch .. "/books/which.lua", "print('path')")
    write(scratch .. "/which.lua", "print('cwd')")
    local r = support.sh(("cd %s && RUNBOOK_PATH=%s %s run which"):format(
      quote(scratch), quote(scratch .. "/books"), quote(support.bin)))
    assert.equal("cwd\n", r.out)
  end)

  it("exits 2 naming the places it looked when a runbook is not found", function()
    local r = support.sh(("cd %s && RUNBOOK_PATH=/opt/books %s run nowhere"):format(
      quote(scratch), quote(support.bin)))
    assert.equal(2, r.code)
    assert.matches("runbook 'nowhere' not found in %., /opt/books, .*/runbooks", r.err)
  end)

  it("reports a task that failed while nobody waited for it", function()
    local path = write(scratch .. "/orphan.lua", "task.spawn(function() error('lost', 0) end)\n"
      .. "task.yield()\n")
    local r = runbook("run " .. quote(path))
    assert.matches("a task failed and nobody waited for it: lost", r.err)
  end)
end)

describe("plan mode", function()
  it("makes every mutation refuse, and cannot be left once entered", function()
    local path = write(scratch .. "/plan.lua", [[
      task.check_mutation("change nothing yet")
      require("runbook.task.core").enter_plan_mode()
      print(task.planning())
      task.check_mutation("set the XMPP route of Site2")
    ]])
    local r = runbook("run " .. quote(path))
    assert.equal(1, r.code)
    assert.equal("true\n", r.out)
    assert.matches("refusing to set the XMPP route of Site2 while planning", r.err)
  end)
end)

describe("runbook check", function()
  it("accepts a runbook that compiles and an inventory that is data", function()
    local path = write(scratch .. "/ok.lua", "return 1")
    local inventory = write(scratch .. "/inv.lua", "return { domain = 'contoso.com' }")
    local r = runbook("check -i " .. quote(inventory) .. " " .. quote(path))
    assert.equal(0, r.code)
    assert.matches("ok.lua: ok", r.out)
  end)

  it("rejects an inventory that runs code (it is loaded with no library at all)", function()
    local path = write(scratch .. "/ok.lua", "return 1")
    local inventory = write(scratch .. "/inv.lua", "os.execute('true')\nreturn {}")
    local r = runbook("check -i " .. quote(inventory) .. " " .. quote(path))
    assert.equal(2, r.code)
    assert.matches("inv%.lua:1: attempt to index a nil value %(global 'os'%)", r.err)
  end)

  -- an inventory is data: string methods are hidden and the instructions are counted
  local code_forms = {
    { "calls a string method", "return { name = ('x'):rep(3) }",
      "inv%.lua:1: attempt to index a string value.*%(an inventory is data" },
    { "loops forever", "while true do end\nreturn {}",
      "inventory .*inv%.lua: runs too long — an inventory is data %(tables, strings, "
        .. "numbers, booleans%)" },
    { "recurses forever in a tail call", "local function f() return f() end\nreturn f()",
      "inventory .*inv%.lua: runs too long" },
  }
  for _, case in ipairs(code_forms) do
    it("rejects an inventory that " .. case[1] .. " (exit 2)", function()
      local path = write(scratch .. "/ok.lua", "return 1")
      local inventory = write(scratch .. "/inv.lua", case[2])
      local r = support.sh(("timeout 60 %s check -i %s %s"):format(quote(support.bin),
        quote(inventory), quote(path)))
      assert.equal(2, r.code)
      assert.matches(case[3], r.err)
    end)
  end

  it("gives the string methods and the hook back after loading an inventory", function()
    write(scratch .. "/bad.lua", "while true do end")
    write(scratch .. "/method.lua", "return { name = ('x'):upper() }")
    local script = write(scratch .. "/load.lua", ([[
      local session = require "runbook.session"
      local hook = function() end
      debug.sethook(hook, "", 1000000)
      for _, name in ipairs { "bad", "method" } do
        local inventory, message = session.load_inventory(%q .. "/" .. name .. ".lua")
        print(name, inventory, (message:gsub("\n.*", "")))
      end
      print(("x"):upper(), debug.gethook() == hook)
    ]]):format(scratch))
    local r = runbook("run " .. quote(script))
    assert.equal(0, r.code, r.err)
    assert.matches("bad\tnil\tinventory .*bad%.lua: runs too long", r.out)
    assert.matches("method\tnil\t.*attempt to index a string value", r.out)
    assert.matches("X\ttrue\n$", r.out)
  end)

  it("prints its verdict as one JSON object with --json", function()
    local path = write(scratch .. "/ok.lua", "return 1")
    local inventory = write(scratch .. "/inv.lua", "return { domain = 'contoso.com' }")
    local r = runbook("check --json -i " .. quote(inventory) .. " " .. quote(path))
    assert.equal(0, r.code, r.err)
    assert.same({ runbook = path, ok = true, inventory = inventory },
      require("cjson").decode(r.out))
  end)

  it("puts the problems into the JSON object and exits 2", function()
    local path = write(scratch .. "/ok.lua", "return 1")
    local inventory = write(scratch .. "/inv.lua", "return 'contoso'")
    local r = runbook("check --json -i " .. quote(inventory) .. " " .. quote(path))
    assert.equal(2, r.code)
    local verdict = require("cjson").decode(r.out)
    assert.is_false(verdict.ok)
    assert.matches("must return a table", verdict.problems[1])
  end)

  it("rejects an inventory that does not return a table", function()
    local path = write(scratch .. "/ok.lua", "return 1")
    local inventory = write(scratch .. "/inv.lua", "return 'contoso'")
    local r = runbook("check -i " .. quote(inventory) .. " " .. quote(path))
    assert.equal(2, r.code)
    assert.matches("must return a table", r.err)
  end)
end)

describe("runbook list", function()
  local DEFINITION = "--- %s\nlocal runbook = require \"runbook\"\n"
    .. "return runbook.define { id = \"drill\", steps = {} }\n"

  it("lists the runbooks of RUNBOOK_PATH with their description", function()
    write(scratch .. "/drill.lua", DEFINITION:format("Quarterly DR drill for the lab"))
    local r = support.sh(("cd / && RUNBOOK_PATH=%s %s list"):format(quote(scratch),
      quote(support.bin)))
    assert.equal(0, r.code)
    assert.matches("drill%.lua +Quarterly DR drill for the lab", r.out)
  end)

  it("lists runbooks that extend another, and no other Lua file, without running any", function()
    local ran = scratch .. "/ran"
    write(scratch .. "/custom.lua", "--- Ours\nlocal failover = require('runbook').extend "
      .. "'xmpp-failover'\nreturn failover\n")
    write(scratch .. "/inventory.lua", "--- An inventory\nreturn { domain = 'contoso.com' }\n")
    write(scratch .. "/helper.lua", ("--- A module\nio.open(%q, 'w'):close()\n"
      .. "local runbook = require 'runbook'\nreturn {}\n"):format(ran))
    local r = support.sh(("cd / && RUNBOOK_PATH=%s %s list"):format(quote(scratch),
      quote(support.bin)))
    assert.equal(0, r.code)
    assert.matches("custom%.lua +Ours", r.out)
    assert.not_matches("inventory%.lua", r.out)
    assert.not_matches("helper%.lua", r.out)
    assert.is_nil(io.open(ran))
  end)

  it("prints one JSON object per runbook with --json", function()
    write(scratch .. "/drill.lua", DEFINITION:format("Drill"))
    local r = support.sh(("cd / && RUNBOOK_PATH=%s %s list --json"):format(quote(scratch),
      quote(support.bin)))
    local cjson = require "cjson"
    local found
    for line in r.out:gmatch("[^\n]+") do
      local entry = cjson.decode(line)
      if entry.name == "drill.lua" then found = entry end
    end
    assert.same({ name = "drill.lua", path = scratch .. "/drill.lua", description = "Drill" },
      found)
  end)
end)

describe("make install", function()
  -- `make install` under scratch (DESTDIR) of what `make test` has built: `-o all` copies,
  -- never compiles, so it cannot race a build running beside it.
  local function install(prefix)
    return support.sh(("make -s -o all install DESTDIR=%s PREFIX=%s"):format(quote(scratch),
      prefix))
  end

  -- lua5.4 with only the given search paths, from /, so nothing of the source tree is found.
  local function lua_with(path, cpath, code)
    return support.sh(("cd / && LUA_PATH=%s LUA_CPATH=%s lua5.4 -e %s"):format(quote(path),
      quote(cpath), quote(code)))
  end

  local uses_modules = "require 'runbook.task'; require 'runbook.ssh'; require 'runbook'; "
    .. "print(require('runbook.task').run(function() task = nil; return 'ran' end), "
    .. "require('runbook.host').datadir)"

  it("installs a binary that finds its modules and runbooks under DESTDIR/PREFIX", function()
    local r = install("/opt/rb")
    assert.equal(0, r.code, r.err)
    local books = scratch .. "/opt/rb/share/runbook/runbooks"
    os.execute("mkdir -p " .. quote(books))
    write(books .. "/installed-check.lua", "print(require('runbook.host').datadir)")
    r = support.sh(("cd / && env -u RUNBOOK_PATH -u RUNBOOK_HOME %s/opt/rb/bin/runbook run installed-check"):format(
      quote(scratch)))
    assert.equal(0, r.code, r.err)
    assert.equal(scratch .. "/opt/rb/share/runbook\n", r.out)
  end)

  it("installs the Lua modules and C modules where lua5.4 finds them through its paths", function()
    assert.equal(0, install("/opt/rb").code)
    local root = scratch .. "/opt/rb"
    local r = lua_with(root .. "/share/lua/5.4/?.lua;" .. root .. "/share/lua/5.4/?/init.lua",
      root .. "/lib/lua/5.4/?.so", uses_modules)
    assert.equal(0, r.code, r.err)
    assert.equal("ran\t/opt/rb/share/runbook\n", r.out)
  end)

  it("installs into directories lua5.4 searches by default with PREFIX=/usr/local", function()
    assert.equal(0, install("/usr/local").code)
    local defaults = support.sh("env -u LUA_PATH -u LUA_PATH_5_4 -u LUA_CPATH -u LUA_CPATH_5_4 "
      .. "lua5.4 -e 'print(package.path) print(package.cpath)'").out
    local path, cpath = defaults:match("^([^\n]*)\n([^\n]*)\n$")
    local function under_scratch(paths)   -- only lua5.4's /usr/local directories, moved
      local kept = {}
      for template in paths:gmatch("[^;]+") do
        if template:find("^/usr/local/") then kept[#kept + 1] = scratch .. template end
      end
      return table.concat(kept, ";")
    end
    local r = lua_with(under_scratch(path), under_scratch(cpath), uses_modules)
    assert.equal(0, r.code, r.err)
    assert.equal("ran\t/usr/local/share/runbook\n", r.out)
  end)
end)
