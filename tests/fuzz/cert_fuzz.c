/*
** cert_fuzz.c — libFuzzer target for what a TLS peer controls in its certificate (issue 6).
** An input is either DER (an even first byte, as 0x30 is) or, after an odd first byte,
** lines "<kind byte><name>" from which a signed certificate with those names is built (so
** that the names, not just the DER framing, get mutated). The DER goes through
** tls.read_certificate (runtime/tls.c: d2i_X509, then the extraction of the names
** stream:certificate() reports), which must give the names or nil, msg, "malformed" —
** never crash, never raise; the names then go through
** xmpp.certificate_names (modules/xmpp.lua) for contoso.com and for every domain the
** certificate itself presents, which must never raise and must accept only what RFC 6125
** allows: a DNS-ID equal to the domain or "*." + its parent, the SRV-ID
** "_xmpp-server." + domain, an XmppAddr equal to the domain, and the subject CN only when no
** subjectAltName identifier is presented.
** Build and run: tests/fuzz/cert_run.sh [seconds]  (clang, libFuzzer, ASan, UBSan).
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#undef RUNBOOK_MODULE                /* tls.c is the module; this file only stubs its loop */
#include "../../runtime/loop_api.h"

int luaopen_runbook_tls (lua_State *L);

static const char *const CHECK = "\
local der = ...\n\
local tls, xmpp = require 'runbook.tls', require 'xmpp'\n\
local cert, message, code = tls.read_certificate(der)\n\
if cert == nil then\n\
  assert(code == 'malformed' and type(message) == 'string', 'bad failure: ' .. tostring(code))\n\
  return\n\
end\n\
local LISTS = { 'dns_names', 'srv_names', 'xmpp_addresses', 'uri_names', 'ip_addresses',\n\
  'other_names' }\n\
local identifiers = 0\n\
for _, key in ipairs(LISTS) do\n\
  for _, name in ipairs(assert(cert[key], key)) do\n\
    assert(type(name) == 'string', key)\n\
    if key ~= 'ip_addresses' then identifiers = identifiers + 1 end\n\
  end\n\
end\n\
local function plain(name) return (name:lower():gsub('%.$', '')) end\n\
local function presented(key, name)\n\
  for _, candidate in ipairs(cert[key]) do if candidate == name then return true end end\n\
end\n\
local function check(domain)\n\
  local ok, match, why = pcall(xmpp.certificate_names, cert, domain)\n\
  if not ok then\n\
    assert(tostring(match):find('is not a domain name', 1, true), match)\n\
    return\n\
  end\n\
  if match == nil then assert(type(why) == 'string') return end\n\
  assert(not match:find('%z'), 'a name with a NUL accepted')\n\
  local d, parent = plain(domain), plain(domain):gsub('^[^.]*%.', '')\n\
  local srv = match:match('^(.*) %(SRV%-ID%)$')\n\
  local address = match:match('^(.*) %(XmppAddr%)$')\n\
  local cn = match:match('^(.*) %(subject CN')\n\
  if srv then\n\
    assert(presented('srv_names', srv) and plain(srv) == '_xmpp-server.' .. d, match)\n\
  elseif address then\n\
    assert(presented('xmpp_addresses', address) and plain(address) == d, match)\n\
  elseif cn then\n\
    assert(cn == cert.subject_cn and plain(cn) == d and identifiers == 0, match)\n\
  else\n\
    assert(presented('dns_names', match), match)\n\
    assert(plain(match) == d or plain(match) == '*.' .. parent and parent:find('.', 1, true),\n\
      'certificate name ' .. match .. ' accepted for ' .. domain)\n\
  end\n\
end\n\
check('contoso.com')\n\
for _, key in ipairs { 'dns_names', 'srv_names', 'xmpp_addresses' } do\n\
  for _, name in ipairs(cert[key]) do\n\
    check((name:gsub('^_[^.]*%.', ''):gsub('^%*%.', 'a.')))\n\
  end\n\
end\n\
if cert.subject_cn then check(cert.subject_cn) end\n";

/* tls.c reaches the loop through the registry; reading certificates never uses it. */
static const LoopApi stub_loop = { .version = LOOP_API_VERSION };

