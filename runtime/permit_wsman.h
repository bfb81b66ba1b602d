/*
** permit_wsman.h — what a read permit lets through an http.connection (runtime/http.c):
** the permitted command's WS-Management exchange, as modules/winrm.lua sends it, and nothing
** else. One remote shell on one URL: Create, then one Command whose command line is exactly
** the permitted one, Send of exactly the permitted stdin (in order, ended once), Receive,
** Signal terminate and Delete. Each envelope is checked byte by byte against the shape
** winrm.lua's envelope() gives it (the fixed headers, the shell resource URI, the action's
** options and body), its variable fields by character class: there is nothing a Windows
** parser could read differently (no comment, entity, other namespace or extra element
** passes). The check reads the plaintext envelope, before any wrapping: a later message
** encryption must encrypt after it. A change to an envelope in winrm.lua needs the same
** change here. Header-only (static inline), like permit.h: http.c alone includes it.
**
** A persistent PowerShell session (http.connection{read_permit=, session=true}: the permit
** is for the session's command line, powershell.session_command, and has no stdin) keeps
** its one shell and command for the run, and its input is not in that permit: each script
** written into it is a Send of its own. Such a Send goes with a permit for exactly the
** script's bytes (the request's input_permit, kind "powershell-frame"; a script larger than
** one envelope goes in pieces, in order, each carrying the same permit, and nothing else is
** sent to the input before it went whole), or — no permit — only where changes are allowed
** at all: http.c refuses it while planning and in a read-only task (loop_check_mutation).
** A session's input is never ended by a Send (Signal terminate ends the session); Receive
** goes at any time. No permit covers a session's input as a whole.
*/
#ifndef RUNBOOK_PERMIT_WSMAN_H
#define RUNBOOK_PERMIT_WSMAN_H

#include <ctype.h>
#include <string.h>

/* Where the exchange of a permitted connection is. */
enum { WSMAN_NEW, WSMAN_SHELL, WSMAN_COMMAND, WSMAN_DELETED };

typedef struct WsmanExchange {
  int stage;
  char shell_id[64], command_id[64];   /* bound at first use: every later envelope names them */
  size_t input_sent;                   /* bytes of the permitted stdin (a session: of the
                                          script under way) sent so far */
  int input_ended;
} WsmanExchange;

/* What the permit allows: the command line, and stdin (NULL when none). A session: input is
** the script this Send's own permit is for, NULL when it has none (changes are allowed). */
typedef struct WsmanPermitted {
  const char *command, *input;
  size_t command_len, input_len;
  int session;
} WsmanPermitted;

/* The variable fields of one envelope. */
typedef struct WsmanFields {
  const char *to, *action, *shell_id, *command_id, *text, *data;
  size_t to_len, action_len, shell_id_len, command_id_len, text_len, data_len;
  int end;
} WsmanFields;

#define WSMAN_RSP "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"

/* Up to the action: %T the To address, %A the action. */
static const char WSMAN_HEAD[] =
  "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" "
  "xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" "
  "xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\" "
  "xmlns:p=\"http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd\" "
  "xmlns:rsp=\"" WSMAN_RSP "\"><s:Header>"
  "<a:To>%T</a:To>"
  "<a:ReplyTo><a:Address s:mustUnderstand=\"true\">"
  "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>"
  "<w:ResourceURI s:mustUnderstand=\"true\">" WSMAN_RSP "/cmd</w:ResourceURI>"
  "<a:Action s:mustUnderstand=\"true\">%A</a:Action>"
  "<a:MessageID>uuid:%U</a:MessageID>"
  "<w:MaxEnvelopeSize s:mustUnderstand=\"true\">%D</w:MaxEnvelopeSize>"
  "<w:Locale xml:lang=\"en-US\" s:mustUnderstand=\"false\"/>"
  "<p:DataLocale xml:lang=\"en-US\" s:mustUnderstand=\"false\"/>"
  "<w:OperationTimeout>PT%FS</w:OperationTimeout>";

#define WSMAN_SELECTOR "<w:SelectorSet><w:Selector Name=\"ShellId\">%S</w:Selector></w:SelectorSet>"
#define WSMAN_BODY "</s:Header><s:Body>"
#define WSMAN_END "</s:Body></s:Envelope>"

enum { WSMAN_CREATE, WSMAN_COMMAND_LINE, WSMAN_SEND, WSMAN_RECEIVE, WSMAN_SIGNAL,
       WSMAN_DELETE };

