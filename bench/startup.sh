#!/bin/sh
# bench/startup.sh — start-up time and peak memory of `runbook version` and of running an
# empty runbook, against `lua5.4 -e ''` measured in the same run. Prints a Markdown table.
set -eu
cd "$(dirname "$0")/.."
runs=${RUNS:-200}
empty=$(mktemp /tmp/runbook-bench.XXXXXX.lua)
results=$(mktemp /tmp/runbook-bench.XXXXXX.json)   # one per run: runs may overlap
trap 'rm -f "$empty" "$results"' EXIT

# peak resident memory in KiB, the largest of 5 runs
peak_kib() {
  max=0
  for _ in 1 2 3 4 5; do
    kib=$(/usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1)
    [ "$kib" -gt "$max" ] && max=$kib
  done
  echo "$max"
}

hyperfine -N --warmup 20 --runs "$runs" --export-json "$results" \
  "lua5.4 -e ''" "./runbook version" "./runbook run $empty" >/dev/null

lua5.4 - "$results" "$(peak_kib lua5.4 -e '')" "$(peak_kib ./runbook version)" \
  "$(peak_kib ./runbook run "$empty")" <<'LUA'
local cjson = require "cjson"
local file = assert(io.open(arg[1]))
local results = cjson.decode(file:read("a")).results
file:close()
local peaks = { tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4]) }
local base = results[1].median
print("| command | median start-up | ratio to lua5.4 | peak RSS | ratio to lua5.4 |")
print("|---|---|---|---|---|")
for i, r in ipairs(results) do
  print(("| `%s` | %.2f ms | %.2f× | %.1f MB | %.2f× |"):format(
    r.command:gsub("/tmp/runbook%-bench%.%w+%.lua", "empty.lua"), r.median * 1000,
    r.median / base, peaks[i] / 1024, peaks[i] / peaks[1]))
end
LUA
