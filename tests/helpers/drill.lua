--- helpers.drill — the set-up the engine's specs share: the fixture runbooks of
-- tests/fixtures/books (drill.lua and its customizations), a scratch directory per test
-- with the drill's state file and inventory, and `runbook` run against them.
--
--   local d = require("helpers.drill").use()   -- in a spec, then a fresh scratch per test:
--   before_each(d.fresh); after_each(d.clean)  -- (busted's hooks live in the spec's env)
--   d.drill("run --yes drill")                 -- -> {out=, err=, code=}
--   d.state(), d.journals(), d.events_of(path), d.on_terminal(script, args, env)
--   d.scratch, d.state_file, d.inventory       -- this test's paths
local cjson = require "cjson"
local support = require "support"
local quote, write, slurp = support.quote, support.write, support.slurp

local M = {}

M.BOOKS = support.root .. "/tests/fixtures/books"
M.INITIAL = { route = "edge1", services = { a = "running", b = "running", c = "running" },
              applied = { ["-"] = 0 } }

--- use() -> d: the helpers, with d.fresh and d.clean for busted's before_each/after_each.
function M.use()
  local d = {}

  function d.inventory_text(extra)
    return ([[
return {
  domain = "drill.test",
  state_file = %q,
  hosts = { "a", "b", "c" },
  new_route = "edge2",
%s}
]]):format(d.state_file, extra or "")
  end

  function d.state()
    return cjson.decode(slurp(d.state_file))
  end

  -- Runs `runbook ARGS` with the drill inventory, the fixture runbooks and a private state
  -- dir.
  function d.drill(args, env, stdin)
    return support.sh(("cd %s && RUNBOOK_STATE_DIR=%s RUNBOOK_PATH=%s %s %s %s"):format(
      quote(d.scratch), quote(d.scratch .. "/state"), quote(M.BOOKS), env or "",
      quote(support.bin), args), stdin)
  end

  function d.journals()
    local found = {}
    for _, name in ipairs(require("runbook.fs").list(d.scratch .. "/state") or {}) do
      if name:match("%.jsonl$") then found[#found + 1] = d.scratch .. "/state/" .. name end
    end
    return found
  end

  function d.events_of(path)
    local events = {}
    for line in slurp(path):gmatch("[^\n]+") do events[#events + 1] = cjson.decode(line) end
    return events
  end

  -- Runs `runbook ARGS` like drill() on a pseudo-terminal (tests/pty_session.py): script
  -- is a list of { "expect", text } and { "send", text }. Returns what the terminal showed
  -- and the exit code.
  function d.on_terminal(script, args, env)
    local r = support.sh(("cd %s && RUNBOOK_STATE_DIR=%s RUNBOOK_PATH=%s %s /usr/bin/python3 "
      .. "%s %s %s %s"):format(quote(d.scratch), quote(d.scratch .. "/state"), quote(M.BOOKS),
        env or "", quote(support.root .. "/tests/pty_session.py"), quote(cjson.encode(script)),
        quote(support.bin), args))
    return { out = r.out, code = tonumber(r.out:match("\nexit=(%d+)\n$")) }
  end

  function d.fresh()
    d.scratch = support.tmpdir()
    d.state_file = d.scratch .. "/drill-state.json"
    write(d.state_file, cjson.encode(M.INITIAL))
    d.inventory = write(d.scratch .. "/inventory.lua", d.inventory_text())
  end

  function d.clean() os.execute("rm -rf " .. quote(d.scratch)) end

  return d
end

return M
