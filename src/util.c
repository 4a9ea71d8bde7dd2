/*
 * util.c - allocation wrappers, the capped growable buffer, small file
 * helpers, the redaction of secrets from every text that leaves the process,
 * and a SHA-256 used to fingerprint datasets and judge prompts.
 */
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die_oom(size_t n)
{
	fprintf(stderr, "ipw: out of memory (asked for %zu bytes)\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die_oom(n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		die_oom(n * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		die_oom(n);
	return q;
}

char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = xmalloc(n);
	memcpy(p, s, n);
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		die_oom(0);
	va_end(ap);
	return p;
}

int err_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	char *full = NULL;
	int n;

	if (err && errlen) {
		/* the whole message, scrubbed of secrets, then cut to the buffer */
		va_start(ap, fmt);
		n = vasprintf(&full, fmt, ap);
		va_end(ap);
		if (n < 0) {
			va_start(ap, fmt);
			vsnprintf(err, errlen, fmt, ap);
			va_end(ap);
			redact_secret(err, errlen, NULL);
			return -1;
		}
		redact_secret(full, (size_t)n + 1, NULL);
		snprintf(err, errlen, "%s", full);
		free(full);
	}
	return -1;
}

void buf_init(struct buf *b, size_t max)
{
	b->data = xmalloc(64);
	b->data[0] = 0;
	b->len = 0;
	b->cap = 64;
	b->max = max;
}

void buf_release(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	if (b->max && b->len + n > b->max)
		return -1;
	if (!b->data)
		buf_init(b, b->max);
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return 0;
}

int buf_appends(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n, rc;
	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		die_oom(0);
	rc = buf_append(b, p, (size_t)n);
	free(p);
	return rc;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = 0;
}

char *buf_dup(const struct buf *b, size_t *len)
{
	char *out = xmalloc(b->len + 1);
	if (b->len)
		memcpy(out, b->data, b->len);
	out[b->len] = 0;
	if (len)
		*len = b->len;
	return out;
}

char *buf_detach(struct buf *b)
{
	char *p = b->data ? b->data : xstrdup("");
	size_t max = b->max;
	b->data = NULL;
	b->len = b->cap = 0;
	buf_init(b, max);
	return p;
}

int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[65536];
	size_t n;
	if (!f)
		return err_set(err, errlen, "cannot open %s: %s", path, strerror(errno));
	buf_init(&b, 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	if (ferror(f)) {
		fclose(f);
		buf_release(&b);
		return err_set(err, errlen, "cannot read %s: %s", path, strerror(errno));
	}
	fclose(f);
	if (len)
		*len = b.len;
	*out = b.data;
	return 0;
}

