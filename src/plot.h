/*
 * plot.h - small 2-D charts drawn with cairo: points with error bars, lines,
 * shaded bands, grouped bars over categories and shaded x-spans, with axes, ticks and a
 * legend; written as PNG or SVG files, or PNG bytes for embedding.
 */
#ifndef IPW_PLOT_H
#define IPW_PLOT_H

#include <stddef.h>

enum plot_kind {
	PLOT_POINTS,   /* markers at (x, y), optional error bars lo..hi and text labels */
	PLOT_LINE,     /* a polyline through (x, y) in order; a NAN breaks it */
	PLOT_BARS,     /* bars at category index x, grouped with the other bar series */
	PLOT_SPANS,    /* shaded vertical bands from x[i] to y[i] across the plot */
	PLOT_BAND,     /* a shaded band from lo to hi along x (lo, hi required), y its middle (a dotted
	                  line); a point not finite breaks it */
};

struct plot_series {
	char *label;             /* legend text, or NULL for none */
	enum plot_kind kind;
	size_t n;
	double *x, *y;           /* owned copies */
	double *lo, *hi;         /* error bars (y units), or NULL */
	char **text;             /* per-point labels (PLOT_POINTS), or NULL */
	int color;               /* palette index */
	int dashed;              /* 1 dashed, 2 dotted (lines) */
};

struct plot {
	char *title, *xlabel, *ylabel;
	double xmin, xmax, ymin, ymax;   /* NAN = fitted to the data */
	int width, height;               /* pixels (PNG) or points (SVG); default 820 x 480 */
	char **categories;               /* categorical x axis (bars), or NULL */
	size_t ncat;
	int y_percent;                   /* tick labels of y as percentages of 1 */
	int x_si, y_si;                  /* tick labels of x / y with an SI prefix (plot_format_si) on every
	                                    non-zero tick, as the report's tables print the same quantity
	                                    ("20 m" for 0.02); otherwise only outside 0.01 ... 10^4 */
	struct plot_series *s;
	size_t ns;
};

void plot_init(struct plot *p, const char *title, const char *xlabel, const char *ylabel);
void plot_release(struct plot *p);
/*
 * Adds a series (copies the arrays; lo/hi may be NULL) with the next palette
 * colour; returns it so the caller may set text, color or dashed.
 */
struct plot_series *plot_add(struct plot *p, enum plot_kind kind, const char *label, size_t n,
			     const double *x, const double *y, const double *lo, const double *hi);
/* Sets per-point labels of a series (copied). */
void plot_series_text(struct plot_series *s, const char *const *text);
/* Makes x categorical: names[i] is drawn under x = i (copied). */
void plot_set_categories(struct plot *p, const char *const *names, size_t n);

/*
 * v with an SI prefix (p ... Y) and `digits` significant digits: "28.6 m" for
 * 0.0286, "8 T" for 8e12, "150" for 150 (no prefix between 1 and 1000), "-"
 * for NAN.
 * Tick labels and the report's tables use it alike.
 */
void plot_format_si(char *buf, size_t n, double v, int digits);
/* PNG pixels per plot unit: a PNG is PLOT_PNG_SCALE x width by PLOT_PNG_SCALE x height pixels (2x). */
#define PLOT_PNG_SCALE 2
int plot_write_png(const struct plot *p, const char *path, char *err, size_t errlen);
int plot_write_svg(const struct plot *p, const char *path, char *err, size_t errlen);
/* The PNG bytes in a newly allocated buffer the caller frees. */
int plot_png_data(const struct plot *p, unsigned char **data, size_t *len, char *err, size_t errlen);

#endif
