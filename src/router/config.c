/*
 * router/config.c - reads the router's configuration (docs/router.md
 * "Configuration"), JSON or a TOML subset read into the same JSON tree
 * (router_toml_parse): tiers, fallback order, policies, limits. Every error
 * names the file and the field (TOML syntax errors: the line).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "router/router.h"
#include "util.h"

int router_tier_find(const struct router_config *c, const char *name)
{
	for (int i = 0; name && i < c->ntiers; i++)
		if (!strcmp(c->tiers[i].name, name))
			return i;
	return -1;
}

static char *opt_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
}

/* A number field: *out = its value, or dflt when absent; -1 when present and not a number. */
static int opt_num(json_t *o, const char *key, double dflt, double *out)
{
	json_t *v = json_object_get(o, key);
	if (!v) {
		*out = dflt;
		return 0;
	}
	if (!json_is_number(v))
		return -1;
	*out = json_number_value(v);
	return isfinite(*out) ? 0 : -1;
}

static int tier_load(struct router_tier *t, json_t *o, int i, const char *path, char *err, size_t errlen)
{
	json_t *price = json_object_get(o, "price");
	double cloud = 0;
	if (!json_is_object(o))
		return err_set(err, errlen, "%s: tiers[%d] is not an object", path, i);
	t->name = opt_str(o, "name");
	t->url = opt_str(o, "url");
	t->model = opt_str(o, "model");
	t->key_env = opt_str(o, "api_key_env");
	t->profile_run = opt_str(o, "profile_run");
	if (!t->name || !t->url || !t->model)
		return err_set(err, errlen, "%s: tiers[%d] needs \"name\", \"url\" and \"model\" (strings)", path, i);
	for (const unsigned char *p = (const unsigned char *)t->name; *p || p == (const unsigned char *)t->name; p++)
		if (*p < 0x20 || *p == 0x7f) /* it goes into headers and metric labels */
			return err_set(err, errlen, "%s: tiers[%d].name must be non-empty, without control characters", path, i);
	if (json_object_get(o, "cloud") && !json_is_boolean(json_object_get(o, "cloud")))
		return err_set(err, errlen, "%s: tiers[%d].cloud must be true or false", path, i);
	cloud = json_is_true(json_object_get(o, "cloud"));
	t->cloud = cloud != 0;
	t->price_in = t->price_out = 0;
	if (price && (!json_is_object(price) || opt_num(price, "input", 0, &t->price_in) < 0 ||
		      opt_num(price, "output", 0, &t->price_out) < 0 || t->price_in < 0 || t->price_out < 0))
		return err_set(err, errlen, "%s: tiers[%d].price must be {\"input\": USD per 1M, \"output\": USD per 1M}",
			       path, i);
	if (opt_num(o, "joules_per_token", NAN, &t->j_per_token) < 0)
		return err_set(err, errlen, "%s: tiers[%d].joules_per_token must be a number", path, i);
	if (json_object_get(o, "measured") && !json_is_boolean(json_object_get(o, "measured")))
		return err_set(err, errlen, "%s: tiers[%d].measured must be true or false", path, i);
	t->measured = json_is_true(json_object_get(o, "measured"));
	if (t->measured && t->cloud)
		return err_set(err, errlen, "%s: tiers[%d] is a cloud tier: the router's telemetry cannot measure it "
			       "(\"measured\" is for local tiers on the router's machine)", path, i);
	if (opt_num(o, "timeout_s", 600, &t->timeout_s) < 0 || t->timeout_s <= 0)
		return err_set(err, errlen, "%s: tiers[%d].timeout_s must be a positive number", path, i);
	if (strncmp(t->url, "http://", 7) && strncmp(t->url, "https://", 8))
		return err_set(err, errlen, "%s: tiers[%d].url must start with http:// or https://", path, i);
	return 0;
}

static int tier_ref(const struct router_config *c, json_t *o, const char *key, int dflt, int *out, const char *path,
		    char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);
	if (!v) {
		*out = dflt;
		return 0;
	}
	if (!json_is_string(v) || (*out = router_tier_find(c, json_string_value(v))) < 0)
		return err_set(err, errlen, "%s: %s names no tier", path, key);
	return 0;
}

