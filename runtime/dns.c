/*
** dns.c — runbook.dns: DNS queries through c-ares driven by the event loop, and RFC 2136
** dynamic updates signed with TSIG (RFC 8945), built and parsed by the project
** (dns_wire.c). The HMACs come from the lazily loaded runbook.tsig (OpenSSL stays out of
** the core).
**
**   dns.query{name=, type=, server=, port=, resolv_conf=, timeout=, tries=}
**       -> {rcode=, aa=, records=, authority=, additional=} | nil, message, code
**   dns.update{server=, port=, zone=, key={name=, algorithm=, secret=}, prerequisites=,
**              changes=, timeout=, tries=} -> {rcode="NOERROR"} | nil, message, code
**   dns.parse(message) -> the same reply table as query | nil, "malformed"
**
** Without server, the servers of the system resolver (/etc/resolv.conf) answer, or those of
** the file resolv_conf names (c-ares reads it: ARES_OPT_RESOLVCONF, c-ares >= 1.15).
** NXDOMAIN is an answer, not an error: query returns {rcode="NXDOMAIN", records={}}.
** SERVFAIL, REFUSED, FORMERR and NOTIMP answers return nil, message, "servfail" … .
*/
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>
#include <lua.h>
#include <lauxlib.h>

#include "dns_wire.h"
#include "fail.h"
#include "options.h"
#include "loop.h"

#define CHANNEL_TYPE "runbook.dns.channel"
#define QUERY_BOX_TYPE "runbook.dns.query"
#define MAX_SOCKETS 64
/* Queries on the wire per channel; more wait in a queue. A burst of a thousand UDP replies
** overflows a socket's default receive buffer (each datagram costs ~1 KB of it) and the
** dropped ones would only come back after a timeout. */
#define MAX_IN_FLIGHT 128
/* "the servers of /etc/…/resolv.conf", "[2001:db8::53]:53": where a query went, for messages */
#define WHERE_MAX 200

typedef struct Channel Channel;
typedef struct Query Query;

/* One socket c-ares wants watched; slots are reused, never freed while the loop runs. */
typedef struct SocketWatch {
  Watch watch;
  Channel *channel;
} SocketWatch;

/* What a channel asks: one server and port, the servers a resolv.conf lists (resolv_conf), or
** the system resolver's (both NULL); with one timeout and number of tries. */
typedef struct Target {
  const char *server, *resolv_conf;
  int port, tries;
  double timeout;
} Target;

/* A c-ares channel for one Target; queries to it share its sockets. */
struct Channel {
  ares_channel ares;
  Loop *loop;
  Watch timer;
  int closing, in_flight;
  Query *queue_head, *queue_tail;    /* waiting for a place in flight */
  char where[WHERE_MAX];
  SocketWatch sockets[MAX_SOCKETS];
};

/* One query in flight. Owned by the waiting task through a QueryBox; when the task let go
** first (cancelled, or an error), the callback frees it (orphan). */
struct Query {
  Task *task;
  Channel *channel;
  Query *next_queued;
  int done, orphan, status, queued, qtype;
  unsigned char *answer;
  int answer_len;
  char name[256], type[12], where[WHERE_MAX];
  double timeout;
  int tries;
};

/* The owner of a query on its task's stack: a to-be-closed userdata, so the query is let
** go of on every way out of dns.query — results pushed, an error raised while pushing them,
** cancellation — not when the collector gets to it. */
typedef struct QueryBox {
  Query *query;
} QueryBox;

static const char *const rcode_codes[] = {
  "noerror", "formerr", "servfail", "nxdomain", "notimp", "refused", "yxdomain",
  "yxrrset", "nxrrset", "notauth", "notzone"
};



/* ---------------------------------------------------------------- the loop and c-ares */

static void channel_rearm (Channel *ch) {
  struct timeval tv, *next;
  if (ch->closing) return;
  next = ares_timeout(ch->ares, NULL, &tv);
  if (next) watch_timer(ch->loop, &ch->timer, loop_now() + next->tv_sec + next->tv_usec / 1e6);
  else watch_stop(ch->loop, &ch->timer);
}

