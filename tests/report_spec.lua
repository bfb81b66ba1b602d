-- `runbook report JOURNAL` (modules/runbook/report.lua, report_page.lua, report_timeline.lua):
-- journals of a finished failover, a failed one rolled back and one killed half-way, each
-- made into a page that headless Chromium (Debian's `chromium`) renders inside a network
-- namespace with only loopback, so that whatever the browser asks for in the background
-- goes nowhere. The rendered DOM is checked for every step and host; a screenshot of each
-- is kept in build/report-*.png for a person to look at.
local support = require "support"
local quote = support.quote

local CHROMIUM = "/usr/bin/chromium"
local scratch
before_each(function() scratch = support.tmpdir() end)
after_each(function() os.execute("rm -rf " .. quote(scratch)) end)

local function runbook(args) return support.on_lab(scratch, args) end

local function report(journal, args)
  return support.sh(("%s report %s %s"):format(quote(support.bin), args or "", quote(journal)))
end

local function the_journal()
  local names = require("runbook.fs").list(scratch .. "/state")
  for _, name in ipairs(names) do
    if name:match("%.jsonl$") then return scratch .. "/state/" .. name end
  end
end

-- The page as headless Chromium renders it (its DOM), with only loopback up; a screenshot
-- into build/report-NAME.png.
local function render(page, name)
  local shot = support.root .. "/build/report-" .. name .. ".png"
  os.remove(shot)
  local r = support.sh(("unshare -n sh -c %s"):format(quote(([[
    ip link set lo up
    %s --headless --no-sandbox --disable-gpu --user-data-dir=%s --window-size=1100,2600 \
      --screenshot=%s --dump-dom file://%s 2>/dev/null]]):format(CHROMIUM,
    quote(scratch .. "/profile"), quote(shot), page))))
  return r.out, shot
end

local function assert_png(shot)
  local file = assert(io.open(shot, "rb"), "no screenshot " .. shot)
  local bytes = file:read("a")
  file:close()
  assert.equal("\137PNG", bytes:sub(1, 4))
  assert.is_true(#bytes > 50000, "a screenshot of a whole page")
end

local STEPS = { "The Edge pool that will host XMPP federation is deployed",
  "Stop-CsWindowsService on every Edge server of the new pool",
  "The Central Management Store has replicated the new route to the Edge servers",
  "XMPP federation answers on the new Edge pool" }

-- What every page must hold: each step's title, the hosts, the timeline's rows.
local function assert_complete(dom)
  for _, title in ipairs(STEPS) do assert.truthy(dom:find(title, 1, true), title) end
  for _, host in ipairs { "edge2a.contoso.com", "edge2b.contoso.com" } do
    assert.truthy(dom:find("stop-services @ " .. host, 1, true), host .. " in the timeline")
  end
  assert.matches("<svg[^>]*class=\"timeline\"", dom)
  assert.matches("/examples/lab%.lua", dom)
  -- self-contained: nothing to fetch, nothing to run
  for _, outside in ipairs { "<script", "src=", "href=", "url%(", "@import", "https?://[^w]" } do
    assert.is_nil(dom:find(outside), outside)
  end
end

describe("runbook report", function()
  it("renders a finished failover: every step, host, the evidence of the final check", function()
    assert.equal(0, runbook("run --yes -q xmpp-failover").code)
    local page = scratch .. "/done.html"
    local r = report(the_journal(), "-o " .. quote(page))
    assert.equal(0, r.code, r.err)
    local dom, shot = render(page, "done")
    assert_complete(dom)
    assert.matches("<th>Result</th><td>done</td>", dom)
    assert.matches("federation answers: contoso%.com → 203%.0%.113%.10:5269 open", dom)
    assert.matches("xmpp%.contoso%.com A 198%.51%.100%.10</td><td>xmpp%.contoso%.com A "
      .. "203%.0%.113%.10</td><td>changed</td>", dom)
    assert_png(shot)
  end)

  it("renders a failed run rolled back, in German: the failure, each rollback", function()
    assert.equal(1, runbook("run --yes -q --lang de --rollback auto "
      .. "--set lab.fault=stuck-replication "
      .. "--set replication_timeout=2 xmpp-failover").code)
    local page = scratch .. "/failed.html"
    assert.equal(0, report(the_journal(), "--lang de -o " .. quote(page)).code)
    local dom, shot = render(page, "rolled-back")
    assert.matches("fehlgeschlagen, zurückgesetzt %(cms%-replication%)", dom)
    assert.matches("CMS replication to edge2a%.contoso%.com not up to date within 2 s", dom)
    assert.matches("<td>stop%-services</td><td>edge2a%.contoso%.com</td><td>"
      .. "wiederhergestellt</td>", dom)
    assert.matches("Zeitachse: Schritte × Hosts", dom)
    assert.matches("CMS%-Replikation: 1/2 Edge%-Server", dom)   -- the wait, as it ended
    assert.truthy(dom:find("Stop-CsWindowsService auf jedem Edgeserver", 1, true))
    assert_png(shot)
  end)

  it("renders a run killed half-way: the change begun without an outcome, what is left", function()
    local crash = support.crash_hook(scratch, "dns-a-record")
    assert.equal(137, runbook("run --yes -q " .. quote(crash)).code)
    local page = scratch .. "/killed.html"
    assert.equal(0, report(the_journal(), "-o " .. quote(page)).code)
    local dom, shot = render(page, "interrupted")
    assert_complete(dom)
    assert.matches("ended without a record %(killed%?%)", dom)
    assert.matches("begun, no outcome recorded %(interrupted%)", dom)
    assert.matches("<td>dns%-a%-record %(half%-done%)</td>", dom)
    assert.matches("<td>federation%-route</td>", dom)
    assert_png(shot)
  end)

  it("writes Markdown for a change ticket with --format md", function()
    assert.equal(0, runbook("run --yes -q xmpp-failover").code)
    local r = report(the_journal(), "--format md")
    assert.equal(0, r.code, r.err)
    assert.matches("^# Run report: xmpp%-failover\n", r.out)
    assert.matches("\n| %d+%. Stop%-CsWindowsService on every Edge server of the new pool | "
      .. "edge2a%.contoso%.com | [^|]+ | Stopped", r.out)
    assert.matches("\n## Final verification\n%d+%. XMPP federation answers", r.out)
  end)

  it("refuses what is no journal (exit 2) and a --format it does not know", function()
    local path = support.write(scratch .. "/x.jsonl", "not json\n")
    assert.equal(2, report(path).code)
    assert.equal(2, report(path, "--format pdf").code)
  end)
end)
