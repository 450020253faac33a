/* events: the monitor's reactions: signals (reaping, log reopen,
 * forwarding), container output to the log and attach clients, client
 * input to stdin, resize and reopen requests, the --timeout timer.
 * Owner: native/conmon. */
#ifndef CM_EVENTS_H
#define CM_EVENTS_H

#include "monitor.h"

#include <stdint.h>

/* Points every module's callbacks at this monitor. */
void events_bind(struct monitor *m);
/* One loop batch plus the deferred frees it allows. */
void events_run_once(struct monitor *m);
/* After the container pid is known: take its status if it already exited. */
void events_take_cached_status(struct monitor *m);

void events_on_signal(void *ctx, uint32_t events);
void events_on_timeout(void *ctx, uint32_t events);

#endif
