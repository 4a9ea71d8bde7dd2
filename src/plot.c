/*
 * plot.c - draws the charts of plot.h with cairo onto an image surface (PNG)
 * or an SVG surface: axes with "nice" ticks, a grid, the series, a legend.
 * One drawing routine serves both outputs, so PNG and SVG always agree.
 */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>
#include <cairo-svg.h>

#include "util.h"

#define ML 84.0   /* margins: left, right, top, bottom */
#define MR 24.0
#define MT 44.0
#define MB 64.0

static const double palette[][3] = {
	{0.122, 0.467, 0.706}, {1.000, 0.498, 0.055}, {0.173, 0.627, 0.173}, {0.839, 0.153, 0.157},
	{0.580, 0.404, 0.741}, {0.549, 0.337, 0.294}, {0.890, 0.467, 0.761}, {0.498, 0.498, 0.498},
	{0.737, 0.741, 0.133}, {0.090, 0.745, 0.812},
};
#define NPAL (sizeof(palette) / sizeof(palette[0]))

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static double *dup_arr(const double *v, size_t n)
{
	double *c;
	if (!v)
		return NULL;
	c = xmalloc((n ? n : 1) * sizeof(*c));
	memcpy(c, v, n * sizeof(*c));
	return c;
}

void plot_init(struct plot *p, const char *title, const char *xlabel, const char *ylabel)
{
	memset(p, 0, sizeof(*p));
	p->title = dup_or_null(title);
	p->xlabel = dup_or_null(xlabel);
	p->ylabel = dup_or_null(ylabel);
	p->xmin = p->xmax = p->ymin = p->ymax = NAN;
	p->width = 820;
	p->height = 480;
}

void plot_release(struct plot *p)
{
	for (size_t i = 0; i < p->ns; i++) {
		struct plot_series *s = &p->s[i];
		free(s->label);
		free(s->x);
		free(s->y);
		free(s->lo);
		free(s->hi);
		for (size_t j = 0; s->text && j < s->n; j++)
			free(s->text[j]);
		free(s->text);
	}
	free(p->s);
	for (size_t i = 0; i < p->ncat; i++)
		free(p->categories[i]);
	free(p->categories);
	free(p->title);
	free(p->xlabel);
	free(p->ylabel);
	memset(p, 0, sizeof(*p));
}

struct plot_series *plot_add(struct plot *p, enum plot_kind kind, const char *label, size_t n,
			     const double *x, const double *y, const double *lo, const double *hi)
{
	struct plot_series *s;
	p->s = xrealloc(p->s, (p->ns + 1) * sizeof(*p->s));
	s = &p->s[p->ns];
	memset(s, 0, sizeof(*s));
	s->label = dup_or_null(label);
	s->kind = kind;
	s->n = n;
	s->x = dup_arr(x, n);
	s->y = dup_arr(y, n);
	s->lo = dup_arr(lo, n);
	s->hi = dup_arr(hi, n);
	s->color = (int)p->ns;
	p->ns++;
	return s;
}

void plot_series_text(struct plot_series *s, const char *const *text)
{
	s->text = xcalloc(s->n ? s->n : 1, sizeof(*s->text));
	for (size_t i = 0; i < s->n; i++)
		s->text[i] = dup_or_null(text[i]);
}

void plot_set_categories(struct plot *p, const char *const *names, size_t n)
{
	p->categories = xcalloc(n ? n : 1, sizeof(*p->categories));
	for (size_t i = 0; i < n; i++)
		p->categories[i] = xstrdup(names[i] ? names[i] : "");
	p->ncat = n;
}

/* ---- layout ---- */

struct frame {
	double x0, x1, y0, y1;   /* data range */
	double px0, px1, py0, py1; /* plot area in device units (py0 top) */
	int nbars;               /* bar series (for grouping) */
	int rotate;              /* category labels drawn slanted (they would overlap) */
};

