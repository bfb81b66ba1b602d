#!/bin/sh
# tests/lab/hostile.sh — peers that misbehave (tests/lab/hostile.py): silent, garbage,
# endless, echo, tls_garbage, tls_silent on ADDRESS, ports BASE..BASE+5.
# Usage: tests/lab/hostile.sh start WORKDIR ADDRESS BASE | stop WORKDIR
set -eu
verb=$1 dir=$2
. "$(dirname "$0")/common.sh"
here=$(cd "$(dirname "$0")" && pwd)
case $verb in
start)
  address=$3 base=$4
  /usr/bin/python3 -u "$here/hostile.py" "$address" "$base" </dev/null >>"$dir/hostile.log" 2>&1 &
  echo $! >"$dir/hostile.pid"
  deadline=$(( $(date +%s) + 5 ))
  until grep -q '^ready' "$dir/hostile.log" 2>/dev/null; do
    if ! kill -0 "$(cat "$dir/hostile.pid")" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
      cat "$dir/hostile.log" >&2
      exit 1
    fi
    sleep 0.01
  done
  echo "pid=$(cat "$dir/hostile.pid")"
  echo "address=$address"
  echo "silent=$base"
  echo "garbage=$((base + 1))"
  echo "endless=$((base + 2))"
  echo "echo=$((base + 3))"
  echo "tls_garbage=$((base + 4))"
  echo "tls_silent=$((base + 5))"
  ;;
stop)
  stop_pids "$dir/hostile.pid"
  ;;
*)
  echo "usage: $0 start WORKDIR ADDRESS BASE | stop WORKDIR" >&2
  exit 2
  ;;
esac
