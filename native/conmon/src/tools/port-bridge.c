/* port-bridge: one port-forward connection for network-svc (Node cannot
 * enter a network namespace). It joins the network namespace at --netns
 * (setns; none given: the caller's own, for host-network pods), connects to
 * localhost:PORT, IPv4 (127.0.0.1) first and then IPv6 (::1), as containerd
 * does, and relays stdin -> socket and socket -> stdout. Nothing runs in, or
 * is needed from, the pod's image.
 *
 * Half-close both ways: EOF on stdin becomes shutdown(SHUT_WR) on the
 * socket, EOF from the socket closes stdout; the other direction goes on.
 * It exits when both directions are done.
 *
 *   port-bridge [--netns PATH] [--status-fd N] [--connect-timeout-ms N] PORT
 *
 * --status-fd N: lines for the caller, on an fd kept open until exit:
 * "connected 127.0.0.1" (or "::1") once connected, and "eof" when the
 * server ended its side cleanly, written before stdout is closed, so a caller
 * that sees stdout end knows a clean end from a failure (no "eof" before the
 * exit). --connect-timeout-ms: per address, default 5000. Exit status: 0 both directions ended; 3 no address accepted the
 * connection (stderr: "port-bridge: connect to localhost:PORT: 127.0.0.1:
 * <reason>; ::1: <reason>"); 1 any other failure (setns, a relay error such
 * as a reset connection; one line on stderr); 2 bad arguments. Contract
 * version 1 (native/conmon/README.md). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE (128 * 1024)

enum { EXIT_RELAY = 1, EXIT_USAGE = 2, EXIT_CONNECT = 3 };

struct options {
	const char *netns;
	int status_fd;
	int timeout_ms;
	int port;
};

/* One direction of the relay: bytes read from `in` wait in `buf` for `out`. */
struct dir {
	int in, out;
	char *buf;
	size_t len, off;
	bool eof;  /* `in` ended (or its data can go nowhere) */
	bool done; /* eof and everything written; the half-close was made */
};

static int usage(const char *why)
{
	fprintf(stderr, "port-bridge: %s\nusage: port-bridge [--netns PATH] [--status-fd N] [--connect-timeout-ms N] PORT\n", why);
	return EXIT_USAGE;
}

static bool parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static int parse(int argc, char **argv, struct options *o)
{
	long v;
	*o = (struct options){.status_fd = -1, .timeout_ms = 5000};
	const char *port = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_value = i + 1 < argc;
		if (strcmp(a, "--netns") == 0 && has_value)
			o->netns = argv[++i];
		else if (strcmp(a, "--status-fd") == 0 && has_value && parse_int(argv[i + 1], 0, 1 << 20, &v))
			o->status_fd = (int)v, i++;
		else if (strcmp(a, "--connect-timeout-ms") == 0 && has_value && parse_int(argv[i + 1], 1, 600000, &v))
			o->timeout_ms = (int)v, i++;
		else if (a[0] != '-' && port == NULL)
			port = a;
		else
			return usage("bad or missing argument");
	}
	if (port == NULL || !parse_int(port, 1, 65535, &v))
		return usage("PORT must be 1..65535");
	o->port = (int)v;
	if (o->status_fd >= 0 && fcntl(o->status_fd, F_GETFD) < 0)
		return usage("--status-fd is not an open file descriptor");
	return 0;
}

