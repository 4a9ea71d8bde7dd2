/*
 * cmd/route_serve.c - 'ipw route serve --config FILE': the live hybrid
 * router (src/router/), an OpenAI-compatible proxy on 127.0.0.1 unless
 * --listen says otherwise, until SIGINT or SIGTERM. A tier's J/token comes
 * from its profile run in the store when the config names one.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../record.h"
#include "../router/router.h"
#include "../router/server_internal.h"
#include "../util.h"
#include "cmd.h"
#include "common.h"
#include "common_opts.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	__atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED); /* the router's loop threads read it */
}

struct rserve_args {
	struct cmd_common cc;
	const char *config, *listen, *port_file, *record;
	int no_record, threads;
	struct measure_opts mo;     /* the telemetry of the measured tiers (ipw profile's options) */
	double idle_s;
};

#define A(f) offsetof(struct rserve_args, f)
static const struct opt_def rserve_opts[] = {
	CMD_OPTDEF_STORE(struct rserve_args, cc),
	{"config", 0, OPT_STRING, A(config), "FILE", "the router's configuration (JSON, or TOML when FILE ends in "
	 ".toml; docs/router.md)", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"listen", 0, OPT_STRING, A(listen), "HOST:PORT", "where to listen (default: the config's host and port, "
	 "127.0.0.1)", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"port-file", 0, OPT_STRING, A(port_file), "FILE", "write the port listened on to FILE once serving", NULL, 0,
	 0, 0, NULL, NULL, NULL},
	{"threads", 0, OPT_INT, A(threads), "N", "event loops, each on its own thread (default: the config's "
	 "\"threads\", else the CPUs it may use, at most 8)", NULL, 1, 64, OPT_BOUNDED, NULL, "an integer in [1, 64]",
	 NULL},
	{"no-record", 0, OPT_FLAG, A(no_record), NULL, "record no router run in the store", NULL, 0, 0, 0, NULL, NULL,
	 NULL},
	{"backends", 0, OPT_LIST, A(mo.backends), "LIST", "telemetry back-ends for the tiers marked \"measured\" "
	 "(default: all)", "telemetry (tiers with \"measured\": true)", 0, 0, 0, NULL, NULL, NULL},
	{"devices", 0, OPT_LIST, A(mo.devices), "LIST", "GPU indices or UUIDs (default: *_VISIBLE_DEVICES, else all)",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
	{"no-host", 0, OPT_UNFLAG, A(mo.host), NULL, "do not measure host CPU/DRAM energy", NULL, 0, 0, 0, NULL, NULL,
	 NULL},
	{"interval", 0, OPT_INT, A(mo.interval_ms), "MS", "sampling period (default: each back-end's own)", NULL, 1,
	 60000, OPT_BOUNDED, NULL, "milliseconds in [1, 60000]", NULL},
	{"idle-seconds", 0, OPT_DOUBLE, A(idle_s), "S", "idle baseline before serving, for dynamic energy (default 10)",
	 NULL, 0, 1e6, OPT_BOUNDED, NULL, "seconds >= 0", NULL},
	{"fake-profile", 0, OPT_STRING, A(mo.fake_profile), "SPEC", "the fake back-end with a synthetic profile (tests)",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
	{"fake-trace", 0, OPT_STRING, A(mo.fake_trace), "FILE", "the fake back-end replaying a trace (tests)", NULL, 0,
	 0, 0, NULL, NULL, NULL},
};
#define NOPTS (sizeof(rserve_opts) / sizeof(rserve_opts[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw route serve --config FILE [--listen HOST:PORT] [--port-file FILE] [--store S]\n"
		"Routes OpenAI-compatible chat requests to local and cloud tiers: POST /v1/chat/completions,\n"
		"GET /v1/models (the policies), /health, /metrics, /v1/ipw/requests/ID. Every request is a\n"
		"query of a router run in the store (unless --no-record). Stops on Ctrl-C or SIGTERM.\n\n");
	opt_usage(f, rserve_opts, NOPTS);
}

struct jpt {
	double j;
	long long tok;
};

static int jpt_add(const struct query_record *q, void *ctx)
{
	struct jpt *t = ctx;
	if (q->status && !strcmp(q->status, "ok") && isfinite(q->accel_j) && q->completion_tokens > 0) {
		t->j += q->accel_j;
		t->tok += q->completion_tokens;
	}
	return 0;
}

/* Each tier with a profile_run gets its J per completion token from the run; 0 or EXIT_INPUT (said). */
static int tiers_profile(struct rserve_args *a, struct router_config *c)
{
	struct store st;
	int rc = 0, opened = 0;
	for (int i = 0; i < c->ntiers && !rc; i++) {
		struct router_tier *t = &c->tiers[i];
		struct run_record run;
		struct jpt sum = {0, 0};
		char err[IPW_ERRLEN];
		if (!t->profile_run || isfinite(t->j_per_token))
			continue;
		if (!opened && (rc = cmd_store_open(&a->cc, &st, CMD_STORE_READ)))
			return rc;
		opened = 1;
		memset(&run, 0, sizeof(run));
		if ((rc = cmd_run_get(&a->cc, &st, t->profile_run, &run)) == 0 &&
		    store_queries_iter(&st, run.id, jpt_add, &sum, err, sizeof(err)) < 0) {
			fprintf(stderr, "ipw route serve: tier %s: %s\n", t->name, err);
			rc = EXIT_INPUT;
		}
		if (!rc && sum.tok > 0)
			t->j_per_token = sum.j / (double)sum.tok;
		else if (!rc)
			fprintf(stderr, "ipw route serve: tier %s: run %s has no measured energy per token; its energy "
				"is not estimated\n", t->name, t->profile_run);
		run_record_release(&run);
	}
	if (opened)
		store_close(&st);
	return rc;
}

