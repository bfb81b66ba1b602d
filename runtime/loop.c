/*
** loop.c — the event loop and the scheduling of tasks.
**
** One thread. A task is a Lua coroutine; it runs until a primitive parks it on an fd, a
** deadline or an explicit wake-up. The loop then polls, fires the watches whose fd or
** deadline is due, and resumes the tasks they made ready. Nothing here blocks but poll.
*/
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>

#include "loop.h"
#include "loop_api.h"

enum { TASK_FRESH, TASK_READY, TASK_RUNNING, TASK_WAITING, TASK_DONE };

struct Task {
  lua_State *co;
  Loop *loop;
  int anchor;          /* registry reference to the handle while the task lives */
  int state;
  int nargs;           /* arguments on co's stack for the first resume */
  int parked;          /* yielded by a primitive, which expects a wake value */
  int cancelled;
  int shielded;        /* inside task.shielded: a cancellation waits until it ends */
  int cancel_pending;
  int failed;
  int observed;        /* its outcome was handed to Lua */
  int read_only;       /* mutating primitives refuse; inherited by the tasks it spawns */
  int wake_value;
  Watch watch;
  Task *next_ready;
  Task *join_target;   /* the task this one waits for */
  Task *next_joiner;
  Task *joiners;       /* tasks waiting for this one */
  Task *prev_live, *next_live;
};

struct Loop {
  lua_State *L;                 /* the main thread: resumes tasks */
  struct pollfd *pfd;
  Watch **pwatch;
  int nfd, fd_cap;
  Watch **heap;
  int nheap, heap_cap;
  Task *ready_head, *ready_tail;
  Task *live;                   /* every task not yet done */
  int interrupt_pipe[2];
  Watch interrupt_watch;
  int interrupted;
  int planning;                 /* one-way: once set, mutating primitives refuse */
  lua_Integer turns;            /* loop_step calls so far: tests count batches with it */
};

static const char LOOP_KEY = 'L';
static const char TASKS_KEY = 'T';   /* weak table: coroutine -> Task (light userdata) */
static volatile sig_atomic_t interrupt_count = 0;
static int interrupt_write_fd = -1;


