/*
** main.c — the command line: parses `runbook <command> [options] [argument]`, checks
** what it can without Lua, and hands the rest to modules/runbook/cli.lua.
*/
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "host.h"
#include "msg.h"
#include "usage.h"

int repl_run (lua_State *L);

#define MAX_SETS 64

typedef struct Options {
  const char *command;
  const char *argument;
  const char *inventory;
  const char *lang;
  const char *rollback;
  const char *audit_log;
  const char *output;      /* report: -o FILE */
  const char *format;      /* report: html or md */
  const char *metrics;     /* run: --metrics FILE */
  const char *sets[MAX_SETS];
  int nsets;
  int yes, json, verbose, quiet, help;
  int detailed_exitcode;   /* plan: 6 when changes are pending */
  int resumable;           /* history: only the runs resume can take */
  unsigned given;          /* OPTION_* bits of the options given */
  char bad_option[128];    /* what getopt refused, said once the command is known */
} Options;

enum { OPT_SET = 256, OPT_JSON, OPT_LANG, OPT_ROLLBACK, OPT_AUDIT, OPT_DETAILED, OPT_RESUMABLE,
       OPT_FORMAT, OPT_METRICS };

static const struct option long_options[] = {
  {"inventory", required_argument, NULL, 'i'},
  {"set", required_argument, NULL, OPT_SET},
  {"yes", no_argument, NULL, 'y'},
  {"json", no_argument, NULL, OPT_JSON},
  {"lang", required_argument, NULL, OPT_LANG},
  {"rollback", required_argument, NULL, OPT_ROLLBACK},
  {"audit-log", required_argument, NULL, OPT_AUDIT},
  {"detailed-exitcode", no_argument, NULL, OPT_DETAILED},
  {"resumable", no_argument, NULL, OPT_RESUMABLE},
  {"output", required_argument, NULL, 'o'},
  {"format", required_argument, NULL, OPT_FORMAT},
  {"metrics", required_argument, NULL, OPT_METRICS},
  {"verbose", no_argument, NULL, 'v'},
  {"quiet", no_argument, NULL, 'q'},
  {"help", no_argument, NULL, 'h'},
  {NULL, 0, NULL, 0}
};

static int usage_error (const char *command, const char *fmt, const char *what) {
  fprintf(stderr, "%s: ", PROGNAME);
  fprintf(stderr, fmt, what);
  fprintf(stderr, "\nTry `runbook %s%s--help`.\n", command ? command : "",
          command ? " " : "");
  return EXIT_USAGE;
}

static int one_of (const char *value, const char *const choices[]) {
  for (int i = 0; choices[i]; i++)
    if (strcmp(value, choices[i]) == 0) return 1;
  return 0;
}

static int check_values (Options *o) {
  static const char *const langs[] = {"en", "de", "fr", NULL};
  static const char *const rollbacks[] = {"ask", "auto", "never", NULL};
  static const char *const formats[] = {"html", "md", NULL};
  if (o->lang && !one_of(o->lang, langs))
    return usage_error(o->command, "--lang '%s': expected en, de or fr", o->lang);
  if (o->rollback && !one_of(o->rollback, rollbacks))
    return usage_error(o->command, "--rollback '%s': expected ask, auto or never",
                       o->rollback);
  if (o->format && !one_of(o->format, formats))
    return usage_error(o->command, "--format '%s': expected html or md", o->format);
  for (int i = 0; i < o->nsets; i++) {
    const char *eq = strchr(o->sets[i], '=');
    if (eq == NULL || eq == o->sets[i])
      return usage_error(o->command, "--set '%s': expected KEY=VALUE", o->sets[i]);
  }
  if (o->verbose && o->quiet)
    return usage_error(o->command, "%s", "-v and -q exclude each other");
  return EXIT_DONE;
}

static void parse_option (Options *o, int c) {
  switch (c) {
    case 'i': o->inventory = optarg; o->given |= OPTION_INVENTORY; break;
    case 'y': o->yes = 1; o->given |= OPTION_YES; break;
    case 'v': o->verbose = 1; break;
    case 'q': o->quiet = 1; break;
    case 'h': o->help = 1; break;
    case OPT_JSON: o->json = 1; o->given |= OPTION_JSON; break;
    case OPT_LANG: o->lang = optarg; o->given |= OPTION_LANG; break;
    case OPT_ROLLBACK: o->rollback = optarg; o->given |= OPTION_ROLLBACK; break;
    case OPT_AUDIT: o->audit_log = optarg; o->given |= OPTION_AUDIT_LOG; break;
    case OPT_DETAILED: o->detailed_exitcode = 1; o->given |= OPTION_DETAILED_EXITCODE; break;
    case OPT_RESUMABLE: o->resumable = 1; o->given |= OPTION_RESUMABLE; break;
    case 'o': o->output = optarg; o->given |= OPTION_OUTPUT; break;
    case OPT_FORMAT: o->format = optarg; o->given |= OPTION_FORMAT; break;
    case OPT_METRICS: o->metrics = optarg; o->given |= OPTION_METRICS; break;
    case OPT_SET:
      o->given |= OPTION_SET;
      if (o->nsets < MAX_SETS) o->sets[o->nsets++] = optarg;
      else snprintf(o->bad_option, sizeof o->bad_option, "more than %d --set", MAX_SETS);
      break;
  }
}

/* Whether getopt's complaint is about word as a long option (else about -optopt). */
static int is_long_option (const char *word) {
  size_t n = strcspn(word, "=");
  if (strncmp(word, "--", 2) != 0) return 0;
  if (optopt == 0) return 1;                             /* unknown long option */
  for (const struct option *lo = long_options; lo->name; lo++)
    if (n > 2 && strncmp(lo->name, word + 2, n - 2) == 0) return lo->val == optopt;
  return 0;
}

