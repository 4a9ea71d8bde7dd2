/*
 * client/jscan.c - the validating in-place JSON scanner of the stream
 * parsers' fast path (see jscan.h): strict RFC 8259 syntax and UTF-8, the
 * subset of jansson's input it can give identical values for, and "bad" for
 * everything else so that the caller falls back to jansson.
 */
#include "client/jscan.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define JSCAN_MAX_DEPTH 64
#define JSCAN_MAX_NUMBER 40   /* longer number tokens go to jansson (it may reject them) */

static void ws(struct jscan *j)
{
	if (j->p < j->end && (unsigned char)*j->p > ' ')
		return;   /* the usual case: compact JSON */
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

/*
 * The scratch block a stream keeps: this header (the template), then the
 * template's text (cap bytes), then the area escaped strings are decoded
 * into (cap bytes). Growing it keeps the template: its text stays in place.
 */
#define JTPL_SLOTS 10     /* values a template event may carry (an OpenAI token event has 3) */
enum { SLOT_STR, SLOT_INT };
struct jtpl_slot {
	uint32_t off, len;     /* the token in the template text */
	uint16_t target;       /* its struct jstr or struct jint: offset in the caller's fields */
	uint8_t kind;
};
struct jtpl {
	size_t len;            /* the template's text length; 0: no template */
	unsigned n;            /* its slots */
	unsigned nrec;         /* slots of the event being recorded (rs) */
	int broken;            /* the event being recorded cannot become the template */
	long long nreplay;
	size_t fsize;
	struct jtpl_slot s[JTPL_SLOTS], rs[JTPL_SLOTS];
	union {
		unsigned char b[JSCAN_MAX_FIELDS];   /* the caller's fields as read from the template's event */
		max_align_t align;
	} fields;
};

static char *tpl_text(struct jtpl *t)
{
	return (char *)(t + 1);
}

/* The scratch block, grown to hold an n-byte event. */
static struct jtpl *block(char **scratch, size_t *cap, size_t n)
{
	if (!*scratch || *cap < n + 1) {
		size_t c = *cap ? *cap : 256;
		int fresh = !*scratch;
		while (c < n + 1)
			c *= 2;
		*scratch = xrealloc(*scratch, sizeof(struct jtpl) + 2 * c);
		if (fresh)
			memset(*scratch, 0, sizeof(struct jtpl));
		*cap = c;
	}
	return (struct jtpl *)(void *)*scratch;
}

int jscan_begin(struct jscan *j, const char *text, size_t n, char **scratch, size_t *cap)
{
	struct jtpl *t = block(scratch, cap, n);

	j->p = j->text = text;
	j->end = text + n;
	j->out = tpl_text(t) + *cap;
	j->nout = 0;
	j->depth = 0;
	j->bad = 0;
	j->rec = t;
	j->rec_base = NULL;
	j->rec_size = 0;
	ws(j);
	if (j->p == j->end || *j->p != '{') {
		j->bad = 1;
		return -1;
	}
	jscan_object_begin(j);
	return 0;
}

void jscan_record(struct jscan *j, void *fields, size_t size)
{
	if (size > JSCAN_MAX_FIELDS || (size_t)(j->end - j->text) > UINT32_MAX || !fields)
		return;
	j->rec->nrec = 0;
	j->rec->broken = 0;
	j->rec_base = fields;
	j->rec_size = size;
}

/* While recording: the token that began at start and ends at j->p is a slot filling *target. */
static void slot(struct jscan *j, const char *start, int kind, const void *target, size_t tsize)
{
	struct jtpl *t = j->rec;
	const char *tg = target;

	if (!j->rec_base || j->bad)
		return;
	if (t->nrec == JTPL_SLOTS || tg < j->rec_base || tg + tsize > j->rec_base + j->rec_size) {
		t->broken = 1;
		return;
	}
	t->rs[t->nrec].off = (uint32_t)(start - j->text);
	t->rs[t->nrec].len = (uint32_t)(j->p - start);
	t->rs[t->nrec].target = (uint16_t)(tg - j->rec_base);
	t->rs[t->nrec].kind = (uint8_t)kind;
	t->nrec++;
}

void jscan_keep(struct jscan *j)
{
	struct jtpl *t = j->rec;
	size_t n = (size_t)(j->end - j->text);

	if (!j->rec_base || j->bad || t->broken)
		return;
	memcpy(tpl_text(t), j->text, n);   /* jscan_begin grew the block to hold n */
	t->len = n;
	memcpy(t->s, t->rs, t->nrec * sizeof t->s[0]);
	t->n = t->nrec;
	memcpy(t->fields.b, j->rec_base, j->rec_size);
	t->fsize = j->rec_size;
	j->rec_base = NULL;
}

long long jscan_replays(const char *scratch)
{
	return scratch ? ((const struct jtpl *)(const void *)scratch)->nreplay : 0;
}

char jscan_peek(struct jscan *j)
{
	char c;

	if (j->bad)
		return 0;
	ws(j);
	if (j->p == j->end)
		return 0;
	c = *j->p;
	return (c == '-' || (c >= '0' && c <= '9')) ? '0' : c;
}

/* Length of a valid UTF-8 sequence at p (p[0] >= 0x80), or 0 (jansson's utf8_check_full). */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n, i;
	uint32_t v;

	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		v = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		v = c & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3F);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	return n;
}

