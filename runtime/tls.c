/*
** tls.c — runbook.tls (loaded on first use: OpenSSL): TLS over a connected stream, for
** STARTTLS probes.
**   tls.wrap(transport, {servername=, ca_file=, verify=true, timeout=}) -> stream | nil, msg,
**     code. transport: a runbook.socket (OpenSSL drives its descriptor), or any object with
**     :send(data, {timeout=}) and :receive(max, {timeout=}) answering like a socket, e.g. an
**     SSH tunnel (modules/vantage.lua): TLS records then pass through memory BIOs and those
**     methods, so the same probe runs from a vantage host. Handshakes with SNI; with
**     verify=true the chain and the name (servername) must verify or the handshake fails
**     (code "verify"); with verify=false it completes and
**     stream:certificate() says what was wrong, so a probe can report each stage itself.
**   stream:send(data [, {timeout=}]), stream:receive(max_bytes [, {timeout=}]),
**   stream:certificate() -> {verified=, verify_error=, version=, cipher=, and the names:}
**     dns_names, srv_names (SRV-ID otherNames, RFC 4985), xmpp_addresses (XmppAddr
**     otherNames, RFC 6120), uri_names, ip_addresses, other_names (the OIDs of otherNames
**     not read): lists, possibly empty, of the subjectAltName entries as written;
**     subject_cn=, issuer_cn= when present.
**   tls.read_certificate(der_or_pem) -> the names alone | nil, msg, "malformed".
**   stream:close().
** The stream owns the transport from then on; stream:close() closes it too (through its
** :close, which may wait); the collector frees TLS only and leaves the transport to its own.
** Records leave together: OpenSSL writes into a memory BIO and the stream sends what it
** holds when it must wait for the peer, or after a :send. The last flight of a handshake
** that completes (the client's Finished) waits for the first :send and leaves in the same
** segment as that application data (TLS allows it: the server reads them in order), or
** goes before the first :receive waits — one packet, not two (docs/architecture.md).
*/
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "fail.h"
#include "loop_api.h"

#define STREAM_TYPE "runbook.tls"
#define RECEIVE_MAX (1 << 20)
#define DEFAULT_TIMEOUT 5.0
#define WIRE_CHUNK 32768        /* what one transport:receive asks for (an SSH packet) */

/* The operations of a stream, and what messages call them. */
enum { OP_HANDSHAKE, OP_SEND, OP_RECEIVE };
static const char *const OP_WHAT[] = { "handshake with", "sending to", "receiving from" };

/* Which transport method a stream without a descriptor calls. */
enum { WIRE_SEND, WIRE_RECEIVE };

typedef struct Stream {
  SSL_CTX *ctx;
  SSL *ssl;
  int fd;                   /* the socket's descriptor, or -1: a transport object */
  BIO *wire_in, *wire_out;  /* records from (transport object only) and for the peer; ssl
                               owns them; a socket's are read from its descriptor */
  int op, done;             /* transport object: the operation running, and whether it is */
  size_t receive_max;       /*   done but for sending what OpenSSL wrote; receive's max */
  double deadline;
  char peer[80];            /* servername or address, for messages */
} Stream;

static void stream_free (Stream *s) {
  if (s->ssl) SSL_free(s->ssl);
  if (s->ctx) SSL_CTX_free(s->ctx);
  s->ssl = NULL;
  s->ctx = NULL;
  s->wire_in = s->wire_out = NULL;
  s->fd = -1;
}

