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

  it("has every primitive as a global, loaded when first named, and completes it", function()
    local r = support.runbook("repl", "=rawget(_G, 'dns'), type(dns.query), type(net.connect)\n"
      .. "=require('runbook.repl').complete('dns.qu')\n")
    assert.equal(0, r.code, r.err)
    assert.equal('nil\n"function"\n"function"\n{\n  "dns.query"\n}\n', r.out)
  end)

  it("reports a syntax error and does not wait for more input", function()
    local r = support.runbook("repl", "x = = 1\n=4\n")
    assert.matches("stdin:1: unexpected symbol", r.err)
    assert.equal("4\n", r.out)
  end)
end)

describe("runbook repl on a terminal", function()
  local scratch
  before_each(function() scratch = support.tmpdir() end)
  after_each(function() os.execute("rm -rf " .. support.quote(scratch)) end)

  -- Types the steps through a pseudo-terminal (tests/pty_session.py); waits for each
  -- expected text instead of sleeping, and at a prompt until libedit reads keys (it shows
  -- the prompt a moment before). Returns the transcript, ending in "exit=N".
  local function session(steps)
    local script = require("cjson").encode(steps)
    return support.sh(("HOME=%s /usr/bin/python3 tests/pty_session.py %s %s repl"):format(
      support.quote(scratch), support.quote(script), support.quote(support.bin))).out
  end

  it("takes UTF-8 typed at the prompt whole", function()
    local transcript = session {
      { "expect", "runbook> " }, { "editing" }, { "send", '=#"é" .. "|Grüße"\r' },
      { "expect", "Grüße" }, { "expect", "runbook> " }, { "editing" }, { "send", "\4" },
    }
    assert.not_matches("timeout waiting", transcript)
    assert.matches('"2|Grüße"', transcript)
    assert.matches("exit=0\n$", transcript)
  end)

  it("completes with Tab: a lazy primitive's function, a module name inside require", function()
    local transcript = session {
      { "expect", "runbook> " }, { "editing" }, { "send", "=type(dns.qu\t)\r" },
      { "expect", '"function"' }, { "expect", "runbook> " }, { "editing" },
      { "send", "=type(require 'runbook.ss\t')\r" },
      { "expect", '"table"' }, { "expect", "runbook> " }, { "editing" }, { "send", "\4" },
    }
    assert.not_matches("timeout waiting", transcript)
    assert.matches("exit=0\n$", transcript)
  end)

  it("drops the line at Ctrl-C, also an unfinished statement, and leaves at Ctrl-D", function()
    local transcript = session {
      { "expect", "runbook> " }, { "editing" }, { "send", "\3" },                   -- idle prompt
      { "expect", "runbook> " }, { "editing" }, { "send", "function f()\r" },
      { "expect", ">> " }, { "editing" }, { "send", "\3" },             -- unfinished statement
      { "expect", "runbook> " }, { "editing" }, { "send", "=f == nil, 6 * 7\r" },
      { "expect", "42" }, { "expect", "runbook> " }, { "editing" }, { "send", "\4" },
    }
    assert.not_matches("timeout waiting", transcript)
    assert.matches("true\r?\n42\r?\n", transcript)
    assert.matches("exit=0\n$", transcript)
  end)
end)

