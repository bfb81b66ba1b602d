#!/bin/sh
# tests/fuzz/run.sh [SECONDS] — builds tests/fuzz/stream_fuzz.c with clang's libFuzzer,
# AddressSanitizer and UBSan, and fuzzes runtime/xml.c and xmpp.certificate_names for
# SECONDS (default 60), starting from tests/fuzz/corpus/stream. Crashes land in build/fuzz/.
set -eu
cd "$(dirname "$0")/../.."
seconds=${1:-60}
vendor/install.sh fuzz
mkdir -p build/fuzz/corpus
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  $(pkg-config --cflags lua5.4 expat) tests/fuzz/stream_fuzz.c runtime/xml.c \
  $(pkg-config --libs lua5.4 expat) -o build/fuzz/stream_fuzz
build/fuzz/stream_fuzz -max_total_time="$seconds" -max_len=4096 \
  -artifact_prefix=build/fuzz/ build/fuzz/corpus tests/fuzz/corpus/stream
