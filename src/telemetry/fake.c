/*
 * telemetry/fake.c - the fake back-end: synthetic power profiles
 * (IPW_FAKE_PROFILE) with NVML-like stepping energy counters, or a recorded
 * trace (IPW_FAKE_TRACE) replayed in real time. It drives the tests of the
 * timelines, the commands and the runner; docs/fake-backend.md is its manual.
 */
#include "fake.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../clock.h"
#include "../telemetry_backend.h"

enum wave_kind { WAVE_CONST, WAVE_SQUARE, WAVE_SINE, WAVE_RAMP, WAVE_SEQ };

/* A power waveform P(t), t in seconds since probe; P(t) = P(0) before 0 is never asked. */
struct wave {
	enum wave_kind kind;
	double a, b, c;  /* const: a W; square: lo a, hi b, period c; sine: mean a, amp b, period c;
			    ramp: from a to b over c s, then b */
	double *seq;     /* seq: w0 d0 w1 d1 ... wn (nseq odd) */
	int nseq;
};

/* Trace columns of one source. */
enum { COL_ENERGY, COL_POWER, COL_TEMP, COL_MEM_USED, COL_MEM_TOTAL, NCOLS };
static const char *const col_names[NCOLS] = {"energy_j", "power_w", "temp_c", "mem_used_bytes",
					      "mem_total_bytes"};

struct fake_src {
	char name[48];          /* "gpu0", without the "fake:" prefix */
	enum source_kind kind;
	enum source_scope scope;
	struct wave wave;       /* profile only */
	double step_s;          /* counter update period; 0 = exact at read; NAN = unknown */
	int counter;            /* has an energy counter */
	enum power_kind power;
	double temp_c, mem_used, mem_total, limit_w, wrap_j, start_j, res_j;
	char model[128], uuid[96], pci[32];
	int col[NCOLS];         /* trace column per field, -1 = none */
	int64_t prev_t;         /* POWER_INTERVAL: previous read (ns), 0 = none */
	double *et, *eu;        /* trace: times and unwrapped energies of lines with an energy cell */
	int ne;
};

struct fake {
	int64_t origin_ns;
	int is_trace;
	int64_t read_ns;        /* how long one read takes (read_ms) */
	struct fake_src *src;
	int n;
	/* trace */
	char path[256];
	double *tline;          /* t_s of each data line */
	double *cells;          /* nlines x ncols, NAN = not measured */
	int nlines, ncols;
};

/* ---- waveforms ---- */

static double wave_power(const struct wave *w, double t)
{
	if (t < 0)
		t = 0;
	switch (w->kind) {
	case WAVE_CONST:
		return w->a;
	case WAVE_SQUARE:
		return fmod(t, w->c) < w->c / 2 ? w->a : w->b;
	case WAVE_SINE:
		return w->a + w->b * sin(2 * M_PI * t / w->c);
	case WAVE_RAMP:
		return t >= w->c ? w->b : w->a + (w->b - w->a) * t / w->c;
	case WAVE_SEQ: {
		int i = 0;
		while (i + 1 < w->nseq && t >= w->seq[i + 1]) {
			t -= w->seq[i + 1];
			i += 2;
		}
		return w->seq[i];
	}
	}
	return NAN;
}

/* The integral of P over [0, t] (0 for t <= 0). */
static double wave_energy(const struct wave *w, double t)
{
	if (t <= 0)
		return 0;
	switch (w->kind) {
	case WAVE_CONST:
		return w->a * t;
	case WAVE_SQUARE: {
		double n = floor(t / w->c), r = t - n * w->c, half = w->c / 2;
		double e = n * w->c * (w->a + w->b) / 2;
		return e + (r < half ? w->a * r : w->a * half + w->b * (r - half));
	}
	case WAVE_SINE:
		return w->a * t + w->b * w->c / (2 * M_PI) * (1 - cos(2 * M_PI * t / w->c));
	case WAVE_RAMP:
		if (t <= w->c)
			return w->a * t + (w->b - w->a) * t * t / (2 * w->c);
		return (w->a + w->b) * w->c / 2 + w->b * (t - w->c);
	case WAVE_SEQ: {
		double e = 0;
		int i = 0;
		while (i + 1 < w->nseq && t >= w->seq[i + 1]) {
			e += w->seq[i] * w->seq[i + 1];
			t -= w->seq[i + 1];
			i += 2;
		}
		return e + w->seq[i] * t;
	}
	}
	return NAN;
}

static void wave_describe(const struct wave *w, char *out, size_t outlen)
{
	switch (w->kind) {
	case WAVE_CONST:
		snprintf(out, outlen, "constant %g W", w->a);
		break;
	case WAVE_SQUARE:
		snprintf(out, outlen, "square %g/%g W, period %g s", w->a, w->b, w->c);
		break;
	case WAVE_SINE:
		snprintf(out, outlen, "sine %g +- %g W, period %g s", w->a, w->b, w->c);
		break;
	case WAVE_RAMP:
		snprintf(out, outlen, "ramp %g -> %g W over %g s", w->a, w->b, w->c);
		break;
	case WAVE_SEQ:
		snprintf(out, outlen, "sequence of %d levels", w->nseq / 2 + 1);
		break;
	}
}

/* ---- parsing helpers ---- */

