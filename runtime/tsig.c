/*
** tsig.c — runbook.tsig: the HMACs of TSIG (RFC 8945) from OpenSSL's libcrypto, in a
** module of its own so that the core (runbook.dns) does not link OpenSSL.
**
**   tsig.hmac(algorithm, key, data) -> mac     algorithm in wire form ("hmac-sha256",
**                                               "hmac-md5.sig-alg.reg.int", ...)
** tsig.hmac takes its key as a Lua string (NTLM's HMAC-MD5, modules/ntlm.lua). A TSIG key
** never takes that road: runbook.dns.update calls the same HMAC as a C function
** (runtime/tsig.h) with the key in its own memory. Errors never include the key.
*/
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "loop_api.h"
#include "tsig.h"

static const struct { const char *name; const EVP_MD *(*md) (void); } tsig_digests[] = {
  {"hmac-md5.sig-alg.reg.int", EVP_md5}, {"hmac-sha1", EVP_sha1},
  {"hmac-sha224", EVP_sha224}, {"hmac-sha256", EVP_sha256}, {"hmac-sha384", EVP_sha384},
  {"hmac-sha512", EVP_sha512}, {NULL, NULL}
};

static const EVP_MD *tsig_digest (const char *algorithm) {
  for (int i = 0; tsig_digests[i].name; i++)
    if (strcasecmp(tsig_digests[i].name, algorithm) == 0) return tsig_digests[i].md();
  return NULL;
}

/* TsigApi.hmac: OpenSSL's one-shot HMAC, which cleanses its own copy of the key. */
static size_t tsig_hmac_c (const char *algorithm, const unsigned char *key, size_t key_len,
                           const unsigned char *data, size_t data_len, unsigned char *mac) {
  const EVP_MD *md = tsig_digest(algorithm);
  unsigned int mac_len = 0;
  if (md == NULL || key_len > 0x7fffffff || EVP_MD_get_size(md) > TSIG_MAC_MAX) return 0;
  if (HMAC(md, key, (int)key_len, data, data_len, mac, &mac_len) == NULL) return 0;
  return mac_len;
}

static const TsigApi tsig_api = { TSIG_API_VERSION, tsig_hmac_c };

static int tsig_hmac (lua_State *L) {
  size_t key_len, data_len, mac_len;
  const char *algorithm = luaL_checkstring(L, 1);
  const char *key = luaL_checklstring(L, 2, &key_len);
  const char *data = luaL_checklstring(L, 3, &data_len);
  unsigned char mac[TSIG_MAC_MAX];
  if (tsig_digest(algorithm) == NULL) return luaL_argerror(L, 1, "unknown TSIG algorithm");
  mac_len = tsig_hmac_c(algorithm, (const unsigned char *)key, key_len,
                        (const unsigned char *)data, data_len, mac);
  if (mac_len == 0) return luaL_error(L, "tsig: HMAC with %s failed", algorithm);
  lua_pushlstring(L, (const char *)mac, mac_len);
  return 1;
}

static const luaL_Reg tsig_funcs[] = {
  {"hmac", tsig_hmac},
  {NULL, NULL}
};

int luaopen_runbook_tsig (lua_State *L) {
  loop_api_open(L);
  lua_pushlightuserdata(L, (void *)&tsig_api);
  lua_setfield(L, LUA_REGISTRYINDEX, TSIG_API_KEY);
  luaL_newlib(L, tsig_funcs);
  return 1;
}
