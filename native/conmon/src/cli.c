/* cli: flag table, parsing and validation (see cli.h). */
#include "cli.h"
#include "err.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum kind {
	K_BOOL,        /* bool, no argument */
	K_STR,         /* const char *, points into argv */
	K_PATH,        /* char *, owned copy, made absolute later */
	K_LIST,        /* struct strlist, repeatable */
	K_INT,         /* int */
	K_INT64,       /* int64_t */
	K_UNSUPPORTED, /* conmon has it, crius-conmon refuses it clearly */
};

struct flag {
	const char *name;
	char short_name;
	enum kind kind;
	size_t off;
	const char *help;
};

#define OPT(field) offsetof(struct options, field)

/* Every flag, in conmon's spelling. Sorted by long name. */
static const struct flag flags[] = {
	{"api-version", 0, K_INT, OPT(api_version), "Conmon API version to use (1: sync pipe key \"data\")"},
	{"bundle", 'b', K_PATH, OPT(bundle), "Location of the OCI bundle (default: current directory)"},
	{"cid", 'c', K_STR, OPT(cid), "Container ID (required)"},
	{"conmon-pidfile", 'P', K_PATH, OPT(conmon_pidfile), "PID file for the monitor process"},
	{"container-pidfile", 'p', K_PATH, OPT(container_pidfile), "PID file for the container's first process"},
	{"cuuid", 'u', K_STR, OPT(cuuid), "Container UUID (names the attach socket directory)"},
	{"exec", 'e', K_BOOL, OPT(exec), "Exec a process into a running container"},
	{"exec-attach", 0, K_BOOL, OPT(exec_attach), "Serve an attach socket for the exec session"},
	{"exec-process-spec", 0, K_PATH, OPT(exec_process_spec), "Path to the process spec (JSON) for --exec"},
	{"exit-command", 0, K_STR, OPT(exit_command), "Program to run after the container exits"},
	{"exit-command-arg", 0, K_LIST, OPT(exit_args), "Argument for --exit-command (repeatable)"},
	{"exit-delay", 0, K_INT, OPT(exit_delay), "Seconds to wait before running --exit-command"},
	{"exit-dir", 0, K_PATH, OPT(exit_dir), "Directory where the exit file <cid> is written"},
	{"full-attach", 0, K_BOOL, OPT(full_attach), "Bind the attach socket at <bundle>/attach, ignore --socket-dir-path"},
	{"help", 'h', K_BOOL, OPT(help), "Show this help"},
	{"leave-stdin-open", 0, K_BOOL, OPT(leave_stdin_open), "Keep stdin open when an attached client detaches"},
	{"log-global-size-max", 0, K_INT64, OPT(log_global_size_max), "Stop logging after this many bytes in total"},
	{"log-level", 0, K_STR, OPT(log_level), "Accepted for compatibility"},
	{"log-path", 'l', K_LIST, OPT(log_drivers), "Log file: PATH, k8s-file:PATH, or none"},
	{"log-size-max", 0, K_INT64, OPT(log_size_max), "Truncate the log file when it would exceed this size"},
	{"log-tag", 0, K_STR, OPT(log_tag), "Accepted for compatibility"},
	{"name", 'n', K_STR, OPT(name), "Container name"},
	{"no-new-keyring", 0, K_BOOL, OPT(no_new_keyring), "Pass --no-new-keyring to the runtime"},
	{"no-pivot", 0, K_BOOL, OPT(no_pivot), "Pass --no-pivot to the runtime"},
	{"no-sync-log", 0, K_BOOL, OPT(no_sync_log), "Do not fsync the log when the container exits"},
	{"persist-dir", '0', K_PATH, OPT(persist_dir), "Directory that also receives the oom file"},
	{"pidfile", 0, K_PATH, OPT(container_pidfile), "Deprecated alias of --container-pidfile"},
	{"replace-listen-pid", 0, K_BOOL, OPT(replace_listen_pid), "Accepted for compatibility"},
	{"restore", 0, K_PATH, OPT(restore_path), "Restore the container from the CRIU images in this directory (runtime restore)"},
	{"runtime", 'r', K_STR, OPT(runtime), "Path of the OCI runtime binary (required)"},
	{"runtime-arg", 0, K_LIST, OPT(runtime_args), "Argument before the runtime subcommand (repeatable)"},
	{"runtime-opt", 0, K_LIST, OPT(runtime_opts), "Option after the exec or restore subcommand's flags (repeatable)"},
	{"sdnotify-socket", 0, K_UNSUPPORTED, 0, "Not supported"},
	{"seccomp-notify-plugins", 0, K_UNSUPPORTED, 0, "Not supported"},
	{"seccomp-notify-socket", 0, K_UNSUPPORTED, 0, "Not supported"},
	{"socket-dir-path", 0, K_PATH, OPT(socket_dir), "Directory for attach socket links (default " CM_DEFAULT_SOCKET_DIR ")"},
	{"stdin", 'i', K_BOOL, OPT(stdin_open), "Give the container a stdin pipe fed by attach clients"},
	{"sync", 0, K_BOOL, OPT(sync_mode), "Do not daemonize; stay the caller's child"},
	{"syslog", 0, K_BOOL, OPT(syslog), "Accepted for compatibility"},
	{"systemd-cgroup", 's', K_BOOL, OPT(systemd_cgroup), "Pass --systemd-cgroup to the runtime"},
	{"terminal", 't', K_BOOL, OPT(terminal), "Allocate a pseudo-terminal for the container"},
	{"timeout", 'T', K_INT, OPT(timeout), "Kill the process after this many seconds"},
	{"version", 0, K_BOOL, OPT(version), "Print the version and exit"},
};

