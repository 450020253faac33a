/* runtime: OCI runtime invocation (see runtime.h). */
#include "runtime.h"
#include "err.h"
#include "sig.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static void add(struct runtime_cmd *cmd, const char *arg)
{
	if (cmd->argc < RUNTIME_ARGV_MAX - 1)
		cmd->argv[cmd->argc++] = arg;
}

static void add_list(struct runtime_cmd *cmd, const struct strlist *l)
{
	for (int i = 0; i < l->n; i++)
		add(cmd, l->item[i]);
}

void runtime_build(struct runtime_cmd *cmd, const struct options *opt, const char *console_path)
{
	cmd->argc = 0;
	add(cmd, opt->runtime);
	if (!opt->exec && opt->systemd_cgroup)
		add(cmd, "--systemd-cgroup");
	add_list(cmd, &opt->runtime_args);
	if (opt->exec) {
		add(cmd, "exec");
		add(cmd, "--pid-file");
		add(cmd, opt->container_pidfile);
		add(cmd, "--process");
		add(cmd, opt->exec_process_spec);
		add(cmd, "--detach");
		if (opt->terminal)
			add(cmd, "--tty");
		add_list(cmd, &opt->runtime_opts);
	} else {
		add(cmd, opt->restore_path != NULL ? "restore" : "create");
		add(cmd, "--bundle");
		add(cmd, opt->bundle);
		add(cmd, "--pid-file");
		add(cmd, opt->container_pidfile);
		if (opt->no_pivot)
			add(cmd, "--no-pivot");
		if (opt->no_new_keyring)
			add(cmd, "--no-new-keyring");
		if (opt->restore_path != NULL) {
			/* A restored container runs at once: --detach returns when it
			 * does. CRIU works, and logs restore.log, in the bundle. */
			add(cmd, "--detach");
			add(cmd, "--image-path");
			add(cmd, opt->restore_path);
			add(cmd, "--work-path");
			add(cmd, opt->bundle);
			add_list(cmd, &opt->runtime_opts);
		}
	}
	if (console_path != NULL) {
		add(cmd, "--console-socket");
		add(cmd, console_path);
	}
	add(cmd, opt->cid);
	cmd->argv[cmd->argc] = NULL;
}

static void restore_oom_score(int value)
{
	if (value < -1000)
		return;
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char text[16];
	int len = snprintf(text, sizeof text, "%d", value);
	if (write(fd, text, (size_t)len) < 0) {
		/* Raising the score back needs no privilege; ignore failures. */
	}
	close(fd);
}

/* Child side: wire stdio, then become the runtime. Never returns. */
static void exec_runtime(const struct runtime_cmd *cmd, int in, int out, int err, int oom_score_adj)
{
	sig_reset_child();
	/* If the monitor dies mid-create, the runtime goes too. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	restore_oom_score(oom_score_adj);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int fds[3] = {in >= 0 ? in : null, out >= 0 ? out : null, err >= 0 ? err : null};
	for (int i = 0; i < 3; i++) {
		if (fds[i] < 0 || dup2(fds[i], i) < 0)
			_exit(127);
	}
	execv(cmd->argv[0], (char *const *)cmd->argv);
	/* stderr is the pipe the monitor reads back as the runtime's error. */
	dprintf(STDERR_FILENO, "crius-conmon: exec %s: %s\n", cmd->argv[0], strerror(errno));
	_exit(127);
}

pid_t runtime_spawn(const struct runtime_cmd *cmd, int in, int out, int err, int oom_score_adj)
{
	pid_t pid = fork();
	if (pid < 0)
		return cm_error(errno, "fork for %s", cmd->argv[0]);
	if (pid == 0)
		exec_runtime(cmd, in, out, err, oom_score_adj);
	return pid;
}

int read_pidfile(const char *path, pid_t *pid, char *msg, size_t msglen)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	int saved = errno;
	if (fd >= 0)
		close(fd);
	if (n < 0) {
		snprintf(msg, msglen, "reading container pidfile %s: %s", path, strerror(saved));
		return -1;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	int v;
	if (parse_int(buf, &v) < 0 || v <= 0) {
		snprintf(msg, msglen, "container pidfile %s holds '%s', not a pid", path, buf);
		return -1;
	}
	*pid = v;
	return 0;
}
