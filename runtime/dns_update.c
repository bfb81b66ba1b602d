/*
** dns_update.c — runbook.dns.update, re-exported as runbook.dns's `update`: RFC 2136
** dynamic updates built by the project (dns_wire.c), signed with TSIG (RFC 8945) and
** sent over UDP, or TCP when too big or truncated; the server's signed reply is verified.
** The HMACs come from the lazily loaded runbook.tsig (OpenSSL stays out of the core),
** called in C with the key in the exchange's memory (runtime/tsig.h). GSS-TSIG (RFC 3645)
** signs the same TSIG record with the MIC of a runbook.gss security context (runtime/gss.h):
** key = {name=, gss=ctx}; dns.tkey carries the context's tokens (RFC 2930, mode 3) and
** dns.verify_tkey checks the server's signed last answer: the context's key stays inside
** the GSS-API, the way a TSIG secret stays in this file's memory.
** The exchange is a to-be-closed value on the caller's stack: its socket, buffers and
** decoded key go when dns.update returns, raises or is cancelled, not at the next GC.
**
**   update{server=, port=, zone=, key={name=, algorithm=, secret=}, prerequisites=,
**          changes=, timeout=, tries=} -> {rcode="NOERROR"} | nil, message, code
**   tkey{server=, port=, name=, token=, timeout=} -> {token=, error=, reply=}
**        | nil, message, code
**   verify_tkey(reply, key={name=, gss=ctx} [, where]) -> true | nil, message, code
*/
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>

#include "dns_wire.h"
#include "fail.h"
#include "gss.h"
#include "options.h"
#include "loop.h"
#include "tsig.h"

static void set_string (lua_State *L, const char *key, const char *value) {
  lua_pushstring(L, value);
  lua_setfield(L, -2, key);
}


/* ---------------------------------------------------------------- dns.update: building */

#define EXCHANGE_TYPE "runbook.dns.exchange"
#define TSIG_FUDGE 300
#define SIGN_MAC_MAX 256         /* a TSIG HMAC (64 at most) or a GSS MIC */
#define DNSW_TKEY 249
#define TKEY_MODE_GSSAPI 3

/* An update on its way: the socket, what to resend, and what verifies the reply. */
enum { OVER_UDP, TCP_CONNECTING, TCP_WRITING, TCP_READING };
enum { UPDATE, TKEY };

typedef struct Exchange {
  int fd, tries_left, is_signed, state, kind;
  double timeout;
  unsigned id;
  DnsBuf message;
  struct sockaddr_storage address;
  socklen_t address_len;
  unsigned char *tcp_reply;          /* 2-byte length + reply, over TCP */
  size_t tcp_done;                   /* bytes written or read so far */
  unsigned char request_mac[SIGN_MAC_MAX], secret[256];
  size_t request_mac_len, secret_len;
  size_t (*hmac) (const char *algorithm, const unsigned char *key, size_t key_len,
                  const unsigned char *data, size_t data_len, unsigned char *mac);
  void *gss;                         /* GSS-TSIG: the context (kept as the user value) */
  const GssApi *gss_api;
  char key_name[256], algorithm[64], zone[256], where[80], why[600];
  char subject[300];                 /* "dns update of zone Z", "GSS-TSIG key negotiation" */
} Exchange;

static const struct { const char *name, *wire; } tsig_algorithms[] = {
  {"hmac-md5", "hmac-md5.sig-alg.reg.int"}, {"hmac-sha1", "hmac-sha1"},
  {"hmac-sha224", "hmac-sha224"}, {"hmac-sha256", "hmac-sha256"},
  {"hmac-sha384", "hmac-sha384"}, {"hmac-sha512", "hmac-sha512"}, {NULL, NULL}
};

/* __close and __gc: the socket, the buffers and the key go; safe to call twice. */
static int exchange_close (lua_State *L) {
  Exchange *ex = (Exchange *)luaL_checkudata(L, 1, EXCHANGE_TYPE);
  if (ex->fd >= 0) close(ex->fd);
  ex->fd = -1;
  explicit_bzero(ex->secret, sizeof ex->secret);
  ex->secret_len = 0;
  dnsbuf_free(&ex->message);
  free(ex->tcp_reply);
  ex->tcp_reply = NULL;
  return 0;
}

static void put_name (lua_State *L, DnsBuf *b, const char *name);

/* record[key], which must be a string; it stays on the stack while the caller uses it
** (the caller pops it). */
static const char *need_string (lua_State *L, int record, const char *key) {
  if (lua_getfield(L, record, key) != LUA_TSTRING)
    luaL_error(L, "dns.update: a record needs the field '%s' (a string), got %s", key,
               luaL_typename(L, -1));
  return lua_tostring(L, -1);
}

/* put_name of the string record[key]. */
static void put_name_field (lua_State *L, DnsBuf *b, int record, const char *key) {
  put_name(L, b, need_string(L, record, key));
  lua_pop(L, 1);
}

static uint32_t need_u32 (lua_State *L, int record, const char *key, lua_Integer max) {
  lua_getfield(L, record, key);
  int ok;
  lua_Integer v = lua_tointegerx(L, -1, &ok);
  if (!ok || v < 0 || v > max)
    luaL_error(L, "dns.update: a record needs the field '%s' (0-%I)", key, max);
  lua_pop(L, 1);
  return (uint32_t)v;
}

static void put_name (lua_State *L, DnsBuf *b, const char *name) {
  if (dnsbuf_name(b, name, 0) != 0)
    luaL_error(L, "dns.update: '%s' is not a valid domain name", name);
}