#define NFLAGS (sizeof flags / sizeof flags[0])
#define FLAG_BASE 0x100

void cli_usage(void)
{
	printf("Usage: crius-conmon [OPTION...]\n\nOptions (compatible with conmon 2.x):\n");
	for (size_t i = 0; i < NFLAGS; i++) {
		const struct flag *f = &flags[i];
		char left[48];
		bool arg = f->kind != K_BOOL;
		if (f->short_name)
			snprintf(left, sizeof left, "-%c, --%s%s", f->short_name, f->name, arg ? " ARG" : "");
		else
			snprintf(left, sizeof left, "    --%s%s", f->name, arg ? " ARG" : "");
		printf("  %-34s %s\n", left, f->help);
	}
}

static int store(const struct flag *f, struct options *opt, const char *arg)
{
	void *field = (char *)opt + f->off;
	switch (f->kind) {
	case K_BOOL:
		*(bool *)field = true;
		return 0;
	case K_STR:
		*(const char **)field = arg;
		return 0;
	case K_PATH:
		free(*(char **)field);
		*(char **)field = xstrdup(arg);
		return 0;
	case K_LIST: {
		struct strlist *l = field;
		if (l->n == CM_LIST_MAX)
			return cm_error(0, "--%s given more than %d times", f->name, CM_LIST_MAX);
		l->item[l->n++] = arg;
		return 0;
	}
	case K_INT:
		if (parse_int(arg, (int *)field) < 0)
			return cm_error(0, "--%s: '%s' is not an integer", f->name, arg);
		return 0;
	case K_INT64:
		if (parse_int64(arg, (int64_t *)field) < 0)
			return cm_error(0, "--%s: '%s' is not an integer", f->name, arg);
		return 0;
	case K_UNSUPPORTED:
		return cm_error(0, "--%s is not supported by crius-conmon", f->name);
	}
	return -1;
}

static void build_getopt(struct option *lo, char *shortopts)
{
	size_t s = 0;
	shortopts[s++] = '+'; /* stop at the first non-option */
	shortopts[s++] = ':'; /* report a missing argument as ':' */
	for (size_t i = 0; i < NFLAGS; i++) {
		bool arg = flags[i].kind != K_BOOL;
		lo[i] = (struct option){flags[i].name, arg ? required_argument : no_argument, NULL, (int)(FLAG_BASE + i)};
		if (flags[i].short_name) {
			shortopts[s++] = flags[i].short_name;
			if (arg)
				shortopts[s++] = ':';
		}
	}
	lo[NFLAGS] = (struct option){NULL, 0, NULL, 0};
	shortopts[s] = '\0';
}

static const struct flag *flag_for(int c)
{
	if (c >= FLAG_BASE && c < FLAG_BASE + (int)NFLAGS)
		return &flags[c - FLAG_BASE];
	for (size_t i = 0; i < NFLAGS; i++)
		if (flags[i].short_name && flags[i].short_name == c)
			return &flags[i];
	return NULL;
}

