/*
 * test_plot.c - the cairo charts: every series kind (spans, solid and dashed
 * lines broken at NAN, points with error bars and labels, many small points,
 * grouped bars with error bars over categories) renders to PNG and SVG,
 * deterministically, and each feature changes what is drawn.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plot.h"

static char err[256];

/*
 * Under LeakSanitizer: fontconfig keeps its cache until FcFini(), which cairo
 * never calls; not a leak of ipw (as tests/data/lsan-fontconfig.supp says).
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libfontconfig.so\n";
}

static unsigned char *png(const struct plot *p, size_t *len)
{
	unsigned char *data = NULL;
	cr_assert_eq(plot_png_data(p, &data, len, err, sizeof(err)), 0, "%s", err);
	cr_assert_gt(*len, 8);
	cr_assert_eq(memcmp(data, "\x89PNG\r\n\x1a\n", 8), 0);
	return data;
}

static int same_png(const struct plot *a, const struct plot *b)
{
	size_t la, lb;
	unsigned char *x = png(a, &la), *y = png(b, &lb);
	int same = la == lb && !memcmp(x, y, la);
	free(x);
	free(y);
	return same;
}

static void frame(struct plot *p)
{
	plot_init(p, "Title", "x", "y");
	p->xmin = 0;
	p->xmax = 10;
	p->ymin = 0;
	p->ymax = 10;
}

/* One plot with a series of each kind and every option. */
static void everything(struct plot *p)
{
	static const double sx[] = {1, 6}, sy[] = {2, 6.2};
	static const double lx[] = {0, 2, NAN, 4, 8}, ly[] = {1, 3, 5, 2, 9}, dy[] = {2, 4, 6, 3, 8};
	static const double px[] = {2, 5, 9.8}, py[] = {4, 6, 8}, plo[] = {3, 5, NAN}, phi[] = {5, 7, 9};
	static const char *const labels[] = {"left", NULL, "at the right edge"};
	static const double bx[] = {0, 1, 2}, by[] = {3, 5, 4}, blo[] = {2, 4, 3}, bhi[] = {4, 6, 5};
	const char *const cats[] = {"a", "b", "c"};
	double many_x[600], many_y[600];
	for (int i = 0; i < 600; i++) {
		many_x[i] = i / 60.0;
		many_y[i] = 5 + 4 * sin(i / 30.0);
	}
	frame(p);
	plot_add(p, PLOT_SPANS, "spans", 2, sx, sy, NULL, NULL);
	plot_add(p, PLOT_LINE, "solid", 5, lx, ly, NULL, NULL);
	plot_add(p, PLOT_LINE, "dashed", 5, lx, dy, NULL, NULL)->dashed = 1;
	plot_add(p, PLOT_BAND, "band", 5, lx, ly, ly, dy);
	plot_series_text(plot_add(p, PLOT_POINTS, "points", 3, px, py, plo, phi), labels);
	plot_add(p, PLOT_POINTS, NULL, 600, many_x, many_y, NULL, NULL);
	plot_add(p, PLOT_BARS, "bars 1", 3, bx, by, blo, bhi);
	plot_add(p, PLOT_BARS, "bars 2", 3, bx, py, NULL, NULL);
	plot_set_categories(p, cats, 3);
}

