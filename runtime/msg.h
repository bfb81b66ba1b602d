/*
** msg.h — every message the host itself shows the operator goes through here
** (as curl's tool_msgs.c): one prefix, one place to silence, one place to colour.
*/
#ifndef RUNBOOK_MSG_H
#define RUNBOOK_MSG_H

#define PROGNAME "runbook"

void msg_setup (int verbose, int quiet);
int msg_verbose (void);
void errorf (const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warnf (const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void notef (const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
