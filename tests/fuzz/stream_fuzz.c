/*
** stream_fuzz.c — libFuzzer target for what an XMPP peer controls (issue 6):
**   1. runtime/xml.c: any bytes, fed whole and fed in chunks cut where the input's first
**      bytes say, must give the same events (namespace declarations included) or the same
**      error — and never crash;
**   2. xmpp.certificate_names (modules/xmpp.lua): any presented names against any domain
**      must never raise, and a match must be the domain itself or "*." + its parent.
** Build and run: tests/fuzz/run.sh [seconds]  (clang, libFuzzer, ASan, UBSan).
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

int luaopen_runbook_xml (lua_State *L);

static const char *const CHECK = "\
local data = ...\n\
local xml = require 'runbook.xml'\n\
local function run(chunks)\n\
  local parser, out = xml.parser(), {}\n\
  for _, chunk in ipairs(chunks) do\n\
    local events, message, code = parser:feed(chunk)\n\
    if not events then return 'error ' .. code end\n\
    for _, e in ipairs(events) do\n\
      local line = e.type .. ' ' .. tostring(e.namespace) .. ' ' .. tostring(e.name) ..\n\
        ' ' .. tostring(e.depth) .. ' ' .. tostring(e.text)\n\
      local keys = {}\n\
      for k in pairs(e.attributes or {}) do keys[#keys + 1] = k end\n\
      table.sort(keys)\n\
      for _, k in ipairs(keys) do line = line .. ' ' .. k .. '=' .. e.attributes[k] end\n\
      keys = {}\n\
      for k in pairs(e.namespaces or {}) do keys[#keys + 1] = k end\n\
      table.sort(keys)\n\
      for _, k in ipairs(keys) do line = line .. ' xmlns:' .. k .. '=' .. e.namespaces[k] end\n\
      out[#out + 1] = line\n\
    end\n\
  end\n\
  return table.concat(out, '\\n')\n\
end\n\
local cuts, body = data:byte(1) or 1, data:sub(2)\n\
local chunks, at = {}, 1\n\
while at <= #body do\n\
  local size = 1 + (cuts + at) % 7\n\
  chunks[#chunks + 1] = body:sub(at, at + size - 1)\n\
  at = at + size\n\
end\n\
local whole, pieces = run({ body }), run(chunks)\n\
if whole ~= pieces then error('chunking changed the events:\\n' .. whole .. '\\n--\\n' .. pieces) end\n\
local xmpp = require 'xmpp'\n\
local names = {}\n\
for name in body:gmatch('[^,]*') do names[#names + 1] = name end\n\
local domain = table.remove(names, 1) or ''\n\
local ok, match = pcall(xmpp.certificate_names, { dns_names = names, subject_cn = names[1] }, domain)\n\
if ok and match and not match:find('subject CN', 1, true) then\n\
  local m, d = match:lower():gsub('%.$', ''), domain:lower():gsub('%.$', '')\n\
  if not (m == d or m == '*.' .. d:gsub('^[^.]*%.', '')) then\n\
    error('certificate name ' .. match .. ' accepted for ' .. domain)\n\
  end\n\
end\n";

static lua_State *state;

static lua_State *setup (void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_runbook_xml);
  lua_setfield(L, -2, "runbook.xml");
  lua_pop(L, 1);
  /* xmpp.lua requires net and task; certificate_names needs neither */
  if (luaL_dostring(L, "package.path = 'modules/?.lua;' .. package.path\n"
                       "package.preload['runbook.net'] = function() return {} end\n"
                       "package.preload['runbook.task'] = function() return {} end") != LUA_OK
      || luaL_loadstring(L, CHECK) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    abort();
  }
  lua_setglobal(L, "check");
  return L;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  if (state == NULL) state = setup();
  lua_getglobal(state, "check");
  lua_pushlstring(state, (const char *)data, size);
  if (lua_pcall(state, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(state, -1));
    abort();
  }
  lua_gc(state, LUA_GCCOLLECT);
  return 0;
}