static int parse_num(const char *s, double *out)
{
	char *end;
	double v;
	if (!*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

/* A byte count: a number with an optional k, M, G, T (powers of 1000) or Ki, Mi, Gi, Ti suffix. */
static int parse_bytes(const char *s, double *out)
{
	static const char *const suf[] = {"k", "M", "G", "T", "Ki", "Mi", "Gi", "Ti"};
	static const double mul[] = {1e3, 1e6, 1e9, 1e12, 1024.0, 1048576.0, 1073741824.0, 1099511627776.0};
	char *end;
	double v;
	if (!*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -1;
	if (!*end) {
		*out = v;
		return 0;
	}
	for (size_t i = 0; i < sizeof(suf) / sizeof(suf[0]); i++) {
		size_t n = strlen(suf[i]);
		if (!strncmp(end, suf[i], n) && (!end[n] || !strcmp(end + n, "B"))) {
			*out = v * mul[i];
			return 0;
		}
	}
	return -1;
}

static int valid_name(const char *s)
{
	if (!islower((unsigned char)*s) || strlen(s) >= 40)
		return 0;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_' && *s != '-')
			return 0;
	return 1;
}

/* Kind and scope follow the name: gpu* accelerator; host*, cpu*, package*, dram* host; core*, psys none. */
static void kind_from_name(struct fake_src *s)
{
	const char *n = s->name;
	if (!strncmp(n, "gpu", 3)) {
		s->kind = SOURCE_GPU;
		s->scope = SCOPE_ACCELERATOR;
	} else if (!strncmp(n, "host", 4) || !strncmp(n, "cpu", 3) || !strncmp(n, "package", 7)) {
		s->kind = SOURCE_CPU_PACKAGE;
		s->scope = SCOPE_HOST;
	} else if (!strncmp(n, "dram", 4)) {
		s->kind = SOURCE_DRAM;
		s->scope = SCOPE_HOST;
	} else if (!strncmp(n, "core", 4)) {
		s->kind = SOURCE_CPU_CORE;
		s->scope = SCOPE_NONE;
	} else if (!strncmp(n, "psys", 4)) {
		s->kind = SOURCE_PSYS;
		s->scope = SCOPE_NONE;
	} else {
		s->kind = SOURCE_OTHER;
		s->scope = SCOPE_NONE;
	}
}

static void src_defaults(struct fake_src *s, const char *name, int is_trace)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	kind_from_name(s);
	s->step_s = is_trace ? NAN : 0.1;
	s->counter = 1;
	s->power = s->kind == SOURCE_GPU ? POWER_INSTANT : POWER_NONE;
	s->temp_c = s->mem_used = s->mem_total = s->limit_w = NAN;
	for (int c = 0; c < NCOLS; c++)
		s->col[c] = -1;
}

/* seq:W:S:W:...:W, the fields after "seq" being f[1..n-1]. */
static int parse_seq(char **f, int n, struct wave *w, char *err, size_t errlen)
{
	w->kind = WAVE_SEQ;
	if (n < 2 || (n - 1) % 2 != 1)
		return err_set(err, errlen, "seq needs W:S:W:...:W (levels in watts, each but the last "
			       "followed by its duration in seconds)");
	w->nseq = n - 1;
	w->seq = xcalloc((size_t)w->nseq, sizeof(double));
	for (int i = 0; i < w->nseq; i++)
		if (parse_num(f[i + 1], &w->seq[i]) < 0 || w->seq[i] < 0 || (i % 2 == 1 && w->seq[i] <= 0))
			return err_set(err, errlen, "seq: '%s' is not a %s", f[i + 1],
				       i % 2 ? "duration > 0 s" : "power >= 0 W");
	return 0;
}

/* Whether a const, square, sine or ramp wave stays at >= 0 W with periods/durations > 0 s. */
static int wave_sane(const struct wave *w)
{
	switch (w->kind) {
	case WAVE_CONST:
		return w->a >= 0;
	case WAVE_SQUARE:
	case WAVE_RAMP:
		return w->a >= 0 && w->b >= 0 && w->c > 0;
	case WAVE_SINE:
		return w->a >= fabs(w->b) && w->c > 0;
	default:
		return 1;
	}
}

/* const:W, square:LO:HI:PERIOD, sine:MEAN:AMP:PERIOD or ramp:FROM:TO:SECONDS, split into f[0..n-1]. */
static int parse_shape(const char *spec, char **f, int n, struct wave *w, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		enum wave_kind kind;
		int nargs;
		const char *usage;
	} kinds[] = {
		{"const", WAVE_CONST, 1, "const:W"},
		{"square", WAVE_SQUARE, 3, "square:LO_W:HI_W:PERIOD_S"},
		{"sine", WAVE_SINE, 3, "sine:MEAN_W:AMPLITUDE_W:PERIOD_S"},
		{"ramp", WAVE_RAMP, 3, "ramp:FROM_W:TO_W:SECONDS"},
	};
	double v[3] = {0, 0, 0};
	size_t k;
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		if (!strcmp(f[0], kinds[k].name))
			break;
	if (k == sizeof(kinds) / sizeof(kinds[0]))
		return err_set(err, errlen, "unknown waveform '%s' (use const, square, sine, ramp or seq)", f[0]);
	w->kind = kinds[k].kind;
	if (n - 1 != kinds[k].nargs)
		return err_set(err, errlen, "'%s' needs %s", spec, kinds[k].usage);
	for (int i = 0; i < kinds[k].nargs; i++)
		if (parse_num(f[i + 1], &v[i]) < 0)
			return err_set(err, errlen, "'%s': '%s' is not a number (%s)", spec, f[i + 1],
				       kinds[k].usage);
	w->a = v[0];
	w->b = kinds[k].nargs > 1 ? v[1] : 0;
	w->c = kinds[k].nargs > 2 ? v[2] : 0;
	if (!wave_sane(w))
		return err_set(err, errlen, "'%s': power must stay >= 0 W and periods/durations be > 0 s", spec);
	return 0;
}

static int parse_wave(const char *spec, struct wave *w, char *err, size_t errlen)
{
	int n, rc = -1;
	char **f = split_list(spec, ':', &n);
	memset(w, 0, sizeof(*w));
	if (n < 1)
		err_set(err, errlen, "empty waveform (use const:W, square:LO:HI:PERIOD_S, sine:MEAN:AMP:PERIOD_S, "
			"ramp:FROM:TO:SECONDS or seq:W:S:W:...:W)");
	else if (!strcmp(f[0], "seq"))
		rc = parse_seq(f, n, w, err, errlen);
	else
		rc = parse_shape(spec, f, n, w, err, errlen);
	if (rc < 0) {
		free(w->seq);
		w->seq = NULL;
	}
	free_list(f);
	return rc;
}

/* How one source setting KEY=VAL is read (apply_key). */
enum key_type { KEY_NUM, KEY_BYTES, KEY_TEXT, KEY_COUNTER, KEY_POWER };
enum key_range { RANGE_ANY, RANGE_NONNEG, RANGE_POS };

struct key_spec {
	const char *key;
	enum key_type type;
	size_t off, size;       /* the field in struct fake_src (size: KEY_TEXT only) */
	double div;             /* KEY_NUM: the field is VAL / div */
	enum key_range range;   /* KEY_NUM */
	int profile_only;       /* a trace gives this in its columns */
	const char *expect;     /* "KEY=VAL: expected ..." */
};

#define NUM(k, f, d, r, p, e) {k, KEY_NUM, offsetof(struct fake_src, f), 0, d, r, p, e}
#define BYTES(k, f, p, e) {k, KEY_BYTES, offsetof(struct fake_src, f), 0, 1, RANGE_ANY, p, e}
#define TEXT(k, f) {k, KEY_TEXT, offsetof(struct fake_src, f), sizeof(((struct fake_src *)0)->f), 1, RANGE_ANY, 0, ""}
static const struct key_spec src_keys[] = {
	NUM("step_ms", step_s, 1000, RANGE_NONNEG, 0, "milliseconds >= 0"),
	{"counter", KEY_COUNTER, 0, 0, 1, RANGE_ANY, 0, "yes or no"},
	{"power", KEY_POWER, 0, 0, 1, RANGE_ANY, 0, "instant, average, interval or none"},
	NUM("limit", limit_w, 1, RANGE_POS, 0, "watts > 0"),
	NUM("wrap_j", wrap_j, 1, RANGE_NONNEG, 0, "joules >= 0 (0 = never wraps)"),
	BYTES("mem_total", mem_total, 0, "bytes (e.g. 80Gi)"),
	TEXT("model", model),
	TEXT("uuid", uuid),
	TEXT("pci", pci),
	NUM("temp", temp_c, 1, RANGE_ANY, 1, "degrees Celsius"),
	BYTES("mem", mem_used, 1, "bytes (e.g. 12Gi)"),
	NUM("start_j", start_j, 1, RANGE_NONNEG, 1, "joules >= 0"),
	NUM("res_j", res_j, 1, RANGE_NONNEG, 1, "joules >= 0"),
};
#undef NUM
#undef BYTES
#undef TEXT

static const struct key_spec *find_key(const char *key)
{
	for (size_t i = 0; i < sizeof(src_keys) / sizeof(src_keys[0]); i++)
		if (!strcmp(key, src_keys[i].key))
			return &src_keys[i];
	return NULL;
}

static int in_range(double v, enum key_range r)
{
	return r == RANGE_ANY || (r == RANGE_NONNEG && v >= 0) || (r == RANGE_POS && v > 0);
}

static int parse_power_kind(const char *val, enum power_kind *out)
{
	static const struct {
		const char *name;
		enum power_kind kind;
	} kinds[] = {{"instant", POWER_INSTANT}, {"average", POWER_AVERAGE}, {"interval", POWER_INTERVAL},
		     {"none", POWER_NONE}};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(val, kinds[i].name)) {
			*out = kinds[i].kind;
			return 0;
		}
	return -1;
}

