/*
** task.c — the Lua library runbook.task.core: spawn, sleep, join, cancel, and the driver
** that runs the loop until a task is done. parallel and timeout are built on these in
** modules/runbook/task.lua.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "loop.h"
#include "msg.h"

static Task *check_task (lua_State *L, int arg) {
  return (Task *)luaL_checkudata(L, arg, TASK_TYPE);
}

static double opt_seconds (lua_State *L, int arg, double def) {
  double s = luaL_optnumber(L, arg, def);
  luaL_argcheck(L, s >= 0 || s == def, arg, "expected seconds >= 0");
  luaL_argcheck(L, !isnan(s), arg, "expected a number of seconds, got NaN");
  return s;
}

/* task.spawn(fn, ...) -> handle: fn(...) runs as a new task once the loop turns. */
static int task_spawn (lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  task_new(L, lua_gettop(L) - 1);
  return 1;
}

static int sleep_done (lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  task_events(L);
  return 0;
}

/* task.sleep(seconds): other tasks run meanwhile. */
static int task_sleep (lua_State *L) {
  double seconds = luaL_checknumber(L, 1);
  luaL_argcheck(L, seconds >= 0 && !isnan(seconds), 1, "expected seconds >= 0");
  return task_park(L, seconds, 0, sleep_done);
}

/* task.yield(): let every other ready task run once. */
static int task_yield (lua_State *L) {
  return task_park(L, 0, 0, sleep_done);
}

/* task.current() -> the running task's handle, or nil outside tasks. */
static int task_current_handle (lua_State *L) {
  Task *t = task_current(L);
  if (t == NULL) return 0;
  task_push_handle(L, t);
  return 1;
}

/* task.cancelled() -> whether the running task has been asked to stop. */
static int task_cancelled (lua_State *L) {
  Task *t = task_current(L);
  lua_pushboolean(L, t != NULL && task_is_cancelled(t));
  return 1;
}

/* task.core.shield(on): see task_shield; task.shielded(fn) in Lua is the way to use it. */
static int task_shield_lua (lua_State *L) {
  Task *t = task_check_current(L, "task.shielded");
  task_shield(t, lua_toboolean(L, 1));
  return 0;
}

static int join_done (lua_State *L, int status, lua_KContext ctx) {
  Task *t = (Task *)ctx;
  (void)status;
  task_events(L);
  if (!task_is_done(t)) {
    luaL_pushfail(L);
    lua_pushliteral(L, "timeout");
    return 2;
  }
  lua_pushvalue(L, 1);
  return task_push_results(L, t);
}

/* handle:join([timeout]) -> true, results... | false, error | nil, "timeout" */
static int task_join_lua (lua_State *L) {
  Task *t = check_task(L, 1);
  double timeout = opt_seconds(L, 2, -1);
  lua_settop(L, 1);
  if (task_is_done(t)) return task_push_results(L, t);
  return task_join(L, t, timeout, (lua_KContext)t, join_done);
}

/* handle:result() -> true, results... | false, error; the task must be done. */
static int task_result (lua_State *L) {
  Task *t = check_task(L, 1);
  if (!task_is_done(t)) return luaL_error(L, "task is still %s: join it first", task_status(t));
  lua_settop(L, 1);
  return task_push_results(L, t);
}

static int task_cancel_lua (lua_State *L) {
  task_cancel(check_task(L, 1));
  return 0;
}

static int task_status_lua (lua_State *L) {
  lua_pushstring(L, task_status(check_task(L, 1)));
  return 1;
}

static int task_traceback (lua_State *L) {
  Task *t = check_task(L, 1);
  lua_settop(L, 1);
  return task_push_traceback(L, t);
}

static int task_tostring (lua_State *L) {
  Task *t = check_task(L, 1);
  lua_pushfstring(L, "task (%s): %p", task_status(t), (void *)t);
  return 1;
}

