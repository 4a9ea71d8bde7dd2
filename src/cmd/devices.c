/*
 * cmd/devices.c - 'ipw devices': probes every telemetry back-end without
 * starting it and lists, per back-end, whether it is present (or why not) and,
 * per source, what it is and what it can measure. Human text or --json.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "common_opts.h"
#include "telemetry.h"
#include "jsonout.h"

struct devices_args {
	struct cmd_common cc;
	struct telemetry_opts opts;
	struct telemetry_select sel;
};

#define A(f) offsetof(struct devices_args, f)
static const struct opt_def devices_opts[] = {
	CMD_OPTDEF_FORMAT(struct devices_args, cc, "text (default) or json"),
	{"json", 0, OPT_FLAG, A(cc), NULL, "short for --format json: machine-readable output", NULL, 0, 0, 0, NULL,
	 NULL, &cmd_json_hooks},
	{"devices", 0, OPT_STRING, A(sel.devices), "LIST", "GPUs to select: indices, UUIDs (or prefixes) or PCI bus "
	 "ids, comma-separated", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"no-host", 0, OPT_UNFLAG, A(sel.host), NULL, "leave host sources (CPU package, DRAM) unselected", NULL, 0, 0,
	 0, NULL, NULL, NULL},
	{"backends", 0, OPT_STRING, A(sel.backends), "LIST", "probe only these back-ends (nvidia,amd,rapl,apple,fake)",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
	{"fake-profile", 0, OPT_STRING, A(opts.fake_profile), "SPEC", "enable the fake back-end with a synthetic "
	 "profile (docs/fake-backend.md)", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"fake-trace", 0, OPT_STRING, A(opts.fake_trace), "FILE", "enable the fake back-end replaying a trace file",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
};
#define NOPTS (sizeof(devices_opts) / sizeof(devices_opts[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ipw devices [--format text|json] [--json] [--devices LIST] [--no-host] [--backends LIST]\n"
		"                   [--fake-profile SPEC | --fake-trace FILE]\n");
	opt_usage(f, devices_opts, NOPTS);
}

/* "energy counter (updates every 100 ms), power (instant), temperature" */
static void describe_caps(const struct source_info *s, char *out, size_t outlen)
{
	struct buf b;
	buf_init(&b, 0);
	if (s->caps & CAP_ENERGY) {
		buf_appends(&b, "energy counter");
		if (isnan(s->counter_update_s))
			buf_appends(&b, " (update period unknown");
		else if (s->counter_update_s == 0)
			buf_appends(&b, " (exact at each read");
		else
			buf_appendf(&b, " (updates every %g ms", s->counter_update_s * 1000);
		if (s->energy_wrap_j > 0)
			buf_appendf(&b, ", wraps at %g J", s->energy_wrap_j);
		buf_appends(&b, ")");
	}
	if (s->caps & CAP_POWER)
		buf_appendf(&b, "%spower (%s%s)", b.len ? ", " : "", power_kind_name(s->power_kind),
			    s->power_kind == POWER_AVERAGE ? ": shown, never integrated" : "");
	if (s->caps & CAP_TEMPERATURE)
		buf_appendf(&b, "%stemperature", b.len ? ", " : "");
	if (s->caps & CAP_MEMORY)
		buf_appendf(&b, "%smemory", b.len ? ", " : "");
	if (!b.len)
		buf_appends(&b, "nothing");
	snprintf(out, outlen, "%s", b.data);
	buf_release(&b);
}

