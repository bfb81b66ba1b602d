/*
** usage.c — the text of `runbook --help` and of every subcommand's --help.
*/
#include <stdio.h>
#include <string.h>

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
  "  list              list the runbooks found in ./, $RUNBOOK_PATH and the installed ones\n"
  "  repl              interactive Lua prompt with every primitive, for diagnostics\n"
  "  version           print the versions of runbook, Lua and every linked library\n"
  "\n"
  "Run `runbook <command> --help` for the options of one command.\n";

static const char options[] =
  "options:\n"
  "  -i, --inventory FILE   inventory (Lua data file); default $RUNBOOK_INVENTORY\n"
  "      --set KEY=VALUE    override an inventory or runbook parameter (repeatable)\n"
  "  -y, --yes              do not ask for confirmation\n"
  "      --json             one JSON object per event on stdout instead of text\n"
  "      --lang en|de|fr    language of titles and messages; default from $LANG\n"
  "      --rollback ask|auto|never\n"
  "                         after a failed step; default ask on a terminal, else never\n"
  "      --audit-log FILE   append who/when/what of every change (default: inventory's)\n"
  "  -v, --verbose          more detail, and tracebacks with errors\n"
  "  -q, --quiet            only errors\n"
  "  -h, --help             this text\n";

static const char exit_codes[] =
  "exit status:\n"
  "  0  done            1  a step failed           2  bad usage or invalid runbook/inventory\n"
  "  3  declined by the operator                   4  interrupted (Ctrl-C): resumable\n";

static const char finding[] =
  "RUNBOOK is a path, or a bare name (with or without .lua) looked up in ./, then in each\n"
  "directory of $RUNBOOK_PATH (colon-separated), then in the installed runbooks.\n";

typedef struct Command {
  const char *name;
  const char *synopsis;
  const char *text;
} Command;

static const Command commands[] = {
  {"run", "run [options] RUNBOOK",
   "Shows the plan, asks once for confirmation (refused on a non-interactive stdin\n"
   "without --yes), then carries out every step whose check does not already hold.\n"
   "Every change is journaled; an interrupted run can be continued with `resume`.\n"
   "Without an inventory the embedded lab simulation is used, and every screen says so.\n"},
  {"plan", "plan [options] RUNBOOK",
   "Runs every read-only check and prints, step by step and host by host, what `run`\n"
   "would change (current -> desired). Changes nothing: mutating primitives refuse to\n"
   "act while planning.\n"},
  {"check", "check [options] RUNBOOK",
   "Compiles the runbook and validates the inventory against its schema, without any\n"
   "network traffic. Errors name the file, the line and what was expected (exit 2).\n"},
  {"resume", "resume [options] JOURNAL",
   "Continues an interrupted run from its journal: completed changes are not repeated;\n"
   "a change whose outcome is unknown is settled by its step's check first.\n"},
  {"list", "list [options]",
   "Lists the runbooks in ./, $RUNBOOK_PATH and the installed runbooks folder, with the\n"
   "first line of each one's description.\n"},
  {"repl", "repl [options]",
   "An interactive Lua prompt inside the event loop: every primitive works at the\n"
   "prompt. `=expr` prints a value; tables are pretty-printed; Tab completes module and\n"
   "function names; a statement may span lines. Ctrl-C cancels the running line,\n"
   "Ctrl-D leaves. History is kept in ~/.runbook_history.\n"},
  {"version", "version",
   "Prints the version of runbook, of Lua and of every library it links.\n"},
};

static const Command *find (const char *name) {
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(commands[i].name, name) == 0) return &commands[i];
  return NULL;
}

int usage_known_command (const char *name) {
  return find(name) != NULL;
}

/* The help of one command, or the overview when command is NULL. */
void usage_print (FILE *out, const char *command) {
  const Command *c = command ? find(command) : NULL;
  if (c == NULL) {
    fprintf(out, "%s\n%s\n%s", overview, options, exit_codes);
    return;
  }
  fprintf(out, "usage: runbook %s\n\n%s\n", c->synopsis, c->text);
  if (strcmp(c->name, "version") != 0) fprintf(out, "%s\n", options);
  if (strstr(c->synopsis, "RUNBOOK")) fprintf(out, "%s\n", finding);
  fputs(exit_codes, out);
}
