#!/bin/sh
# tests/lab/certs.sh — test certificates: a test CA, and leaf certificates it signs (EC
# P-256, valid two days), for the lab's TLS peers (tests/lab/hostile.sh) and the seeds of
# the certificate fuzzer (tests/fuzz/cert_seeds.sh).
# Usage: tests/lab/certs.sh ca DIR                   -> DIR/ca.pem, DIR/ca.key
#        tests/lab/certs.sh leaf DIR NAME CN [SAN]   -> DIR/NAME.pem, DIR/NAME.key, DIR/NAME.der
#   CN: the subject CN; SAN: an openssl subjectAltName value (none: no subjectAltName), e.g.
#     DNS:contoso.com,DNS:*.contoso.com
#     otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_xmpp-server.contoso.com   (SRV-ID, RFC 4985)
#     otherName:1.3.6.1.5.5.7.8.5;UTF8:contoso.com                      (XmppAddr, RFC 6120)
set -eu
verb=$1 dir=$2
mkdir -p "$dir"
log=$dir/openssl.log
case $verb in
ca)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=runbook lab test CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>>"$log"
  ;;
leaf)
  name=$3 cn=$4 san=${5:-}
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$cn" \
    -keyout "$dir/$name.key" -out "$dir/$name.csr" 2>>"$log"
  printf 'basicConstraints = CA:FALSE\n' >"$dir/$name.ext"
  [ -z "$san" ] || printf 'subjectAltName = %s\n' "$san" >>"$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -days 2 \
    -set_serial "0x$(openssl rand -hex 8)" -extfile "$dir/$name.ext" \
    -out "$dir/$name.pem" 2>>"$log"
  openssl x509 -in "$dir/$name.pem" -outform der -out "$dir/$name.der"
  rm -f "$dir/$name.csr" "$dir/$name.ext"
  ;;
*)
  echo "usage: $0 ca DIR | leaf DIR NAME CN [SAN]" >&2
  exit 2
  ;;
esac
