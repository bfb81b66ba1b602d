/*
** net.c — runbook.net: TCP from the event loop.
**   net.connect{host=, port=, timeout=} -> {state=, rtt=, host=, port=, address=, reason=}
**     the port's state the way nmap reports it (docs/verification.md has the mapping);
**     a state is a result, never an error. The socket's ICMP error queue (IP_RECVERR,
**     IPV6_RECVERR) tells a TCP reset (closed) from an ICMP rejection (filtered, and from
**     which address) and from a broken path (unreachable): errno alone mixes them up.
**   net.open{host=, port=, timeout=} -> socket | nil, message, code
**     a connected stream ("runbook.socket") with :send, :receive, :starttls, :close.
**   net.tcp_connections() -> {{fd=, address=, port=, nodelay=, segments_sent=}, ...}: every
**     connected TCP socket of this process, with TCP_NODELAY as the kernel has it and the
**     data segments it sent (tests, diagnostics).
** Every TCP socket the runtime opens sends small writes at once (TCP_NODELAY), and
** acknowledges at once while it waits for an answer (TCP_QUICKACK): neither a probe's short
** messages nor a peer's must wait for a delayed ACK (docs/architecture.md).
** Hosts are IP literals (IPv4 or IPv6): names are resolved by the caller with runbook.dns,
** so that no lookup ever blocks the loop (getaddrinfo would).
*/
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <linux/tcp.h>           /* struct tcp_info with tcpi_data_segs_out (glibc lacks it) */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>

#include "fail.h"
#include "loop.h"

#define SOCKET_TYPE "runbook.socket"
#define GUARD_TYPE "runbook.socket.guard"
#define RECEIVE_MAX (1 << 20)      /* largest single :receive, bytes */
#define DEFAULT_TIMEOUT 5.0

