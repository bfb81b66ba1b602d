#!/bin/sh
# vendor/install.sh GROUP... — install the Debian packages of vendor/packages.txt that are
# missing for these groups (build, test, bench, fuzz, deb), and upgrade those older than
# the minimum version the manifest names (`libexpat1-dev>=2.5.0-1+deb12u2`). As root it
# runs apt-get; otherwise it prints the command to run. Quiet when nothing is to be done.
set -eu
manifest="$(dirname "$0")/packages.txt"
[ $# -gt 0 ] || { echo "usage: vendor/install.sh build|test|bench|fuzz|deb ..." >&2; exit 2; }

wanted=""
for group in "$@"; do
  wanted="$wanted $(awk -v g="$group" '$1 == g { print $2 }' "$manifest")"
done

# installed_version PACKAGE: the installed version, or nothing when it is not installed.
installed_version() {
  status=$(dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null || true)
  case "$status" in *" installed "*) echo "${status##* }" ;; esac
}

missing=""
too_old=""
for entry in $wanted; do
  package=${entry%%>=*}
  minimum=""
  [ "$package" = "$entry" ] || minimum=${entry#*>=}
  version=$(installed_version "$package")
  if [ -z "$version" ]; then
    missing="$missing $package"
  elif [ -n "$minimum" ] && dpkg --compare-versions "$version" lt "$minimum"; then
    too_old="$too_old $package"
    echo "vendor/install.sh: $package $version is older than $minimum: upgrading" >&2
  fi
done
[ -n "$missing$too_old" ] || exit 0

[ -z "$missing" ] || echo "vendor/install.sh: installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "vendor/install.sh: not root: run  sudo apt-get install --no-install-recommends$missing$too_old" >&2
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
log=${TMPDIR:-/tmp}/runbook-apt.log
# An old package's candidate may be newer only in a list apt has not read yet: a package
# that must be upgraded always gets a fresh list first.
[ -z "$too_old" ] || apt-get update -qq >"$log" 2>&1 || true
if ! apt-get install -o DPkg::Lock::Timeout=300 -y -qq --no-install-recommends $missing $too_old >"$log" 2>&1; then
  apt-get update -qq >>"$log" 2>&1 || true
  apt-get install -o DPkg::Lock::Timeout=300 -y -qq --no-install-recommends $missing $too_old >>"$log" 2>&1 || {
    tail -20 "$log" >&2
    echo "vendor/install.sh: apt-get install failed (log: $log)" >&2
    exit 1
  }
fi

# apt installs the candidate it has: say so when that is still too old.
for entry in $wanted; do
  case "$entry" in *">="*) ;; *) continue ;; esac
  package=${entry%%>=*}
  minimum=${entry#*>=}
  version=$(installed_version "$package")
  if [ -z "$version" ] || dpkg --compare-versions "$version" lt "$minimum"; then
    echo "vendor/install.sh: $package ${version:-is not installed}: runbook needs $minimum or" \
      "later, which no configured apt source offers (apt-cache policy $package)" >&2
    exit 1
  fi
done
