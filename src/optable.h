/*
 * optable.h - declarative command-line options: one table per command gives
 * each option's name, short letter, argument kind, where its value lives (an
 * offset into the command's options struct), its help text and whether it is
 * recorded in a run's configuration. The same table drives getopt parsing, the
 * usage text, a printed "key=value" configuration line, the recorded JSON and
 * restoring that JSON (resume). Never prints: text goes to a caller's FILE or
 * buffer, errors to err.
 */
#ifndef IPW_OPTABLE_H
#define IPW_OPTABLE_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

enum opt_kind {
	OPT_FLAG,    /* no argument: sets the int at offset to 1 (JSON: boolean) */
	OPT_UNFLAG,  /* no argument: sets the int at offset to 0, e.g. --no-host (JSON: boolean) */
	OPT_INT,     /* int, bounded by min/max (JSON: integer) */
	OPT_LL,      /* long long, bounded (JSON: integer) */
	OPT_ULL,     /* unsigned long long, written as a signed integer like --seed (JSON: integer) */
	OPT_DOUBLE,  /* finite double, bounded (JSON: real) */
	OPT_STRING,  /* const char *: points into argv, or into a struct opt_keep (JSON: string or null) */
	OPT_LIST,    /* a comma-separated list, kept as one const char * like OPT_STRING */
};

/* opt_def.flags */
#define OPT_RECORD   0x1u /* written in the run's configuration and restored on resume */
#define OPT_MIN_OPEN 0x2u /* the value must be > min (default >= min) */
#define OPT_BOUNDED  0x4u /* check min/max (numbers only) */
#define OPT_SHOW     0x8u /* appears in the printed configuration line though not recorded */
#define OPT_NOFIELD ((size_t)-1) /* no field: the command handles the option itself (hooks.parse) */

/* Strings an options struct points to after a restore; opt_keep_release frees them. */
struct opt_keep {
	char **v;
	size_t n;
};
void opt_keep_init(struct opt_keep *k);
void opt_keep_release(struct opt_keep *k);
/* Keeps a copy of s (NULL stays NULL); returns the copy, owned by k. */
const char *opt_keep_add(struct opt_keep *k, const char *s);

struct opt_def;
/*
 * Optional per-option behaviour; a NULL hook means the kind's default. target
 * is the options struct the table's offsets point into.
 */
struct opt_hooks {
	/* parses arg into target; 0, or -1 with err ("takes seconds > 0") */
	int (*parse)(const struct opt_def *d, void *target, const char *arg, char *err, size_t errlen);
	/* the recorded JSON value (new reference) */
	json_t *(*to_json)(const struct opt_def *d, const void *target);
	/* restores from a recorded value; strings copied into keep. 0, or -1 with err */
	int (*from_json)(const struct opt_def *d, void *target, json_t *v, struct opt_keep *keep, char *err,
			 size_t errlen);
	/* the value as printed in a configuration line */
	void (*format)(const struct opt_def *d, const void *target, char *out, size_t n);
	/* 0: leave the option out of the recorded JSON this time (e.g. load-only keys) */
	int (*record_if)(const void *target);
	/* the help text when it is computed (e.g. from a registry), written into buf; returns buf */
	const char *(*help)(const struct opt_def *d, char *buf, size_t n);
};

struct opt_def {
	const char *name;        /* long name without "--" */
	int short_name;          /* a letter, or 0 */
	enum opt_kind kind;
	size_t offset;           /* of the value in the target struct, or OPT_NOFIELD */
	const char *metavar;     /* "N", "S", "URL" in the usage text (NULL for flags) */
	const char *help;        /* one line or several separated by '\n' */
	const char *section;     /* a usage heading printed before this option, or NULL */
	double min, max;         /* bounds when flags has OPT_BOUNDED */
	unsigned flags;
	const char *key;         /* JSON key in the recorded configuration; "sampling.top_k" nests */
	const char *want;        /* what the argument must be, for errors: "seconds > 0" */
	const struct opt_hooks *hooks; /* NULL: all defaults */
};

/* opt_parse results */
#define OPT_PARSED 0
#define OPT_HELP 1     /* -h or --help was given: print the usage, exit 0 */
#define OPT_BAD (-1)   /* err says what; the command exits EXIT_USAGE */

/*
 * Parses argv[1..] with getopt_long against defs (n entries) into target.
 * -h/--help are always understood. On OPT_PARSED *first_arg is the index of
 * the first operand. If given is not NULL it has n entries, set to 1 for each
 * option that appeared. err is "--timeout takes seconds > 0 (got 'x')".
 */
int opt_parse(const struct opt_def *defs, size_t n, void *target, int argc, char **argv, int *first_arg,
	      unsigned char *given, char *err, size_t errlen);

/* Writes the option lines of the usage text (sections, names, metavars, help). */
void opt_usage(FILE *f, const struct opt_def *defs, size_t n);

/* Finds an option by long name; NULL if none. */
const struct opt_def *opt_find(const struct opt_def *defs, size_t n, const char *name);

/* The option's value as text (default format, or hooks->format). */
void opt_format(const struct opt_def *d, const void *target, char *out, size_t n);

/*
 * Appends " key=value" to buf for each recorded (or OPT_SHOW) option, in
 * table order; key is the option's name with '_' for '-', value as
 * opt_format writes it (a flag: true/false as its name reads). Returns buf.
 */
char *opt_config_line(const struct opt_def *defs, size_t n, const void *target, char *buf, size_t len);

/* Adds every recorded option (those whose record_if agrees) to the JSON object c. */
void opt_record(const struct opt_def *defs, size_t n, const void *target, json_t *c);

/*
 * Restores every recorded option present in c into target (strings copied
 * into keep). If restored is not NULL (n entries) it is set to 1 for each one
 * restored. 0, or -1 with err naming the key whose value has the wrong type.
 */
int opt_restore(const struct opt_def *defs, size_t n, void *target, json_t *c, struct opt_keep *keep,
		unsigned char *restored, char *err, size_t errlen);

/* The JSON value at a dotted key ("sampling.top_k") of c, or NULL (borrowed). */
json_t *opt_json_get(json_t *c, const char *key);

#endif