int read_file_str(const char *path, char *out, size_t outlen)
{
	FILE *f = fopen(path, "r");
	size_t n;
	if (!f)
		return -1;
	n = fread(out, 1, outlen - 1, f);
	if (ferror(f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	out[n] = 0;
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ' || out[n - 1] == '\r'))
		out[--n] = 0;
	return 0;
}

int read_file_ll(const char *path, long long *out)
{
	char s[64], *end;
	long long v;
	if (read_file_str(path, s, sizeof(s)) < 0)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s)
		return -1;
	*out = v;
	return 0;
}

char **split_list(const char *s, char sep, int *n)
{
	int count = 1, i = 0;
	const char *p;
	char **list;
	for (p = s; *p; p++)
		if (*p == sep)
			count++;
	list = xcalloc((size_t)count + 1, sizeof(*list));
	p = s;
	while (1) {
		const char *e = strchr(p, sep);
		size_t len = e ? (size_t)(e - p) : strlen(p);
		while (len && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len) {
			list[i] = xmalloc(len + 1);
			memcpy(list[i], p, len);
			list[i][len] = 0;
			i++;
		}
		if (!e)
			break;
		p = e + 1;
	}
	if (n)
		*n = i;
	return list;
}

void free_list(char **list)
{
	if (!list)
		return;
	for (char **p = list; *p; p++)
		free(*p);
	free(list);
}

/* ---- secrets ---- */

/* scrubs take it to read (many threads at once: the router's loops scrub every event), the rest to write */
static pthread_rwlock_t secret_mu = PTHREAD_RWLOCK_INITIALIZER;
static char **secret_list;
static size_t secret_n;
static const char *const secret_env[] = {"IPW_API_KEY", "OPENAI_API_KEY", "IPW_JUDGE_API_KEY"};
static int secret_env_frozen;   /* secret_freeze_env: the variables' values are in secret_list */

void secret_add(const char *s)
{
	if (!s || strlen(s) < REDACT_MIN_LEN)
		return;
	pthread_rwlock_wrlock(&secret_mu);
	for (size_t i = 0; i < secret_n; i++)
		if (!strcmp(secret_list[i], s))
			goto out;
	secret_list = xrealloc(secret_list, (secret_n + 1) * sizeof *secret_list);
	secret_list[secret_n++] = xstrdup(s);
out:
	pthread_rwlock_unlock(&secret_mu);
}

void secret_freeze_env(void)
{
	for (size_t i = 0; i < sizeof secret_env / sizeof secret_env[0]; i++)
		secret_add(getenv(secret_env[i]));
	pthread_rwlock_wrlock(&secret_mu);
	secret_env_frozen = 1;
	pthread_rwlock_unlock(&secret_mu);
}

void secret_clear(void)
{
	pthread_rwlock_wrlock(&secret_mu);
	secret_env_frozen = 0;
	for (size_t i = 0; i < secret_n; i++) {
		memset(secret_list[i], 0, strlen(secret_list[i]));
		free(secret_list[i]);
	}
	free(secret_list);
	secret_list = NULL;
	secret_n = 0;
	pthread_rwlock_unlock(&secret_mu);
}

static uint64_t gram_at(const char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static size_t gram_slot(uint64_t v, size_t mask)
{
	return (size_t)((v * 0x9e3779b97f4a7c15ull) >> 40) & mask;
}

/* An open-addressing set of the REDACT_PIECE-byte pieces of a secret. */
struct grams {
	uint64_t *v;
	unsigned char *used;
	size_t mask;
};

static void grams_build(struct grams *g, const char *k, size_t klen)
{
	size_t n = klen - REDACT_PIECE + 1, cap = 16;
	while (cap < 2 * n)
		cap *= 2;
	g->v = xcalloc(cap, sizeof *g->v);
	g->used = xcalloc(cap, 1);
	g->mask = cap - 1;
	for (size_t i = 0; i < n; i++) {
		uint64_t v = gram_at(k + i);
		size_t h = gram_slot(v, g->mask);
		while (g->used[h] && g->v[h] != v)
			h = (h + 1) & g->mask;
		g->used[h] = 1;
		g->v[h] = v;
	}
}

static int grams_has(const struct grams *g, uint64_t v)
{
	for (size_t h = gram_slot(v, g->mask); g->used[h]; h = (h + 1) & g->mask)
		if (g->v[h] == v)
			return 1;
	return 0;
}

/* Length of the longest piece of k starting at s[0..len), or 0 if under REDACT_PIECE. */
static size_t piece_len(const char *s, size_t len, const char *k, size_t klen, const struct grams *g)
{
	size_t m = REDACT_PIECE;
	if (len < REDACT_PIECE || !grams_has(g, gram_at(s)) || !memmem(k, klen, s, m))
		return 0;
	while (m < len && m < klen && memmem(k, klen, s, m + 1))
		m++;
	return m;
}

/*
 * Scrubs s[0..len) of k (and, with pieces, of its long pieces) into out.
 * 1 when something was replaced (out holds the result), else 0 (out untouched).
 */
static int scrub_one(const char *s, size_t len, const char *k, int pieces, struct buf *out)
{
	size_t klen = strlen(k), i = 0, from = 0, m;
	struct grams g = {0};
	int hit = 0;

	if (!klen || len < (pieces ? (size_t)REDACT_PIECE : klen))
		return 0;
	if (pieces)
		grams_build(&g, k, klen);
	else if (!memmem(s, len, k, klen))
		return 0;
	while (i < len) {
		if (pieces)
			m = piece_len(s + i, len - i, k, klen, &g);
		else
			m = len - i >= klen && !memcmp(s + i, k, klen) ? klen : 0;
		if (!m) {
			i++;
			continue;
		}
		if (!hit)
			buf_reset(out);
		hit = 1;
		buf_append(out, s + from, i - from);
		buf_appends(out, REDACTED);
		i += m;
		from = i;
	}
	if (hit)
		buf_append(out, s + from, len - from);
	free(g.v);
	free(g.used);
	return hit;
}

/* Scrubs the text in *cur (cur_len) of k, swapping the result into the buffers. */
static void scrub_step(const char **cur, size_t *cur_len, struct buf *a, struct buf *b, const char *k,
		       int pieces, int *changed)
{
	struct buf *dst = *cur == a->data ? b : a;
	if (!k || !scrub_one(*cur, *cur_len, k, pieces, dst))
		return;
	*cur = dst->data;
	*cur_len = dst->len;
	*changed = 1;
}

/* secret_scrub with one extra secret (any length: whole occurrences; long ones: pieces too). */
static char *scrub_with(const char *s, size_t len, const char *extra, size_t *outlen)
{
	struct buf a, b;
	const char *cur = s;
	size_t cur_len = len;
	int changed = 0;
	char *res = NULL;

	buf_init(&a, 0);
	buf_init(&b, 0);
	if (extra && *extra)
		scrub_step(&cur, &cur_len, &a, &b, extra, strlen(extra) >= REDACT_MIN_LEN, &changed);
	pthread_rwlock_rdlock(&secret_mu);
	for (size_t i = 0; !secret_env_frozen && i < sizeof secret_env / sizeof secret_env[0]; i++) {
		const char *v = getenv(secret_env[i]);
		if (v && strlen(v) >= REDACT_MIN_LEN)
			scrub_step(&cur, &cur_len, &a, &b, v, 1, &changed);
	}
	for (size_t i = 0; i < secret_n; i++)
		scrub_step(&cur, &cur_len, &a, &b, secret_list[i], 1, &changed);
	pthread_rwlock_unlock(&secret_mu);
	if (changed) {
		res = xmalloc(cur_len + 1);
		memcpy(res, cur, cur_len);
		res[cur_len] = 0;
		if (outlen)
			*outlen = cur_len;
	}
	buf_release(&a);
	buf_release(&b);
	return res;
}

char *secret_scrub(const char *s, size_t len, size_t *outlen)
{
	return s ? scrub_with(s, len, NULL, outlen) : NULL;
}

void secret_scrub_str(char *msg, size_t n)
{
	redact_secret(msg, n, NULL);
}

void redact_secret(char *msg, size_t n, const char *secret)
{
	char *r;

	if (!msg || !n)
		return;
	r = scrub_with(msg, strnlen(msg, n), secret, NULL);
	if (r) {
		snprintf(msg, n, "%s", r);
		free(r);
	}
}

void secret_excerpt(char *out, size_t outlen, const char *in, size_t inlen, size_t max)
{
	size_t n, k = 0;
	char *r;
	const char *t;

	if (!outlen)
		return;
	r = in ? secret_scrub(in, inlen, &n) : NULL;
	t = r ? r : in ? in : "";
	if (!r)
		n = in ? inlen : 0;
	if (max > outlen - 1)
		max = outlen - 1;
	for (size_t i = 0; i < n && k < max; i++) {
		char ch = t[i];
		out[k++] = ch == '\n' || ch == '\r' || ch == '\t' || ch == 0 ? ' ' : ch;
	}
	if (k < n && k == max) {
		size_t dots = outlen - 1 - k < 3 ? outlen - 1 - k : 3;
		memcpy(out + k, "...", dots);
		k += dots;
	}
	out[k] = 0;
	free(r);
}

char *url_strip_userinfo(const char *url, char **userinfo)
{
	const char *p = strstr(url, "://"), *host, *end, *at = NULL;

	if (userinfo)
		*userinfo = NULL;
	host = p ? p + 3 : url;
	end = host + strcspn(host, "/?#");
	for (const char *q = host; q < end; q++)
		if (*q == '@')
			at = q;
	if (!at)
		return xstrdup(url);
	if (userinfo)
		*userinfo = xasprintf("%.*s", (int)(at - host), host);
	return xasprintf("%.*s%s", (int)(host - url), url, at + 1);
}

/* SHA-256 (FIPS 180-4), small and unhurried: used on datasets and prompts only. */
static const uint32_t K256[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, hh, t1, t2;
	int i;
	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4]; f = h[5]; g = h[6]; hh = h[7];
	for (i = 0; i < 64; i++) {
		t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
		t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

void sha256_hex(const void *data, size_t len, char out[65])
{
	uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
			 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	const unsigned char *p = data;
	unsigned char tail[128];
	size_t full = len / 64 * 64, rest = len - full, tl;
	uint64_t bits = (uint64_t)len * 8;
	for (size_t i = 0; i < full; i += 64)
		sha256_block(h, p + i);
	memset(tail, 0, sizeof(tail));
	memcpy(tail, p + full, rest);
	tail[rest] = 0x80;
	tl = rest + 1 + 8 <= 64 ? 64 : 128;
	for (int i = 0; i < 8; i++)
		tail[tl - 1 - i] = (unsigned char)(bits >> (8 * i));
	sha256_block(h, tail);
	if (tl == 128)
		sha256_block(h, tail + 64);
	for (int i = 0; i < 8; i++)
		snprintf(out + 8 * i, 9, "%08x", h[i]);
}
