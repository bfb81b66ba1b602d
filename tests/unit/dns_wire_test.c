/*
** dns_wire_test.c — DNS wire format (runtime/dns_wire.c): names written and read back,
** compression pointers, headers, type names, base64.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_wire.h"
#include "unit.h"

/* Writes name in wire form and reads it back; the presentation form read, or NULL. */
static const char *round_trip (const char *name, int lowercase, char *out) {
  DnsBuf b;
  size_t off = 0;
  const char *result = out;
  dnsbuf_init(&b);
  if (dnsbuf_name(&b, name, lowercase) != 0 || dnsw_name(b.data, b.len, &off, out) != 0 ||
      off != b.len)
    result = NULL;
  dnsbuf_free(&b);
  return result;
}

static void names_survive_a_round_trip (void) {
  static const struct { const char *written, *read; int lowercase; } cases[] = {
    {"www.contoso.com", "www.contoso.com", 0},
    {"www.contoso.com.", "www.contoso.com", 0},
    {"_xmpp-server._tcp.Contoso.com", "_xmpp-server._tcp.Contoso.com", 0},
    {"WWW.Contoso.COM", "www.contoso.com", 1},
    {"a\\.b.example", "a\\.b.example", 0},
    {"tab\\009here.example", "tab\\009here.example", 0},
    {".", ".", 0},
  };
  char out[DNSW_NAME_MAX];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    CHECK_STR(cases[i].read, round_trip(cases[i].written, cases[i].lowercase, out));
}

static void bad_names_are_refused (void) {
  char long_label[80], long_name[300];
  const char *bad[] = {"a..b", "..", "trailing\\", "x\\256.example", long_label, long_name};
  DnsBuf b;
  memset(long_label, 'a', 64);
  long_label[64] = '\0';
  for (int i = 0; i < 296; i += 4) memcpy(long_name + i, "abc.", 4);
  long_name[296] = '\0';
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    dnsbuf_init(&b);
    if (dnsbuf_name(&b, bad[i], 0) != -1 || !b.failed)
      unit_fail(__FILE__, __LINE__, "name %.20s... was accepted", bad[i]);
    dnsbuf_free(&b);
  }
}

static void compression_pointers_are_followed_not_looped (void) {
  /* "contoso.com" at 0, then "www" + pointer to 0, then a pointer to itself */
  static const unsigned char msg[] = {
    7, 'c', 'o', 'n', 't', 'o', 's', 'o', 3, 'c', 'o', 'm', 0,
    3, 'w', 'w', 'w', 0xc0, 0x00,
    0xc0, 19,
    0xc0, 0x40};
  char out[DNSW_NAME_MAX];
  size_t off = 13;
  CHECK_INT(0, dnsw_name(msg, sizeof msg, &off, out));
  CHECK_STR("www.contoso.com", out);
  CHECK_INT(19, off);                       /* just after the pointer */
  off = 19;
  CHECK_INT(-1, dnsw_name(msg, sizeof msg, &off, out));
  off = 21;                                 /* points past the end */
  CHECK_INT(-1, dnsw_name(msg, sizeof msg, &off, out));
  off = 0;
  CHECK_INT(-1, dnsw_name(msg, 5, &off, out));  /* label runs past the end */
}

static void headers_read_back_what_was_written (void) {
  DnsBuf b;
  DnsHeader h;
  unsigned fields[6] = {0xbeef, 0x8180, 1, 2, 3, 4};
  dnsbuf_init(&b);
  for (int i = 0; i < 6; i++) dnsbuf_u16(&b, fields[i]);
  dnsbuf_set_u16(&b, 0, 0x1234);
  CHECK_INT(0, dnsw_header(b.data, b.len, &h));
  CHECK_INT(0x1234, h.id);
  CHECK_INT(0x8180, h.flags);
  CHECK_INT(1, h.qdcount);
  CHECK_INT(4, h.arcount);
  CHECK_INT(-1, dnsw_header(b.data, 11, &h));
  dnsbuf_free(&b);
}

static void type_names_and_codes_agree (void) {
  static const char *names[] = {"A", "NS", "CNAME", "SOA", "TXT", "AAAA", "SRV", "MX", "PTR"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    int code = dnsw_type_code(names[i]);
    CHECK(code > 0);
    CHECK_STR(names[i], dnsw_type_name((unsigned)code));
  }
  CHECK_INT(33, dnsw_type_code("SRV"));
  CHECK_INT(-1, dnsw_type_code("NOSUCHTYPE"));
}

static void base64_decodes_keys (void) {
  unsigned char out[16];
  size_t n = dnsw_base64_decode("aGVs\nbG8=", out, sizeof out);
  CHECK_INT(5, n);
  CHECK(n == 5 && memcmp(out, "hello", 5) == 0);
  CHECK(dnsw_base64_decode("not*base64", out, sizeof out) == (size_t)-1);
  CHECK(dnsw_base64_decode("aGVsbG8gd29ybGQhIQ==", out, 4) == (size_t)-1);   /* too long */
}

const UnitTest dns_wire_tests[] = {
  {"dns_wire: names survive a round trip", names_survive_a_round_trip},
  {"dns_wire: bad names are refused", bad_names_are_refused},
  {"dns_wire: compression pointers are followed, not looped",
   compression_pointers_are_followed_not_looped},
  {"dns_wire: headers read back what was written", headers_read_back_what_was_written},
  {"dns_wire: type names and codes agree", type_names_and_codes_agree},
  {"dns_wire: base64 decodes keys", base64_decodes_keys},
  {NULL, NULL}
};
