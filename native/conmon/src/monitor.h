/* monitor: the life of one crius-conmon process, from the start pipe to the
 * exit file: set up endpoints, daemonize, run the runtime, watch the
 * container until it exits. All state lives in one struct monitor on
 * monitor_main's stack. Owner: native/conmon. */
#ifndef CM_MONITOR_H
#define CM_MONITOR_H

#include "attach.h"
#include "cli.h"
#include "console.h"
#include "ctl.h"
#include "ctrio.h"
#include "logging.h"
#include "loop.h"
#include "oom.h"
#include "sync.h"

#include <stdbool.h>
#include <sys/types.h>

#define REAPED_CACHE 16

struct monitor {
	const struct options *opt;
	struct loop loop;
	struct parent_pipes pipes;
	int sig_fd, timer_fd;
	struct watch sig_w, timer_w;
	struct ctrio io;
	struct log_writer log;
	struct attach_server attach;
	struct ctl ctl;
	struct console console;
	struct oom_watch oom;
	pid_t runtime_pid, container_pid;
	int runtime_status, container_status;
	bool runtime_done, container_done, timed_out;
	/* Children reaped before we knew their pid (a fast exec). */
	struct {
		pid_t pid;
		int status;
	} reaped[REAPED_CACHE];
	int reaped_next;
	int pending_height, pending_width; /* resize asked before the pty came */
	int old_oom_score;
};

/* Everything after option validation; returns the process exit code. */
int monitor_main(const struct options *opt);

#endif
