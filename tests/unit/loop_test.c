/*
** loop_test.c — the event loop's timer heap and fd table (runtime/loop.c), tested through
** its static functions: the file is included, not linked, so that nothing in it need be
** exported for the tests' sake.
*/
#include "../../runtime/loop.c"

#include "unit.h"

#define MANY 100000

static double fired[16];
static int nfired;

static void record_firing (Loop *loop, Watch *w, int revents) {
  (void)loop;
  CHECK_INT(LOOP_TIMEOUT, revents);
  if (nfired < 16) fired[nfired++] = w->deadline;
}

/* Every parent is due no later than its children, and every watch knows its slot. */
static int heap_is_valid (const Loop *loop) {
  for (int i = 0; i < loop->nheap; i++) {
    if (loop->heap[i]->heap_slot != i) return 0;
    if (i > 0 && loop->heap[(i - 1) / 2]->deadline > loop->heap[i]->deadline) return 0;
  }
  return 1;
}

/* A repeatable spread of deadlines (a linear congruential generator). */
static double deadline_number (unsigned i) {
  return (double)((i * 2654435761u) % 1000003u) / 1000.0;
}

/* Takes the earliest watch off the heap, as fire_timers does. */
static Watch *pop_earliest (Loop *loop) {
  Watch *w = loop->heap[0];
  heap_remove(loop, w);
  return w;
}

static void free_loop (Loop *loop) {
  free(loop->heap);
  free(loop->pfd);
  free(loop->pwatch);
}

static void timers_come_out_in_deadline_order (void) {
  static Watch w[1000];
  Loop loop = {0};
  int valid = 1;
  for (unsigned i = 0; i < 1000; i++) {
    watch_init(&w[i], record_firing, NULL);
    watch_timer(&loop, &w[i], deadline_number(i));
    valid = valid && heap_is_valid(&loop);
  }
  CHECK(valid);
  CHECK_INT(1000, loop.nheap);
  double last = -1;
  int ordered = 1;
  while (loop.nheap > 0) {
    Watch *earliest = pop_earliest(&loop);
    ordered = ordered && earliest->deadline >= last && earliest->heap_slot == -1;
    last = earliest->deadline;
  }
  CHECK(ordered);
  free_loop(&loop);
}

static void a_stopped_timer_leaves_the_heap_valid (void) {
  static Watch w[500];
  Loop loop = {0};
  int valid = 1, stopped = 0;
  for (unsigned i = 0; i < 500; i++) {
    watch_init(&w[i], record_firing, NULL);
    watch_timer(&loop, &w[i], deadline_number(i));
  }
  for (unsigned i = 0; i < 500; i += 3) {
    watch_stop(&loop, &w[i]);
    stopped++;
    valid = valid && heap_is_valid(&loop) && w[i].heap_slot == -1;
  }
  CHECK(valid);
  CHECK_INT(500 - stopped, loop.nheap);
  while (loop.nheap > 0) {
    Watch *earliest = pop_earliest(&loop);
    if ((earliest - w) % 3 == 0) unit_fail(__FILE__, __LINE__, "stopped watch %d came out",
                                           (int)(earliest - w));
  }
  watch_stop(&loop, &w[0]);        /* stopping twice is harmless */
  CHECK_INT(0, loop.nheap);
  free_loop(&loop);
}

static void rearming_a_timer_moves_it (void) {
  Watch a, b, c;
  Loop loop = {0};
  watch_init(&a, record_firing, NULL);
  watch_init(&b, record_firing, NULL);
  watch_init(&c, record_firing, NULL);
  watch_timer(&loop, &a, 10);
  watch_timer(&loop, &b, 20);
  watch_timer(&loop, &c, 30);
  watch_timer(&loop, &c, 5);
  CHECK_INT(3, loop.nheap);
  CHECK(loop.heap[0] == &c);
  watch_timer(&loop, &c, 40);
  CHECK(loop.heap[0] == &a);
  CHECK(heap_is_valid(&loop));
  free_loop(&loop);
}

static void fire_timers_fires_what_is_due_earliest_first (void) {
  Watch w[4];
  double now = loop_now(), at[4] = {now - 3, now + 3600, now - 1, now - 2};
  Loop loop = {0};
  nfired = 0;
  for (int i = 0; i < 4; i++) {
    watch_init(&w[i], record_firing, NULL);
    watch_timer(&loop, &w[i], at[i]);
  }
  fire_timers(&loop);
  CHECK_INT(3, nfired);
  CHECK(fired[0] == now - 3 && fired[1] == now - 2 && fired[2] == now - 1);
  CHECK_INT(1, loop.nheap);
  CHECK(loop.heap[0] == &w[1]);
  free_loop(&loop);
}

static void a_hundred_thousand_timers_with_equal_deadlines (void) {
  Watch *w = calloc(MANY, sizeof *w);
  Loop loop = {0};
  int ordered = 1;
  for (unsigned i = 0; i < MANY; i++) {
    watch_init(&w[i], record_firing, NULL);
    watch_timer(&loop, &w[i], i % 2 ? 7.0 : deadline_number(i));
  }
  CHECK(heap_is_valid(&loop));
  double last = -1;
  for (unsigned i = 0; i < MANY; i++) {
    Watch *earliest = pop_earliest(&loop);
    ordered = ordered && earliest->deadline >= last;
    last = earliest->deadline;
  }
  CHECK(ordered);
  CHECK_INT(0, loop.nheap);
  free(w);
  free_loop(&loop);
}

static void stopping_an_fd_watch_moves_the_last_into_its_slot (void) {
  Watch w[3];
  Loop loop = {0};
  for (int i = 0; i < 3; i++) {
    watch_init(&w[i], record_firing, NULL);
    CHECK_INT(0, watch_fd(&loop, &w[i], 10 + i, POLLIN));
  }
  watch_stop(&loop, &w[0]);
  CHECK_INT(2, loop.nfd);
  CHECK_INT(-1, w[0].fd_slot);
  CHECK_INT(0, w[2].fd_slot);
  CHECK_INT(12, loop.pfd[0].fd);
  CHECK(loop.pwatch[0] == &w[2]);
  CHECK_INT(0, watch_fd(&loop, &w[1], 20, POLLOUT));     /* changes, does not add */
  CHECK_INT(2, loop.nfd);
  CHECK_INT(20, loop.pfd[w[1].fd_slot].fd);
  CHECK_INT(POLLOUT, loop.pfd[w[1].fd_slot].events);
  free_loop(&loop);
}

const UnitTest loop_tests[] = {
  {"loop: timers come out in deadline order", timers_come_out_in_deadline_order},
  {"loop: a stopped timer leaves the heap valid", a_stopped_timer_leaves_the_heap_valid},
  {"loop: re-arming a timer moves it", rearming_a_timer_moves_it},
  {"loop: fire_timers fires what is due, earliest first",
   fire_timers_fires_what_is_due_earliest_first},
  {"loop: 100000 timers, half with equal deadlines",
   a_hundred_thousand_timers_with_equal_deadlines},
  {"loop: stopping an fd watch moves the last into its slot",
   stopping_an_fd_watch_moves_the_last_into_its_slot},
  {NULL, NULL}
};
