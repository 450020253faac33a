/* loop: epoll dispatcher (see loop.h). */
#include "loop.h"
#include "err.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#define BATCH 32

void watch_reset(struct watch *w)
{
	*w = (struct watch){.fd = -1};
}

int loop_init(struct loop *l)
{
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? cm_error(errno, "epoll_create1") : 0;
}

void loop_close(struct loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

int loop_add(struct loop *l, struct watch *w, int fd, uint32_t events, watch_fn fn, void *ctx)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};
	*w = (struct watch){.fd = fd, .events = events, .fn = fn, .ctx = ctx};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		w->fd = -1;
		return cm_error(errno, "epoll_ctl add fd %d", fd);
	}
	return 0;
}

int loop_mod(struct loop *l, struct watch *w, uint32_t events)
{
	if (w->fd < 0 || w->events == events)
		return 0;
	struct epoll_event ev = {.events = events, .data.ptr = w};
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		return cm_error(errno, "epoll_ctl mod fd %d", w->fd);
	w->events = events;
	return 0;
}

void loop_del(struct loop *l, struct watch *w)
{
	if (w->fd < 0)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->fd = -1;
}

int loop_run_once(struct loop *l, int timeout_ms)
{
	struct epoll_event evs[BATCH];
	int n = epoll_wait(l->epfd, evs, BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : cm_error(errno, "epoll_wait");
	for (int i = 0; i < n; i++) {
		struct watch *w = evs[i].data.ptr;
		/* Owners free watch memory only between batches (see attach_reap),
		 * so a watch removed earlier in this batch is still readable here. */
		if (w->fd >= 0)
			w->fn(w->ctx, evs[i].events);
	}
	return n;
}
