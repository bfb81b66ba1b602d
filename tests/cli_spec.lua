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
end)

describe("help", function()
  it("documents every command and the exit codes in `runbook --help`", function()
    local r = runbook("--help")
    assert.equal(0, r.code)
    for _, command in ipairs { "run", "plan", "check", "resume", "list", "repl", "version" } do
      assert.matches("\n  " .. command .. " ", r.out)
    end
    assert.matches("4  interrupted", r.out)
  end)

  for _, command in ipairs { "run", "plan", "check", "resume", "list", "repl", "version" } do
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
    { "run --no-such-option x.lua", "unrecognized option" },
  }
  for _, case in ipairs(cases) do
    it("`runbook " .. case[1] .. "`", function()
      local r = runbook(case[1])
      assert.equal(2, r.code)
      assert.matches(case[2], r.err)
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
    assert.matches("at .*fails%.lua:4", r.err)
    assert.not_matches("%[C%]", r.err)
  end)

  it("shows the whole traceback with -v", function()
    local path = write(scratch .. "/fails.lua", "error('x')\n")
    assert.matches("stack traceback", runbook("run -v " .. quote(path)).err)
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

  it("rejects an inventory that does not return a table", function()
    local path = write(scratch .. "/ok.lua", "return 1")
    local inventory = write(scratch .. "/inv.lua", "return 'contoso'")
    local r = runbook("check -i " .. quote(inventory) .. " " .. quote(path))
    assert.equal(2, r.code)
    assert.matches("must return a table", r.err)
  end)
end)

describe("runbook list", function()
  it("lists the runbooks of RUNBOOK_PATH with their description", function()
    write(scratch .. "/drill.lua", "--- Quarterly DR drill for the lab\nprint(1)\n")
    local r = support.sh(("cd / && RUNBOOK_PATH=%s %s list"):format(quote(scratch),
      quote(support.bin)))
    assert.equal(0, r.code)
    assert.matches("drill%.lua +Quarterly DR drill for the lab", r.out)
  end)

  it("prints one JSON object per runbook with --json", function()
    write(scratch .. "/drill.lua", "--- Drill\n")
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
  it("installs a binary that finds its modules and runbooks under DESTDIR/PREFIX", function()
    local r = support.sh(("make -s install DESTDIR=%s PREFIX=/opt/rb"):format(quote(scratch)))
    assert.equal(0, r.code, r.err)
    local books = scratch .. "/opt/rb/share/runbook/runbooks"
    os.execute("mkdir -p " .. quote(books))
    write(books .. "/installed-check.lua", "print(require('runbook.host').datadir)")
    r = support.sh(("cd / && env -u RUNBOOK_PATH -u RUNBOOK_HOME %s/opt/rb/bin/runbook run installed-check"):format(
      quote(scratch)))
    assert.equal(0, r.code, r.err)
    assert.equal(scratch .. "/opt/rb/share/runbook\n", r.out)
  end)
end)