Test(plot, every_kind_renders_to_png_and_svg)
{
	struct plot p;
	char path[] = "/tmp/ipw-test-plot-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;
	char head[6] = "";
	cr_assert_geq(fd, 0);
	close(fd);
	everything(&p);
	cr_assert(same_png(&p, &p), "rendering is deterministic");
	cr_assert_eq(plot_write_png(&p, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(plot_write_svg(&p, path, err, sizeof(err)), 0, "%s", err);
	f = fopen(path, "r");
	cr_assert(f);
	cr_assert_eq(fread(head, 1, 5, f), 5);
	fclose(f);
	cr_assert_str_eq(head, "<?xml");
	plot_release(&p);
	unlink(path);
}

/* Each series kind and option draws something: the image differs without it. */
Test(plot, each_feature_is_drawn)
{
	static const double x[] = {2, 5, 8}, y[] = {3, 6, 4}, lo[] = {2, 5, 3}, hi[] = {4, 7, 5};
	static const double gap[] = {NAN, NAN, NAN};
	static const char *const text[] = {"a", "b", "c"};
	static const enum plot_kind kinds[] = {PLOT_SPANS, PLOT_LINE, PLOT_POINTS, PLOT_BARS};
	struct plot empty, a, b;
	frame(&empty);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		frame(&a);
		plot_add(&a, kinds[k], NULL, 3, x, y, NULL, NULL);
		cr_assert_not(same_png(&empty, &a), "kind %d draws nothing", (int)kinds[k]);
		frame(&b);
		plot_add(&b, kinds[k], NULL, 3, x, gap, NULL, NULL);
		cr_assert(same_png(&empty, &b), "kind %d draws a NAN point", (int)kinds[k]);
		plot_release(&a);
		plot_release(&b);
	}
	/* error bars on points and bars, labels on points, dashes on lines */
	for (int k = 0; k < 2; k++) {
		enum plot_kind kind = k ? PLOT_BARS : PLOT_POINTS;
		frame(&a);
		plot_add(&a, kind, NULL, 3, x, y, NULL, NULL);
		frame(&b);
		plot_add(&b, kind, NULL, 3, x, y, lo, hi);
		cr_assert_not(same_png(&a, &b), "error bars of kind %d not drawn", (int)kind);
		plot_release(&a);
		plot_release(&b);
	}
	frame(&a);
	plot_add(&a, PLOT_POINTS, NULL, 3, x, y, NULL, NULL);
	frame(&b);
	plot_series_text(plot_add(&b, PLOT_POINTS, NULL, 3, x, y, NULL, NULL), text);
	cr_assert_not(same_png(&a, &b), "point labels not drawn");
	plot_release(&a);
	plot_release(&b);
	frame(&a);
	plot_add(&a, PLOT_LINE, NULL, 3, x, y, NULL, NULL);
	frame(&b);
	plot_add(&b, PLOT_LINE, NULL, 3, x, y, NULL, NULL)->dashed = 1;
	cr_assert_not(same_png(&a, &b), "dashes not drawn");
	plot_release(&a);
	plot_release(&b);
	plot_release(&empty);
}

/*
 * A band is its dotted middle line plus the shading from lo to hi; all-NAN
 * bounds shade nothing, and a band without bounds draws nothing.
 */
Test(plot, band_shades_between_lo_and_hi)
{
	static const double x[] = {2, 5, 8}, y[] = {3, 6, 4}, lo[] = {2, 5, 3}, hi[] = {4, 7, 5};
	static const double gap[] = {NAN, NAN, NAN};
	struct plot empty, line, band, none, unbounded;
	frame(&empty);
	frame(&line);
	plot_add(&line, PLOT_LINE, NULL, 3, x, y, NULL, NULL)->dashed = 2;
	frame(&band);
	plot_add(&band, PLOT_BAND, NULL, 3, x, y, lo, hi);
	frame(&none);
	plot_add(&none, PLOT_BAND, NULL, 3, x, y, gap, gap);
	frame(&unbounded);
	plot_add(&unbounded, PLOT_BAND, NULL, 3, x, y, NULL, NULL);
	cr_assert_not(same_png(&line, &band), "the band is not shaded");
	cr_assert(same_png(&line, &none), "NAN bounds are shaded");
	cr_assert(same_png(&empty, &unbounded), "a band without bounds draws something");
	plot_release(&line);
	plot_release(&band);
	plot_release(&none);
	plot_release(&unbounded);
	plot_release(&empty);
}

/* PNGs are drawn at twice the plot's size (PLOT_PNG_SCALE): the IHDR says 1640 x 960 for 820 x 480. */
Test(plot, png_is_twice_the_plot_size)
{
	struct plot p;
	double x[] = {0, 1}, y[] = {1, 2};
	unsigned char *d;
	size_t len;
	unsigned w, h;

	plot_init(&p, "t", "x", "y");
	plot_add(&p, PLOT_LINE, "l", 2, x, y, NULL, NULL);
	d = png(&p, &len);
	cr_assert_gt(len, 24);
	w = (unsigned)d[16] << 24 | (unsigned)d[17] << 16 | (unsigned)d[18] << 8 | d[19];
	h = (unsigned)d[20] << 24 | (unsigned)d[21] << 16 | (unsigned)d[22] << 8 | d[23];
	cr_assert_eq(PLOT_PNG_SCALE, 2);
	cr_assert_eq(w, 2u * (unsigned)p.width, "width %u", w);
	cr_assert_eq(h, 2u * (unsigned)p.height, "height %u", h);
	free(d);
	plot_release(&p);
}

/* One SI formatter for ticks and the report's tables. */
Test(plot, si_prefixes)
{
	char b[32];
	plot_format_si(b, sizeof(b), 0.02857, 4);
	cr_assert_str_eq(b, "28.57 m");
	plot_format_si(b, sizeof(b), 8e12, 4);
	cr_assert_str_eq(b, "8 T");
	plot_format_si(b, sizeof(b), 150, 4);
	cr_assert_str_eq(b, "150");
	plot_format_si(b, sizeof(b), -1500, 3);
	cr_assert_str_eq(b, "-1.5 k");
	plot_format_si(b, sizeof(b), 0, 3);
	cr_assert_str_eq(b, "0");
	plot_format_si(b, sizeof(b), 4.18e-3, 3);
	cr_assert_str_eq(b, "4.18 m");
	plot_format_si(b, sizeof(b), NAN, 3);
	cr_assert_str_eq(b, "-");
	/* a day of the paper's 80.2M queries at 1.41e14 FLOP each: 1.131e22 = 11.31 Z (up to Y, 1e24) */
	plot_format_si(b, sizeof(b), 1.41e14 * 80.2e6, 4);
	cr_assert_str_eq(b, "11.31 Z");
	plot_format_si(b, sizeof(b), 2e27, 4);
	cr_assert_str_eq(b, "2000 Y");
}

/* SVG keeps text as <text> elements (not glyph outlines), escaped, the title bold, the y label rotated. */
Test(plot, svg_text_is_text)
{
	char why[256], path[] = "/tmp/ipw-plot-svg-XXXXXX", *svg;
	struct plot p;
	double x[] = {0, 1}, y[] = {1, 2};
	FILE *f;
	long len;
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	close(fd);
	plot_init(&p, "Energy <&> power", "x axis", "y axis");
	plot_add(&p, PLOT_LINE, "series one", 2, x, y, NULL, NULL);
	cr_assert_eq(plot_write_svg(&p, path, why, sizeof(why)), 0, "%s", why);
	f = fopen(path, "r");
	cr_assert(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	svg = calloc(1, (size_t)len + 1);
	cr_assert_eq(fread(svg, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	unlink(path);
	cr_assert(strstr(svg, "font-weight=\"bold\" fill=\"rgb(") && strstr(svg, ">Energy &lt;&amp;&gt; power</text>"),
		  "title as bold text, escaped");
	cr_assert(strstr(svg, ">series one</text>") && strstr(svg, ">x axis</text>"));
	cr_assert(strstr(svg, "transform=\"rotate(-90.00"), "the y label is rotated");
	cr_assert_null(strstr(svg, "<symbol"), "no glyph outlines");
	cr_assert(strstr(svg, "</svg>") > strstr(svg, "</text>"), "text inside the document");
	free(svg);
	plot_release(&p);
}

/* Writes p as SVG and returns the file's text (free it). */
static char *svg_of(const struct plot *p)
{
	char why[256], path[] = "/tmp/ipw-plot-si-XXXXXX", *svg;
	FILE *f;
	long len;
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	close(fd);
	cr_assert_eq(plot_write_svg(p, path, why, sizeof(why)), 0, "%s", why);
	f = fopen(path, "r");
	cr_assert(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	svg = calloc(1, (size_t)len + 1);
	cr_assert_eq(fread(svg, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	unlink(path);
	return svg;
}

/*
 * y_si / x_si: every non-zero tick with an SI prefix, as the report's tables
 * print IPW (y 0 ... 0.04 in steps of 0.005: "5 m" ... "40 m"; x 0 ... 2000
 * in steps of 200: "800", "1 k", "1.2 k" ... "2 k"); without them ticks
 * inside 0.01 ... 10^4 stay plain ("0.01", "1000").
 */
Test(plot, si_ticks_when_asked)
{
	struct plot p;
	double x[] = {0, 2000}, y[] = {0, 0.04};
	char *svg;

	plot_init(&p, "t", "x", "y");
	p.xmin = 0, p.xmax = 2000, p.ymin = 0, p.ymax = 0.04;
	plot_add(&p, PLOT_LINE, "s", 2, x, y, NULL, NULL);
	svg = svg_of(&p);
	cr_assert(strstr(svg, ">0.01</text>") && strstr(svg, ">0.04</text>") && strstr(svg, ">1000</text>"), "plain");
	cr_assert_null(strstr(svg, ">10 m</text>"));
	free(svg);
	p.y_si = 1;
	p.x_si = 1;
	svg = svg_of(&p);
	cr_assert(strstr(svg, ">10 m</text>") && strstr(svg, ">40 m</text>") && strstr(svg, ">0</text>"), "y with SI");
	cr_assert(strstr(svg, ">1 k</text>") && strstr(svg, ">1.2 k</text>") && strstr(svg, ">800</text>"), "x with SI");
	cr_assert_null(strstr(svg, ">0.01</text>"));
	free(svg);
	plot_release(&p);
}