static void on_socket (Loop *loop, Watch *w, int revents) {
  SocketWatch *s = (SocketWatch *)w->data;
  int fd = w->fd;
  (void)loop;
  ares_process_fd(s->channel->ares,
                  revents & (POLLIN | POLLERR | POLLHUP) ? fd : ARES_SOCKET_BAD,
                  revents & POLLOUT ? fd : ARES_SOCKET_BAD);
  channel_rearm(s->channel);
}

static void on_timer (Loop *loop, Watch *w, int revents) {
  Channel *ch = (Channel *)w->data;
  (void)loop; (void)revents;
  ares_process_fd(ch->ares, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  channel_rearm(ch);
}

/* c-ares says which sockets it wants watched, and for what. */
static void on_socket_state (void *data, ares_socket_t fd, int readable, int writable) {
  Channel *ch = (Channel *)data;
  SocketWatch *slot = NULL;
  if (ch->closing) return;
  for (int i = 0; i < MAX_SOCKETS && !slot; i++)
    if (ch->sockets[i].watch.fd == fd) slot = &ch->sockets[i];
  if (!readable && !writable) {
    if (slot) watch_stop(ch->loop, &slot->watch);
    return;
  }
  for (int i = 0; i < MAX_SOCKETS && !slot; i++)
    if (ch->sockets[i].watch.fd < 0) slot = &ch->sockets[i];
  if (slot == NULL) return;   /* over MAX_SOCKETS: its queries end by timeout */
  watch_fd(ch->loop, &slot->watch, fd,
           (short)((readable ? POLLIN : 0) | (writable ? POLLOUT : 0)));
}

static int channel_gc (lua_State *L) {
  Channel *ch = (Channel *)luaL_checkudata(L, 1, CHANNEL_TYPE);
  if (ch->ares && !ch->closing) {
    ch->closing = 1;     /* the loop may be gone already (lua_close): touch no watch */
    ares_destroy(ch->ares);
    ch->ares = NULL;
  }
  return 0;
}

/* The server's address for c-ares; raises when it is not an IP address. */
static void server_node (lua_State *L, const Target *t, struct ares_addr_port_node *node) {
  memset(node, 0, sizeof *node);
  if (inet_pton(AF_INET, t->server, &node->addr.addr4) == 1) node->family = AF_INET;
  else if (inet_pton(AF_INET6, t->server, &node->addr.addr6) == 1) node->family = AF_INET6;
  else luaL_error(L, "dns: server must be an IP address, got '%s'", t->server);
  node->udp_port = node->tcp_port = t->port;
}

static void channel_describe (Channel *ch, const Target *t) {
  if (t->server)
    snprintf(ch->where, sizeof ch->where, strchr(t->server, ':') ? "[%s]:%d" : "%s:%d",
             t->server, t->port);
  else if (t->resolv_conf)
    snprintf(ch->where, sizeof ch->where, "the servers of %s", t->resolv_conf);
  else
    snprintf(ch->where, sizeof ch->where, "the system resolver");
}

/* c-ares set up for the target; an ares status. Options given here win over the
** resolv.conf's own ("options timeout:n attempts:n"). */
static int channel_init (Channel *ch, const Target *t, struct ares_addr_port_node *node) {
  struct ares_options opts;
  int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB;
  memset(&opts, 0, sizeof opts);
  opts.flags = ARES_FLAG_NOCHECKRESP;
  opts.timeout = (int)(t->timeout * 1000 + 0.5);
  opts.tries = t->tries;
  opts.sock_state_cb = on_socket_state;
  opts.sock_state_cb_data = ch;
  if (t->resolv_conf) {
    opts.resolvconf_path = (char *)t->resolv_conf;    /* c-ares keeps a copy */
    mask |= ARES_OPT_RESOLVCONF;
  }
  int status = ares_init_options(&ch->ares, &opts, mask);
  if (status == ARES_SUCCESS && t->server) status = ares_set_servers_ports(ch->ares, node);
  return status;
}

/* A new channel for the target, pushed as a userdata. */
static Channel *channel_new (lua_State *L, const Target *t) {
  struct ares_addr_port_node node;
  if (t->server) server_node(L, t, &node);
  Channel *ch = (Channel *)lua_newuserdatauv(L, sizeof(Channel), 0);
  memset(ch, 0, sizeof *ch);
  ch->loop = loop_get(L);
  watch_init(&ch->timer, on_timer, ch);
  for (int i = 0; i < MAX_SOCKETS; i++) {
    watch_init(&ch->sockets[i].watch, on_socket, &ch->sockets[i]);
    ch->sockets[i].channel = ch;
  }
  channel_describe(ch, t);
  luaL_setmetatable(L, CHANNEL_TYPE);
  int status = channel_init(ch, t, &node);
  if (status != ARES_SUCCESS) {
    if (ch->ares) ares_destroy(ch->ares);
    ch->ares = NULL;
    luaL_error(L, "dns: cannot set up a resolver for %s: %s", ch->where, ares_strerror(status));
  }
  return ch;
}

/* The cached channel for this target (registry["runbook.dns.channels"][settings]). */
static Channel *channel_get (lua_State *L, const Target *t) {
  lua_pushliteral(L, "runbook.dns.channels");
  if (lua_rawget(L, LUA_REGISTRYINDEX) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushliteral(L, "runbook.dns.channels");
    lua_pushvalue(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
  }
  lua_pushfstring(L, "%s|%s|%d|%f|%d", t->server ? t->server : "",
                  t->resolv_conf ? t->resolv_conf : "", t->port, t->timeout, t->tries);
  lua_pushvalue(L, -1);
  if (lua_rawget(L, -3) == LUA_TUSERDATA) {
    Channel *ch = (Channel *)lua_touserdata(L, -1);
    lua_pop(L, 3);
    return ch;
  }
  lua_pop(L, 1);
  Channel *ch = channel_new(L, t);
  lua_rawset(L, -3);   /* channels[key] = ch */
  lua_pop(L, 1);
  return ch;
}


/* ---------------------------------------------------------------- records to Lua */

static void set_string (lua_State *L, const char *key, const char *value) {
  lua_pushstring(L, value);
  lua_setfield(L, -2, key);
}

static void set_integer (lua_State *L, const char *key, lua_Integer value) {
  lua_pushinteger(L, value);
  lua_setfield(L, -2, key);
}

/* The type-specific fields of one record into the table on top; 0 or -1 if malformed. */
static int push_rdata (lua_State *L, const unsigned char *msg, size_t len, const DnsRR *rr) {
  const unsigned char *p = msg + rr->rdata;
  size_t off = rr->rdata, end = rr->rdata + rr->rdlen;
  char text[DNSW_NAME_MAX], mname[DNSW_NAME_MAX];
  switch (rr->type) {
    case DNSW_A: case DNSW_AAAA: {
      int family = rr->type == DNSW_A ? AF_INET : AF_INET6;
      if (rr->rdlen != (rr->type == DNSW_A ? 4u : 16u)) return -1;
      inet_ntop(family, p, text, sizeof text);
      set_string(L, "address", text);
      return 0;
    }
    case DNSW_NS: case DNSW_CNAME:
      if (dnsw_name(msg, len, &off, text) != 0 || off != end) return -1;
      set_string(L, "target", text);
      return 0;
    case DNSW_SRV:
      if (rr->rdlen < 7) return -1;
      set_integer(L, "priority", dnsw_u16(p));
      set_integer(L, "weight", dnsw_u16(p + 2));
      set_integer(L, "port", dnsw_u16(p + 4));
      off += 6;
      if (dnsw_name(msg, len, &off, text) != 0 || off != end) return -1;
      set_string(L, "target", text);
      return 0;
    case DNSW_SOA: {
      static const char *const fields[] = { "serial", "refresh", "retry", "expire", "minimum" };
      if (dnsw_name(msg, len, &off, mname) != 0 || dnsw_name(msg, len, &off, text) != 0 ||
          off + 20 != end) return -1;
      set_string(L, "mname", mname);
      set_string(L, "rname", text);
      for (int i = 0; i < 5; i++) set_integer(L, fields[i], dnsw_u32(msg + off + 4 * i));
      return 0;
    }
    case DNSW_TXT: {
      luaL_Buffer all;
      int n = 0, strings;
      lua_newtable(L);
      strings = lua_gettop(L);
      while (off < end) {
        size_t slen = msg[off];
        if (off + 1 + slen > end) return -1;
        lua_pushlstring(L, (const char *)msg + off + 1, slen);
        lua_rawseti(L, strings, ++n);
        off += 1 + slen;
      }
      luaL_buffinit(L, &all);
      for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, strings, i);
        luaL_addvalue(&all);
      }
      luaL_pushresult(&all);
      lua_setfield(L, strings - 1, "text");
      lua_setfield(L, -2, "strings");
      return 0;
    }
    default:
      lua_pushlstring(L, (const char *)p, rr->rdlen);
      lua_setfield(L, -2, "rdata");
      return 0;
  }
}