static int rules_load(struct router_config *c, json_t *o, const char *path, char *err, size_t errlen)
{
	double lp = 0;
	int first_local = 0;
	for (int i = 0; i < c->ntiers; i++)
		if (!c->tiers[i].cloud) {
			first_local = i;
			break;
		}
	if (o && !json_is_object(o))
		return err_set(err, errlen, "%s: \"rules\" must be an object", path);
	if (opt_num(o, "long_prompt_chars", 0, &lp) < 0 || lp < 0)
		return err_set(err, errlen, "%s: rules.long_prompt_chars must be a count", path);
	c->rules.long_prompt_chars = (long long)lp;
	if (tier_ref(c, o, "long_tier", -1, &c->rules.long_tier, path, err, errlen) < 0 ||
	    tier_ref(c, o, "default_tier", first_local, &c->rules.default_tier, path, err, errlen) < 0)
		return -1;
	if (c->rules.long_prompt_chars > 0 && c->rules.long_tier < 0)
		return err_set(err, errlen, "%s: rules.long_prompt_chars needs rules.long_tier", path);
	c->rules.aliases = json_object_get(o, "aliases");
	if (c->rules.aliases) {
		const char *k;
		json_t *v;
		if (!json_is_object(c->rules.aliases))
			return err_set(err, errlen, "%s: rules.aliases must be {\"alias\": \"tier\"}", path);
		json_object_foreach(c->rules.aliases, k, v)
			if (!json_is_string(v) || router_tier_find(c, json_string_value(v)) < 0)
				return err_set(err, errlen, "%s: rules.aliases.%s names no tier", path, k);
		json_incref(c->rules.aliases);
	}
	return 0;
}

static int fallback_load(struct router_config *c, json_t *fb, const char *path, char *err, size_t errlen)
{
	size_t i;
	json_t *v;
	c->nfallback = 0;
	if (!fb) { /* locals in order, then clouds */
		for (int k = 0; k < 2; k++)
			for (int t = 0; t < c->ntiers; t++)
				if (c->tiers[t].cloud == k)
					c->fallback[c->nfallback++] = t;
		return 0;
	}
	if (!json_is_array(fb))
		return err_set(err, errlen, "%s: \"fallback\" must be a list of tier names", path);
	json_array_foreach(fb, i, v) {
		int t = json_is_string(v) ? router_tier_find(c, json_string_value(v)) : -1;
		if (t < 0 || c->nfallback >= ROUTER_MAX_TIERS)
			return err_set(err, errlen, "%s: fallback[%zu] names no tier", path, i);
		c->fallback[c->nfallback++] = t;
	}
	return 0;
}