/* A task that failed with nobody ever looking: say so rather than lose the error. */
static int task_gc (lua_State *L) {
  Task *t = check_task(L, 1);
  if (task_is_done(t) && !task_observed(t) && task_push_traceback(L, t) &&
      lua_isstring(L, -1) && strcmp(task_status(t), "cancelled") != 0)
    warnf("a task failed and nobody waited for it: %s", lua_tostring(L, -1));
  return 0;
}

/* task.drive(handle) -> finished: run the loop until the task is done, then cancel and
** wind down the tasks it left behind. false if everything left waits forever. */
static int task_drive (lua_State *L) {
  Task *t = check_task(L, 1);
  Loop *loop = loop_get(L);
  if (task_current(L) != NULL)
    return luaL_error(L, "task.run/drive cannot be called inside a task: use task.spawn");
  int ok = loop_run_until_done(loop, t) == 0;
  if (loop_wind_down(loop) != 0) ok = 0;
  lua_pushboolean(L, ok);
  return 1;
}

static int task_interrupted (lua_State *L) {
  lua_pushboolean(L, loop_interrupted(loop_get(L)));
  return 1;
}

/* task.clear_interrupt(): the REPL handled a Ctrl-C; the next one is graceful again. */
static int task_clear_interrupt (lua_State *L) {
  loop_clear_interrupt(loop_get(L));
  return 0;
}

/* task.enter_plan_mode(): from now on every mutating primitive refuses. One-way. */
static int task_enter_plan_mode (lua_State *L) {
  loop_enter_plan_mode(loop_get(L));
  return 0;
}

static int task_planning (lua_State *L) {
  lua_pushboolean(L, loop_planning(loop_get(L)));
  return 1;
}

/* task.check_mutation(what): raises in plan mode; Lua modules that change things call it. */
static int task_check_mutation (lua_State *L) {
  loop_check_mutation(L, luaL_checkstring(L, 1));
  return 0;
}

/* task.set_read_only(): the running task and its children may not change anything. */
static int task_set_read_only_lua (lua_State *L) {
  task_set_read_only(L);
  return 0;
}

/* task.turns() -> the loop's turn count: tasks that ran in the same turn woke together. */
static int task_turns (lua_State *L) {
  lua_pushinteger(L, loop_turns(loop_get(L)));
  return 1;
}

/* task.now() -> monotonic seconds, for durations */
static int task_now (lua_State *L) {
  lua_pushnumber(L, loop_now());
  return 1;
}

static const luaL_Reg task_funcs[] = {
  {"spawn", task_spawn},
  {"sleep", task_sleep},
  {"yield", task_yield},
  {"current", task_current_handle},
  {"cancelled", task_cancelled},
  {"shield", task_shield_lua},
  {"drive", task_drive},
  {"interrupted", task_interrupted},
  {"clear_interrupt", task_clear_interrupt},
  {"enter_plan_mode", task_enter_plan_mode},
  {"planning", task_planning},
  {"check_mutation", task_check_mutation},
  {"set_read_only", task_set_read_only_lua},
  {"now", task_now},
  {"turns", task_turns},
  {NULL, NULL}
};

static const luaL_Reg task_meth[] = {
  {"join", task_join_lua},
  {"result", task_result},
  {"cancel", task_cancel_lua},
  {"status", task_status_lua},
  {"traceback", task_traceback},
  {NULL, NULL}
};

static const luaL_Reg task_metamethods[] = {
  {"__index", NULL},
  {"__tostring", task_tostring},
  {"__gc", task_gc},
  {NULL, NULL}
};

int luaopen_runbook_task_core (lua_State *L) {
  luaL_newmetatable(L, TASK_TYPE);
  luaL_setfuncs(L, task_metamethods, 0);
  luaL_newlibtable(L, task_meth);
  luaL_setfuncs(L, task_meth, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  loop_get(L);
  luaL_newlib(L, task_funcs);
  return 1;
}