static int push_rr (lua_State *L, const unsigned char *msg, size_t len, const DnsRR *rr) {
  char type[16];
  const char *name = dnsw_type_name(rr->type);
  if (name == NULL) snprintf(type, sizeof type, "TYPE%u", rr->type), name = type;
  lua_createtable(L, 0, 6);
  set_string(L, "name", rr->name);
  set_string(L, "type", name);
  set_integer(L, "ttl", rr->ttl);
  if (rr->klass != DNSW_IN) set_integer(L, "class", rr->klass);
  return push_rdata(L, msg, len, rr);
}

/* {rcode=, aa=, tc=, records=, authority=, additional=} for a reply; nil if malformed. */
static int push_reply (lua_State *L, const unsigned char *msg, size_t len) {
  static const char *const sections[] = { "records", "authority", "additional" };
  DnsHeader h;
  DnsRR rr;
  char qname[DNSW_NAME_MAX];
  unsigned qtype, qclass;
  size_t off = 12;
  if (dnsw_header(msg, len, &h) != 0) return lua_pushnil(L), 1;
  lua_createtable(L, 0, 6);
  set_string(L, "rcode", dnsw_rcode_name(h.flags & 0xf));
  lua_pushboolean(L, h.flags & 0x0400);
  lua_setfield(L, -2, "aa");
  for (unsigned i = 0; i < h.qdcount; i++)
    if (dnsw_question(msg, len, &off, qname, &qtype, &qclass) != 0) goto malformed;
  unsigned counts[3] = { h.ancount, h.nscount, h.arcount };
  for (int s = 0; s < 3; s++) {
    lua_createtable(L, (int)(counts[s] < 64 ? counts[s] : 64), 0);
    for (unsigned i = 0; i < counts[s]; i++) {
      if (dnsw_rr(msg, len, &off, &rr) != 0) goto malformed;
      if (push_rr(L, msg, len, &rr) != 0) goto malformed;
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, sections[s]);
  }
  return 1;
malformed:                        /* the caller resets its stack */
  lua_pushnil(L);
  return 1;
}


