/* cli: the command-line contract, kept compatible with containers/conmon 2.x
 * for the flags crius uses (see ../README.md). One table describes every
 * flag; parsing fills the one options struct, validation checks it before
 * anything is created or spawned. Owner: native/conmon. */
#ifndef CM_CLI_H
#define CM_CLI_H

#include <stdbool.h>
#include <stdint.h>

#define CM_LIST_MAX 64
#define CM_DEFAULT_SOCKET_DIR "/var/run/crio"

struct strlist {
	const char *item[CM_LIST_MAX];
	int n;
};

struct options {
	/* identity */
	const char *cid;
	const char *cuuid;
	const char *name;
	/* runtime */
	const char *runtime;
	struct strlist runtime_args; /* before the subcommand */
	struct strlist runtime_opts; /* after the subcommand's own flags */
	bool systemd_cgroup, no_pivot, no_new_keyring;
	/* paths; made absolute by cli_validate (owned, freed by cli_free) */
	char *bundle;
	char *container_pidfile;
	char *conmon_pidfile;
	char *exit_dir;
	char *socket_dir;
	char *persist_dir;
	char *exec_process_spec;
	char *restore_path; /* CRIU images: run `runtime restore` instead of `create` */
	char *log_path; /* NULL: container output is not logged */
	struct strlist log_drivers; /* raw -l values */
	/* behaviour */
	bool terminal, stdin_open, leave_stdin_open;
	bool exec, exec_attach, full_attach, sync_mode, no_sync_log;
	int api_version;
	int timeout;
	int64_t log_size_max, log_global_size_max;
	const char *exit_command;
	struct strlist exit_args;
	int exit_delay;
	/* accepted for compatibility, no effect */
	const char *log_level, *log_tag;
	bool syslog, replace_listen_pid;
	/* one-shot actions */
	bool help, version;
};

/* Parses argv into opt. Prints the reason and returns -1 on a bad flag. */
int cli_parse(int argc, char **argv, struct options *opt);

/* Checks required flags, files and directories, resolves defaults and makes
 * every path absolute. Prints the reason and returns -1 when invalid. */
int cli_validate(struct options *opt);

void cli_usage(void);
void cli_free(struct options *opt);

#endif
