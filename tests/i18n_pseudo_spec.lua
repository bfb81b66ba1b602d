-- Every word in the operator's language: the embedded lab's failover, failed runs rolled
-- back and the readiness audit, run in the pseudo-language (RUNBOOK_PSEUDO_LOCALE=1,
-- modules/runbook/i18n.lua). It shows every catalogue text between ⟦ and ⟧ and leaves the
-- arguments outside, so a word of English left on a line is a text that bypassed the
-- catalogues, which German and French operators would read in English.
local support = require "support"
local quote = support.quote

-- Words that stay as they are in every language: identifiers the operator types or reads in
-- Windows' own output, not text of ours.
local IDENTIFIERS = {
  Running = "a Windows service's Status, as Get-CsWindowsService prints it",
  Stopped = "a Windows service's Status, as Get-CsWindowsService prints it",
  sim = "the embedded lab's label ([sim]) on every line",
  dialback = "the XMPP feature the server offers (XEP-0220), as the stream names it",
  planned = "a value of --set mode (mode=planned), as the operator types it",
  runbook = "the program's name, before each of its messages on stderr",
}
-- Lua's type names, as type() gives them: what a REPL helper was given instead ("got number 5")
for word in ("number boolean table function userdata thread"):gmatch("%a+") do
  IDENTIFIERS[word] = "a Lua type, as type() names it"
end
-- The port states and failure causes docs/verification.md and docs/troubleshooting.md list
-- (as port scanners print them), and the stages of the XMPP probe: fixed words to compare.
for word in ("open closed filtered unreachable unknown timeout refused resolve connect stream "
             .. "starttls tls certificate features"):gmatch("%a+") do
  IDENTIFIERS[word] = "a port state, failure cause or probe stage"
end
-- Names of products, as Get-CsServerVersion prints them.
local PRODUCTS = { "Skype for Business Server", "Lync Server" }