double loop_now (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


lua_State *loop_state (Loop *loop) {
  return loop->L;
}


/* ---------------------------------------------------------------- timer heap */

static void heap_place (Loop *loop, Watch *w, int slot) {
  loop->heap[slot] = w;
  w->heap_slot = slot;
}

static void heap_up (Loop *loop, int slot) {
  Watch *w = loop->heap[slot];
  while (slot > 0) {
    int parent = (slot - 1) / 2;
    if (loop->heap[parent]->deadline <= w->deadline) break;
    heap_place(loop, loop->heap[parent], slot);
    slot = parent;
  }
  heap_place(loop, w, slot);
}

static void heap_down (Loop *loop, int slot) {
  Watch *w = loop->heap[slot];
  for (;;) {
    int child = 2 * slot + 1;
    if (child >= loop->nheap) break;
    if (child + 1 < loop->nheap &&
        loop->heap[child + 1]->deadline < loop->heap[child]->deadline)
      child++;
    if (w->deadline <= loop->heap[child]->deadline) break;
    heap_place(loop, loop->heap[child], slot);
    slot = child;
  }
  heap_place(loop, w, slot);
}

static void heap_remove (Loop *loop, Watch *w) {
  int slot = w->heap_slot;
  Watch *last = loop->heap[--loop->nheap];
  w->heap_slot = -1;
  if (last == w) return;
  heap_place(loop, last, slot);
  heap_up(loop, slot);
  heap_down(loop, last->heap_slot);
}


/* ---------------------------------------------------------------- watches */

void watch_init (Watch *w, WatchFn fn, void *data) {
  w->fn = fn;
  w->data = data;
  w->fd = -1;
  w->events = 0;
  w->fd_slot = -1;
  w->heap_slot = -1;
  w->deadline = 0;
}

static int grow (void **array, int *cap, int need, size_t size) {
  if (need <= *cap) return 0;
  int newcap = *cap ? *cap * 2 : 16;
  while (newcap < need) newcap *= 2;
  void *p = realloc(*array, (size_t)newcap * size);
  if (p == NULL) return -1;
  *array = p;
  *cap = newcap;
  return 0;
}

/* Watch fd for events; replaces the fd interest the watch had. 0 or -1 (no memory). */
int watch_fd (Loop *loop, Watch *w, int fd, short events) {
  if (w->fd_slot >= 0) {
    loop->pfd[w->fd_slot].fd = fd;
    loop->pfd[w->fd_slot].events = events;
  } else {
    int fd_cap = loop->fd_cap;
    if (grow((void **)&loop->pfd, &fd_cap, loop->nfd + 1, sizeof(struct pollfd)) != 0 ||
        grow((void **)&loop->pwatch, &loop->fd_cap, loop->nfd + 1, sizeof(Watch *)) != 0)
      return -1;
    w->fd_slot = loop->nfd++;
    loop->pfd[w->fd_slot] = (struct pollfd){ .fd = fd, .events = events };
    loop->pwatch[w->fd_slot] = w;
  }
  w->fd = fd;
  w->events = events;
  return 0;
}

static void watch_fd_stop (Loop *loop, Watch *w) {
  int slot = w->fd_slot, last = --loop->nfd;
  if (slot != last) {
    loop->pfd[slot] = loop->pfd[last];
    loop->pwatch[slot] = loop->pwatch[last];
    loop->pwatch[slot]->fd_slot = slot;
  }
  w->fd_slot = -1;
  w->fd = -1;
}

/* Fire w at the absolute time deadline (loop_now() seconds). */
void watch_timer (Loop *loop, Watch *w, double deadline) {
  if (w->heap_slot >= 0) heap_remove(loop, w);
  if (grow((void **)&loop->heap, &loop->heap_cap, loop->nheap + 1, sizeof(Watch *)) != 0)
    abort();  /* a few bytes per timer: out of memory here is not recoverable */
  w->deadline = deadline;
  heap_place(loop, w, loop->nheap++);
  heap_up(loop, w->heap_slot);
}

void watch_stop (Loop *loop, Watch *w) {
  if (w->fd_slot >= 0) watch_fd_stop(loop, w);
  if (w->heap_slot >= 0) heap_remove(loop, w);
}


/* ---------------------------------------------------------------- tasks */

static void ready_push (Loop *loop, Task *t, int wake_value) {
  t->state = TASK_READY;
  t->wake_value = wake_value;
  t->next_ready = NULL;
  if (loop->ready_tail) loop->ready_tail->next_ready = t;
  else loop->ready_head = t;
  loop->ready_tail = t;
}

static void unlink_joiner (Task *t) {
  Task **p = &t->join_target->joiners;
  while (*p != t) p = &(*p)->next_joiner;
  *p = t->next_joiner;
  t->join_target = NULL;
  t->next_joiner = NULL;
}

/* A parked task becomes ready: whatever it waited on is dropped. */
static void make_ready (Task *t, int wake_value) {
  if (t->state != TASK_WAITING) return;
  watch_stop(t->loop, &t->watch);
  if (t->join_target) unlink_joiner(t);
  ready_push(t->loop, t, wake_value);
}

static void task_watch_fired (Loop *loop, Watch *w, int revents) {
  (void)loop;
  make_ready((Task *)w->data, revents);
}

void task_wake (Task *t, int revents) {
  make_ready(t, revents ? revents : LOOP_WOKEN);
}

static void live_link (Loop *loop, Task *t) {
  t->prev_live = NULL;
  t->next_live = loop->live;
  if (loop->live) loop->live->prev_live = t;
  loop->live = t;
}

static void live_unlink (Loop *loop, Task *t) {
  if (t->prev_live) t->prev_live->next_live = t->next_live;
  else loop->live = t->next_live;
  if (t->next_live) t->next_live->prev_live = t->prev_live;
}

static int loop_gc (lua_State *L) {
  Loop *loop = (Loop *)lua_touserdata(L, 1);
  free(loop->pfd);
  free(loop->pwatch);
  free(loop->heap);
  loop->pfd = NULL;
  loop->pwatch = NULL;
  loop->heap = NULL;
  if (loop->interrupt_pipe[0] >= 0) {
    close(loop->interrupt_pipe[0]);
    close(loop->interrupt_pipe[1]);
    interrupt_write_fd = -1;
    loop->interrupt_pipe[0] = -1;
  }
  return 0;
}

/* ---------------------------------------------------------------- plan mode */

/* `runbook plan` sets this before any runbook code runs; nothing can clear it. */
void loop_enter_plan_mode (Loop *loop) {
  loop->planning = 1;
}

int loop_planning (Loop *loop) {
  return loop->planning;
}

/* Every primitive that changes something calls this first: plan mode is enforced here,
** below the runbook, not by the runbook's good manners. */
void loop_check_mutation (lua_State *L, const char *what) {
  Task *t;
  if (loop_get(L)->planning)
    luaL_error(L, "refusing to %s while planning: `runbook plan` changes nothing", what);
  if ((t = task_current(L)) != NULL && t->read_only)
    luaL_error(L, "refusing to %s inside a read-only check: a step's check must only look",
               what);
}

/* From now on the running task, and every task it spawns, may not change anything. */
void task_set_read_only (lua_State *L) {
  task_check_current(L, "task.read_only")->read_only = 1;
}


static const LoopApi loop_api_table = {
  LOOP_API_VERSION, loop_get, loop_now, watch_init, watch_fd, watch_timer, watch_stop,
  task_current, task_check_current, task_wait_fd, task_park, task_wake, task_events,
  loop_check_mutation
};

/* The loop of this Lua state, created on first use and kept in the registry. */
Loop *loop_get (lua_State *L) {
  Loop *loop;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &LOOP_KEY) == LUA_TUSERDATA) {
    loop = (Loop *)lua_touserdata(L, -1);
    lua_pop(L, 1);
    return loop;
  }
  lua_pop(L, 1);
  loop = (Loop *)lua_newuserdatauv(L, sizeof(Loop), 0);
  memset(loop, 0, sizeof *loop);
  loop->interrupt_pipe[0] = loop->interrupt_pipe[1] = -1;
  watch_init(&loop->interrupt_watch, NULL, NULL);
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  loop->L = lua_tothread(L, -1);
  lua_pop(L, 1);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, loop_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &LOOP_KEY);
  lua_createtable(L, 0, 0);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &TASKS_KEY);
  lua_pushlightuserdata(L, (void *)&loop_api_table);
  lua_setfield(L, LUA_REGISTRYINDEX, LOOP_API_KEY);
  return loop;
}

