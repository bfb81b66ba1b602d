/*
** dns_wire.c — DNS wire format: building messages and reading them back. Every reader
** checks bounds against the message length and refuses compression loops: replies come
** from the network and the parser is fuzzed (tests/fuzz/dns_fuzz.c).
*/
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns_wire.h"

/* ---------------------------------------------------------------- building */

void dnsbuf_init (DnsBuf *b) {
  buffer_init(&b->bytes);
  b->failed = 0;
}

void dnsbuf_free (DnsBuf *b) {
  buffer_free(&b->bytes);
  b->failed = 0;
}

void dnsbuf_bytes (DnsBuf *b, const void *p, size_t n) {
  if (b->failed) return;
  if (buffer_append(&b->bytes, p, n) != 0) b->failed = 1;
}

void dnsbuf_u8 (DnsBuf *b, unsigned v) {
  unsigned char c = (unsigned char)v;
  dnsbuf_bytes(b, &c, 1);
}

void dnsbuf_u16 (DnsBuf *b, unsigned v) {
  unsigned char p[2] = { (unsigned char)(v >> 8), (unsigned char)v };
  dnsbuf_bytes(b, p, 2);
}

void dnsbuf_u32 (DnsBuf *b, uint32_t v) {
  dnsbuf_u16(b, v >> 16);
  dnsbuf_u16(b, v & 0xffff);
}

void dnsbuf_u48 (DnsBuf *b, uint64_t v) {
  dnsbuf_u16(b, (unsigned)((v >> 32) & 0xffff));
  dnsbuf_u32(b, (uint32_t)v);
}

void dnsbuf_set_u16 (DnsBuf *b, size_t at, unsigned v) {
  if (b->failed || at + 2 > b->len) return;
  b->data[at] = (unsigned char)(v >> 8);
  b->data[at + 1] = (unsigned char)v;
}

/* One character of a label in presentation form, with \X and \DDD escapes; -1 if bad. */
static int next_label_char (const char **p) {
  const char *s = *p;
  if (*s != '\\') { *p = s + 1; return (unsigned char)*s; }
  if (isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]) &&
      isdigit((unsigned char)s[3])) {
    int v = (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    *p = s + 4;
    return v > 255 ? -1 : v;
  }
  if (s[1] == '\0') return -1;
  *p = s + 2;
  return (unsigned char)s[1];
}

int dnsbuf_name (DnsBuf *b, const char *name, int lowercase) {
  unsigned char wire[255];
  size_t n = 0;
  const char *p = name;
  if (strcmp(name, ".") == 0) p = "";
  while (*p) {
    size_t at = n++;
    if (n >= sizeof wire) return b->failed = 1, -1;
    while (*p && *p != '.') {
      int c = next_label_char(&p);
      if (c < 0 || n >= sizeof wire) return b->failed = 1, -1;
      wire[n++] = (unsigned char)(lowercase ? tolower(c) : c);
    }
    size_t label = n - at - 1;
    if (label == 0 || label > 63) return b->failed = 1, -1;   /* empty label: "a..b" */
    wire[at] = (unsigned char)label;
    if (*p == '.') p++;
  }
  if (n >= sizeof wire) return b->failed = 1, -1;
  wire[n++] = 0;
  dnsbuf_bytes(b, wire, n);
  return 0;
}

/* ---------------------------------------------------------------- reading */

unsigned dnsw_u16 (const unsigned char *p) {
  return (unsigned)p[0] << 8 | p[1];
}

uint32_t dnsw_u32 (const unsigned char *p) {
  return (uint32_t)dnsw_u16(p) << 16 | dnsw_u16(p + 2);
}

int dnsw_header (const unsigned char *msg, size_t len, DnsHeader *h) {
  if (len < 12) return -1;
  h->id = dnsw_u16(msg);
  h->flags = dnsw_u16(msg + 2);
  h->qdcount = dnsw_u16(msg + 4);
  h->ancount = dnsw_u16(msg + 6);
  h->nscount = dnsw_u16(msg + 8);
  h->arcount = dnsw_u16(msg + 10);
  return 0;
}

/* Appends one label to out (at *n) in presentation form, escaping what would be ambiguous. */
static int append_label (char *out, size_t *n, const unsigned char *label, size_t len) {
  if (*n > 0 && !(*n == 1 && out[0] == '.')) out[(*n)++] = '.';
  else *n = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned c = label[i];
    if (*n + 5 >= DNSW_NAME_MAX) return -1;
    if (c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' || c == ')')
      out[(*n)++] = '\\', out[(*n)++] = (char)c;
    else if (c <= ' ' || c >= 0x7f) {
      out[(*n)++] = '\\';
      out[(*n)++] = (char)('0' + c / 100);
      out[(*n)++] = (char)('0' + c / 10 % 10);
      out[(*n)++] = (char)('0' + c % 10);
    } else out[(*n)++] = (char)c;
  }
  return 0;
}