/* ---------------------------------------------------------------- dns.query */

static void on_answer (void *arg, int status, int timeouts, unsigned char *abuf, int alen);

/* Puts queued queries on the wire while there is room. */
static void start_queued (Channel *ch) {
  while (ch->in_flight < MAX_IN_FLIGHT && ch->queue_head && !ch->closing) {
    Query *q = ch->queue_head;
    ch->queue_head = q->next_queued;
    if (ch->queue_head == NULL) ch->queue_tail = NULL;
    q->queued = 0;
    ch->in_flight++;
    ares_query(ch->ares, q->name, DNSW_IN, q->qtype, on_answer, q);
  }
}

static void enqueue (Channel *ch, Query *q) {
  q->queued = 1;
  q->next_queued = NULL;
  if (ch->queue_tail) ch->queue_tail->next_queued = q;
  else ch->queue_head = q;
  ch->queue_tail = q;
}

static void dequeue (Channel *ch, Query *q) {
  Query **p = &ch->queue_head, *prev = NULL;
  while (*p && *p != q) prev = *p, p = &(*p)->next_queued;
  if (*p == NULL) return;
  *p = q->next_queued;
  if (ch->queue_tail == q) ch->queue_tail = prev;
  q->queued = 0;
}

static void on_answer (void *arg, int status, int timeouts, unsigned char *abuf, int alen) {
  Query *q = (Query *)arg;
  Channel *ch = q->channel;
  (void)timeouts;
  if (status == ARES_EDESTRUCTION) {         /* the Lua state is closing */
    if (q->orphan) free(q);
    else q->done = 1, q->status = status;
    return;
  }
  ch->in_flight--;
  start_queued(ch);
  if (q->orphan) { free(q); return; }
  q->done = 1;
  q->status = status;
  if (abuf && alen >= 12 && (q->answer = malloc((size_t)alen)) != NULL) {
    memcpy(q->answer, abuf, (size_t)alen);
    q->answer_len = alen;
  }
  if (q->task) task_wake(q->task, LOOP_WOKEN);
}

