/* exit: exit code, exit file, exit command (see exit.h). */
#include "exit.h"
#include "err.h"
#include "sig.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int exit_code_from_status(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return -1;
}

int exit_write_file(const char *dir, const char *cid, int code)
{
	char text[16];
	int len = snprintf(text, sizeof text, "%d", code);
	char *path = path_join(dir, cid);
	int rc = atomic_write_file(path, text, (size_t)len, 0644);
	if (rc < 0)
		cm_error(errno, "writing exit file %s", path);
	free(path);
	return rc;
}

void exit_run_command(const struct options *opt)
{
	if (opt->exit_command == NULL)
		return;
	pid_t pid = fork();
	if (pid < 0) {
		cm_error(errno, "fork for exit command");
		return;
	}
	if (pid > 0)
		return; /* not waited for: the monitor exits, init adopts it */
	sig_reset_child();
	setsid();
	const char *argv[CM_LIST_MAX + 2];
	int n = 0;
	argv[n++] = opt->exit_command;
	for (int i = 0; i < opt->exit_args.n; i++)
		argv[n++] = opt->exit_args.item[i];
	argv[n] = NULL;
	if (opt->exit_delay > 0)
		sleep((unsigned)opt->exit_delay);
	execv(opt->exit_command, (char *const *)argv);
	cm_error(errno, "exec exit command %s", opt->exit_command);
	_exit(127);
}
