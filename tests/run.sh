#!/bin/sh
# tests/run.sh — every test, as `make test` runs it:
#   0. make lint: luacheck and the layering check (counted as one test);
#   1. every busted spec twice — against the normal build (./runbook, build/lib/runbook.so)
#      and against the AddressSanitizer + UBSan build (build/asan/) — as jobs on
#      $TEST_JOBS workers (default 2, one per core), longest first by the last run's times
#      (build/test-times): most specs wait on servers and timeouts rather than compute.
#      tests/run-spec.sh runs one; the same spec never runs twice at once, and specs that
#      share lab servers take their lab lock (tests/lab_lock.lua);
#   2. the C unit tests (tests/unit/) of each build;
#   3. the fuzz targets (libFuzzer + ASan + UBSan) for $FUZZ_SECONDS each (default 20):
#      the DNS message parser, the XMPP stream parser with certificate-name checks, and
#      the certificate reader (DER, names extracted by runtime/tls.c, RFC 6125 matching);
# then one closing line "N passed, N failed".
set -u
cd "$(dirname "$0")/.."

passed=0
failed=0

echo "== lint"
if make -s lint >build/lint.log 2>&1; then
  echo "   lint: clean"
  passed=$((passed + 1))
else
  sed 's/^/  /' build/lint.log
  echo "   lint failed"
  failed=$((failed + 1))
fi

# The jobs, "SUITE SPEC" per line: the sanitizer suite's longest first, then the normal
# suite's, by the last run's wall times (a spec without one counts as long). Suite after
# suite, so that a spec's two runs are far apart: they would wait for each other.
times=build/test-times
[ -f "$times" ] || times=tests/expected-times
jobs() {
  for suite in sanitizers normal; do
    for spec in tests/*_spec.lua; do
      time=$(awk -v s="$suite" -v f="$spec" '$2 == s && $3 == f { t = int($1) }
        END { print t == "" ? 100000 : t }' "$times" 2>/dev/null || echo 100000)
      echo "$time $suite $spec"
    done | sort -rn -k1,1 | cut -d' ' -f2-
  done
}

# count_tap NAME LOG STATUS: adds the log's ok / not ok lines to the totals.
count_tap() {
  name=$1; log=$2; status=$3
  ok=$(grep -ac '^ok ' "$log")
  not_ok=$(grep -ac '^not ok ' "$log")
  if [ "$not_ok" -gt 0 ] || [ "$status" -ne 0 ]; then
    grep -av '^ok ' "$log" | grep -av '^1\.\.' | sed 's/^/  /'
  fi
  if [ "$status" -ne 0 ] && [ "$not_ok" -eq 0 ]; then
    echo "  $name exited $status without a failing test: see $log"
    not_ok=1
  fi
  passed=$((passed + ok))
  failed=$((failed + not_ok))
}

rm -rf build/tap
mkdir -p build/tap
echo "== specs: normal and sanitizers, ${TEST_JOBS:-2} at a time"
jobs | xargs -P "${TEST_JOBS:-2}" -L 1 tests/run-spec.sh
for suite in normal sanitizers; do
  before_ok=$passed; before_failed=$failed
  for log in build/tap/$suite/*.log; do
    count_tap "$suite $(basename "$log" .log)" "$log" "$(cat "${log%.log}.status")"
  done
  echo "   $suite: $((passed - before_ok)) passed, $((failed - before_failed)) failed"
done
cp build/tap/times build/test-times

# run_unit NAME BINARY [env assignments...]: the C unit tests, TAP output like busted's.
run_unit() {
  name=$1; binary=$2; shift 2
  log=build/test-$name.log
  echo "== $name"
  env "$@" timeout 300 "$binary" >"$log" 2>&1
  before_ok=$passed; before_failed=$failed
  count_tap "$name" "$log" $?
  echo "   $name: $((passed - before_ok)) passed, $((failed - before_failed)) failed"
}

run_unit unit build/unit/tests
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
