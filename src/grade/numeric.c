/*
 * numeric.c - the numeric grader: takes the \boxed{} value, else the number
 * after "Answer:" / "the answer is", else the last number in the text, and
 * compares it with the reference within a relative and an absolute
 * tolerance. Understands signs, thousands separators, decimals, fractions,
 * percentages, scientific notation, currency and units. See docs/scoring.md.
 */
#include "grade.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

#define CUE_REACH 200

struct num {
	double v;
	int percent;       /* written with %, \% or "percent" */
	const char *start; /* where it was written */
	size_t len;
};

static int prefix(const char *p, const char *s)
{
	size_t n = strlen(s);
	return strncmp(p, s, n) ? 0 : (int)n;
}

/* A thousands separator at p followed by exactly three digits: its length, else 0. */
static int thousands_sep(const char *p)
{
	int n = 0;

	if (*p == ',')
		n = 1;
	else if (prefix(p, "{,}"))
		n = 3;
	else if (prefix(p, "\\,"))
		n = 2;
	if (n && isdigit((unsigned char)p[n]) && isdigit((unsigned char)p[n + 1]) &&
	    isdigit((unsigned char)p[n + 2]) && !isdigit((unsigned char)p[n + 3]))
		return n;
	return 0;
}

/* Digits with thousands separators, a decimal part and an e-exponent. Length or 0. */
static size_t parse_plain(const char *p, double *v)
{
	char buf[96];
	size_t n = 0;
	const char *q = p;
	int sep;

	if (!isdigit((unsigned char)*q) && !(*q == '.' && isdigit((unsigned char)q[1])))
		return 0;
	while (isdigit((unsigned char)*q) && n < 60)
		buf[n++] = *q++;
	while (n && n < 60 && (sep = thousands_sep(q))) {
		q += sep;
		for (int i = 0; i < 3; i++)
			buf[n++] = *q++;
	}
	if (*q == '.' && isdigit((unsigned char)q[1])) {
		buf[n++] = *q++;
		while (isdigit((unsigned char)*q) && n < 80)
			buf[n++] = *q++;
	}
	if ((*q == 'e' || *q == 'E')) {
		const char *e = q + 1;
		if (*e == '+' || *e == '-')
			e++;
		if (isdigit((unsigned char)*e)) {
			buf[n++] = 'e';
			if (q[1] == '-')
				buf[n++] = '-';
			while (isdigit((unsigned char)*e) && n < 90)
				buf[n++] = *e++;
			q = e;
		}
	}
	buf[n] = '\0';
	*v = strtod(buf, NULL);
	return (size_t)(q - p);
}

/* A minus sign (ASCII, or U+2212) or plus: its length, else 0. */
static int sign_at(const char *p, int *neg)
{
	if (*p == '-' || *p == '+') {
		*neg = *p == '-';
		return 1;
	}
	if (prefix(p, "\xe2\x88\x92")) {
		*neg = 1;
		return 3;
	}
	return 0;
}

static const char *skip_sp(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static size_t parse_number(const char *p, double *v, int *percent);

/* "\frac{a}{b}", "\dfrac", "\tfrac": length or 0. */
static size_t parse_frac(const char *p, double *v)
{
	const char *q = p;
	double a, b;
	int pa, pb, k;
	size_t n;

	if (!(k = prefix(q, "\\frac")) && !(k = prefix(q, "\\dfrac")) && !(k = prefix(q, "\\tfrac")))
		return 0;
	q = skip_sp(q + k);
	if (*q != '{' || !(n = parse_number(skip_sp(q + 1), &a, &pa)))
		return 0;
	q = skip_sp(skip_sp(q + 1) + n);
	if (*q != '}')
		return 0;
	q = skip_sp(q + 1);
	if (*q != '{' || !(n = parse_number(skip_sp(q + 1), &b, &pb)))
		return 0;
	q = skip_sp(skip_sp(q + 1) + n);
	if (*q != '}' || b == 0)
		return 0;
	*v = a / b;
	return (size_t)(q + 1 - p);
}

/* "× 10^3", "\times 10^{-3}", "x10^3", "* 10^3", "\cdot 10^3": the power of ten, length or 0. */
static size_t parse_times_ten(const char *p, int *e)
{
	static const char *const ops[] = { "\xc3\x97", "\\times", "\\cdot", "\xc2\xb7", "x", "*" };
	const char *q = skip_sp(p);
	int k = 0, neg = 0, brace = 0;

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]) && !k; i++)
		k = prefix(q, ops[i]);
	if (!k)
		return 0;
	q = skip_sp(q + k);
	if (!prefix(q, "10^"))
		return 0;
	q += 3;
	if (*q == '{') {
		brace = 1;
		q++;
	}
	q += sign_at(q, &neg);
	if (!isdigit((unsigned char)*q))
		return 0;
	*e = (int)strtol(q, NULL, 10) * (neg ? -1 : 1);
	while (isdigit((unsigned char)*q))
		q++;
	if (brace && *q++ != '}')
		return 0;
	return (size_t)(q - p);
}

