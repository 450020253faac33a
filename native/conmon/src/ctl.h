/* ctl: the control fifos in the bundle, as conmon creates them.
 *   <bundle>/ctl    lines "<type> <height> <width>\n": type 1 resizes the
 *                   terminal, type 2 reopens the log file;
 *   <bundle>/winsz  lines "<height> <width>\n": resize only.
 * Sizes must be 0..1000 (conmon's bound). Owner: native/conmon. */
#ifndef CM_CTL_H
#define CM_CTL_H

#include "loop.h"

#include <stddef.h>

struct ctl;

struct ctl_fifo {
	int fd;
	char *path;
	struct watch w;
	char buf[256];
	size_t len;
	int kind; /* CTL_KIND_CTL or CTL_KIND_WINSZ */
	struct ctl *owner;
};

struct ctl {
	struct ctl_fifo ctl, winsz;
	struct loop *loop;
	void (*on_resize)(void *ctx, int height, int width);
	void (*on_reopen)(void *ctx);
	void *ctx;
};

enum { CTL_KIND_CTL, CTL_KIND_WINSZ };
enum { CTL_MSG_RESIZE = 1, CTL_MSG_REOPEN_LOG = 2 };

struct ctl_msg {
	int type, height, width;
};

/* Parses one line (without '\n'); 0 or -1 for a malformed/out-of-range one. */
int ctl_parse_line(const char *line, int kind, struct ctl_msg *out);

/* Inert state, so ctl_close is safe without ctl_setup. */
void ctl_init(struct ctl *c);
int ctl_setup(struct ctl *c, const char *bundle);
int ctl_start(struct ctl *c, struct loop *l);
void ctl_close(struct ctl *c);

#endif
