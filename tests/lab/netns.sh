#!/bin/sh
# tests/lab/netns.sh — three hosts on one bridge, in network namespaces, for port-state tests
# (issue 6). Names rbn-*, addresses 10.252.0.0/24 and fd52::/64 (IPv6 without duplicate
# address detection, so usable at once); firewall rules and routes to the reject prefixes
# exist only in rbn-srv.
#   rbn-op  10.252.0.1  fd52::1  the operator
#   rbn-srv 10.252.0.2  fd52::2  the server: a listener on 5269 (open), nothing on 5270
#                       (closed), nft over IPv4 and IPv6 alike: 5271 drop (filtered),
#                       5272 reject with tcp reset,
#                       5273 reject with icmp / icmpv6 port-unreachable,
#                       5274 reject with icmp / icmpv6 admin-prohibited,
#                       5275 reject with icmp net-prohibited / icmpv6 reject-route,
#                       5276 reject with icmp host-prohibited / icmpv6 policy-fail,
#                       5269 dropped for the vantage host only (a perimeter firewall);
#                       a router for the operator (forwarding on):
#                       10.254.1.0/24, fd54:1::/64 unreachable routes (ICMP host-unreachable,
#                       ICMPv6 no-route), 10.254.2.0/24, fd54:2::/64 prohibit routes (ICMP
#                       admin-prohibited); ICMP errors not rate-limited, so tests are exact
#   rbn-vp  10.252.0.3  fd52::3  the vantage host outside the perimeter
#   10.252.0.4 is a second address of rbn-srv, free for a real server (Prosody) on 5269
#   10.252.0.5 is a third one, for a real server the vantage host may reach on 5269 too
#   10.253.0.0/16, fd53::/16 have no route from any host; 10.252.0.9, fd52::9 are on the
#   link but nobody answers ARP / neighbour discovery (the operator gives up after 0.6 s)
# Usage: tests/lab/netns.sh start WORKDIR | stop WORKDIR
set -eu
verb=$1 dir=$2
hosts="op:1 srv:2 vp:3"

teardown() {
  for ns in rbn-op rbn-srv rbn-vp rbn-sw; do
    ip netns del "$ns" 2>/dev/null || true
  done
}

# add_host NAME N: namespace rbn-NAME, its eth0 on the bridge as 10.252.0.N and fd52::N.
add_host() {
  ip netns add "rbn-$1"
  ip -n "rbn-$1" link set lo up
  ip -n "rbn-$1" link add eth0 type veth peer name "p$2" netns rbn-sw
  ip -n "rbn-$1" addr add "10.252.0.$2/24" dev eth0
  ip -n "rbn-$1" addr add "fd52::$2/64" dev eth0 nodad
  ip -n "rbn-$1" link set eth0 up
  ip -n rbn-sw link set "p$2" master br0
  ip -n rbn-sw link set "p$2" up
}

# rbn-srv routes the reject prefixes for the operator, answering with ICMP errors.
add_router() {
  ip netns exec rbn-srv sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
    net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
  ip -n rbn-srv route add unreachable 10.254.1.0/24
  ip -n rbn-srv route add prohibit 10.254.2.0/24
  ip -n rbn-srv -6 route add unreachable fd54:1::/64
  ip -n rbn-srv -6 route add prohibit fd54:2::/64
  ip -n rbn-op route add 10.254.0.0/16 via 10.252.0.2
  ip -n rbn-op -6 route add fd54::/16 via fd52::2
  ip netns exec rbn-op sysctl -qw net.ipv4.neigh.eth0.retrans_time_ms=200 \
    net.ipv6.neigh.eth0.retrans_time_ms=200
}

case $verb in
start)
  teardown                      # left over from a run that was killed
  trap 'teardown' EXIT          # also when a command below fails (set -e)
  ip netns add rbn-sw
  ip -n rbn-sw link add br0 type bridge
  ip -n rbn-sw link set br0 up
  for entry in $hosts; do
    add_host "${entry%:*}" "${entry#*:}"
  done
  ip -n rbn-srv addr add 10.252.0.4/24 dev eth0
  ip -n rbn-srv addr add 10.252.0.5/24 dev eth0
  add_router
  ip netns exec rbn-srv nft -f - <<'NFT'
table inet rbn {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr 10.252.0.3 ip daddr != 10.252.0.5 tcp dport 5269 drop
    ip6 saddr fd52::3 tcp dport 5269 drop
    tcp dport 5271 drop
    tcp dport 5272 reject with tcp reset
    tcp dport 5273 reject with icmpx type port-unreachable
    tcp dport 5274 reject with icmpx type admin-prohibited
    meta nfproto ipv4 tcp dport 5275 reject with icmp type net-prohibited
    meta nfproto ipv6 tcp dport 5275 reject with icmpv6 type reject-route
    meta nfproto ipv4 tcp dport 5276 reject with icmp type host-prohibited
    meta nfproto ipv6 tcp dport 5276 reject with icmpv6 type policy-fail
  }
}
NFT
  # A listener with a deep backlog that never accepts: the kernel completes the handshakes
  # (nc's backlog of 1 would drop SYNs under a concurrent scan and look filtered).
  ip netns exec rbn-srv /usr/bin/python3 -c 'import socket, time
listeners = [socket.create_server((address, 5269), family=family, backlog=1024)
             for address, family in (("10.252.0.2", socket.AF_INET),
                                     ("fd52::2", socket.AF_INET6))]
print("ready", flush=True)
time.sleep(1e9)' </dev/null >>"$dir/listener.log" 2>&1 &
  echo $! >"$dir/listener.pid"
  deadline=$(( $(date +%s) + 5 ))
  until grep -q ready "$dir/listener.log" 2>/dev/null; do
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
  echo "server6=fd52::2"
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
