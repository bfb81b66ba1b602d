/*
** permit.c — runbook.permit: read permits. While `runbook plan` runs and inside a read-only
** task (a step's hosts, check and verify) every primitive that can change a system refuses
** (loop_check_mutation), unless its caller proves that what it sends only reads. The proof
** is a permit:
**
**   permit.read(kind, command [, stdin]) -> permit | nil, reason
**
** A permit is minted only when runbook.reads (modules/runbook/reads.lua) verifies the
** command itself — kind "powershell": an instance of a registered read template, or only
** cmdlets and parameters on the read allow-list (docs/security.md); kind "vantage-connect":
** the vantage host's own connect probe. Nobody can
** vouch for a command by saying so. A permit holds the exact command and stdin: ssh exec
** accepts it for that command only (runtime/permit.h), process.run for that command's words
** behind one of the read programs (runtime/process.c), an http.connection for that command's
** WS-Management exchange and nothing else (runtime/permit_wsman.h). The verifier is taken
** when this library opens, before any runbook code could swap it.
*/
#include <lua.h>
#include <lauxlib.h>

#include "permit.h"

/* permit.read(kind, command [, stdin]): asks the verifier (upvalue 1), mints on yes. */
static int permit_read (lua_State *L) {
  luaL_checkstring(L, 1);
  luaL_checkstring(L, 2);
  luaL_optstring(L, 3, NULL);
  lua_settop(L, 3);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  lua_call(L, 3, 2);
  if (!lua_toboolean(L, -2)) {
    luaL_pushfail(L);
    lua_pushvalue(L, -2);
    return 2;
  }
  lua_settop(L, 3);
  lua_newuserdatauv(L, 0, 2);
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, -2, 2);
  luaL_setmetatable(L, READ_PERMIT_TYPE);
  return 1;
}

static int permit_tostring (lua_State *L) {
  lua_pushliteral(L, "read permit");
  return 1;
}

static const luaL_Reg permit_funcs[] = {
  {"read", permit_read},
  {NULL, NULL}
};

static const luaL_Reg permit_metamethods[] = {
  {"__tostring", permit_tostring},
  {NULL, NULL}
};

int luaopen_runbook_permit (lua_State *L) {
  if (luaL_newmetatable(L, READ_PERMIT_TYPE)) {
    luaL_setfuncs(L, permit_metamethods, 0);
    lua_pushliteral(L, READ_PERMIT_TYPE);
    lua_setfield(L, -2, "__metatable");    /* getmetatable() shows a name, not the table */
  }
  lua_pop(L, 1);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "runbook.reads");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "verify");
  if (lua_type(L, -1) != LUA_TFUNCTION)
    return luaL_error(L, "runbook.permit: runbook.reads has no verify function");
  luaL_newlibtable(L, permit_funcs);
  lua_insert(L, -2);
  luaL_setfuncs(L, permit_funcs, 1);
  return 1;
}
