/*
** usage.h — help text of the command line, and which command takes which option.
*/
#ifndef RUNBOOK_USAGE_H
#define RUNBOOK_USAGE_H

#include <stdio.h>

/* Options only some commands take; -v, -q and -h every command takes. */
#define OPTION_INVENTORY  0x01u
#define OPTION_SET        0x02u
#define OPTION_YES        0x04u
#define OPTION_JSON       0x08u
#define OPTION_LANG       0x10u
#define OPTION_ROLLBACK   0x20u
#define OPTION_AUDIT_LOG  0x40u
#define OPTION_DETAILED_EXITCODE 0x80u
#define OPTION_RESUMABLE  0x100u
#define OPTION_OUTPUT     0x200u
#define OPTION_FORMAT     0x400u
#define OPTION_METRICS    0x800u

int usage_known_command (const char *name);
unsigned usage_options_of (const char *command);
const char *usage_option_name (unsigned option);
void usage_print (FILE *out, const char *command);

#endif
