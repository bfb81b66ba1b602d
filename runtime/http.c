/*
** http.c — runbook.http: HTTP(S) requests through libcurl's multi interface, driven by the
** event loop: curl says which sockets to watch and when its timer fires
** (CURLMOPT_SOCKETFUNCTION, CURLMOPT_TIMERFUNCTION), the loop calls
** curl_multi_socket_action when they are ready. Many requests run at once, one task each.
**
**   http.request{method=, url=, headers={...}, body=, auth="basic"|"ntlm"|"negotiate",
**                user=, password=, tls_verify=true, ca_file=, timeout=, follow=false,
**                max_body=16 MiB, max_headers=256 KiB, seal=, certificate=false}
**       -> {status=, headers={lowercased names}, body=, certificate=} | nil, message, code
**       seal: a runbook.gss context: a non-empty body goes sealed (MS-WSMV 2.2.9.1,
**       through runtime/gss.h, after the read permit checked the plaintext) and the answer
**       comes back unsealed, or the request fails when it came unsealed; certificate=true:
**       the server's certificate as PEM, when this request opened the connection.
**   http.connection([{read_permit=, session=}]) -> conn   a private pool of at most one
**       connection, kept alive: conn:request{...} as above, over that one connection
**       (reopened if the server closed it); conn:close(). For protocols whose authentication
**       belongs to the connection (NTLM for WinRM), where the pool of http.request could
**       hand a request to another connection. session=true: a persistent PowerShell
**       session's (modules/winrm.lua's open_process), whose permit is for its command line
**       only; each Send into it carries its own, conn:request{..., input_permit=}.
** Methods other than GET, HEAD and OPTIONS may change something: while planning and inside
** a read-only task they refuse (loop_check_mutation). A connection opened with a read
** permit (runtime/permit.h) — WinRM's, for one command the cmdlet layer proved a read —
** carries that command's WS-Management exchange and nothing else, in any mode: every
** request a POST to its one URL whose envelope holds exactly the permitted command and
** stdin (runtime/permit_wsman.h), checked before it is sent; a session's Send carries
** exactly the script of its input_permit, or, without one, goes only where changes may be
** made (loop_check_mutation). No request carries what would
** make it another: a body on GET, HEAD or OPTIONS (libcurl would POST it), a body with
** follow (a redirect would send it again), a method that is no token, a header name that
** is no token or a value with CR, LF or NUL (another request on the same connection).
** A response may carry max_body bytes of body and max_headers bytes of headers (all the
** responses of the request together: redirects, authentication rounds); past either the
** transfer stops and the request fails with code "limit". libcurl itself refuses more than
** 300 KiB of headers, so max_headers goes no higher.
** code: "timeout", "refused", "name-resolution", "tls", "closed", "limit", "protocol"
** (causes of modules/runbook/failure.lua). Messages carry
** the method and URL without any user:password part, never a password or header value.
*/
#include <ctype.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "buffer.h"
#include "fail.h"
#include "gss.h"
#include "loop_api.h"
#include "options.h"
#include "permit.h"
#include "permit_wsman.h"

#define MULTI_TYPE "runbook.http.multi"
#define SHARED_MULTI_KEY "runbook.http.shared"
#define REQUEST_TYPE "runbook.http.request"
#define MAX_SOCKETS 512
#define MAX_BODY_DEFAULT ((size_t)16 << 20)
#define MAX_HEADERS_DEFAULT ((size_t)256 << 10)
#define MAX_HEADERS_CEILING ((size_t)300 << 10)   /* libcurl's MAX_HTTP_RESP_HEADER_SIZE */

typedef struct Multi Multi;

typedef struct SocketWatch {
  Watch watch;
  Multi *multi;
} SocketWatch;

/* The one multi handle of a Lua state; socket slots are never freed while the loop runs
** (the loop may hold a pointer to a watch it is about to fire). */
struct Multi {
  CURLM *curl;
  Loop *loop;
  Watch timer;
  int closed;
  int private;             /* an http.connection: closed while the loop runs */
  int read_permitted;      /* opened with a read permit (its user value 1; 2: last body) */
  int session;             /* a persistent session's (3: the permit of a script under way) */
  WsmanExchange exchange;  /* read_permitted: how far the permitted exchange went */
  long envelope_status;    /* read_permitted: the HTTP status the last envelope got */
  char url[1024];          /* read_permitted: the URL of its first request, its only one */
  SocketWatch sockets[MAX_SOCKETS];
};

