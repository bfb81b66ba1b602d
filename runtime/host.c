/*
** host.c — builds the Lua state: standard libraries, package.path pointing at the
** project's modules/, the C primitives as preloaded modules, the global `task`, the guard
** on Lua's own ways to change the machine (modules/runbook/guard.lua); and calls into Lua
** under a traceback handler (lua.c's docall).
*/
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "host.h"
#include "loop.h"
#include "msg.h"

#ifndef RUNBOOK_DATADIR
#define RUNBOOK_DATADIR "/usr/local/share/runbook"
#endif

int luaopen_runbook_task_core (lua_State *L);
int luaopen_runbook_version (lua_State *L);
int luaopen_runbook_fs (lua_State *L);
int luaopen_runbook_net (lua_State *L);
int luaopen_runbook_xml (lua_State *L);
int luaopen_runbook_dns (lua_State *L);
int luaopen_runbook_permit (lua_State *L);

static const luaL_Reg preloads[] = {
  {"runbook.task.core", luaopen_runbook_task_core},
  {"runbook.version", luaopen_runbook_version},
  {"runbook.fs", luaopen_runbook_fs},
  {"runbook.net", luaopen_runbook_net},
  {"runbook.xml", luaopen_runbook_xml},
  {"runbook.dns", luaopen_runbook_dns},
  {"runbook.permit", luaopen_runbook_permit},
  {NULL, NULL}
};

static char datadir[PATH_MAX];

static int has_modules (const char *dir) {
  char probe[PATH_MAX + 64];
  snprintf(probe, sizeof probe, "%s/modules/runbook/cli.lua", dir);
  return access(probe, R_OK) == 0;
}

/* Where modules/ and runbooks/ are: $RUNBOOK_HOME when set (development builds kept
** elsewhere), beside the binary (a build tree), in ../share/runbook (an installation,
** wherever PREFIX put it), or the directory compiled in. */
const char *host_datadir (void) {
  char exe[PATH_MAX], candidate[PATH_MAX + 32];
  const char *home = getenv("RUNBOOK_HOME");
  ssize_t n;
  if (datadir[0]) return datadir;
  if (home && *home) {
    snprintf(datadir, sizeof datadir, "%s", home);
    return datadir;
  }
  n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    if (has_modules(exe)) return strcpy(datadir, exe);
    snprintf(candidate, sizeof candidate, "%s/../share/runbook", exe);
    if (has_modules(candidate) && realpath(candidate, datadir)) return datadir;
  }
  snprintf(datadir, sizeof datadir, "%s", RUNBOOK_DATADIR);
  return datadir;
}

/* Where the documents that messages name are: docs/ in a source tree, else the installed
** $(PREFIX)/share/doc/runbook beside the data directory $(PREFIX)/share/runbook. */
const char *host_docdir (void) {
  static char docdir[PATH_MAX + 32];
  char *slash;
  if (docdir[0]) return docdir;
  snprintf(docdir, sizeof docdir, "%s/docs", host_datadir());
  if (access(docdir, R_OK) == 0) return docdir;
  snprintf(docdir, sizeof docdir, "%s", host_datadir());
  slash = strrchr(docdir, '/');
  if (slash != NULL) *slash = '\0';
  strcat(docdir, "/doc/runbook");
  return docdir;
}

/* The C modules built beside this binary, when there are any: build/asan/lib for the
** sanitizer build of runbook, so that its children load sanitized modules too. */
static void push_own_modules (lua_State *L) {
  char exe[PATH_MAX], lib[PATH_MAX + 16];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    snprintf(lib, sizeof lib, "%s/lib", exe);
    if (access(lib, R_OK) == 0) {
      lua_pushfstring(L, "%s/?.so;", lib);
      return;
    }
  }
  lua_pushliteral(L, "");
}

