/*
** xml.c — runbook.xml: an incremental XML parser (expat) for streams that never end,
** such as an XMPP stream, and for SOAP bodies.
**   xml.parser{max_depth=, max_buffer=, max_text=} -> parser
**   parser:feed(chunk) -> events | nil, message, code    (code "syntax", "limit" or
**                                                         "memory")
**   parser:finish()    -> events | nil, message, code    (the document must be complete)
** xml.expat_version is the library's version, xml.reparse_deferral "off" (turned off) or
** "absent" (the library has none).
** An event is {type="start", name=, namespace=, attributes={...}, depth=, namespaces=},
** {type="end", name=, namespace=, depth=} or {type="text", text=}. Namespaced attributes
** are keyed "{uri}name", plain ones "name"; namespaces, only on a tag that declares any,
** maps each prefix it declares to the URI ("" is the default namespace: xmlns='...').
** Events do not depend on how the input was cut into chunks: text is reported whole, just
** before the next start or end tag.
** Limits make hostile input fail instead of growing memory: nesting depth, bytes expat may
** hold without producing an event (a tag that never ends), and the length of one text.
** A DOCTYPE is refused (no entity expansion, as RFC 6120 §11.1 requires of XMPP). The input
** is read as UTF-8 whatever it declares. After the document element only whitespace may
** follow; anything else is an error however the input was cut (expat alone would decide
** by where the chunk ends).
** Expat's callbacks never raise: what they add to the events is built under lua_pcall, so a
** failed allocation cannot longjmp out of XML_Parse and leave expat inside a token; it fails
** the parser (code "memory") instead, which then stays failed like any other.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE          /* dladdr, for builds without the Makefile's flags (the fuzzer) */
#endif
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>
#include <lua.h>
#include <lauxlib.h>

#include "buffer.h"
#include "fail.h"

#define PARSER_TYPE "runbook.xml.parser"
#define NS_SEPARATOR '\x01'

typedef struct Parser {
  XML_Parser expat;
  lua_State *L;              /* during feed: where events go */
  int list;                  /* stack index of the list of events; the next tag's namespace
                             ** declarations (a table, or nil) are just above it */
  int events;                /* number of events in that list */
  int depth, max_depth;
  long long fed;             /* bytes given to feed so far */
  long long event_at;        /* byte index where the latest event started */
  long long root_end;        /* byte index just after the document element, or -1 */
  size_t max_buffer, max_text;
  Buffer text;               /* text since the last tag */
  const char *error_code;    /* set once the parser has failed: it stays failed */
  char error[200];
} Parser;

static void fail (Parser *p, const char *code, const char *message) {
  if (p->error_code == NULL) {
    p->error_code = code;
    snprintf(p->error, sizeof p->error, "xml: %s", message);
  }
  XML_StopParser(p->expat, XML_FALSE);
}

static void mark_event (Parser *p) {
  p->event_at = XML_GetCurrentByteIndex(p->expat);
}

/* What a callback hands the function that builds its event under lua_pcall. */
typedef struct Pending {
  Parser *p;
  const XML_Char *name, **attributes;   /* a start or end tag */
  const XML_Char *prefix, *uri;         /* a namespace declaration */
} Pending;

/* Pushes "uri\1local" split into name and namespace fields of the table on top. */
static void set_name (lua_State *L, const char *qualified) {
  const char *sep = strchr(qualified, NS_SEPARATOR);
  if (sep) {
    lua_pushlstring(L, qualified, (size_t)(sep - qualified));
    lua_setfield(L, -2, "namespace");
    lua_pushstring(L, sep + 1);
  } else {
    lua_pushstring(L, qualified);
  }
  lua_setfield(L, -2, "name");
}

/* Moves the event on top into the list at index list. */
static void append_event (lua_State *L, Parser *p, int list) {
  lua_rawseti(L, list, p->events + 1);
  p->events++;
}

static void flush_text (lua_State *L, Parser *p, int list) {
  if (p->text.len == 0) return;
  lua_createtable(L, 0, 2);
  lua_pushliteral(L, "text");
  lua_setfield(L, -2, "type");
  lua_pushlstring(L, p->text.data, p->text.len);
  lua_setfield(L, -2, "text");
  append_event(L, p, list);
  p->text.len = 0;
}

static void push_attributes (lua_State *L, const XML_Char **attributes) {
  lua_newtable(L);
  for (int i = 0; attributes[i]; i += 2) {
    const char *sep = strchr(attributes[i], NS_SEPARATOR);
    if (sep) {
      lua_pushlstring(L, attributes[i], (size_t)(sep - attributes[i]));
      lua_pushfstring(L, "{%s}%s", lua_tostring(L, -1), sep + 1);
      lua_remove(L, -2);
    }
    else lua_pushstring(L, attributes[i]);
    lua_pushstring(L, attributes[i + 1]);
    lua_rawset(L, -3);
  }
  lua_setfield(L, -2, "attributes");
}