/* One request: owned by its task (userdata on the task's stack). */
typedef struct Request {
  CURL *easy;
  Multi *multi;
  Task *task;
  struct curl_slist *headers;
  Buffer body, head;
  size_t max_body, max_headers, header_bytes;   /* header_bytes: of every response */
  const char *over_limit;  /* "max_body" or "max_headers" once the response passed it */
  int attached, done;
  int envelope;            /* carries an envelope of a permitted exchange */
  CURLcode result;
  char error[CURL_ERROR_SIZE];
  char what[300];          /* "GET http://host:port/path" without userinfo */
} Request;


/* Body bytes; past max_body, 0 stops the transfer (curl: CURLE_WRITE_ERROR). */
static size_t on_body (char *p, size_t size, size_t n, void *userdata) {
  Request *r = (Request *)userdata;
  if (size * n > r->max_body - r->body.len) {
    r->over_limit = "max_body";
    return 0;
  }
  return buffer_append_text(&r->body, p, size * n) == 0 ? size * n : 0;
}

/* Header lines; a new status line (after a redirect, 100 Continue or an auth round) starts
** the set again so that only the final response's headers remain. */
static size_t on_header (char *p, size_t size, size_t n, void *userdata) {
  Request *r = (Request *)userdata;
  if (size * n > r->max_headers - r->header_bytes) {
    r->over_limit = "max_headers";
    return 0;
  }
  r->header_bytes += size * n;
  if (size * n >= 5 && strncmp(p, "HTTP/", 5) == 0) r->head.len = 0;
  return buffer_append_text(&r->head, p, size * n) == 0 ? size * n : 0;
}


/* ---------------------------------------------------------------- the loop and curl */

static void finish_done (Multi *m) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(m->curl, &left)) != NULL) {
    Request *r = NULL;
    if (msg->msg != CURLMSG_DONE) continue;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    r->result = msg->data.result;
    r->done = 1;
    if (r->envelope) curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &m->envelope_status);
    curl_multi_remove_handle(m->curl, r->easy);
    r->attached = 0;
    if (r->task) task_wake(r->task, LOOP_WOKEN);
  }
}

/* Before the loop waits for a server's answer: our ACK at once (TCP_QUICKACK, asked again
** before every wait as the kernel drops it), so that a server with Nagle's algorithm on,
** which holds its body until we acknowledge its headers, does not wait for our delayed ACK
** (40 ms). libcurl sets TCP_NODELAY itself. Not a TCP socket: nothing happens. */
static void ack_at_once (Watch *w) {
  if (w->fd >= 0 && (w->events & POLLIN))
    setsockopt(w->fd, IPPROTO_TCP, TCP_QUICKACK, &(int){1}, sizeof(int));
}

static void on_socket (Loop *loop, Watch *w, int revents) {
  SocketWatch *s = (SocketWatch *)w->data;
  int flags = 0, running;
  (void)loop;
  if (revents & (POLLIN | POLLHUP)) flags |= CURL_CSELECT_IN;
  if (revents & POLLOUT) flags |= CURL_CSELECT_OUT;
  if (revents & POLLERR) flags |= CURL_CSELECT_ERR;
  curl_multi_socket_action(s->multi->curl, w->fd, flags, &running);
  ack_at_once(w);
  finish_done(s->multi);
}

static void on_timer (Loop *loop, Watch *w, int revents) {
  Multi *m = (Multi *)w->data;
  int running;
  (void)loop; (void)revents;
  curl_multi_socket_action(m->curl, CURL_SOCKET_TIMEOUT, 0, &running);
  finish_done(m);
}

static int socket_callback (CURL *easy, curl_socket_t fd, int what, void *userp,
                            void *socketp) {
  Multi *m = (Multi *)userp;
  SocketWatch *slot = (SocketWatch *)socketp;
  (void)easy;
  if (m->closed) return 0;
  if (what == CURL_POLL_REMOVE) {
    if (slot) watch_stop(m->loop, &slot->watch);
    curl_multi_assign(m->curl, fd, NULL);
    return 0;
  }
  for (int i = 0; i < MAX_SOCKETS && !slot; i++)
    if (m->sockets[i].watch.fd < 0) slot = &m->sockets[i];
  if (slot == NULL) return -1;    /* curl fails that transfer */
  short events = (short)((what & CURL_POLL_IN ? POLLIN : 0) |
                         (what & CURL_POLL_OUT ? POLLOUT : 0));
  if (watch_fd(m->loop, &slot->watch, fd, events) != 0) return -1;
  ack_at_once(&slot->watch);
  curl_multi_assign(m->curl, fd, slot);
  return 0;
}

