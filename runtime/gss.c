/*
** gss.c — runbook.gss (loaded on first use: MIT Kerberos' GSS-API, and gss-ntlmssp as its
** NTLM mechanism): the client side of a security context, for WinRM's authentication and
** message encryption (MS-WSMV 2.2.9.1) and for GSS-TSIG (RFC 3645). No cipher is written
** here: every key, signature and seal is the library's.
**
**   gss.initiator{mech="ntlm"|"kerberos"|"negotiate", target="HTTP@fe1.contoso.com",
**                 user=, password=, ccache=, channel_binding=, kerberos_only=} -> ctx
**     user: "HOST\\user" (NTLM) or "user@REALM" (Kerberos); credentials from password (the
**     value: the caller resolved its reference), else from the ccache ("FILE:/path"), else
**     the defaults (KRB5CCNAME); channel_binding: the application data of the TLS channel
**     bindings (gss.tls_server_end_point); kerberos_only: SPNEGO offers Kerberos alone
**     (GSS-TSIG: a failing Kerberos must say why, not fall back to NTLM).
**   ctx:step([token]) -> token ("" when none), established | nil, message, code
**     runs on a thread of its own (acquiring a ticket talks to the KDC) while the task
**     waits; code "auth" (refused credentials, unknown principal, expired ticket, clock
**     skew: the message says which and what to do), "unreachable" (no KDC answered).
**   ctx:bind(channel_binding): the same, after the first step (before NTLM's last).
**   ctx:wrap(data) / ctx:unwrap(token), ctx:get_mic(data) / ctx:verify_mic(data, mic),
**   ctx:seal_wsman(plain) / ctx:unseal_wsman(body): MS-WSMV's multipart/encrypted body.
**   ctx:mechanism() -> "kerberos" | "ntlm" once established; ctx:close().
**   gss.tls_server_end_point(pem) -> "tls-server-end-point:" .. hash (RFC 5929).
**   gss.use_krb5_config(path): the krb5.conf Kerberos reads from now on (KRB5_CONFIG).
** runbook.dns.update signs GSS-TSIG with a context's MIC from C (GssApi, runtime/gss.h).
** The password is copied only into the memory the library reads, and wiped once the
** credential is acquired (or when the context closes); session keys stay inside the
** library's context. Messages never carry a token, a key or the password.
*/
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5/krb5.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fail.h"
#include "gss.h"
#include "loop_api.h"
#include "options.h"

#define WSMAN_BOUNDARY "--Encrypted Boundary"
#define WSMAN_PROTOCOL "application/HTTP-SPNEGO-session-encrypted"
#define NTLM_SIGNATURE 16

static gss_OID_desc oid_krb5 = {9, (void *)"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"};
static gss_OID_desc oid_spnego = {6, (void *)"\x2b\x06\x01\x05\x05\x02"};
static gss_OID_desc oid_ntlm = {10, (void *)"\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a"};

typedef struct Gss {
  gss_ctx_id_t ctx;
  gss_cred_id_t cred, kerberos_cred;   /* kerberos_cred: kerberos_only's own (diagnosis) */
  gss_name_t target;
  gss_OID mech;              /* asked for */
  int kerberos;              /* the mechanism that runs is Kerberos (after the first step) */
  char *user, *password, *ccache;
  unsigned char *binding;    /* application data of the channel bindings, or NULL */
  size_t binding_len;
  int established, closed, busy, started;
  int kerberos_only;         /* SPNEGO offering Kerberos alone (GSS-TSIG: no NTLM fallback) */
  /* the step running on the worker thread */
  pthread_t thread;
  int wake[2];
  gss_buffer_desc input, output;
  OM_uint32 major, minor;
  const char *stage;         /* what failed: "acquiring the credentials", … */
} Gss;


/* ---------------------------------------------------------------- secrets and lifetime */

static int running_steps;    /* worker threads alive: KRB5_CONFIG must not change under them */

/* Waits for the step running on the worker thread, if any. */
static void join_step (Gss *g) {
  if (!g->busy) return;
  pthread_join(g->thread, NULL);
  g->busy = 0;
  running_steps--;
}

static void free_secret (char *secret) {
  if (secret == NULL) return;
  explicit_bzero(secret, strlen(secret));
  free(secret);
}

static Gss *check_gss (lua_State *L) {
  return (Gss *)luaL_checkudata(L, 1, GSS_CONTEXT_TYPE);
}