/* Sets the field k describes from val; -1 when val does not fit it. */
static int set_field(struct fake_src *s, const struct key_spec *k, const char *val)
{
	char *field = (char *)s + k->off;
	double v;
	switch (k->type) {
	case KEY_NUM:
		if (parse_num(val, &v) < 0 || !in_range(v, k->range))
			return -1;
		*(double *)field = v / k->div;
		return 0;
	case KEY_BYTES:
		return parse_bytes(val, (double *)field);
	case KEY_TEXT:
		snprintf(field, k->size, "%s", val);
		return 0;
	case KEY_COUNTER:
		if (!strcmp(val, "yes") || !strcmp(val, "1"))
			s->counter = 1;
		else if (!strcmp(val, "no") || !strcmp(val, "0"))
			s->counter = 0;
		else
			return -1;
		return 0;
	case KEY_POWER:
		return parse_power_kind(val, &s->power);
	}
	return -1;
}

/*
 * Applies one setting KEY=VAL to a source (s != NULL) or, for read_ms, to the
 * back-end. Returns 0, or -1 with the reason in err.
 */
static int apply_key(struct fake *f, struct fake_src *s, const char *key, const char *val, int is_trace,
		     char *err, size_t errlen)
{
	const struct key_spec *k;
	double v;
	if (!strcmp(key, "read_ms")) {
		if (s)
			return err_set(err, errlen, "read_ms applies to the whole back-end, not to one source");
		if (parse_num(val, &v) < 0 || v < 0 || v > 10000)
			return err_set(err, errlen, "read_ms=%s: expected milliseconds in [0, 10000]", val);
		f->read_ns = (int64_t)(v * 1e6);
		return 0;
	}
	if (!s)
		return 0;
	if (!(k = find_key(key)))
		return err_set(err, errlen, "unknown setting '%s' (see docs/fake-backend.md)", key);
	if (is_trace && k->profile_only)
		return err_set(err, errlen, "%s= is for profiles; a trace gives values in its columns", key);
	if (set_field(s, k, val) < 0)
		return err_set(err, errlen, "%s=%s: expected %s", key, val, k->expect);
	return 0;
}

