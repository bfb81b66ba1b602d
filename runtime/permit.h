/*
** permit.h — reading a read permit (runtime/permit.c) in the primitives that change things:
** ssh exec, process.run, http requests other than GET/HEAD/OPTIONS. While planning and inside
** a read-only task such a primitive refuses (loop_check_mutation) unless its caller hands it
** a permit for exactly what it is about to send. Header-only (static inline), like
** options.h, so that the C modules loaded on first use need no symbol from the core.
*/
#ifndef RUNBOOK_PERMIT_H
#define RUNBOOK_PERMIT_H

#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#define READ_PERMIT_TYPE "runbook.read_permit"

/* The command (and stdin, NULL when none) a read permit at index idx was minted for;
** 0 when the value is not a permit. The strings live as long as the permit. */
static inline int permit_fields (lua_State *L, int idx, const char **command,
                                 size_t *command_len, const char **input, size_t *input_len) {
  idx = lua_absindex(L, idx);
  if (luaL_testudata(L, idx, READ_PERMIT_TYPE) == NULL) return 0;
  lua_getiuservalue(L, idx, 1);
  *command = lua_tolstring(L, -1, command_len);
  lua_getiuservalue(L, idx, 2);
  *input = lua_tolstring(L, -1, input_len);
  lua_pop(L, 2);
  return *command != NULL;
}

/* Whether the permit at idx was minted for exactly this command and this stdin. */
static inline int permit_covers (lua_State *L, int idx, const char *command, size_t command_len,
                                 const char *input, size_t input_len) {
  const char *permitted, *permitted_input;
  size_t permitted_len, permitted_input_len;
  if (!permit_fields(L, idx, &permitted, &permitted_len, &permitted_input, &permitted_input_len))
    return 0;
  if (permitted_len != command_len || memcmp(permitted, command, command_len) != 0) return 0;
  if ((input == NULL) != (permitted_input == NULL)) return 0;
  return input == NULL ||
         (permitted_input_len == input_len && memcmp(permitted_input, input, input_len) == 0);
}

#endif