/* Widest category label as drawn (truncated to 20 characters). */
static double category_width(cairo_t *cr, const struct plot *p)
{
	cairo_text_extents_t e;
	double w = 0;
	char name[24];
	cairo_set_font_size(cr, 11);
	for (size_t i = 0; i < p->ncat; i++) {
		snprintf(name, sizeof(name), strlen(p->categories[i]) > 20 ? "%.18s.." : "%s", p->categories[i]);
		cairo_text_extents(cr, name, &e);
		w = fmax(w, e.x_advance);
	}
	return w;
}

static void grow(double *lo, double *hi, double v)
{
	if (!isfinite(v))
		return;
	if (isnan(*lo) || v < *lo)
		*lo = v;
	if (isnan(*hi) || v > *hi)
		*hi = v;
}

static double nice_step(double range, int target)
{
	double raw = range / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
	return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

/* Width of the legend column right of the plot area (0 without labels). */
static double legend_width(cairo_t *cr, const struct plot *p)
{
	cairo_text_extents_t e;
	double w = 0;
	cairo_set_font_size(cr, 11);
	for (size_t i = 0; i < p->ns; i++)
		if (p->s[i].label) {
			cairo_text_extents(cr, p->s[i].label, &e);
			w = fmax(w, e.x_advance);
		}
	return w > 0 ? w + 40 : 0;
}

static void fit_frame(cairo_t *cr, const struct plot *p, struct frame *f)
{
	double x0 = NAN, x1 = NAN, y0 = NAN, y1 = NAN;

	f->nbars = 0;
	for (size_t i = 0; i < p->ns; i++) {
		const struct plot_series *s = &p->s[i];
		if (s->kind == PLOT_BARS) {
			f->nbars++;
			grow(&y0, &y1, 0);
		}
		for (size_t j = 0; j < s->n; j++) {
			grow(&x0, &x1, s->x[j]);
			if (s->kind == PLOT_SPANS) {
				grow(&x0, &x1, s->y[j]);
				continue;
			}
			grow(&y0, &y1, s->y[j]);
			if (s->lo)
				grow(&y0, &y1, s->lo[j]);
			if (s->hi)
				grow(&y0, &y1, s->hi[j]);
		}
	}
	if (p->ncat) {
		x0 = -0.5;
		x1 = (double)p->ncat - 0.5;
	}
	if (isnan(x0))
		x0 = 0, x1 = 1;
	if (isnan(y0))
		y0 = 0, y1 = 1;
	if (x1 - x0 <= 0)
		x0 -= 0.5, x1 += 0.5;
	if (y1 - y0 <= 0) {
		double d = fabs(y0) > 0 ? fabs(y0) * 0.1 : 0.5;
		y0 -= d, y1 += d;
	}
	if (!p->ncat) {
		double pad = (x1 - x0) * 0.04;
		x0 -= pad, x1 += pad;
	}
	{
		double pad = (y1 - y0) * 0.06;
		if (y0 != 0)
			y0 -= pad;
		y1 += pad;
	}
	f->x0 = isnan(p->xmin) ? x0 : p->xmin;
	f->x1 = isnan(p->xmax) ? x1 : p->xmax;
	f->y0 = isnan(p->ymin) ? y0 : p->ymin;
	f->y1 = isnan(p->ymax) ? y1 : p->ymax;
	f->px0 = ML;
	f->px1 = p->width - MR - legend_width(cr, p);
	f->py0 = MT;
	f->py1 = p->height - MB;
	f->rotate = 0;
	if (p->ncat) {
		double w = category_width(cr, p), slot = (f->px1 - f->px0) / (double)p->ncat;
		if (w > slot - 6) {
			/* slanted at 60 degrees: the labels need w sin 60 below the axis */
			f->rotate = 1;
			f->py1 -= fmin(w * 0.87, p->height / 3.0) - 12;
		}
	}
}

static double X(const struct frame *f, double x)
{
	return f->px0 + (x - f->x0) / (f->x1 - f->x0) * (f->px1 - f->px0);
}

static double Y(const struct frame *f, double y)
{
	return f->py1 - (y - f->y0) / (f->y1 - f->y0) * (f->py1 - f->py0);
}

static void set_color(cairo_t *cr, int k, double alpha)
{
	const double *c = palette[(size_t)k % NPAL];
	cairo_set_source_rgba(cr, c[0], c[1], c[2], alpha);
}

/*
 * SVG keeps text as text: while an SVG is drawn, text_at records each label
 * (position in SVG units, size, weight, colour, rotation) on the cairo
 * context instead of drawing glyph outlines, and plot_write_svg writes them
 * as <text> elements. PNGs draw glyphs.
 */
static const cairo_user_data_key_t svg_text_key;

static void svg_text(struct buf *log, cairo_t *cr, const char *s, double x, double y)
{
	cairo_matrix_t m;
	cairo_font_face_t *ff = cairo_get_font_face(cr);
	double r = 0, g = 0, b = 0, a = 1, size, deg;
	int bold = cairo_font_face_get_type(ff) == CAIRO_FONT_TYPE_TOY &&
		   cairo_toy_font_face_get_weight(ff) == CAIRO_FONT_WEIGHT_BOLD;

	cairo_get_font_matrix(cr, &m);
	size = hypot(m.xx, m.yx);
	cairo_pattern_get_rgba(cairo_get_source(cr), &r, &g, &b, &a);
	cairo_get_matrix(cr, &m);
	deg = atan2(m.yx, m.xx) * 180 / M_PI;
	cairo_user_to_device(cr, &x, &y);
	buf_appendf(log, "<text x=\"%.2f\" y=\"%.2f\" font-family=\"DejaVu Sans, sans-serif\" font-size=\"%.2f\"%s "
		    "fill=\"rgb(%d,%d,%d)\"", x, y, size, bold ? " font-weight=\"bold\"" : "", (int)lround(255 * r),
		    (int)lround(255 * g), (int)lround(255 * b));
	if (fabs(deg) > 1e-9)
		buf_appendf(log, " transform=\"rotate(%.2f %.2f %.2f)\"", deg, x, y);
	buf_appends(log, ">");
	for (const char *c = s; *c; c++)
		if (*c == '<')
			buf_appends(log, "&lt;");
		else if (*c == '>')
			buf_appends(log, "&gt;");
		else if (*c == '&')
			buf_appends(log, "&amp;");
		else
			buf_append(log, c, 1);
	buf_appends(log, "</text>\n");
}

static void text_at(cairo_t *cr, const char *s, double x, double y, double ax, double ay)
{
	cairo_text_extents_t e;
	struct buf *log = cairo_get_user_data(cr, &svg_text_key);
	cairo_text_extents(cr, s, &e);
	x -= e.width * ax + e.x_bearing;
	y -= e.height * ay + e.y_bearing;
	if (log) {
		svg_text(log, cr, s, x, y);
		return;
	}
	cairo_move_to(cr, x, y);
	cairo_show_text(cr, s);
}

void plot_format_si(char *buf, size_t n, double v, int digits)
{
	static const char *const pre[] = {"p", "n", "\xc2\xb5", "m", "", "k", "M", "G", "T", "P", "E", "Z", "Y"};
	int k = 4;
	double a = fabs(v);

	if (!isfinite(v)) {
		snprintf(buf, n, "-");
		return;
	}
	if (a > 0) {
		while (a >= 1000 && k < 12)
			a /= 1000, v /= 1000, k++;
		while (a < 1 && k > 0)
			a *= 1000, v *= 1000, k--;
	}
	snprintf(buf, n, *pre[k] ? "%.*g %s" : "%.*g", digits, v, pre[k]);
}

/* Tick labels: percentages, plain numbers, or with an SI prefix outside 0.01 .. 10000 (as the report's tables). */
static void tick_label(char *buf, size_t n, double v, double step, int percent, int si)
{
	if (fabs(v) < step * 1e-9)
		v = 0;
	if (percent)
		snprintf(buf, n, "%g%%", round(v * 100 * 1e6) / 1e6);
	else if (v != 0 && (si || fabs(v) >= 1e4 || fabs(v) < 1e-2))
		plot_format_si(buf, n, v, 3);
	else
		snprintf(buf, n, "%g", v);
}

static void draw_axes(cairo_t *cr, const struct plot *p, const struct frame *f)
{
	char buf[64];
	double step;

	cairo_set_font_size(cr, 11);
	/* y grid and ticks */
	step = nice_step(f->y1 - f->y0, 6);
	for (double v = ceil(f->y0 / step) * step; v <= f->y1 + step * 1e-9; v += step) {
		double y = Y(f, v);
		cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
		cairo_move_to(cr, f->px0, y);
		cairo_line_to(cr, f->px1, y);
		cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
		tick_label(buf, sizeof(buf), v, step, p->y_percent, p->y_si);
		text_at(cr, buf, f->px0 - 6, y, 1, 0.5);
	}
	/* x ticks: categories or numbers */
	if (p->ncat) {
		for (size_t i = 0; i < p->ncat; i++) {
			char name[24];
			snprintf(name, sizeof(name), strlen(p->categories[i]) > 20 ? "%.18s.." : "%s", p->categories[i]);
			cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
			if (f->rotate) {
				cairo_save(cr);
				cairo_translate(cr, X(f, (double)i) + 4, f->py1 + 6);
				cairo_rotate(cr, -M_PI / 3);
				text_at(cr, name, 0, 0, 1, 0.5);
				cairo_restore(cr);
			} else {
				text_at(cr, name, X(f, (double)i), f->py1 + 6, 0.5, 0);
			}
		}
	} else {
		step = nice_step(f->x1 - f->x0, 8);
		for (double v = ceil(f->x0 / step) * step; v <= f->x1 + step * 1e-9; v += step) {
			double x = X(f, v);
			cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
			cairo_move_to(cr, x, f->py0);
			cairo_line_to(cr, x, f->py1);
			cairo_stroke(cr);
			cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
			tick_label(buf, sizeof(buf), v, step, 0, p->x_si);
			text_at(cr, buf, x, f->py1 + 6, 0.5, 0);
		}
	}
	/* frame */
	cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
	cairo_rectangle(cr, f->px0, f->py0, f->px1 - f->px0, f->py1 - f->py0);
	cairo_stroke(cr);
	/* labels */
	cairo_set_font_size(cr, 12);
	if (p->xlabel)
		text_at(cr, p->xlabel, (f->px0 + f->px1) / 2, p->height - 14, 0.5, 1);
	if (p->ylabel) {
		cairo_save(cr);
		cairo_translate(cr, 18, (f->py0 + f->py1) / 2);
		cairo_rotate(cr, -M_PI / 2);
		text_at(cr, p->ylabel, 0, 0, 0.5, 0.5);
		cairo_restore(cr);
	}
	if (p->title) {
		cairo_set_font_size(cr, 15);
		cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
		text_at(cr, p->title, (f->px0 + f->px1) / 2, 14, 0.5, 0);
		cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	}
}

static void errbar(cairo_t *cr, double x, double lo, double hi)
{
	cairo_move_to(cr, x, lo);
	cairo_line_to(cr, x, hi);
	cairo_move_to(cr, x - 4, lo);
	cairo_line_to(cr, x + 4, lo);
	cairo_move_to(cr, x - 4, hi);
	cairo_line_to(cr, x + 4, hi);
	cairo_stroke(cr);
}

/* Shaded x ranges [x, y), drawn first, under everything. */
static void draw_spans(cairo_t *cr, const struct plot_series *s, const struct frame *f)
{
	set_color(cr, s->color, 0.18);
	for (size_t j = 0; j < s->n; j++)
		if (isfinite(s->x[j]) && isfinite(s->y[j])) {
			double a = X(f, s->x[j]), b = X(f, s->y[j]);
			cairo_rectangle(cr, a, f->py0, fmax(b - a, 0.6), f->py1 - f->py0);
		}
	cairo_fill(cr);
}

static void draw_line(cairo_t *cr, const struct plot_series *s, const struct frame *f);

/* A shaded band from lo to hi along x with its middle y as a thin line; a point not finite breaks it. */
static void draw_band(cairo_t *cr, const struct plot_series *s, const struct frame *f)
{
	if (!s->lo || !s->hi)
		return;
	set_color(cr, s->color, 0.2);
	for (size_t j = 0; j < s->n;) {
		size_t e = j;
		while (e < s->n && isfinite(s->x[e]) && isfinite(s->lo[e]) && isfinite(s->hi[e]))
			e++;
		if (e > j) {
			cairo_move_to(cr, X(f, s->x[j]), Y(f, s->hi[j]));
			for (size_t k = j + 1; k < e; k++)
				cairo_line_to(cr, X(f, s->x[k]), Y(f, s->hi[k]));
			for (size_t k = e; k-- > j;)
				cairo_line_to(cr, X(f, s->x[k]), Y(f, s->lo[k]));
			cairo_close_path(cr);
			cairo_fill(cr);
		}
		j = e > j ? e : j + 1;
	}
	{
		struct plot_series mid = *s;
		mid.dashed = 2;   /* dotted: apart from a dashed series of the same colour */
		draw_line(cr, &mid, f);
	}
}

/* A polyline, broken where a point is not finite. */
static void draw_line(cairo_t *cr, const struct plot_series *s, const struct frame *f)
{
	int pen = 0;
	set_color(cr, s->color, 1);
	cairo_set_line_width(cr, 1.8);
	if (s->dashed) {
		double d[] = {6, 4}, dot[] = {1.5, 3};
		cairo_set_dash(cr, s->dashed == 2 ? dot : d, 2, 0);
	}
	for (size_t j = 0; j < s->n; j++) {
		if (!isfinite(s->x[j]) || !isfinite(s->y[j])) {
			pen = 0;
			continue;
		}
		if (pen)
			cairo_line_to(cr, X(f, s->x[j]), Y(f, s->y[j]));
		else
			cairo_move_to(cr, X(f, s->x[j]), Y(f, s->y[j]));
		pen = 1;
	}
	cairo_stroke(cr);
	cairo_set_dash(cr, NULL, 0, 0);
	cairo_set_line_width(cr, 1);
}

/* A point's label, right of it, or left where it would cross the frame's right edge. */
static void point_label(cairo_t *cr, const char *text, double x, double y, const struct frame *f)
{
	cairo_text_extents_t e;
	cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
	cairo_set_font_size(cr, 10.5);
	cairo_text_extents(cr, text, &e);
	if (x + 7 + e.x_advance > f->px1 - 2)
		text_at(cr, text, x - 7, y - 4, 1, 1);
	else
		text_at(cr, text, x + 7, y - 4, 0, 1);
}

/* Dots with their error bars and labels; many points are drawn smaller and fainter. */
static void draw_points(cairo_t *cr, const struct plot_series *s, const struct frame *f)
{
	for (size_t j = 0; j < s->n; j++) {
		double x, y;
		if (!isfinite(s->x[j]) || !isfinite(s->y[j]))
			continue;
		x = X(f, s->x[j]);
		y = Y(f, s->y[j]);
		if (s->lo && s->hi && isfinite(s->lo[j]) && isfinite(s->hi[j])) {
			set_color(cr, s->color, 0.9);
			cairo_set_line_width(cr, 1.2);
			errbar(cr, x, Y(f, s->lo[j]), Y(f, s->hi[j]));
			cairo_set_line_width(cr, 1);
		}
		set_color(cr, s->color, s->n > 500 ? 0.35 : 0.9);
		cairo_arc(cr, x, y, s->n > 500 ? 2 : 4, 0, 2 * M_PI);
		cairo_fill(cr);
		if (s->text && s->text[j])
			point_label(cr, s->text[j], x, y, f);
	}
}

/* Bar series share a group of this width (in x units) around each x. */
#define BAR_GROUP 0.8

/* The bar_k-th bar series: bars of width bw side by side within the group around each x. */
static void draw_bars(cairo_t *cr, const struct plot_series *s, const struct frame *f, int bar_k, double bw)
{
	double off = -BAR_GROUP / 2 + bw * (bar_k + 0.5);
	for (size_t j = 0; j < s->n; j++) {
		double xc, y0, y1;
		if (!isfinite(s->x[j]) || !isfinite(s->y[j]))
			continue;
		xc = X(f, s->x[j] + off);
		y0 = Y(f, fmax(0, f->y0));
		y1 = Y(f, s->y[j]);
		set_color(cr, s->color, 0.85);
		cairo_rectangle(cr, xc - (X(f, bw) - X(f, 0)) / 2 + 0.5, fmin(y0, y1), X(f, bw) - X(f, 0) - 1,
				fabs(y0 - y1));
		cairo_fill(cr);
		if (s->lo && s->hi && isfinite(s->lo[j]) && isfinite(s->hi[j])) {
			cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
			errbar(cr, xc, Y(f, s->lo[j]), Y(f, s->hi[j]));
		}
	}
}

static void draw_series(cairo_t *cr, const struct plot *p, const struct frame *f)
{
	int bar_k = 0;
	double bw = f->nbars ? BAR_GROUP / f->nbars : BAR_GROUP;

	cairo_save(cr);
	cairo_rectangle(cr, f->px0, f->py0, f->px1 - f->px0, f->py1 - f->py0);
	cairo_clip(cr);
	for (size_t i = 0; i < p->ns; i++)
		if (p->s[i].kind == PLOT_SPANS)
			draw_spans(cr, &p->s[i], f);
	for (size_t i = 0; i < p->ns; i++)
		if (p->s[i].kind == PLOT_BAND)
			draw_band(cr, &p->s[i], f);
	for (size_t i = 0; i < p->ns; i++) {
		const struct plot_series *s = &p->s[i];
		switch (s->kind) {
		case PLOT_SPANS:
		case PLOT_BAND:
			break;
		case PLOT_LINE:
			draw_line(cr, s, f);
			break;
		case PLOT_POINTS:
			draw_points(cr, s, f);
			break;
		case PLOT_BARS:
			draw_bars(cr, s, f, bar_k++, bw);
			break;
		}
	}
	cairo_restore(cr);
}

static void draw_legend(cairo_t *cr, const struct plot *p, const struct frame *f)
{
	double w = 0, y, x;
	int n = 0;
	cairo_text_extents_t e;

	cairo_set_font_size(cr, 11);
	for (size_t i = 0; i < p->ns; i++)
		if (p->s[i].label) {
			cairo_text_extents(cr, p->s[i].label, &e);
			w = fmax(w, e.x_advance);
			n++;
		}
	if (!n)
		return;
	x = f->px1 + 14;
	y = f->py0 + 2;
	cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
	cairo_rectangle(cr, x - 6, y - 4, w + 36, n * 16 + 6);
	cairo_fill(cr);
	for (size_t i = 0; i < p->ns; i++) {
		const struct plot_series *s = &p->s[i];
		if (!s->label)
			continue;
		set_color(cr, s->color, s->kind == PLOT_SPANS || s->kind == PLOT_BAND ? 0.3 : 0.9);
		if (s->kind == PLOT_LINE) {
			cairo_set_line_width(cr, 2);
			if (s->dashed) {
				double d[] = {4, 3};
				cairo_set_dash(cr, d, 2, 0);
			}
			cairo_move_to(cr, x, y + 6);
			cairo_line_to(cr, x + 18, y + 6);
			cairo_stroke(cr);
			cairo_set_dash(cr, NULL, 0, 0);
			cairo_set_line_width(cr, 1);
		} else if (s->kind == PLOT_POINTS) {
			cairo_arc(cr, x + 9, y + 6, 4, 0, 2 * M_PI);
			cairo_fill(cr);
		} else {
			cairo_rectangle(cr, x + 2, y + 1, 14, 10);
			cairo_fill(cr);
		}
		cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
		text_at(cr, s->label, x + 24, y + 6, 0, 0.5);
		y += 16;
	}
}

static void draw(cairo_t *cr, const struct plot *p)
{
	struct frame f;

	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	fit_frame(cr, p, &f);
	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_paint(cr);
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_line_width(cr, 1);
	draw_axes(cr, p, &f);
	draw_series(cr, p, &f);
	draw_legend(cr, p, &f);
}

static int surface_check(cairo_surface_t *sf, const char *what, char *err, size_t errlen)
{
	cairo_status_t st = cairo_surface_status(sf);
	if (st != CAIRO_STATUS_SUCCESS)
		return err_set(err, errlen, "%s: %s", what, cairo_status_to_string(st));
	return 0;
}

/* PNGs are drawn at PLOT_PNG_SCALE x the plot's size, so they stay sharp on high-density screens. */
static cairo_surface_t *render_image(const struct plot *p)
{
	cairo_surface_t *sf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, PLOT_PNG_SCALE * p->width,
							 PLOT_PNG_SCALE * p->height);
	cairo_t *cr = cairo_create(sf);
	cairo_scale(cr, PLOT_PNG_SCALE, PLOT_PNG_SCALE);
	draw(cr, p);
	cairo_destroy(cr);
	return sf;
}