static int hex4(const char *p, const char *end, uint32_t *v)
{
	uint32_t x = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		x <<= 4;
		if (c >= '0' && c <= '9')
			x |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			x |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			x |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*v = x;
	return 0;
}

static void put_utf8(struct jscan *j, uint32_t v)
{
	char *o = j->out + j->nout;

	if (v < 0x80) {
		o[0] = (char)v;
		j->nout += 1;
	} else if (v < 0x800) {
		o[0] = (char)(0xC0 | (v >> 6));
		o[1] = (char)(0x80 | (v & 0x3F));
		j->nout += 2;
	} else if (v < 0x10000) {
		o[0] = (char)(0xE0 | (v >> 12));
		o[1] = (char)(0x80 | ((v >> 6) & 0x3F));
		o[2] = (char)(0x80 | (v & 0x3F));
		j->nout += 3;
	} else {
		o[0] = (char)(0xF0 | (v >> 18));
		o[1] = (char)(0x80 | ((v >> 12) & 0x3F));
		o[2] = (char)(0x80 | ((v >> 6) & 0x3F));
		o[3] = (char)(0x80 | (v & 0x3F));
		j->nout += 4;
	}
}

/*
 * One escape after the backslash at *pp, decoded into the scratch area.
 * 0, or -1 for what the fast path leaves to jansson (\u0000, a lone surrogate,
 * an unknown escape).
 */
static int unescape(struct jscan *j, const char **pp)
{
	const char *p = *pp + 1;
	uint32_t v, lo;
	char c;

	if (p >= j->end)
		return -1;
	c = *p++;
	switch (c) {
	case '"': case '\\': case '/':
		j->out[j->nout++] = c;
		break;
	case 'b': j->out[j->nout++] = '\b'; break;
	case 'f': j->out[j->nout++] = '\f'; break;
	case 'n': j->out[j->nout++] = '\n'; break;
	case 'r': j->out[j->nout++] = '\r'; break;
	case 't': j->out[j->nout++] = '\t'; break;
	case 'u':
		if (hex4(p, j->end, &v) || v == 0 || (v >= 0xDC00 && v <= 0xDFFF))
			return -1;
		p += 4;
		if (v >= 0xD800 && v <= 0xDBFF) {
			if (j->end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, j->end, &lo) ||
			    lo < 0xDC00 || lo > 0xDFFF)
				return -1;
			p += 6;
			v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
		}
		put_utf8(j, v);
		break;
	default:
		return -1;
	}
	*pp = p;
	return 0;
}

