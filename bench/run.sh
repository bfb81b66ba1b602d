#!/bin/sh
# bench/run.sh — every benchmark; `make bench` runs it. Results belong in bench/RESULTS.md.
set -eu
cd "$(dirname "$0")/.."
echo "## start-up (bench/startup.sh)"
bench/startup.sh
echo "## port states (bench/ports.sh)"
bench/ports.sh
echo "## cmdlets on 1, 8, 32 Edge servers (bench/cmdlets.sh)"
bench/cmdlets.sh
echo "## DNS: a signed update vs nsupdate, 1,000 queries vs dig (bench/dns.sh)"
bench/dns.sh
echo "## round trips at 20 ms RTT and Nagle on loopback (bench/latency.sh)"
bench/latency.sh