/* Settings that a global KEY=VAL gives only to accelerator sources. */
static int accel_only(const char *key)
{
	return !strcmp(key, "temp") || !strcmp(key, "mem") || !strcmp(key, "mem_total") || !strcmp(key, "limit");
}

static int is_setting(const char *key)
{
	return !strcmp(key, "read_ms") || find_key(key);
}

static int find_src(struct fake *f, const char *name)
{
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->src[i].name, name))
			return i;
	return -1;
}

/*
 * Applies settings "KEY=VAL" and "SOURCE.KEY=VAL" (items[i], from `where`):
 * global ones first, then per-source ones, so the order in the spec does not
 * matter and a per-source setting always wins.
 */
static int apply_settings(struct fake *f, char **items, int nitems, int is_trace, const char *where,
			  char *err, size_t errlen)
{
	char e[IPW_ERRLEN];
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < nitems; i++) {
			char *eq = strchr(items[i], '='), *dot, key[64], val[256];
			size_t kl;
			if (!eq)
				continue;
			kl = (size_t)(eq - items[i]);
			if (kl >= sizeof(key))
				kl = sizeof(key) - 1;
			memcpy(key, items[i], kl);
			key[kl] = 0;
			snprintf(val, sizeof(val), "%s", eq + 1);
			dot = strchr(key, '.');
			if (!dot && !is_setting(key))
				continue; /* a source definition */
			if (pass == 0 && !dot) {
				if (apply_key(f, NULL, key, val, is_trace, e, sizeof(e)) < 0)
					return err_set(err, errlen, "%s: %s", where, e);
				for (int s = 0; s < f->n && strcmp(key, "read_ms"); s++) {
					if (accel_only(key) && f->src[s].scope != SCOPE_ACCELERATOR)
						continue;
					if (apply_key(f, &f->src[s], key, val, is_trace, e, sizeof(e)) < 0)
						return err_set(err, errlen, "%s: %s", where, e);
				}
			} else if (pass == 1 && dot) {
				int s;
				*dot = 0;
				s = find_src(f, key);
				if (s < 0)
					return err_set(err, errlen, "%s: '%s' names no source '%s'", where, items[i], key);
				if (apply_key(f, &f->src[s], dot + 1, val, is_trace, e, sizeof(e)) < 0)
					return err_set(err, errlen, "%s: %s: %s", where, key, e);
			}
		}
	return 0;
}

static struct fake_src *add_src(struct fake *f, const char *name, int is_trace)
{
	f->src = xrealloc(f->src, (size_t)(f->n + 1) * sizeof(*f->src));
	src_defaults(&f->src[f->n], name, is_trace);
	return &f->src[f->n++];
}

static void fake_free(struct fake *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->n; i++) {
		free(f->src[i].wave.seq);
		free(f->src[i].et);
		free(f->src[i].eu);
	}
	free(f->src);
	free(f->tline);
	free(f->cells);
	free(f);
}

/* ---- profiles ---- */

static int parse_profile(struct fake *f, const char *spec, const char *where, char *err, size_t errlen)
{
	char **items = NULL, *s = xstrdup(spec), e[IPW_ERRLEN];
	int n, rc = -1;
	for (char *p = s; *p; p++)
		if (*p == ';')
			*p = ',';
	items = split_list(s, ',', &n);
	for (int i = 0; i < n; i++) {
		char *eq = strchr(items[i], '='), name[64];
		size_t kl;
		struct fake_src *src;
		if (!eq) {
			err_set(err, errlen, "%s: '%s' is not NAME=WAVEFORM or KEY=VALUE", where, items[i]);
			goto out;
		}
		kl = (size_t)(eq - items[i]);
		if (kl >= sizeof(name))
			kl = sizeof(name) - 1;
		memcpy(name, items[i], kl);
		name[kl] = 0;
		if (strchr(name, '.') || is_setting(name))
			continue;
		if (!valid_name(name)) {
			err_set(err, errlen, "%s: '%s' is not a source name (lower-case letters, digits, '_' "
				"or '-', starting with a letter, e.g. gpu0, host) nor a known setting", where, name);
			goto out;
		}
		if (find_src(f, name) >= 0) {
			err_set(err, errlen, "%s: source '%s' defined twice", where, name);
			goto out;
		}
		src = add_src(f, name, 0);
		if (parse_wave(eq + 1, &src->wave, e, sizeof(e)) < 0) {
			err_set(err, errlen, "%s: %s: %s", where, name, e);
			goto out;
		}
	}
	if (!f->n) {
		err_set(err, errlen, "%s: no source defined (e.g. gpu0=const:200)", where);
		goto out;
	}
	rc = apply_settings(f, items, n, 0, where, err, errlen);
out:
	free_list(items);
	free(s);
	return rc;
}

