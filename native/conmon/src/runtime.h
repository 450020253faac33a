/* runtime: runs the OCI runtime the way conmon does:
 *   RUNTIME [--systemd-cgroup] [runtime-args] create --bundle B --pid-file P
 *           [--no-pivot] [--no-new-keyring] [--console-socket S] CID
 *   RUNTIME [runtime-args] exec --pid-file P --process SPEC --detach [--tty]
 *           [runtime-opts] [--console-socket S] CID
 * with the container's stdio as its own stdio. Owner: native/conmon. */
#ifndef CM_RUNTIME_H
#define CM_RUNTIME_H

#include "cli.h"

#include <sys/types.h>

#define RUNTIME_ARGV_MAX (2 * CM_LIST_MAX + 24)

struct runtime_cmd {
	const char *argv[RUNTIME_ARGV_MAX];
	int argc;
};

void runtime_build(struct runtime_cmd *cmd, const struct options *opt, const char *console_path);
/* fds of -1 become /dev/null. oom_score_adj (if >= -1000) is restored in
 * the child, so the monitor's own adjustment is not inherited. */
pid_t runtime_spawn(const struct runtime_cmd *cmd, int in, int out, int err, int oom_score_adj);
/* Reads the pid the runtime wrote. 0 or -1 (with a message in msg). */
int read_pidfile(const char *path, pid_t *pid, char *msg, size_t msglen);

#endif