int dnsw_name (const unsigned char *msg, size_t len, size_t *off, char *out) {
  size_t pos = *off, n = 0, wire_len = 0;
  int jumps = 0, jumped = 0;
  out[0] = '.'; out[1] = '\0'; n = 1;
  for (;;) {
    if (pos >= len) return -1;
    unsigned c = msg[pos];
    if ((c & 0xc0) == 0xc0) {
      if (pos + 1 >= len || ++jumps > 64) return -1;   /* compression loop */
      if (!jumped) *off = pos + 2;
      jumped = 1;
      pos = (c & 0x3f) << 8 | msg[pos + 1];
      continue;
    }
    if (c & 0xc0) return -1;                          /* 0x40 / 0x80: no such labels */
    if (c == 0) break;
    if (pos + 1 + c > len || (wire_len += c + 1) > 255) return -1;
    if (append_label(out, &n, msg + pos + 1, c) != 0) return -1;
    pos += 1 + c;
  }
  if (!jumped) *off = pos + 1;
  out[n] = '\0';
  return 0;
}

int dnsw_question (const unsigned char *msg, size_t len, size_t *off, char *name,
                   unsigned *type, unsigned *klass) {
  if (dnsw_name(msg, len, off, name) != 0 || *off + 4 > len) return -1;
  *type = dnsw_u16(msg + *off);
  *klass = dnsw_u16(msg + *off + 2);
  *off += 4;
  return 0;
}

int dnsw_rr (const unsigned char *msg, size_t len, size_t *off, DnsRR *rr) {
  rr->start = *off;
  if (dnsw_name(msg, len, off, rr->name) != 0 || *off + 10 > len) return -1;
  rr->type = dnsw_u16(msg + *off);
  rr->klass = dnsw_u16(msg + *off + 2);
  rr->ttl = dnsw_u32(msg + *off + 4);
  rr->rdlen = dnsw_u16(msg + *off + 8);
  rr->rdata = *off + 10;
  if (rr->rdata + rr->rdlen > len) return -1;
  *off = rr->rdata + rr->rdlen;
  return 0;
}

/* ---------------------------------------------------------------- names of numbers */

static const struct { unsigned code; const char *name; } types[] = {
  {DNSW_A, "A"}, {DNSW_NS, "NS"}, {DNSW_CNAME, "CNAME"}, {DNSW_SOA, "SOA"},
  {DNSW_TXT, "TXT"}, {DNSW_AAAA, "AAAA"}, {DNSW_SRV, "SRV"}, {DNSW_OPT, "OPT"},
  {DNSW_TSIG, "TSIG"}, {DNSW_ANY, "ANY"}, {12, "PTR"}, {15, "MX"}, {0, NULL}
};

const char *dnsw_type_name (unsigned type) {
  for (int i = 0; types[i].name; i++)
    if (types[i].code == type) return types[i].name;
  return NULL;
}

int dnsw_type_code (const char *name) {
  for (int i = 0; types[i].name; i++)
    if (strcasecmp(types[i].name, name) == 0) return (int)types[i].code;
  return -1;
}

/* Mnemonics of rcodes 0-23 (RFC 1035, 2136, 6891, 8945, 2930, 7873); NULL: unassigned. */
static const char *const rcode_names[] = {
  "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN",
  "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", NULL, NULL, NULL, NULL, NULL,
  "BADSIG", "BADKEY", "BADTIME", "BADMODE", "BADNAME", "BADALG", "BADTRUNC", "BADCOOKIE"
};
#define RCODE_NAMES (sizeof rcode_names / sizeof rcode_names[0])

const char *dnsw_rcode_name (unsigned rcode) {
  static const char *const unassigned[] = {
    "RCODE 11", "RCODE 12", "RCODE 13", "RCODE 14", "RCODE 15"
  };
  if (rcode < RCODE_NAMES && rcode_names[rcode]) return rcode_names[rcode];
  if (rcode >= 11 && rcode <= 15) return unassigned[rcode - 11];
  return NULL;
}

const char *dnsw_rcode_text (unsigned rcode, char *out, size_t size) {
  const char *name = dnsw_rcode_name(rcode);
  if (name && strncmp(name, "RCODE ", 6) != 0) return name;
  snprintf(out, size, "RCODE %u", rcode);
  return out;
}

unsigned dnsw_reply_rcode (const unsigned char *msg, size_t len) {
  DnsHeader h;
  DnsRR rr;
  char name[DNSW_NAME_MAX];
  unsigned type, klass;
  size_t off = 12;
  if (dnsw_header(msg, len, &h) != 0) return 0;
  unsigned rcode = h.flags & 0xf;
  for (unsigned i = 0; i < h.qdcount; i++)
    if (dnsw_question(msg, len, &off, name, &type, &klass) != 0) return rcode;
  for (unsigned i = 0; i < h.ancount + h.nscount + h.arcount; i++) {
    if (dnsw_rr(msg, len, &off, &rr) != 0) return rcode;
    if (rr.type == DNSW_OPT && i >= h.ancount + h.nscount)   /* RFC 6891 6.1.3 */
      return rcode | (unsigned)(rr.ttl >> 24) << 4;
  }
  return rcode;
}