/* ---- traces ---- */

static int is_missing(const char *tok)
{
	return !strcmp(tok, "-") || !strcasecmp(tok, "nan");
}

/* Splits a line in place on blanks; returns the number of tokens (at most max). */
static int tokenize(char *line, char **tok, int max)
{
	int n = 0;
	char *save = NULL;
	for (char *p = strtok_r(line, " \t\r", &save); p; p = strtok_r(NULL, " \t\r", &save)) {
		if (n == max)
			return max + 1;
		tok[n++] = p;
	}
	return n;
}

static int parse_header(struct fake *f, char **tok, int ntok, char *err, size_t errlen, const char *where)
{
	f->ncols = ntok - 1;
	for (int c = 1; c < ntok; c++) {
		char *dot = strrchr(tok[c], '.');
		int field, s;
		if (!dot)
			return err_set(err, errlen, "%s: column '%s' is not SOURCE.FIELD (e.g. gpu0.energy_j)",
				       where, tok[c]);
		*dot = 0;
		for (field = 0; field < NCOLS; field++)
			if (!strcmp(dot + 1, col_names[field]))
				break;
		if (field == NCOLS)
			return err_set(err, errlen, "%s: column '%s.%s': unknown field (use energy_j, power_w, "
				       "temp_c, mem_used_bytes or mem_total_bytes)", where, tok[c], dot + 1);
		if (!valid_name(tok[c]))
			return err_set(err, errlen, "%s: column '%s.%s': bad source name", where, tok[c], dot + 1);
		s = find_src(f, tok[c]);
		if (s < 0) {
			add_src(f, tok[c], 1);
			s = f->n - 1;
		}
		if (f->src[s].col[field] >= 0)
			return err_set(err, errlen, "%s: column '%s.%s' appears twice", where, tok[c], dot + 1);
		f->src[s].col[field] = c - 1;
	}
	if (!f->n)
		return err_set(err, errlen, "%s: the header names no column after t_s", where);
	return 0;
}

/* Precomputes a source's unwrapped energy points for fake_exact_energy_j. */
static void trace_energy_points(struct fake *f, struct fake_src *s)
{
	double prev = NAN, offset = 0, prevu = 0;
	if (s->col[COL_ENERGY] < 0)
		return;
	s->et = xcalloc((size_t)f->nlines, sizeof(double));
	s->eu = xcalloc((size_t)f->nlines, sizeof(double));
	for (int i = 0; i < f->nlines; i++) {
		double v = f->cells[(size_t)i * (size_t)f->ncols + (size_t)s->col[COL_ENERGY]];
		if (isnan(v))
			continue;
		if (!isnan(prev) && v < prev)
			offset = s->wrap_j > 0 ? offset + s->wrap_j : prevu - v;
		prev = v;
		prevu = v + offset;
		s->et[s->ne] = f->tline[i];
		s->eu[s->ne] = prevu;
		s->ne++;
	}
}

/* A line before the header: a setting KEY=VALUE (kept in *opts) or the header itself. */
static int parse_preamble(struct fake *f, char **tok, int ntok, char ***opts, int *nopts, int *have_header,
			  const char *where, char *err, size_t errlen)
{
	if (!strcmp(tok[0], "t_s")) {
		if (parse_header(f, tok, ntok, err, errlen, where) < 0)
			return -1;
		*have_header = 1;
		return 0;
	}
	if (ntok == 1 && strchr(tok[0], '=')) {
		*opts = xrealloc(*opts, (size_t)(*nopts + 2) * sizeof(**opts));
		(*opts)[(*nopts)++] = xstrdup(tok[0]);
		(*opts)[*nopts] = NULL;
		return 0;
	}
	return err_set(err, errlen, "%s: expected a setting KEY=VALUE or the header line "
		       "'t_s SOURCE.FIELD ...' (see docs/fake-backend.md)", where);
}

/* A data line: t_s and one value (or '-') per column, appended to f->tline and f->cells. */
static int parse_data_line(struct fake *f, char **tok, int ntok, size_t *cap, const char *where, char *err,
			   size_t errlen)
{
	double *t;
	if (ntok != f->ncols + 1)
		return err_set(err, errlen, "%s: expected %d values (t_s and %d columns), found %d", where,
			       f->ncols + 1, f->ncols, ntok);
	if ((size_t)f->nlines == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		f->tline = xrealloc(f->tline, *cap * sizeof(double));
		f->cells = xrealloc(f->cells, *cap * (size_t)f->ncols * sizeof(double));
	}
	t = &f->tline[f->nlines];
	if (parse_num(tok[0], t) < 0 || *t < 0)
		return err_set(err, errlen, "%s: t_s '%s' is not a time >= 0 in seconds", where, tok[0]);
	if (f->nlines && *t < f->tline[f->nlines - 1])
		return err_set(err, errlen, "%s: t_s %s goes back in time (previous line has %g)", where, tok[0],
			       f->tline[f->nlines - 1]);
	for (int c = 0; c < f->ncols; c++) {
		double *cell = &f->cells[(size_t)f->nlines * (size_t)f->ncols + (size_t)c];
		if (is_missing(tok[c + 1]))
			*cell = NAN;
		else if (parse_num(tok[c + 1], cell) < 0)
			return err_set(err, errlen, "%s: column %d: '%s' is not a number (use - for not measured)",
				       where, c + 2, tok[c + 1]);
	}
	f->nlines++;
	return 0;
}

