/*
 * optable.c - the declarative option tables of optable.h: getopt parsing,
 * usage text, configuration lines, recording to JSON and restoring from it,
 * all driven by one struct opt_def array per command.
 */
#include "optable.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void opt_keep_init(struct opt_keep *k)
{
	memset(k, 0, sizeof(*k));
}

void opt_keep_release(struct opt_keep *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->v[i]);
	free(k->v);
	memset(k, 0, sizeof(*k));
}

const char *opt_keep_add(struct opt_keep *k, const char *s)
{
	if (!s)
		return NULL;
	k->v = xrealloc(k->v, (k->n + 1) * sizeof(*k->v));
	k->v[k->n] = xstrdup(s);
	return k->v[k->n++];
}

static void *field(void *target, const struct opt_def *d)
{
	return (char *)target + d->offset;
}

static const void *cfield(const void *target, const struct opt_def *d)
{
	return (const char *)target + d->offset;
}

static int in_bounds(const struct opt_def *d, double v)
{
	if (!(d->flags & OPT_BOUNDED))
		return 1;
	if (d->flags & OPT_MIN_OPEN ? v <= d->min : v < d->min)
		return 0;
	return v <= d->max;
}

/* The default parser of each kind. */
static int parse_value(const struct opt_def *d, void *target, const char *arg, char *err, size_t errlen)
{
	char *end;
	const char *want = d->want ? d->want : "a value";
	if (d->kind == OPT_STRING || d->kind == OPT_LIST) {
		*(const char **)field(target, d) = arg;
		return 0;
	}
	if (d->kind == OPT_DOUBLE) {
		double v = strtod(arg, &end);
		if (end == arg || *end || !isfinite(v) || !in_bounds(d, v))
			return err_set(err, errlen, "--%s takes %s", d->name, want);
		*(double *)field(target, d) = v;
		return 0;
	}
	long long v = strtoll(arg, &end, 10);
	if (end == arg || *end || !in_bounds(d, (double)v))
		return err_set(err, errlen, "--%s takes %s", d->name, want);
	if (d->kind == OPT_INT)
		*(int *)field(target, d) = (int)v;
	else if (d->kind == OPT_LL)
		*(long long *)field(target, d) = v;
	else
		*(unsigned long long *)field(target, d) = (unsigned long long)v;
	return 0;
}

static int apply(const struct opt_def *d, void *target, const char *arg, char *err, size_t errlen)
{
	char e[IPW_ERRLEN] = "";
	int rc;
	if (d->hooks && d->hooks->parse)
		rc = d->hooks->parse(d, target, arg, e, sizeof(e));
	else if (d->kind == OPT_FLAG || d->kind == OPT_UNFLAG) {
		*(int *)field(target, d) = d->kind == OPT_FLAG;
		return 0;
	} else
		rc = parse_value(d, target, arg, e, sizeof(e));
	if (rc < 0)
		return arg ? err_set(err, errlen, "%s (got '%s')", e, arg) : err_set(err, errlen, "%s", e);
	return 0;
}

int opt_parse(const struct opt_def *defs, size_t n, void *target, int argc, char **argv, int *first_arg,
	      unsigned char *given, char *err, size_t errlen)
{
	struct option *lo = xcalloc(n + 2, sizeof(*lo));
	char shorts[128] = ":h";
	size_t ns = 2;
	int c, rc = OPT_PARSED, idx;

	for (size_t i = 0; i < n; i++) {
		int arg = defs[i].kind != OPT_FLAG && defs[i].kind != OPT_UNFLAG;
		lo[i].name = defs[i].name;
		lo[i].has_arg = arg ? required_argument : no_argument;
		lo[i].val = 256 + (int)i;
		if (defs[i].short_name && ns + 3 < sizeof(shorts)) {
			shorts[ns++] = (char)defs[i].short_name;
			if (arg)
				shorts[ns++] = ':';
			shorts[ns] = 0;
		}
	}
	lo[n].name = "help";
	lo[n].val = 'h';
	if (given)
		memset(given, 0, n);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, lo, &idx)) != -1) {
		const struct opt_def *d = NULL;
		if (c == 'h') {
			rc = OPT_HELP;
			goto out;
		}
		if (c == '?' || c == ':') {
			const char *what = argv[optind - 1];
			rc = err_set(err, errlen, c == ':' ? "%s needs a value" : "unknown option '%s'", what);
			goto out;
		}
		if (c >= 256)
			d = &defs[c - 256];
		else
			for (size_t i = 0; i < n && !d; i++)
				if (defs[i].short_name == c)
					d = &defs[i];
		if (!d) {
			rc = err_set(err, errlen, "unknown option '-%c'", c);
			goto out;
		}
		if (apply(d, target, optarg, err, errlen) < 0) {
			rc = OPT_BAD;
			goto out;
		}
		if (given)
			given[d - defs] = 1;
	}
	*first_arg = optind;