/* Frees everything; waits for a step still running (a cancelled task's). Safe twice. */
static int gss_close (lua_State *L) {
  Gss *g = check_gss(L);
  OM_uint32 minor;
  join_step(g);
  if (g->ctx != GSS_C_NO_CONTEXT) gss_delete_sec_context(&minor, &g->ctx, GSS_C_NO_BUFFER);
  if (g->cred != GSS_C_NO_CREDENTIAL) gss_release_cred(&minor, &g->cred);
  if (g->kerberos_cred != GSS_C_NO_CREDENTIAL) gss_release_cred(&minor, &g->kerberos_cred);
  if (g->target != GSS_C_NO_NAME) gss_release_name(&minor, &g->target);
  gss_release_buffer(&minor, &g->output);
  free(g->input.value);
  g->input.value = NULL;
  free(g->user); free(g->ccache); free_secret(g->password); free(g->binding);
  g->user = g->ccache = g->password = NULL;
  g->binding = NULL;
  for (int i = 0; i < 2; i++) if (g->wake[i] >= 0) close(g->wake[i]);
  g->wake[0] = g->wake[1] = -1;
  g->closed = 1;
  return 0;
}

static Gss *check_open (lua_State *L) {
  Gss *g = check_gss(L);
  if (g->closed) luaL_error(L, "gss: the security context is closed");
  if (g->busy) luaL_error(L, "gss: a step of this security context is still running");
  return g;
}

static char *copy_option (lua_State *L, const char *key) {
  const char *value = options_string(L, 1, key, NULL);
  char *copy = value ? strdup(value) : NULL;
  lua_pop(L, 1);
  return copy;
}


/* ---------------------------------------------------------------- messages */

/* Appends text to out (size bytes, always terminated), cutting what does not fit. */
static void append (char *out, size_t size, const char *text, size_t len) {
  size_t used = strlen(out);
  if (used + 1 >= size) return;
  if (len > size - used - 1) len = size - used - 1;
  memcpy(out + used, text, len);
  out[used + len] = '\0';
}

/* The library's text for a status into out: the major's, and the mechanism's minor one. */
static void describe_status (OM_uint32 major, OM_uint32 minor, gss_OID mech, char *out,
                             size_t size) {
  OM_uint32 context = 0, ignored;
  gss_buffer_desc text = GSS_C_EMPTY_BUFFER;
  out[0] = '\0';
  do {
    if (GSS_ERROR(gss_display_status(&ignored, major, GSS_C_GSS_CODE, GSS_C_NO_OID, &context,
                                     &text))) break;
    append(out, size, text.value, text.length);
    gss_release_buffer(&ignored, &text);
  } while (context != 0);
  if (minor != 0) {
    context = 0;
    append(out, size, ": ", 2);
    if (!GSS_ERROR(gss_display_status(&ignored, minor, GSS_C_MECH_CODE, mech, &context,
                                      &text))) {
      append(out, size, text.value, text.length);
      gss_release_buffer(&ignored, &text);
    }
  }
}

/* What to do about a failure the operator can fix, by the Kerberos error under it. */
static const char *hint_of (OM_uint32 major, OM_uint32 minor, const char **code) {
  krb5_error_code k = (krb5_error_code)minor;
  *code = "auth";
  if (k == KRB5KRB_AP_ERR_SKEW)
    return "the clocks of this machine, the KDC and the server differ by more than the "
           "allowed skew (5 minutes by default): check the time of this machine and of the "
           "server against the domain's time source (w32tm /query /status on Windows)";
  if (k == KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN)
    return "the KDC knows no service principal of that name: connect to the name the server "
           "is registered under (its FQDN, not an address or an alias), or register it "
           "(setspn -S HTTP/<fqdn> <computer> for WinRM; a DNS server's is DNS/<fqdn>)";
  if (k == KRB5KRB_AP_ERR_TKT_EXPIRED || major == GSS_S_CREDENTIALS_EXPIRED)
    return "the Kerberos ticket has expired: get a new one (kinit) or give a password "
           "reference instead of the ccache";
  if (k == KRB5KDC_ERR_PREAUTH_FAILED || k == KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN ||
      k == KRB5KRB_AP_ERR_BAD_INTEGRITY)
    return "the KDC refused the user or the password: check both (user@REALM)";
  if (k == KRB5KDC_ERR_KEY_EXP)
    return "the user's password has expired: change it in the domain";
  if (k == KRB5_FCC_NOFILE || k == KRB5_CC_NOTFOUND || major == GSS_S_NO_CRED)
    return "there is no ticket for the user: kinit, name the ccache, or give a password "
           "reference";
  if (k == KRB5_KDC_UNREACH) {
    *code = "unreachable";
    return "no KDC of the realm answered: check the kdc lines of krb5.conf and the network";
  }
  if (major == GSS_S_BAD_MECH)
    return "the GSS-API has no such mechanism here: NTLM needs the gss-ntlmssp package";
  if (k == KRB5_REALM_UNKNOWN)
    return "krb5.conf names no KDC for the user's realm: add the realm to [realms]";
  return NULL;
}