/* Each action, and the rest of its envelope: %S shell id, %C command id, %X the command
** line (escaped), %E an optional End="true", %B base64 of a piece of stdin. */
static const struct { const char *action, *rest; } WSMAN_STEPS[] = {
  { "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
    "<w:OptionSet><w:Option Name=\"WINRS_NOPROFILE\">TRUE</w:Option>"
    "<w:Option Name=\"WINRS_CODEPAGE\">65001</w:Option></w:OptionSet>" WSMAN_BODY
    "<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams>"
    "<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>" WSMAN_END },
  { WSMAN_RSP "/Command",
    WSMAN_SELECTOR "<w:OptionSet><w:Option Name=\"WINRS_CONSOLEMODE_STDIN\">TRUE</w:Option>"
    "<w:Option Name=\"WINRS_SKIP_CMD_SHELL\">FALSE</w:Option></w:OptionSet>" WSMAN_BODY
    "<rsp:CommandLine><rsp:Command>%X</rsp:Command></rsp:CommandLine>" WSMAN_END },
  { WSMAN_RSP "/Send",
    WSMAN_SELECTOR WSMAN_BODY
    "<rsp:Send><rsp:Stream Name=\"stdin\" CommandId=\"%C\"%E>%B</rsp:Stream></rsp:Send>"
    WSMAN_END },
  { WSMAN_RSP "/Receive",
    WSMAN_SELECTOR WSMAN_BODY
    "<rsp:Receive><rsp:DesiredStream CommandId=\"%C\">stdout stderr</rsp:DesiredStream>"
    "</rsp:Receive>" WSMAN_END },
  { WSMAN_RSP "/Signal",
    WSMAN_SELECTOR WSMAN_BODY
    "<rsp:Signal CommandId=\"%C\"><rsp:Code>" WSMAN_RSP "/signal/terminate</rsp:Code>"
    "</rsp:Signal>" WSMAN_END },
  { "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete",
    WSMAN_SELECTOR WSMAN_BODY WSMAN_END },
};

/* Whether byte c may stand in the field %code. */
static inline int wsman_in_field (char code, unsigned char c) {
  switch (code) {
    case 'U': return isxdigit(c) || c == '-';
    case 'D': return isdigit(c);
    case 'F': return isdigit(c) || c == '.';
    case 'S': case 'C': return isalnum(c) || c == '-';
    case 'B': return isalnum(c) || c == '+' || c == '/' || c == '=';
    default: return c != '<';                /* %T, %A, %X: text, compared afterwards */
  }
}

static inline void wsman_keep (WsmanFields *f, char code, const char *start, size_t len) {
  switch (code) {
    case 'T': f->to = start; f->to_len = len; break;
    case 'A': f->action = start; f->action_len = len; break;
    case 'S': f->shell_id = start; f->shell_id_len = len; break;
    case 'C': f->command_id = start; f->command_id_len = len; break;
    case 'X': f->text = start; f->text_len = len; break;
    case 'B': f->data = start; f->data_len = len; break;
    default: break;
  }
}

/* Matches p against the template; the end of what matched, or NULL. */
static inline const char *wsman_match (const char *template, const char *p, const char *end,
                                       WsmanFields *f) {
  static const char ended[] = " End=\"true\"";
  while (*template) {
    if (*template != '%') {
      if (p == end || *p != *template) return NULL;
      p++, template++;
      continue;
    }
    char code = template[1];
    template += 2;
    if (code == 'E') {
      f->end = (size_t)(end - p) >= sizeof ended - 1 && memcmp(p, ended, sizeof ended - 1) == 0;
      if (f->end) p += sizeof ended - 1;
      continue;
    }
    const char *start = p;
    while (p < end && wsman_in_field(code, (unsigned char)*p)) p++;
    if (p == start && code != 'B') return NULL;
    wsman_keep(f, code, start, (size_t)(p - start));
  }
  return p;
}

/* Whether text is raw as winrm.lua's escape() writes it (& < > " ' as entities). */
static inline int wsman_escaped_equals (const char *text, size_t len, const char *raw,
                                        size_t raw_len) {
  size_t at = 0;
  for (size_t i = 0; i < raw_len; i++) {
    const char *entity = raw[i] == '&' ? "&amp;" : raw[i] == '<' ? "&lt;" :
                         raw[i] == '>' ? "&gt;" : raw[i] == '"' ? "&quot;" :
                         raw[i] == '\'' ? "&apos;" : NULL;
    size_t n = entity ? strlen(entity) : 1;
    if (len - at < n || memcmp(text + at, entity ? entity : raw + i, n) != 0) return 0;
    at += n;
  }
  return at == len;
}

