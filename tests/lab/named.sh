#!/bin/sh
# tests/lab/named.sh — BIND named, authoritative for a fresh contoso.com that accepts
# RFC 2136 updates signed with TSIG keys (one per algorithm).
#   named.sh start WORKDIR [ADDRESS] [PORT]   (default 127.0.53.1 5301)
#   named.sh stop WORKDIR
# Prints pid=, address=, port=, zone=, key=<tsig-keygen file, hmac-sha256>, key_<alg>=...,
# key_denied= (a key the server knows but does not let update), log=.
set -u
verb=$1; dir=$2
. "$(dirname "$0")/common.sh"
address=${3:-127.0.53.1}; port=${4:-5301}

case $verb in
stop) stop_pids "$dir/started.pid"; exit 0 ;;
start) ;;
*) echo "usage: $0 start|stop WORKDIR [ADDRESS] [PORT]" >&2; exit 2 ;;
esac

mkdir -p "$dir"
on_loopback "$address" || exit 1
for alg in sha256 sha1 sha384 sha512 md5; do
  /usr/sbin/tsig-keygen -a "hmac-$alg" "tsig-$alg." > "$dir/tsig-$alg.key" || exit 1
done
/usr/sbin/tsig-keygen -a hmac-sha256 "tsig-denied." > "$dir/tsig-denied.key" || exit 1

cat > "$dir/contoso.com.zone" <<ZONE
\$TTL 300
@       IN SOA ns1.contoso.com. hostmaster.contoso.com. 1 3600 600 86400 300
@       IN NS  ns1.contoso.com.
ns1     IN A   $address
sip     IN A   192.0.2.10
edge1   IN A   192.0.2.21
alias   IN CNAME sip.contoso.com.
txt     IN TXT "hello world"
_xmpp-server._tcp IN SRV 10 0 5269 edge1.contoso.com.
ZONE
# enough TXT data that a UDP answer (512 bytes without EDNS) is truncated: TCP fallback
i=0
while [ $i -lt 20 ]; do
  echo "big IN TXT \"record $i of a set too large for one UDP datagram without EDNS\"" \
    >> "$dir/contoso.com.zone"
  i=$((i + 1))
done
rm -f "$dir/contoso.com.zone.jnl"

{
  for alg in sha256 sha1 sha384 sha512 md5; do echo "include \"$dir/tsig-$alg.key\";"; done
  cat <<CONF
include "$dir/tsig-denied.key";
options {
  directory "$dir";
  pid-file "$dir/named.pid";
  session-keyfile "$dir/session.key";
  managed-keys-directory "$dir";
  listen-on port $port { $address; };
  listen-on-v6 { none; };
  recursion no;
  notify no;
  dnssec-validation no;
};
controls { };
zone "contoso.com" {
  type primary;
  file "$dir/contoso.com.zone";
  allow-update { key "tsig-sha256."; key "tsig-sha1."; key "tsig-sha384.";
                 key "tsig-sha512."; key "tsig-md5."; };
};
CONF
} > "$dir/named.conf"

/usr/sbin/named -g -4 -c "$dir/named.conf" </dev/null >>"$dir/named.log" 2>&1 &
echo $! > "$dir/started.pid"

deadline=$(($(date +%s) + 15))
until dig @"$address" -p "$port" +short +time=1 +tries=1 contoso.com SOA 2>/dev/null \
    | grep -q hostmaster; do
  if ! kill -0 "$(cat "$dir/started.pid")" 2>/dev/null || [ "$(date +%s)" -gt "$deadline" ]; then
    echo "named did not come up on $address:$port" >&2
    tail -20 "$dir/named.log" >&2
    kill "$(cat "$dir/started.pid")" 2>/dev/null
    exit 1
  fi
  sleep 0.02
done

echo "pid=$(cat "$dir/started.pid")"
echo "address=$address"
echo "port=$port"
echo "zone=contoso.com"
echo "key=$dir/tsig-sha256.key"
for alg in sha256 sha1 sha384 sha512 md5; do echo "key_$alg=$dir/tsig-$alg.key"; done
echo "key_denied=$dir/tsig-denied.key"
echo "log=$dir/named.log"
