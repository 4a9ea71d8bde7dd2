/*
 * client/jscan.h - the stream parsers' fast path: a validating JSON scanner
 * that walks one event's text in place, without building a tree or
 * allocating, and decodes the few strings the caller asks for into a scratch
 * area the stream keeps. It accepts a subset of what jansson accepts (with
 * JSON_ALLOW_NUL) and gives the same values for it; on anything outside the
 * subset (\u0000, keys with escapes, numbers it cannot hold exactly, deep
 * nesting, invalid JSON or UTF-8) it sets bad, and the caller parses the
 * event with jansson instead. See docs/client.md "Fast path".
 */
#ifndef IPW_CLIENT_JSCAN_H
#define IPW_CLIENT_JSCAN_H

#include <stddef.h>
#include <string.h>

struct jtpl;

struct jscan {
	const char *p, *end;
	char *out;          /* decoded strings go here: room for the whole event */
	size_t nout;
	int depth;
	int bad;            /* outside the subset: fall back to the full parser */
	/* jscan_record: the template being built from this event, and the caller's fields it fills */
	const char *text;
	struct jtpl *rec;
	char *rec_base;
	size_t rec_size;
};

/* A string value: its bytes (in the event text or in the scratch area) and length; set = present. */
struct jstr {
	const char *s;
	size_t len;
	int set;
};

/* An integer member: set = the value was a JSON integer (jansson's json_is_integer). */
struct jint {
	long long v;
	int set;
};

/*
 * Starts scanning text[0..n) with scratch (*scratch, *cap: grown here to hold
 * n bytes and the stream's template, kept by the caller across events and
 * released with free(), so a steady stream allocates nothing). Returns 0, or
 * -1 when the text does not start with '{' (bad set).
 */
int jscan_begin(struct jscan *j, const char *text, size_t n, char **scratch, size_t *cap);
/*
 * The stream's template (kept in the scratch block): the text of an event read
 * whole on the fast path, and where in it lay the values the caller read into
 * its fields struct with jscan_string and jscan_int (the slots). Every other
 * byte (keys, punctuation, whitespace, skipped values, jscan_string_fixed
 * strings) is literal. An event that repeats the literal bytes exactly, with
 * a valid token of the same kind in each slot, is the same JSON tree with
 * other values in those places, so the full scan would read it into the same
 * fields but for the slots' values: jscan_replay reads it so, in one pass of
 * comparisons. Servers send every event of a stream in one layout (same id,
 * created, model, keys), so all but the first few take the replay.
 *
 * jscan_record (after jscan_begin) starts building the template from this
 * event, whose values go into fields[0..size) (size <= JSCAN_MAX_FIELDS); jscan_keep
 * (after a jscan_end that returned 0, with the fields as read) makes it the
 * stream's template. Any other jscan_begin drops the template being built.
 */
#define JSCAN_MAX_FIELDS 320
void jscan_record(struct jscan *j, void *fields, size_t size);
void jscan_keep(struct jscan *j);
/*
 * Reads text[0..n) by the stream's template: the caller's fields (size bytes,
 * in the scratch block, valid until the next jscan call on it) as jscan would
 * have read them, or NULL when it did not match or there is no template
 * (read it with jscan_begin).
 */
const void *jscan_replay(const char *text, size_t n, char **scratch, size_t *cap, size_t size);
/* Events the stream's scratch block has read by replay (for tests). */
long long jscan_replays(const char *scratch);
/*
 * The next member of the object being read (*first: 1 before the first,
 * cleared here): 1 with its key (not NUL-terminated), 0 at the closing '}'
 * or when bad is set. The caller then reads the member's value.
 */
int jscan_member(struct jscan *j, int *first, const char **key, size_t *klen);
/* The value ahead: '{', '[', '"', 't', 'f', 'n', or '0' for a number (0 at the end). */
char jscan_peek(struct jscan *j);
/* Reads a string value into s (bad if it is none); while recording, s is a slot. */
void jscan_string(struct jscan *j, struct jstr *s);
/* The same, but the value stays literal in the template (a decision depends on it). */
void jscan_string_fixed(struct jscan *j, struct jstr *s);
/* Reads a value; when it is an integer sets *i (bad if it is not valid JSON); then a slot when recording. */
void jscan_int(struct jscan *j, struct jint *i);
/* A number member: set = the value was a JSON number; v as jansson's json_number_value gives it. */
struct jreal {
	double v;
	int set;
};
/*
 * Reads a value; when it is a number sets *r (bad if it is not valid JSON, or
 * it overflows a double). A number read so keeps the event from being a template.
 */
void jscan_real(struct jscan *j, struct jreal *r);
/* Reads a value that must be true/false/null/anything; returns 1 when it was the literal true. */
int jscan_true(struct jscan *j);
/* Reads and validates any value. */
void jscan_skip(struct jscan *j);
/* Whether the rest of the text is only whitespace (bad otherwise). 0 when the event was taken whole. */
int jscan_end(struct jscan *j);
/* A key comparison: key[0..klen) == the string literal lit. */
#define jscan_key_is(key, klen, lit) ((klen) == sizeof("" lit) - 1 && !memcmp((key), lit, sizeof("" lit) - 1))
/*
 * The helpers the API files' fast paths share. jscan_once marks bit k of one
 * object's keys as seen; a repeated key (jansson: the last wins) sets bad so
 * jansson reads the event. Returns !bad.
 */
static inline int jscan_once(struct jscan *j, unsigned *seen, unsigned k)
{
	if (*seen & k)
		j->bad = 1;
	*seen |= k;
	return !j->bad;
}
/* A string value into s, or any other value skipped (s stays unset). */
void jscan_string_or_skip(struct jscan *j, struct jstr *s);
/* A member name to look for, and its length. */
struct jkey {
	const char *s;
	size_t len;
};
#define JKEY(lit) {lit, sizeof("" lit) - 1}
/*
 * The object value ahead: members keys[i] (i < n <= 32) read as strings into
 * out[i] (another type skipped, out[i] unset), the rest skipped, a repeat bad.
 * 1 when the value was an object, 0 when it was something else (skipped).
 */
int jscan_string_members(struct jscan *j, const struct jkey *keys, struct jstr *out, unsigned n);
/* The same with integer members (jscan_int). */
int jscan_int_members(struct jscan *j, const struct jkey *keys, struct jint *out, unsigned n);
/* s (set) into dst[0..cap) NUL-terminated, cut to fit. */
void jstr_copy(const struct jstr *s, char *dst, size_t cap);
/* Array helpers for the value ahead ('[' peeked): jscan_array_next gives 1 before each element, 0 at ']'. */
void jscan_array_begin(struct jscan *j);
int jscan_array_next(struct jscan *j, int *first);
/* Enters an object value ('{' peeked); then jscan_member until it returns 0. */
void jscan_object_begin(struct jscan *j);

#endif