/* 1 for the bytes a string takes as they are: printable ASCII but '"' and '\\'. */
static const unsigned char plain[256] = {
#define R4(x) x, x, x, x
#define R16(x) R4(x), R4(x), R4(x), R4(x)
	R16(0), R16(0),                                   /* 0x00-0x1f: control characters */
	1, 1, 0, R4(1), R4(1), R4(1), 1,                  /* 0x20-0x2f: '"' is 0x22 */
	R16(1), R16(1),                                   /* 0x30-0x4f */
	R4(1), R4(1), R4(1), 0, 1, 1, 1,                  /* 0x50-0x5f: '\\' is 0x5c */
	R16(1), R16(1),                                   /* 0x60-0x7f */
	R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), /* 0x80-0xff: UTF-8, checked */
#undef R16
#undef R4
};

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define JSCAN_SWAR 1   /* eight bytes at a time (the first byte in memory is the lowest) */
static const uint64_t ONES = 0x0101010101010101u, HIGH = 0x8080808080808080u;
#endif

/*
 * The first byte in [p, end) that a string does not take as it is ('"', '\\',
 * a control character, a byte >= 0x80), or end. With JSCAN_SWAR, eight bytes a
 * step: each term's lowest flagged byte is exact (a borrow only runs upward from
 * a byte that is flagged itself).
 */
static inline const char *plain_run(const char *p, const char *end)
{
#ifdef JSCAN_SWAR
	while (end - p >= 8) {
		uint64_t x, q, b, m;
		memcpy(&x, p, 8);
		q = x ^ (ONES * '"');
		b = x ^ (ONES * '\\');
		m = (((q - ONES) & ~q) | ((b - ONES) & ~b) | ((x - ONES * 0x20) & ~x) | x) & HIGH;
		if (m)
			return p + (__builtin_ctzll(m) >> 3);
		p += 8;
	}
#endif
	while (p < end && plain[(unsigned char)*p])
		p++;
	return p;
}

/* A string at j->p (the opening quote); s gets its bytes. Escaped strings are decoded to the scratch area. */
static void scan_string(struct jscan *j, struct jstr *s, int allow_escapes)
{
	const char *p = j->p + 1, *start = p;
	size_t o0 = j->nout;
	int esc = 0;

	while (p < j->end) {
		const char *q = plain_run(p, j->end);
		unsigned char c;
		if (esc && q > p) {
			memcpy(j->out + j->nout, p, (size_t)(q - p));
			j->nout += (size_t)(q - p);
		}
		p = q;
		if (p == j->end)
			break;
		c = (unsigned char)*p;
		if (c == '"') {
			if (esc) {
				s->s = j->out + o0;
				s->len = j->nout - o0;
			} else {
				s->s = start;
				s->len = (size_t)(p - start);
			}
			s->set = 1;
			j->p = p + 1;
			return;
		}
		if (c < 0x20)
			break;
		if (c == '\\') {
			if (!allow_escapes)
				break;
			if (!esc) {
				memcpy(j->out + j->nout, start, (size_t)(p - start));
				j->nout += (size_t)(p - start);
				esc = 1;
			}
			if (unescape(j, &p))
				break;
			continue;
		}
		if (c >= 0x80) {
			size_t n = utf8_len((const unsigned char *)p, (const unsigned char *)j->end);
			if (!n)
				break;
			if (esc) {
				memcpy(j->out + j->nout, p, n);
				j->nout += n;
			}
			p += n;
			continue;
		}
		if (esc)
			j->out[j->nout++] = (char)c;
		p++;
	}
	j->bad = 1;
}

void jscan_string_fixed(struct jscan *j, struct jstr *s)
{
	if (jscan_peek(j) != '"') {
		j->bad = 1;
		return;
	}
	scan_string(j, s, 1);
}

