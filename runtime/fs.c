/*
** fs.c — runbook.fs: the little of the file system Lua's io library lacks:
** directory listings, file type and permission bits, durable appends (fsync).
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>

static int fail (lua_State *L, const char *what, const char *path) {
  int err = errno;
  luaL_pushfail(L);
  lua_pushfstring(L, "%s %s: %s", what, path, strerror(err));
  lua_pushstring(L, err == ENOENT ? "missing" : err == EACCES ? "denied" : "io");
  return 3;
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

/* fs.append(path, data [, mode]) -> true | nil, msg, code: appended and fsync'd. */
static int fs_append (lua_State *L) {
  size_t len;
  const char *path = luaL_checkstring(L, 1);
  const char *data = luaL_checklstring(L, 2, &len);
  int mode = (int)luaL_optinteger(L, 3, 0600);
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, mode);
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
  lua_pushboolean(L, 1);
  return 1;
}

/* fs.create(path, data) -> true | nil, msg, "exists"|…: only if it does not exist yet
** (O_EXCL: the atomic step a lock file needs); written and fsync'd. */
static int fs_create (lua_State *L) {
  size_t len;
  const char *path = luaL_checkstring(L, 1);
  const char *data = luaL_checklstring(L, 2, &len);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      luaL_pushfail(L);
      lua_pushfstring(L, "%s exists", path);
      lua_pushliteral(L, "exists");
      return 3;
    }
    return fail(L, "cannot create", path);
  }
  ssize_t n = write(fd, data, len);
  int err = errno;
  if (n != (ssize_t)len || fsync(fd) != 0) {
    close(fd);
    errno = n < 0 ? err : EIO;
    return fail(L, "cannot write", path);
  }
  close(fd);
  lua_pushboolean(L, 1);
  return 1;
}

/* fs.alive(pid) -> whether a process with this pid exists (a lock's owner, say). */
static int fs_alive (lua_State *L) {
  pid_t pid = (pid_t)luaL_checkinteger(L, 1);
  lua_pushboolean(L, pid > 0 && (kill(pid, 0) == 0 || errno == EPERM));
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
  {"create", fs_create},
  {"alive", fs_alive},
  {"pid", fs_pid},
  {"isatty", fs_isatty},
  {"mkdir", fs_mkdir},
  {NULL, NULL}
};

int luaopen_runbook_fs (lua_State *L) {
  luaL_newlib(L, fs_funcs);
  return 1;
}
