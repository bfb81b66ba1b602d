/*
** process.c — runbook.process: runs a program on this machine inside the event loop, for
** the `local` cmdlet transport (a management server where PowerShell runs next to runbook).
**
**   process.run(argv, {stdin=, timeout=, read_permit=}) -> {stdout=, stderr=, status=}
**       | nil, message, code
**   process.read_programs() -> the programs a read may start (see below)
**
** argv is a list of strings; argv[1] is looked up in PATH. No shell is involved. stdin is
** written as the program takes it while stdout and stderr are read as they come, so no
** pipe fills up. status is the exit code, or 128 + the signal that ended the program.
** timeout (seconds, default 600) kills the program (SIGKILL) and returns code "timeout";
** cancelling the task kills it too. code "spawn" when the program cannot be started.
** A program may change anything: while planning and inside a read-only task run refuses
** (loop_check_mutation) unless read_permit is a read permit (runtime/permit.h) that covers
** the whole of argv and stdin: the permitted command is "powershell WORD...", argv[1] is one
** of the read programs and argv[2...] are exactly the command's other words.
** The read programs are a closed set fixed where runbook is installed, never chosen by an
** inventory or a runbook: "powershell" and "pwsh" (looked up in PATH), and the absolute
** paths listed one per line in the file read-programs beside this module (an installation's
** pwsh outside PATH; the test harness's Lync emulator). That file must not be writable by
** anyone but its owner, root or the user running runbook.
*/
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buffer.h"
#include "fail.h"
#include "loop_api.h"
#include "options.h"
#include "permit.h"

#define PROCESS_TYPE "runbook.process"

extern char **environ;

int luaopen_runbook_process (lua_State *L);

typedef struct Proc Proc;

typedef struct Pipe {
  Watch watch;
  Proc *proc;
  int fd;
  Buffer read;             /* what was read (stdout, stderr) */
} Pipe;

struct Proc {
  Loop *loop;
  Task *task;
  pid_t pid;
  int status, exited, timed_out;
  Pipe in, out, err;
  char *input;
  size_t input_len, input_off;
  Watch timer;             /* the deadline, then polling for the exit once pipes close */
  double deadline;
};

static void close_pipe (Proc *p, Pipe *pipe) {
  if (pipe->fd < 0) return;
  watch_stop(p->loop, &pipe->watch);
  close(pipe->fd);
  pipe->fd = -1;
}

