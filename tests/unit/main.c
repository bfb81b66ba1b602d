/*
** main.c — runs every C unit test and prints TAP: "1..N", then "ok N - name" or
** "not ok N - name" with the failed checks as "# file:line: ..." lines. Exit 1 if any failed.
*/
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"

int unit_failures;

void unit_fail (const char *file, int line, const char *fmt, ...) {
  va_list ap;
  printf("# %s:%d: ", file, line);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  unit_failures++;
}

void unit_check_int (const char *file, int line, const char *what, long long expected,
                     long long actual) {
  if (expected != actual)
    unit_fail(file, line, "%s is %lld, expected %lld", what, actual, expected);
}

void unit_check_str (const char *file, int line, const char *what, const char *expected,
                     const char *actual) {
  if (actual == NULL || strcmp(expected, actual) != 0)
    unit_fail(file, line, "%s is \"%s\", expected \"%s\"", what, actual ? actual : "(null)",
              expected);
}

static const UnitTest *const suites[] = {loop_tests, dns_wire_tests, xml_tests};

static int count_tests (void) {
  int n = 0;
  for (size_t s = 0; s < sizeof suites / sizeof suites[0]; s++)
    for (const UnitTest *t = suites[s]; t->name; t++) n++;
  return n;
}

int main (void) {
  int number = 0, failed = 0;
  printf("1..%d\n", count_tests());
  for (size_t s = 0; s < sizeof suites / sizeof suites[0]; s++) {
    for (const UnitTest *t = suites[s]; t->name; t++) {
      unit_failures = 0;
      t->run();
      fflush(stdout);
      printf("%s %d - %s\n", unit_failures ? "not ok" : "ok", ++number, t->name);
      failed += unit_failures > 0;
    }
  }
  return failed ? 1 : 0;
}
