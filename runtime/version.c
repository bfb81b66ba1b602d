/*
** version.c — runbook.version: the version of runbook and of every library it links,
** as the libraries report themselves at run time (the headers' version where a library
** has no run-time call).
*/
#include <ares.h>
#include <curl/curl.h>
#include <expat.h>
#include <libssh2.h>
#include <openssl/crypto.h>
#include <stdio.h>

#include <lua.h>
#include <lauxlib.h>

#ifndef LIBEDIT_PKG_VERSION
#define LIBEDIT_PKG_VERSION "unknown"
#endif

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
  char expat_text[32];
  lua_createtable(L, 8, 0);
  add(L, 1, "runbook", RUNBOOK_VERSION);
  add(L, 2, "Lua", LUA_RELEASE + 4);
  add(L, 3, "c-ares", ares_version(NULL));
  add(L, 4, "libcurl", curl_version_info(CURLVERSION_NOW)->version);
  add(L, 5, "libssh2", libssh2_version(0));
  snprintf(expat_text, sizeof expat_text, "%d.%d.%d", expat.major, expat.minor, expat.micro);
  add(L, 6, "expat", expat_text);
  add(L, 7, "OpenSSL", OpenSSL_version(OPENSSL_VERSION) + 8);
  add(L, 8, "libedit", LIBEDIT_PKG_VERSION " (at build time: libedit has no version call)");
  return 1;
}