/* "<stage>: <library text> (<hint>)" into out; returns the code ("auth", …). */
static const char *describe_failure (Gss *g, const char *stage, OM_uint32 major,
                                     OM_uint32 minor, char *out, size_t size) {
  const char *code, *hint = hint_of(major, minor, &code);
  char text[400];
  describe_status(major, minor, g->kerberos || g->mech == &oid_krb5 ? &oid_krb5 : g->mech,
                  text, sizeof text);
  snprintf(out, size, "%s: %s%s%s%s", stage, text, hint ? " (" : "", hint ? hint : "",
           hint ? ")" : "");
  return code;
}

/* nil, "<stage>: <library text> (<hint>)", code */
static int push_failure (lua_State *L, Gss *g, const char *stage, OM_uint32 major,
                         OM_uint32 minor) {
  char message[800];
  const char *code = describe_failure(g, stage, major, minor, message, sizeof message);
  return fail_result(L, code, "%s", message);
}


/* ---------------------------------------------------------------- the context */

static gss_OID mech_named (lua_State *L, const char *name) {
  if (strcmp(name, "kerberos") == 0) return &oid_krb5;
  if (strcmp(name, "ntlm") == 0) return &oid_ntlm;
  if (strcmp(name, "negotiate") == 0) return &oid_spnego;
  luaL_argerror(L, 1, "mech: expected \"ntlm\", \"kerberos\" or \"negotiate\"");
  return NULL;
}

/* gss.initiator{...} -> ctx: nothing is sent or acquired before the first step. */
static int gss_initiator (lua_State *L) {
  OM_uint32 major, minor;
  size_t len;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  Gss *g = (Gss *)lua_newuserdatauv(L, sizeof(Gss), 0);
  memset(g, 0, sizeof *g);
  g->wake[0] = g->wake[1] = -1;
  g->closed = 1;
  luaL_setmetatable(L, GSS_CONTEXT_TYPE);
  g->mech = mech_named(L, options_string(L, 1, "mech", "negotiate"));
  lua_pop(L, 1);
  const char *target = options_string(L, 1, "target", NULL);
  luaL_argcheck(L, target != NULL, 1, "target: expected a service name such as HTTP@host");
  gss_buffer_desc name = {strlen(target), (void *)target};
  major = gss_import_name(&minor, &name, GSS_C_NT_HOSTBASED_SERVICE, &g->target);
  lua_pop(L, 1);
  if (GSS_ERROR(major)) return luaL_error(L, "gss: the target name is not a service name");
  g->user = copy_option(L, "user");
  g->password = copy_option(L, "password");
  g->ccache = copy_option(L, "ccache");
  lua_getfield(L, 1, "kerberos_only");
  g->kerberos_only = lua_toboolean(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, 1, "channel_binding");
  const char *binding = lua_tolstring(L, -1, &len);
  if (binding && len > 0 && (g->binding = malloc(len)) != NULL) {
    memcpy(g->binding, binding, len);
    g->binding_len = len;
  }
  lua_pop(L, 1);
  if (pipe2(g->wake, O_CLOEXEC | O_NONBLOCK) != 0)
    return luaL_error(L, "gss: cannot create a pipe: %s", strerror(errno));
  g->closed = 0;
  return 1;
}

/* A credential for mech into *cred: from the password, from the ccache, or the defaults
** (GSS_C_NO_CREDENTIAL, unless acquired explicitly for Kerberos). */
static OM_uint32 acquire_for (Gss *g, gss_OID mech, gss_cred_id_t *cred, OM_uint32 *minor) {
  OM_uint32 major = GSS_S_COMPLETE, ignored;
  gss_name_t user = GSS_C_NO_NAME;
  gss_OID_set_desc mechs = {1, mech};
  if (g->user) {
    gss_buffer_desc name = {strlen(g->user), g->user};
    major = gss_import_name(minor, &name, GSS_C_NT_USER_NAME, &user);
    if (GSS_ERROR(major)) return major;
  }
  if (g->password) {
    gss_buffer_desc secret = {strlen(g->password), g->password};
    major = gss_acquire_cred_with_password(minor, user, &secret, 0, &mechs, GSS_C_INITIATE,
                                           cred, NULL, NULL);
  } else if (g->ccache) {
    gss_key_value_element_desc element = {"ccache", g->ccache};
    gss_key_value_set_desc store = {1, &element};
    major = gss_acquire_cred_from(minor, user, 0, &mechs, GSS_C_INITIATE, &store, cred,
                                  NULL, NULL);
  } else if (g->kerberos_only) {
    major = gss_acquire_cred(minor, user, 0, &mechs, GSS_C_INITIATE, cred, NULL, NULL);
  }
  if (user != GSS_C_NO_NAME) gss_release_name(&ignored, &user);
  return major;
}