out:
	free(lo);
	return rc;
}

void opt_usage(FILE *f, const struct opt_def *defs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct opt_def *d = &defs[i];
		char head[64], hbuf[512];
		const char *h = d->hooks && d->hooks->help ? d->hooks->help(d, hbuf, sizeof(hbuf)) : d->help, *nl;
		if (!h)
			h = "";
		if (d->section)
			fprintf(f, "%s:\n", d->section);
		if (d->short_name)
			snprintf(head, sizeof(head), "-%c, --%s%s%s", d->short_name, d->name, d->metavar ? " " : "",
				 d->metavar ? d->metavar : "");
		else
			snprintf(head, sizeof(head), "--%s%s%s", d->name, d->metavar ? " " : "",
				 d->metavar ? d->metavar : "");
		fprintf(f, strlen(head) > 20 ? "  %s\n%23s" : "  %-20s ", head, "");
		while ((nl = strchr(h, '\n'))) {
			fprintf(f, "%.*s\n%23s", (int)(nl - h), h, "");
			h = nl + 1;
		}
		fprintf(f, "%s\n", h);
	}
}

const struct opt_def *opt_find(const struct opt_def *defs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(defs[i].name, name))
			return &defs[i];
	return NULL;
}

void opt_format(const struct opt_def *d, const void *target, char *out, size_t n)
{
	if (d->hooks && d->hooks->format) {
		d->hooks->format(d, target, out, n);
		return;
	}
	if (d->offset == OPT_NOFIELD) {
		snprintf(out, n, "-");
		return;
	}
	switch (d->kind) {
	case OPT_FLAG:
	case OPT_UNFLAG: /* as the option's name reads: --no-host=true when host is 0 */
		snprintf(out, n, "%s", !*(const int *)cfield(target, d) == (d->kind == OPT_UNFLAG) ? "true" : "false");
		break;
	case OPT_INT: snprintf(out, n, "%d", *(const int *)cfield(target, d)); break;
	case OPT_LL: snprintf(out, n, "%lld", *(const long long *)cfield(target, d)); break;
	case OPT_ULL: snprintf(out, n, "%llu", *(const unsigned long long *)cfield(target, d)); break;
	case OPT_DOUBLE: snprintf(out, n, "%g", *(const double *)cfield(target, d)); break;
	case OPT_STRING:
	case OPT_LIST: {
		const char *s = *(const char *const *)cfield(target, d);
		snprintf(out, n, "%s", s ? s : "none");
		break;
	}
	}
}

/* The printed key of an option: its name with '_' for '-'. */
static void show_key(const struct opt_def *d, char *out, size_t n)
{
	snprintf(out, n, "%s", d->name);
	for (char *p = out; *p; p++)
		if (*p == '-')
			*p = '_';
}

char *opt_config_line(const struct opt_def *defs, size_t n, const void *target, char *buf, size_t len)
{
	size_t used = strlen(buf);
	for (size_t i = 0; i < n && used + 1 < len; i++) {
		char k[64], v[256];
		if (!(defs[i].flags & (OPT_RECORD | OPT_SHOW)))
			continue;
		if (defs[i].hooks && defs[i].hooks->record_if && !defs[i].hooks->record_if(target))
			continue;
		show_key(&defs[i], k, sizeof(k));
		opt_format(&defs[i], target, v, sizeof(v));
		snprintf(buf + used, len - used, " %s=%s", k, v);
		used += strlen(buf + used);
	}
	return buf;
}