/* The builders run under lua_pcall with (pending, list, declarations or nil) and return
** the declarations still waiting for a tag. */
static int build_start (lua_State *L) {
  Pending *e = (Pending *)lua_touserdata(L, 1);
  flush_text(L, e->p, 2);
  lua_createtable(L, 0, 5);
  lua_pushliteral(L, "start");
  lua_setfield(L, -2, "type");
  set_name(L, e->name);
  push_attributes(L, e->attributes);
  lua_pushinteger(L, e->p->depth);
  lua_setfield(L, -2, "depth");
  if (!lua_isnil(L, 3)) {
    lua_pushvalue(L, 3);
    lua_setfield(L, -2, "namespaces");
  }
  append_event(L, e->p, 2);
  lua_pushnil(L);                 /* the tag took its declarations */
  return 1;
}

static int build_end (lua_State *L) {
  Pending *e = (Pending *)lua_touserdata(L, 1);
  flush_text(L, e->p, 2);
  lua_createtable(L, 0, 4);
  lua_pushliteral(L, "end");
  lua_setfield(L, -2, "type");
  set_name(L, e->name);
  lua_pushinteger(L, e->p->depth);
  lua_setfield(L, -2, "depth");
  append_event(L, e->p, 2);
  lua_pushvalue(L, 3);
  return 1;
}

/* Expat reports a tag's xmlns declarations just before the tag itself: they wait in a
** table on the stack for the start tag. */
static int build_namespace (lua_State *L) {
  Pending *e = (Pending *)lua_touserdata(L, 1);
  if (lua_isnil(L, 3)) {
    lua_newtable(L);
    lua_replace(L, 3);
  }
  lua_pushstring(L, e->uri ? e->uri : "");
  lua_setfield(L, 3, e->prefix ? e->prefix : "");
  lua_pushvalue(L, 3);
  return 1;
}

/* Runs a builder inside expat's callback without letting an error out of it: a failure
** (out of memory) fails the parser instead. */
static void build_event (Parser *p, lua_CFunction build, Pending *e) {
  lua_State *L = p->L;
  e->p = p;
  if (!lua_checkstack(L, 4)) {
    fail(p, "memory", "out of memory for the events");
    return;
  }
  lua_pushcfunction(L, build);
  lua_pushlightuserdata(L, e);
  lua_pushvalue(L, p->list);
  lua_pushvalue(L, p->list + 1);
  if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
    lua_pop(L, 1);
    fail(p, "memory", "out of memory for the events");
    return;
  }
  lua_replace(L, p->list + 1);
}

static void on_start (void *data, const XML_Char *name, const XML_Char **attributes) {
  Parser *p = (Parser *)data;
  Pending e = { NULL, name, attributes, NULL, NULL };
  if (p->error_code) return;
  mark_event(p);
  if (p->depth >= p->max_depth) {
    fail(p, "limit", "elements nested deeper than the limit (max_depth)");
    return;
  }
  p->depth++;
  build_event(p, build_start, &e);
}

static void on_namespace (void *data, const XML_Char *prefix, const XML_Char *uri) {
  Parser *p = (Parser *)data;
  Pending e = { NULL, NULL, NULL, prefix, uri };
  if (p->error_code) return;
  build_event(p, build_namespace, &e);
}

static void on_end (void *data, const XML_Char *name) {
  Parser *p = (Parser *)data;
  Pending e = { NULL, name, NULL, NULL, NULL };
  if (p->error_code) return;
  mark_event(p);
  build_event(p, build_end, &e);
  p->depth--;
  if (p->depth == 0)
    p->root_end = XML_GetCurrentByteIndex(p->expat) + XML_GetCurrentByteCount(p->expat);
}

static void on_text (void *data, const XML_Char *s, int len) {
  Parser *p = (Parser *)data;
  size_t need;
  if (p->error_code) return;
  mark_event(p);
  need = p->text.len + (size_t)len;
  if (need > p->max_text) {
    fail(p, "limit", "a text longer than the limit (max_text)");
    return;
  }
  if (buffer_append(&p->text, s, (size_t)len) != 0)
    fail(p, "limit", "out of memory for text");
}