int plot_write_png(const struct plot *p, const char *path, char *err, size_t errlen)
{
	cairo_surface_t *sf = render_image(p);
	cairo_status_t st;
	int rc = surface_check(sf, path, err, errlen);

	if (rc == 0 && (st = cairo_surface_write_to_png(sf, path)) != CAIRO_STATUS_SUCCESS)
		rc = err_set(err, errlen, "cannot write '%s': %s", path, cairo_status_to_string(st));
	cairo_surface_destroy(sf);
	return rc;
}

static cairo_status_t to_buf(void *closure, const unsigned char *data, unsigned int length);

int plot_write_svg(const struct plot *p, const char *path, char *err, size_t errlen)
{
	struct buf svg, text;
	cairo_surface_t *sf;
	cairo_t *cr;
	char *end;
	FILE *f;
	int rc;

	buf_init(&svg, 0);
	buf_init(&text, 0);
	sf = cairo_svg_surface_create_for_stream(to_buf, &svg, p->width, p->height);
	if ((rc = surface_check(sf, path, err, errlen)) < 0)
		goto out;
	cr = cairo_create(sf);
	cairo_set_user_data(cr, &svg_text_key, &text, NULL);
	draw(cr, p);
	cairo_destroy(cr);
	cairo_surface_finish(sf);
	if ((rc = surface_check(sf, path, err, errlen)) < 0)
		goto out;
	buf_append(&svg, "", 1);   /* NUL-terminate */
	end = strstr(svg.data, "</svg>");
	if (!end) {
		rc = err_set(err, errlen, "%s: cairo wrote no </svg>", path);
		goto out;
	}
	if (!(f = fopen(path, "w"))) {
		rc = err_set(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		goto out;
	}
	fwrite(svg.data, 1, (size_t)(end - svg.data), f);
	if (text.len)
		fwrite(text.data, 1, text.len, f);
	fputs(end, f);
	if (fclose(f) != 0)
		rc = err_set(err, errlen, "cannot write '%s': %s", path, strerror(errno));
out:
	cairo_surface_destroy(sf);
	buf_release(&svg);
	buf_release(&text);
	return rc;
}

static cairo_status_t to_buf(void *closure, const unsigned char *data, unsigned int length)
{
	return buf_append(closure, data, length) < 0 ? CAIRO_STATUS_WRITE_ERROR : CAIRO_STATUS_SUCCESS;
}

int plot_png_data(const struct plot *p, unsigned char **data, size_t *len, char *err, size_t errlen)
{
	cairo_surface_t *sf = render_image(p);
	struct buf b;
	cairo_status_t st;
	int rc = surface_check(sf, "plot", err, errlen);

	buf_init(&b, 0);
	*data = NULL;
	*len = 0;
	if (rc == 0 && (st = cairo_surface_write_to_png_stream(sf, to_buf, &b)) != CAIRO_STATUS_SUCCESS)
		rc = err_set(err, errlen, "encoding a plot as PNG: %s", cairo_status_to_string(st));
	if (rc == 0) {
		*len = b.len;
		*data = (unsigned char *)buf_detach(&b);
	}
	buf_release(&b);
	cairo_surface_destroy(sf);
	return rc;
}
