/* sync: parent pipes and daemonizing (see sync.h). */
#include "sync.h"
#include "err.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SYNC_MSG_MAX 8192

static int fd_from_env(const char *name, int *out)
{
	*out = -1;
	const char *v = getenv(name);
	if (v == NULL)
		return 0;
	int fd;
	if (parse_int(v, &fd) < 0 || fd < 0)
		return cm_error(0, "%s='%s' is not a file descriptor number", name, v);
	if (fcntl(fd, F_GETFD) < 0)
		return cm_error(errno, "%s=%d", name, fd);
	/* Never leak the caller's pipes into the runtime or the container. */
	set_cloexec(fd);
	*out = fd;
	return 0;
}

int pipes_from_env(struct parent_pipes *p, bool want_attach)
{
	if (fd_from_env("_OCI_SYNCPIPE", &p->sync_fd) < 0 || fd_from_env("_OCI_STARTPIPE", &p->start_fd) < 0 ||
	    fd_from_env("_OCI_ATTACHPIPE", &p->attach_fd) < 0)
		return -1;
	if (want_attach && p->attach_fd < 0)
		return cm_error(0, "--exec-attach needs _OCI_ATTACHPIPE");
	return 0;
}

int start_pipe_wait(int fd)
{
	char buf[256];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return cm_error(errno, "reading start pipe");
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		poll(&pfd, 1, -1);
	}
}

const char *sync_key(const struct options *opt)
{
	if (opt->api_version >= 1)
		return "data";
	return opt->exec ? "exit_code" : "pid";
}

void sync_send(int *fd, const char *key, int value, const char *message)
{
	if (*fd < 0)
		return;
	char esc[SYNC_MSG_MAX - 64], line[SYNC_MSG_MAX];
	int len;
	if (message != NULL && message[0] != '\0') {
		json_escape(esc, sizeof esc, message);
		len = snprintf(line, sizeof line, "{\"%s\": %d, \"message\": \"%s\"}\n", key, value, esc);
	} else {
		len = snprintf(line, sizeof line, "{\"%s\": %d}\n", key, value);
	}
	if (write_all(*fd, line, (size_t)len) < 0) {
		if (errno != EPIPE)
			cm_error(errno, "writing sync pipe");
		close(*fd);
		*fd = -1;
	}
}

int write_pidfile(const char *path, pid_t pid)
{
	char text[16];
	int len = snprintf(text, sizeof text, "%d", (int)pid);
	if (atomic_write_file(path, text, (size_t)len, 0644) < 0)
		return cm_error(errno, "writing pidfile %s", path);
	return 0;
}

/* stdin/stdout to /dev/null so whoever waits for EOF on them is released;
 * stderr too, unless it is a regular file (kept as a debugging aid). */
static void detach_stdio(void)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0)
		return;
	struct stat st;
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	if (fstat(STDERR_FILENO, &st) < 0 || !S_ISREG(st.st_mode))
		dup2(null, STDERR_FILENO);
	close(null);
}

/* The caller's process: exit once the monitor says it is up. */
static void noreturn_wait_ready(int ready_fd, pid_t child)
{
	int status;
	char c;
	ssize_t n;
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	do
		n = read(ready_fd, &c, 1);
	while (n < 0 && errno == EINTR);
	_exit(n == 1 ? 0 : 1);
}

void daemonize(const char *conmon_pidfile)
{
	int ready[2];
	if (pipe2(ready, O_CLOEXEC) < 0)
		cm_fatal(errno, "pipe2");
	pid_t child = fork();
	if (child < 0)
		cm_fatal(errno, "fork");
	if (child > 0) {
		close(ready[1]);
		noreturn_wait_ready(ready[0], child);
	}
	close(ready[0]);
	/* New session: no controlling terminal, not in the caller's process
	 * group, so signals aimed at the caller's group do not reach us. */
	if (setsid() < 0) {
		cm_error(errno, "setsid");
		_exit(1);
	}
	pid_t monitor = fork();
	if (monitor < 0) {
		cm_error(errno, "fork");
		_exit(1);
	}
	if (monitor > 0)
		_exit(0);
	if (conmon_pidfile != NULL && write_pidfile(conmon_pidfile, getpid()) < 0)
		_exit(1);
	detach_stdio();
	if (write_all(ready[1], "1", 1) < 0)
		cm_error(errno, "signalling readiness");
	close(ready[1]);
}
