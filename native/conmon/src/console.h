/* console: the console socket through which the OCI runtime hands over the
 * pty master of a terminal container (--console-socket, SCM_RIGHTS).
 * Owner: native/conmon. */
#ifndef CM_CONSOLE_H
#define CM_CONSOLE_H

#include "loop.h"

struct console {
	int listen_fd;
	char *dir;  /* private temp dir holding the socket */
	char *path; /* socket path given to the runtime */
	struct watch w;
	struct loop *loop;
	int master; /* received pty master, -1 until then */
	void (*on_master)(void *ctx, int master);
	void *ctx;
};

/* Inert state, so console_cleanup is safe without console_setup. */
void console_init(struct console *c);
/* Creates the listening socket (terminal mode only). */
int console_setup(struct console *c);
int console_start(struct console *c, struct loop *l);
/* Non-blocking attempt to take the master now (the runtime may have sent it
 * and exited before the loop saw the connection). 1 got it, 0 not yet. */
int console_poll(struct console *c);
/* Removes the socket and its directory; does not close the master. */
void console_cleanup(struct console *c);

#endif