typedef struct Socket {
  int fd;
  int family;                      /* AF_INET or AF_INET6 */
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

/* What a finished connect means: the state and the reason net.connect reports. */
typedef struct Outcome {
  const char *state;               /* NULL: an error that says nothing about the port */
  char reason[96];                 /* a fixed word; after an ICMP error " from <address>" */
} Outcome;

/* An errno of connect, read without an ICMP error behind it. */
typedef struct ErrnoMeaning {
  int err;
  const char *state, *reason;
} ErrnoMeaning;

static const ErrnoMeaning errno_meanings[] = {
  {0, "open", "syn-ack"},
  {ECONNREFUSED, "closed", "conn-refused"},        /* a TCP RST */
  {ETIMEDOUT, "filtered", "timeout"},
  {EACCES, "filtered", "prohibited"},              /* this host's routes or firewall */
  {EPERM, "filtered", "prohibited"},
  {EHOSTUNREACH, "unreachable", "host-unreachable"},
  {ENETUNREACH, "unreachable", "no-route"},
  {-1, NULL, NULL}
};

/* An ICMP error about our SYN; code -1 stands for every code, the last entry for every
** other error; a NULL reason is written "icmp-type-T-code-C". nmap's reading, except that
** network and host unreachable without a prohibition mean a broken path, not a firewall. */
typedef struct IcmpMeaning {
  int type, code;
  const char *state, *reason;
} IcmpMeaning;

static const IcmpMeaning icmp4_meanings[] = {     /* RFC 792, RFC 1812 */
  {ICMP_DEST_UNREACH, ICMP_NET_UNREACH, "unreachable", "icmp-net-unreachable"},
  {ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, "unreachable", "icmp-host-unreachable"},
  {ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, "filtered", "icmp-proto-unreachable"},
  {ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, "filtered", "icmp-port-unreachable"},
  {ICMP_DEST_UNREACH, ICMP_NET_ANO, "filtered", "icmp-net-prohibited"},
  {ICMP_DEST_UNREACH, ICMP_HOST_ANO, "filtered", "icmp-host-prohibited"},
  {ICMP_DEST_UNREACH, ICMP_PKT_FILTERED, "filtered", "icmp-admin-prohibited"},
  {ICMP_TIME_EXCEEDED, -1, "unreachable", "icmp-time-exceeded"},
  {-1, -1, "unreachable", NULL}
};

static const IcmpMeaning icmp6_meanings[] = {     /* RFC 4443 */
  {ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOROUTE, "unreachable", "icmp-no-route"},
  {ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_ADMIN, "filtered", "icmp-admin-prohibited"},
  {ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_BEYONDSCOPE, "unreachable", "icmp-beyond-scope"},
  {ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_ADDR, "unreachable", "icmp-addr-unreachable"},
  {ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOPORT, "filtered", "icmp-port-unreachable"},
  {ICMP6_DST_UNREACH, 5, "filtered", "icmp-policy-fail"},    /* source address policy */
  {ICMP6_DST_UNREACH, 6, "filtered", "icmp-reject-route"},
  {ICMP6_TIME_EXCEEDED, -1, "unreachable", "icmp-time-exceeded"},
  {-1, -1, "unreachable", NULL}
};

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

static double remaining (Socket *s) {
  double left = s->deadline - loop_now();
  return left > 0 ? left : 0;
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
  if (lua_getfield(L, 1, "host") != LUA_TSTRING)   /* stays on the stack while read */
    luaL_argerror(L, 1, "host must be a string (an IPv4 or IPv6 address)");
  host = lua_tostring(L, -1);
  lua_getfield(L, 1, "port");
  if (!lua_isinteger(L, -1)) luaL_argerror(L, 1, "port must be an integer");
  port = lua_tointeger(L, -1);
  if (port < 1 || port > 65535) luaL_argerror(L, 1, "port must be between 1 and 65535");
  lua_pop(L, 1);
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
    s->family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    inet_ntop(AF_INET, &v4->sin_addr, s->address, sizeof s->address);
    lua_pop(L, 1);
    return sizeof *v4;
  }
  if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    s->family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    inet_ntop(AF_INET6, &v6->sin6_addr, s->address, sizeof s->address);
    lua_pop(L, 1);
    return sizeof *v6;
  }
  luaL_argerror(L, 1, lua_pushfstring(L, "host '%s' is not an IP address: resolve names "
                "with runbook.dns first (net never blocks on a lookup)", host));
  return 0;
}

/* The reading of a connect's errno (0 = connected) when no ICMP error explains it. */
static Outcome errno_outcome (int err) {
  const ErrnoMeaning *m = errno_meanings;
  Outcome o;
  while (m->err >= 0 && m->err != err) m++;
  o.state = m->state;
  snprintf(o.reason, sizeof o.reason, "%s", m->reason ? m->reason : "");
  return o;
}

/* The error code net.open returns with a port that is not open. */
static const char *code_of (const Outcome *o) {
  if (strcmp(o->state, "closed") == 0) return "refused";
  if (strcmp(o->reason, "timeout") == 0) return "timeout";
  return "unreachable";
}

/* Turns the error queue on (before connect) or off (on a connected stream, where a stray
** ICMP error must stay the soft error it is without the option). */
static void set_error_queue (Socket *s, int on) {
  if (s->family == AF_INET6) setsockopt(s->fd, SOL_IPV6, IPV6_RECVERR, &on, sizeof on);
  else setsockopt(s->fd, SOL_IP, IP_RECVERR, &on, sizeof on);
}