static int timer_callback (CURLM *curl, long timeout_ms, void *userp) {
  Multi *m = (Multi *)userp;
  (void)curl;
  if (m->closed) return 0;
  if (timeout_ms < 0) watch_stop(m->loop, &m->timer);
  else watch_timer(m->loop, &m->timer, loop_now() + timeout_ms / 1000.0);
  return 0;
}

/* The shared multi may outlive the loop (lua_close): it touches no watch when it goes. A
** private one is closed by its owner, or collected before the loop (created after it, it
** is finalized first), so curl's socket callbacks may still stop their watches. */
static int multi_gc (lua_State *L) {
  Multi *m = (Multi *)luaL_checkudata(L, 1, MULTI_TYPE);
  if (m->closed || m->curl == NULL) return 0;
  if (m->private) {          /* curl's socket callbacks stop their watches */
    curl_multi_cleanup(m->curl);
    watch_stop(m->loop, &m->timer);
  } else {                   /* closed first: the callbacks return at once */
    m->closed = 1;
    curl_multi_cleanup(m->curl);
  }
  m->closed = 1;
  m->curl = NULL;
  return 0;
}

/* Pushes a new multi handle driven by the loop. */
static Multi *multi_new (lua_State *L) {
  Multi *m = (Multi *)lua_newuserdatauv(L, sizeof(Multi), 3);
  memset(m, 0, sizeof *m);
  luaL_setmetatable(L, MULTI_TYPE);
  m->loop = loop_get(L);
  watch_init(&m->timer, on_timer, m);
  for (int i = 0; i < MAX_SOCKETS; i++) {
    watch_init(&m->sockets[i].watch, on_socket, &m->sockets[i]);
    m->sockets[i].multi = m;
  }
  m->curl = curl_multi_init();
  if (m->curl == NULL) luaL_error(L, "http: libcurl could not start");
  curl_multi_setopt(m->curl, CURLMOPT_SOCKETFUNCTION, socket_callback);
  curl_multi_setopt(m->curl, CURLMOPT_SOCKETDATA, m);
  curl_multi_setopt(m->curl, CURLMOPT_TIMERFUNCTION, timer_callback);
  curl_multi_setopt(m->curl, CURLMOPT_TIMERDATA, m);
  return m;
}

/* The multi that http.request shares among all its requests. */
static Multi *multi_get (lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, SHARED_MULTI_KEY) == LUA_TUSERDATA) {
    Multi *m = (Multi *)lua_touserdata(L, -1);
    lua_pop(L, 1);
    return m;
  }
  lua_pop(L, 1);
  Multi *m = multi_new(L);
  lua_setfield(L, LUA_REGISTRYINDEX, SHARED_MULTI_KEY);
  return m;
}


/* ---------------------------------------------------------------- requests */

static void request_detach (Request *r) {
  if (r->attached && r->multi && !r->multi->closed) curl_multi_remove_handle(r->multi->curl,
                                                                              r->easy);
  r->attached = 0;
  r->task = NULL;
}

static int request_gc (lua_State *L) {
  Request *r = (Request *)luaL_checkudata(L, 1, REQUEST_TYPE);
  request_detach(r);
  if (r->easy) curl_easy_cleanup(r->easy);   /* wipes its copy of the password */
  r->easy = NULL;
  curl_slist_free_all(r->headers);
  r->headers = NULL;
  buffer_free(&r->body);
  buffer_free(&r->head);
  return 0;
}

/* The headers of the final response as {lowercased-name = value}; repeats joined by ", ". */
static void push_headers (lua_State *L, const Buffer *head) {
  const char *p = head->data ? head->data : "", *end = p + head->len;
  lua_newtable(L);
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *colon = memchr(p, ':', (size_t)((eol ? eol : end) - p));
    const char *next = eol ? eol + 1 : end;
    if (colon && strncmp(p, "HTTP/", 5) != 0) {
      const char *v = colon + 1, *ve = eol ? eol : end;
      while (v < ve && (*v == ' ' || *v == '\t')) v++;
      while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ')) ve--;
      luaL_Buffer name;
      luaL_buffinit(L, &name);
      for (const char *c = p; c < colon; c++) luaL_addchar(&name, (char)tolower(*c));
      luaL_pushresult(&name);
      lua_pushvalue(L, -1);
      if (lua_rawget(L, -3) == LUA_TSTRING) {
        lua_pushliteral(L, ", ");
        lua_pushlstring(L, v, (size_t)(ve - v));
        lua_concat(L, 3);
      } else {
        lua_pop(L, 1);
        lua_pushlstring(L, v, (size_t)(ve - v));
      }
      lua_rawset(L, -3);
    }
    p = next;
  }
}