static int query_failure (lua_State *L, const Query *q, const char *what, const char *cause) {
  return fail_result(L, cause, "dns query %s %s to %s %s", q->name, q->type, q->where, what);
}

/* The results of a finished query (its box frees it: pushing them may raise). */
static int query_results (lua_State *L, Query *q) {
  int top = lua_gettop(L), n;
  char what[200];
  if (q->answer) {
    unsigned rcode = q->answer[3] & 0xf;
    if (rcode != 0 && rcode != 3 && rcode < 11) {
      snprintf(what, sizeof what, "was answered %s: %s", dnsw_rcode_name(rcode),
               rcode == 5 ? "the server refuses to answer this client for this name"
                          : "the server could not answer; check its log");
      n = query_failure(L, q, what, rcode_codes[rcode]);
    } else if (push_reply(L, q->answer, (size_t)q->answer_len), lua_isnil(L, -1)) {
      lua_settop(L, top);
      n = query_failure(L, q, "got a malformed reply", "malformed");
    } else n = 1;
  } else if (q->status == ARES_ETIMEOUT) {
    snprintf(what, sizeof what, "timed out (%d tries, first after %gs): is a DNS server "
             "running there and reachable?", q->tries, q->timeout);
    n = query_failure(L, q, what, "timeout");
  } else if (q->status == ARES_ECONNREFUSED) {
    n = query_failure(L, q, "was refused (nothing listens on that port?)", "refused");
  } else {
    snprintf(what, sizeof what, "failed: %s", ares_strerror(q->status));
    n = query_failure(L, q, what, q->status == ARES_EBADNAME ? "name-resolution" : "protocol");
  }
  return n;
}

/* __close and __gc of a QueryBox: frees the query, or leaves it to c-ares's callback while
** it is on the wire (orphan). Safe to call twice. */
static int query_box_close (lua_State *L) {
  QueryBox *box = (QueryBox *)luaL_checkudata(L, 1, QUERY_BOX_TYPE);
  Query *q = box->query;
  box->query = NULL;
  if (q == NULL) return 0;
  if (q->queued) {           /* never sent: nobody else knows it */
    dequeue(q->channel, q);
    free(q);
  } else if (q->done) {
    free(q->answer);
    free(q);
  } else {
    q->orphan = 1;           /* the callback frees it when c-ares lets go */
    q->task = NULL;
  }
  return 0;
}

static int query_continue (lua_State *L, int status, lua_KContext ctx) {
  Query *q = ((QueryBox *)ctx)->query;
  (void)status;
  task_events(L);            /* raises "cancelled": the box lets go of the query */
  if (!q->done) return task_park(L, -1, ctx, query_continue);
  return query_results(L, q);
}

/* The query's target from its options; raises on misuse. A resolv_conf that cannot be read
** raises too: c-ares would quietly ask 127.0.0.1 instead. Leaves two slots on the stack,
** where server and resolv_conf live while the target is used. */
static Target query_target (lua_State *L) {
  Target t;
  t.server = options_string(L, 1, "server", NULL);
  t.resolv_conf = options_string(L, 1, "resolv_conf", NULL);
  t.port = (int)options_number(L, 1, "port", 53);
  t.timeout = options_number(L, 1, "timeout", 5);
  t.tries = (int)options_number(L, 1, "tries", 2);
  luaL_argcheck(L, t.port > 0 && t.port < 65536, 1, "port: expected 1-65535");
  luaL_argcheck(L, t.timeout > 0 && t.timeout < 3600, 1, "timeout: expected seconds > 0");
  luaL_argcheck(L, t.tries >= 1 && t.tries <= 20, 1, "tries: expected 1-20");
  luaL_argcheck(L, !(t.server && t.resolv_conf), 1,
                "give server or resolv_conf, not both (resolv_conf lists servers itself)");
  if (t.resolv_conf) {
    FILE *file = fopen(t.resolv_conf, "r");
    if (file == NULL)
      luaL_error(L, "dns: cannot read resolv_conf '%s': %s (give the path of a file in "
                 "resolv.conf(5) format, or leave resolv_conf out for the system's)",
                 t.resolv_conf, strerror(errno));
    fclose(file);
  }
  return t;
}