json_t *opt_json_get(json_t *c, const char *key)
{
	const char *dot = strchr(key, '.');
	char head[64];
	if (!dot)
		return json_object_get(c, key);
	snprintf(head, sizeof(head), "%.*s", (int)(dot - key), key);
	return opt_json_get(json_object_get(c, head), dot + 1);
}

static void json_put(json_t *c, const char *key, json_t *v)
{
	const char *dot = strchr(key, '.');
	char head[64];
	json_t *sub;
	if (!dot) {
		json_object_set_new(c, key, v);
		return;
	}
	snprintf(head, sizeof(head), "%.*s", (int)(dot - key), key);
	if (!(sub = json_object_get(c, head))) {
		sub = json_object();
		json_object_set_new(c, head, sub);
	}
	json_put(sub, dot + 1, v);
}

static json_t *to_json(const struct opt_def *d, const void *target)
{
	if (d->hooks && d->hooks->to_json)
		return d->hooks->to_json(d, target);
	switch (d->kind) {
	case OPT_FLAG:
	case OPT_UNFLAG: return json_boolean(*(const int *)cfield(target, d));
	case OPT_INT: return json_integer(*(const int *)cfield(target, d));
	case OPT_LL: return json_integer(*(const long long *)cfield(target, d));
	case OPT_ULL: return json_integer((json_int_t) * (const unsigned long long *)cfield(target, d));
	case OPT_DOUBLE: return json_real(*(const double *)cfield(target, d));
	default: {
		const char *s = *(const char *const *)cfield(target, d);
		return s ? json_string(s) : json_null();
	}
	}
}

void opt_record(const struct opt_def *defs, size_t n, const void *target, json_t *c)
{
	for (size_t i = 0; i < n; i++) {
		const struct opt_def *d = &defs[i];
		if (!(d->flags & OPT_RECORD) || !d->key)
			continue;
		if (d->hooks && d->hooks->record_if && !d->hooks->record_if(target))
			continue;
		json_put(c, d->key, to_json(d, target));
	}
}

static int from_json(const struct opt_def *d, void *target, json_t *v, struct opt_keep *keep, char *err,
		     size_t errlen)
{
	if (d->hooks && d->hooks->from_json)
		return d->hooks->from_json(d, target, v, keep, err, errlen);
	switch (d->kind) {
	case OPT_FLAG:
	case OPT_UNFLAG:
		if (!json_is_boolean(v))
			return err_set(err, errlen, "'%s' is not a boolean", d->key);
		*(int *)field(target, d) = json_is_true(v);
		return 0;
	case OPT_INT:
	case OPT_LL:
	case OPT_ULL:
		if (!json_is_integer(v))
			return err_set(err, errlen, "'%s' is not an integer", d->key);
		if (d->kind == OPT_INT)
			*(int *)field(target, d) = (int)json_integer_value(v);
		else if (d->kind == OPT_LL)
			*(long long *)field(target, d) = json_integer_value(v);
		else
			*(unsigned long long *)field(target, d) = (unsigned long long)json_integer_value(v);
		return 0;
	case OPT_DOUBLE:
		if (!json_is_number(v))
			return err_set(err, errlen, "'%s' is not a number", d->key);
		*(double *)field(target, d) = json_number_value(v);
		return 0;
	default:
		if (!json_is_string(v) && !json_is_null(v))
			return err_set(err, errlen, "'%s' is not a string", d->key);
		*(const char **)field(target, d) = opt_keep_add(keep, json_string_value(v));
		return 0;
	}
}

int opt_restore(const struct opt_def *defs, size_t n, void *target, json_t *c, struct opt_keep *keep,
		unsigned char *restored, char *err, size_t errlen)
{
	if (restored)
		memset(restored, 0, n);
	for (size_t i = 0; i < n; i++) {
		const struct opt_def *d = &defs[i];
		json_t *v;
		if (!(d->flags & OPT_RECORD) || !d->key || !(v = opt_json_get(c, d->key)))
			continue;
		if (from_json(d, target, v, keep, err, errlen) < 0)
			return -1;
		if (restored)
			restored[i] = 1;
	}
	return 0;
}
