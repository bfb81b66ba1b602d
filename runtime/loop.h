/*
** loop.h — the event loop: one thread, poll over file descriptors, a timer heap,
** and tasks (Lua coroutines) that primitives park and the loop resumes.
**
** A primitive that would block does not block: it registers interest in an fd or a
** deadline and yields its task with a continuation (task_wait_fd, task_park). When the fd
** is ready, the deadline passes or the task is cancelled, the loop resumes the task and the
** continuation reads what happened with task_events.
*/
#ifndef RUNBOOK_LOOP_H
#define RUNBOOK_LOOP_H

#include <lua.h>

typedef struct Loop Loop;
typedef struct Task Task;
typedef struct Watch Watch;

/* revents values beyond poll's own bits */
#define LOOP_TIMEOUT  0x10000   /* the deadline passed first */
#define LOOP_CANCEL   0x20000   /* the task was cancelled (task_events raises) */
#define LOOP_WOKEN    0x40000   /* task_wake without an fd event */

typedef void (*WatchFn) (Loop *loop, Watch *w, int revents);

/* Interest in an fd and/or a deadline, embedded in its owner's struct. */
struct Watch {
  WatchFn fn;
  void *data;
  int fd;
  short events;
  int fd_slot;       /* index in the poll array, -1 when not watching an fd */
  int heap_slot;     /* index in the timer heap, -1 when no deadline */
  double deadline;   /* loop_now() seconds */
};

Loop *loop_get (lua_State *L);
double loop_now (void);
lua_State *loop_state (Loop *loop);

void watch_init (Watch *w, WatchFn fn, void *data);
int watch_fd (Loop *loop, Watch *w, int fd, short events);
void watch_timer (Loop *loop, Watch *w, double deadline);
void watch_stop (Loop *loop, Watch *w);

Task *task_current (lua_State *L);
Task *task_check_current (lua_State *L, const char *what);
int task_wait_fd (lua_State *L, int fd, short events, double timeout,
                  lua_KContext ctx, lua_KFunction k);
int task_park (lua_State *L, double timeout, lua_KContext ctx, lua_KFunction k);
void task_wake (Task *t, int revents);
int task_events (lua_State *L);
void task_raise_if_cancelled (lua_State *L);

/* used by the task library (task.c) and the host */
Task *task_new (lua_State *L, int nargs);
void task_cancel (Task *t);
void task_shield (Task *t, int on);
int task_join (lua_State *L, Task *t, double timeout, lua_KContext ctx, lua_KFunction k);
int task_is_done (const Task *t);
int task_push_results (lua_State *L, Task *t);
const char *task_status (const Task *t);
int task_push_traceback (lua_State *L, Task *t);
int task_observed (const Task *t);
void task_push_handle (lua_State *L, Task *t);
int task_is_cancelled (const Task *t);
int loop_run_until_done (Loop *loop, Task *t);
lua_Integer loop_turns (Loop *loop);
void loop_cancel_all (Loop *loop);
int loop_wind_down (Loop *loop);
void loop_catch_interrupts (Loop *loop);
void loop_enter_plan_mode (Loop *loop);
int loop_planning (Loop *loop);
void loop_check_mutation (lua_State *L, const char *what);
void task_set_read_only (lua_State *L);
int loop_interrupted (Loop *loop);
int loop_interrupt_pending (Loop *loop);
int loop_interrupt_fd (Loop *loop);
void loop_clear_interrupt (Loop *loop);

#define TASK_TYPE "runbook.task"

#endif