/* The credential for the first step; wipes the password once used. Kerberos alone under
** SPNEGO (kerberos_only) first gets a Kerberos credential of its own: its failures (a
** refused password, an unknown user) keep their reasons, which SPNEGO would hide, and it
** serves diagnose_kerberos; then SPNEGO's, which may negotiate nothing else. */
static OM_uint32 acquire (Gss *g, OM_uint32 *minor) {
  OM_uint32 major = GSS_S_COMPLETE;
  if (g->kerberos_only) major = acquire_for(g, &oid_krb5, &g->kerberos_cred, minor);
  if (!GSS_ERROR(major)) major = acquire_for(g, g->mech, &g->cred, minor);
  if (!GSS_ERROR(major) && g->kerberos_only) {
    gss_OID_set_desc kerberos = {1, &oid_krb5};
    major = gss_set_neg_mechs(minor, g->cred, &kerberos);
  }
  free_secret(g->password);
  g->password = NULL;
  return major;
}

static int same_oid (gss_OID a, const gss_OID_desc *b) {
  return a && a->length == b->length && memcmp(a->elements, b->elements, b->length) == 0;
}

/* SPNEGO offering Kerberos alone reports a failing Kerberos as "cannot find mechanisms to
** negotiate": the first step once more with Kerberos itself gives the real reason (a
** refused password, an unknown principal, a clock skew) and its hint. Failures only. */
static void diagnose_kerberos (Gss *g, OM_uint32 flags) {
  OM_uint32 major, minor, ignored;
  gss_ctx_id_t probe = GSS_C_NO_CONTEXT;
  gss_buffer_desc out = GSS_C_EMPTY_BUFFER;
  major = gss_init_sec_context(&minor, g->kerberos_cred, &probe, g->target, &oid_krb5,
                               flags, 0, GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER, NULL,
                               &out, NULL, NULL);
  if (GSS_ERROR(major)) {
    g->major = major;
    g->minor = minor;
    g->kerberos = 1;
  }
  gss_release_buffer(&ignored, &out);
  if (probe != GSS_C_NO_CONTEXT) gss_delete_sec_context(&ignored, &probe, GSS_C_NO_BUFFER);
}

/* One gss_init_sec_context on the worker thread; writes a byte to wake the task. */
static void *step_thread (void *arg) {
  Gss *g = (Gss *)arg;
  gss_OID actual = GSS_C_NO_OID;
  struct gss_channel_bindings_struct bindings;
  OM_uint32 flags = GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG |
                    GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG;
  g->stage = "acquiring the credentials";
  g->major = g->started ? GSS_S_COMPLETE : acquire(g, &g->minor);
  g->started = 1;
  if (!GSS_ERROR(g->major)) {
    memset(&bindings, 0, sizeof bindings);
    bindings.application_data.length = g->binding_len;
    bindings.application_data.value = g->binding;
    g->stage = "establishing the security context";
    g->major = gss_init_sec_context(&g->minor, g->cred, &g->ctx, g->target, g->mech, flags,
                                    0, g->binding ? &bindings : GSS_C_NO_CHANNEL_BINDINGS,
                                    &g->input, &actual, &g->output, NULL, NULL);
    if (actual != GSS_C_NO_OID) g->kerberos = same_oid(actual, &oid_krb5);
    if (GSS_ERROR(g->major) && g->kerberos_only && g->ctx == GSS_C_NO_CONTEXT)
      diagnose_kerberos(g, flags);
  }
  (void)!write(g->wake[1], "", 1);
  return NULL;
}

static int step_results (lua_State *L, Gss *g) {
  OM_uint32 minor;
  char drained;
  join_step(g);
  (void)!read(g->wake[0], &drained, 1);
  free(g->input.value);
  g->input.value = NULL;
  g->input.length = 0;
  if (GSS_ERROR(g->major)) return push_failure(L, g, g->stage, g->major, g->minor);
  lua_pushlstring(L, g->output.value ? g->output.value : "", g->output.length);
  gss_release_buffer(&minor, &g->output);
  g->established = g->major == GSS_S_COMPLETE;
  lua_pushboolean(L, g->established);
  return 2;
}

