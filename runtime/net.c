/*
** net.c — runbook.net: TCP from the event loop.
**   net.connect{host=, port=, timeout=} -> {state=, rtt=, host=, port=, address=, reason=}
**     the port's state the way `nmap -sT` reports it (docs/verification.md has the mapping);
**     a state is a result, never an error.
**   net.open{host=, port=, timeout=} -> socket | nil, message, code
**     a connected stream ("runbook.socket") with :send, :receive, :starttls, :close.
** Hosts are IP literals (IPv4 or IPv6): names are resolved by the caller with runbook.dns,
** so that no lookup ever blocks the loop (getaddrinfo would).
*/
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>

#include "loop.h"

#define SOCKET_TYPE "runbook.socket"
#define GUARD_TYPE "runbook.socket.guard"
#define RECEIVE_MAX (1 << 20)      /* largest single :receive, bytes */
#define DEFAULT_TIMEOUT 5.0

typedef struct Socket {
  int fd;
  int port;
  double started;                  /* loop_now() when the connect began */
  double deadline;                 /* of the operation in progress */
  char address[INET6_ADDRSTRLEN];  /* numeric peer address */
} Socket;

/* A to-be-closed guard over a connect in progress: if the task errs or is cancelled while
** connecting, the descriptor is closed at once, not when the collector gets to it. */
typedef struct Guard {
  Socket *socket;          /* NULL once the socket is handed to the caller */
} Guard;

/* What a finished connect means: state, reason, and the code net.open returns. */
typedef struct Outcome {
  const char *state, *reason, *code;
} Outcome;

static int socket_close_fd (Socket *s) {
  if (s->fd >= 0) {
    close(s->fd);
    s->fd = -1;
    return 1;
  }
  return 0;
}

static int guard_close (lua_State *L) {
  Guard *g = (Guard *)luaL_checkudata(L, 1, GUARD_TYPE);
  if (g->socket) socket_close_fd(g->socket);
  g->socket = NULL;
  return 0;
}

/* __gc, __close and :close() alike; safe to call twice. */
static int socket_close (lua_State *L) {
  Socket *s = (Socket *)luaL_checkudata(L, 1, SOCKET_TYPE);
  socket_close_fd(s);
  return 0;
}

static Socket *check_open (lua_State *L) {
  Socket *s = (Socket *)luaL_checkudata(L, 1, SOCKET_TYPE);
  if (s->fd < 0) luaL_error(L, "net: socket to %s:%d is closed", s->address, s->port);
  return s;
}

static double field_timeout (lua_State *L, int idx, double fallback) {
  double timeout = fallback;
  if (lua_istable(L, idx)) {
    lua_getfield(L, idx, "timeout");
    if (!lua_isnil(L, -1)) {
      if (!lua_isnumber(L, -1)) luaL_error(L, "net: timeout must be a number of seconds");
      timeout = lua_tonumber(L, -1);
      if (timeout < 0) luaL_error(L, "net: timeout must be >= 0");
    }
    lua_pop(L, 1);
  }
  return timeout;
}

/* Reads {host=, port=} into addr; raises on misuse (not an IP literal, bad port). */
static socklen_t check_target (lua_State *L, struct sockaddr_storage *addr, Socket *s) {
  const char *host;
  lua_Integer port;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "host");
  host = lua_tostring(L, -1);
  if (host == NULL) luaL_argerror(L, 1, "host must be a string (an IPv4 or IPv6 address)");
  lua_getfield(L, 1, "port");
  if (!lua_isinteger(L, -1)) luaL_argerror(L, 1, "port must be an integer");
  port = lua_tointeger(L, -1);
  if (port < 1 || port > 65535) luaL_argerror(L, 1, "port must be between 1 and 65535");
  lua_pop(L, 2);
  memset(addr, 0, sizeof *addr);
  s->port = (int)port;
  if (host[0] == '[') {                                 /* accept "[::1]" too */
    size_t len = strlen(host);
    if (len > 2 && len - 2 < sizeof s->address && host[len - 1] == ']') {
      memcpy(s->address, host + 1, len - 2);
      s->address[len - 2] = '\0';
      host = s->address;
    }
  }
  struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    inet_ntop(AF_INET, &v4->sin_addr, s->address, sizeof s->address);
    return sizeof *v4;
  }
  if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    inet_ntop(AF_INET6, &v6->sin6_addr, s->address, sizeof s->address);
    return sizeof *v6;
  }
  luaL_argerror(L, 1, lua_pushfstring(L, "host '%s' is not an IP address: resolve names "
                "with runbook.dns first (net never blocks on a lookup)", host));
  return 0;
}

/* The nmap -sT reading of a connect result (0 = connected, or an errno). */
static Outcome outcome_of (int err) {
  switch (err) {
    case 0: return (Outcome){"open", "syn-ack", NULL};
    case ECONNREFUSED: return (Outcome){"closed", "conn-refused", "refused"};
    case ETIMEDOUT: return (Outcome){"filtered", "timeout", "timeout"};
    case EHOSTUNREACH: return (Outcome){"filtered", "host-unreachable", "unreachable"};
    case EACCES: case EPERM: return (Outcome){"filtered", "prohibited", "unreachable"};
    case ENETUNREACH: return (Outcome){"unreachable", "no-route", "unreachable"};
    default: return (Outcome){NULL, NULL, NULL};
  }
}

