/* logging: writes container output to a file in the CRI log format,
 *   <RFC3339Nano local time> <stdout|stderr> <F|P> <text>\n
 * one record per line; a line not (yet) ended by '\n' is written as a P
 * (partial) record so no byte waits for a newline. An incomplete UTF-8
 * sequence at the end of a read is held back until the next read (or EOF)
 * so a record never splits a character. Owner: native/conmon. */
#ifndef CM_LOGGING_H
#define CM_LOGGING_H

#include "stream.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct log_writer {
	int fd; /* -1: logging off */
	const char *path;
	int64_t size_max;        /* > 0: truncate the file before exceeding it */
	int64_t global_size_max; /* > 0: stop logging after this many bytes */
	int64_t written, total_written;
	bool fsync_on_close;
	unsigned char hold[2][4]; /* held UTF-8 prefix per stream */
	size_t hold_len[2];
	char scratch[STDIO_BUF_SIZE + 4];
};

/* path NULL: a writer that drops everything. Opens for append (0600). */
int log_open(struct log_writer *lw, const char *path, int64_t size_max, int64_t global_size_max, bool fsync_on_close);
void log_write(struct log_writer *lw, enum stream s, const char *data, size_t len);
/* Writes held UTF-8 fragments as P records (at EOF of a stream). */
void log_flush_stream(struct log_writer *lw, enum stream s);
/* Closes and opens the path again (after the caller renamed the file away);
 * appends if the file is still there, so nothing is lost. */
int log_reopen(struct log_writer *lw);
void log_close(struct log_writer *lw);

/* Number of trailing bytes of buf that start a UTF-8 sequence it does not
 * complete (0..3). Exposed for tests of the splitting rule. */
size_t utf8_incomplete_tail(const unsigned char *buf, size_t len);

#endif