static int step_continue (lua_State *L, int status, lua_KContext ctx) {
  Gss *g = (Gss *)lua_touserdata(L, (int)ctx);
  (void)status;
  if ((int)lua_tointeger(L, -1) & LOOP_CANCEL) {
    join_step(g);                        /* the library call ends on its own */
  }
  task_events(L);                        /* raises "cancelled" */
  if (g->busy) {
    struct pollfd p = {g->wake[0], POLLIN, 0};
    if (poll(&p, 1, 0) != 1)
      return task_wait_fd(L, g->wake[0], POLLIN, -1, ctx, step_continue);
  }
  return step_results(L, g);
}

/* ctx:step([token]): the next token of the handshake, computed on a worker thread. */
static int gss_step (lua_State *L) {
  Gss *g = check_open(L);
  size_t len = 0;
  const char *token = luaL_optlstring(L, 2, NULL, &len);
  task_check_current(L, "gss step");
  if (g->established) return luaL_error(L, "gss: the security context is established");
  if (token && len > 0) {
    if ((g->input.value = malloc(len)) == NULL) return luaL_error(L, "gss: out of memory");
    memcpy(g->input.value, token, len);
    g->input.length = len;
  }
  lua_settop(L, 1);
  if (pthread_create(&g->thread, NULL, step_thread, g) != 0)
    return luaL_error(L, "gss: cannot start a thread: %s", strerror(errno));
  g->busy = 1;
  running_steps++;
  return task_wait_fd(L, g->wake[0], POLLIN, -1, 1, step_continue);
}

static Gss *check_established (lua_State *L) {
  Gss *g = check_open(L);
  if (!g->established) luaL_error(L, "gss: the security context is not established yet");
  return g;
}

/* ctx:bind(application_data): the TLS channel binding, known once the connection is up
** (NTLM puts it in its last message: it may come after the first step). */
static int gss_bind (lua_State *L) {
  Gss *g = check_open(L);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  if (g->established) return luaL_error(L, "gss: the security context is established");
  free(g->binding);
  g->binding = NULL;
  g->binding_len = 0;
  if (len > 0 && (g->binding = malloc(len)) == NULL) return luaL_error(L, "gss: out of memory");
  if (len > 0) memcpy(g->binding, data, len);
  g->binding_len = len;
  return 0;
}

static int gss_mechanism (lua_State *L) {
  Gss *g = check_established(L);
  lua_pushstring(L, g->kerberos ? "kerberos" : "ntlm");
  return 1;
}


/* ---------------------------------------------------------------- per-message calls */

/* Pushes the buffer as a string and releases it. */
static void push_buffer (lua_State *L, gss_buffer_t buffer) {
  OM_uint32 minor;
  lua_pushlstring(L, buffer->value ? buffer->value : "", buffer->length);
  gss_release_buffer(&minor, buffer);
}

static int gss_wrap_lua (lua_State *L) {
  Gss *g = check_established(L);
  OM_uint32 major, minor;
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  gss_buffer_desc in = {len, (void *)data}, out = GSS_C_EMPTY_BUFFER;
  int sealed = 0;
  major = gss_wrap(&minor, g->ctx, 1, GSS_C_QOP_DEFAULT, &in, &sealed, &out);
  if (GSS_ERROR(major)) return push_failure(L, g, "sealing a message", major, minor);
  push_buffer(L, &out);
  return 1;
}

static int gss_unwrap_lua (lua_State *L) {
  Gss *g = check_established(L);
  OM_uint32 major, minor;
  size_t len;
  const char *token = luaL_checklstring(L, 2, &len);
  gss_buffer_desc in = {len, (void *)token}, out = GSS_C_EMPTY_BUFFER;
  major = gss_unwrap(&minor, g->ctx, &in, &out, NULL, NULL);
  if (GSS_ERROR(major)) return push_failure(L, g, "unsealing a message", major, minor);
  push_buffer(L, &out);
  return 1;
}

static int gss_get_mic_lua (lua_State *L) {
  Gss *g = check_established(L);
  OM_uint32 major, minor;
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  gss_buffer_desc in = {len, (void *)data}, mic = GSS_C_EMPTY_BUFFER;
  major = gss_get_mic(&minor, g->ctx, GSS_C_QOP_DEFAULT, &in, &mic);
  if (GSS_ERROR(major)) return push_failure(L, g, "signing a message", major, minor);
  push_buffer(L, &mic);
  return 1;
}

static int gss_verify_mic_lua (lua_State *L) {
  Gss *g = check_established(L);
  OM_uint32 major, minor;
  size_t len, mic_len;
  const char *data = luaL_checklstring(L, 2, &len);
  const char *mic = luaL_checklstring(L, 3, &mic_len);
  gss_buffer_desc in = {len, (void *)data}, token = {mic_len, (void *)mic};
  major = gss_verify_mic(&minor, g->ctx, &in, &token, NULL);
  if (GSS_ERROR(major)) return push_failure(L, g, "verifying a signature", major, minor);
  lua_pushboolean(L, 1);
  return 1;
}