static int misc_load(struct router_config *c, json_t *root, const char *path, char *err, size_t errlen)
{
	json_t *learned = json_object_get(root, "learned"), *budget = json_object_get(root, "budget");
	json_t *cascade = json_object_get(root, "cascade");
	double v;
	if (opt_num(root, "port", 0, &v) < 0 || v < 0 || v > 65535)
		return err_set(err, errlen, "%s: \"port\" must be 0..65535", path);
	c->port = (int)v;
	if (opt_num(root, "threads", 0, &v) < 0 || v < 0 || v > 64 || v != (int)v)
		return err_set(err, errlen, "%s: \"threads\" must be 0..64 (0: the CPUs it may use, at most 8)", path);
	c->threads = (int)v;
	if (opt_num(root, "retries", 1, &v) < 0 || v < 0 || v > 10)
		return err_set(err, errlen, "%s: \"retries\" must be 0..10", path);
	c->retries = (int)v;
	if (opt_num(root, "max_body_bytes", 1 << 20, &v) < 0 || v < 64)
		return err_set(err, errlen, "%s: \"max_body_bytes\" must be at least 64", path);
	c->max_body = (long long)v;
	{
		json_t *priv = json_object_get(root, "privacy");
		if ((priv && !json_is_object(priv)) || opt_num(priv, "max_sessions", 65536, &v) < 0 || v < 1 ||
		    v > 1e7)
			return err_set(err, errlen, "%s: \"privacy\" must be {\"max_sessions\": 1..10000000}", path);
		c->max_private_sessions = (int)v;
	}
	c->host = opt_str(root, "host");
	c->tokens_env = opt_str(root, "client_tokens_env");
	c->store = opt_str(root, "store");
	c->default_policy = opt_str(root, "policy");
	if (!c->default_policy)
		c->default_policy = xstrdup("rules");
	if (strcmp(c->default_policy, "rules") && strcmp(c->default_policy, "learned") &&
	    strcmp(c->default_policy, "cascade"))
		return err_set(err, errlen, "%s: \"policy\" must be rules, learned or cascade", path);
	if (learned) {
		c->learned_path = opt_str(learned, "router");
		const char *by = json_string_value(json_object_get(learned, "by"));
		if (!c->learned_path || opt_num(learned, "threshold", NAN, &c->learned_threshold) < 0 ||
		    (isfinite(c->learned_threshold) && (c->learned_threshold < 0 || c->learned_threshold > 1)))
			return err_set(err, errlen, "%s: \"learned\" must be {\"router\": FILE, \"threshold\": P (0..1), "
				       "\"by\": energy|cost}", path);
		if (json_object_get(learned, "by") && (!by || (strcmp(by, "energy") && strcmp(by, "cost"))))
			return err_set(err, errlen, "%s: learned.by must be \"energy\" or \"cost\"", path);
		c->learned_by_cost = by && !strcmp(by, "cost");
	} else if (!strcmp(c->default_policy, "learned")) {
		return err_set(err, errlen, "%s: policy learned needs \"learned\": {\"router\": FILE}", path);
	}
	if (budget && (opt_num(budget, "usd", 0, &c->budget.usd) < 0 ||
		       opt_num(budget, "window_s", 3600, &c->budget.window_s) < 0 || c->budget.window_s <= 0))
		return err_set(err, errlen, "%s: \"budget\" must be {\"usd\": X, \"window_s\": S, \"over\": local|refuse}",
			       path);
	if (budget && !json_is_object(budget))
		return err_set(err, errlen, "%s: \"budget\" must be {\"usd\": X, \"window_s\": S, \"over\": local|refuse}",
			       path);
	if (c->budget.usd < 0)
		return err_set(err, errlen, "%s: budget.usd must be >= 0 (0: no budget)", path);
	{
		json_t *over = json_object_get(budget, "over");
		const char *ov = json_string_value(over);
		if (over && (!ov || (strcmp(ov, "local") && strcmp(ov, "refuse"))))
			return err_set(err, errlen, "%s: budget.over must be \"local\" or \"refuse\"", path);
		c->budget.refuse = ov && !strcmp(ov, "refuse");
	}
	if (opt_num(budget, "max_clients", 4096, &v) < 0 || v < 1 || v > 1e6)
		return err_set(err, errlen, "%s: budget.max_clients must be 1..1000000", path);
	c->budget.max_clients = (int)v;
	if (opt_num(cascade, "min_chars", 1, &v) < 0)
		return err_set(err, errlen, "%s: cascade.min_chars must be a count", path);
	c->cascade_min_chars = (int)v;
	if (json_object_get(cascade, "pattern") && !json_is_string(json_object_get(cascade, "pattern")))
		return err_set(err, errlen, "%s: cascade.pattern must be a string (a PCRE2 pattern)", path);
	c->cascade_pattern = opt_str(cascade, "pattern");
	if (c->cascade_pattern) {
		int ec;
		PCRE2_SIZE eo;
		PCRE2_UCHAR msg[160];
		c->cascade_re = pcre2_compile((PCRE2_SPTR)c->cascade_pattern, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
		if (!c->cascade_re) {
			pcre2_get_error_message(ec, msg, sizeof(msg));
			return err_set(err, errlen, "%s: cascade.pattern is not a valid PCRE2 pattern: %s at offset %zu", path,
				       (const char *)msg, (size_t)eo);
		}
	}
	if (opt_num(cascade, "logprob_min", NAN, &c->cascade_logprob_min) < 0 || c->cascade_logprob_min > 0)
		return err_set(err, errlen, "%s: cascade.logprob_min must be a log-probability in nats (<= 0)", path);
	{
		const char *st = json_string_value(json_object_get(cascade, "logprob_stat"));
		if (json_object_get(cascade, "logprob_stat") && (!st || (strcmp(st, "mean") && strcmp(st, "min"))))
			return err_set(err, errlen, "%s: cascade.logprob_stat must be \"mean\" or \"min\"", path);
		c->cascade_logprob_use_min = st && !strcmp(st, "min");
	}
	return 0;
}

/* ---- a TOML subset (docs/router.md "Configuration (JSON or TOML)") ---- */

#define TOML_MAX_KEYS 16
#define TOML_MAX_TABLES 256

struct toml {
	const char *p;
	int line;
	char *err;
	size_t errlen;
	json_t *defined[TOML_MAX_TABLES]; /* tables given a [header] (a second one is an error) */
	int ndefined;
};

static int toml_fail(struct toml *t, const char *what)
{
	return err_set(t->err, t->errlen, "line %d: %s", t->line, what);
}

static void toml_ws(struct toml *t)
{
	while (*t->p == ' ' || *t->p == '\t')
		t->p++;
}

/* Spaces, line breaks and comments (inside arrays). */
static void toml_ws_nl(struct toml *t)
{
	for (;;) {
		toml_ws(t);
		if (*t->p == '#')
			while (*t->p && *t->p != '\n')
				t->p++;
		if (*t->p == '\r' && t->p[1] == '\n')
			t->p++;
		if (*t->p != '\n')
			return;
		t->p++;
		t->line++;
	}
}

/* The end of a line: spaces, an optional comment, then a line break or the end. */
static int toml_eol(struct toml *t)
{
	toml_ws(t);
	if (*t->p == '#')
		while (*t->p && *t->p != '\n')
			t->p++;
	if (*t->p == '\r' && t->p[1] == '\n')
		t->p++;
	if (*t->p == '\n') {
		t->p++;
		t->line++;
		return 0;
	}
	return *t->p ? toml_fail(t, "unexpected text after the value (one key = value or [table] a line)") : 0;
}

static void utf8_put(struct buf *b, unsigned long cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 0x3f)), u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_append(b, u, n);
}

