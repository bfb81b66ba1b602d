#!/bin/sh
# tests/fuzz/cert_seeds.sh — regenerates tests/fuzz/corpus/cert, the seeds of the
# certificate fuzzer (tests/fuzz/cert_fuzz.c): DER certificates made by the test CA script
# (tests/lab/certs.sh) with the names a peer can present. The files are committed; run this
# only to change them.
set -eu
cd "$(dirname "$0")/../.."
out=tests/fuzz/corpus/cert
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tests/lab/certs.sh ca "$work"
leaf() { tests/lab/certs.sh leaf "$work" "$@"; cp "$work/$1.der" "$out/$1.der"; }
SRV="otherName:1.3.6.1.5.5.7.8.7" XMPP="otherName:1.3.6.1.5.5.7.8.5"
leaf prosody-contoso contoso.com "DNS:contoso.com,DNS:*.contoso.com"   # as tests/lab/prosody.sh
leaf no-san contoso.com
leaf ip-san contoso.com "IP:127.0.0.1,IP:::1"
leaf other-names "XMPP test server" \
  "$SRV;IA5STRING:_xmpp-server.contoso.com,$XMPP;UTF8:contoso.com,URI:xmpp:contoso.com"
leaf other-names-wrong-types contoso.com \
  "$SRV;UTF8:_xmpp-server.contoso.com,$XMPP;IA5STRING:contoso.com,otherName:1.2.3.4;UTF8:x"
# A NUL inside each kind of name: made with an X, which is then replaced (the signature no
# longer verifies; the names are what is fuzzed).
evil=contoso.comXevil.example
leaf nul-in-names "$evil" "DNS:$evil,$SRV;IA5STRING:_xmpp-server.$evil,$XMPP;UTF8:$evil"
python3 -c 'import sys; p = sys.argv[1]; d = open(p, "rb").read()
open(p, "wb").write(d.replace(b"contoso.comXevil", b"contoso.com\0evil"))' "$out/nul-in-names.der"
# Names inputs (an odd first byte; lines "<kind><name>", kinds 0 DNS, 1 URI, 2 IP, 3 SRV-ID,
# 4 XmppAddr, 5 SRV-ID as a UTF8String, 6 subject CN): cert_fuzz.c builds the certificate.
printf '1\000contoso.com\n\000*.contoso.com\n\003_xmpp-server.contoso.com\n' \
  >"$out/names-every-kind"
printf '\004contoso.com\n\006contoso.com\n\002\177\000\000\001\n\001xmpp:contoso.com' \
  >>"$out/names-every-kind"
printf '1\006contoso.com\n\003_xmpp-server.fabrikam.com\n\005_xmpp-server.contoso.com' \
  >"$out/names-cn-and-srv"
printf '1\000contoso.com\000.evil.example\n\004contoso.com\000x\n\006contoso.com\000' \
  >"$out/names-nul"
