/* err: the one error reporter (see err.h). */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void verror(int errnum, const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (errnum != 0)
		fprintf(stderr, "crius-conmon: %s: %s\n", msg, strerror(errnum));
	else
		fprintf(stderr, "crius-conmon: %s\n", msg);
}

int cm_error(int errnum, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	verror(errnum, fmt, ap);
	va_end(ap);
	errno = saved;
	return -1;
}

noreturn void cm_fatal(int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verror(errnum, fmt, ap);
	va_end(ap);
	exit(1);
}
