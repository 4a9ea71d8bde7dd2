/*
 * test_optable.c - the option table of 'ipw profile' (src/profile_opts.c):
 * every recorded option has a non-default test value here, parses, goes into
 * the recorded configuration JSON and comes back unchanged from it; resume
 * restores (and lists) all of them, refuses load runs; bad values are refused.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "optable.h"
#include "profile_opts.h"
#include "util.h"

/* A non-default value of every recorded option (a new recorded option must be added here). */
static const char *const sequential_args[][2] = {
	{"url", "http://127.0.0.1:9"}, {"api", "ollama"}, {"model", "m-test"}, {"timeout", "12.5"},
	{"retries", "5"}, {"backoff", "0.25"}, {"retry-after-max", "7.5"}, {"query-budget", "90"},
	{"warmup", "3"}, {"max-tokens", "77"},
	{"temperature", "0.1"}, {"top-p", "0.5"}, {"top-k", "4"}, {"sample-seed", "42"},
	{"system", "be brief"}, {"ignore-eos", NULL}, {"logprobs", NULL}, {"extra-body", "{\"min_tokens\":4}"},
	{"dataset", "/tmp/x.jsonl"}, {"limit", "9"}, {"shuffle", NULL},
	{"seed", "17"}, {"devices", "0,1"}, {"no-host", NULL}, {"backends", "nvidia,rapl"},
	{"interval", "33"}, {"idle-seconds", "0.75"}, {"group", "g1"}, {"serve", "sleep 100"},
	{"serve-log", "/tmp/serve.log"}, {"serve-timeout", "45"},
};
static const char *const load_args[][2] = {
	{"concurrency", "3"}, {"burstiness", "0.5"}, {"max-concurrency", "6"}, {"duration", "2.5"},
	{"requests", "40"}, {"slo", "ttft=0.5,tpot=0.05"},
};
/* --cpu-watts-per-core is recorded for --api builtin runs only (the ones it estimates) */
static const char *const builtin_args[][2] = {{"api", "builtin"}, {"cpu-watts-per-core", "7.5"}};
/* rate excludes concurrency > 1 (checked by the command), so it is round-tripped on its own */
static const char *const rate_args[][2] = {{"rate", "2.5"}, {"requests", "5"}};

#define N(a) (sizeof(a) / sizeof(a[0]))

/* argv for pairs; the "--name" strings go in names[] (the caller frees them: getopt reorders argv). */
static int build_argv(char **argv, char **names, const char *const (*pairs)[2], size_t n)
{
	int argc = 0;
	argv[argc++] = "profile";
	for (size_t i = 0; i < n; i++) {
		argv[argc++] = names[i] = xasprintf("--%s", pairs[i][0]);
		if (pairs[i][1])
			argv[argc++] = (char *)pairs[i][1];
	}
	return argc;
}

static void parse_pairs(struct profile_args *a, const char *const (*pairs)[2], size_t n)
{
	char *argv[128], *names[64], err[IPW_ERRLEN] = "";
	int argc, first = 0, rc;
	cr_assert(n <= 64);
	profile_args_init(a);
	argc = build_argv(argv, names, pairs, n);
	rc = opt_parse(profile_opts, profile_nopts, a, argc, argv, &first, NULL, err, sizeof(err));
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	cr_assert_eq(rc, OPT_PARSED, "parse: %s", err);
	cr_assert_eq(first, argc);
}

static int in_pairs(const char *name, const char *const (*pairs)[2], size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(pairs[i][0], name))
			return 1;
	return 0;
}

Test(optable, every_recorded_option_has_a_test_value)
{
	for (size_t i = 0; i < profile_nopts; i++) {
		const struct opt_def *d = &profile_opts[i];
		if (!(d->flags & OPT_RECORD))
			continue;
		cr_assert(d->key, "--%s is recorded without a key", d->name);
		cr_assert(in_pairs(d->name, sequential_args, N(sequential_args)) ||
			  in_pairs(d->name, load_args, N(load_args)) || in_pairs(d->name, rate_args, N(rate_args)) ||
			  in_pairs(d->name, builtin_args, N(builtin_args)),
			  "--%s is recorded but has no round-trip value in this test", d->name);
	}
}

