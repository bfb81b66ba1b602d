/*
** unit.h — the C unit tests' whole framework: CHECK macros that note a failure with its
** file and line and go on, and a runner that prints one TAP line per test ("ok N - name"),
** which tests/run.sh counts like busted's.
*/
#ifndef RUNBOOK_UNIT_H
#define RUNBOOK_UNIT_H

#include <stdio.h>
#include <string.h>

typedef struct UnitTest {
  const char *name;
  void (*run) (void);
} UnitTest;

extern int unit_failures;   /* failed checks of the test running now */

#define CHECK(cond) \
  ((cond) ? (void)0 : unit_fail(__FILE__, __LINE__, "%s", #cond))
#define CHECK_INT(expected, actual) \
  unit_check_int(__FILE__, __LINE__, #actual, (long long)(expected), (long long)(actual))
#define CHECK_STR(expected, actual) \
  unit_check_str(__FILE__, __LINE__, #actual, (expected), (actual))

void unit_fail (const char *file, int line, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
void unit_check_int (const char *file, int line, const char *what, long long expected,
                     long long actual);
void unit_check_str (const char *file, int line, const char *what, const char *expected,
                     const char *actual);

/* the tests of each file, ending with {NULL, NULL} */
extern const UnitTest loop_tests[];
extern const UnitTest dns_wire_tests[];
extern const UnitTest xml_tests[];

#endif
