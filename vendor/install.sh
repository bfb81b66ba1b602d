#!/bin/sh
# vendor/install.sh GROUP... — install the Debian packages of vendor/packages.txt that are
# missing for these groups (build, test, bench). As root it runs apt-get; otherwise it
# prints the command to run. Quiet when nothing is missing.
set -eu
manifest="$(dirname "$0")/packages.txt"
[ $# -gt 0 ] || { echo "usage: vendor/install.sh build|test|bench ..." >&2; exit 2; }

wanted=""
for group in "$@"; do
  wanted="$wanted $(awk -v g="$group" '$1 == g { print $2 }' "$manifest")"
done

missing=""
for package in $wanted; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  case "$status" in *" installed") ;; *) missing="$missing $package" ;; esac
done
[ -n "$missing" ] || exit 0

echo "vendor/install.sh: installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "vendor/install.sh: not root: run  sudo apt-get install --no-install-recommends$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Package scripts must not start the distribution's own bind9, pdns or prosody: the
# tests start their own servers on their own addresses.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; own_policy=1
fi
trap '[ "$own_policy" = 1 ] && rm -f "$policy"' EXIT
if ! apt-get install -y -qq --no-install-recommends $missing >/tmp/runbook-apt.log 2>&1; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/tmp/runbook-apt.log 2>&1 || {
    tail -20 /tmp/runbook-apt.log >&2
    echo "vendor/install.sh: apt-get install failed (log: /tmp/runbook-apt.log)" >&2
    exit 1
  }
fi
