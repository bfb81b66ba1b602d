/*
** msg.c — errors, warnings and notes for the operator, on stderr, prefixed "runbook:".
*/
#include <stdarg.h>
#include <stdio.h>

#include "msg.h"

static int verbosity = 0;   /* -1 quiet, 0 normal, 1 verbose */

void msg_setup (int verbose, int quiet) {
  verbosity = quiet ? -1 : verbose ? 1 : 0;
}

int msg_verbose (void) {
  return verbosity > 0;
}

static void emit (const char *kind, const char *fmt, va_list ap) {
  fprintf(stderr, "%s: %s", PROGNAME, kind);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  fflush(stderr);
}

/* What failed, where, and what to try: always shown. */
void errorf (const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit("", fmt, ap);
  va_end(ap);
}

void warnf (const char *fmt, ...) {
  va_list ap;
  if (verbosity < 0) return;
  va_start(ap, fmt);
  emit("warning: ", fmt, ap);
  va_end(ap);
}

void notef (const char *fmt, ...) {
  va_list ap;
  if (verbosity < 0) return;
  va_start(ap, fmt);
  emit("", fmt, ap);
  va_end(ap);
}