/* A basic "..." or literal '...' string (one line); *out a JSON string. */
static int toml_string(struct toml *t, json_t **out)
{
	char q = *t->p++;
	struct buf b;
	buf_init(&b, 0);
	if (t->p[0] == q && t->p[1] == q) {
		buf_release(&b);
		return toml_fail(t, "multi-line strings are not supported");
	}
	while (*t->p != q) {
		unsigned char ch = (unsigned char)*t->p;
		if (!ch || ch == '\n' || ch == '\r' || (ch < 0x20 && ch != '\t') || ch == 0x7f) {
			buf_release(&b);
			return toml_fail(t, ch && ch != '\n' ? "a control character in a string" : "a string is not closed");
		}
		if (q == '"' && ch == '\\') {
			char e = t->p[1];
			const char *sub = e ? strchr("btnfr\"\\", e) : NULL;
			if (!e) {
				buf_release(&b);
				return toml_fail(t, "a string is not closed");
			}
			t->p += 2;
			if (e && sub) {
				buf_append(&b, &"\b\t\n\f\r\"\\"[sub - "btnfr\"\\"], 1);
			} else if (e == 'u' || e == 'U') {
				int n = e == 'u' ? 4 : 8;
				unsigned long cp = 0;
				for (int i = 0; i < n; i++, t->p++) {
					char h = *t->p;
					int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
						: h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
					if (v < 0) {
						buf_release(&b);
						return toml_fail(t, "a \\u escape needs hexadecimal digits");
					}
					cp = cp * 16 + (unsigned long)v;
				}
				if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
					buf_release(&b);
					return toml_fail(t, "a \\u escape is not a Unicode scalar value");
				}
				utf8_put(&b, cp);
			} else {
				buf_release(&b);
				return toml_fail(t, "an unknown escape in a string");
			}
			continue;
		}
		buf_append(&b, t->p++, 1);
	}
	t->p++;
	*out = json_stringn(b.data ? b.data : "", b.len);
	buf_release(&b);
	return *out ? 0 : toml_fail(t, "a string is not valid UTF-8");
}

