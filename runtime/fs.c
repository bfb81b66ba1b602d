/*
** fs.c — runbook.fs: the little of the file system Lua's io library lacks:
** directory listings, file type and permission bits, durable appends (fsync), absolute
** paths, and the run lock (flock), which a plan and a check do not take.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>

#include "fail.h"
#include "loop.h"

static int fail (lua_State *L, const char *what, const char *path) {
  int err = errno;
  return fail_result(L, err == ENOENT ? "missing" : err == EACCES ? "denied" : "io",
                     "%s %s: %s", what, path, strerror(err));
}

/* fs.list(dir) -> sorted list of names (without . and ..) | nil, message, code */
static int fs_list (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  DIR *dir = opendir(path);
  struct dirent *entry;
  int n = 0;
  if (dir == NULL) return fail(L, "cannot list", path);
  lua_newtable(L);
  while ((entry = readdir(dir)) != NULL) {
    if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
    lua_pushstring(L, entry->d_name);
    lua_rawseti(L, -2, ++n);
  }
  closedir(dir);
  lua_getglobal(L, "table");
  lua_getfield(L, -1, "sort");
  lua_pushvalue(L, -3);
  lua_call(L, 1, 0);
  lua_pop(L, 1);
  return 1;
}

/* fs.stat(path) -> {type="file"|"directory"|"other", mode=0600, size=, uid=} | nil, msg, code */
static int fs_stat (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  if (stat(path, &st) != 0) return fail(L, "cannot stat", path);
  lua_createtable(L, 0, 4);
  lua_pushstring(L, S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "directory" : "other");
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, st.st_mode & 07777);
  lua_setfield(L, -2, "mode");
  lua_pushinteger(L, (lua_Integer)st.st_size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)st.st_uid);
  lua_setfield(L, -2, "uid");
  return 1;
}

/* A new file's name is on disk only once its directory is: fsync(2) the directory of path.
** Returns 0, or -1 with errno set. */
static int sync_directory_of (const char *path) {
  char dir[PATH_MAX];
  const char *slash = strrchr(path, '/');
  size_t len = slash == NULL ? 0 : slash == path ? 1 : (size_t)(slash - path);
  if (len >= sizeof dir) { errno = ENAMETOOLONG; return -1; }
  if (slash == NULL) strcpy(dir, ".");
  else { memcpy(dir, path, len); dir[len] = '\0'; }
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  errno = err;
  return rc;
}

/* fs.append(path, data [, mode]) -> true | nil, msg, code: appended and fsync'd; when the
** append created the file, its directory is fsync'd too (once: the journal's first line). */
static int fs_append (lua_State *L) {
  size_t len;
  const char *path = luaL_checkstring(L, 1);
  const char *data = luaL_checklstring(L, 2, &len);
  int mode = (int)luaL_optinteger(L, 3, 0600);
  int created = 1;
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0 && errno == EEXIST) {
    created = 0;
    fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  }
  if (fd < 0) return fail(L, "cannot open", path);
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) { int err = errno; close(fd); errno = err; return fail(L, "cannot write", path); }
    data += n;
    len -= (size_t)n;
  }
  if (fsync(fd) != 0) { int err = errno; close(fd); errno = err; return fail(L, "cannot fsync", path); }
  close(fd);
  if (created && sync_directory_of(path) != 0)
    return fail(L, "cannot fsync the directory of", path);
  lua_pushboolean(L, 1);
  return 1;
}

/* fs.realpath(path) -> the absolute path, symbolic links resolved | nil, msg, code */
static int fs_realpath (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char *absolute = realpath(path, NULL);
  if (absolute == NULL) return fail(L, "cannot resolve", path);
  lua_pushstring(L, absolute);
  free(absolute);
  return 1;
}

/*
** The run lock: flock(2) on a lock file, held while the descriptor is open — until
** lock:release(), the handle's __close or __gc, or the death of the process, whatever kills
** it: the kernel releases the lock of a dead process, so no lock is ever stale. The holder
** writes its pid into the file for the message of whoever is refused.
*/
typedef struct FsLock { int fd; } FsLock;

#define LOCK_NAME "runbook.lock"

/* Safe to call twice: __gc after release() or __close. */
static int lock_release (lua_State *L) {
  FsLock *lock = luaL_checkudata(L, 1, LOCK_NAME);
  if (lock->fd >= 0) {
    close(lock->fd);
    lock->fd = -1;
  }
  return 0;
}