int cli_parse(int argc, char **argv, struct options *opt)
{
	struct option lo[NFLAGS + 1];
	char shortopts[2 * NFLAGS + 3];
	build_getopt(lo, shortopts);

	*opt = (struct options){.log_size_max = -1, .log_global_size_max = -1};
	opterr = 0;
	optind = 1;
	for (;;) {
		int c = getopt_long(argc, argv, shortopts, lo, NULL);
		if (c == -1)
			break;
		if (c == '?')
			return cm_error(0, "unknown option '%s' (see --help)", argv[optind - 1]);
		if (c == ':')
			return cm_error(0, "option '%s' needs a value", argv[optind - 1]);
		const struct flag *f = flag_for(c);
		if (f == NULL || store(f, opt, optarg) < 0)
			return -1;
	}
	if (optind < argc)
		return cm_error(0, "unexpected argument '%s' (see --help)", argv[optind]);
	return 0;
}

/* ---- validation ---- */

/* Both leave errno describing the failure, for the caller's message. */
static bool is_dir(const char *p)
{
	struct stat st;
	if (stat(p, &st) < 0)
		return false;
	errno = ENOTDIR;
	return S_ISDIR(st.st_mode);
}

static bool is_file(const char *p)
{
	struct stat st;
	if (stat(p, &st) < 0)
		return false;
	errno = EISDIR;
	return S_ISREG(st.st_mode);
}

