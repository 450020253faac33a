/* attach: attach socket server (see attach.h). */
#include "attach.h"
#include "err.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CLIENT_QUEUE_MAX (4 * 1024 * 1024)
#define RBUF_SIZE (32 * 1024) /* clients may send up to 32 KiB packets */

struct attach_packet {
	struct attach_packet *next;
	size_t len;
	char data[];
};

struct attach_client {
	struct attach_client *next;
	struct attach_server *srv;
	struct watch w;
	int fd;
	bool readable; /* still a source of stdin */
	bool dead;     /* closed; freed by attach_reap */
	struct attach_packet *head, *tail;
	size_t queued;
};

static int bind_at(int fd, const char *dir)
{
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cm_error(errno, "opening attach directory %s", dir);
	/* Through /proc/self/fd the address stays short whatever the bundle
	 * path length (sun_path holds only 108 bytes). */
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/attach", dfd);
	int rc = bind(fd, (struct sockaddr *)&addr, sizeof addr);
	int saved = errno;
	close(dfd);
	return rc < 0 ? cm_error(saved, "binding attach socket in %s", dir) : 0;
}

void attach_init(struct attach_server *a)
{
	*a = (struct attach_server){.listen_fd = -1};
	watch_reset(&a->w);
}

int attach_setup(struct attach_server *a, const char *bundle, const char *socket_dir, const char *cuuid,
                 bool full_attach)
{
	a->sock_path = path_join(bundle, "attach");
	const char *dir = bundle;
	if (!full_attach) {
		a->link_path = path_join(socket_dir, cuuid);
		if (unlink(a->link_path) < 0 && errno != ENOENT)
			return cm_error(errno, "removing stale attach link %s", a->link_path);
		if (symlink(bundle, a->link_path) < 0)
			return cm_error(errno, "creating attach link %s", a->link_path);
		dir = a->link_path;
	}
	if (unlink(a->sock_path) < 0 && errno != ENOENT)
		return cm_error(errno, "removing stale attach socket %s", a->sock_path);
	a->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->listen_fd < 0)
		return cm_error(errno, "creating attach socket");
	if (bind_at(a->listen_fd, dir) < 0)
		return -1;
	if (chmod(a->sock_path, 0700) < 0)
		return cm_error(errno, "chmod %s", a->sock_path);
	if (listen(a->listen_fd, 10) < 0)
		return cm_error(errno, "listening on %s", a->sock_path);
	return 0;
}

/* ---- clients ---- */

static void client_close(struct attach_client *c)
{
	if (c->dead)
		return;
	struct attach_server *a = c->srv;
	loop_del(a->loop, &c->w);
	close(c->fd);
	c->fd = -1;
	c->dead = true;
	while (c->head) {
		struct attach_packet *p = c->head;
		c->head = p->next;
		free(p);
	}
	c->tail = NULL;
	c->queued = 0;
	if (c->readable) {
		c->readable = false;
		a->on_input_eof(a->ctx);
	}
}

static void client_update_events(struct attach_client *c)
{
	uint32_t ev = 0;
	if (c->readable && !c->srv->input_paused)
		ev |= EPOLLIN;
	if (c->head)
		ev |= EPOLLOUT;
	loop_mod(c->srv->loop, &c->w, ev);
}

/* Sends queued packets; false if the client had to be dropped. */
static bool client_flush(struct attach_client *c)
{
	while (c->head) {
		struct attach_packet *p = c->head;
		ssize_t n = send(c->fd, p->data, p->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n < 0) {
			client_close(c);
			return false;
		}
		c->head = p->next;
		if (c->head == NULL)
			c->tail = NULL;
		c->queued -= p->len;
		free(p);
	}
	client_update_events(c);
	return true;
}

static void client_enqueue(struct attach_client *c, const char *pkt, size_t len)
{
	struct attach_packet *p = malloc(sizeof *p + len);
	if (p == NULL || c->queued + len > CLIENT_QUEUE_MAX) {
		free(p);
		cm_error(0, "attach client too slow (%zu bytes queued): disconnecting it", c->queued);
		client_close(c);
		return;
	}
	p->next = NULL;
	p->len = len;
	memcpy(p->data, pkt, len);
	if (c->tail)
		c->tail->next = p;
	else
		c->head = p;
	c->tail = p;
	c->queued += len;
	client_update_events(c);
}