/* The task running on L, or NULL on the main thread and foreign coroutines. */
Task *task_current (lua_State *L) {
  Task *t = NULL;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &TASKS_KEY) == LUA_TTABLE) {
    lua_pushthread(L);
    lua_rawget(L, -2);
    t = (Task *)lua_touserdata(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return t;
}

static void map_thread (lua_State *L, lua_State *co, Task *t) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &TASKS_KEY);
  lua_pushthread(co);
  lua_xmove(co, L, 1);
  if (t) lua_pushlightuserdata(L, t);
  else lua_pushnil(L);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

Task *task_check_current (lua_State *L, const char *what) {
  Task *t = task_current(L);
  if (t == NULL)
    luaL_error(L, "%s must run inside a task: wrap the call in task.run(function() ... end)"
                  " or task.spawn", what);
  return t;
}

static int raise_cancelled (lua_State *L) {
  lua_pushliteral(L, "cancelled");
  return lua_error(L);
}

void task_raise_if_cancelled (lua_State *L) {
  Task *t = task_current(L);
  if (t && t->cancelled) raise_cancelled(L);
}

/* Park the current task on fd (if >= 0) and a timeout (if >= 0), then yield. */
int task_wait_fd (lua_State *L, int fd, short events, double timeout,
                  lua_KContext ctx, lua_KFunction k) {
  Task *t = task_check_current(L, "a network operation");
  if (t->cancelled) return raise_cancelled(L);
  if (fd >= 0 && watch_fd(t->loop, &t->watch, fd, events) != 0)
    return luaL_error(L, "out of memory while waiting for a socket");
  if (timeout >= 0) watch_timer(t->loop, &t->watch, loop_now() + timeout);
  t->parked = 1;
  t->state = TASK_WAITING;
  return lua_yieldk(L, 0, ctx, k);
}

int task_park (lua_State *L, double timeout, lua_KContext ctx, lua_KFunction k) {
  return task_wait_fd(L, -1, 0, timeout, ctx, k);
}

/* In a continuation: what woke the task (revents | LOOP_*); raises when cancelled. */
int task_events (lua_State *L) {
  int events = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  if (events & LOOP_CANCEL) return raise_cancelled(L);
  return events;
}

static void push_handle (lua_State *L, Task *t) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->anchor);
}

