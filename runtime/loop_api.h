/*
** loop_api.h — the loop's C API as a table of function pointers, for the C modules that
** are loaded on first use (HTTP, SSH, TLS: see docs/architecture.md). Such a module runs
** inside ./runbook and inside lua5.4 alike and must drive the one loop of the Lua state it
** is loaded into, so it takes the functions from the registry rather than from the linker.
**
** A module compiles with -DRUNBOOK_MODULE, includes this header, and calls
** loop_api_open(L) first thing in its luaopen_ function; after that its code calls
** task_wait_fd(), watch_fd() … exactly like code in the core.
*/
#ifndef RUNBOOK_LOOP_API_H
#define RUNBOOK_LOOP_API_H

#include <lua.h>
#include <lauxlib.h>

#include "loop.h"

#define LOOP_API_KEY "runbook.loop.api"
#define LOOP_API_VERSION 1

typedef struct LoopApi {
  int version;
  Loop *(*get) (lua_State *L);
  double (*now) (void);
  void (*watch_init) (Watch *w, WatchFn fn, void *data);
  int (*watch_fd) (Loop *loop, Watch *w, int fd, short events);
  void (*watch_timer) (Loop *loop, Watch *w, double deadline);
  void (*watch_stop) (Loop *loop, Watch *w);
  Task *(*current) (lua_State *L);
  Task *(*check_current) (lua_State *L, const char *what);
  int (*wait_fd) (lua_State *L, int fd, short events, double timeout, lua_KContext ctx,
                  lua_KFunction k);
  int (*park) (lua_State *L, double timeout, lua_KContext ctx, lua_KFunction k);
  void (*wake) (Task *t, int revents);
  int (*events) (lua_State *L);
  void (*check_mutation) (lua_State *L, const char *what);
} LoopApi;

#ifdef RUNBOOK_MODULE
static const LoopApi *loop_api;

/* Fetch the table (loading the core first under lua5.4); raises on a version mismatch. */
static void loop_api_open (lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_getfield(L, -1, "runbook.task.core");
  if (lua_isnil(L, -1)) {
    lua_getglobal(L, "require");
    lua_pushliteral(L, "runbook.task.core");
    lua_call(L, 1, 0);
  }
  lua_pop(L, 2);
  lua_getfield(L, LUA_REGISTRYINDEX, LOOP_API_KEY);
  loop_api = (const LoopApi *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (loop_api == NULL || loop_api->version != LOOP_API_VERSION)
    luaL_error(L, "this module was built for another version of runbook's loop: rebuild it");
}

#define loop_get(L)                   (loop_api->get(L))
#define loop_now()                    (loop_api->now())
#define watch_init(w, fn, data)       (loop_api->watch_init((w), (fn), (data)))
#define watch_fd(loop, w, fd, ev)     (loop_api->watch_fd((loop), (w), (fd), (ev)))
#define watch_timer(loop, w, at)      (loop_api->watch_timer((loop), (w), (at)))
#define watch_stop(loop, w)           (loop_api->watch_stop((loop), (w)))
#define task_current(L)               (loop_api->current(L))
#define task_check_current(L, what)   (loop_api->check_current((L), (what)))
#define task_wait_fd(L, fd, ev, t, c, k) (loop_api->wait_fd((L), (fd), (ev), (t), (c), (k)))
#define task_park(L, t, c, k)         (loop_api->park((L), (t), (c), (k)))
#define task_wake(t, revents)         (loop_api->wake((t), (revents)))
#define task_events(L)                (loop_api->events(L))
#define loop_check_mutation(L, what)  (loop_api->check_mutation((L), (what)))
#endif

#endif