static const char *error_code (CURLcode c) {
  switch (c) {
    case CURLE_OPERATION_TIMEDOUT: return "timeout";
    case CURLE_COULDNT_CONNECT: return "refused";
    case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_RESOLVE_PROXY: return "name-resolution";
    case CURLE_PEER_FAILED_VERIFICATION: case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE: case CURLE_SSL_CERTPROBLEM: return "tls";
    case CURLE_GOT_NOTHING: case CURLE_RECV_ERROR: case CURLE_SEND_ERROR: return "closed";
    default: return "protocol";
  }
}

static const char *error_hint (CURLcode c) {
  switch (c) {
    case CURLE_OPERATION_TIMEDOUT: return "is the server up, and the timeout long enough?";
    case CURLE_COULDNT_CONNECT: return "is the service running on that port?";
    case CURLE_COULDNT_RESOLVE_HOST: return "check the host name and DNS";
    case CURLE_PEER_FAILED_VERIFICATION: case CURLE_SSL_CACERT_BADFILE:
      return "check the server's certificate and ca_file";
    default: return "see the message above";
  }
}

/* ---------------------------------------------------------------- sealed bodies */

/* The GSS context of the options' seal field (runbook.gss, MS-WSMV 2.2.9.1), or NULL. */
static const GssApi *sealing (lua_State *L) {
  const GssApi *api;
  if (lua_getfield(L, 1, "seal") == LUA_TNIL) { lua_pop(L, 1); return NULL; }
  luaL_checkudata(L, -1, GSS_CONTEXT_TYPE);
  lua_pop(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, GSS_API_KEY);
  api = (const GssApi *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (api == NULL || api->version != GSS_API_VERSION)
    luaL_error(L, "http: runbook.gss is not loaded or from another build: rebuild it");
  return api;
}

/* Pushes the sealed form of body (the plaintext a read permit checked) and returns it. */
static const char *seal_body (lua_State *L, const char *body, size_t len, size_t *sealed_len) {
  const GssApi *api = sealing(L);
  lua_getfield(L, 1, "seal");
  int ctx = lua_gettop(L);
  if (api->seal(L, ctx, body, len) == NULL) lua_error(L);
  lua_remove(L, ctx);
  return lua_tolstring(L, -1, sealed_len);
}

/* Pushes the plaintext of a sealed answer (1), or nil, message, code (0). An answer that
** should be sealed and is not is refused: anyone on the path could have written it. */
static int unseal_body (lua_State *L, Request *r) {
  const GssApi *api = sealing(L);
  const char *type = NULL;
  curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &type);
  if (type == NULL || strncasecmp(type, "multipart/encrypted", 19) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "http %s: the answer came unencrypted (%s) on a sealed exchange",
                    r->what, type ? type : "no Content-Type");
    lua_pushliteral(L, "protocol");
    return 0;
  }
  lua_getfield(L, 1, "seal");
  int ctx = lua_gettop(L);
  int n = api->unseal(L, ctx, r->body.data, r->body.len);
  lua_remove(L, ctx);
  return n == 1;
}

/* response.certificate: the server's certificate as PEM, when asked for and libcurl made
** the handshake for this request (a reused connection has none). */
static void push_certificate (lua_State *L, Request *r) {
  struct curl_certinfo *info = NULL;
  if (curl_easy_getinfo(r->easy, CURLINFO_CERTINFO, &info) != CURLE_OK || info == NULL ||
      info->num_of_certs < 1) return;
  for (struct curl_slist *field = info->certinfo[0]; field; field = field->next)
    if (strncmp(field->data, "Cert:", 5) == 0) {
      lua_pushstring(L, field->data + 5);
      lua_setfield(L, -2, "certificate");
    }
}

/* nil, message, "limit": the response passed max_body or max_headers. */
static int limit_failure (lua_State *L, Request *r) {
  int body = strcmp(r->over_limit, "max_body") == 0;
  char limit[32];
  options_size_text(body ? r->max_body : r->max_headers, limit, sizeof limit);
  return fail_result(L, "limit", "http %s: the response's %s passed the limit of %s (%s): "
                     "runbook stopped reading it; if the server really sends that much, raise "
                     "the request's %s option (bytes)", r->what, body ? "body" : "headers",
                     limit, r->over_limit, r->over_limit);
}