/* Sends what OpenSSL wrote for the peer (wire_out) to the socket, all of it in one send
** when the socket takes it. -> 1 all sent, 0 the socket is full (wait for POLLOUT), -1 the
** send failed (errno). */
static int send_records (Stream *s) {
  char *data, scratch[4096];
  long pending;
  while ((pending = BIO_get_mem_data(s->wire_out, &data)) > 0) {
    ssize_t n = send(s->fd, data, (size_t)pending, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    for (ssize_t sent = n; sent > 0; ) {     /* drop what left from the BIO */
      int chunk = sent < (ssize_t)sizeof scratch ? (int)sent : (int)sizeof scratch;
      sent -= BIO_read(s->wire_out, scratch, chunk);
    }
  }
  return 1;
}

static int close_done (lua_State *L, int status, lua_KContext ctx) {
  (void)L; (void)status; (void)ctx;
  return 0;
}

/* __close and :close(): frees TLS, then transport:close() (an SSH tunnel's may wait); safe
** to call twice. */
static int stream_close (lua_State *L) {
  Stream *s = (Stream *)luaL_checkudata(L, 1, STREAM_TYPE);
  if (s->ssl == NULL) return 0;
  SSL_shutdown(s->ssl);                      /* one try at close_notify, never waits */
  if (s->fd >= 0) send_records(s);
  stream_free(s);
  if (lua_getiuservalue(L, 1, 1) == LUA_TNIL) return 0;
  lua_getfield(L, -1, "close");
  lua_insert(L, -2);
  lua_callk(L, 1, 0, 0, close_done);
  return 0;
}

/* __gc: frees TLS only; the transport, unreachable too, is collected with its own __gc. */
static int stream_gc (lua_State *L) {
  stream_free((Stream *)luaL_checkudata(L, 1, STREAM_TYPE));
  return 0;
}

static Stream *check_stream (lua_State *L) {
  Stream *s = (Stream *)luaL_checkudata(L, 1, STREAM_TYPE);
  if (s->ssl == NULL) luaL_error(L, "tls: stream to %s is closed", s->peer);
  return s;
}

static double opt_timeout (lua_State *L, int idx) {
  double timeout = DEFAULT_TIMEOUT;
  if (lua_istable(L, idx)) {
    lua_getfield(L, idx, "timeout");
    if (!lua_isnil(L, -1)) {
      timeout = lua_tonumber(L, -1);
      if (!lua_isnumber(L, -1) || timeout < 0) luaL_error(L, "tls: timeout must be >= 0");
    }
    lua_pop(L, 1);
  }
  return timeout;
}

static double remaining (Stream *s) {
  double left = s->deadline - loop_now();
  return left > 0 ? left : 0;
}

/* nil, "tls: <what> <peer>: <OpenSSL's reason>", code */
static int fail (lua_State *L, Stream *s, const char *what, const char *code) {
  char reason[256] = "";
  unsigned long err = ERR_get_error();
  if (err) ERR_error_string_n(err, reason, sizeof reason);
  else if (errno) snprintf(reason, sizeof reason, "%s", strerror(errno));
  ERR_clear_error();
  if (s->ssl && SSL_get_verify_result(s->ssl) != X509_V_OK && strcmp(code, "tls") == 0) {
    snprintf(reason, sizeof reason, "certificate: %s",
             X509_verify_cert_error_string(SSL_get_verify_result(s->ssl)));
    code = "verify";
  }
  return fail_result(L, code, "tls: %s %s failed%s%s", what, s->peer, reason[0] ? ": " : "",
                     reason);
}

static int closed (lua_State *L, Stream *s, const char *what) {
  ERR_clear_error();
  return fail_result(L, "closed", "tls: %s closed the connection (during %s)", s->peer, what);
}

/* A socket's send_records failed (errno). */
static int send_failed (lua_State *L, Stream *s, const char *what) {
  if (errno == EPIPE || errno == ECONNRESET) return closed(L, s, what);
  return fail(L, s, what, "tls");
}

/* After SSL_* returned r <= 0: send what OpenSSL wrote and park until the peer answers (or
** the socket takes the rest; k then tries the operation again), or fail. */
static int wait_or_fail (lua_State *L, Stream *s, int r, const char *what, lua_KContext ctx,
                         lua_KFunction k) {
  int err = SSL_get_error(s->ssl, r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    int sent = send_records(s);
    if (sent < 0) return send_failed(L, s, what);
    if (sent) setsockopt(s->fd, IPPROTO_TCP, TCP_QUICKACK, &(int){1}, sizeof(int));
    return task_wait_fd(L, s->fd, sent ? POLLIN : POLLOUT, remaining(s), ctx, k);
  }
  if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
    return closed(L, s, what);
  return fail(L, s, what, "tls");
}

static int timed_out (lua_State *L, int status) {
  return status == LUA_YIELD && (task_events(L) & LOOP_TIMEOUT);
}

static int fail_timeout (lua_State *L, Stream *s, const char *what) {
  return fail_result(L, "timeout", "tls: %s %s timed out", what, s->peer);
}

/* ------------------------------------------------ over a transport object (memory BIOs) */

static int wire_run (lua_State *L, Stream *s);

/* The transport's answer, on top (3 values): received bytes go to OpenSSL.
** -> 0 to go on, or the failure pushed (nil, message, code). */
static int wire_answer (lua_State *L, Stream *s, int wanted) {
  size_t len;
  const char *data, *message, *code;
  if (lua_toboolean(L, -3)) {
    if (wanted == WIRE_RECEIVE) {
      data = lua_tolstring(L, -3, &len);
      if (data == NULL || len > INT32_MAX)
        return luaL_error(L, "tls: the transport's receive returned a %s, not bytes",
                          luaL_typename(L, -3));
      if (len > 0 && BIO_write(s->wire_in, data, (int)len) != (int)len)
        return luaL_error(L, "tls: out of memory");
    }
    lua_pop(L, 3);
    return 0;
  }
  message = lua_tostring(L, -2);
  code = lua_tostring(L, -1);
  if (code && strcmp(code, "timeout") == 0) return fail_timeout(L, s, OP_WHAT[s->op]);
  luaL_pushfail(L);
  if (code && strcmp(code, "closed") == 0)
    lua_pushfstring(L, "tls: %s closed the connection (during %s)", s->peer, OP_WHAT[s->op]);
  else
    lua_pushfstring(L, "tls: %s %s failed: %s", OP_WHAT[s->op], s->peer,
                    message ? message : "the transport failed");
  lua_pushstring(L, code ? code : "closed");
  return 3;
}

static int wire_done (lua_State *L, int status, lua_KContext ctx) {
  Stream *s = check_stream(L);
  int n = wire_answer(L, s, (int)ctx);
  (void)status;
  return n ? n : wire_run(L, s);
}

/* transport:send(what OpenSSL wrote) or transport:receive(WIRE_CHUNK), with {timeout=} what
** is left. -> 0 to go on, or the failure pushed. */
static int wire_call (lua_State *L, Stream *s, int wanted) {
  double left = remaining(s);
  if (left <= 0) return fail_timeout(L, s, OP_WHAT[s->op]);
  lua_getiuservalue(L, 1, 1);
  lua_getfield(L, -1, wanted == WIRE_SEND ? "send" : "receive");
  lua_insert(L, -2);
  if (wanted == WIRE_SEND) {
    size_t pending = BIO_ctrl_pending(s->wire_out);
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, pending);
    int n = BIO_read(s->wire_out, p, (int)pending);
    luaL_pushresultsize(&b, n > 0 ? (size_t)n : 0);
  } else {
    lua_pushinteger(L, WIRE_CHUNK);
  }
  lua_createtable(L, 0, 1);
  lua_pushnumber(L, left);
  lua_setfield(L, -2, "timeout");
  lua_callk(L, 3, 3, (lua_KContext)wanted, wire_done);
  return wire_answer(L, s, wanted);
}