/* ---------------------------------------------------------------- MS-WSMV 2.2.9.1 */

/* The signature and the sealed data of plain: Kerberos through gss_wrap_iov (the header,
** which holds the rotated trailer, is the signature, as SSPI's EncryptMessage makes it);
** NTLM through gss_wrap (gss-ntlmssp has no IOV calls), whose 16 first bytes are the
** signature. Pushes signature .. sealed, and returns the signature's length (0: failed,
** an error message pushed instead). */
static size_t wsman_wrap (lua_State *L, Gss *g, const char *plain, size_t len) {
  OM_uint32 major, minor;
  if (g->kerberos) {
    gss_iov_buffer_desc iov[3];
    char *data = malloc(len + 1);
    if (data == NULL) luaL_error(L, "gss: out of memory");
    memset(iov, 0, sizeof iov);
    iov[0].type = GSS_IOV_BUFFER_TYPE_HEADER | GSS_IOV_BUFFER_FLAG_ALLOCATE;
    iov[1].type = GSS_IOV_BUFFER_TYPE_DATA;
    iov[2].type = GSS_IOV_BUFFER_TYPE_PADDING | GSS_IOV_BUFFER_FLAG_ALLOCATE;
    memcpy(data, plain, len);
    iov[1].buffer.value = data;
    iov[1].buffer.length = len;
    major = gss_wrap_iov(&minor, g->ctx, 1, GSS_C_QOP_DEFAULT, NULL, iov, 3);
    if (GSS_ERROR(major)) {
      free(data);
      gss_release_iov_buffer(&minor, iov, 3);
      push_failure(L, g, "sealing a message", major, minor);
      return 0;
    }
    size_t header = iov[0].buffer.length;
    lua_pushlstring(L, iov[0].buffer.value, header);
    lua_pushlstring(L, data, len);
    lua_pushlstring(L, iov[2].buffer.value ? iov[2].buffer.value : "", iov[2].buffer.length);
    gss_release_iov_buffer(&minor, iov, 3);
    free(data);
    lua_concat(L, 3);
    return header;
  }
  gss_buffer_desc in = {len, (void *)plain}, out = GSS_C_EMPTY_BUFFER;
  major = gss_wrap(&minor, g->ctx, 1, GSS_C_QOP_DEFAULT, &in, NULL, &out);
  if (GSS_ERROR(major) || out.length < NTLM_SIGNATURE + len) {
    gss_release_buffer(&minor, &out);
    push_failure(L, g, "sealing a message", major, minor);
    return 0;
  }
  push_buffer(L, &out);
  return NTLM_SIGNATURE;
}

/* GssApi.seal: the body of one encrypted part (MS-WSMV 2.2.9.1.1). */
static const char *wsman_seal (lua_State *L, int ctx, const char *plain, size_t len) {
  Gss *g = (Gss *)luaL_checkudata(L, ctx, GSS_CONTEXT_TYPE);
  luaL_Buffer b;
  unsigned char length[4];
  if (g->closed || !g->established) {
    lua_pushliteral(L, "gss: the security context is not established");
    return NULL;
  }
  size_t signature = wsman_wrap(L, g, plain, len);
  if (signature == 0) return NULL;
  size_t wrapped_len;
  const char *wrapped = lua_tolstring(L, -1, &wrapped_len);
  for (int i = 0; i < 4; i++) length[i] = (unsigned char)(signature >> (8 * i));
  luaL_buffinit(L, &b);
  lua_pushfstring(L, WSMAN_BOUNDARY "\r\n\tContent-Type: " WSMAN_PROTOCOL "\r\n"
                  "\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=%I\r\n"
                  WSMAN_BOUNDARY "\r\n\tContent-Type: application/octet-stream\r\n",
                  (lua_Integer)len);
  luaL_addvalue(&b);
  luaL_addlstring(&b, (const char *)length, 4);
  luaL_addlstring(&b, wrapped, wrapped_len);
  luaL_addstring(&b, WSMAN_BOUNDARY "--\r\n");
  luaL_pushresult(&b);
  lua_remove(L, -2);                     /* the wrapped bytes */
  return "multipart/encrypted;protocol=\"" WSMAN_PROTOCOL "\";boundary=\"Encrypted Boundary\"";
}

static const char *find_bytes (const char *from, const char *end, const char *what) {
  size_t n = strlen(what);
  for (const char *p = from; p + n <= end; p++)
    if (memcmp(p, what, n) == 0) return p;
  return NULL;
}

