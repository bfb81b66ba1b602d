-- Progress of waits (modules/runbook/progress.lua, shown by modules/runbook/output.lua): CMS
-- replication, DNS propagation per authoritative server and services per host say how far
-- they are once they have waited a second — a live line on a terminal, lines now and then
-- otherwise, "progress" events with --json. Through the binary, against the embedded lab.
local cjson = require "cjson"
local support = require "support"
local quote = support.quote

local BOOKS = support.root .. "/tests/fixtures/books"
local scratch
before_each(function() scratch = support.tmpdir() end)
after_each(function() os.execute("rm -rf " .. quote(scratch)) end)

local function runbook(args)
  return support.sh(("RUNBOOK_STATE_DIR=%s RUNBOOK_PATH=%s %s %s"):format(
    quote(scratch .. "/state"), quote(BOOKS), quote(support.bin), args))
end

local STUCK = "run --yes --rollback never --set lab.fault=stuck-replication "
  .. "--set replication_timeout=3 xmpp-failover"

local function count(text, pattern)
  local n = 0
  for _ in text:gmatch(pattern) do n = n + 1 end
  return n
end

describe("progress of a wait without a terminal", function()
  it("says once a second has passed how far CMS replication is, then how it ended", function()
    local r = runbook(STUCK)
    assert.equal(1, r.code)
    assert.matches("\n%[sim%]       waiting for CMS replication: 1/2 Edge servers up to date "
      .. "%(behind: edge2a%.contoso%.com%) %(1 s of 3 s%)\n", r.out)
    assert.matches("\n%[sim%]       CMS replication: 1/2 Edge servers up to date %(behind: "
      .. "edge2a%.contoso%.com%) — stopped waiting after 3 s\n", r.out)
    -- nothing moved: one line while waiting (the next would come after 10 s)
    assert.equal(1, count(r.out, "waiting for CMS replication"))
  end)

  it("sends progress events with --json, the last one finished", function()
    local r = runbook("--json " .. STUCK)
    local events = {}
    for line in r.out:gmatch("[^\n]+") do
      local event = cjson.decode(line)
      if event.event == "progress" then events[#events + 1] = event end
    end
    assert.equal(2, #events)
    local first, last = events[1], events[2]
    assert.same({ "cms-replication", "cms-replication", 1, 2, 3, "fe1.contoso.com" },
      { first.what, first.step, first.done, first.total, first.limit, first.host })
    assert.same({ "edge2a.contoso.com" }, first.behind)
    assert.is_true(first.elapsed >= 1 and first.elapsed < 2)
    assert.is_nil(first.finished)
    assert.is_true(last.finished)
    assert.is_false(last.ok)
    assert.is_true(last.elapsed >= 3)
  end)

  it("shows DNS propagation per authoritative server", function()
    local r = runbook("run --yes --set lab.fault=lagging-dns --set lab.dns_lag=400 xmpp-failover")
    assert.equal(0, r.code, r.err)
    assert.matches("waiting for xmpp%.contoso%.com A on the authoritative servers: 1/2 serve it "
      .. "%(behind: ns2 serves serial 1%) %(1 s of 300 s%)\n", r.out)
    assert.matches("xmpp%.contoso%.com A on the authoritative servers: 2/2 serve it, after %d s\n",
      r.out)
  end)

  it("shows the services of each host it waits for", function()
    local r = runbook("run --yes waits")
    assert.equal(1, r.code)
    assert.matches("waiting for the services of edge2a%.contoso%.com: 0/%d+ stopped %(REPLICA="
      .. "Running, RTCDATAPROXY=Running, [^)]*RTCSRV=Running[^)]*%) %(1 s of 2%.5 s%)\n", r.out)
  end)

  it("says nothing of a wait shorter than a second", function()
    local r = runbook("run --yes xmpp-failover")
    assert.equal(0, r.code, r.err)
    assert.is_nil(r.out:find("waiting for", 1, true))
  end)

  it("speaks the chosen language", function()
    local r = runbook("--lang de " .. STUCK)
    assert.matches("warte auf CMS%-Replikation: 1/2 Edge%-Server auf dem neuesten Stand "
      .. "%(im Rückstand: edge2a%.contoso%.com%) %(1 s von 3 s%)", r.out)
  end)
end)

describe("progress of a wait on a terminal", function()
  it("keeps one live line, redrawn each second, and ends it with the outcome", function()
    local command = ("cd %s && RUNBOOK_STATE_DIR=%s NO_COLOR=1 COLUMNS=200 exec %s %s"):format(
      quote(scratch), quote(scratch .. "/state"), quote(support.bin), STUCK)
    local transcript = support.sh(("/usr/bin/python3 tests/pty_session.py %s /bin/sh -c %s"):format(
      quote(cjson.encode { { "expect", "stopped waiting after" } }), quote(command))).out
    assert.not_matches("timeout waiting", transcript)
    local live = "\r\27%[K%[sim%] waiting for CMS replication: 1/2 Edge servers up to date "
      .. "%(behind: edge2a%.contoso%.com%) "
    assert.matches(live .. "%(1 s of 3 s%)\r\27%[K", transcript)
    assert.matches(live .. "%(2 s of 3 s%)\r\27%[K", transcript)
    -- the live line is never ended by a newline: the outcome replaces it
    assert.is_nil(transcript:find("of 3 s)\r\n", 1, true))
    assert.matches("\r\27%[K%[sim%]       CMS replication: 1/2 Edge servers up to date "
      .. "%(behind: edge2a%.contoso%.com%) — stopped waiting after 3 s\r\n", transcript)
  end)
end)
