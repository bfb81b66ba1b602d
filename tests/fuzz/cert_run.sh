#!/bin/sh
# tests/fuzz/cert_run.sh [SECONDS] — builds tests/fuzz/cert_fuzz.c with clang's libFuzzer,
# AddressSanitizer and UBSan over runtime/tls.c, and fuzzes the certificate reader
# (d2i_X509 and the extraction of names) and xmpp.certificate_names for SECONDS (default
# 60), starting from tests/fuzz/corpus/cert (tests/fuzz/cert_seeds.sh made it). Crashes land
# in build/fuzz/.
set -eu
cd "$(dirname "$0")/../.."
seconds=${1:-60}
vendor/install.sh fuzz
mkdir -p build/fuzz/cert-corpus
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -D_GNU_SOURCE \
  -DRUNBOOK_MODULE $(pkg-config --cflags lua5.4 openssl) tests/fuzz/cert_fuzz.c runtime/tls.c \
  $(pkg-config --libs lua5.4 openssl) -o build/fuzz/cert_fuzz
build/fuzz/cert_fuzz -max_total_time="$seconds" -max_len=4096 \
  -artifact_prefix=build/fuzz/cert- build/fuzz/cert-corpus tests/fuzz/corpus/cert