/* One key segment: bare (A-Za-z0-9_-) or quoted; newly allocated. */
static char *toml_key1(struct toml *t)
{
	const char *s0 = t->p;
	if (*t->p == '"' || *t->p == '\'') {
		json_t *v;
		char *k;
		if (toml_string(t, &v) < 0)
			return NULL;
		k = xstrdup(json_string_value(v));
		json_decref(v);
		return k;
	}
	while ((*t->p >= 'a' && *t->p <= 'z') || (*t->p >= 'A' && *t->p <= 'Z') || (*t->p >= '0' && *t->p <= '9') ||
	       *t->p == '_' || *t->p == '-')
		t->p++;
	if (t->p == s0) {
		toml_fail(t, "expected a key");
		return NULL;
	}
	return xasprintf("%.*s", (int)(t->p - s0), s0);
}

/* A dotted key a.b."c d": its segments (caller frees each); the count, or -1. */
static int toml_key(struct toml *t, char **seg)
{
	int n = 0;
	for (;;) {
		toml_ws(t);
		if (n == TOML_MAX_KEYS) {
			toml_fail(t, "a key with too many dots");
			break;
		}
		if (!(seg[n] = toml_key1(t)))
			break;
		n++;
		toml_ws(t);
		if (*t->p != '.')
			return n;
		t->p++;
	}
	while (n)
		free(seg[--n]);
	return -1;
}

static int toml_value(struct toml *t, json_t **out);

static int toml_number(struct toml *t, json_t **out)
{
	const char *s0 = t->p;
	char num[64];
	size_t n = 0;
	int real = 0;
	char *end;
	const char *u = *t->p == '+' || *t->p == '-' ? t->p + 1 : t->p; /* past a sign, never past the end */
	if (!strncmp(u, "inf", 3) || !strncmp(u, "nan", 3))
		return toml_fail(t, "inf and nan are not allowed in the router's configuration");
	if (t->p[0] == '0' && (t->p[1] == 'x' || t->p[1] == 'o' || t->p[1] == 'b'))
		return toml_fail(t, "only decimal numbers are supported");
	/* strchr finds the terminator too: stop at the end of the text */
	while (*t->p && ((*t->p >= '0' && *t->p <= '9') || strchr("+-._eE", *t->p))) {
		if (*t->p == '.' || *t->p == 'e' || *t->p == 'E')
			real = 1;
		if (*t->p != '_') {
			if (n + 1 >= sizeof(num))
				return toml_fail(t, "a number too long");
			num[n++] = *t->p;
		}
		t->p++;
	}
	num[n] = 0;
	if (t->p == s0)
		return toml_fail(t, "expected a value (a string, number, true, false, [array] or {table})");
	errno = 0;
	if (real) {
		double v = strtod(num, &end);
		if (*end || errno || !isfinite(v))
			return toml_fail(t, "not a number");
		*out = json_real(v);
	} else {
		long long v = strtoll(num, &end, 10);
		if (*end || errno)
			return toml_fail(t, "not an integer (or out of range)");
		*out = json_integer(v);
	}
	return 0;
}

/* Sets seg[0..n) = v under tab, creating the dotted key's tables; takes v. */
static int toml_set(struct toml *t, json_t *tab, char **seg, int n, json_t *v)
{
	for (int i = 0; i < n - 1; i++) {
		json_t *sub = json_object_get(tab, seg[i]);
		if (!sub) {
			sub = json_object();
			json_object_set_new(tab, seg[i], sub);
		} else if (!json_is_object(sub)) {
			json_decref(v);
			return toml_fail(t, "a dotted key goes through a value that is not a table");
		}
		tab = sub;
	}
	if (json_object_get(tab, seg[n - 1])) {
		json_decref(v);
		return toml_fail(t, "a key is defined twice");
	}
	json_object_set_new(tab, seg[n - 1], v);
	return 0;
}

