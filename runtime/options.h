/*
** options.h — reading the optional fields of an options table ({server=, timeout=, …}),
** shared by the primitives' C files. Header-only (static inline) so that the C modules
** loaded on first use (runtime/http.c) need no symbol from the core.
*/
#ifndef RUNBOOK_OPTIONS_H
#define RUNBOOK_OPTIONS_H

#include <stdio.h>

#include <lua.h>
#include <lauxlib.h>

/* t[key] as a number, def when absent; raises naming the option when it is not a number. */
static inline double options_number (lua_State *L, int t, const char *key, double def) {
  double value = def;
  lua_getfield(L, t, key);
  if (!lua_isnil(L, -1)) {
    int ok;
    value = lua_tonumberx(L, -1, &ok);
    if (!ok) luaL_error(L, "option '%s' must be a number, got %s", key, luaL_typename(L, -1));
  }
  lua_pop(L, 1);
  return value;
}

/* t[key] as a string, def when absent; raises naming the option when it is anything but a
** string (a number is refused, not converted: lua_tostring would convert a copy that the
** collector may free while C still reads it). The value stays on the stack, one slot also
** when absent, so the string lives while the caller uses it whatever the table or its
** __index do meanwhile: the caller pops it when done. t must be an absolute index. */
static inline const char *options_string (lua_State *L, int t, const char *key,
                                          const char *def) {
  int type = lua_getfield(L, t, key);
  if (type == LUA_TNIL) return def;
  if (type != LUA_TSTRING)
    luaL_error(L, "option '%s' must be a string, got %s", key, luaL_typename(L, -1));
  return lua_tostring(L, -1);
}

/* t[key] as a number of bytes (a whole number >= 1), def when absent: the limits on what a
** peer may send (max_body, max_output…). */
static inline size_t options_size (lua_State *L, int t, const char *key, size_t def) {
  size_t value = def;
  lua_getfield(L, t, key);
  if (!lua_isnil(L, -1)) {
    int ok;
    lua_Integer n = lua_tointegerx(L, -1, &ok);
    if (!ok || n < 1)
      luaL_error(L, "option '%s' must be a whole number of bytes >= 1, got %s", key,
                 lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
    value = (size_t)n;
  }
  lua_pop(L, 1);
  return value;
}

/* A limit for messages: "16 MiB", "64 KiB" or "1000 bytes". */
static inline const char *options_size_text (size_t size, char *text, size_t text_size) {
  if (size >= 1024 * 1024 && size % (1024 * 1024) == 0)
    snprintf(text, text_size, "%zu MiB", size / (1024 * 1024));
  else if (size >= 1024 && size % 1024 == 0) snprintf(text, text_size, "%zu KiB", size / 1024);
  else snprintf(text, text_size, "%zu bytes", size);
  return text;
}

#endif