/*
 * After the lines: capabilities follow the columns, the trace's settings may
 * then narrow them, and what is left must have its column.
 */
static int finish_trace(struct fake *f, char **opts, int nopts, const char *path, char *err, size_t errlen)
{
	char where[300];
	for (int s = 0; s < f->n; s++) {
		struct fake_src *src = &f->src[s];
		src->counter = src->col[COL_ENERGY] >= 0;
		src->power = src->col[COL_POWER] >= 0 ? POWER_INSTANT : POWER_NONE;
	}
	snprintf(where, sizeof(where), "fake trace %s", path);
	if (apply_settings(f, opts, nopts, 1, where, err, errlen) < 0)
		return -1;
	for (int s = 0; s < f->n; s++) {
		struct fake_src *src = &f->src[s];
		if (src->counter && src->col[COL_ENERGY] < 0)
			return err_set(err, errlen, "%s: %s: counter=yes but there is no %s.energy_j column", where,
				       src->name, src->name);
		if (src->power != POWER_NONE && src->col[COL_POWER] < 0)
			return err_set(err, errlen, "%s: %s: power=%s but there is no %s.power_w column", where,
				       src->name, power_kind_name(src->power), src->name);
		trace_energy_points(f, src);
	}
	return 0;
}

static int parse_trace(struct fake *f, const char *path, char *err, size_t errlen)
{
	char *text = NULL, *line, *save = NULL, **opts = NULL, *tok[260], e[IPW_ERRLEN], where[300];
	int nopts = 0, lineno = 0, have_header = 0, rc = -1;
	size_t cap = 0;
	snprintf(f->path, sizeof(f->path), "%s", path);
	if (read_file(path, &text, NULL, e, sizeof(e)) < 0) {
		err_set(err, errlen, "fake trace: %s (check IPW_FAKE_TRACE / --fake-trace)", e);
		goto out;
	}
	/* strtok_r would merge empty lines and lose line numbers: walk by hand */
	for (line = text; line; line = save) {
		char *nl = strchr(line, '\n'), *hash;
		int ntok, lrc;
		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = 0;
		lineno++;
		if ((hash = strchr(line, '#')))
			*hash = 0;
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		ntok = tokenize(line, tok, 256);
		if (ntok == 0)
			continue;
		if (ntok > 256) {
			err_set(err, errlen, "%s: too many columns (at most 255 after t_s)", where);
			goto out;
		}
		if (!have_header)
			lrc = parse_preamble(f, tok, ntok, &opts, &nopts, &have_header, where, err, errlen);
		else
			lrc = parse_data_line(f, tok, ntok, &cap, where, err, errlen);
		if (lrc < 0)
			goto out;
	}
	if (!have_header) {
		err_set(err, errlen, "fake trace %s: no header line 't_s SOURCE.FIELD ...'", path);
		goto out;
	}
	if (!f->nlines) {
		err_set(err, errlen, "fake trace %s: no data lines after the header", path);
		goto out;
	}
	rc = finish_trace(f, opts, nopts, path, err, errlen);
out:
	free_list(opts);
	free(text);
	return rc;
}

/* ---- the back-end ---- */

static void fill_info(struct fake *f, struct backend_instance *inst)
{
	int gpu = 0;
	inst->sources = xcalloc((size_t)f->n, sizeof(*inst->sources));
	inst->nsources = f->n;
	for (int i = 0; i < f->n; i++) {
		struct fake_src *s = &f->src[i];
		struct source_info *in = &inst->sources[i];
		char desc[96];
		snprintf(in->name, sizeof(in->name), "fake:%s", s->name);
		snprintf(in->backend, sizeof(in->backend), "fake");
		in->kind = s->kind;
		in->scope = s->scope;
		in->caps = (s->counter ? CAP_ENERGY : 0) | (s->power != POWER_NONE ? CAP_POWER : 0);
		if (f->is_trace) {
			if (s->col[COL_TEMP] >= 0)
				in->caps |= CAP_TEMPERATURE;
			if (s->col[COL_MEM_USED] >= 0)
				in->caps |= CAP_MEMORY;
		} else {
			if (!isnan(s->temp_c))
				in->caps |= CAP_TEMPERATURE;
			if (!isnan(s->mem_used))
				in->caps |= CAP_MEMORY;
		}
		in->power_kind = s->power;
		in->index = s->kind == SOURCE_GPU ? gpu : i;
		if (s->model[0])
			snprintf(in->model, sizeof(in->model), "%s", s->model);
		else if (s->kind == SOURCE_GPU)
			snprintf(in->model, sizeof(in->model), "Fake GPU");
		else
			snprintf(in->model, sizeof(in->model), "fake %s", s->name);
		if (s->kind == SOURCE_GPU) {
			if (s->uuid[0])
				snprintf(in->uuid, sizeof(in->uuid), "%s", s->uuid);
			else
				snprintf(in->uuid, sizeof(in->uuid), "GPU-fake-0000-0000-0000-%012d", gpu);
			if (s->pci[0])
				snprintf(in->pci_bus_id, sizeof(in->pci_bus_id), "%s", s->pci);
			else
				snprintf(in->pci_bus_id, sizeof(in->pci_bus_id), "00000000:%02X:00.0",
					 (unsigned)(0x10 + gpu) & 0xff);
			gpu++;
		}
		snprintf(in->driver, sizeof(in->driver), "ipw-fake %s", IPW_VERSION);
		in->power_limit_w = s->limit_w;
		in->mem_total_bytes = s->mem_total;
		in->energy_wrap_j = s->wrap_j;
		in->counter_update_s = s->counter ? s->step_s : NAN;
		if (f->is_trace)
			snprintf(in->notes, sizeof(in->notes), "replayed from %.200s", f->path);
		else {
			wave_describe(&s->wave, desc, sizeof(desc));
			if (s->counter && s->step_s > 0)
				snprintf(in->notes, sizeof(in->notes), "synthetic: %s; counter steps every %g ms", desc,
					 s->step_s * 1000);
			else
				snprintf(in->notes, sizeof(in->notes), "synthetic: %s", desc);
		}
	}
}

