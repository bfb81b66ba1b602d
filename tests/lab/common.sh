# tests/lab/common.sh — what every lab script needs; sourced, not run.

# stop_pids FILE: stops every PID listed in FILE (the processes this script started, and
# only those), then waits until they are gone — at most 10 s — so that their addresses are
# free and their directory can be removed when the caller goes on.
stop_pids() {
  [ -f "$1" ] || return 0
  for pid in $(cat "$1"); do kill "$pid" 2>/dev/null || true; done
  for pid in $(cat "$1"); do
    tries=0
    while kill -0 "$pid" 2>/dev/null && [ $tries -lt 500 ]; do
      tries=$((tries + 1)); sleep 0.02
    done
  done
  rm -f "$1"
}

# on_loopback ADDRESS: servers that scan the interfaces (named, pdns) listen only on
# addresses configured on one. 127.0.0.0/8 routes to lo, but the address itself must be on
# lo. Idempotent; harmless to leave.
on_loopback() {
  ip -4 addr show dev lo | grep -q " $1/" || ip addr add "$1/32" dev lo
}
