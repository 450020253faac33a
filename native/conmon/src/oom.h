/* oom: notices when the kernel OOM-kills a process of the container and
 * records it as conmon does: an empty file "oom" in the bundle and, with
 * --persist-dir, another in that directory. cgroup v1 uses the
 * memory.oom_control eventfd; cgroup v2 watches memory.events with inotify.
 * The oom_kill counter is read again when the container exits, so a kill
 * that raced the exit is not missed. Owner: native/conmon. */
#ifndef CM_OOM_H
#define CM_OOM_H

#include "loop.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct oom_watch {
	int fd;      /* eventfd (v1) or inotify fd (v2) */
	int ctl_fd;  /* v1: memory.oom_control, must stay open */
	bool v2;
	char *cgroup_dir;
	uint64_t baseline; /* oom_kill count when watching began */
	bool recorded;
	const char *bundle, *persist_dir;
	struct watch w;
	struct loop *loop;
};

/* Starts watching the memory cgroup of pid. Failure is not fatal (the
 * container may already be gone); the watch is then inert. */
void oom_start(struct oom_watch *o, struct loop *l, pid_t pid, const char *bundle, const char *persist_dir);
/* Checks the counter now and records an OOM kill if it grew. */
void oom_check(struct oom_watch *o);
/* Safe on a zeroed, never-started watch. */
void oom_stop(struct oom_watch *o);

#endif
