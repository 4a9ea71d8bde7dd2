/*
 * kv.h - the one reader of key/value files (subject weights, prices, active
 * parameters): a JSON object {"key": value} or text lines "key value...",
 * '#' starting a comment. Each key carries 1 or 2 numbers. Errors name the
 * file and, for text, the line: "w.txt:3: 'x' is not a number >= 0".
 * Never prints.
 */
#ifndef IPW_KV_H
#define IPW_KV_H

#include <stddef.h>

#define KV_MAXVAL 2

/* How a file is read. */
struct kv_spec {
	int nval;                  /* numbers per key, 1..KV_MAXVAL */
	const char *names[KV_MAXVAL]; /* JSON: member names of an object value when nval == 2 ("input",
	                              "output"); a 2-array [a, b] is accepted too */
	int counts;                /* numbers may carry a suffix K, M, B (1e9), T and be JSON strings ("8B") */
	int key_blanks;            /* text: the key is what precedes the last TAB or comma (it may hold
	                              spaces); else a line is fields split on blanks and commas */
	int unique;                /* a key given twice is an error (else the first one counts) */
	const char *what;          /* what one value is, for errors: "weight", "price" */
	const char *line_form;     /* the text form, for errors: "subject<TAB>weight' or 'subject,weight" */
	const char *json_form;     /* the JSON form of one value, for errors: "a number >= 0" */
};

struct kv_entry {
	char *key;                 /* owned */
	double v[KV_MAXVAL];       /* NAN beyond nval; every value is finite and >= 0 */
	int line;                  /* text: its line (1-based); JSON: 0 */
};

struct kv_table {
	struct kv_entry *e;
	size_t n;
};

/*
 * Reads path into t (released by kv_table_release, also on failure). 0, or -1
 * with err "PATH:LINE: what is wrong" (JSON: "PATH: the VALUE of 'key' ...").
 * An empty file is not an error (t->n == 0).
 */
int kv_read(const char *path, const struct kv_spec *spec, struct kv_table *t, char *err, size_t errlen);
void kv_table_release(struct kv_table *t);

/* The same on text[0..len) (a NUL ends it early); name stands for the path in errors. */
int kv_read_mem(const char *name, const char *text, size_t len, const struct kv_spec *spec, struct kv_table *t,
		char *err, size_t errlen);

/* The first entry with key, or NULL. */
const struct kv_entry *kv_find(const struct kv_table *t, const char *key);

/*
 * One number as the spec takes it: "0.25", with counts also "8B", "120M";
 * finite and >= 0. 0 or -1.
 */
int kv_number(const struct kv_spec *spec, const char *s, double *out);

#endif
