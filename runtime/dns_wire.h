/*
** dns_wire.h — DNS wire format (RFC 1035, 2136, 8945) without Lua: a growing buffer to
** build messages in, and bounds-checked readers for headers, names and resource records.
** Used by dns.c (runbook.dns) and by the parser's fuzz target (tests/fuzz/).
*/
#ifndef RUNBOOK_DNS_WIRE_H
#define RUNBOOK_DNS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "buffer.h"

#define DNSW_NAME_MAX 1025   /* presentation form of the longest name, with escapes */

enum {
  DNSW_A = 1, DNSW_NS = 2, DNSW_CNAME = 5, DNSW_SOA = 6, DNSW_TXT = 16, DNSW_AAAA = 28,
  DNSW_SRV = 33, DNSW_OPT = 41, DNSW_TSIG = 250, DNSW_ANY = 255
};
enum { DNSW_IN = 1, DNSW_CLASS_NONE = 254, DNSW_CLASS_ANY = 255 };

/* A message under construction; `failed` is set once when out of memory or a name is bad.
** Its bytes are the one growable buffer (buffer.h), seen as unsigned octets: the union
** lets the wire code read b->data as unsigned char while buffer.h grows b->bytes. */
typedef struct DnsBuf {
  union {
    Buffer bytes;
    struct { unsigned char *data; size_t len, cap; };
  };
  int failed;
} DnsBuf;

void dnsbuf_init (DnsBuf *b);
void dnsbuf_free (DnsBuf *b);
void dnsbuf_bytes (DnsBuf *b, const void *p, size_t n);
void dnsbuf_u8 (DnsBuf *b, unsigned v);
void dnsbuf_u16 (DnsBuf *b, unsigned v);
void dnsbuf_u32 (DnsBuf *b, uint32_t v);
void dnsbuf_u48 (DnsBuf *b, uint64_t v);
void dnsbuf_set_u16 (DnsBuf *b, size_t at, unsigned v);
/* Uncompressed wire name from presentation form ("www.contoso.com", trailing dot optional,
** \. and \DDD escapes); lowercase = 1 writes the canonical form (TSIG). 0, or -1 bad name. */
int dnsbuf_name (DnsBuf *b, const char *name, int lowercase);

typedef struct DnsHeader {
  unsigned id, flags, qdcount, ancount, nscount, arcount;
} DnsHeader;

typedef struct DnsRR {
  char name[DNSW_NAME_MAX];
  unsigned type, klass;
  uint32_t ttl;
  size_t start;          /* offset of the RR's owner name in the message */
  size_t rdata, rdlen;   /* offset and length of RDATA */
} DnsRR;

unsigned dnsw_u16 (const unsigned char *p);
uint32_t dnsw_u32 (const unsigned char *p);
int dnsw_header (const unsigned char *msg, size_t len, DnsHeader *h);
/* Reads a possibly compressed name at *off into out (presentation form without the final
** dot, "." for the root) and advances *off. 0, or -1 when malformed. */
int dnsw_name (const unsigned char *msg, size_t len, size_t *off, char *out);
int dnsw_question (const unsigned char *msg, size_t len, size_t *off, char *name,
                   unsigned *type, unsigned *klass);
int dnsw_rr (const unsigned char *msg, size_t len, size_t *off, DnsRR *rr);

const char *dnsw_type_name (unsigned type);
int dnsw_type_code (const char *name);   /* -1 when unknown */
/* An rcode's mnemonic ("NOTAUTH", "BADTIME"); "RCODE n" for 11-15, which have none;
** NULL above 23 (TSIG errors are 16 bits: use dnsw_rcode_text). */
const char *dnsw_rcode_name (unsigned rcode);
/* The mnemonic, or "RCODE n" written into out (size >= 12) when the rcode has none. */
const char *dnsw_rcode_text (unsigned rcode, char *out, size_t size);
/* A reply's rcode: the header's 4 bits with an OPT record's extended bits (RFC 6891). */
unsigned dnsw_reply_rcode (const unsigned char *msg, size_t len);

/* TSIG (RFC 8945) and update (RFC 2136) helpers */
typedef struct Tsig {
  char algorithm[DNSW_NAME_MAX];
  uint64_t time_signed;
  unsigned fudge, error, original_id;
  size_t mac, mac_len, other, other_len;
} Tsig;

size_t dnsw_base64_decode (const char *in, unsigned char *out, size_t max);  /* -1 if bad */
void dnsw_tsig_variables (DnsBuf *b, const char *key_name, const char *algorithm,
                          uint64_t time_signed, unsigned fudge, unsigned error,
                          const unsigned char *other, size_t other_len);
int dnsw_read_tsig (const unsigned char *msg, const DnsRR *rr, Tsig *t);
/* What an rcode (or TSIG error) in reply to an update means, with its likely cause. */
const char *dnsw_update_explanation (unsigned rcode);

#endif