/* Parses pairs, records, restores into defaults; every given option must come back equal and non-default. */
static void round_trip(const char *const (*pairs)[2], size_t n)
{
	struct profile_args a, b, def;
	struct opt_keep keep;
	unsigned char restored[256];
	char *cfg, err[IPW_ERRLEN] = "";
	json_t *c;

	parse_pairs(&a, pairs, n);
	profile_args_init(&b);
	profile_args_init(&def);
	opt_keep_init(&keep);
	cfg = profile_config_json(&a.o, a.o.url, a.o.api, a.o.model);
	cr_assert(cfg);
	c = json_loads(cfg, 0, NULL);
	cr_assert(c, "not JSON: %s", cfg);
	cr_assert_eq(opt_restore(profile_opts, profile_nopts, &b.o, c, &keep, restored, err, sizeof(err)), 0, "%s",
		     err);
	for (size_t i = 0; i < profile_nopts; i++) {
		const struct opt_def *d = &profile_opts[i];
		char va[256], vb[256], vd[256];
		if (!in_pairs(d->name, pairs, n))
			continue;
		cr_assert(d->flags & OPT_RECORD, "--%s is not recorded", d->name);
		cr_assert(restored[i], "--%s not restored from %s", d->name, cfg);
		opt_format(d, &a.o, va, sizeof(va));
		opt_format(d, &b.o, vb, sizeof(vb));
		opt_format(d, &def.o, vd, sizeof(vd));
		cr_assert_str_eq(vb, va, "--%s: restored %s, given %s", d->name, vb, va);
		cr_assert_str_neq(va, vd, "--%s: the test value %s is the default", d->name, va);
	}
	json_decref(c);
	free(cfg);
	opt_keep_release(&keep);
}

Test(optable, sequential_options_round_trip)
{
	round_trip(sequential_args, N(sequential_args));
}

Test(optable, builtin_options_round_trip)
{
	struct profile_args a;
	char *cfg;

	round_trip(builtin_args, N(builtin_args));
	/* not given: the default the estimate uses is recorded; another API records nothing */
	profile_args_init(&a);
	cfg = profile_config_json(&a.o, "builtin://m.gguf", "builtin", "m.gguf");
	cr_assert(strstr(cfg, "\"cpu_watts_per_core\":4.0") || strstr(cfg, "\"cpu_watts_per_core\":4,"), "%s", cfg);
	free(cfg);
	cfg = profile_config_json(&a.o, "http://127.0.0.1:9", "openai", "m");
	cr_assert_null(strstr(cfg, "cpu_watts_per_core"), "%s", cfg);
	free(cfg);
}

Test(optable, load_options_round_trip)
{
	round_trip(load_args, N(load_args));
	round_trip(rate_args, N(rate_args));
}

Test(optable, resume_restores_and_lists_every_recorded_option)
{
	struct profile_args a, b;
	struct opt_keep keep;
	const char *summary;
	char *cfg, err[IPW_ERRLEN] = "";

	parse_pairs(&a, sequential_args, N(sequential_args));
	cfg = profile_config_json(&a.o, a.o.url, "ollama", a.o.model);
	profile_args_init(&b);
	opt_keep_init(&keep);
	cr_assert_eq(profile_config_restore(&b.o, cfg, &keep, &summary, err, sizeof(err)), 0, "%s", err);
	for (size_t i = 0; i < N(sequential_args); i++) {
		char want[256];
		const struct opt_def *d = opt_find(profile_opts, profile_nopts, sequential_args[i][0]);
		char v[200];
		cr_assert(d);
		opt_format(d, &a.o, v, sizeof(v));
		snprintf(want, sizeof(want), "--%s=%s", d->name, v);
		cr_assert(strstr(summary, want), "summary lacks %s: %s", want, summary);
	}
	cr_assert_eq(b.o.max_attempts, 6);
	cr_assert_eq(b.o.host, 0);
	cr_assert_eq(b.o.s.has_seed, 1);
	cr_assert_str_eq(b.o.dataset, "/tmp/x.jsonl");
	free(cfg);
	opt_keep_release(&keep);
}

