-- luacheck configuration (`make lint`, run by `make test`). Lua 5.4 everywhere; the specs
-- also see busted's globals. Lines at most 100 columns, as docs/style.md says.
std = "lua54"
max_line_length = 100
codes = true
self = false                  -- methods may ignore self
ignore = { "21./_.*" }        -- a leading underscore: unused on purpose (a <close> guard)

-- Runbooks and inventories are Lua files the tool loads in a sandbox whose globals it
-- provides (docs/writing-runbooks.md).
files["runbooks/"] = { globals = { "runbook" } }
files["examples/"] = { globals = { "runbook" } }

files["tests/"] = { std = "+busted", max_line_length = 120 } -- long expected strings
files["tests/fixtures/"] = { only = {} } -- deliberately broken trees for the checkers
