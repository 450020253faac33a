/* sig: signalfd setup (see sig.h). */
#include "sig.h"
#include "err.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <sys/signalfd.h>

static const int handled[] = {SIGCHLD, SIGUSR1, SIGTERM, SIGINT, SIGQUIT, SIGHUP};

int sig_open(void)
{
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++)
		sigaddset(&set, handled[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return cm_error(errno, "sigprocmask");
	/* Writes to a closed pipe (stdin, sync pipe) must fail, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return fd < 0 ? cm_error(errno, "signalfd") : fd;
}

void sig_reset_child(void)
{
	sigset_t none;
	sigemptyset(&none);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
}
