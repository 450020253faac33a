/* events: monitor event handlers (see events.h). */
#include "events.h"
#include "err.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/* ---- children ---- */

static void remember(struct monitor *m, pid_t pid, int status)
{
	m->reaped[m->reaped_next].pid = pid;
	m->reaped[m->reaped_next].status = status;
	m->reaped_next = (m->reaped_next + 1) % REAPED_CACHE;
}

static void reap(struct monitor *m)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			return;
		if (pid == m->runtime_pid && !m->runtime_done) {
			m->runtime_status = status;
			m->runtime_done = true;
		} else if (pid == m->container_pid && !m->container_done) {
			m->container_status = status;
			m->container_done = true;
		} else {
			remember(m, pid, status);
		}
	}
}

void events_take_cached_status(struct monitor *m)
{
	for (int i = 0; i < REAPED_CACHE; i++) {
		if (m->reaped[i].pid == m->container_pid && m->container_pid > 0) {
			m->container_status = m->reaped[i].status;
			m->container_done = true;
			m->reaped[i].pid = 0;
		}
	}
}

/* conmon's rule: termination signals go to the container (or to the
 * runtime while it runs); the monitor itself keeps going. */
static void forward(struct monitor *m, int sig)
{
	if (m->container_pid > 0 && !m->container_done)
		kill(m->container_pid, sig);
	else if (m->runtime_pid > 0 && !m->runtime_done)
		kill(m->runtime_pid, sig);
}

void events_on_signal(void *ctx, uint32_t events)
{
	(void)events;
	struct monitor *m = ctx;
	struct signalfd_siginfo si;
	while (read(m->sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap(m);
			break;
		case SIGUSR1:
			log_reopen(&m->log);
			break;
		case SIGTERM:
		case SIGINT:
		case SIGQUIT:
			forward(m, (int)si.ssi_signo);
			break;
		default:
			break; /* SIGHUP: we have no terminal to lose */
		}
	}
}

void events_on_timeout(void *ctx, uint32_t events)
{
	(void)events;
	struct monitor *m = ctx;
	uint64_t ticks;
	if (read(m->timer_fd, &ticks, sizeof ticks) == (ssize_t)sizeof ticks)
		m->timed_out = true;
}

void events_run_once(struct monitor *m)
{
	loop_run_once(&m->loop, -1);
	attach_reap(&m->attach);
}

/* ---- stdio ---- */

static void on_output(void *ctx, enum stream s, char *pkt, size_t n)
{
	struct monitor *m = ctx;
	if (n == 0) {
		log_flush_stream(&m->log, s);
		return;
	}
	log_write(&m->log, s, pkt + 1, n);
	if (m->attach.listen_fd >= 0)
		attach_broadcast(&m->attach, s, pkt, n);
}

static void on_input(void *ctx, const char *buf, size_t n)
{
	struct monitor *m = ctx;
	ctrio_stdin_write(&m->io, buf, n);
	if (ctrio_stdin_busy(&m->io))
		attach_pause_input(&m->attach, true);
}

static void on_input_eof(void *ctx)
{
	struct monitor *m = ctx;
	if (!m->opt->leave_stdin_open)
		ctrio_stdin_close(&m->io);
}

static void on_stdin_drained(void *ctx)
{
	struct monitor *m = ctx;
	attach_pause_input(&m->attach, false);
}

/* ---- terminal and control ---- */

static void apply_size(struct monitor *m)
{
	if (m->io.out_fd < 0 || !m->io.tty || m->pending_height < 0)
		return;
	struct winsize ws = {.ws_row = (unsigned short)m->pending_height, .ws_col = (unsigned short)m->pending_width};
	if (ioctl(m->io.out_fd, TIOCSWINSZ, &ws) < 0)
		cm_error(errno, "resizing the container terminal");
	m->pending_height = m->pending_width = -1;
}

static void on_resize(void *ctx, int height, int width)
{
	struct monitor *m = ctx;
	m->pending_height = height;
	m->pending_width = width;
	apply_size(m); /* kept pending until the pty arrives */
}

static void on_reopen(void *ctx)
{
	struct monitor *m = ctx;
	log_reopen(&m->log);
}

static void on_master(void *ctx, int master)
{
	struct monitor *m = ctx;
	if (ctrio_set_console(&m->io, master) < 0)
		close(master);
	apply_size(m);
}

void events_bind(struct monitor *m)
{
	m->io.on_output = on_output;
	m->io.on_stdin_drained = on_stdin_drained;
	m->io.ctx = m;
	m->attach.on_input = on_input;
	m->attach.on_input_eof = on_input_eof;
	m->attach.ctx = m;
	m->ctl.on_resize = on_resize;
	m->ctl.on_reopen = on_reopen;
	m->ctl.ctx = m;
	m->console.on_master = on_master;
	m->console.ctx = m;
}
