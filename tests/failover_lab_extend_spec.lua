-- Organizations extend the shipped failover without copying it: examples/custom-failover.lua,
-- the example of docs/writing-runbooks.md, a check on a precondition step. Against the
-- embedded lab; set-up in tests/helpers/embedded.lua.
local cjson = require "cjson"
local support = require "support"
local quote, slurp = support.quote, support.slurp
local e = require("helpers.embedded").use()
before_each(e.fresh)
after_each(e.clean)
local runbook, site_route = e.runbook, e.site_route
local services, a_record, assert_failed_over = e.services, e.a_record, e.assert_failed_over

describe("examples/custom-failover.lua", function()
  local book = quote(support.root .. "/examples/custom-failover.lua")

  it("adds the change-ticket check and the notification around the shipped steps, and "
    .. "changes nothing the second time", function()
    local notes = e.scratch .. "/notes"
    local r = runbook("run --yes --set notify_file=" .. quote(notes) .. " " .. book)
    assert.equal(1, r.code)
    assert.matches("open a change ticket", r.out)
    local args = ("run --yes --set ticket=CHG-4711 --set notify_file=%s %s"):format(
      quote(notes), book)
    r = runbook(args)
    assert.equal(0, r.code, r.out)
    assert.matches("%[12/12%] Tell the service desk", r.out)
    assert.equal("CHG-4711: XMPP federation now on edgepool2.contoso.com\n", slurp(notes))
    assert_failed_over()
    r = runbook(args)
    assert.equal(0, r.code, r.out)
    assert.matches("nothing to change", r.out)
    assert.equal("CHG-4711: XMPP federation now on edgepool2.contoso.com\n", slurp(notes))
  end)

  it("asks for the file the service desk reads", function()
    local r = runbook("check --set ticket=CHG-4711 " .. book)
    assert.equal(2, r.code)
    assert.matches("notify_file", r.err)
  end)

  it("gives its change-ticket guidance in German and French", function()
    local cases = { { "de", "öffnen Sie ein Change%-Ticket und übergeben Sie es mit %-%-set ticket=" },
                    { "fr", "ouvrez un ticket de changement et indiquez%-le avec %-%-set ticket=" } }
    for _, case in ipairs(cases) do
      local r = runbook(("plan --lang %s --set notify_file=%s %s"):format(case[1],
        quote(e.scratch .. "/notes"), book))
      assert.equal(1, r.code, r.err)
      assert.matches(case[2], r.out)
    end
  end)

  it("still works when the shipped runbook gains a step", function()
    -- the next release of xmpp-failover: a copy of today's with a step more, on RUNBOOK_PATH
    local release, marker = e.scratch .. "/release", e.scratch .. "/announced"
    os.execute("mkdir -p " .. quote(release))
    os.execute(("cp %s %s/"):format(quote(support.root .. "/runbooks/xmpp-federation.titles.lua"),
                                    quote(release)))        -- its German and French titles
    local text = slurp(support.root .. "/runbooks/xmpp-failover.lua")
    local copy, found = text:gsub("\nreturn runbook%.define {",
      "\nlocal shipped = runbook.define {", 1)
    assert.equal(1, found, "runbooks/xmpp-failover.lua no longer returns runbook.define { … }")
    support.write(release .. "/xmpp-failover.lua", copy .. ([[
      table.insert(shipped.steps, shipped:index_of("stop-services"), {
        id = "announce-maintenance", title = "Announce the maintenance window",
        check = function() return io.open(%q) ~= nil, "not announced", "announced" end,
        run = function() assert(io.open(%q, "w")):close() end })
      return shipped
    ]]):format(marker, marker))
    local notes = e.scratch .. "/notes"
    local r = runbook(("run --yes --set ticket=CHG-4711 --set notify_file=%s %s"):format(
      quote(notes), book), "RUNBOOK_PATH=" .. quote(release))
    assert.equal(0, r.code, r.out .. r.err)
    assert.matches("%[3/13%] Announce the maintenance window", r.out)
    assert.matches("%[4/13%] A change ticket authorises the failover", r.out)
    assert.matches("%[13/13%] Tell the service desk", r.out)
    assert.truthy(io.open(marker), "the shipped runbook's new step ran")
    assert.equal("CHG-4711: XMPP federation now on edgepool2.contoso.com\n", slurp(notes))
    assert_failed_over()
  end)
end)

describe("docs/writing-runbooks.md's extension example", function()
  local function example()
    local page = slurp(support.root .. "/docs/writing-runbooks.md")
    local code = assert(page:match("```lua\n(%-%-%- Contoso's failover.-)```"),
      "docs/writing-runbooks.md has no example extending xmpp-failover")
    return support.write(e.scratch .. "/contoso-failover.lua", code)
  end

  it("runs as written: fails over, pages once, and declares its parameters", function()
    local book, pager = quote(example()), e.scratch .. "/pager.log"
    local args = ("run --yes --set ticket=CHG-1234 --set pager_file=%s %s"):format(
      quote(pager), book)
    local r = runbook(args)
    assert.equal(0, r.code, r.out .. r.err)
    assert.matches("A change ticket is open", r.out)
    assert.equal("CHG-1234: XMPP federation moved to edgepool2.contoso.com\n", slurp(pager))
    assert_failed_over()
    r = runbook(args)
    assert.matches("nothing to change", r.out)
    r = runbook("check --set ticket=4711 --set pager_file=x " .. book)
    assert.equal(2, r.code)
    assert.matches("ticket", r.err)
  end)

  it("holds the A record back when its before check fails", function()
    local r = runbook(("run --yes --rollback never --set ticket=CHG-1234 --set pager_file=%s "
      .. "--set public_ip=192.0.2.77 %s"):format(quote(e.scratch .. "/pager.log"), quote(example())))
    assert.equal(1, r.code)
    assert.matches("192%.0%.2%.77 is not in our public network 203%.0%.113%.0/24", r.out)
    assert.equal("198.51.100.10", a_record())
    for _, version in ipairs(cjson.decode(slurp(e.lab_dir .. "/dns-zone.json")).versions) do
      assert.equal("198.51.100.10", version["xmpp.contoso.com A"][1].address)  -- never written
    end
  end)
end)

describe("an organization's check on a precondition step", function()
  local function custom(before)
    return quote(support.write(e.scratch .. "/custom.lua", ([[
      local failover = require("runbook").extend "xmpp-failover"
      failover:add_check("port-5269", { before = function(ctx) %s end })
      return failover
    ]]):format(before)))
  end

  local function summary_of(out)
    for line in out:gmatch("[^\n]+") do
      local event = cjson.decode(line)
      if event.event == "summary" then return event end
    end
  end

  it("keeps it a precondition: a filtered port 5269 still stops the run there", function()
    local r = runbook("run --yes --json --rollback auto --set lab.fault=filtered-port "
      .. custom("return true"))
    assert.equal(1, r.code)
    local summary = summary_of(r.out)
    assert.equal("port-5269", summary.step)
    assert.matches("filtered", summary.error)
    assert.is_nil(site_route("Site2"))
    for name, status in pairs(services("edge2a.contoso.com")) do
      assert.equal("Running", status, name)
    end
  end)

  it("stops the run there when the organization's check does not hold", function()
    local r = runbook("run --yes --json --rollback never "
      .. custom('return false, "the firewall team has not signed off"'))
    assert.equal(1, r.code)
    local summary = summary_of(r.out)
    assert.equal("port-5269", summary.step)
    assert.matches("the firewall team has not signed off", summary.error)
    assert.equal("Stopped", services("edge2a.contoso.com").RTCSRV)   -- step 8 never ran
  end)
end)
