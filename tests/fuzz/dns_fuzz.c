/*
** dns_fuzz.c — libFuzzer target for what a DNS server (or anyone who can spoof its replies)
** controls: any bytes given to runtime/dns.c's reply parser (dns.parse, the code dns.query
** and dns.update run on every reply) must give a table or nil, "malformed" — never crash,
** never raise; and the TSIG reader of runtime/dns_wire.c must stay inside the message.
** Build and run: tests/fuzz/dns_run.sh [seconds]  (clang, libFuzzer, ASan, UBSan).
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "../../runtime/dns_wire.h"

int luaopen_runbook_dns (lua_State *L);

static lua_State *L;

/* Every RR of the message through dnsw_rr, and TSIG records through dnsw_read_tsig; the
** reply's rcode (with an OPT record's extended bits) through dnsw_reply_rcode. */
static void walk (const unsigned char *msg, size_t len) {
  DnsHeader h;
  DnsRR rr;
  Tsig t;
  char name[DNSW_NAME_MAX];
  unsigned type, klass;
  size_t off = 12;
  if (dnsw_reply_rcode(msg, len) > 4095) abort();   /* 12 bits at most (RFC 6891) */
  if (dnsw_header(msg, len, &h) != 0) return;
  for (unsigned i = 0; i < h.qdcount; i++)
    if (dnsw_question(msg, len, &off, name, &type, &klass) != 0) return;
  for (unsigned i = 0; i < h.ancount + h.nscount + h.arcount; i++) {
    if (dnsw_rr(msg, len, &off, &rr) != 0) return;
    if (rr.type == DNSW_TSIG && dnsw_read_tsig(msg, &rr, &t) == 0 &&
        (t.mac + t.mac_len > len || t.other + t.other_len > len))
      abort();
  }
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  if (L == NULL) {
    L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "runbook.dns", luaopen_runbook_dns, 0);
    lua_getfield(L, -1, "parse");
    lua_setglobal(L, "parse");
    lua_pop(L, 1);
  }
  walk(data, size);
  lua_getglobal(L, "parse");
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
    fprintf(stderr, "dns.parse raised: %s\n", lua_tostring(L, -1));
    abort();
  }
  if (!lua_istable(L, -2) && !(lua_isnil(L, -2) && lua_isstring(L, -1))) abort();
  lua_settop(L, 0);
  return 0;
}