static int join_netns(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "port-bridge: enter network namespace %s: %s\n", path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

/* A connected non-blocking socket, or -1 with errno set. */
static int connect_to(const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, sa, len) < 0) {
		if (errno != EINPROGRESS)
			goto fail;
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int r;
		while ((r = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
			;
		if (r == 0)
			errno = ETIMEDOUT;
		if (r <= 0)
			goto fail;
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			goto fail;
		if (soerr) {
			errno = soerr;
			goto fail;
		}
	}
	return fd;
fail:;
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Tries 127.0.0.1, then ::1; on success names the address in `which`. */
static int connect_localhost(int port, int timeout_ms, const char **which)
{
	struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int fd = connect_to((struct sockaddr *)&v4, sizeof v4, timeout_ms);
	if (fd >= 0) {
		*which = "127.0.0.1";
		return fd;
	}
	int err4 = errno;
	fd = connect_to((struct sockaddr *)&v6, sizeof v6, timeout_ms);
	if (fd >= 0) {
		*which = "::1";
		return fd;
	}
	fprintf(stderr, "port-bridge: connect to localhost:%d: 127.0.0.1: %s; ::1: %s\n", port, strerror(err4), strerror(errno));
	return -1;
}

static void set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static bool would_block(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

/* The half-close once a direction has nothing more to write. */
static void finish(struct dir *d, int sock, int status_fd)
{
	if (d->done || !d->eof || d->len > d->off)
		return;
	d->done = true;
	if (d->out == sock) {
		shutdown(sock, SHUT_WR);
		return;
	}
	if (status_fd >= 0)
		dprintf(status_fd, "eof\n");
	close(d->out);
}

/* Reads what is there; 0 ok, -1 read error (reported). */
static int fill(struct dir *d, int port)
{
	ssize_t n = read(d->in, d->buf, BUF_SIZE);
	if (n > 0) {
		d->len = (size_t)n;
		d->off = 0;
	} else if (n == 0) {
		d->eof = true;
	} else if (!would_block()) {
		fprintf(stderr, "port-bridge: port %d: read: %s\n", port, strerror(errno));
		return -1;
	}
	return 0;
}

/* Writes what is buffered; 0 ok, -1 the reader is gone. */
static int drain(struct dir *d)
{
	while (d->off < d->len) {
		ssize_t n = send(d->out, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(d->out, d->buf + d->off, d->len - d->off);
		if (n < 0)
			return would_block() ? 0 : -1;
		d->off += (size_t)n;
	}
	d->len = d->off = 0;
	return 0;
}

static int relay(int sock, int port, int status_fd)
{
	static char up_buf[BUF_SIZE], down_buf[BUF_SIZE];
	struct dir up = {.in = STDIN_FILENO, .out = sock, .buf = up_buf};
	struct dir down = {.in = sock, .out = STDOUT_FILENO, .buf = down_buf};
	set_nonblocking(STDIN_FILENO);
	set_nonblocking(STDOUT_FILENO);
	while (!up.done || !down.done) {
		struct dir *dirs[2] = {&up, &down};
		struct pollfd p[4];
		int np = 0, idx[2][2] = {{-1, -1}, {-1, -1}};
		for (int i = 0; i < 2; i++) {
			struct dir *d = dirs[i];
			if (d->done)
				continue;
			if (d->len > d->off) {
				idx[i][1] = np;
				p[np++] = (struct pollfd){.fd = d->out, .events = POLLOUT};
			} else if (!d->eof) {
				idx[i][0] = np;
				p[np++] = (struct pollfd){.fd = d->in, .events = POLLIN};
			}
		}
		if (poll(p, (nfds_t)np, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "port-bridge: poll: %s\n", strerror(errno));
			return EXIT_RELAY;
		}
		for (int i = 0; i < 2; i++) {
			struct dir *d = dirs[i];
			if (idx[i][0] >= 0 && p[idx[i][0]].revents && fill(d, port) < 0)
				return EXIT_RELAY;
			if (idx[i][1] >= 0 && p[idx[i][1]].revents && drain(d) < 0) {
				if (d == &down)
					return 0; /* our reader (network-svc) is gone: nothing to tell */
				/* The server takes no more data: what the client still sends is dropped. */
				d->len = d->off = 0;
				d->eof = true;
			}
			/* A fresh read is written at once if the other side has room. */
			if (d->len > d->off && drain(d) < 0 && d == &up) {
				d->len = d->off = 0;
				d->eof = true;
			}
			finish(d, sock, status_fd);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o;
	int r = parse(argc, argv, &o);
	if (r)
		return r;
	signal(SIGPIPE, SIG_IGN);
	if (o.netns && join_netns(o.netns) < 0)
		return EXIT_RELAY;
	const char *which = NULL;
	int sock = connect_localhost(o.port, o.timeout_ms, &which);
	if (sock < 0)
		return EXIT_CONNECT;
	if (o.status_fd >= 0) {
		fcntl(o.status_fd, F_SETFD, FD_CLOEXEC);
		dprintf(o.status_fd, "connected %s\n", which);
	}
	return relay(sock, o.port, o.status_fd);
}
