/* The VMM's event thread: one epoll loop for ioeventfds (queue
 * notifications), tap and stdin fds, and timers. Callbacks run on that one
 * thread, so device state needs no locks against other callbacks. */
#pragma once

#include <stdint.h>

#include "common/error.h"

struct event_loop;
typedef void (*event_fn)(void *arg, uint32_t events);

int event_loop_new(struct event_loop **out, struct husk_err **err);
void event_loop_free(struct event_loop *l);
/* Watch fd for `events` (EPOLLIN...): fn(arg, revents) on the loop thread. */
int event_add(struct event_loop *l, int fd, uint32_t events, event_fn fn, void *arg,
	      struct husk_err **err);
int event_mod(struct event_loop *l, int fd, uint32_t events);
void event_del(struct event_loop *l, int fd);
/* Run the loop on a new thread / stop it and join. */
int event_loop_start(struct event_loop *l, struct husk_err **err);
void event_loop_stop(struct event_loop *l);