static int request_results (lua_State *L, Request *r) {
  long status = 0;
  if (r->result == CURLE_FILESIZE_EXCEEDED) r->over_limit = "max_body";  /* Content-Length */
  if (r->over_limit) return limit_failure(L, r);
  if (r->result != CURLE_OK) {
    return fail_result(L, error_code(r->result), "http %s failed: %s: %s", r->what,
                       r->error[0] ? r->error : curl_easy_strerror(r->result),
                       error_hint(r->result));
  }
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, status);
  lua_setfield(L, -2, "status");
  push_headers(L, &r->head);
  lua_setfield(L, -2, "headers");
  if (r->body.len > 0 && sealing(L)) {
    if (!unseal_body(L, r)) return 3;
  } else {
    lua_pushlstring(L, r->body.data ? r->body.data : "", r->body.len);
  }
  lua_setfield(L, -2, "body");
  push_certificate(L, r);
  return 1;
}

static int request_continue (lua_State *L, int status, lua_KContext ctx) {
  Request *r = (Request *)luaL_checkudata(L, (int)ctx, REQUEST_TYPE);
  (void)status;
  if ((int)lua_tointeger(L, -1) & LOOP_CANCEL) request_detach(r);
  task_events(L);            /* raises "cancelled" */
  if (!r->done) return task_park(L, -1, ctx, request_continue);
  return request_results(L, r);
}

/* "GET http://host/path", the URL without user:password@ and without the query string. */
static void describe_request (Request *r, const char *method, const char *url) {
  const char *scheme_end = strstr(url, "://"), *host = scheme_end ? scheme_end + 3 : url;
  const char *at = strchr(host, '@'), *slash = strchr(host, '/');
  size_t scheme_len = (size_t)(host - url);
  if (at && (!slash || at < slash)) host = at + 1;
  size_t rest = strcspn(host, "?#");
  snprintf(r->what, sizeof r->what, "%s %.*s%.*s", method, (int)scheme_len, url,
           (int)(rest > 200 ? 200 : rest), host);
}

/* RFC 9110 tchar: a method or header name made of these cannot break the request apart. */
static int is_token (const char *text) {
  if (*text == '\0') return 0;
  for (; *text; text++)
    if (!isalnum((unsigned char)*text) && strchr("!#$%&'*+-.^_`|~", *text) == NULL) return 0;
  return 1;
}

/* Headers whose name is a token and whose value holds no CR, LF or NUL: nothing a header
** carries can start another request on the same connection. */
static void check_header (lua_State *L, const char *name, const char *value, size_t value_len) {
  if (!is_token(name))
    luaL_error(L, "http: header name '%s' is not a token (RFC 9110 §5.1)", name);
  if (strcspn(value, "\r\n") != value_len)
    luaL_error(L, "http: the value of header %s holds a CR, LF or NUL, which would end the "
                  "header there", name);
}

/* Request headers from the table {name = value}. */
static void set_headers (lua_State *L, Request *r) {
  lua_getfield(L, 1, "headers");
  if (lua_istable(L, -1)) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "http: headers must map names to values, both strings");
      size_t value_len;
      const char *name = lua_tostring(L, -2);
      const char *value = lua_tolstring(L, -1, &value_len);
      check_header(L, name, value, value_len);
      lua_pushfstring(L, "%s: %s", name, value);
      struct curl_slist *next = curl_slist_append(r->headers, lua_tostring(L, -1));
      if (next == NULL) luaL_error(L, "http: out of memory");
      r->headers = next;
      lua_pop(L, 2);
    }
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
  }
  lua_pop(L, 1);
}

static void set_auth (lua_State *L, Request *r) {
  static const char *const kinds[] = { "basic", "ntlm", "negotiate", NULL };
  static const long masks[] = { CURLAUTH_BASIC, CURLAUTH_NTLM, CURLAUTH_NEGOTIATE };
  lua_getfield(L, 1, "auth");
  if (!lua_isnil(L, -1)) {
    int kind = luaL_checkoption(L, -1, NULL, kinds);
    curl_easy_setopt(r->easy, CURLOPT_HTTPAUTH, masks[kind]);
    curl_easy_setopt(r->easy, CURLOPT_USERNAME, options_string(L, 1, "user", ""));
    curl_easy_setopt(r->easy, CURLOPT_PASSWORD, options_string(L, 1, "password", ""));
    lua_pop(L, 2);           /* curl copied them */
  }
  lua_pop(L, 1);
}

/* GET, HEAD and OPTIONS only read (RFC 9110 "safe" methods; TRACE is left out). */
static int is_read_method (const char *method) {
  return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
         strcmp(method, "OPTIONS") == 0;
}

