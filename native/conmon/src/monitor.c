/* monitor: one container's (or one exec's) monitor, start to finish
 * (see monitor.h). The event handlers live in events.c. */
#include "monitor.h"
#include "err.h"
#include "events.h"
#include "exit.h"
#include "runtime.h"
#include "sig.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define OOM_SCORE_SELF -999

static bool serves_attach(const struct options *opt)
{
	return !opt->exec || opt->exec_attach;
}

static void monitor_init(struct monitor *m, const struct options *opt)
{
	memset(m, 0, sizeof *m);
	m->opt = opt;
	m->loop.epfd = -1;
	m->pipes = (struct parent_pipes){-1, -1, -1};
	m->sig_fd = m->timer_fd = -1;
	watch_reset(&m->sig_w);
	watch_reset(&m->timer_w);
	m->io.in_fd = m->io.out_fd = m->io.err_fd = -1;
	m->io.worker_in = m->io.worker_out = m->io.worker_err = -1;
	m->log.fd = -1;
	attach_init(&m->attach);
	ctl_init(&m->ctl);
	console_init(&m->console);
	m->runtime_pid = m->container_pid = -1;
	m->pending_height = m->pending_width = -1;
	m->old_oom_score = -1001;
}

/* Files and sockets the caller relies on once we report success; created
 * before daemonizing so a failure reaches the caller's stderr. */
static int prepare(struct monitor *m)
{
	const struct options *opt = m->opt;
	events_bind(m);
	if (log_open(&m->log, opt->log_path, opt->log_size_max, opt->log_global_size_max, !opt->no_sync_log) < 0)
		return -1;
	if (ctrio_prepare(&m->io, &m->loop, opt->terminal, opt->stdin_open) < 0)
		return -1;
	if (opt->terminal && console_setup(&m->console) < 0)
		return -1;
	if (!serves_attach(opt))
		return 0;
	if (attach_setup(&m->attach, opt->bundle, opt->socket_dir, opt->cuuid, opt->full_attach) < 0)
		return -1;
	return ctl_setup(&m->ctl, opt->bundle);
}

/* Like conmon: try to make the monitor the OOM killer's last choice. Needs
 * CAP_SYS_RESOURCE; without it this quietly does nothing. */
static void protect_from_oom(struct monitor *m)
{
	char text[16] = {0};
	int fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	if (read(fd, text, sizeof text - 1) > 0) {
		m->old_oom_score = atoi(text);
		int len = snprintf(text, sizeof text, "%d", OOM_SCORE_SELF);
		if (pwrite(fd, text, (size_t)len, 0) < 0)
			m->old_oom_score = -1001; /* unchanged: nothing to restore */
	}
	close(fd);
}

static int start_loop(struct monitor *m)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return cm_error(errno, "PR_SET_CHILD_SUBREAPER");
	if (loop_init(&m->loop) < 0)
		return -1;
	m->sig_fd = sig_open();
	if (m->sig_fd < 0 || loop_add(&m->loop, &m->sig_w, m->sig_fd, EPOLLIN, events_on_signal, m) < 0)
		return -1;
	if (m->console.listen_fd >= 0 && console_start(&m->console, &m->loop) < 0)
		return -1;
	if (m->attach.listen_fd >= 0 && attach_start(&m->attach, &m->loop) < 0)
		return -1;
	if (m->ctl.ctl.fd >= 0 && ctl_start(&m->ctl, &m->loop) < 0)
		return -1;
	return 0;
}

/* A failure before the container pid was reported: tell the caller. */
static int report_failure(struct monitor *m, const char *message)
{
	cm_error(0, "%s", message);
	sync_send(&m->pipes.sync_fd, sync_key(m->opt), -1, message);
	return 1;
}

static int run_runtime(struct monitor *m)
{
	const struct options *opt = m->opt;
	struct runtime_cmd cmd;
	if (opt->exec_attach) {
		/* The caller connects to the attach socket, then releases us. */
		sync_send(&m->pipes.attach_fd, "data", 0, NULL);
		if (m->pipes.start_fd >= 0)
			start_pipe_wait(m->pipes.start_fd);
	}
	runtime_build(&cmd, opt, m->console.path);
	m->runtime_pid = runtime_spawn(&cmd, m->io.worker_in, m->io.worker_out, m->io.worker_err, m->old_oom_score);
	ctrio_close_worker_ends(&m->io);
	if (m->runtime_pid < 0)
		return report_failure(m, "could not start the OCI runtime");
	while (!m->runtime_done)
		events_run_once(m);
	if (WIFEXITED(m->runtime_status) && WEXITSTATUS(m->runtime_status) == 0)
		return 0;
	char msg[4096];
	if (ctrio_read_runtime_error(&m->io, msg, sizeof msg) == 0)
		snprintf(msg, sizeof msg, "%s %s failed with exit status %d", opt->runtime,
		         opt->exec ? "exec" : opt->restore_path != NULL ? "restore" : "create",
		         exit_code_from_status(m->runtime_status));
	return report_failure(m, msg);
}

