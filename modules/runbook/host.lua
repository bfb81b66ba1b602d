--- runbook.host — facts about the host. Inside ./runbook the binary provides this table
-- itself (runtime/host.c); this file serves lua5.4 and busted. From the source tree the data
-- directory is two levels above this file and the documents are in its docs/; `make
-- install` writes the installed directories below.
local installed_datadir = nil
local installed_docdir = nil
local source = debug.getinfo(1, "S").source:match("^@(.*)$") or ""
local tree = source:match("^(.*)/modules/runbook/host%.lua$")
local dir = tree or installed_datadir or "."

return { datadir = dir, docdir = tree and tree .. "/docs" or installed_docdir or "docs",
         verbose = false }
