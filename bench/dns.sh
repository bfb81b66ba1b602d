#!/bin/sh
# bench/dns.sh — against a real BIND named (tests/lab/named.sh on 127.0.53.8:5311), in the
# same run, median times (hyperfine) and ratios:
#   1. one TSIG-signed update round-trip: bench/dns.lua (runbook.so under lua5.4) vs
#      `nsupdate -k` doing the same change;
#   2. 1,000 queries: all in flight at once through dns.query vs `dig` run one by one.
set -eu
cd "$(dirname "$0")/.."
export LUA_CPATH="$PWD/build/lib/?.so;;" LUA_PATH="$PWD/modules/?.lua;$PWD/modules/?/init.lua;;"
address=127.0.53.8 port=5311
work=$(mktemp -d)
tests/lab/named.sh start "$work/named" "$address" "$port" >"$work/named.env"
trap 'tests/lab/named.sh stop "$work/named"; rm -rf "$work"' EXIT
key="$work/named/tsig-sha256.key"

{
  echo "server $address $port"
  echo "zone contoso.com"
  echo "update delete www.contoso.com A"
  echo "update add www.contoso.com 60 A 192.0.2.80"
  echo "send"
} >"$work/nsupdate.txt"
cat >"$work/digs.sh" <<SH
#!/bin/sh
i=0
while [ \$i -lt 1000 ]; do
  dig @$address -p $port +short +tries=1 sip.contoso.com A >/dev/null || exit 1
  i=\$((i + 1))
done
echo "answered 1000"
SH
chmod +x "$work/digs.sh"

ours_update="lua5.4 bench/dns.lua update $address $port $key"
theirs_update="nsupdate -k $key $work/nsupdate.txt"
ours_queries="lua5.4 bench/dns.lua queries $address $port 1000"
theirs_queries="$work/digs.sh"
$ours_update >/dev/null && $theirs_update
[ "$($ours_queries)" = "answered 1000" ] || { echo "dns.query did not answer 1000" >&2; exit 1; }
[ "$($theirs_queries)" = "answered 1000" ] || { echo "dig did not answer 1000" >&2; exit 1; }
[ "$(dig @$address -p $port +short www.contoso.com A)" = 192.0.2.80 ] || exit 1

hyperfine -N --warmup 3 --runs 30 --export-json "$work/update.json" \
  "$ours_update" "$theirs_update" >"$work/hyperfine-update.log"
hyperfine -N --warmup 1 --runs 5 --export-json "$work/queries.json" \
  "$ours_queries" "$theirs_queries" >"$work/hyperfine-queries.log"
/usr/bin/python3 - "$work/update.json" "$work/queries.json" <<'PY'
import json, sys
update = [r["median"] * 1000 for r in json.load(open(sys.argv[1]))["results"]]
queries = [r["median"] * 1000 for r in json.load(open(sys.argv[2]))["results"]]
def row(what, ours, peer):
    print(f"| {what} | {ours:.1f} ms | {peer:.1f} ms | {ours / peer:.5f}x "
          f"({peer / ours:.1f} times faster) |")
print("| what | runbook | peer | ratio (runbook / peer) |")
print("|---|---|---|---|")
row("one signed update (bench/dns.lua vs `nsupdate -k`)", update[0], update[1])
row("1,000 queries (all in flight vs `dig` one by one)", queries[0], queries[1])
PY