static int toml_value(struct toml *t, json_t **out)
{
	if (*t->p == '"' || *t->p == '\'')
		return toml_string(t, out);
	if (!strncmp(t->p, "true", 4) || !strncmp(t->p, "false", 5)) {
		int yes = *t->p == 't';
		t->p += yes ? 4 : 5;
		*out = json_boolean(yes);
		return 0;
	}
	if (*t->p == '[') {
		json_t *arr = json_array(), *v;
		t->p++;
		for (;;) {
			toml_ws_nl(t);
			if (*t->p == ']')
				break;
			if (toml_value(t, &v) < 0) {
				json_decref(arr);
				return -1;
			}
			json_array_append_new(arr, v);
			toml_ws_nl(t);
			if (*t->p == ',') {
				t->p++;
				continue;
			}
			if (*t->p != ']') {
				json_decref(arr);
				return toml_fail(t, "expected ',' or ']' in an array");
			}
		}
		t->p++;
		*out = arr;
		return 0;
	}
	if (*t->p == '{') {
		json_t *tab = json_object(), *v;
		char *seg[TOML_MAX_KEYS];
		int n, rc;
		t->p++;
		toml_ws(t);
		if (*t->p == '}') {
			t->p++;
			*out = tab;
			return 0;
		}
		for (;;) {
			if ((n = toml_key(t, seg)) < 0) {
				json_decref(tab);
				return -1;
			}
			toml_ws(t);
			rc = *t->p == '=' ? 0 : toml_fail(t, "expected '=' after a key");
			if (!rc) {
				t->p++;
				toml_ws(t);
				rc = toml_value(t, &v);
			}
			if (!rc)
				rc = toml_set(t, tab, seg, n, v);
			while (n)
				free(seg[--n]);
			if (rc < 0) {
				json_decref(tab);
				return -1;
			}
			toml_ws(t);
			if (*t->p == '}')
				break;
			if (*t->p != ',') {
				json_decref(tab);
				return toml_fail(t, "expected ',' or '}' in an inline table");
			}
			t->p++;
			toml_ws(t);
		}
		t->p++;
		*out = tab;
		return 0;
	}
	return toml_number(t, out);
}

/* [a.b] (array 0) or [[a.b]] (array 1): the table the following keys go to. NULL on error. */
static json_t *toml_header(struct toml *t, json_t *root, int array)
{
	char *seg[TOML_MAX_KEYS];
	int n = toml_key(t, seg);
	json_t *tab = root, *sub = NULL;
	if (n < 0)
		return NULL;
	toml_ws(t);
	if (*t->p != ']' || (array && t->p[1] != ']')) {
		toml_fail(t, array ? "expected ']]' closing an array of tables" : "expected ']' closing a table");
		goto out;
	}
	t->p += array ? 2 : 1;
	for (int i = 0; i < n; i++) {
		sub = json_object_get(tab, seg[i]);
		if (i == n - 1 && array) {
			if (!sub) {
				sub = json_array();
				json_object_set_new(tab, seg[i], sub);
			} else if (!json_is_array(sub)) {
				toml_fail(t, "[[...]] names a key that is not an array of tables");
				sub = NULL;
				goto out;
			}
			json_array_append_new(sub, json_object());
			sub = json_array_get(sub, json_array_size(sub) - 1);
			break;
		}
		if (!sub) {
			sub = json_object();
			json_object_set_new(tab, seg[i], sub);
		} else if (json_is_array(sub) && i < n - 1) {
			sub = json_array_get(sub, json_array_size(sub) - 1); /* [a.b] after [[a]]: the last a */
		}
		if (!json_is_object(sub)) {
			toml_fail(t, "a [table] header names a key that is not a table");
			sub = NULL;
			goto out;
		}
		tab = sub;
	}
	if (!array) {
		for (int i = 0; i < t->ndefined; i++)
			if (t->defined[i] == sub) {
				toml_fail(t, "a [table] is defined twice");
				sub = NULL;
				goto out;
			}
		if (t->ndefined == TOML_MAX_TABLES) {
			toml_fail(t, "too many [tables]");
			sub = NULL;
			goto out;
		}
		t->defined[t->ndefined++] = sub;
	}
out:
	while (n)
		free(seg[--n]);
	return sub;
}

