/*
** fs.c — runbook.fs: the little of the file system Lua's io library lacks:
** directory listings, file type and permission bits, durable appends (fsync).
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
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

static const luaL_Reg fs_funcs[] = {
  {"list", fs_list},
  {"stat", fs_stat},
  {"append", fs_append},
  {NULL, NULL}
};

int luaopen_runbook_fs (lua_State *L) {
  luaL_newlib(L, fs_funcs);
  return 1;
}