static void client_send(struct attach_client *c, const char *pkt, size_t len)
{
	if (c->head == NULL) {
		ssize_t n = send(c->fd, pkt, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0)
			return;
		if (errno != EAGAIN && errno != EINTR) {
			client_close(c);
			return;
		}
	}
	client_enqueue(c, pkt, len);
}

static void client_read(struct attach_client *c)
{
	struct attach_server *a = c->srv;
	ssize_t n = recv(c->fd, a->rbuf, RBUF_SIZE, 0);
	if (n > 0) {
		a->on_input(a->ctx, a->rbuf, (size_t)n);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		client_close(c);
		return;
	}
	/* Orderly shutdown of the client's write side: its stdin ends, but it
	 * keeps receiving output until it closes. */
	c->readable = false;
	client_update_events(c);
	a->on_input_eof(a->ctx);
}

static void on_client(void *ctx, uint32_t events)
{
	struct attach_client *c = ctx;
	if ((events & EPOLLOUT) && !client_flush(c))
		return;
	if ((events & EPOLLIN) && c->readable && !c->srv->input_paused) {
		client_read(c);
		return;
	}
	if (events & (EPOLLHUP | EPOLLERR))
		client_close(c);
}

static void on_listen(void *ctx, uint32_t events)
{
	(void)events;
	struct attach_server *a = ctx;
	int fd = accept4(a->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			cm_error(errno, "accepting attach client");
		return;
	}
	if (a->rbuf == NULL)
		a->rbuf = malloc(RBUF_SIZE);
	struct attach_client *c = calloc(1, sizeof *c);
	if (c == NULL || a->rbuf == NULL) {
		free(c);
		close(fd);
		cm_error(ENOMEM, "accepting attach client");
		return;
	}
	*c = (struct attach_client){.srv = a, .fd = fd, .readable = true, .next = a->clients};
	if (loop_add(a->loop, &c->w, fd, a->input_paused ? 0 : EPOLLIN, on_client, c) < 0) {
		close(fd);
		free(c);
		return;
	}
	a->clients = c;
}

int attach_start(struct attach_server *a, struct loop *l)
{
	a->loop = l;
	return loop_add(l, &a->w, a->listen_fd, EPOLLIN, on_listen, a);
}

void attach_broadcast(struct attach_server *a, enum stream s, char *pkt, size_t n)
{
	pkt[0] = (char)s;
	for (struct attach_client *c = a->clients; c; c = c->next)
		if (!c->dead)
			client_send(c, pkt, n + 1);
}

void attach_pause_input(struct attach_server *a, bool paused)
{
	if (a->input_paused == paused)
		return;
	a->input_paused = paused;
	for (struct attach_client *c = a->clients; c; c = c->next)
		if (!c->dead)
			client_update_events(c);
}

void attach_reap(struct attach_server *a)
{
	struct attach_client **pp = &a->clients;
	while (*pp) {
		struct attach_client *c = *pp;
		if (c->dead) {
			*pp = c->next;
			free(c);
		} else {
			pp = &c->next;
		}
	}
}

void attach_shutdown(struct attach_server *a)
{
	for (struct attach_client *c = a->clients; c; c = c->next) {
		if (!c->dead) {
			c->readable = false; /* the container is gone: no stdin to end */
			client_flush(c);
			client_close(c);
		}
	}
	attach_reap(a);
	if (a->loop)
		loop_del(a->loop, &a->w);
	if (a->listen_fd >= 0)
		close(a->listen_fd);
	a->listen_fd = -1;
	if (a->sock_path)
		unlink(a->sock_path);
	if (a->link_path)
		unlink(a->link_path);
	free(a->sock_path);
	free(a->link_path);
	free(a->rbuf);
	a->sock_path = a->link_path = a->rbuf = NULL;
}
