/*
** ssh.c — the Lua library runbook.ssh: SSH sessions (libssh2) driven by the event loop.
**
**   local ssh = require "runbook.ssh"
**   local s, err, code = ssh.session{host=, port=22, user=, key_file=, passphrase=,
**                                    agent=, agent_socket=, password=, known_hosts=,
**                                    host_key_policy="strict"|"accept-new", timeout=30,
**                                    max_output=16 MiB}
**   local r, err, code = s:exec(command, {timeout=, stdin=, read_permit=, max_output=})
**                                                          -- {stdout=, stderr=, status=}
**   local t, err, code = s:tunnel(host, port, {timeout=})  -- t:send(s), t:receive(max), t:close()
**   local p, err, code = s:process(command, {timeout=, read_permit=})
**                        -- p:send(s, {read_permit=}), p:receive(max), p:stderr(), p:close()
**
** The session is nonblocking: every libssh2 call that answers LIBSSH2_ERROR_EAGAIN parks the
** running task on the socket (for the directions libssh2_session_block_directions names) and
** the loop resumes it when the socket is ready. One connection serves many commands, one
** channel each; the connection is opened on first use and re-opened once when it died
** before a command started. A session runs one command at a time.
** Tunnels: a session may hold several open at once, but runs one operation (open, send,
** receive, close) at a time, and libssh2 itself opens one channel at a time per session:
** checks in parallel need several sessions (modules/vantage.lua pools them). When the
** server cannot connect (code "refused": libssh2 drops the server's reason text, e.g.
** "Connection refused" or "No route to host") the session stays up; a timeout drops it.
**
** A command may change anything: while planning and inside a read-only task exec refuses
** (loop_check_mutation) unless read_permit is a read permit for exactly this command and
** stdin (runtime/permit.h). Tunnels only connect, for port checks and probes: never refused.
** A command's stdout and stderr may each reach max_output bytes (the session's, or the
** exec's own); past it the command fails with code "limit" and the connection is dropped
** (a peer cannot make runbook hold unbounded output). tunnel:receive returns at most
** 1 MiB per call whatever max asks.
** Failures return nil, message, code with code "timeout", "refused", "unreachable",
** "hostkey", "auth", "closed", "limit" or "protocol". The host key is checked against known_hosts:
** unknown or changed keys are refused with the key's SHA256 fingerprint, unless the policy
** is "accept-new", which appends unknown keys like OpenSSH's StrictHostKeyChecking=accept-new.
** A key of another type than known_hosts holds for the host is a changed key, under every
** policy; the handshake asks for the known types first (prefer_known_key_types).
*/
#include "buffer.h"
#include "fail.h"
#include "loop_api.h"
#include "options.h"
#include "permit.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libssh2.h>

#define SSH_TYPE "runbook.ssh"
#define MAX_OUTPUT_DEFAULT ((size_t)16 << 20)   /* a command's stdout, and its stderr */
#define TUNNEL_RECEIVE_MAX ((size_t)1 << 20)    /* one tunnel:receive */

/* Where a session's running operation is; each phase is one libssh2 call to repeat. */
enum {
  PH_IDLE, PH_CONNECT, PH_CONNECTING, PH_HANDSHAKE, PH_HOSTKEY, PH_AUTHLIST, PH_AGENT,
  PH_KEYFILE, PH_PASSWORD, PH_OPEN, PH_EXEC, PH_WRITE, PH_EOF, PH_READ, PH_CLOSE,
  PH_CLOSED, PH_DONE
};

/* What the running operation is. */
enum { OP_CONNECT, OP_EXEC, OP_TUNNEL, OP_SEND, OP_RECEIVE, OP_SHUT, OP_PROCESS };

#define TUNNEL_TYPE "runbook.ssh.tunnel"

/* What one step of the operation came to. */
enum { STEP_NEXT, STEP_WAIT, STEP_DONE, STEP_FAIL };

typedef struct Ssh {
  LIBSSH2_SESSION *session;
  LIBSSH2_CHANNEL *channel;
  LIBSSH2_AGENT *agent;
  struct libssh2_agent_publickey *identity;
  int fd;
  int connected;       /* handshake, host key and authentication done */
  int busy;            /* a task is running an operation on this session */
  int kind;            /* OP_*: ssh.session's connect stops once authenticated */
  unsigned generation; /* counts connections: tunnels of an older one are dead */
  struct Tunnel *tunnel;   /* the tunnel of a tunnel operation */
  char *target;        /* tunnel: host and port to reach from the server */
  int target_port;
  size_t receive_max;
  int keep_connection;     /* a failure that concerns one tunnel only */
  int closed;          /* closed by the user: no more commands */
  /* options */
  char *host, *user, *key_file, *passphrase, *password, *known_hosts, *agent_socket;
  int port, accept_new, use_agent;
  double timeout;      /* connect + handshake + authentication, seconds */
  size_t max_output;   /* the session's limit on a command's stdout, and on its stderr */
  size_t output_limit; /* the running command's */
  /* the running operation */
  int phase;
  int retried;         /* the connection was already re-opened once for this command */
  int started;         /* the command reached the server: never re-run it */
  short wait_events;
  double deadline;     /* loop_now() seconds, < 0: none */
  double command_timeout;
  char *command;
  char *input;
  size_t input_len, input_off;
  Buffer out, err;
  const char *code;
  char message[768];
} Ssh;

/* A direct-tcpip channel: a TCP connection the SSH server opens on our behalf; or, from
** session:process, an exec channel: a command that stays running, fed and read piecemeal. */
#define PROCESS_STDERR_KEEP 4096   /* what a process channel keeps of its stderr */
typedef struct Tunnel {
  Ssh *ssh;
  LIBSSH2_CHANNEL *channel;
  unsigned generation;
  int exec;                /* a process channel: its sends need a permit while planning */
  int eof_sent;            /* close: the process was told its input ended */
  size_t err_len;          /* stderr kept (the first bytes: what explains a failure) */
  char err[PROCESS_STDERR_KEEP];
} Tunnel;

/* Where this session connects, for messages: host:port. */
static const char *where (Ssh *s) {
  static char text[300];
  snprintf(text, sizeof text, "%s:%d", s->host, s->port);
  return text;
}

static int fail (Ssh *s, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail (Ssh *s, const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->message, sizeof s->message, fmt, ap);
  va_end(ap);
  s->code = code;
  return STEP_FAIL;
}

/* libssh2's own text for its last error. */
static const char *last_error (Ssh *s) {
  char *text = NULL;
  if (s->session == NULL) return "no session";
  libssh2_session_last_error(s->session, &text, NULL, 0);
  return text ? text : "unknown error";
}

/* Drops the connection (socket, channel, agent, session) without waiting for the peer. */
static void disconnect (Ssh *s) {
  s->generation++;
  if (s->channel) libssh2_channel_free(s->channel);
  s->channel = NULL;
  if (s->agent) {
    libssh2_agent_disconnect(s->agent);
    libssh2_agent_free(s->agent);
  }
  s->agent = NULL;
  s->identity = NULL;
  if (s->session) {
    if (s->connected) libssh2_session_disconnect(s->session, "runbook closes the session");
    /* Without its socket, what libssh2 still wants to send (the close of a channel being
    ** opened) fails at once instead of returning EAGAIN, which would make session_free
    ** give up and keep the session. */
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    for (int tries = 0; tries < 3; tries++)
      if (libssh2_session_free(s->session) != LIBSSH2_ERROR_EAGAIN) break;
  }
  s->session = NULL;
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  s->connected = 0;
}