/* TXT RDATA from the record's `strings`, one character string each, as dns.query reads
** them (a DKIM or SPF record split by its author must be written back the same way to
** match); without `strings`, `text` cut into 255-byte strings. When both are given, text
** must be the strings joined: a record edited in one field only is refused. */
static void put_txt (lua_State *L, DnsBuf *b, int rec) {
  size_t text_len = 0, used = 0, len;
  lua_getfield(L, rec, "text");
  const char *text = lua_tolstring(L, -1, &text_len);
  if (lua_getfield(L, rec, "strings") != LUA_TTABLE || lua_rawlen(L, -1) == 0) {
    if (text == NULL) luaL_error(L, "dns.update: a TXT record needs 'text' or 'strings'");
    for (size_t i = 0; i < text_len || i == 0; i += 255) {   /* 255-byte strings */
      size_t n = text_len - i < 255 ? text_len - i : 255;
      dnsbuf_u8(b, (unsigned)n);
      dnsbuf_bytes(b, text + i, n);
    }
    lua_pop(L, 2);
    return;
  }
  int strings = lua_gettop(L);
  for (lua_Integer i = 1; lua_rawgeti(L, strings, i) != LUA_TNIL; i++, lua_pop(L, 1)) {
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    if (s == NULL || len > 255)
      luaL_error(L, "dns.update: TXT strings[%I] must be a string of at most 255 bytes", i);
    if (text && (used + len > text_len || memcmp(text + used, s, len) != 0))
      luaL_error(L, "dns.update: a TXT record's text and strings differ: give one of them");
    dnsbuf_u8(b, (unsigned)len);
    dnsbuf_bytes(b, s, len);
    used += len;
  }
  if (text && used != text_len)
    luaL_error(L, "dns.update: a TXT record's text and strings differ: give one of them");
  lua_pop(L, 3);
}

/* RDLENGTH and RDATA of the record table at index rec. */
static void put_rdata (lua_State *L, DnsBuf *b, int type, int rec) {
  unsigned char addr[16];
  size_t at = b->len;
  dnsbuf_u16(b, 0);
  if (type == DNSW_A || type == DNSW_AAAA) {
    const char *text = need_string(L, rec, "address");
    if (inet_pton(type == DNSW_A ? AF_INET : AF_INET6, text, addr) != 1)
      luaL_error(L, "dns.update: '%s' is not an IPv%d address", text, type == DNSW_A ? 4 : 6);
    lua_pop(L, 1);
    dnsbuf_bytes(b, addr, type == DNSW_A ? 4 : 16);
  } else if (type == DNSW_NS || type == DNSW_CNAME) {
    put_name_field(L, b, rec, "target");
  } else if (type == DNSW_SRV) {
    dnsbuf_u16(b, need_u32(L, rec, "priority", 65535));
    dnsbuf_u16(b, need_u32(L, rec, "weight", 65535));
    dnsbuf_u16(b, need_u32(L, rec, "port", 65535));
    put_name_field(L, b, rec, "target");
  } else if (type == DNSW_TXT) {
    put_txt(L, b, rec);
  } else if (type == DNSW_SOA) {
    static const char *const fields[] = { "serial", "refresh", "retry", "expire", "minimum" };
    put_name_field(L, b, rec, "mname");
    put_name_field(L, b, rec, "rname");
    for (int i = 0; i < 5; i++) dnsbuf_u32(b, need_u32(L, rec, fields[i], 0xffffffffLL));
  } else luaL_error(L, "dns.update: records of type %s are not supported",
                    dnsw_type_name((unsigned)type));
  if (b->len - at - 2 > 65535) luaL_error(L, "dns.update: a record's data is over 64 KB");
  dnsbuf_set_u16(b, at, (unsigned)(b->len - at - 2));
}

/* An RR header; rec = 0 writes empty RDATA (the RFC 2136 "meta" forms). */
static void put_rr (lua_State *L, DnsBuf *b, const char *name, int type, unsigned klass,
                    uint32_t ttl, int rec) {
  put_name(L, b, name);
  dnsbuf_u16(b, (unsigned)type);
  dnsbuf_u16(b, klass);
  dnsbuf_u32(b, ttl);
  if (rec) put_rdata(L, b, type, rec);
  else dnsbuf_u16(b, 0);
}

static int field_type (lua_State *L, int t, int required) {
  lua_getfield(L, t, "type");
  const char *text = lua_tostring(L, -1);
  int type = text ? dnsw_type_code(text) : (required ? -1 : DNSW_ANY);
  if (type < 0 || type == DNSW_OPT || type == DNSW_TSIG)
    luaL_error(L, "dns.update: bad or missing record type '%s'", text ? text : "nil");
  lua_pop(L, 1);
  return type;
}

/* Prerequisites (RFC 2136 2.4): {name=, exists=bool} on a name, {name=, type=, exists=bool}
** on an RRset, {name=, type=, records={...}} for an RRset with exactly these values. */
static unsigned put_prerequisite (lua_State *L, DnsBuf *b, int p) {
  const char *name = need_string(L, p, "name");
  int type = field_type(L, p, 0), exists, count = 0;
  lua_getfield(L, p, "exists");
  exists = lua_isnil(L, -1) || lua_toboolean(L, -1);
  lua_getfield(L, p, "records");
  if (lua_istable(L, -1) && lua_rawlen(L, -1) > 0) {
    int records = lua_gettop(L);
    luaL_argcheck(L, type != DNSW_ANY, 1, "prerequisite with records needs a type");
    for (lua_Integer i = 1; lua_rawgeti(L, records, i) == LUA_TTABLE; i++, count++) {
      put_rr(L, b, name, type, DNSW_IN, 0, lua_gettop(L));
      lua_pop(L, 1);
    }
    lua_pop(L, 4);           /* the name too */
    return (unsigned)count;
  }
  if (lua_istable(L, -1)) exists = 0;   /* records = {}: the RRset must not exist */
  lua_pop(L, 2);
  put_rr(L, b, name, type, exists ? DNSW_CLASS_ANY : DNSW_CLASS_NONE, 0, 0);
  lua_pop(L, 1);             /* the name */
  return 1;
}