/* The plaintext of signature and sealed data, by the mechanism's layout (wsman_wrap). */
static int wsman_unwrap (lua_State *L, Gss *g, const char *signature, size_t signature_len,
                         const char *sealed, size_t sealed_len) {
  OM_uint32 major, minor;
  char *data = malloc(signature_len + sealed_len + 1);
  if (data == NULL) return luaL_error(L, "gss: out of memory");
  if (g->kerberos) {
    gss_iov_buffer_desc iov[2];
    memcpy(data, sealed, sealed_len);
    memset(iov, 0, sizeof iov);
    iov[0].type = GSS_IOV_BUFFER_TYPE_HEADER;
    iov[0].buffer.value = (void *)signature;
    iov[0].buffer.length = signature_len;
    iov[1].type = GSS_IOV_BUFFER_TYPE_DATA;
    iov[1].buffer.value = data;
    iov[1].buffer.length = sealed_len;
    major = gss_unwrap_iov(&minor, g->ctx, NULL, NULL, iov, 2);
    if (!GSS_ERROR(major)) lua_pushlstring(L, data, iov[1].buffer.length);
  } else {
    memcpy(data, signature, signature_len);
    memcpy(data + signature_len, sealed, sealed_len);
    gss_buffer_desc in = {signature_len + sealed_len, data}, out = GSS_C_EMPTY_BUFFER;
    major = gss_unwrap(&minor, g->ctx, &in, &out, NULL, NULL);
    if (!GSS_ERROR(major)) push_buffer(L, &out);
  }
  free(data);
  if (GSS_ERROR(major)) return push_failure(L, g, "unsealing an answer", major, minor);
  return 1;
}

static int unseal_failure (lua_State *L, const char *what) {
  return fail_result(L, "protocol", "the encrypted answer is malformed: %s", what);
}

/* GssApi.unseal: the plaintext of one encrypted part, its length checked against the
** OriginalContent the server declared. */
static int wsman_unseal (lua_State *L, int ctx, const char *body, size_t len) {
  Gss *g = (Gss *)luaL_checkudata(L, ctx, GSS_CONTEXT_TYPE);
  const char *end = body + len, *p, *octets;
  if (g->closed || !g->established) return unseal_failure(L, "no security context");
  if ((p = find_bytes(body, end, "Length=")) == NULL) return unseal_failure(L, "no Length");
  char *after;
  unsigned long declared = strtoul(p + 7, &after, 10);
  octets = find_bytes(after, end, "application/octet-stream\r\n");
  if (octets == NULL) return unseal_failure(L, "no octet-stream part");
  octets += strlen("application/octet-stream\r\n");
  const char *tail = find_bytes(octets, end, WSMAN_BOUNDARY "--");
  if (tail == NULL || tail - octets < 4) return unseal_failure(L, "no closing boundary");
  const unsigned char *u = (const unsigned char *)octets;
  size_t signature_len = u[0] | (size_t)u[1] << 8 | (size_t)u[2] << 16 | (size_t)u[3] << 24;
  if (signature_len > (size_t)(tail - octets) - 4) return unseal_failure(L, "bad signature");
  const char *sealed = octets + 4 + signature_len;
  int n = wsman_unwrap(L, g, octets + 4, signature_len, sealed, (size_t)(tail - sealed));
  if (n == 1 && lua_rawlen(L, -1) != declared) {
    lua_pop(L, 1);
    return unseal_failure(L, "its length is not the one declared");
  }
  return n;
}

static int gss_seal_wsman (lua_State *L) {
  size_t len;
  check_established(L);
  const char *plain = luaL_checklstring(L, 2, &len);
  const char *type = wsman_seal(L, 1, plain, len);
  if (type == NULL) return lua_error(L);
  lua_pushstring(L, type);
  return 2;
}

static int gss_unseal_wsman (lua_State *L) {
  size_t len;
  check_established(L);
  const char *body = luaL_checklstring(L, 2, &len);
  return wsman_unseal(L, 1, body, len);
}


/* ---------------------------------------------------------------- channel bindings */