/* ---------------------------------------------------------------- TSIG and updates */

size_t dnsw_base64_decode (const char *in, unsigned char *out, size_t max) {
  static const char digits[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  uint32_t acc = 0;
  size_t n = 0;
  int bits = 0;
  for (; *in && *in != '='; in++) {
    const char *d = strchr(digits, *in);
    if (*in == ' ' || *in == '\n' || *in == '\t') continue;
    if (d == NULL) return (size_t)-1;
    acc = acc << 6 | (uint32_t)(d - digits);
    if ((bits += 6) >= 8) {
      if (n >= max) return (size_t)-1;
      out[n++] = (unsigned char)(acc >> (bits -= 8));
    }
  }
  return n;
}

/* TSIG variables (RFC 8945 4.3.3) appended to b. */
void dnsw_tsig_variables (DnsBuf *b, const char *key_name, const char *algorithm,
                                uint64_t time_signed, unsigned fudge, unsigned error,
                                const unsigned char *other, size_t other_len) {
  dnsbuf_name(b, key_name, 1);
  dnsbuf_u16(b, DNSW_CLASS_ANY);
  dnsbuf_u32(b, 0);
  dnsbuf_name(b, algorithm, 1);
  dnsbuf_u48(b, time_signed);
  dnsbuf_u16(b, fudge);
  dnsbuf_u16(b, error);
  dnsbuf_u16(b, (unsigned)other_len);
  dnsbuf_bytes(b, other, other_len);
}

/* What the TSIG of a reply says: 0 verified, else a TSIG error code (16 BADSIG, 17 BADKEY,
** 18 BADTIME) or -1 (no or malformed TSIG) — see verify_reply. */
int dnsw_read_tsig (const unsigned char *msg, const DnsRR *rr, Tsig *t) {
  size_t off = rr->rdata, end = rr->rdata + rr->rdlen;
  if (dnsw_name(msg, end, &off, t->algorithm) != 0 || off + 10 > end) return -1;
  t->time_signed = (uint64_t)dnsw_u16(msg + off) << 32 | dnsw_u32(msg + off + 2);
  t->fudge = dnsw_u16(msg + off + 6);
  t->mac_len = dnsw_u16(msg + off + 8);
  t->mac = off + 10;
  off = t->mac + t->mac_len;
  if (off + 6 > end) return -1;
  t->original_id = dnsw_u16(msg + off);
  t->error = dnsw_u16(msg + off + 2);
  t->other_len = dnsw_u16(msg + off + 4);
  t->other = off + 6;
  return t->other + t->other_len == end ? 0 : -1;
}

/* What each rcode means for an update, and its likely cause (RFC 2136 2.2, RFC 8945,
** RFC 2930 for the TKEY errors, RFC 7873 for cookies). */
const char *dnsw_update_explanation (unsigned rcode) {
  static const struct { unsigned rcode; const char *text; } texts[] = {
    {1, "the server could not parse the update: a record value may be malformed"},
    {2, "the server failed to apply it: see the server's log (zone not loaded, journal not "
        "writable)"},
    {3, "a prerequisite failed: a name that must exist does not (someone removed it since it "
        "was read)"},
    {4, "the server does not implement dynamic update"},
    {5, "the server does not allow this update: check allow-update / update-policy for the "
        "zone and that the update is signed with a key it grants"},
    {6, "a prerequisite failed: a name that must not exist does (someone created it since it "
        "was read)"},
    {7, "a prerequisite failed: an RRset that must not exist does (someone created it since "
        "it was read)"},
    {8, "a prerequisite failed: an RRset that must exist with the values read before does "
        "not (someone changed it since it was read)"},
    {9, "the server is not authoritative for the zone: check the zone name and send updates "
        "to its primary server"},
    {10, "a name in the update is outside the zone: check the record names"},
    {16, "the TSIG signature did not verify: the key's secret or algorithm differs from the "
         "server's"},
    {17, "the server does not know the TSIG key: check the key name and algorithm against "
         "the server's configuration"},
    {18, "the TSIG time is outside the allowed fudge: synchronize the clocks (NTP) of this "
         "host and the server"},
    {19, "the server refused a TKEY mode (RFC 2930): it does not negotiate GSS-TSIG keys "
         "(BIND: tkey-gssapi-keytab)"},
    {20, "the server refused a TKEY key name (RFC 2930): see its log"},
    {21, "the server does not support the key's algorithm: configure the key with one it "
         "supports (hmac-sha256 on BIND, Knot and PowerDNS) on both sides"},
    {22, "the server refused the length of the TSIG MAC: runbook sends full-length MACs, so "
         "the server's key may have another algorithm or a minimum MAC length: compare them"},
    {23, "the server requires a valid DNS cookie (RFC 7873), which runbook's updates do not "
         "carry: exempt this host from the requirement (BIND: require-server-cookie no)"},
  };
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
    if (texts[i].rcode == rcode) return texts[i].text;
  return "a code that no DNS standard assigns to an update's answer: the server (or "
         "something between it and this host) is misbehaving: see the server's log";
}
