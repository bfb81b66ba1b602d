#!/bin/sh
# tests/lab/pdns.sh — PowerDNS Authoritative with the sqlite backend and its HTTP API,
# serving a fresh contoso.com with the same records as tests/lab/named.sh, and taking RFC
# 2136 updates signed with a TSIG key (dnsupdate=yes; the key in the backend's tsigkeys
# table and granted by the zone's TSIG-ALLOW-DNSUPDATE metadata, set with pdnsutil).
#   pdns.sh start WORKDIR [ADDRESS] [DNS_PORT] [HTTP_PORT]   (default 127.0.53.2 5301 8081)
#   pdns.sh stop WORKDIR
# Prints pid=, address=, port=, api_url=, api_key=, api_key_file= (mode 0600),
# web_password= (HTTP basic auth of the statistics pages), key= (the TSIG key file, as
# tsig-keygen writes it, mode 0600), zone=, log=.
set -u
verb=$1; dir=$2
. "$(dirname "$0")/common.sh"
address=${3:-127.0.53.2}; port=${4:-5301}; http_port=${5:-8081}

case $verb in
stop) stop_pids "$dir/started.pid"; exit 0 ;;
start) ;;
*) echo "usage: $0 start|stop WORKDIR [ADDRESS] [DNS_PORT] [HTTP_PORT]" >&2; exit 2 ;;
esac

mkdir -p "$dir"
on_loopback "$address" || exit 1
api_key=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
(umask 077; echo "$api_key" > "$dir/api.key")
web_password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
rm -f "$dir/pdns.sqlite3"
sqlite3 "$dir/pdns.sqlite3" < /usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql || exit 1
cat > "$dir/pdns.conf" <<CONF
launch=gsqlite3
gsqlite3-database=$dir/pdns.sqlite3
local-address=$address:$port
api=yes
api-key=$api_key
webserver=yes
webserver-address=$address
webserver-port=$http_port
webserver-allow-from=127.0.0.0/8
webserver-password=$web_password
socket-dir=$dir
daemon=no
guardian=no
disable-syslog=yes
security-poll-suffix=
default-soa-content=ns1.@ hostmaster.@ 1 3600 600 86400 300
dnsupdate=yes
allow-dnsupdate-from=127.0.0.0/8
zone-metadata-cache-ttl=0
CONF

/usr/sbin/pdns_server --config-dir="$dir" </dev/null >>"$dir/pdns.log" 2>&1 &
echo $! > "$dir/started.pid"
api="http://$address:$http_port/api/v1/servers/localhost"

fail() {
  echo "pdns: $1" >&2
  tail -20 "$dir/pdns.log" >&2
  kill "$(cat "$dir/started.pid")" 2>/dev/null
  exit 1
}

deadline=$(($(date +%s) + 15))
until [ "$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $api_key" "$api")" = 200 ]; do
  kill -0 "$(cat "$dir/started.pid")" 2>/dev/null || fail "pdns_server exited"
  [ "$(date +%s)" -gt "$deadline" ] && fail "API did not answer on $address:$http_port"
  sleep 0.02
done

rrset() {  # name type content...
  name=$1; type=$2; shift 2
  records=""
  for content in "$@"; do
    records="$records${records:+,}{\"content\": \"$content\", \"disabled\": false}"
  done
  printf '{"name": "%s", "type": "%s", "ttl": 300, "records": [%s]}' "$name" "$type" "$records"
}
zone=$(cat <<JSON
{"name": "contoso.com.", "kind": "Native", "nameservers": ["ns1.contoso.com."],
 "rrsets": [
  $(rrset ns1.contoso.com. A "$address"),
  $(rrset sip.contoso.com. A 192.0.2.10),
  $(rrset ipv6.contoso.com. AAAA 2001:db8::10),
  $(rrset edge1.contoso.com. A 192.0.2.21),
  $(rrset alias.contoso.com. CNAME sip.contoso.com.),
  $(rrset txt.contoso.com. TXT '\"hello world\"'),
  $(rrset _xmpp-server._tcp.contoso.com. SRV "10 0 5269 edge1.contoso.com.")
 ]}
JSON
)
code=$(curl -s -o "$dir/create.out" -w '%{http_code}' -X POST -H "X-API-Key: $api_key" \
  -H 'Content-Type: application/json' --data "$zone" "$api/zones")
[ "$code" = 201 ] || fail "creating contoso.com answered $code: $(cat "$dir/create.out")"

tsig_secret=$(head -c 32 /dev/urandom | base64)
(umask 077; printf 'key "runbook-update." {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n' \
  "$tsig_secret" > "$dir/update.key")
pdnsutil --config-dir="$dir" import-tsig-key runbook-update hmac-sha256 "$tsig_secret" \
  >>"$dir/pdns.log" 2>&1 || fail "pdnsutil import-tsig-key failed"
pdnsutil --config-dir="$dir" set-meta contoso.com TSIG-ALLOW-DNSUPDATE runbook-update \
  >>"$dir/pdns.log" 2>&1 || fail "pdnsutil set-meta TSIG-ALLOW-DNSUPDATE failed"

until dig @"$address" -p "$port" +short +time=1 +tries=1 sip.contoso.com A 2>/dev/null \
    | grep -q 192.0.2.10; do
  [ "$(date +%s)" -gt "$deadline" ] && fail "DNS did not answer on $address:$port"
  sleep 0.02
done

echo "pid=$(cat "$dir/started.pid")"
echo "address=$address"
echo "port=$port"
echo "api_url=http://$address:$http_port"
echo "api_key=$api_key"
echo "api_key_file=$dir/api.key"
echo "web_password=$web_password"
echo "key=$dir/update.key"
echo "zone=contoso.com"
echo "log=$dir/pdns.log"
