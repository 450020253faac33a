/* err: the one way crius-conmon reports a problem. Messages go to stderr,
 * prefixed with the program name and, when errnum != 0, the errno text.
 * Owner: native/conmon. */
#ifndef CM_ERR_H
#define CM_ERR_H

#include <stdnoreturn.h>

/* Prints "crius-conmon: <message>[: <strerror(errnum)>]". Returns -1 and
 * leaves errno as it was, so callers can write `return cm_error(errno, ...)`. */
int cm_error(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cm_error, then exit(1). For setup failures before anything was spawned. */
noreturn void cm_fatal(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
