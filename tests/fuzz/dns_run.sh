#!/bin/sh
# tests/fuzz/dns_run.sh [SECONDS] — builds tests/fuzz/dns_fuzz.c with clang's libFuzzer,
# AddressSanitizer and UBSan over runtime/dns.c, dns_update.c, dns_wire.c (and the loop they link
# against), and fuzzes the DNS reply parser for SECONDS (default 60), starting from
# tests/fuzz/corpus/dns (real replies captured from BIND). Crashes land in build/fuzz/.
set -eu
cd "$(dirname "$0")/../.."
seconds=${1:-60}
vendor/install.sh fuzz
mkdir -p build/fuzz/dns-corpus
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -D_GNU_SOURCE \
  $(pkg-config --cflags lua5.4 libcares) tests/fuzz/dns_fuzz.c runtime/dns.c runtime/dns_update.c \
  runtime/dns_wire.c runtime/loop.c $(pkg-config --libs lua5.4 libcares) -lm \
  -o build/fuzz/dns_fuzz
build/fuzz/dns_fuzz -max_total_time="$seconds" -max_len=4096 \
  -artifact_prefix=build/fuzz/dns- build/fuzz/dns-corpus tests/fuzz/corpus/dns
