/* sig: signals reach the monitor through a signalfd (SIGCHLD to reap,
 * SIGUSR1 to reopen the log, SIGTERM/SIGINT/SIGQUIT to forward to the
 * container, SIGHUP ignored), so no handler ever runs asynchronously.
 * Owner: native/conmon. */
#ifndef CM_SIG_H
#define CM_SIG_H

/* Blocks the monitor's signals and returns a non-blocking signalfd. */
int sig_open(void);
/* In a forked child before exec: default dispositions, nothing blocked. */
void sig_reset_child(void);

#endif
