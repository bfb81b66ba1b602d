/*
** usage.c — the text of `runbook --help` and of every subcommand's --help, and the list
** of options each command takes (main.c refuses the others).
*/
#include <stdio.h>
#include <string.h>

#include "host.h"
#include "usage.h"

static const char overview[] =
  "usage: runbook <command> [options] [argument]\n"
  "\n"
  "Runs disaster-recovery procedures written as Lua runbooks: PowerShell cmdlets on\n"
  "Windows servers (WinRM, SSH), DNS queries and updates, port and XMPP checks.\n"
  "\n"
  "commands:\n"
  "  run RUNBOOK       show the plan, ask once, then carry out the runbook's steps\n"
  "  plan RUNBOOK      run every read-only check and show what `run` would change\n"
  "  check RUNBOOK     validate the runbook and the inventory; touches no network\n"
  "  resume JOURNAL    continue a run that was interrupted, from its journal\n"
  "  history           the past runs of the state directory, newest first\n"
  "  report JOURNAL    the run as a page people read: HTML, or Markdown for a ticket\n"
  "  list              list the runbooks found in ./, $RUNBOOK_PATH and the installed ones\n"
  "  repl              interactive Lua prompt with every primitive, for diagnostics\n"
  "  version           print the versions of runbook, Lua and every linked library\n"
  "\n"
  "Run `runbook <command> --help` for the options of one command.\n";

typedef struct OptionText {
  unsigned option;
  const char *name;
  const char *text;
} OptionText;

static const OptionText option_texts[] = {
  {OPTION_INVENTORY, "--inventory",
   "  -i, --inventory FILE   inventory (a Lua data file); default $RUNBOOK_INVENTORY, else\n"
   "                         the embedded lab simulation\n"},
  {OPTION_SET, "--set",
   "      --set KEY=VALUE    override an inventory or runbook parameter (repeatable)\n"},
  {OPTION_YES, "--yes",
   "  -y, --yes              do not ask for confirmation\n"},
  {OPTION_JSON, "--json", NULL},                /* each command says what it prints */
  {OPTION_LANG, "--lang",
   "      --lang en|de|fr    language of titles and messages; default from $LC_ALL,\n"
   "                         $LC_MESSAGES or $LANG (the first set), else en\n"},
  {OPTION_ROLLBACK, "--rollback",
   "      --rollback ask|auto|never\n"
   "                         after a failed step; default ask on a terminal, else never\n"},
  {OPTION_AUDIT_LOG, "--audit-log",
   "      --audit-log FILE   append who/when/what of every change (default: inventory's)\n"},
  {OPTION_DETAILED_EXITCODE, "--detailed-exitcode",
   "      --detailed-exitcode\n"
   "                         exit 0 when nothing is to change, 6 when changes are pending\n"
   "                         (1 and 5 still say what blocks), for scripts and monitoring\n"},
  {OPTION_OUTPUT, "--output",
   "  -o, --output FILE      write to FILE (whole, through a temporary file), not stdout\n"},
  {OPTION_FORMAT, "--format",
   "      --format html|md   a self-contained HTML page (default), or Markdown for a ticket\n"},
  {OPTION_METRICS, "--metrics",
   "      --metrics FILE     the checks' verdicts as gauges for node_exporter's textfile\n"
   "                         collector, written whole (docs/metrics.md)\n"},
  {OPTION_RESUMABLE, "--resumable",
   "      --resumable        only the runs `runbook resume` can take\n"},
};

static const char every_command_options[] =
  "  -v, --verbose          more detail, and tracebacks with errors\n"
  "  -q, --quiet            only errors\n"
  "  -h, --help             this text\n";

static const char environment[] =
  "environment:\n"
  "  RUNBOOK_INVENTORY   the inventory when -i is not given\n"
  "  RUNBOOK_PATH        colon-separated directories searched for a runbook named\n"
  "                      without a path, after ./\n"
  "  RUNBOOK_STATE_DIR   journals and locks; default $XDG_STATE_HOME/runbook, else\n"
  "                      ~/.local/state/runbook\n"
  "  RUNBOOK_HOME        the directory holding modules/, runbooks/ and examples/; default\n"
  "                      beside the binary, else its ../share/runbook\n"
  "  NO_COLOR            when set and not empty: no colour, also on a terminal\n"
  "  LC_ALL, LC_MESSAGES, LANG\n"
  "                      the language when --lang is not given: the first that is set\n"
  "                      and not empty (en, de or fr; else en)\n"
  "  HOME                ~/.runbook_history (repl), ~/.ssh/known_hosts (SSH)\n";

