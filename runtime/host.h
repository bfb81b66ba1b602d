/*
** host.h — the Lua state the runbook binary runs everything in.
*/
#ifndef RUNBOOK_HOST_H
#define RUNBOOK_HOST_H

#include <lua.h>

/* exit codes: documented in README.md and `runbook --help` */
#define EXIT_DONE         0
#define EXIT_STEP_FAILED  1
#define EXIT_USAGE        2
#define EXIT_DECLINED     3
#define EXIT_INTERRUPTED  4
#define EXIT_PREFLIGHT    5   /* modules/runbook/engine.lua: a preflight blocker */

lua_State *host_open (int with_runtime);
int host_call (lua_State *L, const char *module, const char *function, int nargs);
const char *host_datadir (void);
const char *host_docdir (void);

#endif
