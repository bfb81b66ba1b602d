#!/bin/sh
# tests/lab/kdc.sh — an MIT Kerberos KDC on loopback with a test realm: a user with a
# password, the WinRM service principal HTTP/fe1.<realm>, the DNS server's DNS/ns1.<realm>
# (GSS-TSIG), keytabs for both (and dns-stale.keytab: the DNS key before it was exported
# again, another kvno, as a server left with an old keytab has it), and a krb5.conf for the
# clients that turns off every DNS lookup and names the KDC by its loopback address: nothing
# leaves the machine.
#   kdc.sh start WORKDIR [ADDRESS] [PORT] [HOST...]   (default 127.0.88.1, port 8800)
#     each HOST (an emulated Windows server's FQDN) gets HTTP/HOST in http.keytab too, and
#     maps to the realm
#   kdc.sh stop WORKDIR
# Prints pid=, address=, port=, realm=, krb5_conf= (KRB5_CONFIG for clients and servers),
# user= (user@REALM), password=, other_user= (a second user, same password), http_keytab=,
# http_principal=, dns_keytab=, dns_stale_keytab=, dns_principal=,
# host= (fe1.<realm lowercased>), ccache_dir=.
# Ready once kinit, an independent client, got a ticket for the user with the password.
set -u
verb=$1; dir=$2
. "$(dirname "$0")/common.sh"
address=${3:-127.0.88.1}; port=${4:-8800}
if [ $# -gt 4 ]; then shift 4; else set --; fi
realm=RUNBOOK.TEST
domain=runbook.test
password='Kdc-Passw0rd/+=9'
master='master-Passw0rd'

case $verb in
stop) stop_pids "$dir/kdc.pid"; exit 0 ;;
start) ;;
*) echo "usage: $0 start|stop WORKDIR [ADDRESS] [PORT]" >&2; exit 2 ;;
esac

if ss -Hlnu "src $address:$port" 2>/dev/null | grep -q .; then
  echo "$address:$port is taken: another KDC runs there" >&2
  exit 1
fi
mkdir -p "$dir/db" "$dir/ccache"
cat >"$dir/krb5.conf" <<EOF
[libdefaults]
  default_realm = $realm
  dns_lookup_kdc = false
  dns_lookup_realm = false
  rdns = false
  dns_canonicalize_hostname = false
  ignore_acceptor_hostname = false
  udp_preference_limit = 1
  kdc_timeout = 2000
  max_retries = 1
[realms]
  $realm = {
    kdc = $address:$port
  }
[domain_realm]
  .$domain = $realm
  $domain = $realm
EOF
for host in "$@"; do echo "  $host = $realm" >>"$dir/krb5.conf"; done
cat >"$dir/kdc.conf" <<EOF
[kdcdefaults]
  kdc_listen = $address:$port
  kdc_tcp_listen = $address:$port
[realms]
  $realm = {
    database_name = $dir/db/principal
    key_stash_file = $dir/db/stash
    acl_file = $dir/db/kadm5.acl
    max_life = 10h
    max_renewable_life = 1d
  }
[logging]
  kdc = FILE:$dir/kdc.log
EOF
export KRB5_CONFIG="$dir/krb5.conf" KRB5_KDC_PROFILE="$dir/kdc.conf"

{
  kdb5_util create -s -r "$realm" -P "$master" &&
  kadmin.local -r "$realm" -q "addprinc -pw $password administrator@$realm" &&
  kadmin.local -r "$realm" -q "addprinc -pw $password operator@$realm" &&
  kadmin.local -r "$realm" -q "addprinc -randkey HTTP/fe1.$domain@$realm" &&
  kadmin.local -r "$realm" -q "addprinc -randkey DNS/ns1.$domain@$realm" &&
  kadmin.local -r "$realm" -q "ktadd -k $dir/http.keytab HTTP/fe1.$domain@$realm" &&
  for host in "$@"; do
    kadmin.local -r "$realm" -q "addprinc -randkey HTTP/$host@$realm" &&
    kadmin.local -r "$realm" -q "ktadd -k $dir/http.keytab HTTP/$host@$realm" || exit 1
  done &&
  kadmin.local -r "$realm" -q "ktadd -k $dir/dns-stale.keytab DNS/ns1.$domain@$realm" &&
  kadmin.local -r "$realm" -q "ktadd -k $dir/dns.keytab DNS/ns1.$domain@$realm"
} >"$dir/setup.log" 2>&1 || { cat "$dir/setup.log" >&2; exit 1; }
chmod 644 "$dir/http.keytab" "$dir/dns.keytab" "$dir/dns-stale.keytab"

krb5kdc -n -P "$dir/kdc.pidfile" >"$dir/kdc.out" 2>&1 &
pid=$!
echo $pid >"$dir/kdc.pid"

# ready: kinit (MIT's own client) gets a ticket with the password
deadline=$(( $(date +%s) + 10 ))
until printf '%s\n' "$password" | KRB5CCNAME="FILE:$dir/ccache/probe" \
    kinit "administrator@$realm" >/dev/null 2>&1; do
  if ! kill -0 $pid 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
    cat "$dir/kdc.out" "$dir/kdc.log" >&2 2>/dev/null
    stop_pids "$dir/kdc.pid"
    echo "the KDC did not answer on $address:$port" >&2
    exit 1
  fi
  sleep 0.05
done
rm -f "$dir/ccache/probe"

echo "pid=$pid"
echo "address=$address"
echo "port=$port"
echo "realm=$realm"
echo "krb5_conf=$dir/krb5.conf"
echo "user=administrator@$realm"
echo "other_user=operator@$realm"
echo "password=$password"
echo "host=fe1.$domain"
echo "http_principal=HTTP/fe1.$domain@$realm"
echo "http_keytab=$dir/http.keytab"
echo "dns_principal=DNS/ns1.$domain@$realm"
echo "dns_keytab=$dir/dns.keytab"
echo "dns_stale_keytab=$dir/dns-stale.keytab"
echo "ccache_dir=$dir/ccache"