static int probe(struct backend_instance *inst, const struct telemetry_opts *opts, char *err, size_t errlen)
{
	const char *trace = opts ? opts->fake_trace : NULL, *profile = opts ? opts->fake_profile : NULL;
	const char *where = "fake profile";
	struct fake *f;
	int rc = -1;
	if (!trace && !profile) {
		trace = getenv("IPW_FAKE_TRACE");
		profile = getenv("IPW_FAKE_PROFILE");
		where = "IPW_FAKE_PROFILE";
		if (trace && !*trace)
			trace = NULL;
		if (profile && !*profile)
			profile = NULL;
	}
	if (!trace && !profile)
		return err_set(err, errlen, "no trace or profile given (set IPW_FAKE_TRACE=FILE or "
			       "IPW_FAKE_PROFILE=SPEC)");
	if (trace && profile)
		return err_set(err, errlen, "both a trace and a profile given: use one of IPW_FAKE_TRACE "
			       "(--fake-trace) and IPW_FAKE_PROFILE (--fake-profile)");
	f = xcalloc(1, sizeof(*f));
	f->is_trace = trace != NULL;
	if (trace ? parse_trace(f, trace, err, errlen) < 0 : parse_profile(f, profile, where, err, errlen) < 0)
		goto out;
	fill_info(f, inst);
	f->origin_ns = clock_now_ns();
	inst->priv = f;
	rc = 0;
out:
	if (rc < 0)
		fake_free(f);
	return rc;
}

/* The counter as a device would report it at t seconds since probe. */
static double profile_counter(const struct fake_src *s, double t)
{
	double ts = s->step_s > 0 ? floor(t / s->step_s) * s->step_s : t;
	double raw = s->start_j + wave_energy(&s->wave, ts);
	if (s->res_j > 0)
		raw = floor(raw / s->res_j) * s->res_j;
	if (s->wrap_j > 0)
		raw = fmod(raw, s->wrap_j);
	return raw;
}

static void read_profile(struct fake *f, struct fake_src *s, struct sample *out)
{
	double t = (double)(out->t_ns - f->origin_ns) / 1e9;
	if (s->counter) {
		out->energy_j = profile_counter(s, t);
		out->valid |= SAMPLE_ENERGY;
	}
	switch (s->power) {
	case POWER_INSTANT:
		out->power_w = wave_power(&s->wave, t);
		break;
	case POWER_AVERAGE: { /* a 1 s moving average, like NVML's PowerUsage */
		double w = t < 1 ? t : 1;
		out->power_w = w > 0 ? (wave_energy(&s->wave, t) - wave_energy(&s->wave, t - w)) / w
				     : wave_power(&s->wave, t);
		break;
	}
	case POWER_INTERVAL: {
		double t0 = (double)(s->prev_t - f->origin_ns) / 1e9;
		out->power_w = s->prev_t && t > t0 ? (wave_energy(&s->wave, t) - wave_energy(&s->wave, t0)) / (t - t0)
						   : wave_power(&s->wave, t);
		s->prev_t = out->t_ns;
		break;
	}
	case POWER_NONE:
		break;
	}
	if (s->power != POWER_NONE)
		out->valid |= SAMPLE_POWER;
	if (!isnan(s->temp_c)) {
		out->temp_c = s->temp_c;
		out->valid |= SAMPLE_TEMP;
	}
	if (!isnan(s->mem_used)) {
		out->mem_used_bytes = s->mem_used;
		out->valid |= SAMPLE_MEM_USED;
	}
	if (!isnan(s->mem_total)) {
		out->mem_total_bytes = s->mem_total;
		out->valid |= SAMPLE_MEM_TOTAL;
	}
}

