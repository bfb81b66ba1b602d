#!/bin/sh
# bench/failover.sh — the whole XMPP failover in the real test lab (one sshd address per
# emulated Windows server, BIND with TSIG, Prosody on the new pool) with 2, 8 and 32 Edge
# servers per pool: `runbook run xmpp-failover` against an Ansible playbook doing the same
# steps with the same encoded PowerShell over the same servers (bench/failover_setup.lua),
# each run from the same reset state, in one run. Prints a Markdown table: median wall
# time, the ratio to 2 servers, Ansible's ratio, and runbook's CPU time / wall time (an
# upper bound of the engine's share: it also counts libssh2's cryptography).
# Issue 15: the emulated servers charge what real ones cost (LYNC_EMULATOR_COSTS, default
# "default": 0.5 s per PowerShell process start, 3 s for the Lync module's first use in a
# process; docs/transports.md) and sit behind the lab's delay relay (DELAY_MS each way,
# default 10: 20 ms RTT) for both tools; per run the emulators' counters give the PowerShell
# processes started and the scripts run (all servers; the Front End and the busiest Edge
# server, whose scripts are the critical path's round trips), and runbook's peak RSS.
# The floor: one session start per host, in parallel (START + LOAD), plus the critical
# path's scripts x RTT (the servers' own work is ~0 in the emulator). SIZES="2 8 32" and
# SKIP_ANSIBLE=1 narrow a run; the table then shows what was measured. KEEP_TIMES=FILE keeps
# the raw samples.
set -eu
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
work=$(mktemp -d /tmp/runbook-bench-failover.XXXXXX)
export USER="${USER:-$(id -un)}"
delay=${DELAY_MS:-10}
addresses="127.0.24.1"
for i in $(seq 11 42) $(seq 111 142); do addresses="$addresses 127.0.24.$i"; done
mkdir -p "$work/sshd" "$work/named" "$work/prosody" "$work/state" "$work/relay"
cleanup() {
  [ -z "${KEEP_TIMES:-}" ] || cp "$work/times" "$KEEP_TIMES" 2>/dev/null || true
  tests/lab/delay_relay.sh stop "$work/relay" || true
  tests/lab/sshd.sh stop "$work/sshd" || true
  tests/lab/named.sh stop "$work/named" || true
  tests/lab/prosody.sh stop "$work/prosody" || true
  rm -rf "$work"
}
trap cleanup EXIT
# shellcheck disable=SC2086
tests/lab/sshd.sh start "$work/sshd" auto $addresses >"$work/sshd.env"
tests/lab/named.sh start "$work/named" 127.0.24.53 5391 >"$work/named.env"
tests/lab/prosody.sh start "$work/prosody" 127.0.24.250 >"$work/prosody.env"
get() { sed -n "s/^$2=//p" "$work/$1.env"; }
port=$(get sshd port); state_dir=$(get sshd state_dir); dns_key=$(get named key)
chmod 600 "$dns_key"
# every emulated Windows server behind the relay: 127.0.25.X forwards to 127.0.24.X
pairs=""
for address in $addresses; do pairs="$pairs ${address%.*.*}.25.${address##*.}:$port=$address:$port"; done
# shellcheck disable=SC2086
tests/lab/delay_relay.sh start "$work/relay" "$delay" $pairs >"$work/relay.env"
sed 's/^\[127\.0\.24\./[127.0.25./' "$work/sshd/known_hosts" >"$work/known_hosts"
export BENCH_CLIENT_PREFIX=127.0.25
costs=$(cat "$state_dir/costs")
export RUNBOOK_STATE_DIR=$work/state
export ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=False ANSIBLE_SSH_USETTY=False
export ANSIBLE_SSH_ARGS="-o ControlMaster=no -o UserKnownHostsFile=$work/known_hosts -o StrictHostKeyChecking=yes"
export ANSIBLE_PIPELINING=True   # (raw tasks send no module: nothing for it to pipeline)
export ANSIBLE_LOCAL_TEMP=$work/ansible-tmp ANSIBLE_PYTHON_INTERPRETER=auto_silent

# reset N: every emulated server back to the topology, the zone back to before the failover
reset() {
  for address in $(cat "$work/addresses-$1"); do cp "$work/seed-$1.json" "$state_dir/$address.json"; done
  printf 'server 127.0.24.53 5391\nzone contoso.com\nupdate delete xmpp.contoso.com A\nupdate delete _xmpp-server._tcp.contoso.com SRV\nupdate add _xmpp-server._tcp.contoso.com 300 SRV 10 0 5269 edge1.contoso.com.\nupdate delete edge1.contoso.com A\nupdate add edge1.contoso.com 300 A 127.0.24.251\nsend\n' \
    | nsupdate -k "$dns_key"
}