/* One try of the operation; a receive that read pushes the bytes (stack index 2). */
static int wire_try (lua_State *L, Stream *s) {
  size_t len;
  const char *data;
  luaL_Buffer b;
  int r;
  if (s->op == OP_HANDSHAKE) return SSL_do_handshake(s->ssl);
  if (s->op == OP_SEND) {
    data = lua_tolstring(L, 2, &len);
    return len == 0 ? 1 : SSL_write(s->ssl, data, (int)len);
  }
  r = SSL_read(s->ssl, luaL_buffinitsize(L, &b, s->receive_max), (int)s->receive_max);
  luaL_pushresultsize(&b, r > 0 ? (size_t)r : 0);
  if (r <= 0) lua_pop(L, 1);
  return r;
}

/* Runs the operation until it is done and what OpenSSL wrote is sent: each time OpenSSL
** wants bytes, the transport is asked for them (and may park the task). */
static int wire_run (lua_State *L, Stream *s) {
  for (;;) {
    int r, n;
    if (!s->done) {
      ERR_clear_error();
      errno = 0;
      r = wire_try(L, s);
      if (r > 0) s->done = 1;
      else if (SSL_get_error(s->ssl, r) != SSL_ERROR_WANT_READ &&
               SSL_get_error(s->ssl, r) != SSL_ERROR_WANT_WRITE)
        return wait_or_fail(L, s, r, OP_WHAT[s->op], 0, NULL);   /* not a wait: fails */
    }
    if (BIO_ctrl_pending(s->wire_out) > 0 && !(s->done && s->op == OP_HANDSHAKE))
      n = wire_call(L, s, WIRE_SEND);        /* a finished handshake's flight waits (header) */
    else if (!s->done) n = wire_call(L, s, WIRE_RECEIVE);
    else if (s->op == OP_SEND) { lua_pushboolean(L, 1); return 1; }
    else return 1;          /* the stream (handshake) or the bytes (receive) on top */
    if (n) return n;
  }
}