static void try_reap (Proc *p) {
  int status;
  if (p->exited || waitpid(p->pid, &status, WNOHANG) != p->pid) return;
  p->exited = 1;
  p->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int finished (Proc *p) {
  return p->exited && p->out.fd < 0 && p->err.fd < 0;
}

/* After any event: reap when the output is closed, wake the task when all is done. */
static void settle (Proc *p) {
  if (p->out.fd < 0 && p->err.fd < 0) {
    try_reap(p);
    if (!p->exited) watch_timer(p->loop, &p->timer, loop_now() + 0.01);
  }
  if (finished(p)) {
    close_pipe(p, &p->in);
    watch_stop(p->loop, &p->timer);
    if (p->task) task_wake(p->task, LOOP_WOKEN);
  }
}

static void on_input (Loop *loop, Watch *w, int revents) {
  Pipe *pipe = (Pipe *)w->data;
  Proc *p = pipe->proc;
  (void)loop; (void)revents;
  while (p->input_off < p->input_len) {
    ssize_t n = write(pipe->fd, p->input + p->input_off, p->input_len - p->input_off);
    if (n > 0) p->input_off += (size_t)n;
    else if (n < 0 && errno == EAGAIN) return;
    else break;            /* EPIPE: the program stopped reading */
  }
  close_pipe(p, pipe);
}

static void on_output (Loop *loop, Watch *w, int revents) {
  Pipe *pipe = (Pipe *)w->data;
  (void)loop; (void)revents;
  for (;;) {
    Buffer *b = &pipe->read;
    if (buffer_reserve(b, 4096) != 0) break;
    ssize_t n = read(pipe->fd, b->data + b->len, b->cap - b->len);
    if (n > 0) b->len += (size_t)n;
    else if (n < 0 && errno == EAGAIN) return;
    else break;            /* end of file, or an error: the stream is over */
  }
  close_pipe(pipe->proc, pipe);
  settle(pipe->proc);
}

static void on_timer (Loop *loop, Watch *w, int revents) {
  Proc *p = (Proc *)w->data;
  (void)loop; (void)revents;
  if (!p->exited && !p->timed_out && loop_now() >= p->deadline) {
    p->timed_out = 1;
    kill(p->pid, SIGKILL);
  }
  if (!p->timed_out && !(p->out.fd < 0 && p->err.fd < 0))
    watch_timer(p->loop, &p->timer, p->deadline);
  settle(p);
}

/* Kills and reaps the program if it still runs; frees everything. */
static void process_end (Proc *p) {
  if (p->pid > 0 && !p->exited) {
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    p->exited = 1;
  }
  close_pipe(p, &p->in);
  close_pipe(p, &p->out);
  close_pipe(p, &p->err);
  if (p->loop) watch_stop(p->loop, &p->timer);
  free(p->input);
  buffer_free(&p->out.read);
  buffer_free(&p->err.read);
  p->input = NULL;
  p->task = NULL;
}

static int process_gc (lua_State *L) {
  process_end((Proc *)luaL_checkudata(L, 1, PROCESS_TYPE));
  return 0;
}

static int run_continue (lua_State *L, int status, lua_KContext ctx) {
  Proc *p = (Proc *)luaL_checkudata(L, (int)ctx, PROCESS_TYPE);
  (void)status;
  if ((int)lua_tointeger(L, -1) & LOOP_CANCEL) process_end(p);
  task_events(L);          /* raises "cancelled" (the program was killed above) */
  if (!finished(p)) return task_park(L, -1, ctx, run_continue);
  p->task = NULL;
  if (p->timed_out) {
    return fail_result(L, "timeout", "process: the program did not finish within its "
                       "timeout and was killed");
  }
  lua_createtable(L, 0, 3);
  lua_pushlstring(L, p->out.read.data ? p->out.read.data : "", p->out.read.len);
  lua_setfield(L, -2, "stdout");
  lua_pushlstring(L, p->err.read.data ? p->err.read.data : "", p->err.read.len);
  lua_setfield(L, -2, "stderr");
  lua_pushinteger(L, p->status);
  lua_setfield(L, -2, "status");
  return 1;
}

/* Pipes: ends[0] read, ends[1] write; only the parent's end is nonblocking. */
static int make_pipe (int ends[2], int parent_end) {
  if (pipe2(ends, O_CLOEXEC) != 0) return -1;
  return fcntl(ends[parent_end], F_SETFL, O_NONBLOCK);
}

static void init_pipe (Proc *p, Pipe *pipe, int fd, WatchFn fn) {
  pipe->proc = p;
  pipe->fd = fd;
  watch_init(&pipe->watch, fn, pipe);
}

/* Starts argv with its stdin, stdout, stderr on fresh pipes; 0 or an errno. */
static int spawn (Proc *p, char **argv) {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, rc;
  posix_spawn_file_actions_t actions;
  if (make_pipe(in, 1) != 0 || make_pipe(out, 0) != 0 || make_pipe(err, 0) != 0) {
    rc = errno;
  } else {
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    rc = posix_spawnp(&p->pid, argv[0], &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
  }
  int child_ends[3] = { in[0], out[1], err[1] }, parent_ends[3] = { in[1], out[0], err[0] };
  for (int i = 0; i < 3; i++) if (child_ends[i] >= 0) close(child_ends[i]);
  if (rc != 0) {
    for (int i = 0; i < 3; i++) if (parent_ends[i] >= 0) close(parent_ends[i]);
    p->pid = 0;
    return rc;
  }
  init_pipe(p, &p->in, in[1], on_input);
  init_pipe(p, &p->out, out[0], on_output);
  init_pipe(p, &p->err, err[0], on_output);
  return 0;
}

/* argv from the list at index 1, NULL-terminated, in a userdata kept on the stack. */
static char **check_argv (lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer n = luaL_len(L, 1);
  luaL_argcheck(L, n >= 1 && n < 4096, 1, "argv: expected a list of 1 or more strings");
  char **argv = (char **)lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 1), 0);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, 1, i);
    luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 1, "argv: every item must be a string");
    argv[i - 1] = (char *)lua_tostring(L, -1);
    lua_pop(L, 1);         /* the list at index 1 keeps the string alive */
  }
  argv[n] = NULL;
  return argv;
}