static void on_doctype (void *data, const XML_Char *name, const XML_Char *sysid,
                        const XML_Char *pubid, int has_internal_subset) {
  (void)name; (void)sysid; (void)pubid; (void)has_internal_subset;
  fail((Parser *)data, "syntax", "a DOCTYPE is not allowed (no DTDs, no entities)");
}

static Parser *check_parser (lua_State *L) {
  Parser *p = (Parser *)luaL_checkudata(L, 1, PARSER_TYPE);
  if (p->expat == NULL) luaL_error(L, "xml: the parser is closed");
  return p;
}

static int push_error (lua_State *L, Parser *p) {
  return fail_result(L, p->error_code, "%s", p->error);
}

/* Where the first character XML 1.0 forbids is (a C0 control but tab, LF and CR), or len.
** expat's verdict on them depends on where a chunk ends, so expat never sees one: the bytes
** before it are parsed, then the parser fails — an earlier error wins however the input
** was cut. */
static size_t first_control (const char *chunk, size_t len) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)chunk[i];
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return i;
  }
  return len;
}

static void fail_control (Parser *p, unsigned char c) {
  char message[96];
  snprintf(message, sizeof message, "control character 0x%02x at byte %lld", c, p->fed);
  fail(p, "syntax", message);
}

/* Fails on anything but whitespace after the document element; chunk starts at byte
** index start. */
static int check_epilog (Parser *p, const char *chunk, size_t len, long long start) {
  if (p->root_end < 0 || p->error_code) return !p->error_code;
  for (size_t i = p->root_end > start ? (size_t)(p->root_end - start) : 0; i < len; i++) {
    if (!strchr(" \t\r\n", chunk[i]) || chunk[i] == '\0') {
      char message[96];
      snprintf(message, sizeof message, "junk after the document element at byte %lld",
               start + (long long)i);
      fail(p, "syntax", message);
      return 0;
    }
  }
  return 1;
}

/* Runs expat over one chunk; events list on top of the stack. */
static int parse (lua_State *L, Parser *p, const char *chunk, size_t len, int final) {
  long long start = p->fed;
  size_t clean = first_control(chunk, len);
  if (p->error_code || !check_epilog(p, chunk, clean, start)) return push_error(L, p);
  lua_newtable(L);
  lua_pushnil(L);            /* no namespace declarations waiting */
  p->L = L;
  p->list = lua_gettop(L) - 1;
  p->events = 0;
  p->fed += (long long)clean;
  if (XML_Parse(p->expat, chunk, (int)clean, final && clean == len) == XML_STATUS_ERROR
      && !p->error_code) {
    char message[160];
    snprintf(message, sizeof message, "%s at line %lu, column %lu",
             XML_ErrorString(XML_GetErrorCode(p->expat)),
             (unsigned long)XML_GetCurrentLineNumber(p->expat),
             (unsigned long)XML_GetCurrentColumnNumber(p->expat));
    fail(p, "syntax", message);
  }
  check_epilog(p, chunk, clean, start);
  if (!p->error_code && clean < len) fail_control(p, (unsigned char)chunk[clean]);
  if (!p->error_code && p->fed - p->event_at > (long long)p->max_buffer)
    fail(p, "limit", "more bytes without a complete tag than the limit (max_buffer)");
  p->L = NULL;
  if (final && !p->error_code) flush_text(L, p, p->list);   /* outside expat: may raise */
  if (p->error_code) return push_error(L, p);
  lua_settop(L, p->list);
  return 1;
}

/* parser:feed(chunk) -> events | nil, message, code */
static int parser_feed (lua_State *L) {
  Parser *p = check_parser(L);
  size_t len;
  const char *chunk = luaL_checklstring(L, 2, &len);
  luaL_argcheck(L, len <= (size_t)1 << 30, 2, "chunk too large");
  return parse(L, p, chunk, len, 0);
}

/* parser:finish() -> events | nil, message, code: the input ends here. */
static int parser_finish (lua_State *L) {
  return parse(L, check_parser(L), "", 0, 1);
}

/* parser:depth() -> how many elements are open */
static int parser_depth (lua_State *L) {
  lua_pushinteger(L, check_parser(L)->depth);
  return 1;
}

static int parser_close (lua_State *L) {
  Parser *p = (Parser *)luaL_checkudata(L, 1, PARSER_TYPE);
  if (p->expat) XML_ParserFree(p->expat);
  p->expat = NULL;
  buffer_free(&p->text);
  return 0;
}

static lua_Integer limit_field (lua_State *L, const char *key, lua_Integer fallback) {
  lua_Integer value = fallback;
  if (!lua_istable(L, 1)) return value;
  lua_getfield(L, 1, key);
  if (!lua_isnil(L, -1)) {
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1)
      luaL_error(L, "xml.parser: %s must be a positive integer", key);
    value = lua_tointeger(L, -1);
  }
  lua_pop(L, 1);
  return value;
}

