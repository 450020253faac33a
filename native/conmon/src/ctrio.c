/* ctrio: container stdio (see ctrio.h). */
#include "ctrio.h"
#include "err.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define STDIN_PAUSE_MARK (64 * 1024)

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* fds[0] read end, fds[1] write end; `ours` is made non-blocking, the
 * runtime's end stays blocking because the container inherits it. */
static int make_pipe(int fds[2], int ours)
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return cm_error(errno, "pipe2");
	return set_nonblock(fds[ours], true) < 0 ? cm_error(errno, "set O_NONBLOCK") : 0;
}

int ctrio_prepare(struct ctrio *io, struct loop *l, bool tty, bool want_stdin)
{
	int fds[2];
	io->worker_in = io->worker_out = io->worker_err = -1;
	io->in_fd = io->out_fd = io->err_fd = -1;
	io->tty = tty;
	io->loop = l;
	watch_reset(&io->in_w);
	watch_reset(&io->out_w);
	watch_reset(&io->err_w);
	io->q = NULL;
	io->q_len = io->q_cap = 0;
	io->close_when_drained = false;
	if (!tty && want_stdin) {
		if (make_pipe(fds, 1) < 0)
			return -1;
		io->worker_in = fds[0];
		io->in_fd = fds[1];
	}
	if (!tty) {
		if (make_pipe(fds, 0) < 0)
			return -1;
		io->out_fd = fds[0];
		io->worker_out = fds[1];
	}
	/* Always a stderr pipe: it carries the runtime's own error text, even
	 * when the container itself gets a terminal. */
	if (make_pipe(fds, 0) < 0)
		return -1;
	io->err_fd = fds[0];
	io->worker_err = fds[1];
	return 0;
}

void ctrio_close_worker_ends(struct ctrio *io)
{
	close_fd(&io->worker_in);
	close_fd(&io->worker_out);
	close_fd(&io->worker_err);
}

/* ---- stdin ---- */

static void stdin_drop(struct ctrio *io)
{
	loop_del(io->loop, &io->in_w);
	close_fd(&io->in_fd);
	io->q_len = 0;
}

static void stdin_flush(struct ctrio *io)
{
	while (io->in_fd >= 0 && io->q_len > 0) {
		ssize_t n = write(io->in_fd, io->q, io->q_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* EPIPE: the container closed its stdin; nothing more to deliver. */
			stdin_drop(io);
			break;
		}
		memmove(io->q, io->q + n, io->q_len - (size_t)n);
		io->q_len -= (size_t)n;
	}
	if (io->q_len == 0) {
		loop_del(io->loop, &io->in_w);
		if (io->close_when_drained && !io->tty)
			close_fd(&io->in_fd);
		if (io->on_stdin_drained)
			io->on_stdin_drained(io->ctx);
	}
}

static void on_stdin_writable(void *ctx, uint32_t events)
{
	(void)events;
	stdin_flush(ctx);
}

static void stdin_arm(struct ctrio *io)
{
	if (io->in_fd >= 0 && io->q_len > 0 && io->in_w.fd < 0)
		loop_add(io->loop, &io->in_w, io->in_fd, EPOLLOUT, on_stdin_writable, io);
}

bool ctrio_stdin_busy(const struct ctrio *io)
{
	return io->q_len >= STDIN_PAUSE_MARK;
}

void ctrio_stdin_write(struct ctrio *io, const char *data, size_t n)
{
	if (io->close_when_drained || (io->in_fd < 0 && !io->tty))
		return; /* no stdin (or already closed): input is discarded */
	if (io->q_len + n > io->q_cap) {
		size_t cap = io->q_cap ? io->q_cap : 4096;
		while (cap < io->q_len + n)
			cap *= 2;
		char *q = realloc(io->q, cap);
		if (q == NULL) {
			cm_error(ENOMEM, "queueing %zu bytes of stdin", n);
			return;
		}
		io->q = q;
		io->q_cap = cap;
	}
	memcpy(io->q + io->q_len, data, n);
	io->q_len += n;
	stdin_flush(io);
	stdin_arm(io);
}

void ctrio_stdin_close(struct ctrio *io)
{
	io->close_when_drained = true;
	if (io->q_len == 0 && !io->tty)
		close_fd(&io->in_fd);
}

int ctrio_set_console(struct ctrio *io, int master)
{
	if (set_nonblock(master, true) < 0)
		return cm_error(errno, "set O_NONBLOCK on console");
	/* Two fds for one pty, so stdin can be dropped while output flows. */
	int in = dup(master);
	if (in < 0)
		return cm_error(errno, "dup console");
	set_cloexec(in);
	io->out_fd = master;
	io->in_fd = in;
	stdin_flush(io);
	stdin_arm(io);
	return 0;
}

/* ---- output ---- */

/* One read; returns false at EOF (or a pty whose last slave closed: EIO). */
static bool read_once(struct ctrio *io, int *fd, struct watch *w, enum stream s)
{
	ssize_t n;
	do
		n = read(*fd, io->buf + 1, STDIO_BUF_SIZE);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		io->on_output(io->ctx, s, io->buf, (size_t)n);
		return true;
	}
	if (n < 0 && errno == EAGAIN)
		return false;
	if (n < 0 && errno != EIO)
		cm_error(errno, "reading container %s", s == STREAM_STDERR ? "stderr" : "stdout");
	loop_del(io->loop, w);
	if (io->tty && s == STREAM_STDOUT) {
		/* Keep the master open: it is still needed for resize. */
		io->on_output(io->ctx, s, io->buf, 0);
		return false;
	}
	close_fd(fd);
	io->on_output(io->ctx, s, io->buf, 0);
	return false;
}

static void on_out(void *ctx, uint32_t events)
{
	(void)events;
	struct ctrio *io = ctx;
	read_once(io, &io->out_fd, &io->out_w, STREAM_STDOUT);
}

static void on_err(void *ctx, uint32_t events)
{
	(void)events;
	struct ctrio *io = ctx;
	read_once(io, &io->err_fd, &io->err_w, STREAM_STDERR);
}

int ctrio_start(struct ctrio *io)
{
	if (io->out_fd >= 0 && loop_add(io->loop, &io->out_w, io->out_fd, EPOLLIN, on_out, io) < 0)
		return -1;
	if (io->err_fd >= 0 && loop_add(io->loop, &io->err_w, io->err_fd, EPOLLIN, on_err, io) < 0)
		return -1;
	return 0;
}

void ctrio_drain(struct ctrio *io)
{
	while (io->out_w.fd >= 0 && read_once(io, &io->out_fd, &io->out_w, STREAM_STDOUT))
		;
	while (io->err_w.fd >= 0 && read_once(io, &io->err_fd, &io->err_w, STREAM_STDERR))
		;
}

size_t ctrio_read_runtime_error(struct ctrio *io, char *out, size_t cap)
{
	size_t got = 0;
	while (io->err_fd >= 0 && got + 1 < cap) {
		ssize_t n = read(io->err_fd, out + got, cap - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	return got;
}

void ctrio_close(struct ctrio *io)
{
	loop_del(io->loop, &io->in_w);
	loop_del(io->loop, &io->out_w);
	loop_del(io->loop, &io->err_w);
	close_fd(&io->in_fd);
	close_fd(&io->out_fd);
	close_fd(&io->err_fd);
	ctrio_close_worker_ends(io);
	free(io->q);
	io->q = NULL;
	io->q_len = io->q_cap = 0;
}
