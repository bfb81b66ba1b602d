/*
** version.c — runbook.version: the version of runbook and of every library it links,
** as the libraries report themselves at run time where they are linked. libcurl, libssh2
** and OpenSSL are loaded only with the primitive that needs them (together they would
** quadruple start-up time, bench/RESULTS.md) and libedit has no version call: for those,
** the version of the headers runbook was built with.
*/
#include <ares.h>
#include <curl/curlver.h>
#include <expat.h>
#include <libssh2.h>
#include <openssl/opensslv.h>
#include <stdio.h>

#include <lua.h>
#include <lauxlib.h>

#ifndef LIBEDIT_PKG_VERSION
#define LIBEDIT_PKG_VERSION "unknown"
#endif

int luaopen_runbook_xml (lua_State *L);

/* libraries the binary loads only with the primitive that needs them */
#define LAZY " (built with; loaded on first use)"

#ifndef RUNBOOK_VERSION
#define RUNBOOK_VERSION "0.0.0-dev"
#endif

static void add (lua_State *L, int index, const char *name, const char *version) {
  lua_createtable(L, 2, 0);
  lua_pushstring(L, name);
  lua_rawseti(L, -2, 1);
  lua_pushstring(L, version);
  lua_rawseti(L, -2, 2);
  lua_rawseti(L, -2, index);
}

/* require "runbook.version" -> { {"runbook", "x.y.z"}, {"Lua", "5.4.4"}, ... } */
int luaopen_runbook_version (lua_State *L) {
  XML_Expat_Version expat = XML_ExpatVersionInfo();
  char expat_text[64];
  const char *deferral;
  luaL_requiref(L, "runbook.xml", luaopen_runbook_xml, 0);   /* it looks the setter up */
  lua_getfield(L, -1, "reparse_deferral");
  deferral = lua_tostring(L, -1);
  snprintf(expat_text, sizeof expat_text, "%d.%d.%d (reparse deferral: %s)", expat.major,
           expat.minor, expat.micro, deferral ? deferral : "?");
  lua_pop(L, 2);
  lua_createtable(L, 8, 0);
  add(L, 1, "runbook", RUNBOOK_VERSION);
  add(L, 2, "Lua", LUA_RELEASE + 4);
  add(L, 3, "c-ares", ares_version(NULL));
  add(L, 4, "libcurl", LIBCURL_VERSION LAZY);
  add(L, 5, "libssh2", LIBSSH2_VERSION LAZY);
  add(L, 6, "expat", expat_text);
  add(L, 7, "OpenSSL", OPENSSL_FULL_VERSION_STR LAZY);
  add(L, 8, "libedit", LIBEDIT_PKG_VERSION " (built with; libedit has no version call)");
  return 1;
}