void jscan_string(struct jscan *j, struct jstr *s)
{
	const char *start;

	if (jscan_peek(j) != '"') {
		j->bad = 1;
		return;
	}
	start = j->p;
	scan_string(j, s, 1);
	slot(j, start, SLOT_STR, s, sizeof *s);
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

#ifdef JSCAN_SWAR
/* Whether p[0..8) are eight ASCII digits; *w gets them. */
static int eight_digits(const char *p, uint64_t *w)
{
	uint64_t v;

	memcpy(&v, p, 8);
	if (((v & 0xF0F0F0F0F0F0F0F0u) | (((v + 0x0606060606060606u) & 0xF0F0F0F0F0F0F0F0u) >> 4)) !=
	    0x3333333333333333u)
		return 0;
	*w = v;
	return 1;
}

/* The value of eight ASCII digits (eight_digits), by three multiplications. */
static uint64_t eight_value(uint64_t v)
{
	v -= ONES * '0';
	v = v * 10 + (v >> 8);
	return (((v & 0x000000FF000000FFu) * (100 + (1000000ull << 32))) +
		(((v >> 16) & 0x000000FF000000FFu) * (1 + (10000ull << 32)))) >> 32;
}
#endif

/* A number at j->p. *is_int: no fraction or exponent and at most 18 digits (*v holds it exactly). */
static void scan_number(struct jscan *j, long long *v, int *is_int)
{
	const char *p = j->p, *start = p;
	int neg = 0, ndig = 0;
	long long x = 0;

	*is_int = 0;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (p == j->end || !is_digit(*p))
		goto bad;
	if (*p == '0') {
		p++;
		ndig = 1;
		if (p < j->end && is_digit(*p))
			goto bad;
	} else {
#ifdef JSCAN_SWAR
		uint64_t w;
		/* x holds the first 18 digits; past them it is not used (more than 18 is no integer) */
		while (j->end - p >= 8 && eight_digits(p, &w)) {
			if (ndig + 8 <= 18)
				x = x * 100000000 + (long long)eight_value(w);
			ndig += 8;
			p += 8;
		}
#endif
		while (p < j->end && is_digit(*p)) {
			if (ndig < 18)
				x = x * 10 + (*p - '0');
			ndig++;
			p++;
		}
	}
	if (p < j->end && (*p == 'e' || *p == 'E'))
		goto bad;   /* exponents can overflow jansson's strtod: let it decide */
	if (p < j->end && *p == '.') {
		p++;
		if (p == j->end || !is_digit(*p))
			goto bad;
		while (p < j->end && is_digit(*p))
			p++;
		if (p < j->end && (*p == 'e' || *p == 'E'))
			goto bad;
		if (p - start > JSCAN_MAX_NUMBER)
			goto bad;
		j->p = p;
		return;
	}
	if (ndig > 18)
		goto bad;
	*v = neg ? -x : x;
	*is_int = 1;
	j->p = p;
	return;
bad:
	j->bad = 1;
}

static int lit(struct jscan *j, const char *w, size_t n)
{
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n)) {
		j->bad = 1;
		return 0;
	}
	j->p += n;
	return 1;
}

void jscan_object_begin(struct jscan *j)
{
	if (jscan_peek(j) != '{' || ++j->depth > JSCAN_MAX_DEPTH) {
		j->bad = 1;
		return;
	}
	j->p++;
}

void jscan_array_begin(struct jscan *j)
{
	if (jscan_peek(j) != '[' || ++j->depth > JSCAN_MAX_DEPTH) {
		j->bad = 1;
		return;
	}
	j->p++;
}

/* Before an element or member: 1 when one follows, 0 at the closing character (consumed) or when bad. */
static int next_item(struct jscan *j, int *first, char close)
{
	if (j->bad)
		return 0;
	ws(j);
	if (j->p == j->end)
		goto bad;
	if (*j->p == close) {
		j->p++;
		j->depth--;
		return 0;
	}
	if (*first) {
		*first = 0;
		return 1;
	}
	if (*j->p != ',')
		goto bad;
	j->p++;
	ws(j);
	if (j->p == j->end || *j->p == close)
		goto bad;   /* a trailing comma */
	return 1;
bad:
	j->bad = 1;
	return 0;
}

int jscan_array_next(struct jscan *j, int *first)
{
	return next_item(j, first, ']');
}

