/*
** tsig.c — runbook.tsig: the HMACs of TSIG (RFC 8945) from OpenSSL's libcrypto, in a
** module of its own so that the core (runbook.dns) does not link OpenSSL.
**
**   tsig.hmac(algorithm, key, data) -> mac     algorithm in wire form ("hmac-sha256",
**                                               "hmac-md5.sig-alg.reg.int", ...)
** Errors never include the key.
*/
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "loop_api.h"

static const struct { const char *name; const EVP_MD *(*md) (void); } tsig_digests[] = {
  {"hmac-md5.sig-alg.reg.int", EVP_md5}, {"hmac-sha1", EVP_sha1},
  {"hmac-sha224", EVP_sha224}, {"hmac-sha256", EVP_sha256}, {"hmac-sha384", EVP_sha384},
  {"hmac-sha512", EVP_sha512}, {NULL, NULL}
};

static int tsig_hmac (lua_State *L) {
  size_t key_len, data_len;
  const char *algorithm = luaL_checkstring(L, 1);
  const char *key = luaL_checklstring(L, 2, &key_len);
  const char *data = luaL_checklstring(L, 3, &data_len);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  int i = 0;
  while (tsig_digests[i].name && strcasecmp(tsig_digests[i].name, algorithm) != 0) i++;
  if (tsig_digests[i].name == NULL)
    return luaL_argerror(L, 1, "unknown TSIG algorithm");
  if (HMAC(tsig_digests[i].md(), key, (int)key_len, (const unsigned char *)data, data_len,
           mac, &mac_len) == NULL)
    return luaL_error(L, "tsig: HMAC with %s failed", algorithm);
  lua_pushlstring(L, (const char *)mac, mac_len);
  return 1;
}

static const luaL_Reg tsig_funcs[] = {
  {"hmac", tsig_hmac},
  {NULL, NULL}
};

int luaopen_runbook_tsig (lua_State *L) {
  loop_api_open(L);
  luaL_newlib(L, tsig_funcs);
  return 1;
}
