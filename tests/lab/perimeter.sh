#!/bin/sh
# tests/lab/perimeter.sh — a vantage host outside the perimeter for the failover tests
# (issue 7): network namespace rbe-vp with a real sshd, joined to the test host by one veth
# pair, behind a firewall that drops XMPP federation (5269) towards the test host.
#   test host  10.253.0.1  (veth rbe-out; stands for the new pool's public address)
#   rbe-vp     10.253.0.2  (sshd; nft: tcp to 10.253.0.1:5269 dropped)
# Only the veth end rbe-out lives in the test host's own namespace; deleting rbe-vp removes
# the pair. Nothing is routed beyond the /30.
# Usage: tests/lab/perimeter.sh start WORKDIR | stop WORKDIR
# start prints the sshd's key=value lines, then public=, vantage=.
set -eu
verb=$1 dir=$2
root=$(cd "$(dirname "$0")/../.." && pwd)

teardown() {
  "$root/tests/lab/sshd.sh" stop "$dir/sshd" 2>/dev/null || true
  ip netns del rbe-vp 2>/dev/null || true
  ip link del rbe-out 2>/dev/null || true
}

case $verb in
start)
  teardown                      # left over from a run that was killed
  trap 'teardown' EXIT          # also when a command below fails (set -e)
  ip netns add rbe-vp
  ip -n rbe-vp link set lo up
  ip link add rbe-out type veth peer name eth0 netns rbe-vp
  ip addr add 10.253.0.1/30 dev rbe-out
  ip link set rbe-out up
  ip -n rbe-vp addr add 10.253.0.2/30 dev eth0
  ip -n rbe-vp link set eth0 up
  ip netns exec rbe-vp nft -f - <<'NFT'
table inet rbe {
  chain output {
    type filter hook output priority 0; policy accept;
    ip daddr 10.253.0.1 tcp dport 5269 drop
  }
}
NFT
  mkdir -p "$dir/sshd"
  ip netns exec rbe-vp "$root/tests/lab/sshd.sh" start "$dir/sshd" auto 10.253.0.2
  echo "public=10.253.0.1"
  echo "vantage=10.253.0.2"
  trap - EXIT
  ;;
stop)
  teardown
  ;;
*)
  echo "usage: $0 start|stop WORKDIR" >&2
  exit 2
  ;;
esac
