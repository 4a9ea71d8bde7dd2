/*
 * cmd/gdi.c - 'ipw gdi SCENARIO.json': gross domestic intelligence, GDI =
 * intelligence per watt x accessible power, for a scenario of local device
 * classes (count, power, duty cycle, IPW given or measured in a stored run)
 * and a datacenter; the effective capacity with and without the local
 * devices. Every formula and assumption is printed with the result.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "aggregate.h"
#include "analysis/paper.h"
#include "common.h"
#include "common_opts.h"
#include "jsonout.h"
#include "store.h"
#include "util.h"

struct gdi_args {
	struct cmd_common cc;
};

static const struct opt_def gdi_opts[] = {
	CMD_OPTDEF_STORE(struct gdi_args, cc),
	CMD_OPTDEF_FORMAT(struct gdi_args, cc, "text|json (default text)"),
	CMD_OPTDEF_JSON(struct gdi_args, cc),
};
#define NOPTS (sizeof(gdi_opts) / sizeof(gdi_opts[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw gdi SCENARIO.json [--store PATH] [--format text|json]\n"
		"  GDI = IPW x accessible power; accessible power = count x power x duty cycle.\n"
		"  SCENARIO: {\"devices\": [{\"name\", \"count\", \"power_w\", \"duty_cycle\", \"ipw\" | \"ipw_run\"}],\n"
		"             \"datacenter\": {\"name\", \"power_w\", \"ipw\" | \"ipw_run\", \"duty_cycle\" (default 1)}}\n"
		"  (docs/analysis.md 'ipw gdi'); --store is read only for ipw_run.\n");
	opt_usage(f, gdi_opts, NOPTS);
}

static void print_class(const struct gdi_class *c)
{
	char src[64];
	if (c->ipw_run)
		snprintf(src, sizeof(src), "measured, run %s", c->ipw_run);
	else
		snprintf(src, sizeof(src), "given");
	printf("  %-28s %.4g x %.4g W x duty %.4g = %.6g W accessible; IPW %.4g /W (%s); GDI %.6g\n", c->name,
	       c->count, c->power_w, c->duty, c->power_avail_w, c->ipw, src, c->gdi);
}

static void print_text(const struct gdi_scenario *sc)
{
	printf("gross domestic intelligence, scenario %s\n\n", sc->path);
	printf("formulas\n");
	for (const char *const *f = gdi_formulas; *f; f++)
		printf("  %s\n", *f);
	putchar('\n');
	printf("local device classes\n");
	for (size_t i = 0; i < sc->ndev; i++)
		print_class(&sc->dev[i]);
	printf("  total local accessible power %.6g W, GDI %.6g\n\ndatacenter\n", sc->power_local_w, sc->gdi_local);
	print_class(&sc->dc);
	printf("\neffective capacity: without local devices %.6g, with %.6g: %.3fx\n\n", sc->gdi_dc, sc->gdi_total,
	       sc->factor);
	printf("assumptions\n");
	for (const char *const *f = gdi_assumptions; *f; f++)
		printf("  - %s\n", *f);
}

static json_t *class_json(const struct gdi_class *c)
{
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "name", c->name, "count", json_real_or_null(c->count),
			 "power_w", json_real_or_null(c->power_w), "duty_cycle", json_real_or_null(c->duty), "ipw",
			 json_real_or_null(c->ipw), "ipw_run", json_string_or_null(c->ipw_run), "accessible_power_w",
			 json_real_or_null(c->power_avail_w), "gdi", json_real_or_null(c->gdi));
}

static void print_json(const struct gdi_scenario *sc)
{
	json_t *o = json_object(), *d = json_array(), *f;
	for (size_t i = 0; i < sc->ndev; i++)
		json_array_append_new(d, class_json(&sc->dev[i]));
	json_object_set_new(o, "scenario", json_string(sc->path));
	json_object_set_new(o, "devices", d);
	json_object_set_new(o, "datacenter", class_json(&sc->dc));
	json_object_set_new(o, "local_accessible_power_w", json_real_or_null(sc->power_local_w));
	json_object_set_new(o, "gdi_local", json_real_or_null(sc->gdi_local));
	json_object_set_new(o, "capacity_without_local", json_real_or_null(sc->gdi_dc));
	json_object_set_new(o, "capacity_with_local", json_real_or_null(sc->gdi_total));
	json_object_set_new(o, "factor", json_real_or_null(sc->factor));
	f = json_array();
	for (const char *const *e = gdi_formulas_json; *e; e++)
		json_array_append_new(f, json_string(*e));
	json_object_set_new(o, "formulas", f);
	f = json_array();
	for (const char *const *e = gdi_assumptions; *e; e++)
		json_array_append_new(f, json_string(*e));
	json_object_set_new(o, "assumptions", f);
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
	putchar('\n');
	json_decref(o);
}

int cmd_gdi(int argc, char **argv)
{
	struct gdi_args a;
	struct gdi_scenario sc;
	struct store st;
	char err[IPW_ERRLEN];
	int rc, first = 0, opened = 0;

	memset(&a, 0, sizeof(a));
	memset(&sc, 0, sizeof(sc));
	cmd_common_init(&a.cc, "gdi", OUT_TEXT | OUT_JSON, OUT_TEXT);
	if ((rc = cmd_opt_parse(&a.cc, gdi_opts, NOPTS, &a, argc, argv, &first, NULL, usage)))
		goto out;
	if (argc - first != 1) {
		fprintf(stderr, "ipw gdi: name one scenario file\n");
		usage(stderr);
		rc = EXIT_USAGE;
		goto out;
	}
	if (gdi_read(argv[first], &sc, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw gdi: %s\n", err);
		rc = EXIT_INPUT;
		goto out;
	}
	if (gdi_needs_store(&sc)) {
		if ((rc = cmd_store_open(&a.cc, &st, CMD_STORE_READ)))
			goto out;
		opened = 1;
		if (gdi_fill_measured(&st, &sc, err, sizeof(err)) < 0) {
			fprintf(stderr, "ipw gdi: %s\n", err);
			rc = EXIT_INPUT;
			goto out;
		}
	}
	gdi_compute(&sc);
	if (a.cc.format == OUT_JSON)
		print_json(&sc);
	else
		print_text(&sc);
	rc = fflush(stdout) ? EXIT_ENV : 0;
out:
	gdi_release(&sc);
	if (opened)
		store_close(&st);
	return rc == CMD_PARSE_HELP ? 0 : rc;
}