static void set_paths (lua_State *L) {
  const char *dir = host_datadir();
  lua_getglobal(L, "package");
  lua_pushfstring(L, "%s/modules/?.lua;%s/modules/?/init.lua;", dir, dir);
  lua_getfield(L, -2, "path");
  lua_concat(L, 2);
  lua_setfield(L, -2, "path");
  /* a build tree; an installation: $(PREFIX)/share/runbook → $(PREFIX)/lib/runbook */
  push_own_modules(L);
  lua_pushfstring(L, "%s/build/lib/?.so;%s/../../lib/runbook/?.so;", dir, dir);
  lua_getfield(L, -3, "cpath");
  lua_concat(L, 3);
  lua_setfield(L, -2, "cpath");
  lua_getfield(L, -1, "preload");
  luaL_setfuncs(L, preloads, 0);
  lua_pop(L, 2);
}

/* Facts about this host for the Lua side: runbook.host */
static void set_host_table (lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_createtable(L, 0, 4);
  lua_pushstring(L, host_datadir());
  lua_setfield(L, -2, "datadir");
  lua_pushstring(L, host_docdir());
  lua_setfield(L, -2, "docdir");
  lua_pushboolean(L, msg_verbose());
  lua_setfield(L, -2, "verbose");
  lua_setfield(L, -2, "runbook.host");
  lua_pop(L, 1);
}

/* Before any runbook or module runs: os.execute, io.open for writing … refuse while
** planning and in checks, as every primitive does. */
static void install_guard (lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "runbook.guard");
  lua_call(L, 1, 0);
}

/* The Lua state; with_runtime (argument 1) also loads the guard, the global `task` and the
** Ctrl-C handling that every command but a plain `version` needs. */
static int open_all (lua_State *L) {
  int with_runtime = lua_toboolean(L, 1);
  luaL_openlibs(L);
  set_paths(L);
  set_host_table(L);
  if (!with_runtime) return 0;
  install_guard(L);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "runbook.task");
  lua_call(L, 1, 1);
  lua_setglobal(L, "task");
  loop_catch_interrupts(loop_get(L));
  return 0;
}

lua_State *host_open (int with_runtime) {
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    errorf("cannot create the Lua state: out of memory");
    exit(EXIT_STEP_FAILED);
  }
  lua_pushcfunction(L, open_all);
  lua_pushboolean(L, with_runtime);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    errorf("cannot start: %s (modules looked up in %s/modules)", lua_tostring(L, -1),
           host_datadir());
    exit(EXIT_USAGE);
  }
  return L;
}

static int traceback_handler (lua_State *L) {
  const char *msg = luaL_tolstring(L, 1, NULL);   /* a failure value has __tostring */
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Inside the protected call: require(module)[function](...) */
static int call_module (lua_State *L) {
  int nargs = lua_gettop(L);
  lua_getglobal(L, "require");
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_call(L, 1, 1);
  lua_getfield(L, -1, lua_tostring(L, lua_upvalueindex(2)));
  lua_remove(L, -2);
  lua_insert(L, 1);
  lua_call(L, nargs, 1);
  return 1;
}

/* require(module)[function](args on the stack) -> integer exit code; a Lua error is
** shown as "runbook: message" (with the traceback under -v) and gives exit 1. */
int host_call (lua_State *L, const char *module, const char *function, int nargs) {
  int base = lua_gettop(L) - nargs + 1, status, code;
  lua_pushcfunction(L, traceback_handler);
  lua_pushstring(L, module);
  lua_pushstring(L, function);
  lua_pushcclosure(L, call_module, 2);
  lua_rotate(L, base, 2);        /* handler, closure, then the arguments */
  status = lua_pcall(L, nargs, 1, base);
  if (status != LUA_OK) {
    const char *trace = lua_tostring(L, -1);
    const char *newline = strchr(trace, '\n');
    if (msg_verbose() || newline == NULL) errorf("%s", trace);
    else errorf("%.*s (run with -v for the traceback)", (int)(newline - trace), trace);
    code = EXIT_STEP_FAILED;
  } else {
    code = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : EXIT_DONE;
  }
  lua_settop(L, base - 1);
  return code;
}
