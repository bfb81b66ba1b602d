/*
** gss.h — WinRM's message encryption (MS-WSMV 2.2.9.1) as C functions. runbook.gss (MIT
** Kerberos' GSS-API and gss-ntlmssp, loaded on first use) leaves a pointer to a GssApi in
** the registry when it opens; runbook.http seals a request body after its read permit
** checked the plaintext and unseals the answer before Lua sees it: what is checked is
** what is sent, and the session key never leaves the GSS context.
*/
#ifndef RUNBOOK_GSS_H
#define RUNBOOK_GSS_H

#include <stddef.h>

#include <lua.h>

#define GSS_API_KEY "runbook.gss.api"
#define GSS_API_VERSION 1
#define GSS_CONTEXT_TYPE "runbook.gss.context"

typedef struct GssApi {
  int version;
  /* Pushes the multipart/encrypted body of plain (the context is the userdata at ctx) and
  ** returns its Content-Type (static); pushes an error message and returns NULL when the
  ** context cannot seal. */
  const char *(*seal) (lua_State *L, int ctx, const char *plain, size_t len);
  /* Pushes the plaintext of a multipart/encrypted body, or nil and a message. */
  int (*unseal) (lua_State *L, int ctx, const char *body, size_t len);
} GssApi;

#endif