/* ---------------------------------------------------------------- what may be sent */

/* Raises when a request could not be what it says, in every mode: a method that is no
** token; a body on GET, HEAD or OPTIONS (libcurl would send a GET with a body as a POST: a
** change passing for a read); a body with follow (a redirect would send it again, to
** another URL). */
static void check_method_and_body (lua_State *L, const char *method) {
  luaL_argcheck(L, is_token(method), 1, "method: expected an HTTP method such as GET or POST");
  lua_getfield(L, 1, "body");
  lua_getfield(L, 1, "follow");
  int has_body = !lua_isnil(L, -2), follow = lua_toboolean(L, -1);
  lua_pop(L, 2);
  if (has_body && is_read_method(method))
    luaL_error(L, "http: a %s request carries no body (libcurl would send it as a POST): "
                  "drop the body, or use the method the server expects", method);
  if (has_body && follow)
    luaL_error(L, "http: a request with a body does not follow redirects (the body would be "
                  "sent again, to another URL): drop follow and handle the redirect");
}

/* The script a session's Send carries (runtime/permit_wsman.h): that of the request's
** input_permit, kept as the connection's user value 3 while it goes in pieces; none where
** changes are allowed. Without a permit the Send refuses while planning and in a read-only
** task; NULL, or why it is refused otherwise. */
static const char *session_input (lua_State *L, Multi *m, Request *r,
                                  WsmanPermitted *permitted) {
  const char *script = NULL, *input = NULL;
  size_t script_len = 0, input_len = 0;
  char what[400];
  permitted->input = NULL;
  if (lua_getfield(L, 1, "input_permit") == LUA_TNIL) {
    lua_pop(L, 1);
    snprintf(what, sizeof what, "write to the input of a PowerShell session (%s) without a "
             "read permit for exactly those bytes", r->what);
    if (m->exchange.input_sent == 0) loop_check_mutation(L, what);
    return NULL;                            /* wsman_session_send: not while one is half sent */
  }
  luaL_argcheck(L, permit_fields(L, -1, &script, &script_len, &input, &input_len) &&
                input == NULL, 1, "input_permit: expected a read permit for a script written "
                "into a session (runbook.permit, kind \"powershell-frame\")");
  lua_getiuservalue(L, 2, 3);
  int same = lua_rawequal(L, -1, -2);
  lua_pop(L, 1);
  if (m->exchange.input_sent > 0 && !same) {
    lua_pop(L, 1);
    return "another script was only partly sent";
  }
  lua_setiuservalue(L, 2, 3);               /* lives as long as its script is under way */
  permitted->input = script;
  permitted->input_len = script_len;
  return NULL;
}

/* Checks the envelope body (at the top of the stack) of a request on the permitted
** connection at 2 and records its step; NULL, or why it is refused. */
static const char *check_envelope (lua_State *L, Multi *m, Request *r, const char *url,
                                   const char *body, size_t body_len) {
  const char *command = NULL, *input = NULL, *reason;
  size_t command_len = 0, input_len = 0;
  WsmanFields fields;
  int step;
  if ((reason = wsman_parse(url, body, body_len, &fields, &step)) != NULL) return reason;
  lua_getiuservalue(L, 2, 1);
  permit_fields(L, -1, &command, &command_len, &input, &input_len);
  lua_pop(L, 1);                            /* the permit lives as the connection's value */
  WsmanPermitted permitted = { command, input, command_len, input_len, m->session };
  if (m->session && step == WSMAN_SEND &&
      (reason = session_input(L, m, r, &permitted)) != NULL)
    return reason;
  return wsman_advance(&m->exchange, step, &fields, &permitted);
}

