/*
** buffer.h — the one growable byte buffer of the primitives: what a child process, an SSH
** channel, an HTTP response, an XML text node or a DNS message under construction
** accumulates. It grows by doubling; the owner bounds it (every buffer filled from a peer
** has a limit, and reaching it is the "limit" cause). Header-only (static inline), like
** options.h, so that the C modules loaded on first use need no symbol from the core.
*/
#ifndef RUNBOOK_BUFFER_H
#define RUNBOOK_BUFFER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct Buffer {
  char *data;           /* NULL until the first byte */
  size_t len;           /* bytes held */
  size_t cap;           /* bytes allocated */
} Buffer;

static inline void buffer_init (Buffer *b) {
  b->data = NULL;
  b->len = b->cap = 0;
}

static inline void buffer_free (Buffer *b) {
  free(b->data);
  buffer_init(b);
}

/* Makes room for `more` bytes after those held: 0, or -1 when memory ran out (the buffer
** then holds what it held). */
static inline int buffer_reserve (Buffer *b, size_t more) {
  size_t cap;
  char *data;
  if (more <= b->cap - b->len) return 0;
  if (more > SIZE_MAX / 2 - b->len) return -1;
  cap = b->cap ? b->cap : 256;
  while (cap < b->len + more) cap *= 2;
  data = (char *)realloc(b->data, cap);
  if (data == NULL) return -1;
  b->data = data;
  b->cap = cap;
  return 0;
}

/* Appends n bytes: 0, or -1 when memory ran out (nothing appended). */
static inline int buffer_append (Buffer *b, const void *bytes, size_t n) {
  if (buffer_reserve(b, n) != 0) return -1;
  if (n > 0) memcpy(b->data + b->len, bytes, n);
  b->len += n;
  return 0;
}

/* Appends n bytes and keeps a NUL after them (for C strings built piecewise). */
static inline int buffer_append_text (Buffer *b, const void *bytes, size_t n) {
  if (buffer_reserve(b, n + 1) != 0) return -1;
  buffer_append(b, bytes, n);
  b->data[b->len] = '\0';
  return 0;
}

#endif
