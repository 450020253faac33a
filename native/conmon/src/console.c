/* console: receive the pty master from the runtime (see console.h). */
#include "console.h"
#include "err.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

void console_init(struct console *c)
{
	*c = (struct console){.listen_fd = -1, .master = -1};
	watch_reset(&c->w);
}

int console_setup(struct console *c)
{
	const char *tmp = getenv("TMPDIR");
	char templ[256];
	snprintf(templ, sizeof templ, "%s/crius-conmon-term.XXXXXX", tmp && tmp[0] == '/' && strlen(tmp) < 64 ? tmp : "/tmp");
	if (mkdtemp(templ) == NULL)
		return cm_error(errno, "creating console socket dir %s", templ);
	c->dir = xstrdup(templ);
	c->path = path_join(templ, "console.sock");
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(c->path) >= sizeof addr.sun_path)
		return cm_error(ENAMETOOLONG, "console socket path %s", c->path);
	strcpy(addr.sun_path, c->path);
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0)
		return cm_error(errno, "creating console socket");
	if (bind(c->listen_fd, (struct sockaddr *)&addr, sizeof addr) < 0)
		return cm_error(errno, "binding console socket %s", c->path);
	if (listen(c->listen_fd, 1) < 0)
		return cm_error(errno, "listening on console socket %s", c->path);
	return 0;
}

/* Reads one message carrying one fd (the runtime also sends the pty name). */
static int recv_fd(int conn)
{
	char name[256];
	struct iovec iov = {.iov_base = name, .iov_len = sizeof name};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctrl;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf, .msg_controllen = sizeof ctrl.buf};
	ssize_t n;
	do
		n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return cm_error(errno, "receiving console fd");
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	if (cm == NULL || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(sizeof(int)))
		return cm_error(0, "console socket message carried no fd");
	int fd;
	memcpy(&fd, CMSG_DATA(cm), sizeof fd);
	return fd;
}

/* Kubernetes expects "\n" from the container to reach clients as "\r\n". */
static void set_onlcr(int fd)
{
	struct termios t;
	if (tcgetattr(fd, &t) < 0) {
		cm_error(errno, "tcgetattr console");
		return;
	}
	t.c_oflag |= ONLCR;
	if (tcsetattr(fd, TCSANOW, &t) < 0)
		cm_error(errno, "tcsetattr console");
}

int console_poll(struct console *c)
{
	if (c->master >= 0)
		return 1;
	int conn = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : cm_error(errno, "accepting console connection");
	int fd = recv_fd(conn);
	close(conn);
	if (fd < 0)
		return -1;
	set_onlcr(fd);
	c->master = fd;
	if (c->loop)
		loop_del(c->loop, &c->w);
	console_cleanup(c);
	c->on_master(c->ctx, fd);
	return 1;
}

static void on_console(void *ctx, uint32_t events)
{
	(void)events;
	console_poll(ctx);
}

int console_start(struct console *c, struct loop *l)
{
	c->loop = l;
	return loop_add(l, &c->w, c->listen_fd, EPOLLIN, on_console, c);
}

void console_cleanup(struct console *c)
{
	if (c->loop)
		loop_del(c->loop, &c->w);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	c->listen_fd = -1;
	if (c->path)
		unlink(c->path);
	if (c->dir)
		rmdir(c->dir);
	free(c->path);
	free(c->dir);
	c->path = c->dir = NULL;
}