describe("repl completion", function()
  local repl = require "runbook.repl"
  local saved_meta
  setup(function()
    _G.task = require "runbook.task"
    saved_meta = getmetatable(_G)
    package.preload["runbook.widget"] = function()
      return { gather = 1, greet = function() end }
    end
    repl.install_primitives(_G)
  end)
  teardown(function()
    _G.task, _G.widget, _G.ssh = nil, nil, nil
    package.preload["runbook.widget"] = nil
    setmetatable(_G, saved_meta)
  end)

  it("completes a primitive's name and functions before it was ever loaded", function()
    assert.is_nil(rawget(_G, "widget"))
    assert.same({ "widget" }, repl.complete("widg"))
    assert.same({ "widget.gather", "widget.greet" }, repl.complete("widget.g"))
  end)

  it("offers the primitives loaded on first use (runbook/NAME.so) as globals", function()
    assert.same({ "ssh" }, repl.complete("ss"))
    assert.equal(require "runbook.ssh", _G.ssh)
  end)

  local module_cases = {
    { 'x = require "', "runbook.ta", "runbook.task" },          -- the modules/ tree
    { "require('", "runbook.ss", "runbook.ssh" },              -- a .so loaded on first use
    { "require '", "dns.prov", "dns.provider" },               -- a subdirectory of modules/
    { "require ( \"", "runbook.wid", "runbook.widget" },       -- package.preload
  }
  for _, case in ipairs(module_cases) do
    it("completes module names after " .. case[1], function()
      local found = repl.complete(case[2], case[1])
      assert.is_true(#found > 0)
      assert.equal(case[3], found[1])
      for _, name in ipairs(found) do assert.equal(case[2], name:sub(1, #case[2])) end
    end)
  end

  it("does not complete module names outside a require", function()
    assert.same({}, repl.complete("runbook.ss", "x = "))
  end)

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

describe("the REPL's help and the helpers' arguments, on a terminal", function()
  local scratch
  before_each(function() scratch = support.tmpdir() end)
  after_each(function() os.execute("rm -rf " .. support.quote(scratch)) end)

  -- The embedded lab's helpers (no -i): typed through a pseudo-terminal as an operator would.
  local function session(lines, options)
    local steps = { { "expect", "runbook> " } }
    for _, line in ipairs(lines) do
      steps[#steps + 1] = { "editing" }
      steps[#steps + 1] = { "send", line[1] .. "\r" }
      steps[#steps + 1] = { "expect", line[2] }
      steps[#steps + 1] = { "expect", "runbook> " }
    end
    steps[#steps + 1] = { "editing" }
    steps[#steps + 1] = { "send", "\4" }
    return support.sh(("HOME=%s /usr/bin/python3 tests/pty_session.py %s %s repl %s"):format(
      support.quote(scratch), support.quote(require("cjson").encode(steps)),
      support.quote(support.bin), options or "")).out
  end

  it("`help` and `help()` list every helper with a line and an example; `help(dig)` one", function()
    local transcript = session {
      { "help", "docs/repl.md" }, { "help()", "docs/repl.md" }, { "help(dig)", "SRV\")" } }
    assert.not_matches("timeout waiting", transcript)
    assert.is_nil(transcript:find("nil", 1, true))
    local _, listed = transcript:gsub("\n  status%(%)\r?\n      route per site", "")
    assert.equal(2, listed)                       -- once for help, once for help()
    for _, call in ipairs { "dig%(name %[, type%]%)", "port%(host, port", "probe%(%[domain%]%)",
                            "ps%(server, script%)" } do
      assert.matches("\n  " .. call .. "[^\n]*\r?\n      [^\n]+\r?\n      e%.g%. ", transcript)
    end
    assert.matches("help%(dig%)\r?\ndig%(name %[, type%]%)\r?\n  a name's records[^\n]*\r?\n"
      .. '  e%.g%. dig%("_xmpp%-server%._tcp%.contoso%.com", "SRV"%)', transcript)
    assert.matches("exit=0\n$", transcript)
  end)

  it("says in one line what a helper expected, without a traceback", function()
    local transcript = session {
      { "dig()", "e.g." }, { 'port("xmpp.contoso.com")', "e.g." },
      { 'port("xmpp.contoso.com", "5269")', "e.g." }, { 'ps("fe1.contoso.com")', "e.g." } }
    assert.not_matches("timeout waiting", transcript)
    assert.matches("runbook: dig%(name %[, type%]%): expected a name, got nothing — e%.g%. dig%(",
      transcript)
    assert.matches("runbook: port%(host, port %[, {from = \"inside\"}%]%): expected a port number "
      .. "%(1%-65535%) after the host, got nothing — e%.g%. port%(\"xmpp%.contoso%.com\", 5269%)",
      transcript)
    assert.matches('expected a port number %(1%-65535%) after the host, got "5269"', transcript)
    assert.matches("runbook: ps%(server, script%): expected a PowerShell expression", transcript)
    assert.is_nil(transcript:find("traceback", 1, true))
    assert.is_nil(transcript:find("  at ", 1, true))
    assert.is_nil(transcript:find("diagnostics.lua", 1, true))
  end)

  it("speaks the language --lang chooses: help, what a helper expected, status()", function()
    local function typed(lang, lines)
      return support.sh(("cd %s && printf %%s %s | HOME=%s %s repl --lang %s 2>&1"):format(
        support.quote(support.root or "."), support.quote(table.concat(lines, "\n") .. "\n"),
        support.quote(scratch), support.quote(support.bin), lang)).out
    end
    local german = typed("de", { "help()", "help(42)", "dig(5)", "s = status()" })
    assert.matches("Inventar [^\n]*lab%.lua: status%(%), dig%(name %[, type%]%), [^\n]*; help%(%) "
      .. "sagt mehr", german)
    assert.matches("Helfer für den Störfall mit lab%.lua", german)
    assert.matches("\n  dig%(name %[, type%]%)\n      die Einträge eines Namens[^\n]*\n      "
      .. 'z%. B%. dig%("_xmpp', german)
    assert.matches("keine Hilfe zu 42: help%(%) listet die Helfer", german)
    assert.matches("dig%(name %[, type%]%): erwartet einen Namen, erhalten number 5 — z%. B%. ",
      german)
    assert.matches("Route der XMPP%-Verbundfunktion %(%-XmppFederationRoute%)\n  Site1 ", german)
    assert.matches("\nEdge%-Dienste\n", german)
    assert.not_matches("route per site", german)
    local french = typed("fr", { 'port("xmpp.contoso.com")', "help(ps)" })
    assert.matches("port%(host, port [^\n]*%) : attendu un numéro de port %(1%-65535%) après "
      .. "l’hôte, reçu rien — p%. ex%. port%(", french)
    assert.matches("une expression PowerShell %(une lecture%) sur un serveur de l’inventaire",
      french)
    local transcript = session({ { "help(42)", "pas d’aide pour 42" } }, "--lang fr")
    assert.matches("runbook repl : Lua 5%.4 dans la boucle d’événements[^\n]*\r?\n=expression "
      .. "affiche une valeur, [^\n]*Ctrl%-D quitte%.", transcript)
    assert.matches("exit=0\n$", transcript)
  end)

  it("resolves a name for port() through the inventory's DNS", function()
    local transcript = session { { '=port("xmpp.contoso.com", 5269).address', '"198.51.100.10"' } }
    assert.not_matches("timeout waiting", transcript)
    assert.matches("xmpp%.contoso%.com:5269 from the simulated Internet: open", transcript)
  end)
end)
