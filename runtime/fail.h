/*
** fail.h — the one way a primitive fails softly. As lauxlib's luaL_fileresult does for a
** file, fail_result pushes fail (nil), a message and a cause, and the primitive returns
** its 3. Misuse (a wrong argument) raises instead; a peer, a network or a file failing is
** an answer.
**
** The cause is a word of the one list, modules/runbook/failure.lua (docs/architecture.md):
**   could not ask   timeout refused unreachable filtered closed name-resolution auth
**                   hostkey tls protocol limit cancelled
**   asked: no       not-found denied conflict refused_update command precondition
** plus the local words of runbook.fs (missing, denied, io, locked) and a reply that does
** not parse (malformed), never the name of a library. Header-only, like options.h.
*/
#ifndef RUNBOOK_FAIL_H
#define RUNBOOK_FAIL_H

#include <errno.h>
#include <stdarg.h>

#include <lua.h>
#include <lauxlib.h>

/* Pushes fail, the message (lua_pushfstring's format) and the cause: returns 3. */
static inline int fail_result (lua_State *L, const char *cause, const char *fmt, ...) {
  va_list ap;
  luaL_pushfail(L);
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_pushstring(L, cause);
  return 3;
}

/* The cause of a socket's errno. */
static inline const char *fail_cause_of_errno (int err) {
  switch (err) {
    case ECONNREFUSED: return "refused";
    case ETIMEDOUT: return "timeout";
    case EHOSTUNREACH: case ENETUNREACH: case EHOSTDOWN: case ENETDOWN: return "unreachable";
    case ECONNRESET: case EPIPE: case ECONNABORTED: return "closed";
    default: return "protocol";
  }
}

#endif