static const char exit_codes[] =
  "exit status:\n"
  "  0  done            1  a step failed           2  bad usage or invalid runbook/inventory\n"
  "  3  declined by the operator                   4  interrupted (Ctrl-C): resumable\n"
  "  5  preflight: a capability the run needs is missing; nothing was changed\n"
  "  6  plan --detailed-exitcode: changes are pending (0 then means nothing to change)\n";

static const char finding[] =
  "RUNBOOK is a path, or a bare name (with or without .lua) looked up in ./, then in each\n"
  "directory of $RUNBOOK_PATH (colon-separated), then in the installed runbooks.\n";

static const char journals[] =
  "JOURNAL is the .jsonl file the run wrote (`run` prints its path when it starts), kept in\n"
  "$RUNBOOK_STATE_DIR, else $XDG_STATE_HOME/runbook, else ~/.local/state/runbook. The\n"
  "runbook, inventory, --set and --lang of the interrupted run apply unless given again.\n";

static const char journals_kept[] =
  "Journals are kept in $RUNBOOK_STATE_DIR, else $XDG_STATE_HOME/runbook, else\n"
  "~/.local/state/runbook.\n";

#define RUN_OPTIONS (OPTION_INVENTORY | OPTION_SET | OPTION_YES | OPTION_JSON | \
                     OPTION_LANG | OPTION_ROLLBACK | OPTION_AUDIT_LOG)
#define JSON_EVENTS "one JSON object per event on stdout instead of text"

typedef struct Command {
  const char *name;
  const char *synopsis;
  const char *text;
  unsigned options;     /* OPTION_* it takes */
  const char *json;     /* what --json prints */
  const char *argument; /* what its argument is, or NULL */
} Command;

static const Command commands[] = {
  {"run", "run [options] RUNBOOK",
   "Shows the plan, asks once for confirmation (refused on a non-interactive stdin\n"
   "without --yes), then carries out every step whose check does not already hold.\n"
   "Every change is journaled; an interrupted run can be continued with `resume`.\n"
   "Without an inventory the embedded lab simulation is used, and every screen says so.\n",
   RUN_OPTIONS | OPTION_METRICS, JSON_EVENTS, finding},
  {"plan", "plan [options] RUNBOOK",
   "Runs every read-only check and prints, step by step and host by host, what `run`\n"
   "would change (current -> desired). Changes nothing: mutating primitives refuse to\n"
   "act while planning. Its last line (also with -q) says what the plan found.\n",
   OPTION_INVENTORY | OPTION_SET | OPTION_JSON | OPTION_LANG | OPTION_DETAILED_EXITCODE,
   JSON_EVENTS, finding},
  {"check", "check [options] RUNBOOK",
   "Compiles the runbook and validates the inventory against its schema, without any\n"
   "network traffic. Errors name the file, the line and what was expected (exit 2).\n",
   OPTION_INVENTORY | OPTION_SET | OPTION_JSON | OPTION_LANG,
   "one JSON object on stdout: runbook, ok, steps, inventory, problems", finding},
  {"resume", "resume [options] JOURNAL",
   "Continues an interrupted run from its journal: completed changes are not repeated;\n"
   "a change whose outcome is unknown is settled by its step's check first.\n",
   RUN_OPTIONS, JSON_EVENTS, journals},
  {"history", "history [options]",
   "Lists the runs the state directory has journals of, newest first: the runbook, when\n"
   "it started and who started it, how it ended (done, failed, rolled back, interrupted),\n"
   "how many changes it left, how long it took, its inventory, and its journal; for a run\n"
   "`resume` can take, the command that continues it.\n",
   OPTION_JSON | OPTION_LANG | OPTION_RESUMABLE,
   "one JSON object per run: journal, runbook, inventory,\n"
   "                         user, machine, start, duration, result, changes, resumable,\n"
   "                         step", journals_kept},
  {"report", "report [options] JOURNAL",
   "Turns a run's journal into a report people read: the runbook, inventory, operator,\n"
   "start and end; a timeline of steps x hosts; what each step's check saw before; what\n"
   "changed, before -> after per host, with durations; the final verification's evidence;\n"
   "rollbacks; what was left different. For finished, failed, rolled-back and\n"
   "interrupted runs. The HTML page needs no network and no script, and prints as it is.\n",
   OPTION_OUTPUT | OPTION_FORMAT | OPTION_LANG, NULL, journals_kept},
  {"list", "list [options]",
   "Lists the runbooks (files that define or extend one) in ./, $RUNBOOK_PATH and the\n"
   "installed runbooks folder, with the first line of each one's description.\n",
   OPTION_JSON, "one JSON object per runbook: name, path, description", NULL},
  {"repl", "repl [options]",
   "An interactive Lua prompt inside the event loop: every primitive works at the\n"
   "prompt, and each one (dns, net, ssh, http ...) is a global loaded when first used.\n"
   "`=expr` prints a value; tables are pretty-printed; Tab completes names, and module\n"
   "names inside require \"...\"; a statement may span lines. Ctrl-C cancels the line\n"
   "being typed or running, Ctrl-D leaves. History is kept in ~/.runbook_history.\n"
   "With an inventory the incident helpers status(), dig(), port(), probe(), ps() are\n"
   "ready; help() lists them with an example each (docs/repl.md).\n",
   OPTION_INVENTORY | OPTION_LANG, NULL, NULL},
  {"version", "version [options]",
   "Prints the version of runbook, of Lua and of every library it links.\n",
   OPTION_JSON, "one JSON object on stdout: runbook, libraries", NULL},
};