/* Takes the next entry of the socket's error queue: 1 with ee and offender (AF_UNSPEC when
** the kernel gave none) filled in, 0 when the queue is empty. */
static int next_queued_error (int fd, struct sock_extended_err *ee,
                              struct sockaddr_storage *offender) {
  union {
    struct cmsghdr align;
    char bytes[CMSG_SPACE(sizeof *ee + sizeof *offender)];
  } control;
  struct msghdr msg;
  struct cmsghdr *c;
  memset(&msg, 0, sizeof msg);
  memset(ee, 0, sizeof *ee);
  memset(offender, 0, sizeof *offender);
  msg.msg_control = control.bytes;
  msg.msg_controllen = sizeof control.bytes;
  if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return 0;
  for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    size_t len = c->cmsg_len - CMSG_LEN(0);
    if (!(c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) &&
        !(c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) continue;
    if (len < sizeof *ee) continue;
    memcpy(ee, CMSG_DATA(c), sizeof *ee);
    len -= sizeof *ee;
    memcpy(offender, CMSG_DATA(c) + sizeof *ee, len < sizeof *offender ? len : sizeof *offender);
  }
  return 1;
}

static void address_text (const struct sockaddr_storage *sa, char *text, size_t size) {
  const void *addr = NULL;
  if (sa->ss_family == AF_INET) addr = &((const struct sockaddr_in *)sa)->sin_addr;
  if (sa->ss_family == AF_INET6) addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
  if (addr == NULL || inet_ntop(sa->ss_family, addr, text, (socklen_t)size) == NULL)
    snprintf(text, size, "an unknown address");
}

/* The reading of an ICMP error: the table's state, the reason naming the ICMP message and
** the address that sent it (the target itself, or a router or firewall on the way). */
static Outcome icmp_meaning (const struct sock_extended_err *ee,
                             const struct sockaddr_storage *offender) {
  const IcmpMeaning *m = ee->ee_origin == SO_EE_ORIGIN_ICMP ? icmp4_meanings : icmp6_meanings;
  char sender[INET6_ADDRSTRLEN];
  Outcome o;
  while (m->type >= 0 && !(m->type == ee->ee_type && (m->code < 0 || m->code == ee->ee_code)))
    m++;
  address_text(offender, sender, sizeof sender);
  o.state = m->state;
  if (m->reason) snprintf(o.reason, sizeof o.reason, "%s from %s", m->reason, sender);
  else snprintf(o.reason, sizeof o.reason, "icmp-type-%d-code-%d from %s", ee->ee_type,
                ee->ee_code, sender);
  return o;
}

/* The ICMP error that answered our SYN, if the error queue holds one: 1 and *o, or 0 (a TCP
** RST, a timeout, or a failure of this host's own). */
static int icmp_outcome (Socket *s, Outcome *o) {
  struct sock_extended_err ee;
  struct sockaddr_storage offender;
  while (next_queued_error(s->fd, &ee, &offender)) {
    if (ee.ee_origin == SO_EE_ORIGIN_ICMP || ee.ee_origin == SO_EE_ORIGIN_ICMP6) {
      *o = icmp_meaning(&ee, &offender);
      return 1;
    }
  }
  return 0;
}

static void set_string (lua_State *L, const char *key, const char *value) {
  lua_pushstring(L, value);
  lua_setfield(L, -2, key);
}

static int connect_failed (lua_State *L, Socket *s, int err) {
  socket_close_fd(s);
  return fail_result(L, fail_cause_of_errno(err), "net: connect to %s:%d failed: %s",
                     s->address, s->port, strerror(err));
}

/* Pushes the result of a connect: the state table (connect) or the socket (open). */
static int connect_result (lua_State *L, Socket *s, const Outcome *o, int opening) {
  double rtt = loop_now() - s->started;
  if (opening && strcmp(o->state, "open") == 0) {
    set_error_queue(s, 0);
    ((Guard *)lua_touserdata(L, 3))->socket = NULL;     /* the caller owns it now */
    lua_pushvalue(L, 2);
    return 1;
  }
  socket_close_fd(s);
  if (opening) {
    return fail_result(L, code_of(o), "net: cannot connect to %s:%d: port %s (%s)",
                       s->address, s->port, o->state, o->reason);
  }
  lua_createtable(L, 0, 6);
  set_string(L, "state", o->state);
  set_string(L, "reason", o->reason);
  lua_pushnumber(L, rtt);
  lua_setfield(L, -2, "rtt");
  lua_getfield(L, 1, "host");
  lua_setfield(L, -2, "host");
  lua_pushinteger(L, s->port);
  lua_setfield(L, -2, "port");
  set_string(L, "address", s->address);
  return 1;
}