/* One message for what getopt refused (c is '?' or ':'), naming the option as typed. */
static void refuse_option (Options *o, int c, const char *word) {
  char name[64];
  if (o->bad_option[0]) return;                          /* the first one is enough */
  if (is_long_option(word)) snprintf(name, sizeof name, "%.*s", (int)strcspn(word, "="), word);
  else snprintf(name, sizeof name, "-%c", optopt);
  snprintf(o->bad_option, sizeof o->bad_option,
           c == ':' ? "option '%s' needs a value" :
           optopt != 0 && name[1] == '-' ? "option '%s' takes no value" : "unknown option '%s'",
           name);
}

/* Options and positional words may come in any order (getopt permutes). */
static int parse (Options *o, int argc, char **argv) {
  int c;
  opterr = 0;                                            /* refuse_option says it once */
  while ((c = getopt_long(argc, argv, ":i:o:yvqh", long_options, NULL)) != -1) {
    if (c == '?' || c == ':') refuse_option(o, c, argv[optind - 1]);
    else parse_option(o, c);
  }
  if (optind < argc) o->command = argv[optind++];
  if (optind < argc) o->argument = argv[optind++];
  if (optind < argc)
    return usage_error(o->command, "unexpected argument '%s'", argv[optind]);
  if (o->command && strcmp(o->command, "help") == 0) {   /* runbook help [command] */
    o->help = 1;
    o->command = o->argument;
    o->argument = NULL;
  }
  if (o->command && !usage_known_command(o->command)) {
    const char *unknown = o->command;
    o->command = NULL;
    if (o->bad_option[0]) return usage_error(NULL, "%s", o->bad_option);
    return usage_error(NULL, "unknown command '%s'", unknown);
  }
  if (o->bad_option[0]) return usage_error(o->command, "%s", o->bad_option);
  return check_values(o);
}

static int check_argument (const Options *o) {
  int wants = strcmp(o->command, "run") == 0 || strcmp(o->command, "plan") == 0 ||
              strcmp(o->command, "check") == 0 || strcmp(o->command, "resume") == 0 ||
              strcmp(o->command, "report") == 0;
  if (wants && o->argument == NULL)
    return usage_error(o->command, "%s needs an argument", o->command);
  if (!wants && o->argument != NULL)
    return usage_error(o->command, "unexpected argument '%s'", o->argument);
  return EXIT_DONE;
}

/* Each command takes only the options its --help lists: any other is refused, not ignored. */
static int check_options (const Options *o) {
  unsigned foreign = o->given & ~usage_options_of(o->command);
  char text[96];
  for (unsigned option = 1; foreign != 0; option <<= 1) {
    if (!(foreign & option)) continue;
    snprintf(text, sizeof text, "`%s` does not take %s", o->command, usage_option_name(option));
    return usage_error(o->command, "%s", text);
  }
  return EXIT_DONE;
}

static void set_string (lua_State *L, const char *key, const char *value) {
  if (value == NULL) return;
  lua_pushstring(L, value);
  lua_setfield(L, -2, key);
}

static void set_flag (lua_State *L, const char *key, int value) {
  lua_pushboolean(L, value);
  lua_setfield(L, -2, key);
}

/* The options as the Lua table cli.main receives. */
static void push_options (lua_State *L, const Options *o) {
  lua_createtable(L, 0, 12);
  set_string(L, "command", o->command);
  set_string(L, "argument", o->argument);
  set_string(L, "inventory", o->inventory);
  set_string(L, "lang", o->lang);
  set_string(L, "rollback", o->rollback);
  set_string(L, "audit_log", o->audit_log);
  set_string(L, "output", o->output);
  set_string(L, "format", o->format);
  set_string(L, "metrics", o->metrics);
  set_flag(L, "yes", o->yes);
  set_flag(L, "json", o->json);
  set_flag(L, "verbose", o->verbose);
  set_flag(L, "quiet", o->quiet);
  set_flag(L, "detailed_exitcode", o->detailed_exitcode);
  set_flag(L, "resumable", o->resumable);
  lua_createtable(L, o->nsets, 0);
  for (int i = 0; i < o->nsets; i++) {
    lua_pushstring(L, o->sets[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "set");
}

static int print_version (lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "runbook.version");
  lua_call(L, 1, 1);
  for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TTABLE; i++) {
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    printf(i == 1 ? "%s %s\n" : "  %-8s %s\n", lua_tostring(L, -2), lua_tostring(L, -1));
    lua_pop(L, 3);
  }
  return EXIT_DONE;
}

int main (int argc, char **argv) {
  Options o;
  int status;
  lua_State *L;
  memset(&o, 0, sizeof o);
  if ((status = parse(&o, argc, argv)) != EXIT_DONE) return status;
  if (o.help || o.command == NULL) {
    usage_print(o.help ? stdout : stderr, o.command);
    return o.help ? EXIT_DONE : EXIT_USAGE;
  }
  if ((status = check_argument(&o)) != EXIT_DONE) return status;
  if ((status = check_options(&o)) != EXIT_DONE) return status;
  msg_setup(o.verbose, o.quiet);
  int plain_version = strcmp(o.command, "version") == 0 && !o.json;
  L = host_open(!plain_version);
  if (plain_version) status = print_version(L);
  else if (strcmp(o.command, "repl") == 0) {
    push_options(L, &o);
    status = host_call(L, "runbook.repl", "setup", 1);
    if (status == EXIT_DONE) status = repl_run(L);
  } else {
    push_options(L, &o);
    status = host_call(L, "runbook.cli", "main", 1);
  }
  lua_close(L);
  return status;
}
