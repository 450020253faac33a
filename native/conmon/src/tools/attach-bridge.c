/* attach-bridge: relays a conmon attach socket (SOCK_SEQPACKET, which Node
 * cannot speak) to plain stdio, for runtime-svc's attach sessions and for the
 * tests. Its stdin goes to the socket as raw packets (EOF on stdin ->
 * shutdown(SHUT_WR)); packets from the socket go to stdout (prefix 2) or
 * stderr (prefix 3). Exits 0 when the monitor closes the socket, 124 after
 * --timeout-ms (default: no timeout), 1 on errors (message on stderr).
 * --ready-fd N: once connected, write "ready\n" to fd N and close it, so a
 * caller (runtime-svc's terminal exec) can release the monitor knowing no
 * output is lost.
 *   attach-bridge SOCKET [--no-stdin] [--timeout-ms N] [--ready-fd N] */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *what)
{
	fprintf(stderr, "attach-bridge: %s: %s\n", what, strerror(errno));
	return 1;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int write_full(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* 1: keep going, 0: socket closed, -1: error */
static int relay_from_socket(int sock)
{
	char buf[8192 + 1];
	ssize_t n = recv(sock, buf, sizeof buf, 0);
	if (n < 0)
		return errno == EINTR ? 1 : -1;
	if (n == 0)
		return 0;
	int out = buf[0] == 2 ? STDOUT_FILENO : buf[0] == 3 ? STDERR_FILENO : -1;
	if (out < 0) {
		fprintf(stderr, "attach-bridge: unexpected stream byte %d\n", buf[0]);
		return -1;
	}
	return write_full(out, buf + 1, (size_t)n - 1) < 0 ? -1 : 1;
}

/* 1: keep going, 0: stdin ended, -1: error */
static int relay_from_stdin(int sock)
{
	char buf[8192];
	ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
	if (n < 0)
		return errno == EINTR ? 1 : -1;
	if (n == 0) {
		shutdown(sock, SHUT_WR);
		return 0;
	}
	return send(sock, buf, (size_t)n, MSG_NOSIGNAL) < 0 ? -1 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: attach-bridge SOCKET [--no-stdin] [--timeout-ms N] [--ready-fd N]\n");
		return 2;
	}
	int use_stdin = 1;
	long timeout = 0; /* none */
	int ready_fd = -1;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--no-stdin") == 0)
			use_stdin = 0;
		else if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc)
			timeout = atol(argv[++i]);
		else if (strcmp(argv[i], "--ready-fd") == 0 && i + 1 < argc)
			ready_fd = atoi(argv[++i]);
	}
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(argv[1]) >= sizeof addr.sun_path) {
		fprintf(stderr, "attach-bridge: socket path too long\n");
		return 1;
	}
	strcpy(addr.sun_path, argv[1]);
	int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return fail("socket");
	if (connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0)
		return fail("connect");
	if (ready_fd >= 0) {
		if (write_full(ready_fd, "ready\n", 6) < 0)
			return fail("ready-fd");
		close(ready_fd);
	}
	long deadline = timeout > 0 ? now_ms() + timeout : 0;
	for (;;) {
		struct pollfd p[2] = {{.fd = sock, .events = POLLIN}, {.fd = use_stdin ? STDIN_FILENO : -1, .events = POLLIN}};
		long left = deadline ? deadline - now_ms() : -1;
		if (deadline && left <= 0)
			return 124;
		if (poll(p, 2, deadline ? (int)left : -1) < 0 && errno != EINTR)
			return fail("poll");
		if (p[0].revents) {
			int r = relay_from_socket(sock);
			if (r <= 0)
				return r < 0 ? fail("recv") : 0;
		}
		if (p[1].revents) {
			int r = relay_from_stdin(sock);
			if (r < 0)
				return fail("stdin");
			if (r == 0)
				use_stdin = 0;
		}
	}
}
