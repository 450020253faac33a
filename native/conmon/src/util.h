/* util: small fd, file and string helpers shared by the other modules
 * (full writes, atomic file replace, JSON string escaping, number parsing).
 * Owner: native/conmon. */
#ifndef CM_UTIL_H
#define CM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Writes all of buf to a blocking fd, retrying on EINTR. 0 or -1 (errno). */
int write_all(int fd, const void *buf, size_t len);

/* writev until every iovec is written; iov is consumed (modified). */
int writev_all(int fd, struct iovec *iov, int iovcnt);

int set_nonblock(int fd, bool on);
int set_cloexec(int fd);

/* Replaces path with data: temp file in the same directory, fsync, rename.
 * Readers never see a partial file. */
int atomic_write_file(const char *path, const char *data, size_t len, mode_t mode);

/* Creates path (empty) if missing; used for marker files such as "oom". */
int touch_file(const char *path, mode_t mode);

/* malloc'd "dir/name"; aborts on OOM (a monitor that cannot allocate a path
 * cannot do its job either). */
char *path_join(const char *dir, const char *name);
char *xstrdup(const char *s);

/* Escapes s as the body of a JSON string into out (always NUL-terminated,
 * truncated at a character boundary if cap is too small). */
void json_escape(char *out, size_t cap, const char *s);

/* Strict decimal parsing: whole string, no overflow. 0 or -1. */
int parse_int64(const char *s, int64_t *out);
int parse_int(const char *s, int *out);

#endif