/* IDs become file names (exit file, attach link): keep them single segments. */
static int check_id(const char *what, const char *id)
{
	if (id[0] == '\0' || strchr(id, '/') != NULL || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return cm_error(0, "%s '%s' must be a non-empty name without '/'", what, id);
	return 0;
}

static int absolutize(char **path)
{
	if (*path == NULL || (*path)[0] == '/')
		return 0;
	char cwd[PATH_MAX];
	if (getcwd(cwd, sizeof cwd) == NULL)
		return cm_error(errno, "getcwd");
	char *abs = path_join(cwd, *path);
	free(*path);
	*path = abs;
	return 0;
}

/* -l values: PATH, k8s-file:PATH, or none/off/null; conmon's other drivers
 * (journald, passthrough) are refused rather than silently dropped. */
static int parse_log_drivers(struct options *opt)
{
	if (opt->log_drivers.n == 0)
		return cm_error(0, "log path not provided: use --log-path");
	for (int i = 0; i < opt->log_drivers.n; i++) {
		const char *v = opt->log_drivers.item[i];
		const char *path = NULL;
		if (strcmp(v, "none") == 0 || strcmp(v, "off") == 0 || strcmp(v, "null") == 0)
			continue;
		if (strncmp(v, "k8s-file:", 9) == 0)
			path = v + 9;
		else if (strchr(v, ':') == NULL)
			path = v;
		else
			return cm_error(0, "--log-path '%s': unsupported log driver (use PATH, k8s-file:PATH or none)", v);
		if (path[0] == '\0')
			return cm_error(0, "--log-path '%s': empty file name", v);
		if (opt->log_path != NULL)
			return cm_error(0, "--log-path '%s': only one log file is supported", v);
		opt->log_path = xstrdup(path);
	}
	return 0;
}

static int check_identity(struct options *opt)
{
	if (opt->cid == NULL)
		return cm_error(0, "container ID not provided: use --cid");
	if (check_id("container ID", opt->cid) < 0)
		return -1;
	bool legacy_exec = opt->exec && opt->api_version < 1;
	if (opt->cuuid == NULL && !legacy_exec)
		return cm_error(0, "container UUID not provided: use --cuuid");
	if (opt->cuuid != NULL && check_id("container UUID", opt->cuuid) < 0)
		return -1;
	if (opt->runtime == NULL)
		return cm_error(0, "runtime path not provided: use --runtime");
	if (access(opt->runtime, X_OK) < 0)
		return cm_error(errno, "runtime '%s' is not executable", opt->runtime);
	return 0;
}

static int check_mode(struct options *opt)
{
	if (opt->exec_attach && !opt->exec)
		return cm_error(0, "--exec-attach needs --exec");
	if (opt->exec_attach && opt->api_version < 1)
		return cm_error(0, "--exec-attach needs --api-version 1");
	if (opt->exec && opt->exec_process_spec == NULL)
		return cm_error(0, "exec process spec not provided: use --exec-process-spec");
	if (opt->exec && !is_file(opt->exec_process_spec))
		return cm_error(errno, "exec process spec '%s' is not a readable file", opt->exec_process_spec);
	if (opt->timeout < 0)
		return cm_error(0, "--timeout %d: must be >= 0", opt->timeout);
	if (opt->exit_delay < 0)
		return cm_error(0, "--exit-delay %d: must be >= 0", opt->exit_delay);
	if (opt->restore_path != NULL && opt->exec)
		return cm_error(0, "--restore cannot be combined with --exec");
	if (opt->restore_path != NULL && !is_dir(opt->restore_path))
		return cm_error(errno, "restore path '%s' is not a directory", opt->restore_path);
	if (opt->exit_command != NULL && access(opt->exit_command, X_OK) < 0)
		return cm_error(errno, "exit command '%s' is not executable", opt->exit_command);
	return 0;
}

/* The attach socket and ctl fifos exist for containers and attached execs. */
static bool serves_attach(const struct options *opt)
{
	return !opt->exec || opt->exec_attach;
}

static int check_dirs(struct options *opt)
{
	if (opt->bundle == NULL && (!opt->exec || opt->exec_attach)) {
		if (opt->exec_attach)
			return cm_error(0, "--exec-attach needs --bundle (the exec session directory)");
		opt->bundle = xstrdup(".");
	}
	if (absolutize(&opt->bundle) < 0)
		return -1;
	if (opt->bundle != NULL && !is_dir(opt->bundle))
		return cm_error(errno, "bundle '%s' is not a directory", opt->bundle);
	if (!opt->exec) {
		char *config = path_join(opt->bundle, "config.json");
		bool ok = is_file(config);
		free(config);
		if (!ok)
			return cm_error(ENOENT, "bundle '%s' has no config.json", opt->bundle);
	}
	if (opt->exit_dir != NULL && !is_dir(opt->exit_dir))
		return cm_error(errno, "exit dir '%s' is not a directory", opt->exit_dir);
	if (opt->persist_dir != NULL && !is_dir(opt->persist_dir))
		return cm_error(errno, "persist dir '%s' is not a directory", opt->persist_dir);
	if (opt->socket_dir == NULL)
		opt->socket_dir = xstrdup(CM_DEFAULT_SOCKET_DIR);
	if (serves_attach(opt) && !opt->full_attach && !is_dir(opt->socket_dir))
		return cm_error(errno, "socket dir '%s' is not a directory", opt->socket_dir);
	return 0;
}

static int default_pidfile(struct options *opt)
{
	if (opt->container_pidfile != NULL)
		return 0;
	char cwd[PATH_MAX];
	const char *dir = opt->bundle;
	if (dir == NULL) {
		if (getcwd(cwd, sizeof cwd) == NULL)
			return cm_error(errno, "getcwd");
		dir = cwd;
	}
	char name[NAME_MAX + 1];
	snprintf(name, sizeof name, "pidfile-%s", opt->cid);
	opt->container_pidfile = path_join(dir, name);
	return 0;
}

int cli_validate(struct options *opt)
{
	if (check_identity(opt) < 0 || check_mode(opt) < 0 || parse_log_drivers(opt) < 0)
		return -1;
	if (check_dirs(opt) < 0 || default_pidfile(opt) < 0)
		return -1;
	char **paths[] = {&opt->container_pidfile, &opt->conmon_pidfile, &opt->exit_dir, &opt->socket_dir,
	                  &opt->persist_dir, &opt->exec_process_spec, &opt->log_path, &opt->restore_path};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		if (absolutize(paths[i]) < 0)
			return -1;
	return 0;
}

void cli_free(struct options *opt)
{
	char **paths[] = {&opt->bundle, &opt->container_pidfile, &opt->conmon_pidfile, &opt->exit_dir,
	                  &opt->socket_dir, &opt->persist_dir, &opt->exec_process_spec, &opt->log_path, &opt->restore_path};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		free(*paths[i]);
		*paths[i] = NULL;
	}
}