int jscan_member(struct jscan *j, int *first, const char **key, size_t *klen)
{
	struct jstr k = {0};

	if (!next_item(j, first, '}'))
		return 0;
	if (*j->p != '"') {
		j->bad = 1;
		return 0;
	}
	scan_string(j, &k, 0);   /* keys with escapes (or NUL) go to jansson */
	if (j->bad)
		return 0;
	ws(j);
	if (j->p == j->end || *j->p != ':') {
		j->bad = 1;
		return 0;
	}
	j->p++;
	*key = k.s;
	*klen = k.len;
	return 1;
}

void jscan_skip(struct jscan *j)
{
	struct jstr s;
	const char *k;
	size_t kl;
	long long v;
	int first = 1, isint;

	switch (jscan_peek(j)) {
	case '{':
		jscan_object_begin(j);
		while (jscan_member(j, &first, &k, &kl))
			jscan_skip(j);
		break;
	case '[':
		jscan_array_begin(j);
		while (jscan_array_next(j, &first))
			jscan_skip(j);
		break;
	case '"':
		scan_string(j, &s, 1);   /* decoded too: the scratch area holds every string of the event */
		break;
	case 't':
		lit(j, "true", 4);
		break;
	case 'f':
		lit(j, "false", 5);
		break;
	case 'n':
		lit(j, "null", 4);
		break;
	case '0':
		scan_number(j, &v, &isint);
		break;
	default:
		j->bad = 1;
	}
}

void jscan_int(struct jscan *j, struct jint *i)
{
	long long v;
	int isint;

	if (jscan_peek(j) == '0') {
		const char *start = j->p;
		scan_number(j, &v, &isint);
		if (!j->bad && isint) {
			i->v = v;
			i->set = 1;
			slot(j, start, SLOT_INT, i, sizeof *i);
		}
		return;
	}
	jscan_skip(j);
}

/*
 * A number as jansson reads it: an integer (no fraction or exponent, at most 18
 * digits) converted to double, anything else through strtod (jansson's own
 * conversion; an overflow to infinity is an error there, so bad here). The
 * token is copied to a local buffer for strtod: nothing is allocated.
 */
void jscan_real(struct jscan *j, struct jreal *r)
{
	const char *p, *start;
	char tmp[JSCAN_MAX_NUMBER + 1];
	double v;

	if (j->rec_base)
		j->rec->broken = 1;   /* a template has no real slots (the sum of logprobs is the caller's) */
	if (jscan_peek(j) != '0') {
		jscan_skip(j);
		return;
	}
	p = start = j->p;
	if (*p == '-')
		p++;
	if (p == j->end || !is_digit(*p))
		goto bad;
	if (*p == '0') {
		p++;
		if (p < j->end && is_digit(*p))
			goto bad;
	} else {
		while (p < j->end && is_digit(*p))
			p++;
	}
	if (p < j->end && *p == '.') {
		p++;
		if (p == j->end || !is_digit(*p))
			goto bad;
		while (p < j->end && is_digit(*p))
			p++;
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < j->end && (*p == '+' || *p == '-'))
			p++;
		if (p == j->end || !is_digit(*p))
			goto bad;
		while (p < j->end && is_digit(*p))
			p++;
	}
	if (p - start > JSCAN_MAX_NUMBER)
		goto bad;
	memcpy(tmp, start, (size_t)(p - start));
	tmp[p - start] = 0;
	if (!memchr(tmp, '.', (size_t)(p - start)) && !strpbrk(tmp, "eE")) {
		long long x;
		int isint;
		scan_number(j, &x, &isint);   /* integers: jansson's json_integer, then (double) */
		if (j->bad || !isint)
			goto bad;
		v = (double)x;
	} else {
		v = strtod(tmp, NULL);
		if (isinf(v))
			goto bad;
		j->p = p;
	}
	r->v = v;
	r->set = 1;
	return;
bad:
	j->bad = 1;
}

int jscan_true(struct jscan *j)
{
	if (jscan_peek(j) == 't')
		return lit(j, "true", 4);
	jscan_skip(j);
	return 0;
}

