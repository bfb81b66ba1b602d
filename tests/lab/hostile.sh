#!/bin/sh
# tests/lab/hostile.sh — peers that misbehave (tests/lab/hostile.py): silent, garbage,
# endless, echo, tls_garbage, tls_silent, filtered_1..3, and XMPP servers over TLS with test
# certificates (tests/lab/certs.sh; ca_file= trusts them) on ADDRESS, ports BASE..BASE+14.
# Usage: tests/lab/hostile.sh start WORKDIR ADDRESS BASE | stop WORKDIR
set -eu
verb=$1 dir=$2
. "$(dirname "$0")/common.sh"
here=$(cd "$(dirname "$0")" && pwd)
case $verb in
start)
  address=$3 base=$4 certs=$dir/certs
  "$here/certs.sh" ca "$certs"
  "$here/certs.sh" leaf "$certs" contoso contoso.com "DNS:contoso.com"
  "$here/certs.sh" leaf "$certs" srv-id "XMPP test server" \
    "otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_xmpp-server.contoso.com"
  "$here/certs.sh" leaf "$certs" xmpp-addr "XMPP test server" \
    "otherName:1.3.6.1.5.5.7.8.5;UTF8:contoso.com"
  "$here/certs.sh" leaf "$certs" srv-id-other contoso.com \
    "otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_xmpp-server.fabrikam.com"
  /usr/bin/python3 -u "$here/hostile.py" "$address" "$base" "$certs" </dev/null \
    >>"$dir/hostile.log" 2>&1 &
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
  offset=6
  for peer in filtered_1 filtered_2 filtered_3 sasl_external no_auth dialback_declared \
              srv_id xmpp_addr srv_id_other_cn; do
    echo "$peer=$((base + offset))"
    offset=$((offset + 1))
  done
  echo "ca_file=$certs/ca.pem"
  ;;
stop)
  stop_pids "$dir/hostile.pid"
  ;;
*)
  echo "usage: $0 start WORKDIR ADDRESS BASE | stop WORKDIR" >&2
  exit 2
  ;;
esac