static int adopt_container(struct monitor *m)
{
	const struct options *opt = m->opt;
	char msg[512];
	if (opt->terminal && console_poll(&m->console) != 1)
		return report_failure(m, "the runtime did not send the container's terminal");
	if (read_pidfile(opt->container_pidfile, &m->container_pid, msg, sizeof msg) < 0)
		return report_failure(m, msg);
	events_take_cached_status(m);
	if (!opt->exec || opt->api_version >= 1)
		sync_send(&m->pipes.sync_fd, sync_key(opt), m->container_pid, NULL);
	if (!opt->exec)
		oom_start(&m->oom, &m->loop, m->container_pid, opt->bundle, opt->persist_dir);
	if (ctrio_start(&m->io) < 0)
		return 1;
	if (opt->timeout > 0) {
		struct itimerspec its = {.it_value = {.tv_sec = opt->timeout}};
		m->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (m->timer_fd < 0 || timerfd_settime(m->timer_fd, 0, &its, NULL) < 0 ||
		    loop_add(&m->loop, &m->timer_w, m->timer_fd, EPOLLIN, events_on_timeout, m) < 0)
		{
			cm_error(errno, "arming the --timeout timer");
			return 1;
		}
	}
	return 0;
}

/* Timed out: kill the process (its group when it has its own) and report
 * -1, as conmon does; output still queued is not waited for. */
static void kill_timed_out(struct monitor *m)
{
	pid_t pgid = getpgid(m->container_pid);
	if (pgid > 1 && pgid != getpgrp())
		kill(-pgid, SIGKILL);
	else
		kill(m->container_pid, SIGKILL);
}

static int finish(struct monitor *m)
{
	const struct options *opt = m->opt;
	const char *message = NULL;
	int code;
	if (m->timed_out) {
		kill_timed_out(m);
		code = -1;
		message = "command timed out";
	} else {
		ctrio_drain(&m->io);
		code = exit_code_from_status(m->container_status);
	}
	/* Order matters to readers: log complete and oom recorded before the
	 * exit file appears, the exit file before the exec result. */
	log_close(&m->log);
	oom_check(&m->oom);
	if (opt->persist_dir != NULL)
		exit_write_file(opt->persist_dir, "exit", code);
	if (opt->exit_dir != NULL)
		exit_write_file(opt->exit_dir, opt->cid, code);
	if (opt->exec)
		sync_send(&m->pipes.sync_fd, sync_key(opt), code, message);
	attach_shutdown(&m->attach);
	exit_run_command(opt);
	return code;
}

static void teardown(struct monitor *m)
{
	attach_shutdown(&m->attach);
	ctl_close(&m->ctl);
	console_cleanup(&m->console);
	oom_stop(&m->oom);
	ctrio_close(&m->io);
	log_close(&m->log);
	if (m->sig_fd >= 0)
		close(m->sig_fd);
	if (m->timer_fd >= 0)
		close(m->timer_fd);
	loop_close(&m->loop);
	int *fds[] = {&m->pipes.sync_fd, &m->pipes.start_fd, &m->pipes.attach_fd};
	for (size_t i = 0; i < 3; i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
}

static int run(struct monitor *m)
{
	protect_from_oom(m);
	if (start_loop(m) < 0)
		return report_failure(m, "setting up the monitor's event loop failed");
	int rc = run_runtime(m);
	if (rc == 0)
		rc = adopt_container(m);
	if (rc != 0)
		return rc;
	while (!m->container_done && !m->timed_out)
		events_run_once(m);
	return finish(m);
}

int monitor_main(const struct options *opt)
{
	struct monitor m;
	monitor_init(&m, opt);
	int rc = 1;
	if (pipes_from_env(&m.pipes, opt->exec_attach) < 0)
		goto out;
	/* Before anything is forked: the caller may move us into a cgroup. */
	if (m.pipes.start_fd >= 0) {
		start_pipe_wait(m.pipes.start_fd);
		if (!opt->exec_attach) {
			close(m.pipes.start_fd);
			m.pipes.start_fd = -1;
		}
	}
	if (prepare(&m) < 0)
		goto out;
	if (opt->sync_mode) {
		if (opt->conmon_pidfile != NULL && write_pidfile(opt->conmon_pidfile, getpid()) < 0)
			goto out;
	} else {
		daemonize(opt->conmon_pidfile);
	}
	rc = run(&m);
out:
	teardown(&m);
	return rc;
}
