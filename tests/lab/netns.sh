#!/bin/sh
# tests/lab/netns.sh — three hosts on one bridge, in network namespaces, for port-state tests
# (issue 6). Names rbn-*, addresses 10.252.0.0/24; firewall rules exist only in rbn-srv.
#   rbn-op  10.252.0.1  the operator
#   rbn-srv 10.252.0.2  the server: a listener on 5269 (open), nothing on 5270 (closed),
#                       nft: 5271 drop (filtered), 5272 reject with tcp reset,
#                       5273 reject with icmp port-unreachable,
#                       5274 reject with icmp admin-prohibited,
#                       5269 dropped for the vantage host only (a perimeter firewall)
#   rbn-vp  10.252.0.3  the vantage host outside the perimeter
#   10.252.0.4 is a second address of rbn-srv, free for a real server (Prosody) on 5269
#   10.252.0.5 is a third one, for a real server the vantage host may reach on 5269 too
# Usage: tests/lab/netns.sh start WORKDIR | stop WORKDIR
set -eu
verb=$1 dir=$2
hosts="op:1 srv:2 vp:3"

teardown() {
  for ns in rbn-op rbn-srv rbn-vp rbn-sw; do
    ip netns del "$ns" 2>/dev/null || true
  done
}

case $verb in
start)
  teardown                      # left over from a run that was killed
  trap 'teardown' EXIT          # also when a command below fails (set -e)
  ip netns add rbn-sw
  ip -n rbn-sw link add br0 type bridge
  ip -n rbn-sw link set br0 up
  for entry in $hosts; do
    name=${entry%:*} n=${entry#*:}
    ip netns add "rbn-$name"
    ip -n "rbn-$name" link set lo up
    ip -n "rbn-$name" link add eth0 type veth peer name "p$n" netns rbn-sw
    ip -n "rbn-$name" addr add "10.252.0.$n/24" dev eth0
    ip -n "rbn-$name" link set eth0 up
    ip -n rbn-sw link set "p$n" master br0
    ip -n rbn-sw link set "p$n" up
  done
  ip -n rbn-srv addr add 10.252.0.4/24 dev eth0
  ip -n rbn-srv addr add 10.252.0.5/24 dev eth0
  ip netns exec rbn-srv nft -f - <<'NFT'
table inet rbn {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr 10.252.0.3 ip daddr != 10.252.0.5 tcp dport 5269 drop
    tcp dport 5271 drop
    tcp dport 5272 reject with tcp reset
    tcp dport 5273 reject with icmp type port-unreachable
    tcp dport 5274 reject with icmp type admin-prohibited
  }
}
NFT
  # A listener with a deep backlog that never accepts: the kernel completes the handshakes
  # (nc's backlog of 1 would drop SYNs under a concurrent scan and look filtered).
  ip netns exec rbn-srv /usr/bin/python3 -c 'import socket, time
listener = socket.create_server(("10.252.0.2", 5269), backlog=1024)
time.sleep(1e9)' </dev/null >>"$dir/listener.log" 2>&1 &
  echo $! >"$dir/listener.pid"
  deadline=$(( $(date +%s) + 5 ))
  until ip netns exec rbn-srv ss -Htln 'sport = :5269' | grep -q 5269; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      cat "$dir/listener.log" >&2
      echo "listener in rbn-srv did not come up" >&2
      kill "$(cat "$dir/listener.pid")" 2>/dev/null || true
      teardown
      exit 1
    fi
    sleep 0.01
  done
  echo "pid=$(cat "$dir/listener.pid")"
  echo "server=10.252.0.2"
  echo "operator=rbn-op"
  echo "vantage=rbn-vp"
  trap - EXIT
  ;;
stop)
  if [ -f "$dir/listener.pid" ]; then kill "$(cat "$dir/listener.pid")" 2>/dev/null || true; fi
  teardown
  ;;
*)
  echo "usage: $0 start|stop WORKDIR" >&2
  exit 2
  ;;
esac
