#!/bin/sh
# bench/latency.sh — what each primitive costs in round trips (issue 16), in one command.
# Real servers from tests/lab/ on 127.0.17.x (sshd, BIND, Prosody, the WS-Management
# emulator) behind the delay relay (tests/lab/delay_relay.sh) on 127.0.18.x: 10 ms each
# way, 20 ms RTT. For each primitive:
#   - its floor: the protocol's minimum number of round trips (FLOOR below, with why) × RTT;
#   - runbook's time inside the process (bench/latency.lua: the median of RUNS calls after
#     a warm-up call), its ratio to the floor, and the round trips it took, counted from the
#     relay's log (bench/round_trips.py), with what the log shows beyond them: the client's
#     own time, the server's, and the relay's lateness; and the same call on loopback;
#   - whole processes, hyperfine medians: `lua5.4 bench/latency.lua 0 ...` (start-up, one
#     call) beside the classic tool doing the same, and the tool's round trips from the log.
# Then the loopback case (no relay, where Nagle's algorithm and delayed ACKs show
# directly): the full XMPP probe against `openssl s_client -starttls xmpp-server`, and
# net.connect of three ports against `nmap -sT` (a relay's kernel accepts every connect at
# once: at 20 ms only the round trips of the connects are counted).
# RUNS (default 10) per measurement. KEEP_LOG=FILE: a copy of the relay's log. BEFORE=DIR:
# a source tree built earlier (e.g. `git archive COMMIT | tar -x -C DIR; make -C DIR
# VENDOR=no all`), measured too, in the same run. Prints Markdown; results go to
# bench/RESULTS.md.
set -eu
# the emulated servers cost nothing here (lab.emulator.costs): this measures the client;
# bench/failover.sh charges them
export LYNC_EMULATOR_COSTS="${LYNC_EMULATOR_COSTS:-0,0}"
cd "$(dirname "$0")/.."
runs=${RUNS:-10}
delay=10
rtt=$((2 * delay))
work=$(mktemp -d /tmp/runbook-bench-latency.XXXXXX)
stop_all() {
  [ -z "${KEEP_LOG:-}" ] || cp "$work/relay/relay.log" "$KEEP_LOG" 2>/dev/null || true
  for lab in delay_relay:relay winrm:winrm prosody:prosody named:named sshd:sshd; do
    [ -d "$work/${lab#*:}" ] && tests/lab/${lab%%:*}.sh stop "$work/${lab#*:}" 2>/dev/null
  done
  [ -S "$work/cm" ] && ssh -F /dev/null -o ControlPath="$work/cm" -O exit x 2>/dev/null
  rm -rf "$work"
}
trap stop_all EXIT
field() { sed -n "s/^$2=//p" "$work/$1.env"; }

# ---------------------------------------------------------------- servers and the relay
mkdir -p "$work/sshd" "$work/named" "$work/prosody" "$work/winrm" "$work/relay"
# HOME elsewhere: bash, run by sshd, reads ~/.bashrc, and root's here starts pyenv (1 s a
# command) — a cost of this machine, not of an SSH server
SSHD_EXTRA_CONFIG="SetEnv HOME=/nonexistent" \
  tests/lab/sshd.sh start "$work/sshd" auto 127.0.17.22 >"$work/sshd.env"
tests/lab/named.sh start "$work/named" 127.0.17.53 5312 >"$work/named.env"
tests/lab/prosody.sh start "$work/prosody" 127.0.17.5 >"$work/prosody.env"
tests/lab/winrm.sh start "$work/winrm" auto 127.0.17.86 127.0.18.86 >"$work/winrm.env"
ssh_port=$(field sshd port) winrm_port=$(field winrm port)
tests/lab/delay_relay.sh start "$work/relay" "$delay" \
  "127.0.18.22:$ssh_port=127.0.17.22:$ssh_port" \
  "127.0.18.53:5312=127.0.17.53:5312" \
  "127.0.18.5:5269=127.0.17.5:5269" \
  "127.0.18.5:5270=127.0.17.5:5270" \
  "127.0.18.5:45222=127.0.17.5:45222" \
  "127.0.18.86:$((winrm_port + 1))=127.0.17.86:$winrm_port" >"$work/relay.env"
log=$(field relay log)