static int lock_tostring (lua_State *L) {
  FsLock *lock = luaL_checkudata(L, 1, LOCK_NAME);
  lua_pushstring(L, lock->fd >= 0 ? "runbook.lock (held)" : "runbook.lock (released)");
  return 1;
}

static int process_exists (pid_t pid) {
  return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* The pid the holder wrote into the lock file; 0 when none is there (yet). */
static pid_t lock_holder (int fd) {
  char text[32];
  ssize_t n = pread(fd, text, sizeof text - 1, 0);
  if (n <= 0) return 0;
  text[n] = '\0';
  return (pid_t)strtol(text, NULL, 10);
}

/* Writes our pid over the old one: the number, then the file cut to its length, so that
** a reader sees one whole pid (up to its newline) at any moment. */
static int lock_write_pid (int fd) {
  char text[32];
  int len = snprintf(text, sizeof text, "%ld\n", (long)getpid());
  if (pwrite(fd, text, (size_t)len, 0) != len) return -1;
  return ftruncate(fd, len);
}

/* Another process holds the lock: nil, message, "locked", its pid. Right after taking it
** the holder may not have written its pid yet (the file is empty or names the previous,
** dead holder): asked again for up to 0.2 s. */
static int lock_refused (lua_State *L, int fd, const char *path) {
  pid_t holder = lock_holder(fd);
  for (int tries = 0; !process_exists(holder) && tries < 200; tries++) {
    struct timespec pause = {0, 1000000};
    nanosleep(&pause, NULL);
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;    /* released meanwhile: ours */
    holder = lock_holder(fd);
  }
  luaL_pushfail(L);
  lua_pushfstring(L, "%s is held by process %d", path, (int)holder);
  lua_pushliteral(L, "locked");
  lua_pushinteger(L, (lua_Integer)holder);
  return 4;
}

/* fs.lock(path) -> lock | nil, msg, "locked", pid | nil, msg, code: the lock file is made
** if missing (mode 0600) and locked without waiting; lock:release() lets it go. A plan and
** a check take no lock: making the file and writing the pid there are changes, refused
** (loop_check_mutation) like any other. */
static int fs_lock (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lua_pushfstring(L, "take the lock %s (runbook.fs.lock)", path);
  loop_check_mutation(L, lua_tostring(L, -1));
  lua_pop(L, 1);
  FsLock *lock = lua_newuserdatauv(L, sizeof *lock, 0);
  lock->fd = -1;                          /* closed until everything worked */
  luaL_setmetatable(L, LOCK_NAME);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return fail(L, "cannot open", path);
  lock->fd = fd;                          /* from here on __gc closes it on any failure */
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) return fail(L, "cannot lock", path);
    int refused = lock_refused(L, fd, path);
    if (refused > 0) return refused;
    break;
  }
  if (lock_write_pid(fd) != 0) return fail(L, "cannot write", path);
  return 1;
}

static int fs_pid (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getpid());
  return 1;
}

/* fs.isatty(fd) -> whether fd (0 stdin, 1 stdout, 2 stderr) is a terminal */
static int fs_isatty (lua_State *L) {
  lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
  return 1;
}

/* fs.mkdir(path) -> true | nil, msg, code; parents too, mode 0700; existing is fine */
static int fs_mkdir (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char buf[4096];
  size_t len = strlen(path);
  if (len >= sizeof buf) return luaL_argerror(L, 1, "path too long");
  memcpy(buf, path, len + 1);
  for (char *p = buf + 1; ; p++) {
    if (*p == '/' || *p == '\0') {
      char saved = *p;
      *p = '\0';
      if (mkdir(buf, 0700) != 0 && errno != EEXIST) return fail(L, "cannot create", buf);
      *p = saved;
      if (saved == '\0') break;
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

static const luaL_Reg fs_funcs[] = {
  {"list", fs_list},
  {"stat", fs_stat},
  {"append", fs_append},
  {"realpath", fs_realpath},
  {"lock", fs_lock},
  {"pid", fs_pid},
  {"isatty", fs_isatty},
  {"mkdir", fs_mkdir},
  {NULL, NULL}
};

static const luaL_Reg lock_meth[] = {
  {"release", lock_release},
  {NULL, NULL}
};

static const luaL_Reg lock_metamethods[] = {
  {"__gc", lock_release},
  {"__close", lock_release},
  {"__tostring", lock_tostring},
  {"__index", NULL},
  {NULL, NULL}
};

int luaopen_runbook_fs (lua_State *L) {
  luaL_newmetatable(L, LOCK_NAME);
  luaL_setfuncs(L, lock_metamethods, 0);
  luaL_newlib(L, lock_meth);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, fs_funcs);
  return 1;
}