/* The handle of a live task (a done task's handle lives only where Lua keeps it). */
void task_push_handle (lua_State *L, Task *t) {
  push_handle(L, t);
}

int task_is_cancelled (const Task *t) {
  return t->cancelled;
}

/* The function and nargs arguments on top of L become a new ready task; pushes its handle. */
Task *task_new (lua_State *L, int nargs) {
  Loop *loop = loop_get(L);
  Task *parent = task_current(L);
  Task *t = (Task *)lua_newuserdatauv(L, sizeof(Task), 2);
  memset(t, 0, sizeof *t);
  t->loop = loop;
  t->read_only = parent ? parent->read_only : 0;
  watch_init(&t->watch, task_watch_fired, t);
  luaL_setmetatable(L, TASK_TYPE);
  t->co = lua_newthread(L);
  map_thread(L, t->co, t);
  lua_setiuservalue(L, -2, 1);
  lua_rotate(L, -(nargs + 2), 1);          /* handle below function and arguments */
  lua_xmove(L, t->co, nargs + 1);
  t->nargs = nargs;
  lua_pushvalue(L, -1);
  t->anchor = luaL_ref(L, LUA_REGISTRYINDEX);
  live_link(loop, t);
  ready_push(loop, t, 0);
  t->state = TASK_FRESH;
  return t;
}

/* Results of a finished task into uservalue 2: {n=, ...} or {error, traceback}. */
static void store_outcome (Loop *loop, Task *t, int status, int nres) {
  lua_State *L = loop->L, *co = t->co;
  push_handle(L, t);
  if (status == LUA_OK) {
    lua_createtable(L, nres, 1);
    lua_xmove(co, L, nres);
    for (int i = nres; i >= 1; i--) lua_rawseti(L, -(i + 1), i);
    lua_pushinteger(L, nres);
    lua_setfield(L, -2, "n");
  } else {
    t->failed = 1;
    lua_createtable(L, 2, 0);
    lua_xmove(co, L, 1);
    /* a failure value (runbook.failure) names itself through __tostring */
    const char *msg = luaL_tolstring(L, -1, NULL);
    luaL_traceback(L, co, msg, 0);
    lua_remove(L, -2);
    lua_rawseti(L, -3, 2);
    lua_rawseti(L, -2, 1);
  }
  lua_setiuservalue(L, -2, 2);
  lua_pop(L, 1);
}

/* A task ended: keep its outcome, close its to-be-closed variables, wake its joiners. */
static void task_finish (Loop *loop, Task *t, int status, int nres) {
  lua_State *L = loop->L;
  store_outcome(loop, t, status, nres);
#if LUA_VERSION_RELEASE_NUM >= 50406
  lua_closethread(t->co, L);
#else
  lua_resetthread(t->co);
#endif
  t->state = TASK_DONE;
  map_thread(L, t->co, NULL);
  live_unlink(loop, t);
  while (t->joiners) {
    Task *joiner = t->joiners;
    if (joiner->state == TASK_WAITING) make_ready(joiner, LOOP_WOKEN);
    else unlink_joiner(joiner);
  }
  luaL_unref(L, LUA_REGISTRYINDEX, t->anchor);
  t->anchor = LUA_NOREF;
}

static void task_resume (Loop *loop, Task *t) {
  lua_State *co = t->co;
  int nargs = 0, nres = 0, status;
  if (t->state == TASK_FRESH) nargs = t->nargs;
  else if (t->parked) {
    lua_pushinteger(co, t->cancelled ? LOOP_CANCEL : t->wake_value);
    nargs = 1;
  }
  t->parked = 0;
  t->state = TASK_RUNNING;
  push_handle(loop->L, t);                 /* keep the task alive while it runs */
  status = lua_resume(co, loop->L, nargs, &nres);
  if (status == LUA_YIELD) {
    lua_pop(co, nres);
    if (t->state == TASK_RUNNING) ready_push(loop, t, LOOP_WOKEN);  /* coroutine.yield */
  } else {
    task_finish(loop, t, status, status == LUA_OK ? nres : 1);
  }
  lua_pop(loop->L, 1);
}

