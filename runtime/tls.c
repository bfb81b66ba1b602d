#include "loop_api.h"
/*
** tls.c — runbook.tls (loaded on first use: OpenSSL): TLS over a connected runbook.socket,
** for STARTTLS probes.
**   tls.wrap(sock, {servername=, ca_file=, verify=true, timeout=}) -> stream | nil, msg, code
**     handshakes with SNI; with verify=true the chain and the name (servername) must verify
**     or the handshake fails (code "verify"); with verify=false it completes and
**     stream:certificate() says what was wrong, so a probe can report each stage itself.
**   stream:send(data [, {timeout=}]), stream:receive(max_bytes [, {timeout=}]),
**   stream:certificate() -> {verified=, verify_error=, dns_names={...}, subject_cn=,
**     issuer=, version=, cipher=}, stream:close().
** The stream owns the socket from then on; closing the stream closes it.
*/
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define STREAM_TYPE "runbook.tls"
#define RECEIVE_MAX (1 << 20)
#define DEFAULT_TIMEOUT 5.0

typedef struct Stream {
  SSL_CTX *ctx;
  SSL *ssl;
  int fd;
  double deadline;
  char peer[80];            /* servername or address, for messages */
} Stream;

static void stream_free (Stream *s) {
  if (s->ssl) SSL_free(s->ssl);
  if (s->ctx) SSL_CTX_free(s->ctx);
  s->ssl = NULL;
  s->ctx = NULL;
  s->fd = -1;
}

/* __gc, __close and :close(): frees TLS and closes the socket; safe to call twice. */
static int stream_close (lua_State *L) {
  Stream *s = (Stream *)luaL_checkudata(L, 1, STREAM_TYPE);
  if (s->ssl) SSL_shutdown(s->ssl);          /* one try at close_notify, never waits */
  stream_free(s);
  if (lua_getiuservalue(L, 1, 1) == LUA_TUSERDATA) {
    lua_getfield(L, -1, "close");
    lua_pushvalue(L, -2);
    lua_call(L, 1, 0);
  }
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
  luaL_pushfail(L);
  lua_pushfstring(L, "tls: %s %s failed%s%s", what, s->peer, reason[0] ? ": " : "", reason);
  lua_pushstring(L, code);
  return 3;
}

/* After SSL_* returned r <= 0: park for the wanted direction, or fail. */
static int wait_or_fail (lua_State *L, Stream *s, int r, const char *what, lua_KContext ctx,
                         lua_KFunction k) {
  int err = SSL_get_error(s->ssl, r);
  if (err == SSL_ERROR_WANT_READ) return task_wait_fd(L, s->fd, POLLIN, remaining(s), ctx, k);
  if (err == SSL_ERROR_WANT_WRITE) return task_wait_fd(L, s->fd, POLLOUT, remaining(s), ctx, k);
  if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
    ERR_clear_error();
    luaL_pushfail(L);
    lua_pushfstring(L, "tls: %s closed the connection (during %s)", s->peer, what);
    lua_pushliteral(L, "closed");
    return 3;
  }
  return fail(L, s, what, "tls");
}

static int timed_out (lua_State *L, int status) {
  return status == LUA_YIELD && (task_events(L) & LOOP_TIMEOUT);
}

static int fail_timeout (lua_State *L, Stream *s, const char *what) {
  luaL_pushfail(L);
  lua_pushfstring(L, "tls: %s %s timed out", what, s->peer);
  lua_pushliteral(L, "timeout");
  return 3;
}

/* Stack: 1 socket, 2 options, 3 stream. */
static int handshake_step (lua_State *L, int status, lua_KContext ctx) {
  Stream *s = (Stream *)lua_touserdata(L, 3);
  int r;
  (void)ctx;
  if (timed_out(L, status)) return fail_timeout(L, s, "handshake with");
  ERR_clear_error();
  errno = 0;
  r = SSL_do_handshake(s->ssl);
  if (r == 1) {
    lua_settop(L, 3);
    return 1;
  }
  return wait_or_fail(L, s, r, "handshake with", 0, handshake_step);
}

static const char *opt_string (lua_State *L, const char *key) {
  const char *value;
  lua_getfield(L, 2, key);
  value = lua_tostring(L, -1);
  if (!lua_isnil(L, -1) && value == NULL) luaL_error(L, "tls.wrap: %s must be a string", key);
  lua_pop(L, 1);                 /* the string stays alive in the options table */
  return value;
}

/* Sets up the context: trust (ca_file or the system's), verification, SNI, the fd. */
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
  SSL_set_fd(s->ssl, s->fd);
  SSL_set_connect_state(s->ssl);
}

