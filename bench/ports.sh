#!/bin/sh
# bench/ports.sh — the state of 1,000 loopback ports (50 open, 950 closed) with
# bench/ports.lua (net.connect + task.parallel, runbook.so under lua5.4: `runbook run` is
# for runbooks, not scripts with arguments) against nmap of the same ports, in the same run:
# `nmap -p` as issue 6 asks (as root nmap's default, a raw SYN scan) and `nmap -sT` (a
# connect scan, what net.connect does); median time (hyperfine), ratios, peak RSS
# (/usr/bin/time -f %M). All three must agree on which ports are open. Run as root.
# Address 127.0.52.20, ports 47000-47999.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "bench/ports.sh: run it as root: otherwise \`nmap -p\` is a connect scan, not SYN" >&2
  exit 1
fi
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
syn_cmd="nmap -n -Pn -p $first-$last $address"
connect_cmd="nmap -sT -n -Pn -p $first-$last $address"

ours=$($runbook_cmd)
syn=$($syn_cmd | grep -c '/tcp *open' || true)
connect=$($connect_cmd | grep -c '/tcp *open' || true)
echo "runbook:  $ours"
echo "nmap -p:  open $syn"
echo "nmap -sT: open $connect"
case "$ours $syn $connect" in
  "open 50 closed 950 filtered 0 50 50") ;;
  *) echo "the three disagree (50 open, 950 closed expected)" >&2; exit 1 ;;
esac

hyperfine -N --warmup 3 --runs 30 --export-json "$work/times.json" \
  "$runbook_cmd" "$syn_cmd" "$connect_cmd" >"$work/hyperfine.log"
peak() {  # largest RSS of 5 runs, KB
  best=0
  for _ in 1 2 3 4 5; do
    kb=$( { /usr/bin/time -f %M "$@" >/dev/null; } 2>&1 | tail -1)
    [ "$kb" -gt "$best" ] && best=$kb
  done
  echo "$best"
}
runbook_kb=$(peak $runbook_cmd)
syn_kb=$(peak $syn_cmd)
connect_kb=$(peak $connect_cmd)
/usr/bin/python3 - "$work/times.json" "$runbook_kb" "$syn_kb" "$connect_kb" <<'PY'
import json, sys
times = [r["median"] * 1000 for r in json.load(open(sys.argv[1]))["results"]]
memory = [int(kb) for kb in sys.argv[2:5]]
names = ["`lua5.4 bench/ports.lua` (runbook.so, limit 500)",
         "`nmap -n -Pn -p 47000-47999` (as root: SYN scan)",
         "`nmap -sT -n -Pn -p 47000-47999` (connect scan)"]
print("| command | median | ratio to nmap -p | ratio to nmap -sT "
      "| peak RSS | ratio to nmap -p | ratio to nmap -sT |")
print("|---|---|---|---|---|---|---|")
for name, ms, kb in zip(names, times, memory):
    print(f"| {name} | {ms:.1f} ms | {ms / times[1]:.2f}× | {ms / times[2]:.2f}× "
          f"| {kb / 1024:.1f} MB | {kb / memory[1]:.2f}× | {kb / memory[2]:.2f}× |")
PY
