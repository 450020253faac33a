/* sync: talking to the process that started us, as conmon does.
 *  - _OCI_SYNCPIPE=<fd>: JSON lines out, {"pid": N} after create, or
 *    {"pid": -1, "message": "..."} on failure; in exec mode one line
 *    {"exit_code": N[, "message": "..."]} at the end; with --api-version 1
 *    the key is "data" and exec also reports the pid first.
 *  - _OCI_STARTPIPE=<fd>: we block until it is written to (or closed)
 *    before forking anything, so the caller can move us into a cgroup;
 *    with --exec-attach we wait on it a second time, after the attach
 *    socket is ready (_OCI_ATTACHPIPE=<fd> gets {"data": 0} then).
 *  - daemonizing: double fork + setsid; the caller's process exits 0 once
 *    the monitor has written --conmon-pidfile, 1 if it died first.
 * Owner: native/conmon. */
#ifndef CM_SYNC_H
#define CM_SYNC_H

#include "cli.h"

#include <stdbool.h>
#include <sys/types.h>

struct parent_pipes {
	int sync_fd, start_fd, attach_fd; /* -1 when not given */
};

int pipes_from_env(struct parent_pipes *p, bool want_attach);
/* Blocks until the caller writes something or closes the pipe. */
int start_pipe_wait(int fd);
/* The JSON key conmon uses for this mode: "pid", "exit_code" or "data". */
const char *sync_key(const struct options *opt);
/* Writes one JSON line; on EPIPE (the caller is gone) closes and forgets fd. */
void sync_send(int *fd, const char *key, int value, const char *message);
/* Returns in the monitor process only. */
void daemonize(const char *conmon_pidfile);
int write_pidfile(const char *path, pid_t pid);

#endif