/*
** Reparse deferral (Expat 2.6.0, and Debian's 2.5.0-1+deb12u2 backport, which keeps the
** version macros at 2.5.0) holds a complete tag back until more bytes arrive; a stream
** peer that waits for our answer after its last byte would wait for ever. The setter is
** looked up at run time, in the library this code is linked with: a binary built against
** an older header still turns deferral off once the library is upgraded under it, and a
** library without the setter has no deferral to turn off. The name is a macro so that a
** test can build the "library without it" case (tests/unit/xml_deferral_test.c).
*/
#ifndef EXPAT_DEFERRAL_SETTER
#define EXPAT_DEFERRAL_SETTER "XML_SetReparseDeferralEnabled"
#endif

typedef XML_Bool (*DeferralSetter) (XML_Parser parser, XML_Bool enabled);

static DeferralSetter deferral_setter (void) {
  static int looked_up = 0;
  static DeferralSetter setter = NULL;
  Dl_info info;
  if (looked_up) return setter;
  looked_up = 1;
  /* libexpat may be local to a module lua5.4 loaded (RTLD_LOCAL): ask that library. */
  if (dladdr((void *)XML_ParserCreateNS, &info) && info.dli_fname != NULL) {
    void *library = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (library != NULL) {
      *(void **)&setter = dlsym(library, EXPAT_DEFERRAL_SETTER);
      dlclose(library);  /* NOLOAD took one more reference: the library stays loaded */
    }
  }
  return setter;
}

/* "off" when this library defers reparsing and runbook turned it off, "absent" when the
** library has no deferral (older than Expat 2.6.0 and without Debian's backport). */
static const char *deferral_state (void) {
  return deferral_setter() != NULL ? "off" : "absent";
}

/* xml.parser{max_depth=64, max_buffer=65536, max_text=65536} -> parser */
static int xml_parser (lua_State *L) {
  lua_Integer max_depth = limit_field(L, "max_depth", 64);
  lua_Integer max_buffer = limit_field(L, "max_buffer", 65536);
  lua_Integer max_text = limit_field(L, "max_text", 65536);
  Parser *p = (Parser *)lua_newuserdatauv(L, sizeof(Parser), 0);
  memset(p, 0, sizeof *p);
  luaL_setmetatable(L, PARSER_TYPE);
  p->max_depth = max_depth > 100000 ? 100000 : (int)max_depth;
  p->max_buffer = (size_t)max_buffer;
  p->max_text = (size_t)max_text;
  p->root_end = -1;
  /* UTF-8 always (RFC 6120 §11.6): guessing the encoding from the first bytes would make
  ** the events depend on how the input was cut. */
  p->expat = XML_ParserCreateNS("UTF-8", NS_SEPARATOR);
  if (p->expat == NULL) return luaL_error(L, "xml: out of memory");
  XML_SetUserData(p->expat, p);
  XML_SetElementHandler(p->expat, on_start, on_end);
  XML_SetCharacterDataHandler(p->expat, on_text);
  XML_SetStartNamespaceDeclHandler(p->expat, on_namespace);
  XML_SetStartDoctypeDeclHandler(p->expat, on_doctype);
  /* A stream peer waits for our answer after its last byte: report every complete tag
  ** at once. The deferral guards against quadratic re-parsing of huge tokens, which
  ** max_buffer bounds here. */
  if (deferral_setter() != NULL) deferral_setter()(p->expat, XML_FALSE);
  return 1;
}

static const luaL_Reg xml_funcs[] = {
  {"parser", xml_parser},
  {NULL, NULL}
};

static const luaL_Reg parser_meth[] = {
  {"feed", parser_feed},
  {"finish", parser_finish},
  {"depth", parser_depth},
  {"close", parser_close},
  {NULL, NULL}
};

static const luaL_Reg parser_metameth[] = {
  {"__index", NULL},
  {"__gc", parser_close},
  {"__close", parser_close},
  {NULL, NULL}
};

int luaopen_runbook_xml (lua_State *L) {
  luaL_newmetatable(L, PARSER_TYPE);
  luaL_setfuncs(L, parser_metameth, 0);
  luaL_newlibtable(L, parser_meth);
  luaL_setfuncs(L, parser_meth, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, xml_funcs);
  lua_pushstring(L, XML_ExpatVersion());
  lua_setfield(L, -2, "expat_version");
  lua_pushstring(L, deferral_state());
  lua_setfield(L, -2, "reparse_deferral");
  return 1;
}
