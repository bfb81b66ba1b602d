#!/bin/sh
# bench/failover.sh — the whole XMPP failover in the real test lab (one sshd address per
# emulated Windows server, BIND with TSIG, Prosody on the new pool) with 2, 8 and 32 Edge
# servers per pool: `runbook run xmpp-failover` against an Ansible playbook doing the same
# steps with the same encoded PowerShell over the same servers (bench/failover_setup.lua),
# each run from the same reset state, in one run. Prints a Markdown table: median wall
# time, the ratio to 2 servers, Ansible's ratio, and runbook's CPU time / wall time (an
# upper bound of the engine's share: it also counts libssh2's cryptography).
# Goal (issue 7): engine overhead under 5% of wall time; 32 servers within 1.5x of 2.
set -eu
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
work=$(mktemp -d /tmp/runbook-bench-failover.XXXXXX)
export USER="${USER:-$(id -un)}"
addresses="127.0.24.1"
for i in $(seq 11 42) $(seq 111 142); do addresses="$addresses 127.0.24.$i"; done
mkdir -p "$work/sshd" "$work/named" "$work/prosody" "$work/state"
cleanup() {
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
export RUNBOOK_STATE_DIR=$work/state
export ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=False ANSIBLE_SSH_USETTY=False
export ANSIBLE_SSH_ARGS="-o ControlMaster=no -o UserKnownHostsFile=$work/sshd/known_hosts -o StrictHostKeyChecking=yes"
export ANSIBLE_LOCAL_TEMP=$work/ansible-tmp ANSIBLE_PYTHON_INTERPRETER=auto_silent

# reset N: every emulated server back to the topology, the zone back to before the failover
reset() {
  for address in $(cat "$work/addresses-$1"); do cp "$work/seed-$1.json" "$state_dir/$address.json"; done
  printf 'server 127.0.24.53 5391\nzone contoso.com\nupdate delete xmpp.contoso.com A\nupdate delete _xmpp-server._tcp.contoso.com SRV\nupdate add _xmpp-server._tcp.contoso.com 300 SRV 10 0 5269 edge1.contoso.com.\nupdate delete edge1.contoso.com A\nupdate add edge1.contoso.com 300 A 127.0.24.251\nsend\n' \
    | nsupdate -k "$dns_key"
}

# timed LABEL COMMAND...: appends "LABEL wall user sys"; the command must succeed
timed() {
  label=$1; shift
  /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >"$work/last.log" 2>&1 \
    || { tail -30 "$work/last.log" >&2; exit 1; }
  echo "$label $(cat "$work/time")" >>"$work/times"
}

for n in 2 8 32; do
  lua5.4 bench/failover_setup.lua "$n" "$work" "$state_dir" "$port" "$work/sshd/lync_key" \
    "$work/sshd/known_hosts" 127.0.24.53 5391 "$dns_key" "$(get prosody ca_file)"
  for run in $(seq 1 "$runs"); do
    reset "$n"
    timed "runbook $n" ./runbook run xmpp-failover --yes -q -i "$work/inv-$n.lua"
    reset "$n"
    timed "ansible $n" ansible-playbook -i "$work/hosts-$n.ini" -f "$n" "$work/play-$n.yml"
  done
done

lua5.4 - "$work/times" <<'LUA'
local samples = {}
for line in io.lines(arg[1]) do
  local tool, n, wall, user, sys = line:match("(%S+) (%d+) (%S+) (%S+) (%S+)")
  local key = tool .. n
  samples[key] = samples[key] or {}
  table.insert(samples[key], { wall = tonumber(wall), cpu = tonumber(user) + tonumber(sys) })
end
local function median(list, field)
  local values = {}
  for i, s in ipairs(list) do values[i] = s[field] end
  table.sort(values)
  return values[(#values + 1) // 2]
end
print("| Edge servers per pool | runbook | ratio to 2 | runbook CPU / wall | ansible-playbook | ansible / runbook |")
print("|---|---|---|---|---|---|")
local base = median(samples.runbook2, "wall")
for _, n in ipairs { 2, 8, 32 } do
  local ours, theirs = samples["runbook" .. n], samples["ansible" .. n]
  local wall = median(ours, "wall")
  print(("| %d | %.2f s | %.2f× | %.0f%% | %.2f s | %.1f× |"):format(n, wall, wall / base,
    100 * median(ours, "cpu") / wall, median(theirs, "wall"), median(theirs, "wall") / wall))
end
LUA
