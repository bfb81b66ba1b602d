--- helpers.embedded — what the specs of the shipped runbooks against the embedded lab share:
-- a scratch directory per test whose lab/ keeps the lab's Lync state and zone (the lab's
-- lab.state_dir), `runbook` run with them, and readers of that state.
--
--   local e = require("helpers.embedded").use()
--   before_each(e.fresh); after_each(e.clean)     -- (busted's hooks live in the spec's env)
--   e.runbook(args [, env]) -> {out=, err=, code=}
--   e.site_route(site), e.services(computer), e.a_record(), e.journal_events(),
--   e.assert_failed_over(), e.zone_now(), e.records_of(version), e.lync_state()
--   e.scratch, e.lab_dir                           -- this test's directories
local assert = require "luassert"   -- busted's assert, as the specs have it
local cjson = require "cjson"
local support = require "support"
local quote, slurp = support.quote, support.slurp

local M = {}

--- use() -> e: the helpers, with e.fresh and e.clean for busted's before_each/after_each.
function M.use()
  local e = {}

  function e.fresh()
    e.scratch = support.tmpdir()
    e.lab_dir = e.scratch .. "/lab"
    os.execute("mkdir -p " .. quote(e.lab_dir))
  end

  function e.clean() os.execute("rm -rf " .. quote(e.scratch)) end

  function e.runbook(args, env)
    return support.sh(("cd / && RUNBOOK_STATE_DIR=%s %s %s %s --set lab.state_dir=%s"):format(
      quote(e.scratch .. "/state"), env or "", quote(support.bin), args, quote(e.lab_dir)))
  end

  function e.lync_state() return cjson.decode(slurp(e.lab_dir .. "/lync-state.json")) end

  function e.site_route(site)
    for _, s in ipairs(e.lync_state().sites) do
      if s.Identity == "Site:" .. site then return s.route end
    end
  end

  function e.services(computer)
    local map = {}
    for _, service in ipairs(e.lync_state().services[computer]) do
      map[service.Name] = service.Status
    end
    return map
  end

  function e.a_record()
    local zone = cjson.decode(slurp(e.lab_dir .. "/dns-zone.json"))
    return zone.versions[#zone.versions]["xmpp.contoso.com A"][1].address
  end

  function e.journal_events()
    local events = {}
    for _, name in ipairs(require("runbook.fs").list(e.scratch .. "/state") or {}) do
      if name:match("%.jsonl$") then
        for line in slurp(e.scratch .. "/state/" .. name):gmatch("[^\n]+") do
          events[#events + 1] = cjson.decode(line)
        end
      end
    end
    return events
  end

  function e.assert_failed_over()
    assert.equal("EdgeServer:edgepool2.contoso.com", e.site_route("Site2"))
    assert.equal("203.0.113.10", e.a_record())
    for _, edge in ipairs { "edge2a.contoso.com", "edge2b.contoso.com" } do
      for name, status in pairs(e.services(edge)) do
        assert.equal("Running", status, edge .. " " .. name)
      end
    end
  end

  -- The zone's newest version and its first.
  function e.zone_now()
    local zone = cjson.decode(slurp(e.lab_dir .. "/dns-zone.json"))
    return zone.versions[#zone.versions], zone.versions[1]
  end

  -- The records of a zone version, without what a provider adds (ttl order, name case).
  function e.records_of(version)
    local seen = {}
    for key, records in pairs(version) do
      local list = {}
      for i, r in ipairs(records) do
        list[i] = r.address or ("%d %d %d %s"):format(r.priority, r.weight, r.port, r.target)
      end
      table.sort(list)
      seen[key] = table.concat(list, ", ")
    end
    return seen
  end

  return e
end

return M
