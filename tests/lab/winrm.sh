#!/bin/sh
# tests/lab/winrm.sh — the WinRM service of Windows servers, emulated on loopback
# (tests/lab/winrm_emulator.py: WS-Management shell operations, Basic and NTLM).
#
#   tests/lab/winrm.sh start WORKDIR [--http|--shipped] [--cbt LEVEL] [--kerberos KDC_DIR]
#                            [--user NAME] [--token-filter 0|1] PORT ADDRESS...
#
# PORT "auto" picks a free port in 20000-39999 (retried when taken, as sshd.sh does).
#   tests/lab/winrm.sh stop WORKDIR
#
# One emulator process listens on every ADDRESS (one emulated server each): HTTPS with a
# certificate of a test CA made here (IP SANs for every ADDRESS and DNS:localhost), or
# plain HTTP with --http (a listener of a service with AllowUnencrypted=true), or with
# --shipped the service as Windows ships it: HTTP, AllowUnencrypted=false, Basic off,
# Negotiate on (messages must come sealed, MS-WSMV 2.2.9.1). --cbt none|relaxed|strict sets
# CbtHardeningLevel (default relaxed, as Windows). --kerberos KDC_WORKDIR (tests/lab/kdc.sh)
# accepts Kerberos with that realm's HTTP/fe1 keytab; --clock +1h runs the service with a
# clock that far off (faketime). --user NAME: the account is NAME (default administrator,
# the built-in one), a local administrator; --token-filter 0|1 is the server's
# LocalAccountTokenFilterPolicy (0, as Windows ships: NAME other than administrator is
# authenticated, then refused with 401 — UAC's remote restrictions). Its commands
# run tests/lab/lync-emulator, state in WORKDIR/state/ADDRESS.json, counters in
# WORKDIR/state/ADDRESS.counters, costs from $LYNC_EMULATOR_COSTS or "default" (as
# tests/lab/sshd.sh does).
# Prints pid=, port=, addresses=, scheme=, user=, password=, ca_file= (the test CA, PEM),
# state_dir=, log= (one line per operation and per authentication), tokens= (every Negotiate
# token on the wire, either way, base64: for the leak tests), control= (JSON the
# emulator reads at every command: {"delay": SECONDS}), openssl_conf= (default and legacy
# providers: run python3-winrm with OPENSSL_CONF set to it, its NTLM needs MD4).
set -eu
verb=$1
dir=$2
root=$(cd "$(dirname "$0")/../.." && pwd)

. "$root/tests/lab/common.sh"

user=administrator
password='Lab-Passw0rd!'

stop() { stop_pids "$dir/winrm.pid"; }

# certificates ADDRESS...: the test CA and the server certificate it signs
certificates() {
  names="DNS:localhost"
  for address in "$@"; do names="$names,IP:$address"; done
  printf '%s\n' "subjectAltName=$names" "extendedKeyUsage=serverAuth" \
    "basicConstraints=CA:FALSE" "subjectKeyIdentifier=hash" \
    "authorityKeyIdentifier=keyid,issuer" >"$dir/server.ext"
  openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=runbook lab WinRM CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" || return 1
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$dir/server.key" -out "$dir/server.csr" || return 1
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 7 -extfile "$dir/server.ext" -out "$dir/server.pem"
}

# launch ADDRESS...: starts the emulator on $port; 0 once it is ready, 1 when the port was
# taken; exits when it fails otherwise or is not ready within 10 s
launch() {
  set -- --port "$port" --user "$user" --password "$password" --state-dir "$dir/state" \
    --log "$dir/wsman.log" --control "$dir/control.json" --tokens "$dir/tokens" "$@"
  [ "$scheme" = http ] || set -- --cert "$dir/server.pem" --key "$dir/server.key" "$@"
  set -- --cbt-hardening "$cbt" --auth "$auth" $unencrypted \
    --local-account-token-filter-policy "$token_filter" "$@"
  if [ -n "$kerberos" ]; then
    set -- --kerberos "$@"
    export KRB5_CONFIG="$kerberos/krb5.conf" KRB5_KTNAME="FILE:$kerberos/http.keytab"
  fi
  set -- /usr/bin/python3 -u "$root/tests/lab/winrm_emulator.py" "$@"
  # libfaketime preloaded into the emulator itself (faketime(1) would stand between)
  [ -z "$clock" ] || set -- env FAKETIME="$clock" \
    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 "$@"
  "$@" </dev/null >"$dir/winrm.out" 2>&1 &
  pid=$!
  echo $pid >"$dir/winrm.pid"
  deadline=$(( $(date +%s) + 10 ))
  until grep -q '^ready' "$dir/winrm.out"; do
    if ! kill -0 $pid 2>/dev/null; then
      status=0; wait $pid || status=$?
      [ $status -eq 3 ] && return 1
      cat "$dir/winrm.out" >&2
      exit 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      stop
      cat "$dir/winrm.out" >&2
      exit 1
    fi
    sleep 0.01
  done
}

start() {
  scheme=https cbt=relaxed auth=basic,negotiate unencrypted= kerberos= clock= token_filter=0
  while :; do
    case "${1:-}" in
      --http) scheme=http unencrypted=--allow-unencrypted; shift ;;
      --shipped) scheme=http auth=negotiate; shift ;;
      --cbt) cbt=$2; shift 2 ;;
      --kerberos) kerberos=$2; shift 2 ;;
      --clock) clock=$2; shift 2 ;;
      --user) user=$2; shift 2 ;;
      --token-filter) token_filter=$2; shift 2 ;;
      *) break ;;
    esac
  done
  if [ $# -lt 2 ]; then
    echo "usage: $0 start WORKDIR [--http|--shipped] [--cbt LEVEL] PORT ADDRESS..." >&2
    exit 2
  fi
  port=$1; shift
  mkdir -p "$dir/state"
  # the emulated servers' costs (lab.emulator.costs), as tests/lab/sshd.sh writes them
  printf '%s\n' "${LYNC_EMULATOR_COSTS:-default}" >"$dir/state/costs"
  : >"$dir/wsman.log"
  (unset OPENSSL_CONF; certificates "$@") 2>"$dir/openssl.log" || {
    cat "$dir/openssl.log" >&2
    exit 1
  }
  cat >"$dir/openssl.cnf" <<EOF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
legacy = legacy_sect
[default_sect]
activate = 1
[legacy_sect]
activate = 1
EOF
  wanted=$port
  attempt=0
  while :; do
    [ "$wanted" = auto ] && port=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 20000))
    launch "$@" && break
    attempt=$((attempt + 1))
    if [ "$wanted" != auto ] || [ $attempt -ge 10 ]; then
      echo "the WinRM emulator could not listen on port $port of $*" >&2
      cat "$dir/winrm.out" >&2
      exit 1
    fi
  done
  echo "pid=$pid"
  echo "port=$port"
  echo "addresses=$*"
  echo "scheme=$scheme"
  echo "user=$user"
  echo "password=$password"
  echo "ca_file=$dir/ca.pem"
  echo "state_dir=$dir/state"
  echo "log=$dir/wsman.log"
  echo "tokens=$dir/tokens"
  echo "control=$dir/control.json"
  echo "openssl_conf=$dir/openssl.cnf"
}

case $verb in
  start) shift 2; start "$@" ;;
  stop) stop ;;
  *) echo "usage: $0 start WORKDIR [--http|--shipped] [--cbt LEVEL] PORT ADDRESS... |" \
       "stop WORKDIR" >&2; exit 2 ;;
esac