/* Cancel t: it gets a "cancelled" error at its next yield (now, if it is waiting). */
void task_cancel (Task *t) {
  if (t->state == TASK_DONE || t->cancelled) return;
  if (t->shielded) {
    t->cancel_pending = 1;
    return;
  }
  t->cancelled = 1;
  if (t->state == TASK_FRESH) {               /* never ran: end it where it stands */
    Loop *loop = t->loop;
    Task **p = &loop->ready_head, *prev = NULL;
    while (*p != t) { prev = *p; p = &(*p)->next_ready; }
    *p = t->next_ready;
    if (loop->ready_tail == t) loop->ready_tail = prev;
    lua_settop(t->co, 0);
    lua_pushliteral(t->co, "cancelled");
    task_finish(loop, t, LUA_ERRRUN, 1);
  } else if (t->state == TASK_WAITING) {
    make_ready(t, LOOP_CANCEL);
  }
}

/* Shield the running task t from cancellation (on), or end the shield (off). A task that
** was already cancelled may wait again inside the shield (to clean up on a server); the
** cancellation takes effect at its first wait after the outermost shield ends. */
void task_shield (Task *t, int on) {
  if (on) {
    if (t->cancelled) {
      t->cancelled = 0;
      t->cancel_pending = 1;
    }
    t->shielded++;
  } else if (t->shielded > 0 && --t->shielded == 0 && t->cancel_pending) {
    t->cancel_pending = 0;
    t->cancelled = 1;
  }
}

void loop_cancel_all (Loop *loop) {
  for (Task *t = loop->live, *next; t; t = next) {
    next = t->next_live;
    task_cancel(t);
  }
}

/* Park the current task until target ends or timeout passes; then k runs. */
int task_join (lua_State *L, Task *target, double timeout, lua_KContext ctx,
               lua_KFunction k) {
  Task *t = task_check_current(L, "task:join");
  if (t == target) return luaL_error(L, "a task cannot wait for itself");
  t->join_target = target;
  t->next_joiner = target->joiners;
  target->joiners = t;
  if (t->cancelled) unlink_joiner(t);
  return task_park(L, timeout, ctx, k);
}

int task_is_done (const Task *t) {
  return t->state == TASK_DONE;
}

const char *task_status (const Task *t) {
  switch (t->state) {
    case TASK_DONE: return t->cancelled && t->failed ? "cancelled" : t->failed ? "failed" : "done";
    case TASK_WAITING: return "waiting";
    case TASK_RUNNING: return "running";
    default: return "ready";
  }
}

/* Pushes true, results... or false, error; marks the outcome as observed. */
int task_push_results (lua_State *L, Task *t) {
  lua_getiuservalue(L, -1, 2);
  t->observed = 1;
  if (t->failed) {
    lua_pushboolean(L, 0);
    lua_rawgeti(L, -2, 1);
    return 2;
  }
  lua_getfield(L, -1, "n");
  int n = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  luaL_checkstack(L, n + 1, "too many results");
  lua_pushboolean(L, 1);
  for (int i = 1; i <= n; i++) lua_rawgeti(L, -1 - i, i);
  return n + 1;
}

/* The traceback of a failed task (expects its handle on top), or nil. */
int task_push_traceback (lua_State *L, Task *t) {
  if (!t->failed) { lua_pushnil(L); return 1; }
  lua_getiuservalue(L, -1, 2);
  lua_rawgeti(L, -1, 2);
  return 1;
}

int task_observed (const Task *t) {
  return t->observed;
}


/* ---------------------------------------------------------------- running */

static int poll_timeout_ms (Loop *loop) {
  if (loop->ready_head) return 0;
  if (loop->nheap == 0) return -1;
  double wait = loop->heap[0]->deadline - loop_now();
  if (wait <= 0) return 0;
  return (int)ceil(wait * 1000.0);
}

static void fire_fds (Loop *loop, int ready) {
  Watch *fired[64];
  int revents[64], n = 0;
  for (int i = 0; i < loop->nfd && n < ready && n < 64; i++) {
    if (loop->pfd[i].revents == 0) continue;
    fired[n] = loop->pwatch[i];
    revents[n++] = loop->pfd[i].revents;
    loop->pfd[i].revents = 0;
  }
  for (int i = 0; i < n; i++)   /* an earlier callback may have stopped this watch */
    if (fired[i]->fd_slot >= 0 && loop->pwatch[fired[i]->fd_slot] == fired[i])
      fired[i]->fn(loop, fired[i], revents[i]);
}