static const Command *find (const char *name) {
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(commands[i].name, name) == 0) return &commands[i];
  return NULL;
}

int usage_known_command (const char *name) {
  return find(name) != NULL;
}

/* The OPTION_* bits of what command takes beyond -v, -q and -h. */
unsigned usage_options_of (const char *command) {
  const Command *c = find(command);
  return c ? c->options : 0;
}

/* "--yes" for OPTION_YES: how messages name an option. */
const char *usage_option_name (unsigned option) {
  for (size_t i = 0; i < sizeof option_texts / sizeof option_texts[0]; i++)
    if (option_texts[i].option == option) return option_texts[i].name;
  return "?";
}

/* The option lines of the options in mask; json is the text of --json. */
static void print_options (FILE *out, unsigned mask, const char *json) {
  fputs("options:\n", out);
  for (size_t i = 0; i < sizeof option_texts / sizeof option_texts[0]; i++) {
    const OptionText *o = &option_texts[i];
    if (!(mask & o->option)) continue;
    if (o->text) fputs(o->text, out);
    else fprintf(out, "      --json             %s\n", json);
  }
  fputs(every_command_options, out);
}

/* text with each "docs/" naming the directory the documents are in (installed or not). */
static void print_naming_docs (FILE *out, const char *text) {
  const char *at;
  while ((at = strstr(text, "docs/")) != NULL) {
    fwrite(text, 1, (size_t)(at - text), out);
    fprintf(out, "%s/", host_docdir());
    text = at + strlen("docs/");
  }
  fputs(text, out);
}

/* The help of one command, or the overview when command is NULL. */
void usage_print (FILE *out, const char *command) {
  const Command *c = command ? find(command) : NULL;
  if (c == NULL) {
    fprintf(out, "%s\n", overview);
    print_options(out, RUN_OPTIONS, "JSON on stdout instead of text (see each command)");
    fprintf(out, "\n%s\n%s", environment, exit_codes);
    return;
  }
  fprintf(out, "usage: runbook %s\n\n", c->synopsis);
  print_naming_docs(out, c->text);
  fputc('\n', out);
  print_options(out, c->options, c->json);
  if (c->argument) fprintf(out, "\n%s", c->argument);
  fprintf(out, "\n%s", exit_codes);
}