static void operation_reset (Ssh *s) {
  free(s->target);
  s->target = NULL;
  s->tunnel = NULL;
  free(s->command);
  free(s->input);
  s->command = s->input = NULL;
  buffer_free(&s->out);
  buffer_free(&s->err);
  s->busy = 0;
  s->phase = PH_IDLE;
}

/* ---------------------------------------------------------------- connecting */

/* Starts a nonblocking TCP connect to the first address that takes one. */
static int step_connect (Ssh *s) {
  struct addrinfo hints, *list = NULL, *ai;
  char port[16];
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  snprintf(port, sizeof port, "%d", s->port);
  int rc = getaddrinfo(s->host, port, &hints, &list);
  if (rc != 0)
    return fail(s, "unreachable", "cannot resolve SSH host %s: %s", s->host, gai_strerror(rc));
  int saved = 0;
  for (ai = list; ai != NULL; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) { saved = errno; continue; }
    /* libssh2 writes a packet at a time: each must leave at once (docs/architecture.md) */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
      s->fd = fd;
      break;
    }
    saved = errno;
    close(fd);
  }
  freeaddrinfo(list);
  if (s->fd < 0) {
    if (saved == ECONNREFUSED)
      return fail(s, "refused", "SSH connection to %s refused: is sshd running and listening "
                  "on that address and port?", where(s));
    return fail(s, "unreachable", "cannot connect to SSH server %s: %s", where(s),
                strerror(saved));
  }
  s->phase = PH_CONNECTING;
  s->wait_events = POLLOUT;
  return STEP_WAIT;
}

static void prefer_known_key_types (Ssh *s);

/* The socket became writable: did the connect succeed? Then start libssh2. */
static int step_connecting (Ssh *s) {
  int error = 0;
  socklen_t len = sizeof error;
  struct pollfd ready = { s->fd, POLLOUT, 0 };
  if (poll(&ready, 1, 0) == 0) {   /* a re-check before the connect completed */
    s->wait_events = POLLOUT;
    return STEP_WAIT;
  }
  if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
  if (error == ECONNREFUSED)
    return fail(s, "refused", "SSH connection to %s refused: is sshd running and listening "
                "on that address and port?", where(s));
  if (error != 0)
    return fail(s, "unreachable", "cannot connect to SSH server %s: %s", where(s),
                strerror(error));
  s->session = libssh2_session_init();
  if (s->session == NULL) return fail(s, "protocol", "out of memory starting an SSH session");
  libssh2_session_set_blocking(s->session, 0);
  prefer_known_key_types(s);
  s->phase = PH_HANDSHAKE;
  return STEP_NEXT;
}

/* A libssh2 result: EAGAIN waits for the directions libssh2 names. */
static int again (Ssh *s) {
  int dirs = libssh2_session_block_directions(s->session);
  s->wait_events = 0;
  if (dirs & LIBSSH2_SESSION_BLOCK_INBOUND) s->wait_events |= POLLIN;
  if (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND) s->wait_events |= POLLOUT;
  if (s->wait_events == 0) s->wait_events = POLLIN;
  return STEP_WAIT;
}

