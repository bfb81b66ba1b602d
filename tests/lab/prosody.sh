#!/bin/sh
# tests/lab/prosody.sh — a real Prosody serving XMPP server-to-server (5269) for contoso.com,
# with a self-signed test certificate, on a loopback address (issue 6).
# Usage: tests/lab/prosody.sh start WORKDIR ADDRESS [CERT_NAME [NETNS]]
#          CERT_NAME: the name the certificate is for (default contoso.com, with SAN
#          contoso.com and *.contoso.com); any other name gives a certificate for the
#          wrong domain, SAN CERT_NAME only.
#          NETNS: run Prosody inside that network namespace (one of ours, rbn-*)
#        tests/lab/prosody.sh stop WORKDIR
# Prints pid=, address=, port=5269, domain=contoso.com, ca_file= (the certificate itself).
set -eu
verb=$1 dir=$2
. "$(dirname "$0")/common.sh"

case $verb in
start)
  address=$3 name=${4:-contoso.com} netns=${5:-}
  in_netns=""
  [ -z "$netns" ] || in_netns="ip netns exec $netns"
  san="DNS:$name"
  [ "$name" != contoso.com ] || san="DNS:contoso.com,DNS:*.contoso.com"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$name" \
    -addext "subjectAltName=$san" -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>>"$dir/openssl.log"
  mkdir -p "$dir/data"
  cat >"$dir/prosody.cfg.lua" <<CFG
interfaces = { "$address" }
local_interfaces = { "$address" }
s2s_ports = { 5269 }
c2s_ports = { 45222 }
http_ports = {}
https_ports = {}
pidfile = "$dir/prosody.pid"
data_path = "$dir/data"
admin_socket = "$dir/admin.sock"
certificates = "$dir"
run_as_root = true
daemonize = false
log = { { levels = { min = "info" }, to = "console" } }
modules_enabled = { "tls"; "dialback"; "saslauth"; "disco"; "ping" }
modules_disabled = { "posix" }
s2s_require_encryption = true
s2s_secure_auth = false
VirtualHost "contoso.com"
  ssl = { key = "$dir/key.pem"; certificate = "$dir/cert.pem" }
CFG
  $in_netns prosody -F --config "$dir/prosody.cfg.lua" </dev/null >>"$dir/prosody.log" 2>&1 &
  echo $! >"$dir/server.pid"
  # Ready when a STARTTLS handshake for contoso.com completes.
  deadline=$(( $(date +%s) + 10 ))
  until $in_netns timeout 2 openssl s_client -starttls xmpp-server -xmpphost contoso.com \
        -connect "$address:5269" </dev/null >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$dir/server.pid")" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
      tail -20 "$dir/prosody.log" >&2
      kill "$(cat "$dir/server.pid")" 2>/dev/null || true
      exit 1
    fi
    sleep 0.02
  done
  echo "pid=$(cat "$dir/server.pid")"
  echo "address=$address"
  echo "port=5269"
  echo "domain=contoso.com"
  echo "ca_file=$dir/cert.pem"
  ;;
stop)
  stop_pids "$dir/server.pid"
  ;;
*)
  echo "usage: $0 start WORKDIR ADDRESS [CERT_NAME] | stop WORKDIR" >&2
  exit 2
  ;;
esac