static void fire_timers (Loop *loop) {
  double now = loop_now();
  while (loop->nheap > 0 && loop->heap[0]->deadline <= now) {
    Watch *w = loop->heap[0];
    heap_remove(loop, w);
    w->fn(loop, w, LOOP_TIMEOUT);
  }
}

static void run_ready (Loop *loop) {
  Task *batch = loop->ready_head;
  loop->ready_head = loop->ready_tail = NULL;
  while (batch) {
    Task *t = batch;
    batch = t->next_ready;
    task_resume(loop, t);
  }
}

/* Whether the loop has reached what it runs for: t done, or (t NULL) no task left. */
static int reached (Loop *loop, Task *t) {
  return t ? task_is_done(t) : loop->live == NULL;
}

/* One turn: run what is ready; unless that reached the goal, poll and fire.
** 1 progress, 0 nothing can ever happen again, -1 poll failed. */
static int loop_step (Loop *loop, Task *goal) {
  loop->turns++;
  run_ready(loop);
  if (reached(loop, goal)) return 1;
  int own = loop->interrupt_watch.fd_slot >= 0;
  if (!loop->ready_head && loop->nheap == 0 && loop->nfd - own == 0) return 0;
  int ready = poll(loop->pfd, (nfds_t)loop->nfd, poll_timeout_ms(loop));
  if (ready < 0 && errno != EINTR) return -1;
  if (ready > 0) fire_fds(loop, ready);
  fire_timers(loop);
  return 1;
}

/* How many turns the loop has made: tasks woken in the same turn ran as one batch. */
lua_Integer loop_turns (Loop *loop) {
  return loop->turns;
}

/* Drive the loop until t is done. 0, or -1 when every task waits on something that
** can never happen (a deadlock) and t is not done. */
int loop_run_until_done (Loop *loop, Task *t) {
  while (!task_is_done(t))
    if (loop_step(loop, t) <= 0 && !task_is_done(t)) return -1;
  return 0;
}

/* Cancel every task left and run until they have all ended (their cleanup runs). */
int loop_wind_down (Loop *loop) {
  loop_cancel_all(loop);
  while (loop->live)
    if (loop_step(loop, NULL) <= 0 && loop->live) return -1;
  return 0;
}


/* ---------------------------------------------------------------- interrupts */

static void on_interrupt (int sig) {
  int saved = errno;
  if (++interrupt_count >= 2) {       /* the second one aborts */
    signal(sig, SIG_DFL);
    raise(sig);
  }
  if (interrupt_write_fd >= 0 && write(interrupt_write_fd, "!", 1) < 0) { /* full: fine */ }
  errno = saved;
}

static void interrupt_fired (Loop *loop, Watch *w, int revents) {
  char buf[64];
  (void)revents;
  while (read(w->fd, buf, sizeof buf) > 0) {}
  loop->interrupted = 1;
  loop_cancel_all(loop);
}

/* SIGINT and SIGTERM: the first cancels every task, the second ends the process. */
void loop_catch_interrupts (Loop *loop) {
  struct sigaction sa;
  if (loop->interrupt_pipe[0] >= 0) return;
  if (pipe2(loop->interrupt_pipe, O_NONBLOCK | O_CLOEXEC) != 0) return;
  interrupt_write_fd = loop->interrupt_pipe[1];
  watch_init(&loop->interrupt_watch, interrupt_fired, NULL);
  if (watch_fd(loop, &loop->interrupt_watch, loop->interrupt_pipe[0], POLLIN) != 0) return;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

int loop_interrupted (Loop *loop) {
  return loop->interrupted;
}

/* The read end of the pipe a Ctrl-C writes to, or -1: the REPL polls it while idle. */
int loop_interrupt_fd (Loop *loop) {
  return loop->interrupt_pipe[0];
}

/* Whether a Ctrl-C came, also one the loop has not polled yet (the REPL asks when
** readline returns NULL: an interrupted read, not the end of input). */
int loop_interrupt_pending (Loop *loop) {
  return loop->interrupted || interrupt_count > 0;
}

/* After the REPL handled an interrupt, the next Ctrl-C is a graceful one again. */
void loop_clear_interrupt (Loop *loop) {
  char buf[64];
  if (loop->interrupt_pipe[0] >= 0)
    while (read(loop->interrupt_pipe[0], buf, sizeof buf) > 0) {}
  loop->interrupted = 0;
  interrupt_count = 0;
}