/* Pushes an empty QueryBox, to be closed when dns.query returns or raises. */
static QueryBox *push_query_box (lua_State *L) {
  QueryBox *box = (QueryBox *)lua_newuserdatauv(L, sizeof(QueryBox), 0);
  box->query = NULL;
  luaL_setmetatable(L, QUERY_BOX_TYPE);
  lua_toclose(L, -1);
  return box;
}

static int dns_query (lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  QueryBox *box = push_query_box(L);                         /* 2 */
  const char *name = options_string(L, 1, "name", NULL);     /* 3 */
  const char *type = options_string(L, 1, "type", "A");      /* 4 */
  int qtype = dnsw_type_code(type);
  luaL_argcheck(L, name && strlen(name) < 256, 1, "name: expected a domain name");
  luaL_argcheck(L, qtype > 0, 1, "type: expected A, AAAA, CNAME, SRV, NS, SOA or TXT");
  Target target = query_target(L);                           /* 5, 6: its strings */
  Task *t = task_check_current(L, "dns.query");
  Channel *ch = channel_get(L, &target);
  Query *q = (Query *)calloc(1, sizeof *q);
  if (q == NULL) return luaL_error(L, "dns: out of memory");
  box->query = q;
  q->task = t;
  q->channel = ch;
  q->qtype = qtype;
  q->timeout = target.timeout;
  q->tries = target.tries;
  snprintf(q->name, sizeof q->name, "%s", name);
  snprintf(q->type, sizeof q->type, "%s", dnsw_type_name((unsigned)qtype));
  snprintf(q->where, sizeof q->where, "%s", ch->where);
  lua_settop(L, 2);          /* the query holds copies of the strings */
  enqueue(ch, q);
  start_queued(ch);
  channel_rearm(ch);
  if (q->done) return query_results(L, q);
  return task_park(L, -1, (lua_KContext)box, query_continue);
}


/* ---------------------------------------------------------------- the library */

/* dns.parse(message) -> the reply table dns.query returns, or nil, "malformed": for
** inspecting captured messages, and the entry point of the parser's fuzz target. */
static int dns_parse (lua_State *L) {
  size_t len;
  const char *msg = luaL_checklstring(L, 1, &len);
  int top = lua_gettop(L);
  push_reply(L, (const unsigned char *)msg, len);
  if (!lua_isnil(L, -1)) return 1;
  lua_settop(L, top);
  lua_pushnil(L);
  lua_pushliteral(L, "malformed");
  return 2;
}

static const luaL_Reg dns_funcs[] = {
  {"query", dns_query},
  {"parse", dns_parse},
  {NULL, NULL}
};

int luaopen_runbook_dns_update (lua_State *L);

int luaopen_runbook_dns (lua_State *L) {
  static int initialized;
  if (!initialized) {
    if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
      return luaL_error(L, "dns: c-ares failed to initialize");
    initialized = 1;
  }
  if (luaL_newmetatable(L, CHANNEL_TYPE)) {
    lua_pushcfunction(L, channel_gc);
    lua_setfield(L, -2, "__gc");
  }
  if (luaL_newmetatable(L, QUERY_BOX_TYPE)) {
    lua_pushcfunction(L, query_box_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, query_box_close);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 2);
  luaL_newlib(L, dns_funcs);
  luaL_requiref(L, "runbook.dns.update", luaopen_runbook_dns_update, 0);
  static const char *const reexported[] = { "update", "tkey", "verify_tkey", NULL };
  for (int i = 0; reexported[i]; i++) {
    lua_getfield(L, -1, reexported[i]);
    lua_setfield(L, -3, reexported[i]);
  }
  lua_pop(L, 1);
  return 1;
}
