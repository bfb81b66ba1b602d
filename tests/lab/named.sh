#!/bin/sh
# tests/lab/named.sh — BIND named, authoritative for a fresh contoso.com that accepts
# RFC 2136 updates signed with TSIG keys (one per algorithm); or a secondary of such a
# primary, which transfers the zone only when told to.
#   named.sh start WORKDIR [ADDRESS] [PORT]   (default 127.0.53.1 5301): the primary
#   named.sh start WORKDIR ADDRESS PORT secondary PRIMARY_ADDRESS PRIMARY_PORT PRIMARY_KEY
#       a secondary that transfers contoso.com from the primary (TSIG: the primary's
#       key= file) once at start, then never again by itself: the primary sends no NOTIFY
#       and the SOA refresh is an hour. `rndc -c <rndc_conf> retransfer contoso.com` makes it
#       catch up (controls on ADDRESS port 953).
#   named.sh start WORKDIR ADDRESS PORT gss KEYTAB PRINCIPAL KRB5_CONF
#       a primary that also takes GSS-TSIG (RFC 3645): tkey-gssapi-keytab KEYTAB (the KDC's
#       DNS/ns1.runbook.test, tests/lab/kdc.sh), the zone's update-policy granting PRINCIPAL
#       and the key tsig-sha256.; its SOA names ns1.runbook.test as the primary, so that
#       nsupdate -g asks for DNS/ns1.runbook.test.
#   named.sh stop WORKDIR
# The primary prints pid=, address=, port=, zone=, key=<tsig-keygen file, hmac-sha256>,
# key_<alg>=..., key_denied= (a key the server knows but does not let update), log=.
# The secondary prints pid=, address=, port=, zone=, primary=ADDRESS:PORT, rndc_conf=, log=.
set -u
verb=$1; dir=$2
. "$(dirname "$0")/common.sh"
address=${3:-127.0.53.1}; port=${4:-5301}; mode=${5:-primary}

case $verb in
stop) stop_pids "$dir/started.pid"; exit 0 ;;
start) ;;
*) echo "usage: $0 start|stop WORKDIR [ADDRESS] [PORT] [secondary PRIMARY_ADDRESS" \
     "PRIMARY_PORT PRIMARY_KEY]" >&2; exit 2 ;;
esac
case $mode in
primary) ;;
gss)
  if [ $# -ne 8 ] || [ ! -r "$6" ]; then
    echo "$0: gss needs KEYTAB PRINCIPAL KRB5_CONF" >&2
    exit 2
  fi
  keytab=$6; granted=$7; export KRB5_CONFIG=$8 ;;
secondary)
  if [ $# -ne 8 ] || [ ! -r "$8" ]; then
    echo "$0: secondary needs PRIMARY_ADDRESS PRIMARY_PORT and the primary's key file" >&2
    exit 2
  fi
  primary_address=$6; primary_port=$7; primary_key=$8 ;;
*) echo "$0: mode must be secondary (or left out for a primary), got '$mode'" >&2; exit 2 ;;
esac

mkdir -p "$dir"
on_loopback "$address" || exit 1

# options every server shares: this address only, authoritative only, no NOTIFY
options() {
  cat <<CONF
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
CONF
  if [ -n "${keytab:-}" ]; then echo "  tkey-gssapi-keytab \"$keytab\";"; fi
  echo "};"
}

write_zone() {
  cat > "$dir/contoso.com.zone" <<ZONE
\$TTL 300
@       IN SOA ${mname:-ns1.contoso.com.} hostmaster.contoso.com. 1 3600 600 86400 300
@       IN NS  ns1.contoso.com.
ns1     IN A   $address
sip     IN A   192.0.2.10
ipv6    IN AAAA 2001:db8::10
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
}

write_primary_conf() {
  for alg in sha256 sha1 sha384 sha512 md5; do
    /usr/sbin/tsig-keygen -a "hmac-$alg" "tsig-$alg." > "$dir/tsig-$alg.key" || exit 1
  done
  /usr/sbin/tsig-keygen -a hmac-sha256 "tsig-denied." > "$dir/tsig-denied.key" || exit 1
  write_zone
  {
    for alg in sha256 sha1 sha384 sha512 md5; do echo "include \"$dir/tsig-$alg.key\";"; done
    echo "include \"$dir/tsig-denied.key\";"
    options
    cat <<CONF
controls { };
zone "contoso.com" {
  type primary;
  file "$dir/contoso.com.zone";
  allow-transfer { key "tsig-sha256."; };
CONF
    if [ "$mode" = gss ]; then
      echo "  update-policy { grant \"$granted\" zonesub ANY; grant tsig-sha256. zonesub ANY; };"
    else
      echo '  allow-update { key "tsig-sha256."; key "tsig-sha1."; key "tsig-sha384.";'
      echo '                 key "tsig-sha512."; key "tsig-md5."; };'
    fi
    echo "};"
  } > "$dir/named.conf"
}

write_secondary_conf() {
  key_name=$(sed -n 's/^key "\([^"]*\)".*/\1/p' "$primary_key")
  /usr/sbin/tsig-keygen -a hmac-sha256 rndc-key > "$dir/rndc.key" || exit 1
  rm -f "$dir/contoso.com.secondary"
  {
    echo "include \"$primary_key\";"
    echo "include \"$dir/rndc.key\";"
    options
    cat <<CONF
controls { inet $address port 953 allow { 127.0.0.0/8; } keys { "rndc-key"; }; };
zone "contoso.com" {
  type secondary;
  file "$dir/contoso.com.secondary";
  primaries { $primary_address port $primary_port key "$key_name"; };
};
CONF
  } > "$dir/named.conf"
  cat > "$dir/rndc.conf" <<CONF
include "$dir/rndc.key";
options { default-key "rndc-key"; default-server $address; default-port 953; };
CONF
}

[ "$mode" = gss ] && mname=ns1.runbook.test.
if [ "$mode" = secondary ]; then write_secondary_conf; else write_primary_conf; fi

/usr/sbin/named -g -4 -c "$dir/named.conf" </dev/null >>"$dir/named.log" 2>&1 &
echo $! > "$dir/started.pid"

# ready when it serves the zone (a secondary: once the first transfer is done)
deadline=$(($(date +%s) + 15))
until dig @"$address" -p "$port" +short +time=1 +tries=1 contoso.com SOA 2>/dev/null \
    | grep -q hostmaster; do
  if ! kill -0 "$(cat "$dir/started.pid")" 2>/dev/null || [ "$(date +%s)" -gt "$deadline" ]; then
    if [ "$mode" = secondary ]; then
      echo "secondary named on $address:$port did not load contoso.com from" \
        "$primary_address:$primary_port (is the primary up? see the log below)" >&2
    else
      echo "named did not come up on $address:$port" >&2
    fi
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
if [ "$mode" = secondary ]; then
  echo "primary=$primary_address:$primary_port"
  echo "rndc_conf=$dir/rndc.conf"
else
  echo "key=$dir/tsig-sha256.key"
  for alg in sha256 sha1 sha384 sha512 md5; do echo "key_$alg=$dir/tsig-$alg.key"; done
  echo "key_denied=$dir/tsig-denied.key"
fi
echo "log=$dir/named.log"