static lua_State *state;
static EVP_PKEY *signing_key;

/* One line of a names input as a subjectAltName entry, or as the subject CN (kind 6). */
static void add_name (X509 *cert, GENERAL_NAMES *names, int kind, const uint8_t *s, int len) {
  static const int TYPES[] = { V_ASN1_IA5STRING, V_ASN1_IA5STRING, V_ASN1_OCTET_STRING,
                               V_ASN1_IA5STRING, V_ASN1_UTF8STRING, V_ASN1_UTF8STRING };
  static const int OTHER[] = { 0, 0, 0, NID_SRVName, NID_XmppAddr, NID_SRVName };
  static const int GEN[] = { GEN_DNS, GEN_URI, GEN_IPADD };
  GENERAL_NAME *name;
  ASN1_STRING *value;
  if (kind == 6) {
    X509_NAME_add_entry_by_NID(X509_get_subject_name(cert), NID_commonName, V_ASN1_UTF8STRING,
                               s, len, -1, 0);
    return;
  }
  value = ASN1_STRING_type_new(TYPES[kind]);
  name = GENERAL_NAME_new();
  ASN1_STRING_set(value, s, len);
  if (OTHER[kind]) {
    ASN1_TYPE *other = ASN1_TYPE_new();
    ASN1_TYPE_set(other, TYPES[kind], value);
    GENERAL_NAME_set0_othername(name, OBJ_nid2obj(OTHER[kind]), other);
  } else {
    GENERAL_NAME_set0_value(name, GEN[kind], value);
  }
  sk_GENERAL_NAME_push(names, name);
}

/* A certificate signed by a throwaway key, with the names of the lines in data; -> DER
** length (out: OPENSSL_malloc'ed), or -1. */
static int certificate_of (const uint8_t *data, size_t size, unsigned char **out) {
  X509 *cert = X509_new();
  GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
  int len = -1;
  for (size_t at = 0; at < size;) {
    const uint8_t *end = memchr(data + at, '\n', size - at);
    size_t line = end ? (size_t)(end - data) - at : size - at;
    if (line > 0) add_name(cert, names, data[at] % 7, data + at + 1, (int)line - 1);
    at += line + 1;
  }
  X509_set_version(cert, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_set_issuer_name(cert, X509_get_subject_name(cert));
  X509_set_pubkey(cert, signing_key);
  if (sk_GENERAL_NAME_num(names) > 0) X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, 0);
  if (X509_sign(cert, signing_key, EVP_sha256()) > 0) len = i2d_X509(cert, out);
  GENERAL_NAMES_free(names);
  X509_free(cert);
  return len;
}

static lua_State *setup (void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_pushlightuserdata(L, (void *)&stub_loop);
  lua_setfield(L, LUA_REGISTRYINDEX, LOOP_API_KEY);
  /* xmpp.lua requires net, xml and task; certificate_names needs none of them */
  if (luaL_dostring(L, "package.path = 'modules/?.lua;' .. package.path\n"
                       "package.loaded['runbook.task.core'] = true\n"
                       "for _, name in ipairs { 'runbook.net', 'runbook.xml', 'runbook.task' } do\n"
                       "  package.preload[name] = function() return {} end\n"
                       "end") != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    abort();
  }
  luaL_requiref(L, "runbook.tls", luaopen_runbook_tls, 0);
  lua_pop(L, 1);
  if (luaL_loadstring(L, CHECK) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    abort();
  }
  lua_setglobal(L, "check");
  signing_key = EVP_EC_gen("P-256");
  if (signing_key == NULL) abort();
  return L;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  unsigned char *der = NULL;
  int len;
  if (state == NULL) state = setup();
  lua_getglobal(state, "check");
  if (size > 0 && data[0] % 2 == 1) {
    len = certificate_of(data + 1, size - 1, &der);
    lua_pushlstring(state, (const char *)der, len > 0 ? (size_t)len : 0);
    OPENSSL_free(der);
  } else {
    lua_pushlstring(state, (const char *)data, size);
  }
  if (lua_pcall(state, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(state, -1));
    abort();
  }
  lua_gc(state, LUA_GCCOLLECT);
  return 0;
}