/* Changes (RFC 2136 2.5): op = "add" | "delete_rrset" | "delete_record" | "delete_name",
** with the record's fields in the same table. */
static void put_change (lua_State *L, DnsBuf *b, int c) {
  static const char *const ops[] = { "add", "delete_rrset", "delete_record", "delete_name",
                                     NULL };
  const char *name = need_string(L, c, "name");
  lua_getfield(L, c, "op");
  int op = luaL_checkoption(L, -1, NULL, ops);
  lua_pop(L, 1);
  int type = op == 3 ? DNSW_ANY : field_type(L, c, 1);
  if (op == 0) {
    lua_getfield(L, c, "ttl");
    lua_Integer ttl = luaL_optinteger(L, -1, 3600);
    luaL_argcheck(L, ttl >= 0 && ttl <= 0x7fffffff, 1, "ttl: expected 0-2147483647");
    lua_pop(L, 1);
    put_rr(L, b, name, type, DNSW_IN, (uint32_t)ttl, c);
  } else if (op == 2) put_rr(L, b, name, type, DNSW_CLASS_NONE, 0, c);
  else put_rr(L, b, name, type, DNSW_CLASS_ANY, 0, 0);
  lua_pop(L, 1);             /* the name */
}

/* Sections 2-3 of the update from the list field `key`; returns the count. */
static unsigned put_section (lua_State *L, DnsBuf *b, const char *key, int prerequisites) {
  unsigned count = 0;
  lua_getfield(L, 1, key);
  if (!lua_isnil(L, -1)) luaL_checktype(L, -1, LUA_TTABLE);
  int list = lua_gettop(L);
  for (lua_Integer i = 1; lua_istable(L, list) && lua_rawgeti(L, list, i) != LUA_TNIL; i++) {
    luaL_checktype(L, -1, LUA_TTABLE);
    if (prerequisites) count += put_prerequisite(L, b, lua_gettop(L));
    else put_change(L, b, lua_gettop(L)), count++;
    lua_pop(L, 1);
  }
  lua_settop(L, list - 1);
  return count;
}


/* ---------------------------------------------------------------- TSIG */

/* The MAC of data under the exchange's key, into mac (SIGN_MAC_MAX bytes): the HMAC, or
** for GSS-TSIG the context's MIC; its length, or 0 when it failed (ex->why says why).
** Plain C: nothing here can raise, so data is freed by the caller. */
static size_t exchange_mac (Exchange *ex, const DnsBuf *data, unsigned char *mac) {
  snprintf(ex->why, sizeof ex->why, "signing with %s failed (out of memory?)", ex->algorithm);
  if (data->failed) return 0;
  if (ex->gss)
    return ex->gss_api->mic(ex->gss, data->data, data->len, mac, SIGN_MAC_MAX, ex->why,
                            sizeof ex->why);
  return ex->hmac(ex->algorithm, ex->secret, ex->secret_len, data->data, data->len, mac);
}

/* Whether mac is the exchange key's MAC of data: NULL, or what is wrong. */
static const char *exchange_check_mac (Exchange *ex, const DnsBuf *data,
                                       const unsigned char *mac, size_t mac_len) {
  unsigned char expected[SIGN_MAC_MAX];
  if (ex->gss) {
    if (data->failed) return "the reply's signature could not be checked (out of memory?)";
    if (ex->gss_api->verify_mic(ex->gss, data->data, data->len, mac, mac_len, ex->why,
                                sizeof ex->why) == 0) return NULL;
    return ex->why;
  }
  size_t expected_len = exchange_mac(ex, data, expected);
  if (expected_len == 0) return "the reply's TSIG signature could not be computed (out of "
                                "memory?)";
  unsigned diff = expected_len != mac_len;
  for (size_t i = 0; !diff && i < expected_len; i++) diff |= expected[i] ^ mac[i];
  return diff ? "the reply's TSIG signature does not verify" : NULL;
}

/* runbook.tsig's HMAC (loading the module on first use) into ex->hmac. */
static void load_hmac (lua_State *L, Exchange *ex) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "runbook.tsig");
  lua_call(L, 1, 0);
  lua_getfield(L, LUA_REGISTRYINDEX, TSIG_API_KEY);
  const TsigApi *api = (const TsigApi *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (api == NULL || api->version != TSIG_API_VERSION)
    luaL_error(L, "dns.update: runbook.tsig was built for another version of runbook: "
               "rebuild it");
  ex->hmac = api->hmac;
}