/* gss.tls_server_end_point(pem) -> the application data of RFC 5929's binding: the
** certificate hashed with its signature's hash, SHA-256 for MD5 and SHA-1. */
static int gss_tls_server_end_point (lua_State *L) {
  size_t len;
  const char *pem = luaL_checklstring(L, 1, &len);
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
  BIO_free(bio);
  if (cert == NULL) return luaL_error(L, "gss: not a PEM certificate");
  int md_nid = NID_undef;
  OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md_nid, NULL);
  const EVP_MD *md = EVP_get_digestbynid(md_nid);
  if (md == NULL || md_nid == NID_md5 || md_nid == NID_sha1) md = EVP_sha256();
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int hash_len = 0;
  int ok = X509_digest(cert, md, hash, &hash_len);
  X509_free(cert);
  if (!ok) return luaL_error(L, "gss: cannot hash the certificate");
  lua_pushliteral(L, "tls-server-end-point:");
  lua_pushlstring(L, (const char *)hash, hash_len);
  lua_concat(L, 2);
  return 1;
}


/* ---------------------------------------------------------------- GSS-TSIG, from C */

/* GssApi.mic: runbook.dns.update signs a GSS-TSIG message with the context's key. */
static size_t api_mic (void *context, const unsigned char *data, size_t len,
                       unsigned char *mic, size_t max, char *why, size_t why_size) {
  Gss *g = (Gss *)context;
  OM_uint32 major, minor;
  gss_buffer_desc in = {len, (void *)data}, out = GSS_C_EMPTY_BUFFER;
  if (g->closed || !g->established) {
    snprintf(why, why_size, "the security context is not established");
    return 0;
  }
  major = gss_get_mic(&minor, g->ctx, GSS_C_QOP_DEFAULT, &in, &out);
  if (GSS_ERROR(major) || out.length > max || out.length == 0) {
    describe_failure(g, "signing the update", major, minor, why, why_size);
    gss_release_buffer(&minor, &out);
    return 0;
  }
  memcpy(mic, out.value, out.length);
  len = out.length;
  gss_release_buffer(&minor, &out);
  return len;
}

/* GssApi.verify_mic: runbook.dns.update verifies a GSS-TSIG reply. */
static int api_verify_mic (void *context, const unsigned char *data, size_t len,
                           const unsigned char *mic, size_t mic_len, char *why,
                           size_t why_size) {
  Gss *g = (Gss *)context;
  OM_uint32 major, minor;
  gss_buffer_desc in = {len, (void *)data}, token = {mic_len, (void *)mic};
  if (g->closed || !g->established) {
    snprintf(why, why_size, "the security context is not established");
    return -1;
  }
  major = gss_verify_mic(&minor, g->ctx, &in, &token, NULL);
  if (!GSS_ERROR(major)) return 0;
  describe_failure(g, "verifying the reply's signature", major, minor, why, why_size);
  return -1;
}


static const GssApi gss_api = { GSS_API_VERSION, wsman_seal, wsman_unseal, api_mic,
                                api_verify_mic };

static const luaL_Reg gss_meth[] = {
  {"step", gss_step},
  {"bind", gss_bind},
  {"mechanism", gss_mechanism},
  {"wrap", gss_wrap_lua},
  {"unwrap", gss_unwrap_lua},
  {"get_mic", gss_get_mic_lua},
  {"verify_mic", gss_verify_mic_lua},
  {"seal_wsman", gss_seal_wsman},
  {"unseal_wsman", gss_unseal_wsman},
  {"close", gss_close},
  {NULL, NULL}
};

/* gss.use_krb5_config(path): the krb5.conf this process's Kerberos reads (KRB5_CONFIG,
** read again by each library call): the realm's KDCs as the inventory names them, for a
** runbook host that is not joined to the domain or whose /etc/krb5.conf names the KDCs of
** the site that is down. Refused while a step runs on its thread. */
static int gss_use_krb5_config (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  if (access(path, R_OK) != 0)
    return luaL_error(L, "gss: cannot read the krb5.conf '%s': %s", path, strerror(errno));
  if (running_steps > 0)
    return luaL_error(L, "gss: krb5.conf cannot change while a Kerberos step runs");
  if (setenv("KRB5_CONFIG", path, 1) != 0)
    return luaL_error(L, "gss: cannot set KRB5_CONFIG: %s", strerror(errno));
  return 0;
}

static const luaL_Reg gss_funcs[] = {
  {"initiator", gss_initiator},
  {"use_krb5_config", gss_use_krb5_config},
  {"tls_server_end_point", gss_tls_server_end_point},
  {NULL, NULL}
};

int luaopen_runbook_gss (lua_State *L) {
  loop_api_open(L);
  if (luaL_newmetatable(L, GSS_CONTEXT_TYPE)) {
    lua_pushcfunction(L, gss_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, gss_close);
    lua_setfield(L, -2, "__close");
    luaL_newlib(L, gss_meth);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  lua_pushlightuserdata(L, (void *)&gss_api);
  lua_setfield(L, LUA_REGISTRYINDEX, GSS_API_KEY);
  luaL_newlib(L, gss_funcs);
  return 1;
}
