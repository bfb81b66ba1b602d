#!/bin/sh
# bench/run.sh — every benchmark; `make bench` runs it. Results belong in bench/RESULTS.md.
set -eu
cd "$(dirname "$0")/.."
echo "## start-up (bench/startup.sh)"
bench/startup.sh