static void set_string (lua_State *L, const char *key, const char *value) {
  lua_pushstring(L, value);
  lua_setfield(L, -2, key);
}

/* Pushes the result of a connect: the state table (connect) or the socket (open). */
static int connect_result (lua_State *L, Socket *s, int err, int opening) {
  Outcome o = outcome_of(err);
  double rtt = loop_now() - s->started;
  if (o.state == NULL) {
    socket_close_fd(s);
    luaL_pushfail(L);
    lua_pushfstring(L, "net: connect to %s:%d failed: %s", s->address, s->port, strerror(err));
    lua_pushliteral(L, "io");
    return 3;
  }
  if (opening) {
    if (err == 0) {
      ((Guard *)lua_touserdata(L, 3))->socket = NULL;     /* the caller owns it now */
      lua_pushvalue(L, 2);
      return 1;
    }
    socket_close_fd(s);
    luaL_pushfail(L);
    lua_pushfstring(L, "net: cannot connect to %s:%d: port %s (%s)", s->address, s->port,
                    o.state, o.reason);
    lua_pushstring(L, o.code);
    return 3;
  }
  socket_close_fd(s);
  lua_createtable(L, 0, 6);
  set_string(L, "state", o.state);
  set_string(L, "reason", o.reason);
  lua_pushnumber(L, rtt);
  lua_setfield(L, -2, "rtt");
  lua_getfield(L, 1, "host");
  lua_setfield(L, -2, "host");
  lua_pushinteger(L, s->port);
  lua_setfield(L, -2, "port");
  set_string(L, "address", s->address);
  return 1;
}

static int connect_done (lua_State *L, int status, lua_KContext ctx) {
  Socket *s = (Socket *)lua_touserdata(L, 2);
  int ev = task_events(L), err = 0;
  socklen_t len = sizeof err;
  (void)status;
  if (ev & LOOP_TIMEOUT) return connect_result(L, s, ETIMEDOUT, (int)ctx);
  if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  return connect_result(L, s, err, (int)ctx);
}

/* Shared start of connect and open: stack is {target} -> {target, socket, guard}. */
static int start_connect (lua_State *L, int opening) {
  struct sockaddr_storage addr;
  Socket *s;
  double timeout;
  socklen_t len;
  lua_settop(L, 1);
  s = (Socket *)lua_newuserdatauv(L, sizeof(Socket), 0);
  memset(s, 0, sizeof *s);
  s->fd = -1;
  luaL_setmetatable(L, SOCKET_TYPE);
  ((Guard *)lua_newuserdatauv(L, sizeof(Guard), 0))->socket = s;
  luaL_setmetatable(L, GUARD_TYPE);
  lua_toclose(L, 3);
  len = check_target(L, &addr, s);
  timeout = field_timeout(L, 1, DEFAULT_TIMEOUT);
  task_check_current(L, opening ? "net.open" : "net.connect");
  s->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->fd < 0)
    return luaL_error(L, "net: cannot create a socket: %s", strerror(errno));
  s->started = loop_now();
  if (connect(s->fd, (struct sockaddr *)&addr, len) == 0)
    return connect_result(L, s, 0, opening);
  if (errno != EINPROGRESS) return connect_result(L, s, errno, opening);
  return task_wait_fd(L, s->fd, POLLOUT, timeout, opening, connect_done);
}

/* net.connect{host=, port=, timeout=} -> {state=, rtt=, host=, port=, address=, reason=} */
static int net_connect (lua_State *L) {
  return start_connect(L, 0);
}

/* net.open{host=, port=, timeout=} -> socket | nil, message, code */
static int net_open (lua_State *L) {
  return start_connect(L, 1);
}

static int fail_timeout (lua_State *L, Socket *s, const char *what) {
  luaL_pushfail(L);
  lua_pushfstring(L, "net: %s %s:%d timed out", what, s->address, s->port);
  lua_pushliteral(L, "timeout");
  return 3;
}

static int fail_errno (lua_State *L, Socket *s, const char *what, int err) {
  luaL_pushfail(L);
  lua_pushfstring(L, "net: %s %s:%d failed: %s", what, s->address, s->port, strerror(err));
  lua_pushstring(L, err == ECONNRESET || err == EPIPE ? "closed" : "io");
  return 3;
}

static double remaining (Socket *s) {
  double left = s->deadline - loop_now();
  return left > 0 ? left : 0;
}