json_t *router_toml_parse(const char *text, char *err, size_t errlen)
{
	struct toml t;
	json_t *root = json_object(), *cur = root;
	memset(&t, 0, sizeof(t));
	t.p = text;
	t.line = 1;
	t.err = err;
	t.errlen = errlen;
	if (!strncmp(t.p, "\xef\xbb\xbf", 3))
		t.p += 3;
	for (;;) {
		toml_ws_nl(&t);
		if (!*t.p)
			return root;
		if (*t.p == '[') {
			int array = t.p[1] == '[';
			t.p += array ? 2 : 1;
			if (!(cur = toml_header(&t, root, array)))
				break;
		} else {
			char *seg[TOML_MAX_KEYS];
			json_t *v;
			int n = toml_key(&t, seg), rc;
			if (n < 0)
				break;
			toml_ws(&t);
			rc = *t.p == '=' ? 0 : toml_fail(&t, "expected '=' after a key");
			if (!rc) {
				t.p++;
				toml_ws(&t);
				rc = toml_value(&t, &v);
			}
			if (!rc)
				rc = toml_set(&t, cur, seg, n, v);
			while (n)
				free(seg[--n]);
			if (rc < 0)
				break;
		}
		if (toml_eol(&t) < 0)
			break;
	}
	json_decref(root);
	return NULL;
}

int router_config_load(struct router_config *c, const char *path, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root, *tiers;
	int rc = -1;
	size_t i;
	json_t *t;

	memset(c, 0, sizeof(*c));
	if (strlen(path) > 5 && !strcmp(path + strlen(path) - 5, ".toml")) {
		char *text, terr[IPW_ERRLEN];
		size_t len;
		if (read_file(path, &text, &len, err, errlen) < 0)
			return -1;
		root = strlen(text) == len ? router_toml_parse(text, terr, sizeof(terr)) : NULL;
		if (strlen(text) != len)
			snprintf(terr, sizeof(terr), "a NUL byte in the file");
		free(text);
		if (!root)
			return err_set(err, errlen, "%s: %s", path, terr);
	} else {
		root = json_load_file(path, 0, &je);
		if (!root)
			return err_set(err, errlen, "%s:%d: %s", path, je.line, je.text);
	}
	tiers = json_object_get(root, "tiers");
	if (!json_is_array(tiers) || json_array_size(tiers) == 0 || json_array_size(tiers) > ROUTER_MAX_TIERS) {
		err_set(err, errlen, "%s: \"tiers\" must be a list of 1..%d tiers", path, ROUTER_MAX_TIERS);
		goto out;
	}
	json_array_foreach(tiers, i, t) {
		c->ntiers = (int)i + 1;
		if (tier_load(&c->tiers[i], t, (int)i, path, err, errlen) < 0)
			goto out;
		if (router_tier_find(c, c->tiers[i].name) != (int)i) {
			err_set(err, errlen, "%s: two tiers are named '%s'", path, c->tiers[i].name);
			goto out;
		}
	}
	if (rules_load(c, json_object_get(root, "rules"), path, err, errlen) < 0 ||
	    fallback_load(c, json_object_get(root, "fallback"), path, err, errlen) < 0 ||
	    misc_load(c, root, path, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	json_decref(root);
	if (rc < 0)
		router_config_release(c);
	return rc;
}

void router_config_release(struct router_config *c)
{
	for (int i = 0; i < c->ntiers; i++) {
		struct router_tier *t = &c->tiers[i];
		free(t->name);
		free(t->url);
		free(t->model);
		free(t->key_env);
		free(t->profile_run);
	}
	json_decref(c->rules.aliases);
	free(c->host);
	free(c->default_policy);
	free(c->learned_path);
	free(c->tokens_env);
	free(c->store);
	free(c->cascade_pattern);
	pcre2_code_free(c->cascade_re);
	memset(c, 0, sizeof(*c));
}