static int step_handshake (Ssh *s) {
  int rc = libssh2_session_handshake(s->session, s->fd);
  if (rc == LIBSSH2_ERROR_EAGAIN) return again(s);
  if (rc != 0)
    return fail(s, "closed", "SSH handshake with %s failed: %s (is it an SSH server?)",
                where(s), last_error(s));
  s->phase = PH_HOSTKEY;
  return STEP_NEXT;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* OpenSSH's form of a host key fingerprint: SHA256:<base64 without padding>. */
static void fingerprint (Ssh *s, char *out, size_t size) {
  const unsigned char *hash = (const unsigned char *)
      libssh2_hostkey_hash(s->session, LIBSSH2_HOSTKEY_HASH_SHA256);
  size_t n = 0;
  if (hash == NULL || size < 60) { snprintf(out, size, "(unknown)"); return; }
  n = (size_t)snprintf(out, size, "SHA256:");
  for (int i = 0; i < 32; i += 3) {
    unsigned v = (unsigned)hash[i] << 16;
    if (i + 1 < 32) v |= (unsigned)hash[i + 1] << 8;
    if (i + 2 < 32) v |= hash[i + 2];
    out[n++] = b64[(v >> 18) & 63];
    out[n++] = b64[(v >> 12) & 63];
    if (i + 1 < 32) out[n++] = b64[(v >> 6) & 63];
    if (i + 2 < 32) out[n++] = b64[v & 63];
  }
  out[n] = '\0';
}

static int known_key_type (int hostkey_type) {
  switch (hostkey_type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
    case LIBSSH2_HOSTKEY_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
    case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519;
    default: return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
  }
}

/* Reads known_hosts into kh (none there: nothing known); 0, or -1 when it cannot be read. */
static int read_known_hosts (Ssh *s, LIBSSH2_KNOWNHOSTS *kh) {
  if (access(s->known_hosts, F_OK) != 0) return 0;
  return libssh2_knownhost_readfile(kh, s->known_hosts, LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0
         ? -1 : 0;
}

/* known_hosts on the server's key; keybit 0 compares it with the host's keys of every type. */
static int check_known (Ssh *s, LIBSSH2_KNOWNHOSTS *kh, const char *key, size_t len,
                        int keybit, struct libssh2_knownhost **entry) {
  return libssh2_knownhost_checkp(kh, s->host, s->port, key, len,
                                  LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
                                  keybit, entry);
}

/* OpenSSH's name of a known_hosts key type. */
static const char *key_type_name (int typemask) {
  switch (typemask & LIBSSH2_KNOWNHOST_KEY_MASK) {
    case LIBSSH2_KNOWNHOST_KEY_SSHRSA: return "RSA";
    case LIBSSH2_KNOWNHOST_KEY_SSHDSS: return "DSA";
    case LIBSSH2_KNOWNHOST_KEY_ECDSA_256: case LIBSSH2_KNOWNHOST_KEY_ECDSA_384:
    case LIBSSH2_KNOWNHOST_KEY_ECDSA_521: return "ECDSA";
    case LIBSSH2_KNOWNHOST_KEY_ED25519: return "ED25519";
    default: return "unknown";
  }
}

/* The host key algorithms of each known_hosts key type, in OpenSSH's order of preference. */
static const struct { int keybit; const char *algorithms[4]; } KEY_ALGORITHMS[] = {
  { LIBSSH2_KNOWNHOST_KEY_ED25519, { "ssh-ed25519" } },
  { LIBSSH2_KNOWNHOST_KEY_ECDSA_256, { "ecdsa-sha2-nistp256" } },
  { LIBSSH2_KNOWNHOST_KEY_ECDSA_384, { "ecdsa-sha2-nistp384" } },
  { LIBSSH2_KNOWNHOST_KEY_ECDSA_521, { "ecdsa-sha2-nistp521" } },
  { LIBSSH2_KNOWNHOST_KEY_SSHRSA, { "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa" } },
  { LIBSSH2_KNOWNHOST_KEY_SSHDSS, { "ssh-dss" } },
};

/* Whether the comma-separated list holds name. */
static int list_has (const char *list, const char *name) {
  size_t len = strlen(name);
  for (const char *at = strstr(list, name); at; at = strstr(at + 1, name))
    if ((at == list || at[-1] == ',') && (at[len] == '\0' || at[len] == ',')) return 1;
  return 0;
}

/* Appends name to the comma-separated list when libssh2 supports it and it is not there. */
static void list_add (char *list, size_t size, const char *name, const char **supported,
                      int count) {
  int known = 0;
  for (int i = 0; i < count && !known; i++) known = strcmp(supported[i], name) == 0;
  if (!known || list_has(list, name) || strlen(list) + strlen(name) + 2 > size) return;
  if (list[0]) strcat(list, ",");
  strcat(list, name);
}

/* Whether known_hosts holds a key of type keybit for the host (a key that cannot match
** answers "mismatch" exactly when there is one). */
static int knows_type (Ssh *s, LIBSSH2_KNOWNHOSTS *kh, int keybit) {
  return check_known(s, kh, "", 1, keybit, NULL) == LIBSSH2_KNOWNHOST_CHECK_MISMATCH;
}

/* Before the handshake: the server is asked first for the key types known_hosts holds for
** it, as OpenSSH does, then for the others; the check after the handshake tells a key of
** another type from a known one. Nothing known: libssh2's own order. */
static void prefer_known_key_types (Ssh *s) {
  char preference[1024] = "";
  const char **supported = NULL;
  LIBSSH2_KNOWNHOSTS *kh = libssh2_knownhost_init(s->session);
  int count = libssh2_session_supported_algs(s->session, LIBSSH2_METHOD_HOSTKEY, &supported);
  if (kh != NULL && count > 0 && read_known_hosts(s, kh) == 0) {
    for (size_t i = 0; i < sizeof KEY_ALGORITHMS / sizeof KEY_ALGORITHMS[0]; i++)
      for (int j = 0; j < 4 && KEY_ALGORITHMS[i].algorithms[j]; j++)
        if (knows_type(s, kh, KEY_ALGORITHMS[i].keybit))
          list_add(preference, sizeof preference, KEY_ALGORITHMS[i].algorithms[j], supported,
                   count);
    if (preference[0]) {
      for (int i = 0; i < count; i++)
        list_add(preference, sizeof preference, supported[i], supported, count);
      libssh2_session_method_pref(s->session, LIBSSH2_METHOD_HOSTKEY, preference);
    }
  }
  if (kh) libssh2_knownhost_free(kh);
  if (count > 0) libssh2_free(s->session, (void *)supported);
}

/* accept-new: appends the key as one OpenSSH known_hosts line. */
static int append_known_host (Ssh *s, LIBSSH2_KNOWNHOSTS *kh, const char *key, size_t len,
                              int keybit, const char *print) {
  char name[300], line[4096];
  size_t line_len = 0;
  struct libssh2_knownhost *entry = NULL;
  if (s->port == 22) snprintf(name, sizeof name, "%s", s->host);
  else snprintf(name, sizeof name, "[%s]:%d", s->host, s->port);
  if (libssh2_knownhost_addc(kh, name, NULL, key, len, NULL, 0,
                             LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
                             keybit, &entry) != 0 ||
      libssh2_knownhost_writeline(kh, entry, line, sizeof line, &line_len,
                                  LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0)
    return fail(s, "hostkey", "cannot record the host key of %s (%s)", where(s), print);
  FILE *file = fopen(s->known_hosts, "a");
  if (file == NULL || fwrite(line, 1, line_len, file) != line_len || fclose(file) != 0)
    return fail(s, "hostkey", "cannot append the host key of %s to %s: %s", where(s),
                s->known_hosts, strerror(errno));
  return STEP_NEXT;
}

/* The number of the line of known_hosts that holds the key (base64), 0 when not found. */
static int known_hosts_line (Ssh *s, const char *key) {
  char line[8192];
  size_t key_len = strlen(key);
  int number = 0;
  FILE *file = fopen(s->known_hosts, "re");
  if (file == NULL) return 0;
  while (fgets(line, sizeof line, file) != NULL) {
    number++;
    for (char *at = strstr(line, key); at; at = strstr(at + 1, key)) {
      if (at > line && isspace((unsigned char)at[-1]) &&
          (at[key_len] == '\0' || isspace((unsigned char)at[key_len]))) {
        fclose(file);
        return number;
      }
    }
  }
  fclose(file);
  return 0;
}

/* The server's key is not the one known_hosts holds for the host, whatever its type:
** refused under every policy, in OpenSSH's words, naming the line to remove. */
static int host_key_changed (Ssh *s, struct libssh2_knownhost *known, int type,
                             const char *print) {
  char keyscan[400];
  int line = known && known->key ? known_hosts_line(s, known->key) : 0;
  snprintf(keyscan, sizeof keyscan, "ssh-keyscan -p %d %s >> %s", s->port, s->host,
           s->known_hosts);
  return fail(s, "hostkey", "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED for %s! Someone "
              "could be eavesdropping on you right now (man-in-the-middle attack), or the "
              "host key has just been changed. The %s key sent by the remote host is %s; "
              "offending %s key in %s:%d. Refusing to connect, whatever host_key_policy says: "
              "confirm the new fingerprint with the server's administrator, then remove the "
              "old key (ssh-keygen -R '[%s]:%d' -f %s) and add the new one (%s)", where(s),
              key_type_name(known_key_type(type)), print,
              key_type_name(known ? known->typemask : 0), s->known_hosts, line, s->host,
              s->port, s->known_hosts, keyscan);
}

/* Checks the server's key against known_hosts: match, unknown, or changed — a key of
** another type than the ones known for the host is changed too (libssh2 calls it unknown). */
static int step_hostkey (Ssh *s) {
  size_t len = 0;
  int type = 0;
  char print[80];
  struct libssh2_knownhost *known = NULL;
  const char *key = libssh2_session_hostkey(s->session, &len, &type);
  if (key == NULL) return fail(s, "hostkey", "%s sent no host key", where(s));
  fingerprint(s, print, sizeof print);
  LIBSSH2_KNOWNHOSTS *kh = libssh2_knownhost_init(s->session);
  if (kh == NULL) return fail(s, "protocol", "out of memory checking the host key");
  if (read_known_hosts(s, kh) != 0) {
    libssh2_knownhost_free(kh);
    return fail(s, "hostkey", "cannot read known hosts file %s: %s", s->known_hosts,
                last_error(s));
  }
  int keybit = known_key_type(type);
  int check = check_known(s, kh, key, len, keybit, &known);
  if (check != LIBSSH2_KNOWNHOST_CHECK_MATCH && check != LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
    check = check_known(s, kh, key, len, 0, &known);       /* a key of another type? */
  int result = STEP_NEXT;
  char keyscan[400];
  snprintf(keyscan, sizeof keyscan, "ssh-keyscan -p %d %s >> %s", s->port, s->host,
           s->known_hosts);
  if (check == LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
    result = host_key_changed(s, known, type, print);
  else if (check != LIBSSH2_KNOWNHOST_CHECK_MATCH && s->accept_new)
    result = append_known_host(s, kh, key, len, keybit, print);
  else if (check != LIBSSH2_KNOWNHOST_CHECK_MATCH)
    result = fail(s, "hostkey", "host key of %s is unknown (%s is not in %s): refusing to "
                  "connect. Check this fingerprint with the server's administrator, then "
                  "run `%s` or set host_key_policy=\"accept-new\"", where(s), print,
                  s->known_hosts, keyscan);
  libssh2_knownhost_free(kh);
  if (result == STEP_NEXT) s->phase = PH_AUTHLIST;
  return result;
}

/* ---------------------------------------------------------------- authentication */

static int auth_failed (Ssh *s, const char *how) {
  return fail(s, "auth", "SSH authentication as %s on %s failed (%s): check that the "
              "public key is in the user's authorized_keys on the server, or the credentials",
              s->user, where(s), how);
}

/* Asks which methods the server takes; a server that takes "none" needs nothing more. */
static int step_authlist (Ssh *s) {
  char *methods = libssh2_userauth_list(s->session, s->user, (unsigned)strlen(s->user));
  if (methods == NULL) {
    if (libssh2_userauth_authenticated(s->session)) { s->phase = PH_OPEN; return STEP_NEXT; }
    if (libssh2_session_last_errno(s->session) == LIBSSH2_ERROR_EAGAIN) return again(s);
    return fail(s, "closed", "SSH server %s closed the connection before authentication: %s",
                where(s), last_error(s));
  }
  if (s->use_agent) s->phase = PH_AGENT;
  else if (s->key_file) s->phase = PH_KEYFILE;
  else if (s->password) s->phase = PH_PASSWORD;
  else return auth_failed(s, "no key_file, agent or password configured");
  return STEP_NEXT;
}

/* The next method after one that did not work. */
static int auth_next (Ssh *s, int from, const char *how) {
  if (from == PH_AGENT && s->key_file) s->phase = PH_KEYFILE;
  else if (from != PH_PASSWORD && s->password) s->phase = PH_PASSWORD;
  else return auth_failed(s, how);
  return STEP_NEXT;
}

/* Tries every identity of ssh-agent in turn (the agent socket is local and answers at once). */
static int step_agent (Ssh *s) {
  if (s->agent == NULL) {
    s->agent = libssh2_agent_init(s->session);
    if (s->agent == NULL) return fail(s, "protocol", "out of memory starting the agent client");
    if (s->agent_socket) libssh2_agent_set_identity_path(s->agent, s->agent_socket);
    if (libssh2_agent_connect(s->agent) != 0 || libssh2_agent_list_identities(s->agent) != 0)
      return auth_next(s, PH_AGENT, "cannot reach ssh-agent: is SSH_AUTH_SOCK set?");
    if (libssh2_agent_get_identity(s->agent, &s->identity, NULL) != 0)
      return auth_next(s, PH_AGENT, "ssh-agent holds no key");
  }
  for (;;) {
    int rc = libssh2_agent_userauth(s->agent, s->user, s->identity);
    if (rc == LIBSSH2_ERROR_EAGAIN) return again(s);
    if (rc == 0) { s->phase = PH_OPEN; return STEP_NEXT; }
    if (libssh2_agent_get_identity(s->agent, &s->identity, s->identity) != 0)
      return auth_next(s, PH_AGENT, "no key in ssh-agent was accepted");
  }
}

static int step_keyfile (Ssh *s) {
  int rc = libssh2_userauth_publickey_fromfile_ex(s->session, s->user,
                                                  (unsigned)strlen(s->user), NULL,
                                                  s->key_file, s->passphrase);
  if (rc == LIBSSH2_ERROR_EAGAIN) return again(s);
  if (rc == 0) { s->phase = PH_OPEN; return STEP_NEXT; }
  if (rc == LIBSSH2_ERROR_FILE || rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED) {
    char how[600];
    snprintf(how, sizeof how, "cannot use key file %s: %s (wrong passphrase?)", s->key_file,
             last_error(s));
    return auth_next(s, PH_KEYFILE, how);
  }
  return auth_next(s, PH_KEYFILE, "key file refused by the server");
}

static int step_password (Ssh *s) {
  int rc = libssh2_userauth_password_ex(s->session, s->user, (unsigned)strlen(s->user),
                                        s->password, (unsigned)strlen(s->password), NULL);
  if (rc == LIBSSH2_ERROR_EAGAIN) return again(s);
  if (rc == 0) { s->phase = PH_OPEN; return STEP_NEXT; }
  return auth_failed(s, "password refused");
}

/* ---------------------------------------------------------------- one command */

/* The connection is up: the command gets its own deadline from here on. */
static void start_command_clock (Ssh *s) {
  s->connected = 1;
  s->deadline = s->command_timeout >= 0 ? loop_now() + s->command_timeout : -1;
}

/* A session-level failure while the connection was thought alive: reconnect once. */
static int channel_failed (Ssh *s, const char *what) {
  int error = libssh2_session_last_errno(s->session);
  const char *code = (error == LIBSSH2_ERROR_SOCKET_RECV || error == LIBSSH2_ERROR_SOCKET_SEND
                      || error == LIBSSH2_ERROR_SOCKET_DISCONNECT ||
                      error == LIBSSH2_ERROR_CHANNEL_FAILURE) ? "closed" : "protocol";
  return fail(s, code, "SSH %s on %s failed: %s", what, where(s), last_error(s));
}

static int step_open (Ssh *s) {
  if (!s->connected) start_command_clock(s);
  s->channel = libssh2_channel_open_session(s->session);
  if (s->channel == NULL) {
    if (libssh2_session_last_errno(s->session) == LIBSSH2_ERROR_EAGAIN) return again(s);
    return channel_failed(s, "opening a channel");
  }
  s->phase = PH_EXEC;
  return STEP_NEXT;
}

static int step_exec (Ssh *s) {
  int rc = libssh2_channel_exec(s->channel, s->command);
  if (rc == LIBSSH2_ERROR_EAGAIN) return again(s);
  if (rc != 0) return channel_failed(s, "starting the command");
  s->started = 1;
  s->phase = s->input ? PH_WRITE : PH_EOF;
  return STEP_NEXT;
}

static int read_stream (Ssh *s, Buffer *b, int stream);
static int read_failed (Ssh *s, int out, int err);

/* Sends stdin, reading meanwhile so that a command that answers while it reads (cat)
** cannot fill its output window and stall both sides. */
static int step_write (Ssh *s) {
  while (s->input_off < s->input_len) {
    ssize_t n = libssh2_channel_write(s->channel, s->input + s->input_off,
                                      s->input_len - s->input_off);
    if (n == LIBSSH2_ERROR_EAGAIN) {
      int out = read_stream(s, &s->out, 0);
      int err = out < 0 ? 0 : read_stream(s, &s->err, SSH_EXTENDED_DATA_STDERR);
      if (out < 0 || err < 0) return read_failed(s, out, err);
      return again(s);
    }
    if (n < 0) return channel_failed(s, "sending stdin");
    s->input_off += (size_t)n;
  }
  s->phase = PH_EOF;
  return STEP_NEXT;
}

static int step_eof (Ssh *s) {
  int rc = libssh2_channel_send_eof(s->channel);
  if (rc == LIBSSH2_ERROR_EAGAIN) return again(s);
  s->phase = PH_READ;   /* a server that already closed its side is fine */
  return STEP_NEXT;
}

/* Reads what one stream has; 1 when it would block, 0 at its end, -1 on error, -2 once it
** holds more than the command's output limit (it reads one byte past it to know). */
static int read_stream (Ssh *s, Buffer *b, int stream) {
  for (;;) {
    if (b->len > s->output_limit) return -2;
    size_t room = s->output_limit + 1 - b->len, chunk = room < 16384 ? room : 16384;
    if (buffer_reserve(b, chunk) != 0) return -1;
    ssize_t n = libssh2_channel_read_ex(s->channel, stream, b->data + b->len, chunk);
    if (n == LIBSSH2_ERROR_EAGAIN) return 1;
    if (n < 0) return -1;
    if (n == 0) return 0;
    b->len += (size_t)n;
  }
}

/* A stream passed max_output: what happened and how to allow more. */
static int output_over_limit (Ssh *s, int stream) {
  char limit[32];
  options_size_text(s->output_limit, limit, sizeof limit);
  return fail(s, "limit", "the %s of `%.80s%s` on %s passed the limit of %s (max_output): "
              "runbook stopped reading and dropped the connection; if the command really "
              "writes that much, raise it with session:exec(command, {max_output = bytes}) "
              "or ssh.session{max_output = bytes}", stream ? "stderr" : "stdout", s->command,
              strlen(s->command) > 80 ? "..." : "", where(s), limit);
}

/* The outcome of reading both streams, when one of them failed. */
static int read_failed (Ssh *s, int out, int err) {
  if (out == -2 || err == -2) return output_over_limit(s, out == -2 ? 0 : 1);
  return channel_failed(s, "reading the command's output");
}

static int step_read (Ssh *s) {
  int out = read_stream(s, &s->out, 0);
  int err = read_stream(s, &s->err, SSH_EXTENDED_DATA_STDERR);
  if (out < 0 || err < 0) return read_failed(s, out, err);
  if (!libssh2_channel_eof(s->channel)) return again(s);
  if (out == 1 || err == 1) return again(s);
  s->phase = PH_CLOSE;
  return STEP_NEXT;
}

static int step_close (Ssh *s) {
  int rc = s->phase == PH_CLOSE ? libssh2_channel_close(s->channel)
                                : libssh2_channel_wait_closed(s->channel);
  if (rc == LIBSSH2_ERROR_EAGAIN) return again(s);
  s->phase = s->phase == PH_CLOSE ? PH_CLOSED : PH_DONE;
  return s->phase == PH_DONE ? STEP_DONE : STEP_NEXT;
}

/* ---------------------------------------------------------------- tunnels */

static int step_tunnel_open (Ssh *s) {
  if (!s->connected) start_command_clock(s);
  LIBSSH2_CHANNEL *channel = libssh2_channel_direct_tcpip_ex(s->session, s->target,
                                                             s->target_port, "127.0.0.1", 0);
  if (channel == NULL) {
    int error = libssh2_session_last_errno(s->session);
    if (error == LIBSSH2_ERROR_EAGAIN) return again(s);
    if (error == LIBSSH2_ERROR_CHANNEL_FAILURE) {   /* the server could not connect */
      s->keep_connection = 1;                     /* an answer about the target only */
      return fail(s, "refused", "%s could not connect to %s:%d: %s", where(s), s->target,
                  s->target_port, last_error(s));
    }
    return channel_failed(s, "opening a tunnel");
  }
  s->tunnel->channel = channel;
  s->tunnel->generation = s->generation;
  return STEP_DONE;
}

/* session:process: a session channel running the command, kept open for send/receive. */
static int step_process_open (Ssh *s) {
  Tunnel *t = s->tunnel;
  if (!s->connected) start_command_clock(s);
  if (t->channel == NULL || t->generation != s->generation) {
    t->channel = libssh2_channel_open_session(s->session);
    if (t->channel == NULL) {
      if (libssh2_session_last_errno(s->session) == LIBSSH2_ERROR_EAGAIN) return again(s);
      return channel_failed(s, "opening a channel");
    }
    t->generation = s->generation;
  }
  int rc = libssh2_channel_exec(t->channel, s->command);
  if (rc == LIBSSH2_ERROR_EAGAIN) return again(s);
  if (rc != 0) return channel_failed(s, "starting the command");
  s->started = 1;
  return STEP_DONE;
}

/* A process channel's stderr, read as it comes so that it never holds the channel's
** window: the first PROCESS_STDERR_KEEP bytes are kept, the rest dropped. */
static int drain_stderr (Ssh *s, Tunnel *t) {
  char chunk[4096];
  for (;;) {
    ssize_t n = libssh2_channel_read_ex(t->channel, SSH_EXTENDED_DATA_STDERR, chunk,
                                        sizeof chunk);
    if (n == LIBSSH2_ERROR_EAGAIN || n == 0) return 0;
    if (n < 0) return channel_failed(s, "reading the command's stderr");
    size_t keep = sizeof t->err - t->err_len;
    if (keep > (size_t)n) keep = (size_t)n;
    memcpy(t->err + t->err_len, chunk, keep);
    t->err_len += keep;
  }
}

static int step_send (Ssh *s) {
  while (s->input_off < s->input_len) {
    ssize_t n = libssh2_channel_write(s->tunnel->channel, s->input + s->input_off,
                                      s->input_len - s->input_off);
    if (n == LIBSSH2_ERROR_EAGAIN) return again(s);
    if (n < 0) return channel_failed(s, "sending through the tunnel");
    s->input_off += (size_t)n;
  }
  return STEP_DONE;
}

static int step_receive (Ssh *s) {
  if (buffer_reserve(&s->out, s->receive_max) != 0) return fail(s, "protocol", "out of memory");
  if (s->tunnel->exec && drain_stderr(s, s->tunnel) == STEP_FAIL) return STEP_FAIL;
  ssize_t n = libssh2_channel_read(s->tunnel->channel, s->out.data, s->receive_max);
  if (n == LIBSSH2_ERROR_EAGAIN) {
    if (libssh2_channel_eof(s->tunnel->channel)) n = 0;
    else return again(s);
  }
  if (n < 0) return channel_failed(s, "reading from the tunnel");
  if (n == 0) {
    s->keep_connection = 1;   /* the far end closed this tunnel; the session is fine */
    if (s->tunnel->exec)
      return fail(s, "closed", "the command on %s ended (its output is over)", where(s));
    return fail(s, "closed", "the tunnel through %s was closed by the other end", where(s));
  }
  s->out.len = (size_t)n;
  return STEP_DONE;
}

static int step_shut (Ssh *s) {
  if (s->tunnel->exec && !s->tunnel->eof_sent) {   /* a process: its input ends first */
    int rc = libssh2_channel_send_eof(s->tunnel->channel);
    if (rc == LIBSSH2_ERROR_EAGAIN) return again(s);
    s->tunnel->eof_sent = 1;
  }
  int rc = libssh2_channel_free(s->tunnel->channel);
  if (rc == LIBSSH2_ERROR_EAGAIN) return again(s);
  s->tunnel->channel = NULL;
  return STEP_DONE;
}

static int step (Ssh *s) {
  switch (s->phase) {
    case PH_CONNECT: return step_connect(s);
    case PH_CONNECTING: return step_connecting(s);
    case PH_HANDSHAKE: return step_handshake(s);
    case PH_HOSTKEY: return step_hostkey(s);
    case PH_AUTHLIST: return step_authlist(s);
    case PH_AGENT: return step_agent(s);
    case PH_KEYFILE: return step_keyfile(s);
    case PH_PASSWORD: return step_password(s);
    case PH_OPEN:
      switch (s->kind) {
        case OP_EXEC: return step_open(s);
        case OP_TUNNEL: return step_tunnel_open(s);
        case OP_SEND: return step_send(s);
        case OP_RECEIVE: return step_receive(s);
        case OP_SHUT: return step_shut(s);
        case OP_PROCESS: return step_process_open(s);
        default: s->connected = 1; return STEP_DONE;
      }
    case PH_EXEC: return step_exec(s);
    case PH_WRITE: return step_write(s);
    case PH_EOF: return step_eof(s);
    case PH_READ: return step_read(s);
    case PH_CLOSE: case PH_CLOSED: return step_close(s);
    default: return STEP_DONE;
  }
}

/* ---------------------------------------------------------------- driving it */

static void begin_connect (Ssh *s) {
  disconnect(s);
  s->phase = PH_CONNECT;
  s->deadline = loop_now() + s->timeout;
}

static int push_failure (lua_State *L, Ssh *s) {
  return fail_result(L, s->code, "%s", s->message);
}

static int push_result (lua_State *L, Ssh *s) {
  int status = -1;
  switch (s->kind) {
    case OP_CONNECT: lua_pushvalue(L, 2); return 1;   /* ssh.session: the userdata */
    case OP_TUNNEL: lua_pushvalue(L, 4); return 1;    /* session:tunnel: the tunnel */
    case OP_PROCESS: lua_pushvalue(L, 4); return 1;   /* session:process: its channel */
    case OP_SEND: lua_pushboolean(L, 1); return 1;
    case OP_SHUT: return 0;
    case OP_RECEIVE:
      lua_pushlstring(L, s->out.data ? s->out.data : "", s->out.len);
      return 1;
  }
  char *signal = NULL;
  if (s->channel) {
    status = libssh2_channel_get_exit_status(s->channel);
    libssh2_channel_get_exit_signal(s->channel, &signal, NULL, NULL, NULL, NULL, NULL);
    libssh2_channel_free(s->channel);
    s->channel = NULL;
  }
  lua_createtable(L, 0, 4);
  lua_pushlstring(L, s->out.data ? s->out.data : "", s->out.len);
  lua_setfield(L, -2, "stdout");
  lua_pushlstring(L, s->err.data ? s->err.data : "", s->err.len);
  lua_setfield(L, -2, "stderr");
  lua_pushinteger(L, status);
  lua_setfield(L, -2, "status");
  if (signal) {
    lua_pushstring(L, signal);
    lua_setfield(L, -2, "signal");
    free(signal);
  }
  return 1;
}

/* The operation ended (done or failed): push its results and free the session for others. */
static int finish (lua_State *L, Ssh *s, int result) {
  int n;
  if (result == STEP_DONE) n = push_result(L, s);
  else {
    if (!s->keep_connection) disconnect(s);
    n = push_failure(L, s);
  }
  operation_reset(s);
  return n;
}

static int drive_k (lua_State *L, int status, lua_KContext ctx);

/* A parked operation retries its libssh2 call at least this often (seconds) even without
** a socket event: a safety net against a wake-up lost inside libssh2's buffering (seen once
** under heavy load: client and server both waiting, nothing in flight). */
#define SSH_RECHECK 1.0

static int timed_out (Ssh *s) {
  if (s->connected && s->kind == OP_TUNNEL)
    return fail(s, "timeout", "%s did not connect to %s:%d within %g s", where(s), s->target,
                s->target_port, s->command_timeout);
  if (s->connected && s->tunnel && s->tunnel->exec)
    return fail(s, "timeout", "the command on %s did not answer within %g s; runbook "
                "dropped the connection", where(s), s->command_timeout);
  if (s->connected && s->command == NULL)
    return fail(s, "timeout", "the tunnel through %s did not answer within %g s", where(s),
                s->command_timeout);
  if (s->connected)
    return fail(s, "timeout", "command on %s did not finish within %g s: %s", where(s),
                s->command_timeout, s->command);
  return fail(s, "timeout", "SSH connection to %s not established within %g s (connect, "
              "handshake and authentication): is the host up and is a firewall dropping "
              "port %d?", where(s), s->timeout, s->port);
}

/* Runs steps until one must wait (park the task on the socket) or the operation ends. */
static int drive (lua_State *L, Ssh *s) {
  for (;;) {
    int result = step(s);
    if (result == STEP_NEXT) continue;
    if (result == STEP_WAIT) {
      double left = s->deadline < 0 ? -1 : s->deadline - loop_now();
      /* our ACK at once: sshd holds a small write for it without a pty (Nagle) */
      if (s->wait_events & POLLIN)
        setsockopt(s->fd, IPPROTO_TCP, TCP_QUICKACK, &(int){1}, sizeof(int));
      if (s->deadline < 0 || left > 0)
        return task_wait_fd(L, s->fd, s->wait_events,
                            left < 0 || left > SSH_RECHECK ? SSH_RECHECK : left,
                            (lua_KContext)s, drive_k);
      result = timed_out(s);
    }
    /* a connection that died before the command started is re-opened once */
    if (result == STEP_FAIL && s->connected && !s->started && !s->retried &&
        strcmp(s->code, "closed") == 0) {
      s->retried = 1;
      begin_connect(s);
      continue;
    }
    return finish(L, s, result);
  }
}

static int drive_k (lua_State *L, int status, lua_KContext ctx) {
  Ssh *s = (Ssh *)ctx;
  (void)status;
  if (lua_tointeger(L, -1) & LOOP_CANCEL) {   /* cancelled: leave nothing half-done */
    disconnect(s);
    operation_reset(s);
  }
  int events = task_events(L);
  if ((events & LOOP_TIMEOUT) && s->deadline >= 0 && loop_now() >= s->deadline)
    return finish(L, s, timed_out(s));
  return drive(L, s);   /* ready, or time to re-check */
}

/* ---------------------------------------------------------------- Lua API */

static Ssh *check_ssh (lua_State *L) {
  return (Ssh *)luaL_checkudata(L, 1, SSH_TYPE);
}

/* A copy of options[field] (a string; nil and false: def), freed by the session. */
static char *opt_string (lua_State *L, int table, const char *field, const char *def) {
  char *copy = NULL;
  lua_getfield(L, table, field);
  int absent = lua_isnil(L, -1) || (lua_isboolean(L, -1) && !lua_toboolean(L, -1));
  if (!absent && lua_type(L, -1) != LUA_TSTRING)
    luaL_error(L, "ssh.session: option '%s' must be a string, got %s", field,
               luaL_typename(L, -1));
  const char *value = absent ? def : lua_tostring(L, -1);
  if (value) copy = strdup(value);
  lua_pop(L, 1);
  return copy;
}

static double opt_number (lua_State *L, int table, const char *field, double def) {
  lua_getfield(L, table, field);
  int ok = 0;
  double value = lua_isnil(L, -1) ? def : lua_tonumberx(L, -1, &ok);
  if (!lua_isnil(L, -1) && (!ok || value < 0))
    luaL_error(L, "ssh.session: option '%s' must be a number >= 0", field);
  lua_pop(L, 1);
  return value;
}

/* The default known_hosts file: ~/.ssh/known_hosts, as OpenSSH. */
static char *default_known_hosts (void) {
  const char *home = getenv("HOME");
  char path[1024];
  snprintf(path, sizeof path, "%s/.ssh/known_hosts", home ? home : ".");
  return strdup(path);
}

static void read_options (lua_State *L, Ssh *s) {
  s->host = opt_string(L, 1, "host", NULL);
  if (s->host == NULL) luaL_error(L, "ssh.session: option 'host' is required");
  s->user = opt_string(L, 1, "user", getenv("USER") ? getenv("USER") : "root");
  s->key_file = opt_string(L, 1, "key_file", NULL);
  s->passphrase = opt_string(L, 1, "passphrase", NULL);
  s->password = opt_string(L, 1, "password", NULL);
  s->agent_socket = opt_string(L, 1, "agent_socket", NULL);
  s->known_hosts = opt_string(L, 1, "known_hosts", NULL);
  if (s->known_hosts == NULL) s->known_hosts = default_known_hosts();
  double port = opt_number(L, 1, "port", 22);
  if (port < 1 || port > 65535 || port != (int)port)
    luaL_error(L, "ssh.session: option 'port' must be an integer 1-65535");
  s->port = (int)port;
  s->timeout = opt_number(L, 1, "timeout", 30);
  s->max_output = options_size(L, 1, "max_output", MAX_OUTPUT_DEFAULT);
  char *policy = opt_string(L, 1, "host_key_policy", "strict");
  s->accept_new = strcmp(policy, "accept-new") == 0;
  int known = s->accept_new || strcmp(policy, "strict") == 0;
  free(policy);
  if (!known) luaL_error(L, "ssh.session: host_key_policy must be \"strict\" or \"accept-new\"");
  lua_getfield(L, 1, "agent");
  s->use_agent = lua_isnil(L, -1) ? (s->key_file == NULL && s->password == NULL)
                                  : lua_toboolean(L, -1);
  lua_pop(L, 1);
}

static int begin_operation (lua_State *L, Ssh *s, int kind) {
  if (s->closed) return luaL_error(L, "ssh: the session with %s is closed", where(s));
  if (s->busy)
    return luaL_error(L, "ssh: the session with %s is running a command in another task; "
                      "open one session per task or wait for it", where(s));
  s->busy = 1;
  s->kind = kind;
  s->keep_connection = 0;
  s->retried = s->started = 0;
  if (s->connected) {
    s->phase = PH_OPEN;
    s->deadline = s->command_timeout >= 0 ? loop_now() + s->command_timeout : -1;
  }
  else begin_connect(s);
  return 0;
}

/* ssh.session{...} -> session | nil, message, code: connects and authenticates now. */
static int ssh_session (lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  task_check_current(L, "ssh.session");
  lua_settop(L, 1);
  Ssh *s = (Ssh *)lua_newuserdatauv(L, sizeof(Ssh), 0);
  memset(s, 0, sizeof *s);
  s->fd = -1;
  s->closed = 1;   /* nothing to free until the options are read */
  luaL_setmetatable(L, SSH_TYPE);
  read_options(L, s);
  s->closed = 0;
  s->command_timeout = -1;
  begin_operation(L, s, OP_CONNECT);
  return drive(L, s);
}

/* Raises while planning and in a read-only task, unless the options at index 3 carry a
** read permit for exactly this command and stdin. */
static void exec_check_permit (lua_State *L, Ssh *s, const char *command, size_t command_len,
                               const char *input, size_t input_len) {
  char what[420];
  int permitted = 0;
  if (lua_istable(L, 3)) {
    lua_getfield(L, 3, "read_permit");
    permitted = permit_covers(L, -1, command, command_len, input, input_len);
    lua_pop(L, 1);
  }
  if (permitted) return;
  snprintf(what, sizeof what, "run `%.80s%s` over SSH on %s", command,
           command_len > 80 ? "..." : "", s->closed ? "a closed session" : where(s));
  loop_check_mutation(L, what);
}

/* session:exec(command [, {timeout=, stdin=, read_permit=}]) -> {stdout=, stderr=, status=}
**   | nil, message, code */
static int ssh_exec (lua_State *L) {
  Ssh *s = check_ssh(L);
  size_t command_len, input_len = 0;
  const char *command = luaL_checklstring(L, 2, &command_len);
  const char *input = NULL;
  double timeout = -1;
  size_t max_output = s->max_output;
  luaL_argcheck(L, strlen(command) == command_len, 2, "command contains a NUL byte");
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    max_output = options_size(L, 3, "max_output", max_output);
    lua_getfield(L, 3, "timeout");
    if (!lua_isnil(L, -1)) {
      timeout = luaL_checknumber(L, -1);
      luaL_argcheck(L, timeout >= 0, 3, "timeout must be >= 0 seconds");
    }
    lua_getfield(L, 3, "stdin");
    if (!lua_isnil(L, -1)) input = luaL_checklstring(L, -1, &input_len);
    lua_pop(L, 2);     /* the options table at 3 keeps stdin alive */
  }
  task_check_current(L, "session:exec");
  exec_check_permit(L, s, command, command_len, input, input_len);
  lua_settop(L, 2);
  s->command_timeout = timeout;
  begin_operation(L, s, OP_EXEC);
  s->output_limit = max_output;
  s->command = strdup(command);
  if (input) {
    s->input = (char *)malloc(input_len + 1);
    if (s->input) memcpy(s->input, input, input_len);
    s->input_len = input_len;
    s->input_off = 0;
  }
  if (s->command == NULL || (input && s->input == NULL)) {
    operation_reset(s);
    return luaL_error(L, "ssh: out of memory");
  }
  return drive(L, s);
}

/* Frees a copy of a secret (password, passphrase) after wiping it. */
static void free_secret (char *secret) {
  if (secret == NULL) return;
  explicit_bzero(secret, strlen(secret));
  free(secret);
}

/* Frees everything; safe to call twice (__gc and __close share it). */
static int ssh_close_session (lua_State *L) {
  Ssh *s = check_ssh(L);
  disconnect(s);
  operation_reset(s);
  free(s->host); free(s->user); free(s->key_file); free_secret(s->passphrase);
  free_secret(s->password); free(s->known_hosts); free(s->agent_socket);
  s->host = s->user = s->key_file = s->passphrase = NULL;
  s->password = s->known_hosts = s->agent_socket = NULL;
  s->closed = 1;
  return 0;
}

/* session:close(): ends the connection now. Refused while another task runs a command. */
static int ssh_close (lua_State *L) {
  Ssh *s = check_ssh(L);
  if (s->busy) return luaL_error(L, "ssh: cannot close the session with %s while a command "
                                 "runs on it", where(s));
  return ssh_close_session(L);
}

/* session:is_connected() -> whether the connection is up (it re-opens on demand anyway). */
static int ssh_is_connected (lua_State *L) {
  Ssh *s = check_ssh(L);
  lua_pushboolean(L, s->connected);
  return 1;
}

static int ssh_tostring (lua_State *L) {
  Ssh *s = check_ssh(L);
  if (s->closed) lua_pushliteral(L, "ssh session (closed)");
  else lua_pushfstring(L, "ssh session %s@%s:%d", s->user, s->host, s->port);
  return 1;
}

/* ---------------------------------------------------------------- tunnel API */

static Tunnel *check_tunnel (lua_State *L) {
  return (Tunnel *)luaL_checkudata(L, 1, TUNNEL_TYPE);
}

static double opt_timeout (lua_State *L, int arg) {
  if (lua_isnoneornil(L, arg)) return -1;
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_getfield(L, arg, "timeout");
  double timeout = lua_isnil(L, -1) ? -1 : luaL_checknumber(L, -1);
  lua_pop(L, 1);
  luaL_argcheck(L, timeout >= 0 || timeout == -1, arg, "timeout must be >= 0 seconds");
  return timeout;
}

/* session:tunnel(host, port [, {timeout=}]) -> tunnel | nil, message, code
** A TCP connection from the SSH server to host:port (direct-tcpip): a port check or a
** protocol probe from the server's vantage point. */
static int ssh_tunnel (lua_State *L) {
  Ssh *s = check_ssh(L);
  const char *host = luaL_checkstring(L, 2);
  lua_Integer port = luaL_checkinteger(L, 3);
  luaL_argcheck(L, port >= 1 && port <= 65535, 3, "port must be 1-65535");
  double timeout = opt_timeout(L, 4);
  task_check_current(L, "session:tunnel");
  lua_settop(L, 3);
  Tunnel *tunnel = (Tunnel *)lua_newuserdatauv(L, sizeof(Tunnel), 1);
  memset(tunnel, 0, sizeof *tunnel);
  tunnel->ssh = s;
  luaL_setmetatable(L, TUNNEL_TYPE);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, 4, 1);   /* the tunnel keeps its session alive */
  s->command_timeout = timeout;
  begin_operation(L, s, OP_TUNNEL);
  s->tunnel = tunnel;
  s->target = strdup(host);
  s->target_port = (int)port;
  if (s->target == NULL) { operation_reset(s); return luaL_error(L, "ssh: out of memory"); }
  return drive(L, s);
}

/* Starts an operation on a live tunnel; pushes nil, message, "closed" when it is dead. */
static int begin_tunnel_operation (lua_State *L, Tunnel *t, int kind, double timeout) {
  Ssh *s = t->ssh;
  if (t->channel == NULL || t->generation != s->generation || !s->connected) {
    return fail_result(L, "closed", "the tunnel is closed");
  }
  s->command_timeout = timeout;
  begin_operation(L, s, kind);
  s->started = 1;   /* an operation on this connection's channel: never re-run on another */
  s->tunnel = t;
  return 0;
}

/* A process channel's input may change anything: while planning and in a read-only task a
** send refuses unless the options at index 3 carry a read permit for exactly these bytes. */
static void send_check_permit (lua_State *L, Tunnel *t, const char *data, size_t len) {
  char what[400];
  int permitted = 0;
  if (!t->exec) return;   /* a tunnel only connects: its bytes are the probe's */
  if (lua_istable(L, 3)) {
    lua_getfield(L, 3, "read_permit");
    permitted = permit_covers(L, -1, data, len, NULL, 0);
    lua_pop(L, 1);
  }
  if (permitted) return;
  snprintf(what, sizeof what, "write %zu bytes to a command's input over SSH on %s", len,
           where(t->ssh));
  loop_check_mutation(L, what);
}

/* tunnel:send(data [, {timeout=, read_permit=}]) -> true | nil, message, code */
static int tunnel_send (lua_State *L) {
  Tunnel *t = check_tunnel(L);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  double timeout = opt_timeout(L, 3);
  task_check_current(L, "tunnel:send");
  send_check_permit(L, t, data, len);
  int n = begin_tunnel_operation(L, t, OP_SEND, timeout);
  if (n) return n;
  Ssh *s = t->ssh;
  s->input = (char *)malloc(len + 1);
  if (s->input == NULL) { operation_reset(s); return luaL_error(L, "ssh: out of memory"); }
  memcpy(s->input, data, len);
  s->input_len = len;
  s->input_off = 0;
  return drive(L, s);
}

/* tunnel:receive([max [, {timeout=}]]) -> data (at most max bytes, and at most 1 MiB: a
** larger max would only reserve memory the channel's window never fills) | nil, msg, code */
static int tunnel_receive (lua_State *L) {
  Tunnel *t = check_tunnel(L);
  lua_Integer max = luaL_optinteger(L, 2, 16384);
  luaL_argcheck(L, max >= 1, 2, "max must be >= 1");
  if ((lua_Unsigned)max > TUNNEL_RECEIVE_MAX) max = (lua_Integer)TUNNEL_RECEIVE_MAX;
  double timeout = opt_timeout(L, 3);
  task_check_current(L, "tunnel:receive");
  int n = begin_tunnel_operation(L, t, OP_RECEIVE, timeout);
  if (n) return n;
  t->ssh->receive_max = (size_t)max;
  return drive(L, t->ssh);
}

/* tunnel:close(): closes this TCP connection; the session stays. */
static int tunnel_close (lua_State *L) {
  Tunnel *t = check_tunnel(L);
  if (t->channel == NULL || t->generation != t->ssh->generation || t->ssh->busy) {
    t->channel = NULL;   /* the session frees its channels when it ends */
    return 0;
  }
  if (task_current(L) == NULL) {   /* __gc: no task to park; the session frees it later */
    t->channel = NULL;
    return 0;
  }
  if (begin_tunnel_operation(L, t, OP_SHUT, 10)) return 0;
  return drive(L, t->ssh);
}

/* channel:stderr() -> what a process channel's command wrote to stderr so far (its first
** PROCESS_STDERR_KEEP bytes). */
static int tunnel_stderr (lua_State *L) {
  Tunnel *t = check_tunnel(L);
  lua_pushlstring(L, t->err, t->err_len);
  return 1;
}

/* channel:exit_status() -> the process's exit status once the server sent it, else nil. */
static int tunnel_exit_status (lua_State *L) {
  Tunnel *t = check_tunnel(L);
  if (!t->exec || t->channel == NULL || t->generation != t->ssh->generation ||
      !libssh2_channel_eof(t->channel)) {
    luaL_pushfail(L);
    return 1;
  }
  lua_pushinteger(L, libssh2_channel_get_exit_status(t->channel));
  return 1;
}

/* session:process(command [, {timeout=, read_permit=}]) -> channel | nil, message, code
** A command that keeps running (a persistent PowerShell): channel:send writes to its stdin,
** channel:receive reads its stdout as it comes, channel:close ends its input and the
** channel. Starting it needs a read permit for exactly the command while planning and in
** a read-only task, and so does every send (for exactly its bytes). */
static int ssh_process (lua_State *L) {
  Ssh *s = check_ssh(L);
  size_t command_len;
  const char *command = luaL_checklstring(L, 2, &command_len);
  luaL_argcheck(L, strlen(command) == command_len, 2, "command contains a NUL byte");
  double timeout = opt_timeout(L, 3);
  task_check_current(L, "session:process");
  exec_check_permit(L, s, command, command_len, NULL, 0);
  lua_settop(L, 3);
  Tunnel *tunnel = (Tunnel *)lua_newuserdatauv(L, sizeof(Tunnel), 1);
  memset(tunnel, 0, sizeof *tunnel);
  tunnel->ssh = s;
  tunnel->exec = 1;
  luaL_setmetatable(L, TUNNEL_TYPE);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, 4, 1);   /* the channel keeps its session alive */
  s->command_timeout = timeout;
  begin_operation(L, s, OP_PROCESS);
  s->tunnel = tunnel;
  s->command = strdup(command);
  if (s->command == NULL) { operation_reset(s); return luaL_error(L, "ssh: out of memory"); }
  return drive(L, s);
}

/* __gc / __close: never parks; the channel is freed with its session. */
static int tunnel_gc (lua_State *L) {
  Tunnel *t = check_tunnel(L);
  t->channel = NULL;
  return 0;
}

static const luaL_Reg tunnel_methods[] = {
  {"send", tunnel_send},
  {"receive", tunnel_receive},
  {"close", tunnel_close},
  {"stderr", tunnel_stderr},
  {"exit_status", tunnel_exit_status},
  {NULL, NULL}
};

static const luaL_Reg tunnel_metamethods[] = {
  {"__gc", tunnel_gc},
  {"__close", tunnel_gc},
  {"__index", NULL},
  {NULL, NULL}
};

static const luaL_Reg ssh_functions[] = {
  {"session", ssh_session},
  {NULL, NULL}
};

static const luaL_Reg ssh_methods[] = {
  {"exec", ssh_exec},
  {"tunnel", ssh_tunnel},
  {"process", ssh_process},
  {"close", ssh_close},
  {"is_connected", ssh_is_connected},
  {NULL, NULL}
};

static const luaL_Reg ssh_metamethods[] = {
  {"__gc", ssh_close_session},
  {"__close", ssh_close_session},
  {"__tostring", ssh_tostring},
  {"__index", NULL},
  {NULL, NULL}
};

int luaopen_runbook_ssh (lua_State *L) {
  loop_api_open(L);
  if (libssh2_init(0) != 0) return luaL_error(L, "ssh: libssh2_init failed");
  luaL_newmetatable(L, SSH_TYPE);
  luaL_setfuncs(L, ssh_metamethods, 0);
  luaL_newlibtable(L, ssh_methods);
  luaL_setfuncs(L, ssh_methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newmetatable(L, TUNNEL_TYPE);
  luaL_setfuncs(L, tunnel_metamethods, 0);
  luaL_newlibtable(L, tunnel_methods);
  luaL_setfuncs(L, tunnel_methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, ssh_functions);
  return 1;
}