/* The body of :send after each wait; ctx is the number of bytes already sent. */
static int send_more (lua_State *L, int status, lua_KContext ctx) {
  Socket *s = check_open(L);
  size_t len, sent = (size_t)ctx;
  const char *data = lua_tolstring(L, 2, &len);
  if (status == LUA_YIELD && (task_events(L) & LOOP_TIMEOUT))
    return fail_timeout(L, s, "sending to");
  while (sent < len) {
    ssize_t n = send(s->fd, data + sent, len - sent, MSG_NOSIGNAL);
    if (n >= 0) { sent += (size_t)n; continue; }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return task_wait_fd(L, s->fd, POLLOUT, remaining(s), (lua_KContext)sent, send_more);
    return fail_errno(L, s, "sending to", errno);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* sock:send(data [, {timeout=}]) -> true | nil, message, code */
static int socket_send (lua_State *L) {
  Socket *s = check_open(L);
  luaL_checkstring(L, 2);
  s->deadline = loop_now() + field_timeout(L, 3, DEFAULT_TIMEOUT);
  lua_settop(L, 2);
  task_check_current(L, "socket:send");
  return send_more(L, LUA_OK, 0);
}

/* The body of :receive after each wait. */
static int receive_more (lua_State *L, int status, lua_KContext ctx) {
  Socket *s = check_open(L);
  size_t max = (size_t)ctx;
  if (status == LUA_YIELD && (task_events(L) & LOOP_TIMEOUT))
    return fail_timeout(L, s, "receiving from");
  for (;;) {
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, max);
    ssize_t n = recv(s->fd, p, max, 0);
    if (n > 0) { luaL_pushresultsize(&b, (size_t)n); return 1; }
    luaL_pushresultsize(&b, 0);
    lua_pop(L, 1);
    if (n == 0) {
      luaL_pushfail(L);
      lua_pushfstring(L, "net: %s:%d closed the connection", s->address, s->port);
      lua_pushliteral(L, "closed");
      return 3;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return task_wait_fd(L, s->fd, POLLIN, remaining(s), ctx, receive_more);
    return fail_errno(L, s, "receiving from", errno);
  }
}

/* sock:receive(max_bytes [, {timeout=}]) -> what is there, 1..max_bytes | nil, msg, code */
static int socket_receive (lua_State *L) {
  Socket *s = check_open(L);
  lua_Integer max = luaL_checkinteger(L, 2);
  luaL_argcheck(L, max >= 1 && max <= RECEIVE_MAX, 2, "max_bytes must be 1..1048576");
  s->deadline = loop_now() + field_timeout(L, 3, DEFAULT_TIMEOUT);
  lua_settop(L, 1);
  task_check_current(L, "socket:receive");
  return receive_more(L, LUA_OK, (lua_KContext)max);
}

/* sock:fd() -> the descriptor, for runbook.tls, which drives it from then on. */
static int socket_fd (lua_State *L) {
  lua_pushinteger(L, check_open(L)->fd);
  return 1;
}

/* sock:peer() -> address, port */
static int socket_peer (lua_State *L) {
  Socket *s = (Socket *)luaL_checkudata(L, 1, SOCKET_TYPE);
  lua_pushstring(L, s->address);
  lua_pushinteger(L, s->port);
  return 2;
}

static int starttls_done (lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  return lua_gettop(L) - (int)ctx;
}

/* sock:starttls{servername=, ca_file=, verify=, timeout=} -> tls stream | nil, msg, code:
** require("runbook.tls").wrap(sock, options), the TLS module being loaded on first use. */
static int socket_starttls (lua_State *L) {
  check_open(L);
  lua_settop(L, 2);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "runbook.tls");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "wrap");
  lua_remove(L, -2);
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  lua_callk(L, 2, LUA_MULTRET, 2, starttls_done);
  return starttls_done(L, LUA_OK, 2);
}

static int socket_tostring (lua_State *L) {
  Socket *s = (Socket *)luaL_checkudata(L, 1, SOCKET_TYPE);
  lua_pushfstring(L, "runbook.socket (%s:%d%s)", s->address, s->port,
                  s->fd < 0 ? ", closed" : "");
  return 1;
}

static const luaL_Reg net_funcs[] = {
  {"connect", net_connect},
  {"open", net_open},
  {NULL, NULL}
};

static const luaL_Reg socket_meth[] = {
  {"send", socket_send},
  {"receive", socket_receive},
  {"starttls", socket_starttls},
  {"close", socket_close},
  {"fd", socket_fd},
  {"peer", socket_peer},
  {NULL, NULL}
};

static const luaL_Reg socket_metameth[] = {
  {"__index", NULL},
  {"__gc", socket_close},
  {"__close", socket_close},
  {"__tostring", socket_tostring},
  {NULL, NULL}
};

int luaopen_runbook_net (lua_State *L) {
  luaL_newmetatable(L, GUARD_TYPE);
  lua_pushcfunction(L, guard_close);
  lua_setfield(L, -2, "__close");
  lua_pop(L, 1);
  luaL_newmetatable(L, SOCKET_TYPE);
  luaL_setfuncs(L, socket_metameth, 0);
  luaL_newlibtable(L, socket_meth);
  luaL_setfuncs(L, socket_meth, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, net_funcs);
  return 1;
}