# counted N: "processes scripts fe_scripts busiest_edge_scripts" from the emulators' counters
counted() {
  lua5.4 - "$state_dir" "$(cat "$work/addresses-$1")" <<'LUA'
package.path = "modules/?.lua;" .. package.path
local emulator = require "lab.emulator"
local processes, scripts, fe, edge = 0, 0, 0, 0
for address in arg[2]:gmatch("%S+") do
  local c = emulator.counters(arg[1] .. "/" .. address .. ".json")
  processes, scripts = processes + c.processes, scripts + c.scripts
  if address == "127.0.24.1" then fe = c.scripts elseif c.scripts > edge then edge = c.scripts end
end
print(("%d %d %d %d"):format(processes, scripts, fe, edge))
LUA
}

# timed LABEL N COMMAND...: appends "LABEL N wall user sys rss_kb processes scripts fe edge";
# the command must succeed
timed() {
  label=$1; n=$2; shift 2
  rm -f "$state_dir"/*.counters
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" >"$work/last.log" 2>&1 \
    || { tail -30 "$work/last.log" >&2; exit 1; }
  echo "$label $n $(cat "$work/time") $(counted "$n")" >>"$work/times"
}

for n in ${SIZES:-2 8 32}; do
  lua5.4 bench/failover_setup.lua "$n" "$work" "$state_dir" "$port" "$work/sshd/lync_key" \
    "$work/known_hosts" 127.0.24.53 5391 "$dns_key" "$(get prosody ca_file)"
  for run in $(seq 1 "$runs"); do
    reset "$n"
    timed runbook "$n" ./runbook run xmpp-failover --yes -q -i "$work/inv-$n.lua"
    [ -z "${SKIP_ANSIBLE:-}" ] || continue
    reset "$n"
    timed ansible "$n" ansible-playbook -i "$work/hosts-$n.ini" -f "$((n + 1))" \
      "$work/play-$n.yml"
  done
done

echo "costs (process start, Lync module load, s): $costs; RTT $((2 * delay)) ms; runs $runs"
echo
lua5.4 - "$work/times" "$costs" "$delay" <<'LUA'
local samples = {}
for line in io.lines(arg[1]) do
  local tool, n, wall, user, sys, rss, processes, scripts, fe, edge = line:match(
    "(%S+) (%d+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+)")
  local key = tool .. n
  samples[key] = samples[key] or {}
  table.insert(samples[key], { wall = tonumber(wall), cpu = tonumber(user) + tonumber(sys),
    rss = tonumber(rss) / 1024, processes = tonumber(processes), scripts = tonumber(scripts),
    critical = tonumber(fe) + tonumber(edge) })
end
local function median(list, field)
  local values = {}
  for i, s in ipairs(list) do values[i] = s[field] end
  table.sort(values)
  return values[(#values + 1) // 2]
end
local start, load = arg[2]:match("([%d.]+),([%d.]+)")
if arg[2] == "default" then start, load = 0.5, 3 end
local rtt = 2 * tonumber(arg[3]) / 1000
print("| Edge servers per pool | tool | wall | ratio to 2 | PowerShell processes | scripts "
  .. "(all / critical path) | floor | wall / floor | CPU / wall | peak RSS |")
print("|---|---|---|---|---|---|---|---|---|---|")
for _, tool in ipairs { "runbook", "ansible" } do
  local base = samples[tool .. "2"] and median(samples[tool .. "2"], "wall") or 0 / 0
  for _, n in ipairs { 2, 8, 32 } do
    local list = samples[tool .. n]
    if not list or not samples["runbook" .. n] then goto next end
    local wall, critical = median(list, "wall"), median(list, "critical")
    -- the same work for both tools: runbook's critical path, one session start per host
    local floor = start + load + median(samples["runbook" .. n], "critical") * rtt
    print(("| %d | %s | %.2f s | %.2f× | %d | %d / %d | %.2f s | %.2f× | %.1f%% | %.1f MB |")
      :format(n, tool, wall, wall / base, median(list, "processes"), median(list, "scripts"),
              critical, floor, wall / floor, 100 * median(list, "cpu") / wall,
              median(list, "rss")))
    ::next::
  end
end
for _, n in ipairs { 2, 8, 32 } do
  if not samples["ansible" .. n] then goto skip end
  print(("runbook / ansible at %d: %.3f"):format(n, median(samples["runbook" .. n], "wall")
    / median(samples["ansible" .. n], "wall")))
  ::skip::
end
LUA
