#!/bin/sh
# tests/lab/delay_relay.sh — a WAN in front of lab servers (tests/lab/delay_relay.py): TCP
# and UDP from each LISTEN address to its TARGET, each direction DELAY_MS later (RTT =
# 2 × DELAY_MS), every forwarded chunk logged with its time (round trips are counted from
# the log: bench/latency.sh).
#   tests/lab/delay_relay.sh start WORKDIR DELAY_MS LISTEN=TARGET...
#       LISTEN, TARGET: ADDRESS:PORT on loopback; e.g. 127.0.18.5:5269=127.0.17.5:5269
#   tests/lab/delay_relay.sh stop WORKDIR
# Prints pid=, delay_ms=, log= (WORKDIR/relay.log), listen= (the LISTEN addresses).
set -eu
verb=$1 dir=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

case $verb in
start)
  [ $# -ge 4 ] || { echo "usage: $0 start WORKDIR DELAY_MS LISTEN=TARGET..." >&2; exit 2; }
  delay=$3; shift 3
  mkdir -p "$dir"
  : >"$dir/relay.log"
  # A network does not wait for a CPU: real-time priority where allowed (root), so that the
  # machine's load does not make the relay late (it sleeps between chunks, never spins).
  realtime=""
  chrt -f 20 true 2>/dev/null && realtime="chrt -f 20"
  $realtime /usr/bin/python3 -u "$here/delay_relay.py" "$delay" "$dir/relay.log" "$@" \
    </dev/null >"$dir/relay.out" 2>&1 &
  echo $! >"$dir/relay.pid"
  deadline=$(( $(date +%s) + 5 ))
  until grep -q '^ready' "$dir/relay.out" 2>/dev/null; do
    if ! kill -0 "$(cat "$dir/relay.pid")" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
      cat "$dir/relay.out" >&2
      stop_pids "$dir/relay.pid"
      exit 1
    fi
    sleep 0.01
  done
  echo "pid=$(cat "$dir/relay.pid")"
  echo "delay_ms=$delay"
  echo "log=$dir/relay.log"
  listen=""
  for pair in "$@"; do listen="$listen ${pair%%=*}"; done
  echo "listen=${listen# }"
  ;;
stop)
  stop_pids "$dir/relay.pid"
  ;;
*)
  echo "usage: $0 start WORKDIR DELAY_MS LISTEN=TARGET... | stop WORKDIR" >&2
  exit 2
  ;;
esac
