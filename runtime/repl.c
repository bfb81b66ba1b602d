/*
** repl.c — `runbook repl`: line editing, history and completion through libedit (BSD
** licensed, not GPL readline). Compiling and running what was typed is Lua's job
** (modules/runbook/repl.lua), inside the event loop.
*/
#include <errno.h>
#include <locale.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>
#include <lua.h>
#include <lauxlib.h>

#include "host.h"
#include "loop.h"
#include "msg.h"

#define MAX_LINE 65536

static lua_State *repl_L;
static char **candidates;
static int ncandidates;

static void drop_candidates (void) {
  for (int i = 0; i < ncandidates; i++) free(candidates[i]);
  free(candidates);
  candidates = NULL;
  ncandidates = 0;
}

/* Ask repl.complete(word, text before word) for the names that complete word. */
static void collect_candidates (const char *word, const char *before, int nbefore) {
  lua_State *L = repl_L;
  int top = lua_gettop(L);
  drop_candidates();
  lua_getglobal(L, "require");
  lua_pushliteral(L, "runbook.repl");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) { lua_settop(L, top); return; }
  lua_getfield(L, -1, "complete");
  lua_pushstring(L, word);
  lua_pushlstring(L, before, (size_t)nbefore);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK || !lua_istable(L, -1)) { lua_settop(L, top); return; }
  int n = (int)luaL_len(L, -1);
  candidates = calloc((size_t)n + 1, sizeof(char *));
  for (int i = 1; candidates && i <= n; i++) {
    lua_rawgeti(L, -1, i);
    candidates[ncandidates++] = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  lua_settop(L, top);
}

static int word_start;   /* where the word being completed starts in rl_line_buffer */

static char *next_candidate (const char *word, int state) {
  static int next;
  if (state == 0) {
    collect_candidates(word, rl_line_buffer, word_start);
    next = 0;
  }
  return next < ncandidates ? strdup(candidates[next++]) : NULL;
}

static char **complete (const char *word, int start, int end) {
  (void)end;
  word_start = start;
  rl_attempted_completion_over = 1;
  /* inside a string (require "runbook.ss<Tab>) a completed name must not get a space */
  rl_completion_append_character =
      start > 0 && strchr("\"'", rl_line_buffer[start - 1]) ? '\0' : ' ';
  return rl_completion_matches(word, next_candidate);
}

static char *history_path (void) {
  static char path[4096];
  const char *home = getenv("HOME");
  if (home == NULL) return NULL;
  snprintf(path, sizeof path, "%s/.runbook_history", home);
  return path;
}

/* A line from a pipe or file: no prompt, no editing. NULL at end of input. */
static char *read_plain (void) {
  char *line = malloc(MAX_LINE);
  if (line == NULL || fgets(line, MAX_LINE, stdin) == NULL) {
    free(line);
    return NULL;
  }
  line[strcspn(line, "\n")] = '\0';
  return line;
}

static int line_interrupted;   /* next_keystroke ended the line for a Ctrl-C */

/* One byte of stdin into *c, waiting in poll on stdin and on the loop's interrupt pipe:
** 1, or 0 at end of input, or -1 for a Ctrl-C (also one that came before the read began). */
static int next_byte (unsigned char *c) {
  Loop *loop = loop_get(repl_L);
  struct pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {loop_interrupt_fd(loop), POLLIN, 0}};
  while (!loop_interrupt_pending(loop)) {
    int ready = poll(fds, fds[1].fd >= 0 ? 2 : 1, -1);
    if (ready < 0 && errno != EINTR) return 0;
    if (ready > 0 && fds[1].fd >= 0 && fds[1].revents != 0) break;
    if (ready <= 0 || fds[0].revents == 0) continue;
    ssize_t n = read(STDIN_FILENO, c, 1);
    if (n == 1) return 1;
    if (n == 0 || errno != EINTR) return 0;
  }
  return -1;
}

/* libedit's source of keystrokes (rl_getc_function): one character, a UTF-8 sequence decoded
** to its code point (libedit takes the result as one wide character). A Ctrl-C ends the line
** as end of input does; line_interrupted tells the two apart. */
static int next_keystroke (FILE *in) {
  unsigned char c;
  (void)in;
  int got = next_byte(&c);
  if (got <= 0) {
    line_interrupted = got < 0;
    return EOF;
  }
  int more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
  int code = more == 3 ? c & 0x07 : more == 2 ? c & 0x0F : more == 1 ? c & 0x1F : c;
  while (more-- > 0) {
    if ((got = next_byte(&c)) <= 0) {
      line_interrupted = got < 0;
      return EOF;
    }
    if ((c & 0xC0) != 0x80) return 0xFFFD;   /* not UTF-8: the replacement character */
    code = (code << 6) | (c & 0x3F);
  }
  return code;
}

static char *read_line (int interactive, int more) {
  if (!interactive) return read_plain();
  char *line = readline(more ? ">> " : "runbook> ");
  if (line && *line) add_history(line);
  return line;
}

static void setup_editing (void) {
  /* libedit turns the wide characters of a line into bytes with the locale's encoding:
  ** UTF-8, whatever the environment says (runbook's texts are UTF-8 too). */
  if (setlocale(LC_CTYPE, "C.UTF-8") == NULL) setlocale(LC_CTYPE, "");
  rl_readline_name = "runbook";
  rl_getc_function = next_keystroke;      /* before using_history(), which initializes */
  rl_attempted_completion_function = complete;
  rl_basic_word_break_characters = " \t\n\"'`@$><=;|&{(,+-*/%^~#[]";
  using_history();
  if (history_path()) read_history(history_path());
}

/* readline returned NULL: Ctrl-D, or a Ctrl-C (next_keystroke). A Ctrl-C drops
** the unfinished statement and gives a fresh prompt; 1 when that is what happened. */
static int cancel_line (lua_State *L, int interactive) {
  Loop *loop = loop_get(L);
  if (!interactive || !(line_interrupted || loop_interrupt_pending(loop))) return 0;
  line_interrupted = 0;
  loop_clear_interrupt(loop);
  host_call(L, "runbook.repl", "reset", 0);
  putchar('\n');
  fflush(stdout);
  return 1;
}

/* Read, evaluate, print until end of input. Returns the exit code. */
int repl_run (lua_State *L) {
  int interactive = isatty(STDIN_FILENO), more = 0;
  char *line;
  repl_L = L;
  if (interactive) {
    setup_editing();
    host_call(L, "runbook.repl", "greet", 0);   /* two lines, in the operator's language */
  }
  for (;;) {
    if ((line = read_line(interactive, more)) == NULL) {
      if (!cancel_line(L, interactive)) break;
      more = 0;
      continue;
    }
    loop_clear_interrupt(loop_get(L));
    lua_pushstring(L, line);
    free(line);
    more = host_call(L, "runbook.repl", "feed", 1) == 1;
  }
  if (interactive) {
    putchar('\n');
    if (history_path()) write_history(history_path());
  }
  drop_candidates();
  return EXIT_DONE;
}