/*
 * A number at p: [sign] [currency] (\frac{a}{b} | plain [× 10^k | ^k | /d]) [%].
 * Returns its length (0 when there is none) and its value.
 */
static size_t parse_number(const char *p, double *v, int *percent)
{
	const char *q = p;
	int neg = 0, e, k;
	size_t n;
	double d;

	*percent = 0;
	q += sign_at(q, &neg);
	if ((k = prefix(q, "\\$")) || (k = prefix(q, "$")))
		q += k;
	if ((n = parse_frac(q, v))) {
		q += n;
	} else if ((n = parse_plain(q, v))) {
		q += n;
		if ((n = parse_times_ten(q, &e))) {
			*v *= pow(10, e);
			q += n;
		} else if (*q == '^' && (isdigit((unsigned char)q[1]) ||
					 (q[1] == '{' && isdigit((unsigned char)q[2])))) {
			int brace = q[1] == '{';
			const char *x = q + 1 + brace;
			e = (int)strtol(x, NULL, 10);
			while (isdigit((unsigned char)*x))
				x++;
			if (!brace || *x == '}') {
				*v = pow(*v, e);
				q = x + brace;
			}
		} else if (*q == '/' && (n = parse_plain(q + 1, &d)) && d != 0) {
			*v /= d;
			q += 1 + n;
		}
	} else {
		return 0;
	}
	if (neg)
		*v = -*v;
	const char *r = skip_sp(q);
	if ((k = prefix(r, "%")) || (k = prefix(r, "\\%")) || (k = (int)(strncasecmp(r, "percent", 7) ? 0 : 7))) {
		*percent = 1;
		q = r + k;
	}
	return (size_t)(q - p);
}

/* Could a number start at p (given the text starts at t)? */
static int number_start(const char *t, const char *p)
{
	int neg;
	const char *q = p;
	char before = p > t ? p[-1] : ' ';

	/* "x2", "H2O", "GPT4": digits glued to a word are not answers. */
	if (isalnum((unsigned char)before) || before == '_' || before == '.')
		return 0;
	if (sign_at(q, &neg)) {
		if (before == ')' || before == ']')
			return 0;
		q += sign_at(q, &neg);
		if (*q == '$')
			q++;
		else if (prefix(q, "\\$"))
			q += 2;
	}
	return isdigit((unsigned char)*q) || (*q == '.' && isdigit((unsigned char)q[1])) ||
	       prefix(q, "\\frac") || prefix(q, "\\dfrac") || prefix(q, "\\tfrac");
}

/* First (last = 0) or last (last = 1) number in [s, e). 1 if found. */
static int find_number(const char *s, const char *e, int last, struct num *out)
{
	int found = 0;

	for (const char *p = s; p < e && *p; p++) {
		double v;
		int pc;
		size_t n;

		if (!number_start(s, p) || !(n = parse_number(p, &v, &pc)))
			continue;
		*out = (struct num){ v, pc, p, n };
		found = 1;
		if (!last)
			return 1;
		p += n - 1;
	}
	return found;
}

/* The value expression of a box or a reference: after the last "=", first number. */
static int value_of(const char *s, struct num *out)
{
	const char *eq = strrchr(s, '=');
	const char *ap = strstr(s, "\\approx");

	if (ap && (!eq || ap > eq))
		eq = ap + 6;
	if (eq && find_number(eq + 1, eq + strlen(eq), 0, out))
		return 1;
	return find_number(s, s + strlen(s), 0, out);
}

/*
 * A reference must be one plain number: nothing symbolic around it
 * ("2\sqrt{3}", "3\pi") and no second number after it ("3, 4"); units and
 * \text{...} are fine. 1 if s is, with its value in *out.
 */
static int reference_value(const char *s, struct num *out)
{
	static const char *const ok[] = {
		"text", "textrm", "mathrm", "mbox", "frac", "dfrac", "tfrac", "times", "cdot", "approx",
	};
	if (!value_of(s, out))
		return 0;
	for (const char *p = s; *p; p++) {
		if (*p != '\\' || !isalpha((unsigned char)p[1]))
			continue;
		size_t n = 1, good = 0;
		while (isalpha((unsigned char)p[n]))
			n++;
		for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]) && !good; i++)
			good = strlen(ok[i]) == n - 1 && !strncmp(p + 1, ok[i], n - 1);
		if (!good)
			return 0;
		p += n - 1;
	}
	for (const char *p = out->start + out->len; *p; p++)
		if (isdigit((unsigned char)*p))
			return 0;
	return 1;
}

