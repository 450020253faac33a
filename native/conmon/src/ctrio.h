/* ctrio: the container's standard streams as the monitor holds them: pipes
 * (or the pty master the runtime sent back), reading output as it comes and
 * feeding stdin without ever blocking the loop. Owner: native/conmon. */
#ifndef CM_CTRIO_H
#define CM_CTRIO_H

#include "loop.h"
#include "stream.h"

#include <stdbool.h>
#include <stddef.h>

struct ctrio {
	int worker_in, worker_out, worker_err; /* ends given to the runtime; -1: /dev/null */
	int in_fd;                             /* our end of the container's stdin */
	int out_fd, err_fd;                    /* our ends of stdout (or the pty) and stderr */
	bool tty;
	struct loop *loop;
	struct watch in_w, out_w, err_w;
	char *q; /* stdin bytes the container has not taken yet */
	size_t q_len, q_cap;
	bool close_when_drained;
	/* Output callback: data at pkt+1, pkt[0] is free for the attach prefix.
	 * n == 0 means the stream reached EOF. */
	void (*on_output)(void *ctx, enum stream s, char *pkt, size_t n);
	void (*on_stdin_drained)(void *ctx);
	void *ctx;
	char buf[1 + STDIO_BUF_SIZE];
};

/* Creates the pipes the runtime gets (before it is spawned). */
int ctrio_prepare(struct ctrio *io, struct loop *l, bool tty, bool want_stdin);
void ctrio_close_worker_ends(struct ctrio *io);
/* Terminal mode: adopts the pty master received on the console socket. */
int ctrio_set_console(struct ctrio *io, int master);
/* Starts reading stdout/stderr (after the runtime succeeded). */
int ctrio_start(struct ctrio *io);
/* Reads whatever is left (container gone) without blocking. */
void ctrio_drain(struct ctrio *io);
/* After a failed runtime call: what the runtime wrote to stderr. */
size_t ctrio_read_runtime_error(struct ctrio *io, char *out, size_t cap);

/* True while enough stdin is queued that producers should pause. */
bool ctrio_stdin_busy(const struct ctrio *io);
void ctrio_stdin_write(struct ctrio *io, const char *data, size_t n);
/* Closes the container's stdin once queued bytes are delivered. */
void ctrio_stdin_close(struct ctrio *io);
void ctrio_close(struct ctrio *io);

#endif