/* Raises unless the request of the options at 1 on the permitted connection at 2 is the
** next step of the permitted command's WS-Management exchange (runtime/permit_wsman.h): a
** POST to the connection's one URL, no redirect, only the headers winrm sends, and an
** envelope carrying exactly the permitted command and stdin. An empty body passes (the
** first leg of NTLM carries none), and so does the last envelope again when the server
** answered it 401 (sent again after a new authentication: it was not carried out). */
static void check_permitted_request (lua_State *L, Multi *m, Request *r, const char *method,
                                     const char *url, const char **reason) {
  size_t body_len = 0;
  if (strcmp(method, "POST") != 0) { *reason = "it is no POST"; return; }
  if (m->url[0] == '\0' && strlen(url) < sizeof m->url) strcpy(m->url, url);
  if (strcmp(m->url, url) != 0) { *reason = "it goes to another URL"; return; }
  lua_getfield(L, 1, "follow");
  int follow = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (follow) { *reason = "it would follow redirects"; return; }
  if (lua_getfield(L, 1, "headers") == LUA_TTABLE) {
    lua_pushnil(L);
    while (*reason == NULL && lua_next(L, -2)) {
      if (lua_type(L, -2) != LUA_TSTRING ||
          (strcasecmp(lua_tostring(L, -2), "Content-Type") != 0 &&
           strcasecmp(lua_tostring(L, -2), "Authorization") != 0))
        *reason = "it sends a header winrm does not send";
      lua_pop(L, 1);
    }
    if (*reason) lua_pop(L, 1);
  }
  lua_pop(L, 1);
  if (*reason) return;
  lua_getfield(L, 1, "body");
  const char *body = lua_tolstring(L, -1, &body_len);
  lua_getiuservalue(L, 2, 2);               /* the last envelope */
  int again = body_len > 0 && m->envelope_status == 401 && lua_rawequal(L, -1, -2);
  r->envelope = body_len > 0;
  lua_pop(L, 1);
  if (body_len > 0 && !again) {
    *reason = check_envelope(L, m, r, url, body, body_len);
    if (*reason == NULL) lua_setiuservalue(L, 2, 2);   /* pops the body */
    else lua_pop(L, 1);
  } else {
    lua_pop(L, 1);
  }
}

/* Before anything is sent: a change refuses while planning and in a read-only task, a
** read goes; on a connection opened with a read permit only the permitted exchange goes,
** in any mode. */
static void check_may_send (lua_State *L, Multi *m, Request *r, const char *method,
                            const char *url) {
  const char *reason = NULL;
  lua_getfield(L, 1, "input_permit");
  int input_permit = !lua_isnil(L, -1);
  lua_pop(L, 1);
  luaL_argcheck(L, !input_permit || m->session, 1, "input_permit: only the connection of a "
                "session (http.connection{session=true}) takes one");
  if (!m->read_permitted) {
    if (!is_read_method(method)) loop_check_mutation(L, r->what);
    return;
  }
  check_permitted_request(L, m, r, method, url, &reason);
  if (reason)
    luaL_error(L, "refusing to %s on a connection opened with a read permit: %s; it carries "
                  "only the permitted command's WS-Management exchange", r->what, reason);
}

/* Starts the request described by the table at index 1 on multi m (at index 2 when it is
** a connection, which the request then keeps alive) and parks the task until it ends. */
static int start_request (lua_State *L, Multi *m) {
  Task *t = task_check_current(L, "http.request");
  const char *url = options_string(L, 1, "url", NULL);
  const char *method = options_string(L, 1, "method", "GET");
  double timeout;
  size_t body_len = 0;
  luaL_argcheck(L, url != NULL, 1, "url: expected an http:// or https:// URL");
  luaL_argcheck(L, strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0, 1,
                "url: expected an http:// or https:// URL");
  timeout = options_number(L, 1, "timeout", 30);
  luaL_argcheck(L, timeout > 0, 1, "timeout: expected seconds > 0");
  size_t max_body = options_size(L, 1, "max_body", MAX_BODY_DEFAULT);
  size_t max_headers = options_size(L, 1, "max_headers", MAX_HEADERS_DEFAULT);
  luaL_argcheck(L, max_headers <= MAX_HEADERS_CEILING, 1,
                "max_headers: at most 307200 (300 KiB), libcurl's own limit");
  Request *r = (Request *)lua_newuserdatauv(L, sizeof(Request), 1);
  memset(r, 0, sizeof *r);
  luaL_setmetatable(L, REQUEST_TYPE);
  r->max_body = max_body;
  r->max_headers = max_headers;
  if (m->private) {
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, -2, 1);
  }
  check_method_and_body(L, method);
  describe_request(r, method, url);
  check_may_send(L, m, r, method, url);
  if ((r->easy = curl_easy_init()) == NULL) return luaL_error(L, "http: libcurl failed");
  r->multi = m;
  curl_easy_setopt(r->easy, CURLOPT_URL, url);
  curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->error);
  curl_easy_setopt(r->easy, CURLOPT_PRIVATE, (char *)r);
  curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
  curl_easy_setopt(r->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_body);
  if (strcmp(method, "HEAD") == 0) curl_easy_setopt(r->easy, CURLOPT_NOBODY, 1L);
  else if (strcmp(method, "GET") != 0)
    curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, method);
  lua_getfield(L, 1, "body");
  const char *body = lua_tolstring(L, -1, &body_len);
  if (body && body_len > 0 && sealing(L)) {   /* checked as plaintext, sent sealed */
    body = seal_body(L, body, body_len, &body_len);
    lua_replace(L, -2);
  }
  if (body) {
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(r->easy, CURLOPT_COPYPOSTFIELDS, body);
  }
  lua_pop(L, 1);
  lua_getfield(L, 1, "certificate");
  if (lua_toboolean(L, -1)) curl_easy_setopt(r->easy, CURLOPT_CERTINFO, 1L);
  lua_pop(L, 1);
  lua_getfield(L, 1, "follow");
  curl_easy_setopt(r->easy, CURLOPT_FOLLOWLOCATION, (long)lua_toboolean(L, -1));
  lua_getfield(L, 1, "tls_verify");
  long verify = lua_isnil(L, -1) || lua_toboolean(L, -1);
  lua_pop(L, 2);
  curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYPEER, verify);
  curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
  const char *ca_file = options_string(L, 1, "ca_file", NULL);
  if (ca_file) curl_easy_setopt(r->easy, CURLOPT_CAINFO, ca_file);
  lua_pop(L, 1);
  set_headers(L, r);
  set_auth(L, r);
  if (curl_multi_add_handle(m->curl, r->easy) != CURLM_OK)
    return luaL_error(L, "http: cannot start the request");
  r->attached = 1;
  r->task = t;
  return task_park(L, -1, lua_gettop(L), request_continue);
}