static int wire_begin (lua_State *L, Stream *s, int op) {
  s->op = op;
  s->done = 0;
  return wire_run(L, s);
}

/* ------------------------------------------------ over a socket's descriptor */

/* Stack: 1 stream. */
static int handshake_step (lua_State *L, int status, lua_KContext ctx) {
  Stream *s = (Stream *)lua_touserdata(L, 1);
  int r;
  (void)ctx;
  if (timed_out(L, status)) return fail_timeout(L, s, "handshake with");
  ERR_clear_error();
  errno = 0;
  r = SSL_do_handshake(s->ssl);
  if (r == 1) {              /* its last flight leaves with the first :send (the header) */
    lua_settop(L, 1);
    return 1;
  }
  return wait_or_fail(L, s, r, "handshake with", 0, handshake_step);
}

/* options[key] as a string or NULL; it stays on the stack while the caller uses it. */
static const char *opt_string (lua_State *L, const char *key) {
  int type = lua_getfield(L, 2, key);
  if (type != LUA_TNIL && type != LUA_TSTRING)
    luaL_error(L, "tls.wrap: %s must be a string, got %s", key, luaL_typename(L, -1));
  return lua_tostring(L, -1);
}

/* Sets up the context: trust (ca_file or the system's), verification, SNI, the fd or the
** memory BIOs. Leaves the stack as it found it. */
static void configure (lua_State *L, Stream *s, int verify) {
  const char *servername = opt_string(L, "servername");
  const char *ca_file = opt_string(L, "ca_file");
  s->ctx = SSL_CTX_new(TLS_client_method());
  if (s->ctx == NULL) luaL_error(L, "tls: out of memory");
  SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
  if (ca_file ? SSL_CTX_load_verify_locations(s->ctx, ca_file, NULL) != 1
              : SSL_CTX_set_default_verify_paths(s->ctx) != 1) {
    ERR_clear_error();
    luaL_error(L, "tls.wrap: cannot load trusted certificates from %s",
               ca_file ? ca_file : "the system's default paths");
  }
  SSL_CTX_set_verify(s->ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
  s->ssl = SSL_new(s->ctx);
  if (s->ssl == NULL) luaL_error(L, "tls: out of memory");
  SSL_set_mode(s->ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (servername) {
    SSL_set_tlsext_host_name(s->ssl, servername);
    if (verify) SSL_set1_host(s->ssl, servername);
    snprintf(s->peer, sizeof s->peer, "%s", servername);
  }
  s->wire_in = s->fd >= 0 ? BIO_new_socket(s->fd, BIO_NOCLOSE) : BIO_new(BIO_s_mem());
  s->wire_out = BIO_new(BIO_s_mem());
  if (s->wire_in == NULL || s->wire_out == NULL) {
    BIO_free(s->wire_in);
    BIO_free(s->wire_out);
    s->wire_in = s->wire_out = NULL;
    luaL_error(L, "tls: out of memory");
  }
  if (s->fd < 0)
    BIO_set_mem_eof_return(s->wire_in, -1);   /* empty: "retry", the transport refills it */
  SSL_set_bio(s->ssl, s->wire_in, s->wire_out);
  SSL_set_connect_state(s->ssl);
  lua_pop(L, 2);             /* servername and ca_file: OpenSSL copied them */
}

/* Calls transport:name() -> its results (n of them), or nothing pushed without the method. */
static int call_method (lua_State *L, const char *name, int results) {
  if (lua_getfield(L, 1, name) != LUA_TFUNCTION) {
    lua_pop(L, 1);
    return 0;
  }
  lua_pushvalue(L, 1);
  lua_call(L, 1, results);
  return 1;
}

/* Who the transport talks to (transport:peer() -> address, port) and, for a socket, the
** descriptor OpenSSL drives. */
static void attach (lua_State *L, Stream *s) {
  int is_socket = luaL_testudata(L, 1, "runbook.socket") != NULL;
  snprintf(s->peer, sizeof s->peer, "the peer");
  if (call_method(L, "peer", 2)) {
    if (lua_tostring(L, -2))
      snprintf(s->peer, sizeof s->peer, "%s:%d", lua_tostring(L, -2), (int)lua_tointeger(L, -1));
    lua_pop(L, 2);
  }
  if (is_socket && call_method(L, "fd", 1)) {
    s->fd = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
}

/* tls.wrap(sock, {servername=, ca_file=, verify=, timeout=}) -> stream | nil, msg, code */
static int tls_wrap (lua_State *L) {
  Stream *s;
  int verify = 1;
  if (luaL_testudata(L, 1, "runbook.socket") == NULL) {
    luaL_argexpected(L, lua_istable(L, 1) || lua_isuserdata(L, 1), 1, "socket or transport");
    lua_getfield(L, 1, "send");
    lua_getfield(L, 1, "receive");
    luaL_argexpected(L, lua_isfunction(L, -1) && lua_isfunction(L, -2), 1,
                     "a socket or an object with :send and :receive");
    lua_pop(L, 2);
  }
  if (lua_isnoneornil(L, 2)) { lua_settop(L, 1); lua_newtable(L); }
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  lua_getfield(L, 2, "verify");
  if (!lua_isnil(L, -1)) verify = lua_toboolean(L, -1);
  lua_pop(L, 1);
  task_check_current(L, "tls.wrap");
  s = (Stream *)lua_newuserdatauv(L, sizeof(Stream), 1);
  memset(s, 0, sizeof *s);
  s->fd = -1;
  luaL_setmetatable(L, STREAM_TYPE);
  attach(L, s);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, 3, 1);               /* the stream owns the transport */
  configure(L, s, verify);
  s->deadline = loop_now() + opt_timeout(L, 2);
  lua_replace(L, 1);
  lua_settop(L, 1);                         /* 1: the stream */
  if (s->fd < 0) return wire_begin(L, s, OP_HANDSHAKE);
  return handshake_step(L, LUA_OK, 0);
}

/* :send after each wait; the data stays at index 2. ctx 0: OpenSSL has not taken the data
** yet; 1: it has, and its records (after a pending handshake flight) are being sent. */
static int send_step (lua_State *L, int status, lua_KContext ctx) {
  Stream *s = check_stream(L);
  size_t len;
  const char *data = lua_tolstring(L, 2, &len);
  int r, sent;
  if (timed_out(L, status)) return fail_timeout(L, s, "sending to");
  if (ctx == 0 && len > 0) {
    ERR_clear_error();
    errno = 0;
    r = SSL_write(s->ssl, data, (int)len);      /* all of it: the BIO is memory */
    if (r <= 0) return wait_or_fail(L, s, r, "sending to", 0, send_step);
  }
  sent = send_records(s);
  if (sent < 0) return send_failed(L, s, "sending to");
  if (sent == 0) return task_wait_fd(L, s->fd, POLLOUT, remaining(s), 1, send_step);
  lua_pushboolean(L, 1);
  return 1;
}

/* stream:send(data [, {timeout=}]) -> true | nil, msg, code */
static int stream_send (lua_State *L) {
  Stream *s = check_stream(L);
  size_t len;
  luaL_checklstring(L, 2, &len);
  luaL_argcheck(L, len <= INT32_MAX, 2, "more than 2 GiB at once");
  s->deadline = loop_now() + opt_timeout(L, 3);
  lua_settop(L, 2);
  if (s->fd < 0) return wire_begin(L, s, OP_SEND);
  return send_step(L, LUA_OK, 0);
}

/* :receive after each wait; ctx is max_bytes. */
static int receive_step (lua_State *L, int status, lua_KContext ctx) {
  Stream *s = check_stream(L);
  luaL_Buffer b;
  char *p;
  int r;
  if (timed_out(L, status)) return fail_timeout(L, s, "receiving from");
  ERR_clear_error();
  errno = 0;
  p = luaL_buffinitsize(L, &b, (size_t)ctx);
  r = SSL_read(s->ssl, p, (int)ctx);
  if (r > 0) {
    luaL_pushresultsize(&b, (size_t)r);
    send_records(s);        /* a pending flight, a key update's answer: no wait, the next
                               operation sends what the socket did not take */
    return 1;
  }
  luaL_pushresultsize(&b, 0);
  lua_pop(L, 1);
  return wait_or_fail(L, s, r, "receiving from", ctx, receive_step);
}

/* stream:receive(max_bytes [, {timeout=}]) -> 1..max_bytes bytes | nil, msg, code */
static int stream_receive (lua_State *L) {
  Stream *s = check_stream(L);
  lua_Integer max = luaL_checkinteger(L, 2);
  luaL_argcheck(L, max >= 1 && max <= RECEIVE_MAX, 2, "max_bytes must be 1..1048576");
  s->deadline = loop_now() + opt_timeout(L, 3);
  lua_settop(L, 1);
  if (s->fd < 0) {
    s->receive_max = (size_t)max;
    return wire_begin(L, s, OP_RECEIVE);
  }
  return receive_step(L, LUA_OK, (lua_KContext)max);
}

/* The name lists a certificate table always has, possibly empty. */
static const char *const NAME_LISTS[] = {
  "dns_names", "srv_names", "xmpp_addresses", "uri_names", "ip_addresses", "other_names",
  NULL
};

/* Appends len bytes at s to the list t[key]; t is an absolute index. */
static void append_name (lua_State *L, int t, const char *key, const void *s, size_t len) {
  lua_getfield(L, t, key);
  lua_pushlstring(L, (const char *)s, len);
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  lua_pop(L, 1);
}

static void append_string (lua_State *L, int t, const char *key, const ASN1_STRING *s) {
  append_name(L, t, key, ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
}

/* An otherName: an SRV-ID (RFC 4985: an IA5String) or an XmppAddr (RFC 6120 §13.7.1.4: a
** UTF8String); any other kind, or these two with another type, goes to other_names as its
** dotted OID, so that a reader knows the certificate presents a name it could not read. */
static void append_other_name (lua_State *L, int t, const OTHERNAME *other) {
  const ASN1_TYPE *value = other->value;
  int nid = OBJ_obj2nid(other->type_id), len;
  char oid[128];
  if (nid == NID_SRVName && value && value->type == V_ASN1_IA5STRING)
    append_string(L, t, "srv_names", value->value.ia5string);
  else if (nid == NID_XmppAddr && value && value->type == V_ASN1_UTF8STRING)
    append_string(L, t, "xmpp_addresses", value->value.utf8string);
  else {
    len = other->type_id ? OBJ_obj2txt(oid, sizeof oid, other->type_id, 1) : -1;
    if (len < 0) snprintf(oid, sizeof oid, "?");
    append_name(L, t, "other_names", oid, strlen(oid));
  }
}

/* An iPAddress entry as text; entries that are neither 4 nor 16 bytes are not addresses. */
static void append_address (lua_State *L, int t, const ASN1_OCTET_STRING *address) {
  char text[INET6_ADDRSTRLEN];
  int len = ASN1_STRING_length(address);
  if ((len == 4 || len == 16) && inet_ntop(len == 4 ? AF_INET : AF_INET6,
                                           ASN1_STRING_get0_data(address), text, sizeof text))
    append_name(L, t, "ip_addresses", text, strlen(text));
}

/* The subjectAltName entries, as they are written (a NUL inside a name stays: the caller
** checks), into the lists of the table at t. */
static void push_alt_names (lua_State *L, int t, X509 *cert) {
  GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
    const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
    switch (name->type) {
      case GEN_DNS: append_string(L, t, "dns_names", name->d.dNSName); break;
      case GEN_URI: append_string(L, t, "uri_names", name->d.uniformResourceIdentifier); break;
      case GEN_IPADD: append_address(L, t, name->d.iPAddress); break;
      case GEN_OTHERNAME: append_other_name(L, t, name->d.otherName); break;
      default: break;
    }
  }
  GENERAL_NAMES_free(names);
}

static void push_name_field (lua_State *L, X509_NAME *name, int nid, const char *key) {
  int at = X509_NAME_get_index_by_NID(name, nid, -1);
  if (at < 0) return;
  ASN1_STRING *value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
  lua_pushlstring(L, (const char *)ASN1_STRING_get0_data(value), (size_t)ASN1_STRING_length(value));
  lua_setfield(L, -2, key);
}

/* Whom the certificate is for, into the table on top: the name lists and the subject and
** issuer CN. Shared by stream:certificate() and tls.read_certificate (and its fuzzer). */
static void push_certificate_names (lua_State *L, X509 *cert) {
  int t = lua_gettop(L);
  for (int i = 0; NAME_LISTS[i]; i++) {
    lua_newtable(L);
    lua_setfield(L, t, NAME_LISTS[i]);
  }
  push_alt_names(L, t, cert);
  push_name_field(L, X509_get_subject_name(cert), NID_commonName, "subject_cn");
  push_name_field(L, X509_get_issuer_name(cert), NID_commonName, "issuer_cn");
}

/* stream:certificate() -> what the peer presented and whether the chain verified */
static int stream_certificate (lua_State *L) {
  Stream *s = check_stream(L);
  long result = SSL_get_verify_result(s->ssl);
  X509 *cert = SSL_get1_peer_certificate(s->ssl);
  lua_createtable(L, 0, 12);
  lua_pushboolean(L, cert != NULL && result == X509_V_OK);
  lua_setfield(L, -2, "verified");
  lua_pushstring(L, cert ? X509_verify_cert_error_string(result) : "no certificate");
  lua_setfield(L, -2, "verify_error");
  lua_pushstring(L, SSL_get_version(s->ssl));
  lua_setfield(L, -2, "version");
  lua_pushstring(L, SSL_get_cipher_name(s->ssl));
  lua_setfield(L, -2, "cipher");
  if (cert) {
    push_certificate_names(L, cert);
    X509_free(cert);
  }
  return 1;
}

/* tls.read_certificate(der_or_pem) -> the names of stream:certificate() (no chain, no
** connection) | nil, message, "malformed". For certificate files, and for the fuzzer. */
static int tls_read_certificate (lua_State *L) {
  size_t len;
  const char *data = luaL_checklstring(L, 1, &len);
  X509 *cert = NULL;
  luaL_argcheck(L, len <= (size_t)1 << 24, 1, "larger than 16 MiB: not a certificate");
  if (len >= 10 && memcmp(data, "-----BEGIN", 10) == 0) {
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    if (bio) cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
  } else {
    const unsigned char *der = (const unsigned char *)data;
    cert = d2i_X509(NULL, &der, (long)len);
  }
  ERR_clear_error();
  if (cert == NULL) {
    return fail_result(L, "malformed", "tls: not a certificate (DER or PEM X.509)");
  }
  lua_createtable(L, 0, 7);
  push_certificate_names(L, cert);
  X509_free(cert);
  return 1;
}

static int stream_tostring (lua_State *L) {
  Stream *s = (Stream *)luaL_checkudata(L, 1, STREAM_TYPE);
  lua_pushfstring(L, "runbook.tls (%s%s)", s->peer, s->ssl ? "" : ", closed");
  return 1;
}

static const luaL_Reg tls_funcs[] = {
  {"wrap", tls_wrap},
  {"read_certificate", tls_read_certificate},
  {NULL, NULL}
};

static const luaL_Reg stream_meth[] = {
  {"send", stream_send},
  {"receive", stream_receive},
  {"certificate", stream_certificate},
  {"close", stream_close},
  {NULL, NULL}
};

static const luaL_Reg stream_metameth[] = {
  {"__index", NULL},
  {"__gc", stream_gc},
  {"__close", stream_close},
  {"__tostring", stream_tostring},
  {NULL, NULL}
};

int luaopen_runbook_tls (lua_State *L) {
  loop_api_open(L);
  luaL_newmetatable(L, STREAM_TYPE);
  luaL_setfuncs(L, stream_metameth, 0);
  luaL_newlibtable(L, stream_meth);
  luaL_setfuncs(L, stream_meth, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, tls_funcs);
  return 1;
}
