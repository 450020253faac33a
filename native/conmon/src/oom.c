/* oom: OOM-kill detection (see oom.h). */
#include "oom.h"
#include "err.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/vfs.h>
#include <unistd.h>

#define CGROUP_ROOT "/sys/fs/cgroup"
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static bool is_cgroup2(void)
{
	struct statfs sfs;
	return statfs(CGROUP_ROOT, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

static bool has_controller(char *list, const char *want)
{
	for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (strcmp(tok, want) == 0)
			return true;
	return false;
}

/* /proc/<pid>/cgroup lines are "<id>:<controllers>:<path>"; v2 has id 0
 * and no controllers. */
static char *memory_cgroup_dir(pid_t pid, bool v2)
{
	char proc[64], line[4096], dir[4200];
	snprintf(proc, sizeof proc, "/proc/%d/cgroup", (int)pid);
	FILE *f = fopen(proc, "re");
	if (f == NULL)
		return NULL;
	char *found = NULL;
	while (found == NULL && fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c2 == NULL)
			continue;
		*c2 = '\0';
		const char *path = c2 + 1;
		bool match = v2 ? c1[1] == '\0' : has_controller(c1 + 1, "memory");
		if (match) {
			snprintf(dir, sizeof dir, v2 ? "%s%s" : "%s/memory%s", CGROUP_ROOT, path);
			found = xstrdup(dir);
		}
	}
	fclose(f);
	return found;
}

/* The oom_kill counter (v1 memory.oom_control, v2 memory.events); -1 if
 * the cgroup is gone or the kernel has no such counter. */
static int64_t read_oom_kills(const struct oom_watch *o)
{
	char *file = path_join(o->cgroup_dir, o->v2 ? "memory.events" : "memory.oom_control");
	FILE *f = fopen(file, "re");
	free(file);
	if (f == NULL)
		return -1;
	char line[256];
	int64_t v = -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "oom_kill ", 9) == 0)
			v = strtoll(line + 9, NULL, 10);
	fclose(f);
	return v;
}

static void record(struct oom_watch *o)
{
	if (o->recorded)
		return;
	o->recorded = true;
	const char *dirs[] = {o->bundle, o->persist_dir};
	for (size_t i = 0; i < 2; i++) {
		if (dirs[i] == NULL)
			continue;
		char *p = path_join(dirs[i], "oom");
		if (touch_file(p, 0666) < 0)
			cm_error(errno, "writing oom file %s", p);
		free(p);
	}
}

void oom_check(struct oom_watch *o)
{
	if (o->cgroup_dir == NULL || o->recorded)
		return;
	int64_t n = read_oom_kills(o);
	if (n > 0 && (uint64_t)n > o->baseline)
		record(o);
}

static void on_event(void *ctx, uint32_t events)
{
	(void)events;
	struct oom_watch *o = ctx;
	char buf[4096];
	/* Consume the notification (8-byte counter or inotify records). */
	if (read(o->fd, buf, o->v2 ? sizeof buf : sizeof(uint64_t)) < 0 && errno == EAGAIN)
		return;
	if (read_oom_kills(o) < 0 && !o->v2) {
		/* Kernel without the counter: an event while the cgroup still
		 * exists is an OOM (conmon's rule); removal also signals. */
		char *ctl = path_join(o->cgroup_dir, "cgroup.event_control");
		if (access(ctl, F_OK) == 0)
			record(o);
		free(ctl);
		return;
	}
	oom_check(o);
}

static int watch_v1(struct oom_watch *o)
{
	char *ctl_path = path_join(o->cgroup_dir, "memory.oom_control");
	char *evc_path = path_join(o->cgroup_dir, "cgroup.event_control");
	int rc = -1, evc = -1;
	o->ctl_fd = open(ctl_path, O_RDONLY | O_CLOEXEC);
	o->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	evc = open(evc_path, O_WRONLY | O_CLOEXEC);
	if (o->ctl_fd < 0 || o->fd < 0 || evc < 0) {
		cm_error(errno, "OOM notification setup in %s", o->cgroup_dir);
	} else {
		char msg[64];
		int len = snprintf(msg, sizeof msg, "%d %d", o->fd, o->ctl_fd);
		rc = write_all(evc, msg, (size_t)len);
		if (rc < 0)
			cm_error(errno, "writing %s", evc_path);
	}
	if (evc >= 0)
		close(evc);
	free(ctl_path);
	free(evc_path);
	return rc;
}

static int watch_v2(struct oom_watch *o)
{
	char *events = path_join(o->cgroup_dir, "memory.events");
	int rc = -1;
	o->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (o->fd < 0 || inotify_add_watch(o->fd, events, IN_MODIFY) < 0)
		cm_error(errno, "watching %s", events);
	else
		rc = 0;
	free(events);
	return rc;
}

void oom_start(struct oom_watch *o, struct loop *l, pid_t pid, const char *bundle, const char *persist_dir)
{
	*o = (struct oom_watch){.fd = -1, .ctl_fd = -1, .bundle = bundle, .persist_dir = persist_dir, .loop = l};
	watch_reset(&o->w);
	o->v2 = is_cgroup2();
	o->cgroup_dir = memory_cgroup_dir(pid, o->v2);
	if (o->cgroup_dir == NULL) {
		cm_error(0, "no memory cgroup found for pid %d: OOM kills will not be recorded", (int)pid);
		return;
	}
	int64_t base = read_oom_kills(o);
	o->baseline = base > 0 ? (uint64_t)base : 0;
	if ((o->v2 ? watch_v2(o) : watch_v1(o)) == 0)
		loop_add(l, &o->w, o->fd, EPOLLIN, on_event, o);
}

void oom_stop(struct oom_watch *o)
{
	if (o->loop == NULL)
		return; /* never started */
	loop_del(o->loop, &o->w);
	if (o->fd >= 0)
		close(o->fd);
	if (o->ctl_fd >= 0)
		close(o->ctl_fd);
	o->fd = o->ctl_fd = -1;
	free(o->cgroup_dir);
	o->cgroup_dir = NULL;
}