static inline int wsman_base64_value (unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Decodes base64 (padded, = only at its end) and compares it with want[0..want_len): the
** number of bytes it decodes to when they begin want, else -1. */
static inline long wsman_base64_prefix (const char *data, size_t len, const char *want,
                                        size_t want_len) {
  size_t out = 0;
  if (len % 4 != 0) return -1;
  for (size_t i = 0; i < len; i += 4) {
    int pad = (data[i + 3] == '=') + (data[i + 2] == '=' && data[i + 3] == '=');
    if (pad && i + 4 != len) return -1;
    unsigned long v = 0;
    for (int j = 0; j < 4 - pad; j++) {
      int d = wsman_base64_value((unsigned char)data[i + j]);
      if (d < 0) return -1;
      v = (v << 6) | (unsigned long)d;
    }
    v <<= 6 * pad;
    for (int j = 0; j < 3 - pad; j++, out++) {
      if (out >= want_len || (unsigned char)want[out] != ((v >> (16 - 8 * j)) & 0xff))
        return -1;
    }
  }
  return (long)out;
}

/* An id the server gave (shell, command): bound at its first use, the same ever after. */
static inline int wsman_same_id (char *bound, size_t size, const char *id, size_t len) {
  if (bound[0] == '\0') {
    if (len == 0 || len >= size) return 0;
    memcpy(bound, id, len);
    bound[len] = '\0';
    return 1;
  }
  return strlen(bound) == len && memcmp(bound, id, len) == 0;
}

/* What a stdin piece does to the exchange; NULL, or why it is refused. */
static inline const char *wsman_send (WsmanExchange *x, const WsmanFields *f,
                                      const WsmanPermitted *permitted) {
  if (permitted->input == NULL) return "the permitted command has no stdin";
  if (x->input_ended) return "its stdin was already sent in full";
  long n = wsman_base64_prefix(f->data, f->data_len, permitted->input + x->input_sent,
                               permitted->input_len - x->input_sent);
  if (n < 0) return "the stdin it sends is not the permitted stdin";
  x->input_sent += (size_t)n;
  if (f->end && x->input_sent != permitted->input_len)
    return "it ends stdin before the permitted stdin was sent in full";
  x->input_ended = f->end;
  return NULL;
}

/* A session's Send: the next piece of the script its permit is for (the whole script, or
** its first piece when none is under way), or, with no permit, any bytes — but never while
** a permitted script is half sent. NULL, or why it is refused. */
static inline const char *wsman_session_send (WsmanExchange *x, const WsmanFields *f,
                                              const WsmanPermitted *permitted) {
  if (f->end) return "it ends the session's input (Signal terminate ends a session)";
  if (permitted->input == NULL)
    return x->input_sent ? "a permitted script was only partly sent" : NULL;
  long n = wsman_base64_prefix(f->data, f->data_len, permitted->input + x->input_sent,
                               permitted->input_len - x->input_sent);
  if (n <= 0) return "the bytes it sends are not the script its read permit is for";
  x->input_sent += (size_t)n;
  if (x->input_sent == permitted->input_len) x->input_sent = 0;   /* the script went whole */
  return NULL;
}

/* What step `step` does to the exchange; NULL, or why it is refused. */
static inline const char *wsman_advance (WsmanExchange *x, int step, const WsmanFields *f,
                                         const WsmanPermitted *permitted) {
  if (x->stage == WSMAN_DELETED) return "the permitted shell was already deleted";
  if (step == WSMAN_CREATE) {
    if (x->stage != WSMAN_NEW) return "a read permit covers one shell";
    x->stage = WSMAN_SHELL;
    return NULL;
  }
  if (x->stage == WSMAN_NEW) return "no shell was created yet";
  if (!wsman_same_id(x->shell_id, sizeof x->shell_id, f->shell_id, f->shell_id_len))
    return "it names another shell";
  if (step == WSMAN_DELETE) { x->stage = WSMAN_DELETED; return NULL; }
  if (step == WSMAN_COMMAND_LINE) {
    if (x->stage != WSMAN_SHELL) return "a read permit covers one command";
    if (!wsman_escaped_equals(f->text, f->text_len, permitted->command, permitted->command_len))
      return "its command line is not the permitted command";
    x->stage = WSMAN_COMMAND;
    return NULL;
  }
  if (x->stage != WSMAN_COMMAND) return "no command was started yet";
  if (!wsman_same_id(x->command_id, sizeof x->command_id, f->command_id, f->command_id_len))
    return "it names another command";
  if (step == WSMAN_SEND)
    return permitted->session ? wsman_session_send(x, f, permitted) : wsman_send(x, f, permitted);
  if (step == WSMAN_RECEIVE && !permitted->session && permitted->input && !x->input_ended)
    return "the permitted stdin was not sent in full yet";
  return NULL;                             /* Receive, Signal terminate */
}

/* Reads one envelope of the exchange on url into f and *step (WSMAN_CREATE...); NULL, or
** why it is refused. */
static inline const char *wsman_parse (const char *url, const char *body, size_t body_len,
                                       WsmanFields *f, int *step) {
  const char *end = body + body_len, *p;
  memset(f, 0, sizeof *f);
  if ((p = wsman_match(WSMAN_HEAD, body, end, f)) == NULL)
    return "its body is not a WS-Management shell envelope as runbook's winrm module sends it";
  if (!wsman_escaped_equals(f->to, f->to_len, url, strlen(url)))
    return "its envelope is addressed to another URL";
  for (*step = WSMAN_CREATE; *step <= WSMAN_DELETE; (*step)++) {
    if (strlen(WSMAN_STEPS[*step].action) != f->action_len ||
        memcmp(WSMAN_STEPS[*step].action, f->action, f->action_len) != 0)
      continue;
    if (wsman_match(WSMAN_STEPS[*step].rest, p, end, f) != end)
      return "its envelope is not the shape runbook's winrm module gives this action";
    return NULL;
  }
  return "its action is not one of Create, Command, Send, Receive, Signal, Delete";
}

#endif