/* ---------------------------------------------------------------- read programs */

static const char *const POWERSHELL_NAMES[] = { "powershell", "pwsh", NULL };

/* The path of read-programs: beside the file this module was loaded from. */
static int read_programs_path (char *path, size_t size) {
  Dl_info info;
  if (dladdr((void *)luaopen_runbook_process, &info) == 0 || info.dli_fname == NULL) return -1;
  const char *slash = strrchr(info.dli_fname, '/');
  int n = slash ? snprintf(path, size, "%.*s/read-programs", (int)(slash - info.dli_fname),
                           info.dli_fname)
                : snprintf(path, size, "read-programs");
  return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Adds the absolute paths the open file lists (one a line; blank lines and # comments
** skipped) to the list at the top of the stack, which holds n items. */
static int add_listed_programs (lua_State *L, FILE *file, const char *path, int n) {
  char line[4096];
  while (fgets(line, sizeof line, file) != NULL) {
    size_t len = strcspn(line, "\r\n");
    line[len] = '\0';
    if (len == 0 || line[0] == '#') continue;
    if (line[0] != '/') {
      fclose(file);
      luaL_error(L, "process: %s lists %s, not an absolute path: list each read program "
                    "by its absolute path", path, line);
    }
    lua_pushstring(L, line);
    lua_rawseti(L, -2, ++n);
  }
  return n;
}

/* Pushes the list of read programs: PowerShell's names, then read-programs' paths. */
static void push_read_programs (lua_State *L) {
  char path[4096];
  struct stat st;
  int n = 0;
  lua_newtable(L);
  for (; POWERSHELL_NAMES[n]; n++) {
    lua_pushstring(L, POWERSHELL_NAMES[n]);
    lua_rawseti(L, -2, n + 1);
  }
  if (read_programs_path(path, sizeof path) != 0) return;
  FILE *file = fopen(path, "re");
  if (file == NULL) return;               /* none listed: an ordinary installation */
  if (fstat(fileno(file), &st) != 0 || (st.st_mode & 022) != 0 ||
      (st.st_uid != 0 && st.st_uid != getuid())) {
    fclose(file);
    luaL_error(L, "process: %s may be changed by others (it must belong to root or to you "
                  "and be writable by its owner only): chmod go-w it or remove it", path);
  }
  add_listed_programs(L, file, path, n);
  fclose(file);
}

/* Whether program is one of the read programs (exactly as listed). */
static int is_read_program (lua_State *L, const char *program) {
  int found = 0;
  push_read_programs(L);
  for (lua_Integer i = 1; !found && lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
    found = strcmp(lua_tostring(L, -1), program) == 0;
    lua_pop(L, 1);
  }
  lua_pop(L, found ? 1 : 2);              /* the list, and the nil that ended it */
  return found;
}

/* process.read_programs() -> list of the programs a permitted read may start */
static int process_read_programs (lua_State *L) {
  push_read_programs(L);
  return 1;
}

/* Whether argv after the program is exactly the command after its first word, which must
** be "powershell" (the program the read programs stand in for): one argv item per word,
** words joined by single spaces, none empty or holding a space. */
static int argv_is_command (char **argv, const char *command, size_t command_len) {
  static const char program[] = "powershell";
  size_t at = sizeof program - 1;
  if (command_len <= at || memcmp(command, program, at) != 0 || argv[1] == NULL) return 0;
  for (int i = 1; argv[i]; i++) {
    size_t len = strlen(argv[i]);
    if (len == 0 || strchr(argv[i], ' ') != NULL) return 0;
    if (command_len - at < len + 1 || command[at] != ' ' ||
        memcmp(command + at + 1, argv[i], len) != 0)
      return 0;
    at += len + 1;
  }
  return at == command_len;
}

/* Whether the read permit in the options at index 2 covers argv and stdin (see above). */
static int permit_covers_argv (lua_State *L, char **argv, const char *input, size_t input_len) {
  const char *command, *permitted_input;
  size_t command_len, permitted_input_len;
  lua_getfield(L, 2, "read_permit");
  int valid = permit_fields(L, -1, &command, &command_len, &permitted_input,
                            &permitted_input_len);
  lua_pop(L, 1);           /* the options table keeps the permit alive */
  if (!valid || strlen(command) != command_len) return 0;
  if ((input == NULL) != (permitted_input == NULL)) return 0;
  if (input && (input_len != permitted_input_len || memcmp(input, permitted_input, input_len)))
    return 0;
  return argv_is_command(argv, command, command_len) && is_read_program(L, argv[0]);
}

/* Raises while planning and in a read-only task, unless a read permit covers argv. */
static void run_check_permit (lua_State *L, char **argv, const char *input, size_t input_len) {
  enum { SHOWN = 130 };    /* the command line shown in the refusal, at most */
  char what[SHOWN + 40];
  int used;
  if (permit_covers_argv(L, argv, input, input_len)) return;
  used = snprintf(what, SHOWN, "run `%s", argv[0]);
  for (int i = 1; argv[i] && used < SHOWN; i++)
    used += snprintf(what + used, (size_t)(SHOWN - used), " %s", argv[i]);
  snprintf(what + (used < SHOWN ? used : SHOWN - 1), 40, "%s` (process.run)",
           used < SHOWN ? "" : "...");
  loop_check_mutation(L, what);
}

static int process_run (lua_State *L) {
  Task *t = task_check_current(L, "process.run");
  if (lua_isnoneornil(L, 2)) { lua_settop(L, 1); lua_newtable(L); }
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  double timeout = options_number(L, 2, "timeout", 600);
  luaL_argcheck(L, timeout > 0, 2, "timeout: expected seconds > 0");
  size_t input_len = 0;
  lua_getfield(L, 2, "stdin");     /* stays on the stack while it is copied below */
  const char *input = lua_tolstring(L, -1, &input_len);
  luaL_argcheck(L, input || lua_isnil(L, -1), 2, "stdin: expected a string");
  char **argv = check_argv(L);
  run_check_permit(L, argv, input, input_len);
  Proc *p = (Proc *)lua_newuserdatauv(L, sizeof(Proc), 0);
  memset(p, 0, sizeof *p);
  p->in.fd = p->out.fd = p->err.fd = -1;
  luaL_setmetatable(L, PROCESS_TYPE);
  p->loop = loop_get(L);
  watch_init(&p->timer, on_timer, p);
  if (input_len > 0) {
    if ((p->input = malloc(input_len)) == NULL) return luaL_error(L, "process: out of memory");
    memcpy(p->input, input, input_len);
    p->input_len = input_len;
  }
  int rc = spawn(p, argv);
  if (rc != 0) {
    return fail_result(L, rc == ENOENT ? "missing" : rc == EACCES ? "denied" : "io",
                       "process: cannot start %s: %s", argv[0], strerror(rc));
  }
  if (watch_fd(p->loop, &p->out.watch, p->out.fd, POLLIN) != 0 ||
      watch_fd(p->loop, &p->err.watch, p->err.fd, POLLIN) != 0 ||
      (p->input_len > 0 ? watch_fd(p->loop, &p->in.watch, p->in.fd, POLLOUT)
                        : (close_pipe(p, &p->in), 0)) != 0)
    return luaL_error(L, "process: out of memory while watching pipes");
  p->deadline = loop_now() + timeout;
  watch_timer(p->loop, &p->timer, p->deadline);
  p->task = t;
  return task_park(L, -1, lua_gettop(L), run_continue);
}

static const luaL_Reg process_funcs[] = {
  {"run", process_run},
  {"read_programs", process_read_programs},
  {NULL, NULL}
};

int luaopen_runbook_process (lua_State *L) {
  loop_api_open(L);
  if (luaL_newmetatable(L, PROCESS_TYPE)) {
    lua_pushcfunction(L, process_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  signal(SIGPIPE, SIG_IGN);   /* a program that stops reading must not end runbook */
  luaL_newlib(L, process_funcs);
  return 1;
}
