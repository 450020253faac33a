/* stream: names the container's standard streams. The values are also the
 * prefix byte of every attach-socket packet (conmon's wire format).
 * Owner: native/conmon. */
#ifndef CM_STREAM_H
#define CM_STREAM_H

enum stream {
	STREAM_STDIN = 1,
	STREAM_STDOUT = 2,
	STREAM_STDERR = 3,
};

/* One read from the container: conmon reads at most this much at a time. */
#define STDIO_BUF_SIZE 8192

#endif
