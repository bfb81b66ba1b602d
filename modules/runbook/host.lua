--- runbook.host — facts about the host. Inside ./runbook the binary provides this table
-- itself (runtime/host.c); this file serves lua5.4 and busted. From the source tree the data
-- directory is two levels above this file; `make install` writes the installed one below.
local installed_datadir = nil
local source = debug.getinfo(1, "S").source:match("^@(.*)$") or ""
local dir = source:match("^(.*)/modules/runbook/host%.lua$") or installed_datadir or "."

return { datadir = dir, verbose = false }
