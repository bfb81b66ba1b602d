/*
** tsig.h — the HMAC of TSIG (RFC 8945) as a C function. runbook.tsig (OpenSSL, loaded on
** first use) leaves a pointer to a TsigApi in the registry when it opens, and
** runbook.dns.update calls it with the decoded key straight from its own memory: the key
** never becomes a Lua string, which the collector would leave lying around.
*/
#ifndef RUNBOOK_TSIG_H
#define RUNBOOK_TSIG_H

#include <stddef.h>

#define TSIG_API_KEY "runbook.tsig.api"
#define TSIG_API_VERSION 1
#define TSIG_MAC_MAX 64          /* the longest MAC: HMAC-SHA512 */

typedef struct TsigApi {
  int version;
  /* The HMAC of data under key with the algorithm in wire form ("hmac-sha256",
  ** "hmac-md5.sig-alg.reg.int"…) into mac (TSIG_MAC_MAX bytes); returns its length, or 0
  ** for an unknown algorithm or a failure of the library. */
  size_t (*hmac) (const char *algorithm, const unsigned char *key, size_t key_len,
                  const unsigned char *data, size_t data_len, unsigned char *mac);
} TsigApi;

#endif
