/* The event thread: one epoll loop whose callbacks (queue notifications, tap, console and
 * serial input) all run on it. Sources may be added or removed from any thread; a removed
 * source is freed only when the loop is not between epoll_wait and its callbacks. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "vm/event.h"

struct event_src {
	int fd;
	event_fn fn;
	void *arg;
	_Atomic bool dead;
	struct event_src *next;
};

struct event_loop {
	int epfd;
	int stopfd;		/* an eventfd: written to stop the loop */
	pthread_t thread;
	bool running;
	bool dispatching;	/* under lock: the loop holds pointers to sources */
	pthread_mutex_t lock;
	struct event_src *srcs;
};

int event_loop_new(struct event_loop **out, struct husk_err **err)
{
	struct event_loop *l = xcalloc(1, sizeof(*l));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	pthread_mutex_init(&l->lock, NULL);
	l->stopfd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		event_loop_free(l);
		return husk_err_set(err, errno, "event: epoll_create1");
	}
	l->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->stopfd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stopfd, &ev) < 0) {
		int e = errno;

		event_loop_free(l);
		return husk_err_set(err, e, "event: stop eventfd");
	}
	*out = l;
	return 0;
}

static void free_dead(struct event_loop *l, bool all)
{
	struct event_src **pp = &l->srcs;

	while (*pp) {
		struct event_src *s = *pp;

		if (all || atomic_load(&s->dead)) {
			*pp = s->next;
			free(s);
		} else {
			pp = &s->next;
		}
	}
}

void event_loop_free(struct event_loop *l)
{
	if (!l)
		return;
	event_loop_stop(l);
	free_dead(l, true);
	if (l->stopfd >= 0)
		close(l->stopfd);
	if (l->epfd >= 0)
		close(l->epfd);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

int event_add(struct event_loop *l, int fd, uint32_t events, event_fn fn, void *arg,
	      struct husk_err **err)
{
	struct event_src *s = xcalloc(1, sizeof(*s));
	struct epoll_event ev = { .events = events, .data.ptr = s };

	s->fd = fd;
	s->fn = fn;
	s->arg = arg;
	pthread_mutex_lock(&l->lock);
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = errno;

		pthread_mutex_unlock(&l->lock);
		free(s);
		return husk_err_set(err, e, "event: watch fd %d", fd);
	}
	s->next = l->srcs;
	l->srcs = s;
	pthread_mutex_unlock(&l->lock);
	return 0;
}

static struct event_src *find_live(struct event_loop *l, int fd)
{
	for (struct event_src *s = l->srcs; s; s = s->next)
		if (s->fd == fd && !atomic_load(&s->dead))
			return s;
	return NULL;
}

int event_mod(struct event_loop *l, int fd, uint32_t events)
{
	struct event_src *s;
	int r = -ENOENT;

	pthread_mutex_lock(&l->lock);
	s = find_live(l, fd);
	if (s) {
		struct epoll_event ev = { .events = events, .data.ptr = s };

		r = epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
	}
	pthread_mutex_unlock(&l->lock);
	return r;
}

void event_del(struct event_loop *l, int fd)
{
	struct event_src *s;

	pthread_mutex_lock(&l->lock);
	s = find_live(l, fd);
	if (s) {
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
		atomic_store(&s->dead, true);
		/* The loop may hold s from its last epoll_wait; it frees s after its batch. */
		if (!l->dispatching)
			free_dead(l, false);
	}
	pthread_mutex_unlock(&l->lock);
}

static void *loop_thread(void *arg)
{
	struct event_loop *l = arg;
	struct epoll_event evs[32];

	for (;;) {
		int n = epoll_wait(l->epfd, evs, ARRAY_SIZE(evs), -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("event: epoll_wait: %m");
			return NULL;
		}
		pthread_mutex_lock(&l->lock);
		l->dispatching = true;
		pthread_mutex_unlock(&l->lock);
		for (int i = 0; i < n; i++) {
			struct event_src *s = evs[i].data.ptr;

			if (!s)
				return NULL;	/* the stop eventfd; dispatching stays set */
			if (!atomic_load(&s->dead))
				s->fn(s->arg, evs[i].events);
		}
		pthread_mutex_lock(&l->lock);
		l->dispatching = false;
		free_dead(l, false);
		pthread_mutex_unlock(&l->lock);
	}
}

int event_loop_start(struct event_loop *l, struct husk_err **err)
{
	int r = pthread_create(&l->thread, NULL, loop_thread, l);

	if (r)
		return husk_err_set(err, r, "event: start the event thread");
	l->running = true;
	return 0;
}

void event_loop_stop(struct event_loop *l)
{
	uint64_t one = 1;

	if (!l->running)
		return;
	if (write(l->stopfd, &one, sizeof(one)) < 0)
		log_warn("event: wake the event thread: %m");
	pthread_join(l->thread, NULL);
	l->running = false;
	l->dispatching = false;
}
