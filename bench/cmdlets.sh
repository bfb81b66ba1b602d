#!/bin/sh
# bench/cmdlets.sh — Get-CsWindowsService on 1, 8 and 32 emulated Edge servers (real
# sshd on 127.0.22.1-32, a free port, the Lync emulator as forced command), through the
# cmdlet layer (bench/cmdlets.lua: libssh2 in the event loop, one task per server) and
# through an Ansible playbook (`raw` task, the same encoded PowerShell, forks = servers,
# no ControlPersist so both start cold) over the same sshd, in one run. Prints a Markdown
# table. Goal (issue 4): 32 servers within 1.5x of one, and well ahead of Ansible.
set -eu
# the emulated servers cost nothing here (lab.emulator.costs): this measures the client;
# bench/failover.sh charges them
export LYNC_EMULATOR_COSTS="${LYNC_EMULATOR_COSTS:-0,0}"
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
work=$(mktemp -d /tmp/runbook-bench-cmdlets.XXXXXX)
addresses=""
for i in $(seq 1 32); do addresses="$addresses 127.0.22.$i"; done
# shellcheck disable=SC2086
mkdir -p "$work/sshd"
tests/lab/sshd.sh start "$work/sshd" auto $addresses >"$work/sshd.env"
trap 'tests/lab/sshd.sh stop "$work/sshd"; rm -rf "$work"' EXIT
port=$(sed -n 's/^port=//p' "$work/sshd.env")
key=$work/sshd/lync_key
known=$work/sshd/known_hosts
export USER="${USER:-$(id -un)}"

# the script Ansible sends: exactly what modules/powershell.lua builds for the cmdlet layer
command=$(lua5.4 -e 'package.path = "modules/?.lua;" .. package.path
  local ps = require "powershell"
  io.write(ps.command_line(ps.wrap(ps.command("Get-CsWindowsService", {}))))')

for n in 1 8 32; do
  inventory=$work/hosts-$n.ini
  echo "[edge]" >"$inventory"
  for i in $(seq 1 "$n"); do
    echo "edge$i ansible_host=127.0.22.$i ansible_port=$port ansible_user=$USER" \
         "ansible_ssh_private_key_file=$key" >>"$inventory"
  done
  hosts=""
  for i in $(seq 1 "$n"); do hosts="$hosts 127.0.22.$i"; done
  echo "$hosts" >"$work/addresses-$n"
done

cat >"$work/playbook.yml" <<EOF
- hosts: edge
  gather_facts: false
  tasks:
    - name: Get-CsWindowsService
      raw: $command
      register: services
      changed_when: false
EOF

export ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_SSH_USETTY=False
export ANSIBLE_SSH_ARGS="-o ControlMaster=no -o UserKnownHostsFile=$known \
  -o StrictHostKeyChecking=yes"
export ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=False ANSIBLE_PYTHON_INTERPRETER=auto_silent
export ANSIBLE_LOCAL_TEMP=$work/ansible-tmp

# both tools must get five services from every server before anything is timed
for n in 1 8 32; do
  # shellcheck disable=SC2046
  ok=$(lua5.4 bench/cmdlets.lua "$key" "$known" "$port" $(cat "$work/addresses-$n") | grep -c '	5$')
  [ "$ok" -eq "$n" ] || { echo "cmdlet layer: $ok of $n servers answered" >&2; exit 1; }
  ansible-playbook -i "$work/hosts-$n.ini" -f "$n" "$work/playbook.yml" >"$work/check-$n.log" \
    || { cat "$work/check-$n.log" >&2; exit 1; }
  grep -q "ok=1 .*failed=0" "$work/check-$n.log" || { cat "$work/check-$n.log" >&2; exit 1; }
done

# the floor: N OpenSSH clients in parallel, each one login and one command, no PowerShell
cat >"$work/ssh-fanout.sh" <<EOF
for address in \$(cat "$work/addresses-\$1"); do
  ssh -o BatchMode=yes -o UserKnownHostsFile=$known -o StrictHostKeyChecking=yes \\
      -i $work/sshd/shell_key -p $port "$USER@\$address" true &
done
wait
EOF

set --
for n in 1 8 32; do
  set -- "$@" -n "openssh $n" "sh $work/ssh-fanout.sh $n"
done
for n in 1 8 32; do
  set -- "$@" -n "runbook $n" \
    "lua5.4 bench/cmdlets.lua $key $known $port $(cat "$work/addresses-$n")"
done
for n in 1 8 32; do
  set -- "$@" -n "ansible $n" "ansible-playbook -i $work/hosts-$n.ini -f $n $work/playbook.yml"
done
hyperfine -N --warmup 1 --runs "$runs" --export-json "$work/times.json" "$@" >/dev/null

lua5.4 - "$work/times.json" <<'LUA'
local cjson = require "cjson"
local file = assert(io.open(arg[1]))
local results = cjson.decode(file:read("a")).results
file:close()
local median = {}
for _, r in ipairs(results) do median[r.command] = r.median end
print("| servers | cmdlet layer (libssh2) | ratio to 1 server | ansible-playbook (raw) | "
      .. "ansible / cmdlet layer | N × `ssh host true` in parallel |")
print("|---|---|---|---|---|---|")
for _, n in ipairs { 1, 8, 32 } do
  local ours, theirs = median["runbook " .. n], median["ansible " .. n]
  print(("| %d | %.0f ms | %.2f× | %.0f ms | %.1f× | %.0f ms |"):format(n, ours * 1000,
        ours / median["runbook 1"], theirs * 1000, theirs / ours,
        median["openssh " .. n] * 1000))
end
LUA