static const char *const cues[] = { "final answer", "answer", "####" };
static const char *const seps[] = { "is:", ":", "=", "is", "would be", "should be", "will be", "####", "" };

/* Length of the answer cue at p (a whole word), or 0. */
static size_t cue_at(const char *p)
{
	for (size_t i = 0; i < sizeof(cues) / sizeof(cues[0]); i++)
		if (!strncasecmp(p, cues[i], strlen(cues[i])) && !isalpha((unsigned char)p[strlen(cues[i])]))
			return strlen(cues[i]);
	return 0;
}

/* Length of the separator at q after a cue ("is", ":", ...; a word only as a whole word), or 0. */
static size_t sep_at(const char *q)
{
	for (size_t i = 0; i < sizeof(seps) / sizeof(seps[0]); i++) {
		size_t sl = strlen(seps[i]);
		if (!strncasecmp(q, seps[i], sl) &&
		    (sl == 0 || !isalpha((unsigned char)seps[i][sl - 1]) || !isalpha((unsigned char)q[sl])))
			return sl;
	}
	return 0;
}

/* The number after the last answer cue that has one. 1 if found. */
static int find_after_cue(const char *t, struct num *out)
{
	int found = 0;

	for (const char *p = t; *p; p++) {
		size_t len = 0, k;
		if (p > t && isalnum((unsigned char)p[-1]))
			continue;
		if (!(len = cue_at(p)))
			continue;
		const char *q = skip_sp(p + len);
		k = sep_at(q);
		/* Without a separator only "final answer" and "####" lead to the value. */
		if (k == 0 && !strchr("#Ff", *p))
			continue;
		q += k;
		while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r' || *q == '*' || *q == ':')
			q++;
		/* The value follows its cue closely: look at most CUE_REACH bytes on. */
		const char *e = q;
		while (*e && *e != '\n' && e - q < CUE_REACH)
			e++;
		struct num n;
		if (find_number(q, e, 0, &n)) {
			*out = n;
			found = 1;
		}
		p += len - 1;
	}
	return found;
}

static int numeric_grade(const struct grade_input *in, struct grade_result *out)
{
	struct grade_settings defs;
	const struct grade_settings *s = in->settings;
	char *text = NULL, *box = NULL;
	struct num ref, ans;
	const char *how;
	char shown[48], refshown[48];
	int had_thinking = 0, rc = 0;

	if (!s) {
		grade_settings_init(&defs);
		s = &defs;
	}
	if (!in->reference || !reference_value(in->reference, &ref)) {
		grade_set(out, -1, "", "reference '%.60s' is not a single number",
			  in->reference ? in->reference : "(none)");
		rc = -1;
		goto out;
	}
	text = grade_strip_thinking(in->answer, &had_thinking);
	box = grade_last_boxed(text);
	if (box) {
		how = "boxed";
		if (!value_of(box, &ans)) {
			grade_set(out, 0, "", "boxed answer '%.60s' has no number", box);
			goto out;
		}
	} else if (find_after_cue(text, &ans)) {
		how = "answer statement";
	} else if (find_number(text, text + strlen(text), 1, &ans)) {
		how = "last number";
	} else {
		const char *p = text;
		while (isspace((unsigned char)*p))
			p++;
		grade_set(out, 0, "", "%s", !*p && had_thinking ? "no answer after thinking" :
						 !*p ? "empty answer" : "no number found");
		goto out;
	}

	snprintf(shown, sizeof(shown), "%.*s", (int)(ans.len < 40 ? ans.len : 40), ans.start);
	snprintf(refshown, sizeof(refshown), "%.*s", (int)(ref.len < 40 ? ref.len : 40), ref.start);
	double a = ans.v, r = ref.v;
	double tol = fmax(s->abs_tol, s->rel_tol * fmax(fabs(a), fabs(r)));
	int eq = fabs(a - r) <= tol;
	/* One side a percentage, the other not: 12% also matches 0.12. */
	if (!eq && ans.percent != ref.percent) {
		double a2 = ans.percent ? a / 100 : a, r2 = ref.percent ? r / 100 : r;
		double tol2 = fmax(s->abs_tol, s->rel_tol * fmax(fabs(a2), fabs(r2)));
		eq = fabs(a2 - r2) <= tol2;
	}
	if (eq)
		grade_set(out, 1, shown, "number %s (%s) vs reference %s: equal within tol (rel %g, abs %g)",
			  shown, how, refshown, s->rel_tol, s->abs_tol);
	else
		grade_set(out, 0, shown, "number %s (%s) vs reference %s: differ by %g (rel %g, abs %g)",
			  shown, how, refshown, fabs(a - r), s->rel_tol, s->abs_tol);
out:
	free(box);
	free(text);
	return rc;
}

const struct grader grader_numeric = {
	.name = "numeric",
	.grade = numeric_grade,
};