Test(optable, builtin_dataset_and_defaults_restore_as_null)
{
	struct profile_args a, b;
	struct opt_keep keep;
	const char *summary;
	char *cfg, err[IPW_ERRLEN];

	profile_args_init(&a);
	cfg = profile_config_json(&a.o, "http://127.0.0.1:1", "openai", "m");
	cr_assert(strstr(cfg, "\"dataset\":\"builtin\""), "%s", cfg);
	cr_assert(!strstr(cfg, "\"count\""), "load keys in a sequential run: %s", cfg);
	cr_assert(!strstr(cfg, "serve_log"), "serve keys without --serve: %s", cfg);
	profile_args_init(&b);
	b.o.dataset = "other";
	opt_keep_init(&keep);
	cr_assert_eq(profile_config_restore(&b.o, cfg, &keep, &summary, err, sizeof(err)), 0, "%s", err);
	cr_assert_null(b.o.dataset);
	cr_assert_eq(b.o.s.has_seed, 0);
	cr_assert_null(b.o.s.system);
	cr_assert_str_eq(b.o.url, "http://127.0.0.1:1");
	free(cfg);
	opt_keep_release(&keep);
}

Test(optable, resume_restores_a_load_run_and_refuses_bad_json)
{
	struct profile_args a, b;
	struct opt_keep keep;
	const char *summary;
	char *cfg, err[IPW_ERRLEN] = "";

	parse_pairs(&a, load_args, N(load_args));
	cfg = profile_config_json(&a.o, "http://127.0.0.1:1", "openai", "m");
	profile_args_init(&b);
	opt_keep_init(&keep);
	/* a load run resumes under the same load (docs/load.md): its options come back */
	cr_assert_eq(profile_config_restore(&b.o, cfg, &keep, &summary, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(b.o.concurrency, 3);
	cr_assert_eq(b.o.count, 40);
	cr_assert_eq(b.o.max_concurrency, 6);
	cr_assert_str_eq(b.o.slo, "ttft=0.5,tpot=0.05");
	profile_args_init(&b);
	cr_assert_eq(profile_config_restore(&b.o, "{", &keep, &summary, err, sizeof(err)), -1);
	cr_assert_eq(profile_config_restore(&b.o, "{\"warmup\":\"x\"}", &keep, &summary, err, sizeof(err)), -1);
	cr_assert(strstr(err, "warmup"), "%s", err);
	free(cfg);
	opt_keep_release(&keep);
}

Test(optable, bad_values_are_refused)
{
	static const char *const bad[][2] = {
		{"timeout", "0"}, {"top-p", "1.5"}, {"retries", "101"}, {"api", "grpc"}, {"limit", "x"},
		{"slo", "bogus=1"}, {"format", "nope"}, {"interval", "0"}, {"concurrency", "0"},
	};
	for (size_t i = 0; i < N(bad); i++) {
		struct profile_args a;
		char *argv[4] = {"profile", xasprintf("--%s", bad[i][0]), (char *)bad[i][1], NULL};
		char err[IPW_ERRLEN] = "";
		int first;
		profile_args_init(&a);
		cr_assert_eq(opt_parse(profile_opts, profile_nopts, &a, 3, argv, &first, NULL, err, sizeof(err)),
			     OPT_BAD, "--%s %s accepted", bad[i][0], bad[i][1]);
		cr_assert(strstr(err, bad[i][1]), "error does not quote the value: %s", err);
		free(argv[1]);
	}
}

Test(optable, help_and_unknown)
{
	struct profile_args a;
	char *h[] = {"profile", "-h", NULL}, *u[] = {"profile", "--nope", NULL};
	char err[IPW_ERRLEN] = "";
	int first;
	profile_args_init(&a);
	cr_assert_eq(opt_parse(profile_opts, profile_nopts, &a, 2, h, &first, NULL, err, sizeof(err)), OPT_HELP);
	cr_assert_eq(opt_parse(profile_opts, profile_nopts, &a, 2, u, &first, NULL, err, sizeof(err)), OPT_BAD);
	cr_assert(strstr(err, "--nope"), "%s", err);
}

Test(optable, usage_lists_every_option_with_its_help)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	opt_usage(f, profile_opts, profile_nopts);
	fclose(f);
	for (size_t i = 0; i < profile_nopts; i++) {
		char want[80];
		snprintf(want, sizeof(want), "  --%s ", profile_opts[i].name);
		cr_assert(strstr(out, want), "usage lacks --%s", profile_opts[i].name);
		cr_assert((profile_opts[i].help && profile_opts[i].help[0]) ||
			  (profile_opts[i].hooks && profile_opts[i].hooks->help), "--%s has no help", profile_opts[i].name);
	}
	free(out);
}