static int http_request (lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  return start_request(L, multi_get(L));
}

/* http.connection([{read_permit=, session=}]) -> conn: its own pool holding at most one
** live connection; with a read permit, also while planning and in checks. */
static int http_connection (lua_State *L) {
  const char *command, *input = NULL;
  size_t command_len, input_len;
  int permitted = 0, session = 0;
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "read_permit");
    permitted = permit_fields(L, -1, &command, &command_len, &input, &input_len);
    luaL_argcheck(L, permitted || lua_isnil(L, -1), 1,
                  "read_permit: expected a read permit (runbook.permit)");
    lua_getfield(L, 1, "session");
    session = lua_toboolean(L, -1);
    lua_pop(L, 2);
    luaL_argcheck(L, !session || (permitted && input == NULL), 1, "session: expected with a "
                  "read permit for the session's command line (kind \"powershell-session\")");
  }
  Multi *m = multi_new(L);
  m->private = 1;
  m->read_permitted = permitted;
  m->session = session;
  if (permitted) {
    lua_getfield(L, 1, "read_permit");
    lua_setiuservalue(L, -2, 1);           /* the permit lives as long as the connection */
  }
  curl_multi_setopt(m->curl, CURLMOPT_MAX_TOTAL_CONNECTIONS, 1L);
  curl_multi_setopt(m->curl, CURLMOPT_MAXCONNECTS, 1L);
  return 1;
}

static Multi *check_connection (lua_State *L) {
  Multi *m = (Multi *)luaL_checkudata(L, 1, MULTI_TYPE);
  luaL_argcheck(L, m->private, 1, "expected an http.connection");
  return m;
}

/* conn:request{...}: as http.request, over the connection. */
static int connection_request (lua_State *L) {
  Multi *m = check_connection(L);
  luaL_argcheck(L, !m->closed, 1, "the http connection is closed");
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  lua_insert(L, 1);          /* options at 1, the connection at 2 */
  return start_request(L, m);
}

/* conn:close(): closes the connection; call it when no request runs on it. */
static int connection_close (lua_State *L) {
  check_connection(L);
  return multi_gc(L);
}

static const luaL_Reg connection_methods[] = {
  {"request", connection_request},
  {"close", connection_close},
  {NULL, NULL}
};

static const luaL_Reg http_funcs[] = {
  {"request", http_request},
  {"connection", http_connection},
  {NULL, NULL}
};

int luaopen_runbook_http (lua_State *L) {
  static int initialized;
  loop_api_open(L);
  if (!initialized) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      return luaL_error(L, "http: libcurl failed to initialize");
    initialized = 1;
  }
  if (luaL_newmetatable(L, MULTI_TYPE)) {
    lua_pushcfunction(L, multi_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, multi_gc);
    lua_setfield(L, -2, "__close");
    luaL_newlib(L, connection_methods);
    lua_setfield(L, -2, "__index");
  }
  if (luaL_newmetatable(L, REQUEST_TYPE)) {
    lua_pushcfunction(L, request_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, request_gc);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 2);
  luaL_newlib(L, http_funcs);
  return 1;
}