/* key = {name=, gss=ctx}: GSS-TSIG with a security context dns.tkey established; the
** context is kept alive as the exchange's user value (at index exchange). */
static void read_gss_key (lua_State *L, Exchange *ex, int key, int exchange) {
  const char *name = need_string(L, key, "name");
  if (strlen(name) >= sizeof ex->key_name) luaL_error(L, "dns.update: key name too long");
  snprintf(ex->key_name, sizeof ex->key_name, "%s", name);
  lua_pop(L, 1);
  lua_getfield(L, key, "gss");
  ex->gss = luaL_testudata(L, -1, GSS_CONTEXT_TYPE);
  if (ex->gss == NULL)
    luaL_error(L, "dns.update: key.gss must be a security context of runbook.gss");
  lua_setiuservalue(L, exchange, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, GSS_API_KEY);
  ex->gss_api = (const GssApi *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (ex->gss_api == NULL || ex->gss_api->version != GSS_API_VERSION)
    luaL_error(L, "dns.update: runbook.gss was built for another version of runbook: "
               "rebuild it");
  snprintf(ex->algorithm, sizeof ex->algorithm, "gss-tsig");
  ex->is_signed = 1;
}

/* Reads key = {name=, algorithm=, secret=base64} into ex. Never echoes the secret. */
static void read_key (lua_State *L, Exchange *ex, int key) {
  int top = lua_gettop(L);
  if (lua_getfield(L, key, "gss") != LUA_TNIL) {
    lua_pop(L, 1);
    read_gss_key(L, ex, key, 2);   /* dns.update's exchange */
    return;
  }
  lua_pop(L, 1);
  const char *name = need_string(L, key, "name");
  int type = lua_getfield(L, key, "algorithm");
  if (type != LUA_TNIL && type != LUA_TSTRING)
    luaL_error(L, "dns.update: the algorithm of key '%s' must be a string, got %s", name,
               luaL_typename(L, -1));
  const char *alg = type == LUA_TNIL ? "hmac-sha256" : lua_tostring(L, -1);
  size_t alg_len = strlen(alg);
  if (lua_getfield(L, key, "secret") != LUA_TSTRING)
    luaL_error(L, "dns.update: key '%s' has no secret (a base64 string)", name);
  ex->secret_len = dnsw_base64_decode(lua_tostring(L, -1), ex->secret, sizeof ex->secret);
  if (ex->secret_len == (size_t)-1 || ex->secret_len == 0) {
    ex->secret_len = 0;
    luaL_error(L, "dns.update: the secret of key '%s' is not base64", name);
  }
  if (alg_len && alg[alg_len - 1] == '.') alg_len--;
  for (int i = 0; tsig_algorithms[i].name; i++)
    if ((strlen(tsig_algorithms[i].name) == alg_len &&
         strncasecmp(alg, tsig_algorithms[i].name, alg_len) == 0) ||
        (strlen(tsig_algorithms[i].wire) == alg_len &&
         strncasecmp(alg, tsig_algorithms[i].wire, alg_len) == 0))
      snprintf(ex->algorithm, sizeof ex->algorithm, "%s", tsig_algorithms[i].wire);
  if (!ex->algorithm[0]) luaL_error(L, "dns.update: unknown TSIG algorithm '%s'", alg);
  if (strlen(name) >= sizeof ex->key_name) luaL_error(L, "dns.update: key name too long");
  snprintf(ex->key_name, sizeof ex->key_name, "%s", name);
  lua_settop(L, top);
  load_hmac(L, ex);
  ex->is_signed = 1;
}

/* Signs the finished message: MAC over it and the TSIG variables, then the TSIG RR. */
static void sign_message (lua_State *L, Exchange *ex) {
  DnsBuf data;
  uint64_t now = (uint64_t)time(NULL);
  dnsbuf_init(&data);
  dnsbuf_bytes(&data, ex->message.data, ex->message.len);
  dnsw_tsig_variables(&data, ex->key_name, ex->algorithm, now, TSIG_FUDGE, 0, NULL, 0);
  size_t mac_len = exchange_mac(ex, &data, ex->request_mac);
  dnsbuf_free(&data);
  if (mac_len == 0) luaL_error(L, "dns.update: %s", ex->why);
  ex->request_mac_len = mac_len;
  DnsBuf *b = &ex->message;
  dnsbuf_name(b, ex->key_name, 1);
  dnsbuf_u16(b, DNSW_TSIG);
  dnsbuf_u16(b, DNSW_CLASS_ANY);
  dnsbuf_u32(b, 0);
  size_t at = b->len;
  dnsbuf_u16(b, 0);
  dnsbuf_name(b, ex->algorithm, 1);
  dnsbuf_u48(b, now);
  dnsbuf_u16(b, TSIG_FUDGE);
  dnsbuf_u16(b, (unsigned)mac_len);
  dnsbuf_bytes(b, ex->request_mac, mac_len);
  dnsbuf_u16(b, ex->id);
  dnsbuf_u16(b, 0);
  dnsbuf_u16(b, 0);
  dnsbuf_set_u16(b, at, (unsigned)(b->len - at - 2));
  dnsbuf_set_u16(b, 10, 1);   /* ARCOUNT */
}

/* Checks the reply's signature against the request's MAC (RFC 8945 5.3).
** Returns NULL when it verifies, else what is wrong (and *code, or *tsig_error when the
** server reports a TSIG error such as BADSIG: such replies carry no MAC to verify). */
static const char *verify_reply (Exchange *ex, const unsigned char *msg, size_t len,
                                 const char **code, unsigned *tsig_error) {
  DnsHeader h;
  DnsRR rr, last;
  Tsig t;
  char name[DNSW_NAME_MAX];
  unsigned qtype, qclass, rrs;
  size_t off = 12;
  *code = "malformed";
  dnsw_header(msg, len, &h);
  for (unsigned i = 0; i < h.qdcount; i++)
    if (dnsw_question(msg, len, &off, name, &qtype, &qclass) != 0) return "malformed reply";
  rrs = h.ancount + h.nscount + h.arcount;
  last.type = 0;
  for (unsigned i = 0; i < rrs; i++)
    if (dnsw_rr(msg, len, &off, &last) != 0) return "malformed reply";
  if (h.arcount == 0 || last.type != DNSW_TSIG) {
    *code = "unsigned";
    return "the reply is not signed although the update was: it may be forged, or the "
           "server does not sign replies";
  }
  rr = last;
  if (dnsw_read_tsig(msg, &rr, &t) != 0) return "malformed TSIG record";
  *code = "badsig";
  if (t.error) { *tsig_error = t.error; return "TSIG error"; }
  if (strcasecmp(rr.name, ex->key_name) != 0 &&
      !(strlen(rr.name) + 1 == strlen(ex->key_name) &&
        strncasecmp(rr.name, ex->key_name, strlen(rr.name)) == 0))
    return "signed with another key";
  DnsBuf data;
  dnsbuf_init(&data);
  if (ex->request_mac_len > 0) {     /* a reply to an unsigned request (TKEY): no MAC */
    dnsbuf_u16(&data, (unsigned)ex->request_mac_len);
    dnsbuf_bytes(&data, ex->request_mac, ex->request_mac_len);
  }
  size_t header_at = data.len;
  dnsbuf_bytes(&data, msg, rr.start);
  dnsbuf_set_u16(&data, header_at, t.original_id);
  dnsbuf_set_u16(&data, header_at + 10, h.arcount - 1);
  dnsw_tsig_variables(&data, rr.name, t.algorithm, t.time_signed, t.fudge, t.error,
                     msg + t.other, t.other_len);
  const char *wrong = exchange_check_mac(ex, &data, msg + t.mac, t.mac_len);
  dnsbuf_free(&data);
  if (wrong) return wrong;
  double skew = difftime(time(NULL), (time_t)t.time_signed);
  if (skew > t.fudge || -skew > t.fudge) {
    *code = "badtime";
    snprintf(ex->why, sizeof ex->why, "the reply was signed %.0f s %s this host's clock, "
             "more than the %u s allowed: synchronize the clocks of this host and the server "
             "(NTP; w32tm /resync on Windows)", skew < 0 ? -skew : skew,
             skew < 0 ? "ahead of" : "behind", t.fudge);
    return ex->why;
  }
  return NULL;
}


/* ---------------------------------------------------------------- dns.update: results */

/* nil, "… answered NOTAUTH: <what it means>", "notauth" for a refusing rcode; an rcode
** without a name reads "RCODE n" and has the code "unexpected". REFUSED is the server's
** answer, not a connection refused: its code is "refused_update" (modules/runbook/failure.lua
** keeps "refused" for nothing listening). */
static int update_failure (lua_State *L, Exchange *ex, unsigned rcode) {
  char number[16], lower[16];
  const char *name = dnsw_rcode_text(rcode, number, sizeof number);
  size_t i = 0;
  for (; name[i] && i < sizeof lower - 1; i++) lower[i] = (char)tolower((unsigned char)name[i]);
  lower[i] = '\0';
  const char *code = name == number ? "unexpected"
                   : strcmp(lower, "refused") == 0 ? "refused_update" : lower;
  return fail_result(L, code, "%s at %s: answered %s: %s",
                     ex->subject, ex->where, name, dnsw_update_explanation(rcode));
}

static int update_error (lua_State *L, Exchange *ex, const char *what, const char *cause) {
  return fail_result(L, cause, "%s at %s: %s", ex->subject, ex->where, what);
}

static int tkey_reply (lua_State *L, Exchange *ex, const unsigned char *msg, size_t len);

static int start_tcp (lua_State *L, Exchange *ex, lua_KContext ctx);

/* The outcome of a reply to our update. */
static int update_reply (lua_State *L, Exchange *ex, const unsigned char *msg, size_t len,
                         lua_KContext ctx) {
  DnsHeader h;
  const char *code = NULL, *problem = NULL;
  unsigned rcode = dnsw_reply_rcode(msg, len), tsig_error = 0;
  dnsw_header(msg, len, &h);
  if (h.flags & 0x0200) {
    if (ex->state == OVER_UDP) return start_tcp(L, ex, ctx);   /* truncated: again over TCP */
    return update_error(L, ex, "the reply over TCP claims to be truncated", "malformed");
  }
  if (ex->kind == TKEY) return tkey_reply(L, ex, msg, len);
  if (ex->is_signed) problem = verify_reply(ex, msg, len, &code, &tsig_error);
  if (tsig_error) return update_failure(L, ex, tsig_error);          /* BADSIG … */
  if (problem && !(strcmp(code, "unsigned") == 0 && rcode != 0))
    return update_error(L, ex, problem, code);
  if (rcode != 0) return update_failure(L, ex, rcode);
  lua_createtable(L, 0, 1);
  set_string(L, "rcode", "NOERROR");
  return 1;
}

static int update_continue (lua_State *L, int status, lua_KContext ctx) {
  Exchange *ex = (Exchange *)luaL_checkudata(L, (int)ctx, EXCHANGE_TYPE);
  unsigned char reply[65535];
  int ev = task_events(L);
  (void)status;
  if (ev & LOOP_TIMEOUT) {
    if (--ex->tries_left <= 0) {
      char what[120];
      snprintf(what, sizeof what, "no reply (timed out after %gs per try): is the server "
               "running and reachable?", ex->timeout);
      return update_error(L, ex, what, "timeout");
    }
    if (send(ex->fd, ex->message.data, ex->message.len, 0) < 0 && errno != ECONNREFUSED)
      return update_error(L, ex, strerror(errno), fail_cause_of_errno(errno));
    return task_wait_fd(L, ex->fd, POLLIN, ex->timeout, ctx, update_continue);
  }
  ssize_t n = recv(ex->fd, reply, sizeof reply, 0);
  if (n < 0 && errno == ECONNREFUSED)
    return update_error(L, ex, "refused: nothing listens on that port", "refused");
  if (n < 0 && errno != EAGAIN && errno != EINTR)
    return update_error(L, ex, strerror(errno), fail_cause_of_errno(errno));
  if (n < 12 || dnsw_u16(reply) != ex->id || !(reply[2] & 0x80))   /* not our reply */
    return task_wait_fd(L, ex->fd, POLLIN, ex->timeout, ctx, update_continue);
  return update_reply(L, ex, reply, (size_t)n, ctx);
}

/* The TCP exchange (RFC 1035 4.2.2: a 2-byte length before each message) as one state
** machine: connect, write, read; each wait parks the task with the exchange's timeout. */
static int tcp_continue (lua_State *L, int status, lua_KContext ctx) {
  Exchange *ex = (Exchange *)luaL_checkudata(L, (int)ctx, EXCHANGE_TYPE);
  int ev = task_events(L);
  (void)status;
  if (ev & LOOP_TIMEOUT)
    return update_error(L, ex, "no reply over TCP (timed out): is the server running and "
                        "reachable?", "timeout");
  if (ex->state == TCP_CONNECTING) {
    int err = 0;
    socklen_t err_len = sizeof err;
    getsockopt(ex->fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
    if (err) return update_error(L, ex, strerror(err), fail_cause_of_errno(err));
    ex->state = TCP_WRITING;
    ex->tcp_done = 0;
  }
  while (ex->state == TCP_WRITING) {
    unsigned char length[2] = { (unsigned char)(ex->message.len >> 8),
                                (unsigned char)ex->message.len };
    struct iovec parts[2] = { { length, 2 }, { ex->message.data, ex->message.len } };
    size_t skip = ex->tcp_done;
    for (int i = 0; i < 2; i++) {
      size_t cut = skip < parts[i].iov_len ? skip : parts[i].iov_len;
      parts[i].iov_base = (char *)parts[i].iov_base + cut;
      parts[i].iov_len -= cut;
      skip -= cut;
    }
    struct msghdr out = { .msg_iov = parts, .msg_iovlen = 2 };
    ssize_t n = sendmsg(ex->fd, &out, MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN) return task_wait_fd(L, ex->fd, POLLOUT, ex->timeout, ctx,
                                                      tcp_continue);
    if (n < 0) return update_error(L, ex, strerror(errno), "closed");
    if ((ex->tcp_done += (size_t)n) == ex->message.len + 2) ex->state = TCP_READING,
                                                            ex->tcp_done = 0;
  }
  for (;;) {
    size_t want = ex->tcp_done < 2 ? 2 : 2 + dnsw_u16(ex->tcp_reply);
    if (ex->tcp_done == want && want > 2) break;
    ssize_t n = recv(ex->fd, ex->tcp_reply + ex->tcp_done, want - ex->tcp_done, 0);
    if (n < 0 && errno == EAGAIN) return task_wait_fd(L, ex->fd, POLLIN, ex->timeout, ctx,
                                                      tcp_continue);
    if (n <= 0) return update_error(L, ex, n == 0 ? "the server closed the TCP connection "
                                    "before replying" : strerror(errno), "closed");
    ex->tcp_done += (size_t)n;
  }
  size_t len = ex->tcp_done - 2;
  if (len < 12 || dnsw_u16(ex->tcp_reply + 2) != ex->id || !(ex->tcp_reply[4] & 0x80))
    return update_error(L, ex, "the reply over TCP is not for this update", "malformed");
  return update_reply(L, ex, ex->tcp_reply + 2, len, ctx);
}

static int open_socket (lua_State *L, Exchange *ex, int type) {
  if (ex->fd >= 0) close(ex->fd);
  ex->fd = socket(ex->address.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (ex->fd < 0) luaL_error(L, "dns.update: cannot open a socket: %s", strerror(errno));
  if (type == SOCK_STREAM)   /* no Nagle wait (docs/architecture.md) */
    setsockopt(ex->fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
  return connect(ex->fd, (struct sockaddr *)&ex->address, ex->address_len);
}

/* Sends the update over TCP: when it is too big for UDP, or the UDP reply was truncated. */
static int start_tcp (lua_State *L, Exchange *ex, lua_KContext ctx) {
  if (ex->tcp_reply == NULL && (ex->tcp_reply = malloc(2 + 65535)) == NULL)
    return luaL_error(L, "dns.update: out of memory");
  ex->state = TCP_CONNECTING;
  if (open_socket(L, ex, SOCK_STREAM) != 0 && errno != EINPROGRESS)
    return update_error(L, ex, strerror(errno), fail_cause_of_errno(errno));
  return task_wait_fd(L, ex->fd, POLLOUT, ex->timeout, ctx, tcp_continue);
}

/* The server's socket address into ex. */
static void exchange_address (lua_State *L, Exchange *ex, const char *server, int port) {
  struct sockaddr_storage sa;
  socklen_t sa_len;
  memset(&sa, 0, sizeof sa);
  struct sockaddr_in *v4 = (struct sockaddr_in *)&sa;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&sa;
  if (inet_pton(AF_INET, server, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    sa_len = sizeof *v4;
  } else if (inet_pton(AF_INET6, server, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    sa_len = sizeof *v6;
  } else {
    luaL_error(L, "dns.update: server must be an IP address, got '%s'", server);
    return;
  }
  snprintf(ex->where, sizeof ex->where, sa.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d",
           server, port);
  ex->address = sa;
  ex->address_len = sa_len;
}

/* Pushes a new exchange, closed state, to be closed when dns.update returns or raises. */
static Exchange *push_exchange (lua_State *L) {
  Exchange *ex = (Exchange *)lua_newuserdatauv(L, sizeof(Exchange), 1);
  memset(ex, 0, sizeof *ex);
  ex->fd = -1;
  dnsbuf_init(&ex->message);
  luaL_setmetatable(L, EXCHANGE_TYPE);
  lua_toclose(L, -1);
  return ex;
}

/* The server's options into ex (server, port, timeout, tries); raises on misuse. */
static void read_server (lua_State *L, Exchange *ex) {
  const char *server = options_string(L, 1, "server", NULL);
  int port = (int)options_number(L, 1, "port", 53);
  double timeout = options_number(L, 1, "timeout", 5);
  int tries = (int)options_number(L, 1, "tries", 3);
  luaL_argcheck(L, server != NULL, 1, "server: expected the IP address of the primary");
  luaL_argcheck(L, port > 0 && port < 65536, 1, "port: expected 1-65535");
  luaL_argcheck(L, timeout > 0, 1, "timeout: expected seconds > 0");
  luaL_argcheck(L, tries >= 1 && tries <= 20, 1, "tries: expected 1-20");
  exchange_address(L, ex, server, port);
  ex->timeout = timeout;
  ex->tries_left = tries;
  lua_pop(L, 1);             /* server: copied */
}

/* The options into ex (server, zone, port, timeout, tries, key); raises on misuse. */
static void read_options (lua_State *L, Exchange *ex) {
  read_server(L, ex);
  const char *zone = options_string(L, 1, "zone", NULL);
  luaL_argcheck(L, zone != NULL && strlen(zone) < 256, 1, "zone: expected a zone name");
  snprintf(ex->zone, sizeof ex->zone, "%s", zone);
  snprintf(ex->subject, sizeof ex->subject, "dns update of zone %s", zone);
  lua_pop(L, 1);             /* zone: copied */
  lua_getfield(L, 1, "key");
  if (!lua_isnil(L, -1)) {
    luaL_checktype(L, -1, LUA_TTABLE);
    read_key(L, ex, lua_gettop(L));
  }
  lua_pop(L, 1);
}

/* Whether the update section would hold anything. A message with prerequisites only
** changes nothing (RFC 2136 §3.2, §3.4: the server checks the key and the prerequisites,
** and an empty update section updates nothing): it proves a TSIG key without touching the
** zone, so plan and checks may send one. */
static int has_changes (lua_State *L) {
  lua_Integer count;
  lua_getfield(L, 1, "changes");
  count = lua_istable(L, -1) ? luaL_len(L, -1) : (lua_isnil(L, -1) ? 0 : 1);
  lua_pop(L, 1);
  return count > 0;
}

/* dns.update{server=, port=, zone=, key=, prerequisites=, changes=, timeout=, tries=} */
static int dns_update (lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  if (has_changes(L)) loop_check_mutation(L, "send a DNS update");
  task_check_current(L, "dns.update");
  lua_settop(L, 1);
  Exchange *ex = push_exchange(L);           /* 2: the continuations' ctx */
  read_options(L, ex);
  if (getrandom(&ex->id, sizeof ex->id, 0) != (ssize_t)sizeof ex->id) ex->id = (unsigned)rand();
  ex->id &= 0xffff;
  DnsBuf *b = &ex->message;
  dnsbuf_u16(b, ex->id);
  dnsbuf_u16(b, 5 << 11);                    /* opcode UPDATE */
  for (int i = 0; i < 4; i++) dnsbuf_u16(b, i == 0);
  put_name(L, b, ex->zone);
  dnsbuf_u16(b, DNSW_SOA);
  dnsbuf_u16(b, DNSW_IN);
  dnsbuf_set_u16(b, 6, put_section(L, b, "prerequisites", 1));
  dnsbuf_set_u16(b, 8, put_section(L, b, "changes", 0));
  if (ex->is_signed) sign_message(L, ex);
  if (b->failed) return luaL_error(L, "dns.update: out of memory");
  if (b->len > 65535) return luaL_error(L, "dns.update: the update is over 64 KB: split it");
  if (b->len > 512) return start_tcp(L, ex, 2);
  if (open_socket(L, ex, SOCK_DGRAM) != 0)
    return luaL_error(L, "dns.update: cannot connect a socket to %s: %s", ex->where,
                      strerror(errno));
  if (send(ex->fd, b->data, b->len, 0) < 0)
    return update_error(L, ex, strerror(errno), fail_cause_of_errno(errno));
  return task_wait_fd(L, ex->fd, POLLIN, ex->timeout, 2, update_continue);
}



/* ---------------------------------------------------------------- TKEY (RFC 2930, 3645) */

/* The TKEY record's RDATA at rr into the table on top: token, error (its mnemonic, or
** absent), expiration. */
static int read_tkey (lua_State *L, const unsigned char *msg, const DnsRR *rr) {
  char algorithm[DNSW_NAME_MAX], number[16];
  size_t off = rr->rdata, end = rr->rdata + rr->rdlen;
  if (dnsw_name(msg, end, &off, algorithm) != 0 || off + 16 > end) return -1;
  uint32_t expiration = dnsw_u32(msg + off + 4);
  unsigned error = dnsw_u16(msg + off + 10), key_len = dnsw_u16(msg + off + 12);
  off += 14;
  if (off + key_len + 2 > end) return -1;
  lua_pushlstring(L, (const char *)msg + off, key_len);
  lua_setfield(L, -2, "token");
  if (error) set_string(L, "error", dnsw_rcode_text(error, number, sizeof number));
  lua_pushinteger(L, expiration);
  lua_setfield(L, -2, "expiration");
  return 0;
}

/* The answer to a TKEY query: {token=, error=, rcode=, reply=} — a TKEY error such as
** BADKEY is an answer (its token may say why: a Kerberos KRB-ERROR); the raw reply is for
** verify_tkey once the context is established. A failing rcode without TKEY fails. */
static int tkey_reply (lua_State *L, Exchange *ex, const unsigned char *msg, size_t len) {
  DnsHeader h;
  DnsRR rr;
  char name[DNSW_NAME_MAX], number[16];
  unsigned qtype, qclass, rcode = dnsw_reply_rcode(msg, len);
  size_t off = 12;
  dnsw_header(msg, len, &h);
  lua_createtable(L, 0, 6);
  set_string(L, "rcode", dnsw_rcode_text(rcode, number, sizeof number));
  lua_pushlstring(L, (const char *)msg, len);
  lua_setfield(L, -2, "reply");
  for (unsigned i = 0; i < h.qdcount; i++)
    if (dnsw_question(msg, len, &off, name, &qtype, &qclass) != 0)
      return update_error(L, ex, "malformed answer", "malformed");
  for (unsigned i = 0; i < h.ancount; i++) {
    if (dnsw_rr(msg, len, &off, &rr) != 0)
      return update_error(L, ex, "malformed answer", "malformed");
    if (rr.type != DNSW_TKEY) continue;
    if (read_tkey(L, msg, &rr) != 0)
      return update_error(L, ex, "malformed TKEY record", "malformed");
    return 1;
  }
  if (rcode != 0) return update_failure(L, ex, rcode);
  return update_error(L, ex, "the answer holds no TKEY record: the server does not "
                      "negotiate GSS-TSIG keys (BIND: tkey-gssapi-keytab)", "protocol");
}

/* The query of one leg: NAME TKEY ANY, the TKEY record (algorithm gss-tsig, mode 3, the
** token as its key data) in the additional section (RFC 2930 §3, RFC 3645 §3.1.1). */
static void put_tkey_query (lua_State *L, Exchange *ex, const char *token, size_t len) {
  DnsBuf *b = &ex->message;
  uint32_t now = (uint32_t)time(NULL);
  dnsbuf_u16(b, ex->id);
  dnsbuf_u16(b, 0);                          /* a query, no recursion */
  dnsbuf_u16(b, 1);
  dnsbuf_u16(b, 0);
  dnsbuf_u16(b, 0);
  dnsbuf_u16(b, 1);
  for (int rr = 0; rr < 2; rr++) {           /* the question, then the record */
    put_name(L, b, ex->key_name);
    dnsbuf_u16(b, DNSW_TKEY);
    dnsbuf_u16(b, DNSW_CLASS_ANY);
  }
  dnsbuf_u32(b, 0);
  size_t at = b->len;
  dnsbuf_u16(b, 0);
  dnsbuf_name(b, "gss-tsig", 1);
  dnsbuf_u32(b, now);                        /* inception and expiration: the server's */
  dnsbuf_u32(b, now);                        /* lifetime applies (as nsupdate -g sends) */
  dnsbuf_u16(b, TKEY_MODE_GSSAPI);
  dnsbuf_u16(b, 0);
  dnsbuf_u16(b, (unsigned)len);
  dnsbuf_bytes(b, token, len);
  dnsbuf_u16(b, 0);
  dnsbuf_set_u16(b, at, (unsigned)(b->len - at - 2));
}

/* dns.tkey{server=, port=, name=, token=, timeout=}: one leg of the negotiation of a
** GSS-TSIG key, always over TCP (a Kerberos token does not fit a UDP datagram). Not a
** change of any zone: plan and checks may negotiate (the prove of a GSS-TSIG key). */
static int dns_tkey (lua_State *L) {
  size_t len;
  luaL_checktype(L, 1, LUA_TTABLE);
  task_check_current(L, "dns.tkey");
  lua_settop(L, 1);
  Exchange *ex = push_exchange(L);           /* 2: the continuations' ctx */
  ex->kind = TKEY;
  read_server(L, ex);
  const char *name = options_string(L, 1, "name", NULL);
  luaL_argcheck(L, name && strlen(name) < sizeof ex->key_name, 1, "name: expected a key name");
  snprintf(ex->key_name, sizeof ex->key_name, "%s", name);
  lua_pop(L, 1);
  lua_getfield(L, 1, "token");
  const char *token = luaL_checklstring(L, -1, &len);
  luaL_argcheck(L, len > 0 && len < 65000, 1, "token: expected the context's next token");
  snprintf(ex->subject, sizeof ex->subject, "GSS-TSIG key negotiation (TKEY)");
  if (getrandom(&ex->id, sizeof ex->id, 0) != (ssize_t)sizeof ex->id) ex->id = (unsigned)rand();
  ex->id &= 0xffff;
  put_tkey_query(L, ex, token, len);
  lua_pop(L, 1);
  if (ex->message.failed || ex->message.len > 65535)
    return luaL_error(L, "dns.tkey: the query cannot be built (out of memory, or a bad name)");
  return start_tcp(L, ex, 2);
}

/* dns.verify_tkey(reply, {name=, gss=ctx} [, where]): the TSIG of the server's last answer,
** signed with the context it completed (RFC 3645 §4.1.3): true | nil, message, code. */
static int dns_verify_tkey (lua_State *L) {
  size_t len;
  const char *code = "malformed";
  unsigned tsig_error = 0;
  const unsigned char *reply = (const unsigned char *)luaL_checklstring(L, 1, &len);
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_optstring(L, 3, NULL);
  lua_settop(L, 3);
  Exchange *ex = push_exchange(L);           /* 4 */
  read_gss_key(L, ex, 2, 4);
  snprintf(ex->subject, sizeof ex->subject, "GSS-TSIG key negotiation (TKEY)");
  snprintf(ex->where, sizeof ex->where, "%s", luaL_optstring(L, 3, "the server"));
  if (len < 12) return update_error(L, ex, "malformed answer", "malformed");
  const char *problem = verify_reply(ex, reply, len, &code, &tsig_error);
  if (tsig_error) return update_failure(L, ex, tsig_error);
  if (problem) return update_error(L, ex, problem, code);
  lua_pushboolean(L, 1);
  return 1;
}


static const luaL_Reg update_funcs[] = {
  {"update", dns_update},
  {"tkey", dns_tkey},
  {"verify_tkey", dns_verify_tkey},
  {NULL, NULL}
};

int luaopen_runbook_dns_update (lua_State *L) {
  if (luaL_newmetatable(L, EXCHANGE_TYPE)) {
    lua_pushcfunction(L, exchange_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, exchange_close);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 1);
  luaL_newlib(L, update_funcs);
  return 1;
}