int jscan_end(struct jscan *j)
{
	if (j->bad)
		return -1;
	ws(j);
	if (j->p != j->end || j->depth != 0) {
		j->bad = 1;
		return -1;
	}
	return 0;
}


void jscan_string_or_skip(struct jscan *j, struct jstr *s)
{
	if (jscan_peek(j) == '"')
		jscan_string(j, s);
	else
		jscan_skip(j);
}

/* The member loop of jscan_string_members / jscan_int_members: strs or ints is the output. */
static int members(struct jscan *j, const struct jkey *keys, unsigned n, struct jstr *strs, struct jint *ints)
{
	const char *k;
	size_t kl;
	unsigned seen = 0, i;
	int first = 1;

	if (jscan_peek(j) != '{') {
		jscan_skip(j);
		return 0;
	}
	jscan_object_begin(j);
	while (jscan_member(j, &first, &k, &kl)) {
		for (i = 0; i < n; i++)
			if (kl == keys[i].len && !memcmp(k, keys[i].s, kl))
				break;
		if (i == n || !jscan_once(j, &seen, 1u << i))
			jscan_skip(j);
		else if (strs)
			jscan_string_or_skip(j, &strs[i]);
		else
			jscan_int(j, &ints[i]);
	}
	return 1;
}

int jscan_string_members(struct jscan *j, const struct jkey *keys, struct jstr *out, unsigned n)
{
	return members(j, keys, n, out, NULL);
}

int jscan_int_members(struct jscan *j, const struct jkey *keys, struct jint *out, unsigned n)
{
	return members(j, keys, n, NULL, out);
}

void jstr_copy(const struct jstr *s, char *dst, size_t cap)
{
	size_t n = s->len < cap - 1 ? s->len : cap - 1;
	memcpy(dst, s->s, n);
	dst[n] = 0;
}

const void *jscan_replay(const char *text, size_t n, char **scratch, size_t *cap, size_t size)
{
	struct jtpl *t = (struct jtpl *)(void *)*scratch;
	struct jscan j;
	const char *p = text, *end = text + n;
	char *tt;
	size_t pos = 0;
	unsigned k;
	char *fields;

	if (!t || !t->len || t->fsize != size)
		return NULL;
	if (*cap < n + 1)
		t = block(scratch, cap, n);
	tt = tpl_text(t);
	fields = (char *)t->fields.b;   /* filled in place: every slot is written before a match returns */
	j.end = end;
	j.out = tt + *cap;
	j.nout = 0;
	j.bad = 0;
	j.depth = 0;
	j.text = text;
	j.rec = t;
	j.rec_base = NULL;
	for (k = 0; k < t->n; k++) {
		const struct jtpl_slot *s = &t->s[k];
		size_t lit = s->off - pos;
		char *target = fields + s->target;

		if ((size_t)(end - p) < lit + 1 || memcmp(p, tt + pos, lit))
			return NULL;
		j.p = p + lit;
		if (s->kind == SLOT_STR) {
			struct jstr *sv = (struct jstr *)(void *)target;
			const char *q;
			if (*j.p != '"')
				return NULL;
			q = plain_run(j.p + 1, end);
			if (q < end && *q == '"') {   /* the usual case, as scan_string reads it: nothing to decode */
				sv->s = j.p + 1;
				sv->len = (size_t)(q - j.p - 1);
				sv->set = 1;
				j.p = q + 1;
			} else {
				scan_string(&j, sv, 1);
			}
		} else {
			struct jint *iv = (struct jint *)(void *)target;
			int isint;
			if (*j.p != '-' && !is_digit(*j.p))
				return NULL;
			scan_number(&j, &iv->v, &isint);
			if (!isint)
				return NULL;
			iv->set = 1;
		}
		if (j.bad)
			return NULL;
		p = j.p;
		pos = s->off + s->len;
	}
	if ((size_t)(end - p) != t->len - pos || memcmp(p, tt + pos, t->len - pos))
		return NULL;
	t->nreplay++;
	return fields;
}