/* A connect that ended with err (0 = connected): an ICMP error in the queue says more than
** the errno the kernel made of it. */
static int finish_connect (lua_State *L, Socket *s, int err, int opening) {
  Outcome o;
  if (err == 0 || !icmp_outcome(s, &o)) o = errno_outcome(err);
  if (o.state == NULL) return connect_failed(L, s, err);
  return connect_result(L, s, &o, opening);
}

static int is_connected (int fd) {
  struct sockaddr_storage peer;
  socklen_t len = sizeof peer;
  return getpeername(fd, (struct sockaddr *)&peer, &len) == 0;
}

/* Woken: an ICMP error first (the kernel keeps one that came while connect() still held
** the socket as a soft error and would wait for the SYN's retransmission); then SO_ERROR;
** a wake-up for a queued error of another kind waits on. */
static int connect_done (lua_State *L, int status, lua_KContext ctx) {
  Socket *s = (Socket *)lua_touserdata(L, 2);
  int ev = task_events(L), err = 0;
  socklen_t len = sizeof err;
  Outcome o;
  (void)status;
  if (icmp_outcome(s, &o)) return connect_result(L, s, &o, (int)ctx);
  if (ev & LOOP_TIMEOUT) return finish_connect(L, s, ETIMEDOUT, (int)ctx);
  if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err == 0 && !is_connected(s->fd))
    return task_wait_fd(L, s->fd, POLLOUT, remaining(s), ctx, connect_done);
  return finish_connect(L, s, err, (int)ctx);
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
  set_error_queue(s, 1);
  setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
  s->started = loop_now();
  s->deadline = s->started + timeout;
  if (connect(s->fd, (struct sockaddr *)&addr, len) == 0)
    return finish_connect(L, s, 0, opening);
  if (errno != EINPROGRESS) return finish_connect(L, s, errno, opening);
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
  return fail_result(L, "timeout", "net: %s %s:%d timed out", what, s->address, s->port);
}

