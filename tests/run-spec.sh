#!/bin/sh
# tests/run-spec.sh SUITE SPEC — one spec file in one suite, as tests/run.sh schedules them:
#   normal       against ./runbook and build/lib/runbook.so
#   sanitizers   against build/asan/ (AddressSanitizer + UBSan), leak detection in every
#                runbook process the spec starts (tests/support.lua); the packaging spec's
#                #deb cases left out (they test no C of ours)
# TAP goes to build/tap/SUITE/NAME.log, the exit status to NAME.status, and the wall time
# to build/tap/times. The same spec never runs twice at once (a flock per spec): the two
# suites' instances would start the same lab servers on the same fixed addresses. flock -o:
# the lock stays with flock itself, not with the servers a spec starts in the background
# (a server left running would otherwise hold it, and the other suite's run would wait).
set -u
cd "$(dirname "$0")/.."
suite=$1
spec=$2
name=$(basename "$spec" .lua)
mkdir -p "build/tap/$suite"
log=build/tap/$suite/$name.log
busted=$(command -v busted)
started=$(date +%s)

if [ "$suite" = sanitizers ]; then
  set -- env LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    RUNBOOK_SO_DIR=build/asan/lib \
    RUNBOOK_BIN="$PWD/build/asan/runbook" \
    RUNBOOK_HOME="$PWD" \
    RUNBOOK_CHILD_ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
    lua5.4 "$busted" -o TAP --exclude-tags=deb "$spec"
else
  set -- lua5.4 "$busted" -o TAP "$spec"
fi
# busted under Lua 5.4 whatever /usr/bin/lua points to: installing lua-check (luacheck runs
# on Lua 5.1) makes lua5.1 the best `lua` alternative, and runbook.so is built for 5.4.
flock -o "build/tap/$name.lock" "$@" >"$log" 2>&1
status=$?
echo $status >"build/tap/$suite/$name.status"
took=$(($(date +%s) - started))
echo "$took $suite $spec" >>build/tap/times
printf '   %4d s  %-10s %-36s %s ok, %s not ok%s\n' "$took" "$suite" "$name" \
  "$(grep -ac '^ok ' "$log")" "$(grep -ac '^not ok ' "$log")" \
  "$([ $status -ne 0 ] && echo " (exit $status)")"