/* tls.wrap(sock, {servername=, ca_file=, verify=, timeout=}) -> stream | nil, msg, code */
static int tls_wrap (lua_State *L) {
  Stream *s;
  int verify = 1;
  luaL_checkudata(L, 1, "runbook.socket");
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
  lua_getfield(L, 1, "peer");
  lua_pushvalue(L, 1);
  lua_call(L, 1, 2);
  snprintf(s->peer, sizeof s->peer, "%s:%d", lua_tostring(L, -2), (int)lua_tointeger(L, -1));
  lua_pop(L, 2);
  lua_getfield(L, 1, "fd");
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  s->fd = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, 3, 1);               /* the stream owns the socket */
  configure(L, s, verify);
  s->deadline = loop_now() + opt_timeout(L, 2);
  return handshake_step(L, LUA_OK, 0);
}

/* :send after each wait; the data stays at index 2. */
static int send_step (lua_State *L, int status, lua_KContext ctx) {
  Stream *s = check_stream(L);
  size_t len;
  const char *data = lua_tolstring(L, 2, &len);
  int r;
  if (timed_out(L, status)) return fail_timeout(L, s, "sending to");
  if (len == 0) { lua_pushboolean(L, 1); return 1; }
  ERR_clear_error();
  errno = 0;
  r = SSL_write(s->ssl, data, len > INT32_MAX ? INT32_MAX : (int)len);
  if (r > 0) {
    if ((size_t)r < len) {                        /* cannot happen without partial writes */
      lua_pushstring(L, data + r);
      lua_replace(L, 2);
      return send_step(L, LUA_OK, ctx);
    }
    lua_pushboolean(L, 1);
    return 1;
  }
  return wait_or_fail(L, s, r, "sending to", ctx, send_step);
}

/* stream:send(data [, {timeout=}]) -> true | nil, msg, code */
static int stream_send (lua_State *L) {
  Stream *s = check_stream(L);
  luaL_checkstring(L, 2);
  s->deadline = loop_now() + opt_timeout(L, 3);
  lua_settop(L, 2);
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
  return receive_step(L, LUA_OK, (lua_KContext)max);
}

/* The subjectAltName dNSName entries, as they are (a NUL inside stays: the caller checks). */
static void push_dns_names (lua_State *L, X509 *cert) {
  GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
  int n = 0;
  lua_newtable(L);
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
    const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_DNS) continue;
    lua_pushlstring(L, (const char *)ASN1_STRING_get0_data(name->d.dNSName),
                    (size_t)ASN1_STRING_length(name->d.dNSName));
    lua_rawseti(L, -2, ++n);
  }
  GENERAL_NAMES_free(names);
  lua_setfield(L, -2, "dns_names");
}

static void push_name_field (lua_State *L, X509_NAME *name, int nid, const char *key) {
  int at = X509_NAME_get_index_by_NID(name, nid, -1);
  if (at < 0) return;
  ASN1_STRING *value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
  lua_pushlstring(L, (const char *)ASN1_STRING_get0_data(value), (size_t)ASN1_STRING_length(value));
  lua_setfield(L, -2, key);
}

/* stream:certificate() -> what the peer presented and whether the chain verified */
static int stream_certificate (lua_State *L) {
  Stream *s = check_stream(L);
  long result = SSL_get_verify_result(s->ssl);
  X509 *cert = SSL_get1_peer_certificate(s->ssl);
  lua_createtable(L, 0, 7);
  lua_pushboolean(L, cert != NULL && result == X509_V_OK);
  lua_setfield(L, -2, "verified");
  lua_pushstring(L, cert ? X509_verify_cert_error_string(result) : "no certificate");
  lua_setfield(L, -2, "verify_error");
  lua_pushstring(L, SSL_get_version(s->ssl));
  lua_setfield(L, -2, "version");
  lua_pushstring(L, SSL_get_cipher_name(s->ssl));
  lua_setfield(L, -2, "cipher");
  if (cert) {
    push_dns_names(L, cert);
    push_name_field(L, X509_get_subject_name(cert), NID_commonName, "subject_cn");
    push_name_field(L, X509_get_issuer_name(cert), NID_commonName, "issuer_cn");
    X509_free(cert);
  }
  return 1;
}

static int stream_tostring (lua_State *L) {
  Stream *s = (Stream *)luaL_checkudata(L, 1, STREAM_TYPE);
  lua_pushfstring(L, "runbook.tls (%s%s)", s->peer, s->ssl ? "" : ", closed");
  return 1;
}

static const luaL_Reg tls_funcs[] = {
  {"wrap", tls_wrap},
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
  {"__gc", stream_close},
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
