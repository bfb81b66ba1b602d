--- runbook.host — facts about the host. Inside ./runbook the binary provides this table
-- itself (runtime/host.c); this file serves lua5.4 and busted, which load the modules
-- straight from the source tree: the data directory is two levels above this file.
local source = debug.getinfo(1, "S").source:match("^@(.*)$") or ""
local dir = source:match("^(.*)/modules/runbook/host%.lua$") or "."

return { datadir = dir, verbose = false }
