#!/bin/sh
# tests/run.sh — every test, as `make test` runs it:
#   1. the busted specs against the normal build (./runbook and build/lib/runbook.so);
#   2. the same specs again against the AddressSanitizer + UBSan build (build/asan/),
#      with leak detection in every runbook process they start (tests/support.lua), but
#      the packaging spec (#deb). One after the other: run at once on two cores, the
#      emulated Windows servers' commands outlived their timeouts;
#   C unit tests (tests/unit/) run with each: build/unit/tests, build/asan/unit/tests;
#   3. the fuzz targets (libFuzzer + ASan + UBSan) for $FUZZ_SECONDS each (default 20):
#      the DNS message parser, the XMPP stream parser with certificate-name checks, and
#      the certificate reader (DER, names extracted by runtime/tls.c, RFC 6125 matching);
# then one closing line "N passed, N failed".
set -u
cd "$(dirname "$0")/.."

passed=0
failed=0
# busted under Lua 5.4 whatever /usr/bin/lua points to: installing lua-check (luacheck runs
# on Lua 5.1) makes lua5.1 the best `lua` alternative, and runbook.so is built for 5.4.
busted=$(command -v busted)

# run_suite NAME EXCLUDED_TAGS [env assignments...]: busted with TAP output; counts ok /
# not ok. The sanitizer suite leaves out the specs that test no C of ours (packaging).
run_suite() {
  name=$1; excluded=$2; shift 2
  log=build/test-$name.log
  echo "== $name"
  env "$@" lua5.4 "$busted" -o TAP --exclude-tags="$excluded" tests/ >"$log" 2>&1
  count_tap "$name" "$log" $?
}

# run_unit NAME BINARY [env assignments...]: the C unit tests, TAP output like busted's.
run_unit() {
  name=$1; binary=$2; shift 2
  log=build/test-$name.log
  echo "== $name"
  env "$@" timeout 300 "$binary" >"$log" 2>&1
  count_tap "$name" "$log" $?
}

# count_tap NAME LOG STATUS: adds the log's ok / not ok lines to the totals.
count_tap() {
  name=$1; log=$2; status=$3
  ok=$(grep -ac '^ok ' "$log")
  not_ok=$(grep -ac '^not ok ' "$log")
  grep -av '^ok ' "$log" | grep -av '^1\.\.' | sed 's/^/  /'
  if [ "$status" -ne 0 ] && [ "$not_ok" -eq 0 ]; then
    echo "  $name exited $status without a failing test: see $log"
    not_ok=1
  fi
  echo "   $name: $ok passed, $not_ok failed"
  passed=$((passed + ok))
  failed=$((failed + not_ok))
}

run_suite normal none
run_unit unit build/unit/tests

asan_runtime="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
run_suite sanitizers deb \
  LD_PRELOAD="$asan_runtime" \
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  RUNBOOK_SO_DIR=build/asan/lib \
  RUNBOOK_BIN="$PWD/build/asan/runbook" \
  RUNBOOK_HOME="$PWD" \
  RUNBOOK_CHILD_ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
run_unit unit-sanitizers build/asan/unit/tests UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# run_fuzz NAME SCRIPT: one bounded fuzzing run; a crash or a build failure fails it.
run_fuzz() {
  echo "== fuzz: $1 (${FUZZ_SECONDS:-20} s)"
  if "$2" "${FUZZ_SECONDS:-20}" >"build/fuzz-$1.log" 2>&1; then
    echo "   $(grep -a -o 'Done [0-9]* runs' "build/fuzz-$1.log" | tail -1): no crash"
    passed=$((passed + 1))
  else
    tail -20 "build/fuzz-$1.log" | sed 's/^/  /'
    echo "   fuzz $1 failed: see build/fuzz-$1.log and build/fuzz/"
    failed=$((failed + 1))
  fi
}

run_fuzz dns tests/fuzz/dns_run.sh
run_fuzz stream tests/fuzz/run.sh
run_fuzz cert tests/fuzz/cert_run.sh

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
