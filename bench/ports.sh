#!/bin/sh
# bench/ports.sh — the state of 1,000 loopback ports (50 open, 950 closed) with
# bench/ports.lua (net.connect + task.parallel, runbook.so under lua5.4: `runbook run` is
# for runbooks, not scripts with arguments) against `nmap -sT` of the same
# ports, in the same run: median time (hyperfine), ratio, peak RSS (/usr/bin/time -f %M).
# Both must agree on which ports are open. Address 127.0.52.20, ports 47000-47999.
set -eu
cd "$(dirname "$0")/.."
export LUA_CPATH="$PWD/build/lib/?.so;;" LUA_PATH="$PWD/modules/?.lua;$PWD/modules/?/init.lua;;"
address=127.0.52.20 first=47000 last=47999
work=$(mktemp -d)
trap 'kill "$(cat "$work/listener.pid")" 2>/dev/null || true; rm -rf "$work"' EXIT

# 50 listeners, every 20th port; they never accept (the kernel completes the handshake).
/usr/bin/python3 -c '
import socket, sys, time
address, first = sys.argv[1], int(sys.argv[2])
listeners = [socket.create_server((address, port), backlog=64)
             for port in range(first, first + 1000, 20)]
print("ready", flush=True)
time.sleep(1e9)' "$address" "$first" </dev/null >"$work/listener.log" 2>&1 &
echo $! >"$work/listener.pid"
deadline=$(( $(date +%s) + 5 ))
until grep -q ready "$work/listener.log"; do
  [ "$(date +%s)" -lt "$deadline" ] || { cat "$work/listener.log" >&2; exit 1; }
  sleep 0.01
done

runbook_cmd="lua5.4 bench/ports.lua $address $first $last"
nmap_cmd="nmap -sT -n -Pn -p $first-$last $address"

ours=$($runbook_cmd)
theirs=$($nmap_cmd | grep -c '/tcp *open' || true)
echo "runbook: $ours"
echo "nmap:    open $theirs"
case $ours in "open $theirs closed 950 filtered 0") ;; *) echo "the two disagree" >&2; exit 1;; esac

hyperfine -N --warmup 3 --runs 30 --export-json "$work/times.json" \
  "$runbook_cmd" "$nmap_cmd" >"$work/hyperfine.log"
peak() {  # largest RSS of 5 runs, KB
  best=0
  for _ in 1 2 3 4 5; do
    kb=$( { /usr/bin/time -f %M "$@" >/dev/null; } 2>&1 | tail -1)
    [ "$kb" -gt "$best" ] && best=$kb
  done
  echo "$best"
}
runbook_kb=$(peak $runbook_cmd)
nmap_kb=$(peak $nmap_cmd)
/usr/bin/python3 - "$work/times.json" "$runbook_kb" "$nmap_kb" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
ours, theirs = (r["median"] * 1000 for r in results)
rk, nk = int(sys.argv[2]), int(sys.argv[3])
print("| command | median | ratio to nmap | peak RSS | ratio to nmap |")
print("|---|---|---|---|---|")
print(f"| `lua5.4 bench/ports.lua` (runbook.so, limit 500) | {ours:.1f} ms | {ours / theirs:.2f}x | {rk / 1024:.1f} MB | {rk / nk:.2f}x |")
print(f"| `nmap -sT -n -Pn -p 47000-47999` | {theirs:.1f} ms | 1.00x | {nk / 1024:.1f} MB | 1.00x |")
PY