static int fail_errno (lua_State *L, Socket *s, const char *what, int err) {
  return fail_result(L, fail_cause_of_errno(err), "net: %s %s:%d failed: %s", what,
                     s->address, s->port, strerror(err));
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

/* Before waiting for the peer: acknowledge what arrives at once (TCP_QUICKACK; the kernel
** falls back to delayed ACKs by itself, so it is asked again before every wait). A peer
** with Nagle's algorithm on holds its next small write until our ACK: Prosody by default,
** sshd without a pty, Windows; a delayed ACK would cost 40 ms here, up to 200 ms there. */
static void ack_at_once (Socket *s) {
  setsockopt(s->fd, IPPROTO_TCP, TCP_QUICKACK, &(int){1}, sizeof(int));
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
      return fail_result(L, "closed", "net: %s:%d closed the connection", s->address,
                         s->port);
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      ack_at_once(s);
      return task_wait_fd(L, s->fd, POLLIN, remaining(s), ctx, receive_more);
    }
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

/* Reads an integer field of the table at index 1 (0 when absent). */
static int int_field (lua_State *L, const char *key) {
  lua_getfield(L, 1, key);
  int value = (int)luaL_optinteger(L, -1, 0);
  lua_pop(L, 1);
  return value;
}

/* net.explain{errno=N} | net.explain{origin=2|3, type=T, code=C, sender=ADDRESS}
** -> state, reason | nil: what a connect's errno, or the ICMP error that answered it
** (origin 2 ICMP, 3 ICMPv6, as in sock_extended_err), means — the reading net.connect
** makes, for a connect made elsewhere (the vantage host's: modules/vantage.lua). */
static int net_explain (lua_State *L) {
  Outcome o;
  luaL_checktype(L, 1, LUA_TTABLE);
  if (lua_getfield(L, 1, "origin") != LUA_TNIL) {
    struct sock_extended_err ee;
    struct sockaddr_storage sender;
    memset(&ee, 0, sizeof ee);
    memset(&sender, 0, sizeof sender);
    ee.ee_origin = (uint8_t)luaL_checkinteger(L, -1);
    ee.ee_type = (uint8_t)int_field(L, "type");
    ee.ee_code = (uint8_t)int_field(L, "code");
    lua_getfield(L, 1, "sender");
    const char *text = lua_tostring(L, -1);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&sender;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&sender;
    if (text && inet_pton(AF_INET, text, &v4->sin_addr) == 1) sender.ss_family = AF_INET;
    else if (text && inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) sender.ss_family = AF_INET6;
    o = icmp_meaning(&ee, &sender);
  } else {
    o = errno_outcome(int_field(L, "errno"));
  }
  if (o.state == NULL) return 0;
  lua_pushstring(L, o.state);
  lua_pushstring(L, o.reason);
  return 2;
}

/* Appends {fd=, address=, port=, nodelay=, segments_sent=} to the list on top when fd is a
** connected TCP socket; anything else (a file, a pipe, a UDP or listening socket) is left
** out. segments_sent: the segments that carried data so far (how many writes went out). */
static void add_tcp_connection (lua_State *L, int fd) {
  struct sockaddr_storage peer;
  socklen_t len = sizeof peer;
  int protocol = 0, nodelay = 0;
  socklen_t size = sizeof protocol;
  char text[INET6_ADDRSTRLEN];
  struct tcp_info info;
  if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &size) != 0 ||
      protocol != IPPROTO_TCP || getpeername(fd, (struct sockaddr *)&peer, &len) != 0)
    return;
  size = sizeof nodelay;
  getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &size);
  memset(&info, 0, sizeof info);
  size = sizeof info;
  getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size);
  address_text(&peer, text, sizeof text);
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, fd);
  lua_setfield(L, -2, "fd");
  set_string(L, "address", text);
  lua_pushinteger(L, ntohs(peer.ss_family == AF_INET6
                           ? ((struct sockaddr_in6 *)&peer)->sin6_port
                           : ((struct sockaddr_in *)&peer)->sin_port));
  lua_setfield(L, -2, "port");
  lua_pushboolean(L, nodelay);
  lua_setfield(L, -2, "nodelay");
  lua_pushinteger(L, info.tcpi_data_segs_out);
  lua_setfield(L, -2, "segments_sent");
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
}

/* net.tcp_connections() -> {{fd=, address=, port=, nodelay=, segments_sent=}, ...}: every
** connected TCP socket of this process, whichever library opened it (net, ssh, dns, http),
** read from /proc/self/fd — how the tests prove that each sends small writes at once, and
** that records sent back to back leave together. */
static int net_tcp_connections (lua_State *L) {
  DIR *dir = opendir("/proc/self/fd");
  struct dirent *entry;
  if (dir == NULL)
    return luaL_error(L, "net: cannot list /proc/self/fd: %s", strerror(errno));
  lua_newtable(L);
  while ((entry = readdir(dir)) != NULL) {
    char *end;
    long fd = strtol(entry->d_name, &end, 10);
    if (*end == '\0' && end != entry->d_name && fd != dirfd(dir))
      add_tcp_connection(L, (int)fd);
  }
  closedir(dir);
  return 1;
}

static const luaL_Reg net_funcs[] = {
  {"connect", net_connect},
  {"open", net_open},
  {"explain", net_explain},
  {"tcp_connections", net_tcp_connections},
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