/* Index of the last trace line with t_s <= t, or -1. */
static int trace_line(const struct fake *f, double t)
{
	int lo = 0, hi = f->nlines - 1;
	if (f->nlines == 0 || t < f->tline[0])
		return -1;
	while (lo < hi) {
		int mid = lo + (hi - lo + 1) / 2;
		if (f->tline[mid] <= t)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

static void read_trace(struct fake *f, struct fake_src *s, struct sample *out)
{
	static const unsigned bits[NCOLS] = {SAMPLE_ENERGY, SAMPLE_POWER, SAMPLE_TEMP, SAMPLE_MEM_USED,
					     SAMPLE_MEM_TOTAL};
	int line = trace_line(f, (double)(out->t_ns - f->origin_ns) / 1e9);
	if (line < 0)
		return;
	for (int c = 0; c < NCOLS; c++) {
		double v;
		if (s->col[c] < 0 || (c == COL_ENERGY && !s->counter) || (c == COL_POWER && s->power == POWER_NONE))
			continue;
		v = f->cells[(size_t)line * (size_t)f->ncols + (size_t)s->col[c]];
		if (isnan(v))
			continue;
		switch (c) {
		case COL_ENERGY: out->energy_j = v; break;
		case COL_POWER: out->power_w = v; break;
		case COL_TEMP: out->temp_c = v; break;
		case COL_MEM_USED: out->mem_used_bytes = v; break;
		case COL_MEM_TOTAL: out->mem_total_bytes = v; break;
		}
		out->valid |= bits[c];
	}
}

static int sample_read(struct backend_instance *inst, struct sample *out, char *err, size_t errlen)
{
	struct fake *f = inst->priv;
	int64_t t0, t1;
	(void)err;
	(void)errlen;
	t0 = clock_now_ns();
	if (f->read_ns > 0)
		clock_sleep_ns(f->read_ns);
	t1 = clock_now_ns();
	for (int i = 0; i < f->n; i++) {
		if (!inst->sources[i].selected)
			continue;
		/* the value is the device's at the stamped instant, the read's midpoint */
		sample_stamp(&out[i], t0, t1);
		if (f->is_trace)
			read_trace(f, &f->src[i], &out[i]);
		else
			read_profile(f, &f->src[i], &out[i]);
	}
	return 0;
}

static void release(struct backend_instance *inst)
{
	fake_free(inst->priv);
	inst->priv = NULL;
	free(inst->sources);
	inst->sources = NULL;
	inst->nsources = 0;
}

const struct telemetry_backend telemetry_fake = {
	.name = "fake",
	.description = "synthetic power profiles and recorded traces, for tests (IPW_FAKE_PROFILE, IPW_FAKE_TRACE)",
	.default_interval_ms = 20,
	.probe = probe,
	.read = sample_read,
	.release = release,
};

static const struct fake *fake_of(const struct backend_instance *inst)
{
	if (!inst || inst->ops != &telemetry_fake || !inst->present || !inst->priv)
		return NULL;
	return inst->priv;
}

/* A trace source's own account of its energy at t (s since probe): see fake.h. */
static double trace_energy_at(const struct fake *f, const struct fake_src *s, double t)
{
	if (s->ne) {
		int lo = 0, hi = s->ne - 1;
		if (t <= s->et[0])
			return s->eu[0];
		if (t >= s->et[s->ne - 1])
			return s->eu[s->ne - 1];
		while (lo < hi) { /* last point with et <= t */
			int mid = lo + (hi - lo + 1) / 2;
			if (s->et[mid] <= t)
				lo = mid;
			else
				hi = mid - 1;
		}
		if (s->et[lo + 1] == s->et[lo])
			return s->eu[lo + 1];
		return s->eu[lo] + (s->eu[lo + 1] - s->eu[lo]) * (t - s->et[lo]) / (s->et[lo + 1] - s->et[lo]);
	}
	if (s->col[COL_POWER] >= 0) {
		double e = 0, p = NAN;
		for (int i = 0; i < f->nlines && f->tline[i] < t; i++) {
			double v = f->cells[(size_t)i * (size_t)f->ncols + (size_t)s->col[COL_POWER]];
			double end = i + 1 < f->nlines && f->tline[i + 1] < t ? f->tline[i + 1] : t;
			if (!isnan(v))
				p = v; /* a missing cell holds the previous value */
			if (!isnan(p))
				e += p * (end - f->tline[i]);
		}
		return e;
	}
	return NAN;
}

double fake_exact_energy_j(const struct backend_instance *inst, int source, int64_t t0_ns, int64_t t1_ns)
{
	const struct fake *f = fake_of(inst);
	const struct fake_src *s;
	double a, b;
	if (!f || source < 0 || source >= f->n)
		return NAN;
	s = &f->src[source];
	a = (double)(t0_ns - f->origin_ns) / 1e9;
	b = (double)(t1_ns - f->origin_ns) / 1e9;
	if (f->is_trace)
		return trace_energy_at(f, s, b) - trace_energy_at(f, s, a);
	return wave_energy(&s->wave, b) - wave_energy(&s->wave, a);
}

int64_t fake_origin_ns(const struct backend_instance *inst)
{
	const struct fake *f = fake_of(inst);
	return f ? f->origin_ns : -1;
}

int fake_check_spec(const char *profile, const char *trace, char *err, size_t errlen)
{
	struct fake *f = xcalloc(1, sizeof(*f));
	int rc;

	f->is_trace = trace != NULL;
	rc = trace ? parse_trace(f, trace, err, errlen) : parse_profile(f, profile, "--fake-profile", err, errlen);
	fake_free(f);
	return rc < 0 ? -1 : 0;
}
