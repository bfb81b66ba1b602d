/*
** xml_test.c — runtime/xml.c when Lua runs out of memory inside expat's callbacks: a Lua
** state whose allocator fails the Nth allocation, for every N a feed makes. Whatever fails,
** the feed returns or raises a Lua error, no memory is touched after it is freed (ASan), and
** the events the parser hands out across feeds are never more than the document's, each
** once and at its depth: an error that longjmp'd out of XML_Parse would leave expat inside
** a token, and the next feed would hand out events again.
*/
#include "../../runtime/xml.c"

#include <lauxlib.h>

#include "unit.h"

/* Fails every allocation once `left` more allocations have been made, while limited (a
** call of the parser; left < 0: never). */
typedef struct Budget {
  long left;
  int limited, failed;
} Budget;

static void *budget_alloc (void *ud, void *ptr, size_t osize, size_t nsize) {
  Budget *b = (Budget *)ud;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  if (b->limited && (ptr == NULL || nsize > osize)) {
    if (b->left <= 0) {
      b->failed = 1;
      return NULL;
    }
    b->left--;
  }
  return realloc(ptr, nsize);
}

static const char DOCUMENT[] =
  "<a xmlns='urn:a' xmlns:p='urn:p'><p:b k='v' p:k2='w'>text</p:b><c/>tail</a>";
static const char *const HALVES[] = {   /* the document cut inside a text */
  "<a xmlns='urn:a' xmlns:p='urn:p'><p:b k='v' p:k2='w'>te", "xt</p:b><c/>tail</a>"
};
static const char *const EXPECTED[] = {
  "start a 1", "start b 2", "text text", "end b 2", "start c 2", "end c 2",
  "text tail", "end a 1", NULL
};

/* The event at the top of the stack as "type name depth" (or "text TEXT"). */
static void describe_event (lua_State *L, char *out, size_t size) {
  lua_getfield(L, -1, "type");
  lua_getfield(L, -2, strcmp(lua_tostring(L, -1), "text") == 0 ? "text" : "name");
  lua_getfield(L, -3, "depth");
  if (lua_isnil(L, -1)) snprintf(out, size, "%s %s", lua_tostring(L, -3), lua_tostring(L, -2));
  else snprintf(out, size, "%s %s %d", lua_tostring(L, -3), lua_tostring(L, -2),
                (int)lua_tointeger(L, -1));
  lua_pop(L, 3);
}

/* parser:method(chunk) under pcall, with the budget limited during the call only; the
** events it returned are checked against EXPECTED from *seen on. Returns 1 when it
** returned events. */
static int call_and_check (lua_State *L, Budget *budget, const char *method,
                           const char *chunk, int *seen) {
  char event[128];
  lua_getfield(L, 1, method);
  lua_pushvalue(L, 1);
  if (chunk) lua_pushstring(L, chunk);
  budget->limited = budget->left >= 0;
  int status = lua_pcall(L, chunk ? 2 : 1, 1, 0);
  budget->limited = 0;
  int got_events = status == LUA_OK && lua_istable(L, -1);
  if (status != LUA_OK) CHECK(lua_type(L, -1) == LUA_TSTRING);
  for (lua_Integer i = 1; got_events && i <= (lua_Integer)lua_rawlen(L, -1); i++) {
    lua_rawgeti(L, -1, i);
    describe_event(L, event, sizeof event);
    lua_pop(L, 1);
    if (EXPECTED[*seen] == NULL) unit_fail(__FILE__, __LINE__, "extra event %s", event);
    else if (strcmp(EXPECTED[*seen], event) != 0)
      unit_fail(__FILE__, __LINE__, "event %d is %s, expected %s", *seen + 1, event,
                EXPECTED[*seen]);
    else (*seen)++;
  }
  lua_settop(L, 1);
  return got_events;
}

/* One run: the nth allocation of the first feed fails (the whole document, or its first
** half); then the rest is fed and the parser finished without a limit. */
static int run_failing_at (long n, int halves) {
  Budget budget = { 0, 0, 0 };
  lua_State *L = lua_newstate(budget_alloc, &budget);
  int seen = 0;
  luaL_requiref(L, "runbook.xml", luaopen_runbook_xml, 0);
  lua_getfield(L, -1, "parser");
  lua_call(L, 0, 1);
  lua_replace(L, 1);
  lua_settop(L, 1);
  budget.left = n;
  call_and_check(L, &budget, "feed", halves ? HALVES[0] : DOCUMENT, &seen);
  budget.left = -1;          /* unlimited from here on */
  call_and_check(L, &budget, "feed", halves ? HALVES[1] : "", &seen);
  call_and_check(L, &budget, "finish", NULL, &seen);
  lua_close(L);
  return budget.failed;
}

static void test_allocation_failures_in_callbacks (void) {
  for (int halves = 0; halves <= 1; halves++) {
    long n = 0;
    while (run_failing_at(n, halves) && n < 10000) n++;
    CHECK(n > 20);            /* the feed allocates for every event: each was failed once */
    CHECK(n < 10000);
  }
}

const UnitTest xml_tests[] = {
  {"xml: an allocation failing anywhere in a feed leaves a clean error",
   test_allocation_failures_in_callbacks},
  {NULL, NULL}
};
