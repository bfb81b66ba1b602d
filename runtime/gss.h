/*
** gss.h — WinRM's message encryption (MS-WSMV 2.2.9.1) as C functions. runbook.gss (MIT
** Kerberos' GSS-API and gss-ntlmssp, loaded on first use) leaves a pointer to a GssApi in
** the registry when it opens; runbook.http seals a request body after its read permit
** checked the plaintext and unseals the answer before Lua sees it: what is checked is
** what is sent, and the session key never leaves the GSS context. runbook.dns.update signs
** GSS-TSIG (RFC 3645) through mic and verify_mic in the same way.
*/
#ifndef RUNBOOK_GSS_H
#define RUNBOOK_GSS_H

#include <stddef.h>

#include <lua.h>

#define GSS_API_KEY "runbook.gss.api"
#define GSS_API_VERSION 2
#define GSS_CONTEXT_TYPE "runbook.gss.context"

typedef struct GssApi {
  int version;
  /* Pushes the multipart/encrypted body of plain (the context is the userdata at ctx) and
  ** returns its Content-Type (static); pushes an error message and returns NULL when the
  ** context cannot seal. */
  const char *(*seal) (lua_State *L, int ctx, const char *plain, size_t len);
  /* Pushes the plaintext of a multipart/encrypted body, or nil and a message. */
  int (*unseal) (lua_State *L, int ctx, const char *body, size_t len);
  /* The MIC of data under the context (the memory of a GSS_CONTEXT_TYPE userdata) into
  ** mic (max bytes): its length, or 0 with what failed written into why. */
  size_t (*mic) (void *context, const unsigned char *data, size_t len, unsigned char *mic,
                 size_t max, char *why, size_t why_size);
  /* 0 when mic is the context's MIC of data, else -1 with what failed written into why. */
  int (*verify_mic) (void *context, const unsigned char *data, size_t len,
                     const unsigned char *mic, size_t mic_len, char *why, size_t why_size);
} GssApi;

#endif