user=$(field sshd user) key=$work/sshd/shell_key
echo "[127.0.18.22]:$ssh_port $(cut -d' ' -f1,2 "$(field sshd host_key)")" >"$work/known_hosts"
ssh_options="-F /dev/null -i $key -o IdentitiesOnly=yes -o BatchMode=yes \
  -o UserKnownHostsFile=$work/known_hosts -o StrictHostKeyChecking=yes -p $ssh_port"
tsig=$work/named/tsig-sha256.key
# the XMPP service of contoso.com, for the probe that resolves it: SRV → xmpp → the relay
printf '%s\n' "server 127.0.17.53 5312" "zone contoso.com" \
  "update delete _xmpp-server._tcp.contoso.com SRV" \
  "update add _xmpp-server._tcp.contoso.com 60 SRV 10 0 5269 xmpp.contoso.com." \
  "update add xmpp.contoso.com 60 A 127.0.18.5" "send" | nsupdate -k "$tsig"
printf '%s\n' "server 127.0.18.53 5312" "zone contoso.com" \
  "update delete www.contoso.com A" "update add www.contoso.com 60 A 192.0.2.80" "send" \
  >"$work/nsupdate.txt"
ca=$work/prosody/cert.pem
winrm_line=$(lua5.4 -e 'package.path = "modules/?.lua;" .. package.path
  local ps = require "powershell"
  io.write(ps.command_line(ps.wrap(ps.command("Get-CsSite", {}))))')
winrm_ca=$(field winrm ca_file)
winrm_user=$(field winrm user) winrm_password=$(field winrm password)
# pywinrm takes the command line as one argument: a script holds it (hyperfine -N splits)
cat >"$work/pywinrm.sh" <<SCRIPT
#!/bin/sh
OPENSSL_CONF=$(field winrm openssl_conf) exec /usr/bin/python3 tests/lab/winrm_client.py \\
  https://127.0.18.86:$((winrm_port + 1))/wsman ntlm '$winrm_user' '$winrm_password' \\
  $winrm_ca '$winrm_line'
SCRIPT
chmod +x "$work/pywinrm.sh"
ssh $ssh_options -o ControlMaster=yes -o ControlPath="$work/cm" -o ControlPersist=600 -fN \
  "$user@127.0.18.22"

# ---------------------------------------------------------------- the primitives
# name | floor in round trips | why | bench/latency.lua arguments through the relay | the
# same on loopback, no relay | the classic tool (through the relay)
rows=$work/rows
cat >"$rows" <<EOF
ssh login + one command|7|TCP; versions+KEXINIT; ECDH; NEWKEYS+service; publickey with signature; channel open; exec → output, exit, close|ssh 127.0.18.22 $ssh_port $user $key $work/known_hosts|ssh 127.0.17.22 $ssh_port $user $key $work/sshd/known_hosts|ssh $ssh_options $user@127.0.18.22 true
ssh command on an open connection|2|channel open; exec → output, exit, close|ssh-exec 127.0.18.22 $ssh_port $user $key $work/known_hosts|ssh-exec 127.0.17.22 $ssh_port $user $key $work/sshd/known_hosts|ssh -F /dev/null -o ControlPath=$work/cm -p $ssh_port $user@127.0.18.22 true
dns.update, TSIG-signed|1|one UDP exchange (the zone is given: no SOA lookup)|update 127.0.18.53 5312 $tsig|update 127.0.17.53 5312 $tsig|nsupdate -k $tsig $work/nsupdate.txt
dns.query|1|one UDP exchange|query 127.0.18.53 5312 sip.contoso.com|query 127.0.17.53 5312 sip.contoso.com|dig @127.0.18.53 -p 5312 +tries=1 +short sip.contoso.com A
xmpp.probe, target given|5|TCP; stream → features; starttls → proceed; TLS 1.3; restarted stream → features|xmpp 127.0.18.5 5269 $ca|xmpp 127.0.17.5 5269 $ca|openssl s_client -starttls xmpp-server -xmpphost contoso.com -connect 127.0.18.5:5269 -CAfile $ca -no-CApath -no-CAstore
xmpp.probe through DNS|7|SRV; A and AAAA at once; then the 5 of the probe|xmpp-dns 127.0.18.53 5312 $ca|-|-
net.connect, three ports|1|the three SYNs at once|connect 127.0.18.5 5269,5270,45222|connect 127.0.17.5 5269,5270,45222|nmap -sT -n -Pn -p 5269,5270,45222 127.0.18.5
WinRM, one command|8|TCP; TLS 1.3; NTLM negotiate; Create (authenticated); Command; Receive; Signal; Delete|winrm 127.0.18.86 $((winrm_port + 1)) $winrm_user $winrm_password $winrm_ca|winrm 127.0.17.86 $winrm_port $winrm_user $winrm_password $winrm_ca|$work/pywinrm.sh
EOF

# round_trips COMMAND...: runs it once and prints what bench/round_trips.py counts of it
# (only the call named by a "window" line the command prints, when it prints one)
round_trips() {
  offset=$(stat -c %s "$log")
  out=$("$@" 2>"$work/stderr") || { cat "$work/stderr" >&2; return 1; }
  window=$(printf '%s\n' "$out" | sed -n 's/^window //p')
  sleep 0.1                     # the relay logs the client's last FIN
  # shellcheck disable=SC2086
  /usr/bin/python3 bench/round_trips.py "$log" "$offset" "$delay" $window
}

median() { tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

results=$work/results
: >"$results"
inside() {  # ARGS...: the median of RUNS calls inside the process
  lua5.4 bench/latency.lua "$runs" "$@" | sed -n 's/^times //p' | median
}
before=${BEFORE:-}
before_inside() {  # ARGS...: the same with the BEFORE tree, or -
  if [ -n "$before" ]; then RUNBOOK_TREE=$before inside "$@"; else echo -; fi
}
while IFS='|' read -r name floor why ours loopback peer; do
  # shellcheck disable=SC2086
  ours_rt=$(round_trips lua5.4 bench/latency.lua 1 $ours)   # a warm call: modules loaded
  # shellcheck disable=SC2086
  inside=$(inside $ours)
  # shellcheck disable=SC2086
  [ "$loopback" = - ] && direct=- || direct=$(inside $loopback)
  # shellcheck disable=SC2086
  then=$(before_inside $ours)
  # shellcheck disable=SC2086
  [ "$loopback" = - ] && then_direct=- || then_direct=$(before_inside $loopback)
  peer_rt=- whole="- -"
  if [ "$peer" != - ]; then
    # shellcheck disable=SC2086
    peer_rt=$(round_trips $peer </dev/null)
    # a command on an open connection: runbook's process would log in first; the
    # ControlMaster's client only asks the master (ours: the time inside the process)
    case $ours in
      ssh-exec*) set -- "$peer" ;;
      *) set -- "lua5.4 bench/latency.lua 0 $ours" "$peer" ;;
    esac
    hyperfine -N --warmup 1 --runs "$runs" --export-json "$work/whole.json" "$@" \
      >/dev/null 2>&1 </dev/null
    whole=$(/usr/bin/python3 -c 'import json, sys
times = ["%.1f" % (r["median"] * 1000) for r in json.load(open(sys.argv[1]))["results"]]
print(" ".join(["-"] * (2 - len(times)) + times))' "$work/whole.json")
  fi
  printf '%s|%s|%s|%s|%s|%s|%s|%s|%s\n' "$name" "$floor" "$why" "$inside" "$ours_rt" \
    "$whole" "$peer_rt" "$direct" "$then/$then_direct" >>"$results"
done <"$rows"

# ---------------------------------------------------------------- loopback
set -- "lua5.4 bench/latency.lua 0 xmpp 127.0.17.5 5269 $ca"
[ -z "$before" ] ||
  set -- "$@" "env RUNBOOK_TREE=$before lua5.4 bench/latency.lua 0 xmpp 127.0.17.5 5269 $ca"
openssl_loopback="openssl s_client -starttls xmpp-server -xmpphost contoso.com \
-connect 127.0.17.5:5269 -CAfile $ca -no-CApath -no-CAstore"
hyperfine -N --warmup 3 --runs $((runs * 3)) --export-json "$work/loopback.json" "$@" \
  "$openssl_loopback" \
  "lua5.4 bench/latency.lua 0 connect 127.0.17.5 5269,5270,45222" \
  "nmap -sT -n -Pn -p 5269,5270,45222 127.0.17.5" \
  "lua5.4 -e ''" >/dev/null </dev/null
inside_xmpp=$(lua5.4 bench/latency.lua "$runs" xmpp 127.0.17.5 5269 "$ca" | sed -n 's/^times //p' \
  | median)

/usr/bin/python3 - "$results" "$rtt" "$work/loopback.json" "$inside_xmpp" "$before" <<'PY'
import json, sys
rtt = float(sys.argv[2])
before = sys.argv[5]
def words(line):
    return dict(w.split("=", 1) for w in line.split()) if "=" in line else {}
print(f"RTT {rtt:.0f} ms (the delay relay, 10 ms each way). runbook: inside the process, "
      "median of the calls after a warm-up; whole processes: hyperfine medians.\n")
print("| primitive | floor | runbook | ÷ floor | round trips (runbook) | beyond them: "
      "runbook's own / the server's time / the relay's lateness | the call on loopback | "
      "whole process: runbook | classic tool | ÷ tool | round trips (tool) |"
      + (" BEFORE's build: at 20 ms / on loopback |" if before else ""))
print("|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if before else ""))
for line in open(sys.argv[1]):
    name, floor, why, inside, ours_rt, whole, peer_rt, direct, then = \
        line.rstrip("\n").split("|")
    floor_ms = int(floor) * rtt
    ours, peer = words(ours_rt), words(peer_rt)
    whole_ours, whole_peer = whole.split()
    if whole_peer == "-":
        ratio = "-"
    elif whole_ours == "-":             # a command on an open connection: inside the process
        ratio = f"{float(inside) / float(whole_peer):.2f}× (inside)"
    else:
        ratio = f"{float(whole_ours) / float(whole_peer):.2f}×"
    inside_ms = float(inside)
    note = "" if name != "net.connect, three ports" else " (the relay accepts at once)"
    direct = "-" if direct == "-" else f"{float(direct):.1f} ms"
    print(f"| {name} | {floor} × {rtt:.0f} = {floor_ms:.0f} ms ({why}) | {inside_ms:.1f} ms"
          f"{note} | {inside_ms / floor_ms:.2f}× | {ours.get('round_trips', '?')} "
          f"({ours.get('detail', '')}) | {ours.get('client_ms', '?')} / "
          f"{ours.get('server_ms', '?')} / {ours.get('relay_late_ms', '?')} ms | {direct} | "
          f"{whole_ours} ms | {whole_peer} ms | "
          f"{ratio} | {peer.get('round_trips', '-')} ({peer.get('detail', '')}) |"
          + (" %s ms |" % " / ".join(t if t == "-" else f"{float(t):.1f}"
                                     for t in then.split("/")) if before else ""))
results = json.load(open(sys.argv[3]))["results"]
loop = [r["median"] * 1000 for r in results]
cpu = [(r["user"] + r["system"]) * 1000 for r in results]       # means, as hyperfine gives
then, then_cpu = (loop.pop(1), cpu.pop(1)) if before else (None, None)
print("\nLoopback (no relay), whole processes, hyperfine: median wall time, mean CPU "
      "(user + system):\n")
print("| command | median | ratio | CPU |")
print("|---|---|---|---|")
print(f"| `lua5.4 bench/latency.lua 0 xmpp` (the full probe) | {loop[0]:.1f} ms | "
      f"{loop[0] / loop[1]:.2f}× openssl | {cpu[0]:.1f} ms |")
if before:
    print(f"| the same, BEFORE's build | {then:.1f} ms | {then / loop[1]:.2f}× openssl | "
          f"{then_cpu:.1f} ms |")
print(f"| `openssl s_client -starttls xmpp-server` | {loop[1]:.1f} ms | 1.00× | {cpu[1]:.1f} ms |")
print(f"| `lua5.4 bench/latency.lua 0 connect` (three ports) | {loop[2]:.1f} ms | "
      f"{loop[2] / loop[3]:.2f}× nmap | {cpu[2]:.1f} ms |")
print(f"| `nmap -sT` (three ports) | {loop[3]:.1f} ms | 1.00× | {cpu[3]:.1f} ms |")
print(f"| `lua5.4 -e ''` | {loop[4]:.1f} ms | | {cpu[4]:.1f} ms |")
print(f"\nThe full probe inside the process on loopback: {float(sys.argv[4]):.1f} ms (median).")
PY
