/* logging: CRI log file writer (see logging.h). */
#include "logging.h"
#include "err.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define TS_MAX 64
#define IOV_BATCH 128

struct batch {
	struct iovec iov[IOV_BATCH];
	int n;
};

static int stream_index(enum stream s)
{
	return s == STREAM_STDERR ? 1 : 0;
}

size_t utf8_incomplete_tail(const unsigned char *buf, size_t len)
{
	size_t max = len < 3 ? len : 3;
	for (size_t k = 1; k <= max; k++) {
		unsigned char c = buf[len - k];
		if ((c & 0xC0) == 0x80)
			continue; /* continuation byte: the lead is further back */
		size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
		return need > k ? k : 0;
	}
	return 0;
}

/* "2024-01-02T03:04:05.123456789+00:00 stdout " in local time, as conmon. */
static size_t ts_prefix(char *out, size_t cap, enum stream s)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	long off = tm.tm_gmtoff;
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	int n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%09ld%c%02ld:%02ld %s ", tm.tm_year + 1900,
	                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)ts.tv_nsec, sign,
	                 off / 3600, (off % 3600) / 60, s == STREAM_STDERR ? "stderr" : "stdout");
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void batch_flush(struct log_writer *lw, struct batch *b)
{
	if (b->n > 0 && writev_all(lw->fd, b->iov, b->n) < 0)
		cm_error(errno, "writing log %s", lw->path);
	b->n = 0;
}

static void batch_add(struct log_writer *lw, struct batch *b, const void *p, size_t len)
{
	if (b->n == IOV_BATCH)
		batch_flush(lw, b);
	b->iov[b->n++] = (struct iovec){.iov_base = (void *)p, .iov_len = len};
}

static int open_log(const char *path, int extra_flags)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | extra_flags, 0600);
}

/* Size limit reached: start an empty file under the same name (new inode,
 * so a reader of the old one is not disturbed), as conmon does. */
static void truncate_log(struct log_writer *lw)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s.tmp", lw->path);
	int fd = open_log(tmp, O_TRUNC);
	if (fd < 0 || rename(tmp, lw->path) < 0) {
		cm_error(errno, "truncating log %s", lw->path);
		if (fd >= 0)
			close(fd);
		return;
	}
	close(lw->fd);
	lw->fd = fd;
	lw->written = 0;
}

static void emit_records(struct log_writer *lw, enum stream s, const char *buf, size_t n)
{
	char ts[TS_MAX];
	size_t tslen = ts_prefix(ts, sizeof ts, s);
	struct batch b = {.n = 0};
	size_t pos = 0;
	while (pos < n) {
		const char *nl = memchr(buf + pos, '\n', n - pos);
		bool partial = nl == NULL;
		size_t linelen = partial ? n - pos : (size_t)(nl - (buf + pos)) + 1;
		/* A record that would not fit even in an empty file is cut into P
		 * records that do (never inside a UTF-8 sequence), so the file never
		 * passes --log-size-max: timestamp, tag, text, and the record's '\n'. */
		size_t overhead = tslen + 2 + 1;
		size_t text = partial ? linelen : linelen - 1;
		if (lw->size_max > 0 && (int64_t)(overhead + text) > lw->size_max && (int64_t)overhead < lw->size_max) {
			size_t room = (size_t)lw->size_max - overhead;
			size_t tail = utf8_incomplete_tail((const unsigned char *)buf + pos, room);
			linelen = tail < room ? room - tail : room;
			partial = true;
		}
		int64_t reclen = (int64_t)(tslen + 2 + linelen + (partial ? 1 : 0));
		if (lw->global_size_max > 0 && lw->total_written >= lw->global_size_max)
			break;
		if (lw->size_max > 0 && lw->written > 0 && lw->written + reclen > lw->size_max) {
			batch_flush(lw, &b);
			truncate_log(lw);
		}
		batch_add(lw, &b, ts, tslen);
		batch_add(lw, &b, partial ? "P " : "F ", 2);
		batch_add(lw, &b, buf + pos, linelen);
		if (partial)
			batch_add(lw, &b, "\n", 1);
		lw->written += reclen;
		lw->total_written += reclen;
		pos += linelen;
	}
	batch_flush(lw, &b);
}

/* One chunk of at most STDIO_BUF_SIZE bytes, held bytes already prepended. */
static void write_chunk(struct log_writer *lw, enum stream s, const char *buf, size_t n)
{
	int i = stream_index(s);
	size_t keep = 0;
	if (n > 0 && buf[n - 1] != '\n')
		keep = utf8_incomplete_tail((const unsigned char *)buf, n);
	if (keep > 0) {
		memcpy(lw->hold[i], buf + n - keep, keep);
		lw->hold_len[i] = keep;
		n -= keep;
	}
	emit_records(lw, s, buf, n);
}

void log_write(struct log_writer *lw, enum stream s, const char *data, size_t len)
{
	if (lw->fd < 0)
		return;
	int i = stream_index(s);
	while (len > 0) {
		size_t take = len < STDIO_BUF_SIZE ? len : STDIO_BUF_SIZE;
		const char *buf = data;
		size_t n = take;
		if (lw->hold_len[i] > 0) {
			memcpy(lw->scratch, lw->hold[i], lw->hold_len[i]);
			memcpy(lw->scratch + lw->hold_len[i], data, take);
			buf = lw->scratch;
			n = lw->hold_len[i] + take;
			lw->hold_len[i] = 0;
		}
		write_chunk(lw, s, buf, n);
		data += take;
		len -= take;
	}
}

void log_flush_stream(struct log_writer *lw, enum stream s)
{
	int i = stream_index(s);
	if (lw->fd < 0 || lw->hold_len[i] == 0)
		return;
	size_t n = lw->hold_len[i];
	lw->hold_len[i] = 0;
	emit_records(lw, s, (const char *)lw->hold[i], n);
}

static int64_t file_size(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (int64_t)st.st_size : 0;
}

int log_open(struct log_writer *lw, const char *path, int64_t size_max, int64_t global_size_max, bool fsync_on_close)
{
	lw->fd = -1;
	lw->path = path;
	lw->size_max = size_max;
	lw->global_size_max = global_size_max;
	lw->written = lw->total_written = 0;
	lw->fsync_on_close = fsync_on_close;
	lw->hold_len[0] = lw->hold_len[1] = 0;
	if (path == NULL)
		return 0;
	lw->fd = open_log(path, 0);
	if (lw->fd < 0)
		return cm_error(errno, "opening log file %s", path);
	lw->written = file_size(lw->fd);
	return 0;
}

int log_reopen(struct log_writer *lw)
{
	if (lw->fd < 0)
		return 0;
	int fd = open_log(lw->path, 0);
	if (fd < 0)
		return cm_error(errno, "reopening log file %s", lw->path);
	close(lw->fd);
	lw->fd = fd;
	lw->written = file_size(fd);
	return 0;
}

void log_close(struct log_writer *lw)
{
	if (lw->fd < 0)
		return;
	log_flush_stream(lw, STREAM_STDOUT);
	log_flush_stream(lw, STREAM_STDERR);
	if (lw->fsync_on_close && fsync(lw->fd) < 0)
		cm_error(errno, "fsync log %s", lw->path);
	close(lw->fd);
	lw->fd = -1;
}
