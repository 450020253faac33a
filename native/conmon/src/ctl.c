/* ctl: control fifos (see ctl.h). */
#include "ctl.h"
#include "err.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

int ctl_parse_line(const char *line, int kind, struct ctl_msg *out)
{
	char extra;
	int n;
	if (kind == CTL_KIND_WINSZ) {
		out->type = CTL_MSG_RESIZE;
		n = sscanf(line, "%d %d %c", &out->height, &out->width, &extra);
		if (n != 2)
			return -1;
	} else {
		n = sscanf(line, "%d %d %d %c", &out->type, &out->height, &out->width, &extra);
		if (n != 3 || (out->type != CTL_MSG_RESIZE && out->type != CTL_MSG_REOPEN_LOG))
			return -1;
	}
	if (out->height < 0 || out->width < 0 || out->height > 1000 || out->width > 1000)
		return -1;
	return 0;
}

static void dispatch(struct ctl *c, const char *line, int kind)
{
	struct ctl_msg m;
	if (ctl_parse_line(line, kind, &m) < 0) {
		cm_error(0, "ignoring malformed control message '%s'", line);
		return;
	}
	if (m.type == CTL_MSG_RESIZE)
		c->on_resize(c->ctx, m.height, m.width);
	else
		c->on_reopen(c->ctx);
}

static void on_fifo(void *ctx, uint32_t events)
{
	(void)events;
	struct ctl_fifo *f = ctx;
	ssize_t n = read(f->fd, f->buf + f->len, sizeof f->buf - 1 - f->len);
	if (n <= 0)
		return; /* EAGAIN; we hold a writer ourselves, so never EOF */
	f->len += (size_t)n;
	f->buf[f->len] = '\0';
	char *start = f->buf, *nl;
	while ((nl = strchr(start, '\n')) != NULL) {
		*nl = '\0';
		if (nl > start)
			dispatch(f->owner, start, f->kind);
		start = nl + 1;
	}
	f->len = strlen(start);
	memmove(f->buf, start, f->len + 1);
	if (f->len == sizeof f->buf - 1) {
		cm_error(0, "control message longer than %zu bytes: discarded", sizeof f->buf);
		f->len = 0;
	}
}

static int fifo_setup(struct ctl_fifo *f, const char *bundle, const char *name, int kind, struct ctl *owner)
{
	*f = (struct ctl_fifo){.fd = -1, .kind = kind, .owner = owner};
	watch_reset(&f->w);
	f->path = path_join(bundle, name);
	if (mkfifo(f->path, 0660) < 0) {
		if (errno != EEXIST || unlink(f->path) < 0 || mkfifo(f->path, 0660) < 0)
			return cm_error(errno, "mkfifo %s", f->path);
	}
	/* Read-write: the fifo then always has a writer, so the loop never
	 * sees a hang-up between two clients' messages. */
	f->fd = open(f->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	return f->fd < 0 ? cm_error(errno, "opening %s", f->path) : 0;
}

void ctl_init(struct ctl *c)
{
	c->loop = NULL;
	c->ctl = (struct ctl_fifo){.fd = -1};
	c->winsz = (struct ctl_fifo){.fd = -1};
	watch_reset(&c->ctl.w);
	watch_reset(&c->winsz.w);
}

int ctl_setup(struct ctl *c, const char *bundle)
{
	if (fifo_setup(&c->ctl, bundle, "ctl", CTL_KIND_CTL, c) < 0)
		return -1;
	return fifo_setup(&c->winsz, bundle, "winsz", CTL_KIND_WINSZ, c);
}

int ctl_start(struct ctl *c, struct loop *l)
{
	c->loop = l;
	if (loop_add(l, &c->ctl.w, c->ctl.fd, EPOLLIN, on_fifo, &c->ctl) < 0)
		return -1;
	return loop_add(l, &c->winsz.w, c->winsz.fd, EPOLLIN, on_fifo, &c->winsz);
}

static void fifo_close(struct ctl *c, struct ctl_fifo *f)
{
	if (c->loop)
		loop_del(c->loop, &f->w);
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	free(f->path);
	f->path = NULL;
}

void ctl_close(struct ctl *c)
{
	fifo_close(c, &c->ctl);
	fifo_close(c, &c->winsz);
}
