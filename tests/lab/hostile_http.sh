#!/bin/sh
# tests/lab/hostile_http.sh — HTTP peers that send without end and a TLS echo
# (tests/lab/hostile_http.py) on ADDRESS, on free ports; the TLS certificate names localhost
# and 127.0.0.1, signed by a test CA (ca_file=).
# Usage: tests/lab/hostile_http.sh start WORKDIR ADDRESS | stop WORKDIR
set -eu
verb=$1 dir=$2
. "$(dirname "$0")/common.sh"
here=$(cd "$(dirname "$0")" && pwd)
case $verb in
start)
  address=$3 certs=$dir/certs
  "$here/certs.sh" ca "$certs"
  "$here/certs.sh" leaf "$certs" localhost localhost "DNS:localhost,IP:$address"
  /usr/bin/python3 -u "$here/hostile_http.py" "$address" "$certs" </dev/null \
    >>"$dir/hostile_http.log" 2>&1 &
  echo $! >"$dir/hostile_http.pid"
  deadline=$(( $(date +%s) + 5 ))
  until grep -q '^http=' "$dir/hostile_http.log" 2>/dev/null; do
    if ! kill -0 "$(cat "$dir/hostile_http.pid")" 2>/dev/null ||
       [ "$(date +%s)" -ge "$deadline" ]; then
      cat "$dir/hostile_http.log" >&2
      exit 1
    fi
    sleep 0.01
  done
  echo "pid=$(cat "$dir/hostile_http.pid")"
  echo "address=$address"
  grep '^http=' "$dir/hostile_http.log" | tr ' ' '\n'
  echo "ca_file=$certs/ca.pem"
  ;;
stop)
  stop_pids "$dir/hostile_http.pid"
  ;;
*)
  echo "usage: $0 start WORKDIR ADDRESS | stop WORKDIR" >&2
  exit 2
  ;;
esac
