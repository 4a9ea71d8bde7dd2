/*
 * table.h - a small table writer: columns with names, units and formats,
 * then rows of cells; written as aligned text (header line, numbers right-
 * aligned), a JSON array of objects, JSON lines, or CSV (RFC 4180). One row
 * emitter per table serves every output format.
 */
#ifndef IPW_TABLE_H
#define IPW_TABLE_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* Output formats, as bits so a command can say which it offers. */
enum out_format { OUT_TEXT = 1, OUT_JSON = 2, OUT_CSV = 4, OUT_JSONL = 8 };

/* "text", "json", "csv", "jsonl" -> the format; -1 if none of those. */
int out_format_parse(const char *s);
const char *out_format_name(enum out_format f);

enum tcol_type { TCOL_STR, TCOL_INT, TCOL_REAL };

/* tcol.where */
#define TCOL_TEXT 1u  /* a column of the text table */
#define TCOL_JSON 2u  /* a key of the JSON objects (array and lines) */
#define TCOL_CSV 16u  /* a CSV column */
#define TCOL_DATA (TCOL_JSON | TCOL_CSV)
#define TCOL_BOTH (TCOL_TEXT | TCOL_DATA)
#define TCOL_RIGHT 4u /* right-align in text though a string (numbers are by default) */
#define TCOL_LEFT 8u  /* left-align in text though a number */

struct tcol {
	const char *name;     /* JSON key / CSV header ("accel_energy_j") */
	const char *title;    /* text header; NULL = name upper-cased */
	const char *unit;     /* "J", "s"; documentation (text header has none) */
	enum tcol_type type;
	const char *fmt;      /* text format of a TCOL_REAL ("%.1f"; NULL = "%.4g"); CSV writes the
	                         shortest text that reads back as the same double */
	unsigned where;
};

/*
 * The writer. Text is buffered (to align) and written by table_finish; JSON
 * lines and CSV rows are written as each row ends; a JSON array at the end.
 * Not measured values (NAN, table_null) read "-" in text, null in JSON,
 * empty in CSV.
 */
struct table {
	enum out_format fmt;
	const struct tcol *cols;
	size_t ncols;
	FILE *f;
	char **cells;         /* text: nrows * ncols strings */
	size_t nrows, cap;
	json_t *arr;          /* JSON: the array */
	json_t *row;          /* JSON: the row being filled */
	char **csv;           /* CSV: the row being filled */
	size_t col;           /* next cell of the row */
};

/* cols must outlive the table. f is where it writes (not closed). */
void table_init(struct table *t, enum out_format fmt, const struct tcol *cols, size_t ncols, FILE *f);
void table_release(struct table *t);
/* Cells of one row, in column order (every column, whatever its where). */
void table_str(struct table *t, const char *s);     /* NULL = null; every string is scrubbed of secrets */
/* s[0..len) with NUL bytes kept (JSON \u0000; text and CSV write them as \0) */
void table_strn(struct table *t, const char *s, size_t len);
void table_int(struct table *t, long long v);
void table_real(struct table *t, double v);         /* NAN = null */
void table_null(struct table *t);
void table_count(struct table *t, long long v);     /* < 0 = unknown: null */
/* A cell with its own text (text, CSV; NULL = not measured) and JSON value (stolen; NULL = null). */
void table_cell(struct table *t, const char *text, json_t *v);
void table_end_row(struct table *t);
/* Writes what is buffered; returns the number of rows, or -1 on a write error. */
long table_finish(struct table *t);

#endif
