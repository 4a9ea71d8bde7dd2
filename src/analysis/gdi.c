/*
 * analysis/gdi.c - gross domestic intelligence (analysis/paper.h): GDI =
 * intelligence per watt x accessible power, for a scenario of local device
 * classes and a datacenter, and the effective capacity with and without the
 * local devices. The scenario file is read through jansson.
 */
#include "analysis/paper.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "aggregate.h"
#include "store.h"
#include "util.h"

const char *const gdi_formulas[] = {
	"accessible power P = count x power_w x duty_cycle [W]",
	"GDI = IPW x P (IPW: accuracy / mean power per query, 1/W): accuracy x (P / W), the number of queries the "
	"power could keep running at once, times the share answered right",
	"capacity without local devices = GDI(datacenter)",
	"capacity with local devices = GDI(datacenter) + sum of GDI(device class)",
	"factor = with / without",
	NULL,
};

const char *const gdi_formulas_json[] = {
	"accessible_power_w = count * power_w * duty_cycle",
	"gdi = ipw * accessible_power_w",
	"factor = (gdi_datacenter + sum gdi_devices) / gdi_datacenter",
	NULL,
};

const char *const gdi_assumptions[] = {
	"each class's IPW holds for all the queries it would serve (same workload mix and accuracy as measured or "
	"given); queries can go to any class (no routing cost, no network energy)",
	"power is the accelerator's while serving, as IPW's denominator; duty_cycle is the share of the time a "
	"device serves queries; idle power is not counted",
	"GDI adds linearly over classes: no class is limited by anything but its power",
	NULL,
};

static void class_release(struct gdi_class *c)
{
	free(c->name);
	free(c->ipw_run);
}

void gdi_release(struct gdi_scenario *sc)
{
	for (size_t i = 0; sc->dev && i < sc->ndev; i++)
		class_release(&sc->dev[i]);
	free(sc->dev);
	class_release(&sc->dc);
	free(sc->path);
	memset(sc, 0, sizeof(*sc));
}

/* A member that must be a finite number >= 0 (<= max); absent: dflt (NAN = required). */
static int num(json_t *o, const char *key, double dflt, double max, double *out, const char *path, const char *what,
	       char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);
	if (!v) {
		if (isnan(dflt))
			return err_set(err, errlen, "%s: %s has no '%s'", path, what, key);
		*out = dflt;
		return 0;
	}
	*out = json_is_number(v) ? json_number_value(v) : NAN;
	if (!(isfinite(*out) && *out >= 0 && *out <= max))
		return err_set(err, errlen, "%s: %s: '%s' is not a number in [0, %g]", path, what, key, max);
	return 0;
}

static int read_class(json_t *o, int datacenter, size_t k, const char *path, struct gdi_class *c, char *err,
		      size_t errlen)
{
	char what[160];
	json_t *name = json_object_get(o, "name"), *run = json_object_get(o, "ipw_run"), *ipw = json_object_get(o, "ipw");
	const char *key;
	json_t *v;

	memset(c, 0, sizeof(*c));
	c->ipw = NAN;
	if (datacenter)
		snprintf(what, sizeof(what), "the datacenter");
	else
		snprintf(what, sizeof(what), "device class %zu", k + 1);
	if (!json_is_object(o))
		return err_set(err, errlen, "%s: %s is not an object", path, what);
	json_object_foreach(o, key, v)
		if (strcmp(key, "name") && strcmp(key, "count") && strcmp(key, "power_w") && strcmp(key, "duty_cycle") &&
		    strcmp(key, "ipw") && strcmp(key, "ipw_run") && strcmp(key, "comment"))
			return err_set(err, errlen, "%s: %s: unknown member '%s' (name, count, power_w, duty_cycle, ipw, "
				       "ipw_run, comment)", path, what, key);
	c->name = xstrdup(json_is_string(name) ? json_string_value(name) : datacenter ? "datacenter" : what);
	if (num(o, "count", datacenter ? 1 : NAN, 1e15, &c->count, path, what, err, errlen) < 0 ||
	    num(o, "power_w", NAN, 1e15, &c->power_w, path, what, err, errlen) < 0 ||
	    num(o, "duty_cycle", datacenter ? 1 : NAN, 1, &c->duty, path, what, err, errlen) < 0)
		return -1;
	if ((ipw != NULL) == (run != NULL))
		return err_set(err, errlen, "%s: %s needs exactly one of 'ipw' (a number, 1/W) and 'ipw_run' (a run "
			       "whose measured IPW to use)", path, what);
	if (ipw && num(o, "ipw", NAN, 1e6, &c->ipw, path, what, err, errlen) < 0)
		return -1;
	if (run) {
		if (json_is_string(run))
			c->ipw_run = xstrdup(json_string_value(run));
		else if (json_is_integer(run))
			c->ipw_run = xasprintf("%lld", (long long)json_integer_value(run));
		else
			return err_set(err, errlen, "%s: %s: 'ipw_run' is a run id or name", path, what);
	}
	return 0;
}

