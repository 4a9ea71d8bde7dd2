/*
 * util.h - allocation wrappers that abort on failure, a growable byte buffer
 * with a hard size cap (for network input), and error-buffer helpers.
 */
#ifndef IPW_UTIL_H
#define IPW_UTIL_H

#include <stdarg.h>
#include <stddef.h>

#define IPW_ERRLEN 512

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* Returns a newly allocated printf-formatted string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes a formatted message into err (if err is not NULL); returns -1. */
int err_set(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * A growable buffer, always NUL-terminated. max is the hard cap on len (0 = no
 * cap); an append that would pass it fails with -1 and leaves the buffer as it was.
 */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_appends(struct buf *b, const char *s);
int buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Removes the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Hands the data to the caller (who frees it) and re-initialises the buffer. */
char *buf_detach(struct buf *b);

/* Reads a whole file into a newly allocated NUL-terminated string. 0 or -1 (err set). */
int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen);
/* Reads a small sysfs-style file and parses it as an integer / trims it. 0 or -1. */
int read_file_ll(const char *path, long long *out);
int read_file_str(const char *path, char *out, size_t outlen);

/* Parses "a,b,c" into a NULL-terminated array of newly allocated strings. */
char **split_list(const char *s, char sep, int *n);
void free_list(char **list);

/*
 * Replaces every occurrence of secret in msg (a buffer of size n) with
 * "[redacted]", so API keys never reach a message, a log or the store.
 */
void redact_secret(char *msg, size_t n, const char *secret);

/* SHA-256 of a byte string as 64 lower-case hex digits plus NUL. */
void sha256_hex(const void *data, size_t len, char out[65]);

#endif