static int listen_apply(const char *l, struct router_config *c)
{
	const char *colon = strrchr(l, ':');
	char *end;
	long port;
	if (!colon)
		return -1;
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return -1;
	free(c->host);
	c->host = xasprintf("%.*s", (int)(colon - l), l);
	c->port = (int)port;
	return 0;
}

int cmd_route_serve(int argc, char **argv)
{
	struct rserve_args a;
	struct router_config c;
	struct router_server *s = NULL;
	char err[IPW_ERRLEN];
	int rc, first = 0, loaded = 0;
	struct sigaction sa;

	memset(&a, 0, sizeof(a));
	measure_opts_init(&a.mo);
	a.idle_s = 10;
	cmd_common_init(&a.cc, "route serve", OUT_TEXT, OUT_TEXT);
	if ((rc = cmd_opt_parse(&a.cc, rserve_opts, NOPTS, &a, argc, argv, &first, NULL, usage)))
		return rc == CMD_PARSE_HELP ? 0 : rc;
	if (!a.config || first < argc) {
		fprintf(stderr, "ipw route serve: give --config FILE (and no operands)\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (router_config_load(&c, a.config, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw route serve: %s\n", err);
		return EXIT_INPUT;
	}
	loaded = 1;
	if (a.listen && listen_apply(a.listen, &c) < 0) {
		fprintf(stderr, "ipw route serve: --listen takes HOST:PORT, a numeric address (got '%s')\n", a.listen);
		rc = EXIT_USAGE;
		goto out;
	}
	if (a.threads)
		c.threads = a.threads;
	if ((rc = tiers_profile(&a, &c)))
		goto out;
	if (router_server_open(&s, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw route serve: %s\n", err);
		rc = EXIT_ENV;
		goto out;
	}
	for (int i = 0; i < c.ntiers; i++)
		if (c.tiers[i].measured && !s->meter) {
			if (router_meter_open(&s->meter, &a.mo, a.idle_s, err, sizeof(err)) < 0) {
				fprintf(stderr, "ipw route serve: telemetry for the measured tiers: %s\n", err);
				rc = EXIT_ENV;
				goto out;
			}
		}
	if (!a.no_record) {
		const char *uri = a.cc.store ? a.cc.store : c.store ? c.store : getenv("IPW_STORE") ? getenv("IPW_STORE")
												 : "ipw.db";
		c.port = router_server_port(s);
		if (router_acct_open(&s->acct, uri, &c, a.config, err, sizeof(err)) < 0) {
			fprintf(stderr, "ipw route serve: the store %s: %s\n", uri, err);
			rc = EXIT_INPUT;
			goto out;
		}
		if (s->meter)
			router_acct_set_meter(s->acct, s->meter);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "ipw route serve: %d tiers on http://%s:%d (%d event loop%s)", c.ntiers,
		c.host ? c.host : "127.0.0.1", router_server_port(s), router_server_loops(s),
		router_server_loops(s) == 1 ? "" : "s");
	if (router_server_run_id(s))
		fprintf(stderr, ", router run %s", router_server_run_id(s));
	fprintf(stderr, "\n");
	for (int i = 0; i < c.ntiers; i++) {
		const struct router_tier *t = &c.tiers[i];
		char jt[48] = "J/token unknown";
		char *shown = url_strip_userinfo(t->url, NULL); /* credentials in the URL are never printed */
		if (t->measured && s->meter)
			snprintf(jt, sizeof(jt), "energy measured (%s)", router_meter_sources(s->meter));
		else if (isfinite(t->j_per_token))
			snprintf(jt, sizeof(jt), "%.4g J/token (estimate)", t->j_per_token);
		fprintf(stderr, "  tier %s: %s %s model %s, %g/%g USD per 1M tokens in/out, %s\n", t->name,
			t->cloud ? "cloud" : "local", shown, t->model, t->price_in, t->price_out, jt);
		free(shown);
	}
	if (a.port_file) {
		char tmp[4096];
		FILE *f;
		snprintf(tmp, sizeof(tmp), "%s.tmp", a.port_file);
		if (!(f = fopen(tmp, "w")) || fprintf(f, "%d\n", router_server_port(s)) < 0 || fclose(f) != 0 ||
		    rename(tmp, a.port_file) < 0) {
			fprintf(stderr, "ipw route serve: cannot write the port file %s\n", a.port_file);
			rc = EXIT_ENV;
			goto out;
		}
	}
	if (router_server_run(s, &stop_flag, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw route serve: %s\n", err);
		rc = EXIT_ENV;
	}
out:
	router_server_close(s);
	if (loaded)
		router_config_release(&c);
	return rc;
}