-- The words of a line that no catalogue marked and that are no identifier: a line with
-- only ⟦marked⟧ text, arguments that are data (names, addresses, records, cmdlets,
-- parameters, statuses, numbers) and quotations the catalogue opens and closes (what a
-- server said, ⟪…⟫: i18n.verbatim) has none.
local function unmarked_words(line)
  line = line:gsub("⟦.-⟧", " "):gsub("⟪.-⟫", " ")
  for _, product in ipairs(PRODUCTS) do line = line:gsub(product, " ") end
  local words = {}
  for token in line:gmatch("[^%s,;()%[%]{}\"'’…—→↶✓✗~|]+") do
    token = token:gsub("[.:!?]+$", "")                      -- the end of a sentence
    local technical = token:find("[%d%.:/\\@=_<>%%#*$]")      -- addresses, names, records
      or token:find("^%-")                                    -- a parameter: -Identity
      or token:find("%a%-%a")                                 -- an id: dns-a-record
      or token:find("^%u%u+s?$")                              -- an acronym: XMPP, SRV, CMS
      or token:find("^%u%l+%u")                               -- an enum: PermissionDenied
      or IDENTIFIERS[token]
    if not technical and token:find("%a%a") then words[#words + 1] = token end
  end
  return words
end

-- The lines of output that carry unmarked words, each with them.
local function offenders(output)
  local found = {}
  for line in output:gmatch("[^\n]+") do
    local words = unmarked_words(line)
    if #words > 0 then
      found[#found + 1] = ("[%s] %s"):format(table.concat(words, " "), line)
    end
  end
  return found
end

describe("the pseudo-language check", function()
  it("finds the English words a line carries outside the marks", function()
    assert.same({}, unmarked_words("[sim] ⟦rolled back⟧⟦: ⟧federation-route @ edge2a.x.com ✓"))
    assert.same({}, unmarked_words("⟦failed: ⟧⟪Access is denied.⟫⟦ (⟧PermissionDenied⟦)⟧"))
    assert.same({}, unmarked_words("edge2a.contoso.com: RTCSRV=Running → Stopped"))
    assert.same({ "all", "now" }, unmarked_words("⟦checked⟧⟦: ⟧all Running now"))
    assert.same({ "Access", "is", "denied" }, unmarked_words("⟦failed: ⟧Access is denied."))
  end)
end)

describe("every word of the embedded lab in the operator's language", function()
  local scratch

  before_each(function() scratch = support.tmpdir() end)
  after_each(function() os.execute("rm -rf " .. quote(scratch)) end)

  -- runbook ARGS against the embedded lab in the pseudo-language: stdout and stderr
  local function pseudo(args)
    os.execute("mkdir -p " .. quote(scratch .. "/lab"))
    local r = support.sh(("cd / && RUNBOOK_PSEUDO_LOCALE=1 RUNBOOK_STATE_DIR=%s %s %s "
      .. "--set lab.state_dir=%s"):format(quote(scratch .. "/state"), quote(support.bin), args,
      quote(scratch .. "/lab")))
    r.all = r.out .. r.err
    return r
  end

  local function assert_marked(r)
    assert.is_true(#r.all > 0)
    assert.same({}, offenders(r.all), r.all)
  end

  it("in the failover, plan and run", function()
    local r = pseudo("run xmpp-failover.lua --yes")
    assert.equal(0, r.code, r.all)
    assert.matches("⟦all steps done⟧", r.all)
    assert_marked(r)
  end)

  -- failed runs, each rolled back: a service that does not start, a DNS update refused,
  -- Set-CsSite refused, and planned mode (the old pool's XMPP proxy) failing at the end
  local failures = {
    "--set lab.fail_call=Start-CsWindowsService@edge2b.contoso.com#1",
    "--set lab.fail_update=2",
    "--set lab.fault=access-denied",
    "--set mode=planned --set lab.fail_call=Start-CsWindowsService#1",
  }
  for _, settings in ipairs(failures) do
    it("in a failed failover rolled back: " .. settings, function()
      local r = pseudo("run xmpp-failover.lua --yes --rollback auto " .. settings)
      assert.equal(1, r.code, r.all)
      assert.matches("⟦rolling back⟧", r.all)
      assert_marked(r)
    end)
  end

  -- runs stopped before any change: a server that does not answer, one with no service, no
  -- XMPP partner
  for _, fault in ipairs { "unreachable-edge", "no-services", "no-xmpp-partner" } do
    it("in a failover a check stops: " .. fault, function()
      local r = pseudo("run xmpp-failover.lua --yes --set lab.fault=" .. fault)
      assert.is_true(r.code == 1 or r.code == 5, r.all)      -- a check, or preflight
      assert.matches("⟦cannot proceed⟧", r.all)
      assert_marked(r)
    end)
  end

  -- The REPL's words: its notes, help(), one helper's help, status() and calls a helper
  -- does not take. What the operator types is code in every language and is left out: each
  -- helper's call and example (diagnostics.HELP), and the primitives' module names.
  it("in the REPL: help, what a helper expected, status()", function()
    local lines = { "help()", "help(ps)", "help(42)", "s = status()", 'dig("x", 5)',
                    'port("xmpp.contoso.com")', 'ps("fe1.contoso.com")', "probe(1)" }
    local r = support.sh(("cd / && printf %%s %s | RUNBOOK_PSEUDO_LOCALE=1 HOME=%s %s repl 2>&1")
      :format(quote(table.concat(lines, "\n") .. "\n"), quote(scratch), quote(support.bin)))
    assert.equal(0, r.code, r.out)
    assert.matches("⟦Primitives", r.out)
    local text = r.out:gsub("(⟦Primitives[^\n]*\n)[^\n]*\n", "%1")
    for _, entry in ipairs(require("diagnostics").HELP) do
      for _, code in ipairs { entry.example, entry.usage } do
        text = text:gsub(code:gsub("%p", "%%%0"), " ")
      end
    end
    assert.same({}, offenders(text), r.out)
  end)

  local audits = { "", "--set lab.fault=expired-certificate", "--set lab.fault=no-xmpp-partner",
                   "--set lab.fault=filtered-port", "--set lab.fault=sfb-2019" }
  for _, settings in ipairs(audits) do
    it("in the readiness audit " .. settings, function()
      local r = pseudo("plan xmpp-dr-readiness.lua " .. settings)
      assert.is_true(r.code == 0 or r.code == 1, r.all)
      assert_marked(r)
    end)
  end
end)
