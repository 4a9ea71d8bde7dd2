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

/* Writes a formatted message into err (if err is not NULL), scrubbed of secrets before it is cut to errlen; returns -1. */
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
/* A NUL-terminated copy of b's bytes (NUL bytes kept; "" when empty), caller frees; *len gets b->len. */
char *buf_dup(const struct buf *b, size_t *len);
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
 * Secrets (API keys, URL passwords) never reach a message, a log, the store or
 * an export. The process keeps one set of them: secret_add() registers one
 * (client_open registers its API key; IPW_API_KEY, OPENAI_API_KEY and
 * IPW_JUDGE_API_KEY are always in it), and every scrub below replaces each
 * occurrence of a secret, and each piece of one REDACT_PIECE bytes or longer
 * (a key cut in two by a length limit, or echoed in parts), with "[redacted]".
 * Secrets shorter than REDACT_MIN_LEN are placeholders ("ollama", "none"),
 * not secrets, and are left alone. Text is always scrubbed before it is cut
 * to size, so a cut can never leave part of a key behind.
 */
#define REDACT_MIN_LEN 8
#define REDACT_PIECE 8
#define REDACTED "[redacted]"

/* Adds s to the process's secrets (copied). Thread-safe. */
void secret_add(const char *s);
/*
 * Adds the values IPW_API_KEY, OPENAI_API_KEY and IPW_JUDGE_API_KEY have now
 * and stops reading the environment on every scrub (a pass over it for each
 * name). For a server whose environment no longer changes: ipw route serve
 * calls it once at start, and scrubs every event it forwards.
 */
void secret_freeze_env(void);
/* Forgets the secrets added with secret_add, and a freeze (tests). */
void secret_clear(void);
/*
 * A scrubbed copy of s[0..len) (NUL bytes allowed) in a newly allocated,
 * NUL-terminated string the caller frees, its length in *outlen; NULL (and
 * nothing allocated) when s holds no secret.
 */
char *secret_scrub(const char *s, size_t len, size_t *outlen);
/* Scrubs the NUL-terminated string in msg (a buffer of size n) in place (cut to fit). */
void secret_scrub_str(char *msg, size_t n);
/*
 * Writes in[0..inlen), scrubbed, with line breaks and tabs as spaces, cut to
 * at most max bytes (plus "..." when cut), into out (size outlen).
 */
void secret_excerpt(char *out, size_t outlen, const char *in, size_t inlen, size_t max);
/*
 * Scrubs msg (a buffer of size n) of secret (any length >= 1; NULL: none)
 * and of every registered secret.
 */
void redact_secret(char *msg, size_t n, const char *secret);

/*
 * A copy of url without its user-info ("http://user:pw@host/" -> "http://host/"),
 * newly allocated; *userinfo (may be NULL) gets "user:pw" (newly allocated) or
 * NULL when there was none.
 */
char *url_strip_userinfo(const char *url, char **userinfo);

/* SHA-256 of a byte string as 64 lower-case hex digits plus NUL. */
void sha256_hex(const void *data, size_t len, char out[65]);

#endif