static int gdi_parse(const char *path, json_t *root, json_error_t *jerr, struct gdi_scenario *sc, char *err,
		     size_t errlen);

int gdi_read(const char *path, struct gdi_scenario *sc, char *err, size_t errlen)
{
	json_error_t je;
	return gdi_parse(path, json_load_file(path, 0, &je), &je, sc, err, errlen);
}

int gdi_read_mem(const char *name, const char *data, size_t len, struct gdi_scenario *sc, char *err, size_t errlen)
{
	json_error_t je;
	return gdi_parse(name, json_loadb(data, len, 0, &je), &je, sc, err, errlen);
}

/* Reads root (NULL: jerr says why; stolen) into sc. */
static int gdi_parse(const char *path, json_t *root, json_error_t *jerr, struct gdi_scenario *sc, char *err,
		     size_t errlen)
{
	json_t *devs, *dc, *v;
	const char *key;
	size_t i;
	int rc = -1;

	memset(sc, 0, sizeof(*sc));
	sc->path = xstrdup(path);
	if (!root) {
		err_set(err, errlen, "%s:%d: %s", path, jerr->line, jerr->text);
		goto out;
	}
	json_object_foreach(root, key, v)
		if (strcmp(key, "devices") && strcmp(key, "datacenter") && strcmp(key, "comment") && strcmp(key, "source")) {
			err_set(err, errlen, "%s: unknown member '%s' (devices, datacenter, comment, source)", path, key);
			goto out;
		}
	devs = json_object_get(root, "devices");
	dc = json_object_get(root, "datacenter");
	if (!json_is_array(devs) || !dc) {
		err_set(err, errlen, "%s: a scenario is {\"devices\": [...], \"datacenter\": {...}}", path);
		goto out;
	}
	sc->dev = xcalloc(json_array_size(devs) + 1, sizeof(*sc->dev));
	json_array_foreach(devs, i, v) {
		int r = read_class(v, 0, i, path, &sc->dev[i], err, errlen);
		sc->ndev++;
		if (r < 0)
			goto out;
	}
	if (read_class(dc, 1, 0, path, &sc->dc, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	json_decref(root);
	if (rc < 0)
		gdi_release(sc);
	return rc;
}

static void class_compute(struct gdi_class *c)
{
	c->power_avail_w = c->count * c->power_w * c->duty;
	c->gdi = c->ipw * c->power_avail_w;
}

void gdi_compute(struct gdi_scenario *sc)
{
	sc->gdi_local = sc->power_local_w = 0;
	for (size_t i = 0; i < sc->ndev; i++) {
		class_compute(&sc->dev[i]);
		sc->gdi_local += sc->dev[i].gdi;
		sc->power_local_w += sc->dev[i].power_avail_w;
	}
	class_compute(&sc->dc);
	sc->gdi_dc = sc->dc.gdi;
	sc->gdi_total = sc->gdi_dc + sc->gdi_local;
	sc->factor = sc->gdi_dc > 0 ? sc->gdi_total / sc->gdi_dc : NAN;
}

int gdi_needs_store(const struct gdi_scenario *sc)
{
	for (size_t i = 0; i < sc->ndev; i++)
		if (sc->dev[i].ipw_run)
			return 1;
	return sc->dc.ipw_run != NULL;
}

/* One class's measured IPW: the run's accuracy / mean power, a point estimate. */
static int fill_class(struct store *s, struct gdi_class *c, char *err, size_t errlen)
{
	struct run_record r;
	struct agg_options o;
	struct agg_result res;
	int rc;

	if (!c->ipw_run)
		return 0;
	memset(&r, 0, sizeof(r));
	if (store_run_get(s, c->ipw_run, &r, err, errlen) < 0) {
		run_record_release(&r);
		return -1;
	}
	agg_options_init(&o);
	o.m.bootstrap = 0;
	rc = agg_run(s, r.id, AGG_LOAD_ITEMS, &o, &res, err, errlen);
	if (rc == 0) {
		c->ipw = res.m.ipw.value;
		free(c->ipw_run);
		c->ipw_run = xstrdup(r.id);
		agg_result_release(&res);
	}
	run_record_release(&r);
	if (rc < 0)
		return -1;
	if (!isfinite(c->ipw))
		return err_set(err, errlen, "run %s has no IPW (no scored queries with measured energy)", c->ipw_run);
	return 0;
}

int gdi_fill_measured(struct store *s, struct gdi_scenario *sc, char *err, size_t errlen)
{
	for (size_t i = 0; i < sc->ndev; i++)
		if (fill_class(s, &sc->dev[i], err, errlen) < 0)
			return -1;
	return fill_class(s, &sc->dc, err, errlen);
}
