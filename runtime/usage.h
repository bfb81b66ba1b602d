/*
** usage.h — help text of the command line.
*/
#ifndef RUNBOOK_USAGE_H
#define RUNBOOK_USAGE_H

#include <stdio.h>

int usage_known_command (const char *name);
void usage_print (FILE *out, const char *command);

#endif
