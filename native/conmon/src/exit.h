/* exit: what happens when the container's process is gone: its exit code
 * (status, or 128+signal, as conmon computes it), the exit files holding
 * that number as decimal text, written atomically (<persist-dir>/exit and
 * <exit-dir>/<cid>, as conmon 2.1), and the optional --exit-command.
 * Owner: native/conmon. */
#ifndef CM_EXIT_H
#define CM_EXIT_H

#include "cli.h"

int exit_code_from_status(int wstatus);
int exit_write_file(const char *dir, const char *cid, int code);
/* Starts --exit-command (after --exit-delay) in a detached child. */
void exit_run_command(const struct options *opt);

#endif