/* Can energy be derived from this source (counter, or integrable power)? */
static int gives_energy(const struct source_info *s)
{
	return (s->caps & CAP_ENERGY) || ((s->caps & CAP_POWER) && s->power_kind == POWER_INSTANT);
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *source_json(const struct source_info *s)
{
	json_t *o = json_object(), *m = json_object();
	json_object_set_new(o, "name", json_string(s->name));
	json_object_set_new(o, "backend", json_string(s->backend));
	json_object_set_new(o, "kind", json_string(source_kind_name(s->kind)));
	json_object_set_new(o, "scope", json_string(source_scope_name(s->scope)));
	json_object_set_new(o, "index", json_integer(s->index));
	json_object_set_new(o, "selected", json_boolean(s->selected));
	json_object_set_new(o, "model", str_or_null(s->model));
	json_object_set_new(o, "uuid", str_or_null(s->uuid));
	json_object_set_new(o, "pci_bus_id", str_or_null(s->pci_bus_id));
	json_object_set_new(o, "driver", str_or_null(s->driver));
	json_object_set_new(o, "power_limit_w", json_real_or_null(s->power_limit_w));
	json_object_set_new(o, "mem_total_bytes", json_real_or_null(s->mem_total_bytes));
	json_object_set_new(m, "energy_counter", json_boolean(s->caps & CAP_ENERGY));
	json_object_set_new(m, "power", (s->caps & CAP_POWER) ? json_string(power_kind_name(s->power_kind))
							      : json_null());
	json_object_set_new(m, "temperature", json_boolean(s->caps & CAP_TEMPERATURE));
	json_object_set_new(m, "memory", json_boolean(s->caps & CAP_MEMORY));
	json_object_set_new(o, "measures", m);
	json_object_set_new(o, "counter_update_s",
			    (s->caps & CAP_ENERGY) ? json_real_or_null(s->counter_update_s) : json_null());
	json_object_set_new(o, "energy_wrap_j", s->energy_wrap_j > 0 ? json_real(s->energy_wrap_j) : json_null());
	json_object_set_new(o, "notes", str_or_null(s->notes));
	return o;
}

static int print_json(const struct telemetry *t)
{
	json_t *root = json_object(), *arr = json_array();
	char *text;
	int rc = 0;
	for (int b = 0; b < telemetry_nbackends(t); b++) {
		json_t *o = json_object(), *srcs = json_array();
		int present = telemetry_backend_present(t, b), n;
		const struct source_info *src = telemetry_backend_sources(t, b, &n);
		json_object_set_new(o, "name", json_string(telemetry_backend_name(t, b)));
		json_object_set_new(o, "description", str_or_null(telemetry_backend_description(t, b)));
		json_object_set_new(o, "present", json_boolean(present));
		json_object_set_new(o, "reason", present ? json_null() : str_or_null(telemetry_backend_reason(t, b)));
		for (int i = 0; i < n; i++)
			json_array_append_new(srcs, source_json(&src[i]));
		json_object_set_new(o, "sources", srcs);
		json_array_append_new(arr, o);
	}
	json_object_set_new(root, "backends", arr);
	text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
	if (!text || printf("%s\n", text) < 0)
		rc = -1;
	free(text);
	json_decref(root);
	return rc;
}

static void print_value(const char *label, const char *value)
{
	if (value && *value)
		printf("    %-12s %s\n", label, value);
}

static void print_human(const struct telemetry *t)
{
	int nsrc = 0;
	printf("Back-ends\n");
	for (int b = 0; b < telemetry_nbackends(t); b++) {
		int n;
		telemetry_backend_sources(t, b, &n);
		if (telemetry_backend_present(t, b))
			printf("  %-8s present  %d source%s\n", telemetry_backend_name(t, b), n, n == 1 ? "" : "s");
		else
			printf("  %-8s absent   %s\n", telemetry_backend_name(t, b), telemetry_backend_reason(t, b));
		nsrc += n;
	}
	if (!nsrc)
		return;
	printf("\nSources\n");
	for (int b = 0; b < telemetry_nbackends(t); b++) {
		int n;
		const struct source_info *src = telemetry_backend_sources(t, b, &n);
		for (int i = 0; i < n; i++) {
			const struct source_info *s = &src[i];
			char line[512];
			printf("  %s  %s, %s scope%s\n", s->name, source_kind_name(s->kind), source_scope_name(s->scope),
			       s->selected ? "" : "  (not selected)");
			print_value("model", s->model);
			print_value("uuid", s->uuid);
			print_value("pci", s->pci_bus_id);
			print_value("driver", s->driver);
			if (isfinite(s->power_limit_w)) {
				snprintf(line, sizeof(line), "%.0f W", s->power_limit_w);
				print_value("power limit", line);
			}
			if (isfinite(s->mem_total_bytes)) {
				snprintf(line, sizeof(line), "%.1f GiB", s->mem_total_bytes / 1073741824.0);
				print_value("memory", line);
			}
			describe_caps(s, line, sizeof(line));
			print_value("measures", line);
			print_value("notes", s->notes);
		}
	}
}

/* Says on stderr when no selected source can give energy, with every back-end's reason. */
static void report_no_energy(const struct telemetry *t)
{
	struct buf b;
	for (int b2 = 0; b2 < telemetry_nbackends(t); b2++) {
		int n;
		const struct source_info *src = telemetry_backend_sources(t, b2, &n);
		for (int i = 0; i < n; i++)
			if (src[i].selected && gives_energy(&src[i]))
				return;
	}
	buf_init(&b, 0);
	for (int b2 = 0; b2 < telemetry_nbackends(t); b2++)
		buf_appendf(&b, "%s%s: %s", b.len ? "; " : "", telemetry_backend_name(t, b2),
			    telemetry_backend_present(t, b2) ? "no selected source with an energy counter or instantaneous power"
							     : telemetry_backend_reason(t, b2));
	fprintf(stderr, "no energy source found: %s\n", b.data);
	buf_release(&b);
}

int cmd_devices(int argc, char **argv)
{
	struct devices_args a = {.sel = {.host = 1}};
	struct telemetry *t = NULL;
	char err[IPW_ERRLEN], warn[IPW_ERRLEN];
	int first, rc;

	cmd_common_init(&a.cc, "devices", OUT_TEXT | OUT_JSON, OUT_TEXT);
	if ((rc = cmd_opt_parse(&a.cc, devices_opts, NOPTS, &a, argc, argv, &first, NULL, usage))) {
		if (rc == EXIT_USAGE)
			usage(stderr);
		rc = rc == CMD_PARSE_HELP ? 0 : rc;
		goto out;
	}
	if (first < argc) {
		fprintf(stderr, "ipw devices: unexpected argument '%s'\n", argv[first]);
		usage(stderr);
		rc = EXIT_USAGE;
		goto out;
	}
	if (telemetry_open(&t, &a.opts, &a.sel, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw devices: %s\n", err);
		rc = EXIT_USAGE;
		goto out;
	}
	telemetry_last_error(t, warn, sizeof(warn));
	if (warn[0])
		fprintf(stderr, "ipw devices: warning: %s\n", warn);
	if (a.cc.format == OUT_JSON) {
		if (print_json(t) < 0) {
			fprintf(stderr, "ipw devices: cannot write the JSON output\n");
			rc = EXIT_ENV;
		}
	} else {
		print_human(t);
	}
	report_no_energy(t);
out:
	telemetry_close(t);
	return rc;
}
