/* loop: a small epoll dispatcher. Each module embeds a `struct watch` for
 * every fd it owns and registers its own callback, so the main loop never
 * switches on file descriptors. Owner: native/conmon. */
#ifndef CM_LOOP_H
#define CM_LOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*watch_fn)(void *ctx, uint32_t events);

struct watch {
	int fd; /* -1 when not registered */
	uint32_t events;
	watch_fn fn;
	void *ctx;
};

struct loop {
	int epfd;
};

int loop_init(struct loop *l);
void loop_close(struct loop *l);

/* Registers fd with the given epoll events; the watch must outlive it. */
int loop_add(struct loop *l, struct watch *w, int fd, uint32_t events, watch_fn fn, void *ctx);
int loop_mod(struct loop *l, struct watch *w, uint32_t events);
/* Unregisters (does not close the fd). Safe on an unregistered watch. */
void loop_del(struct loop *l, struct watch *w);

/* Waits up to timeout_ms (-1: forever) and dispatches one batch of events.
 * A watch deleted by an earlier callback in the same batch is skipped. */
int loop_run_once(struct loop *l, int timeout_ms);

void watch_reset(struct watch *w);

#endif
