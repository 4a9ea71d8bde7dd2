/*
 * test_router.c - the router's library parts: AUC on hand-counted pairs, the
 * hashed features (deterministic, in range), a fit that separates a word
 * that decides the label and is calibrated towards the labels' rates, the
 * router file round trip, the configuration's errors, policy names and the
 * decisions under privacy, budget and latency limits.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "router/router.h"
#include "router/server_internal.h"
#include "util.h"

static char err[IPW_ERRLEN];

Test(router, auc_hand_counted)
{
	double p[] = {0.1, 0.4, 0.35, 0.8};
	int y[] = {0, 0, 1, 1};
	int one[] = {1, 1, 1, 1};
	double tp[] = {0.5, 0.5, 0.5, 0.5};
	/* positive pairs ranked right: (0.35 > 0.1), (0.8 > 0.1), (0.8 > 0.4); wrong: (0.35 < 0.4) -> 3/4 */
	cr_assert_float_eq(learn_auc(p, y, 4), 0.75, 1e-12);
	cr_assert(isnan(learn_auc(p, one, 4)), "one class only: no AUC");
	cr_assert_float_eq(learn_auc(tp, y, 4), 0.5, 1e-12, "ties count half");
}

Test(router, features_deterministic_and_in_range)
{
	uint32_t *a, *b;
	size_t na = learn_features("What is 2 + 3?", &a), nb = learn_features("What is 2 + 3?", &b);
	cr_assert_eq(na, nb);
	cr_assert(na > 10);
	for (size_t i = 0; i < na; i++) {
		cr_assert_eq(a[i], b[i]);
		cr_assert(a[i] < LEARN_DIM);
	}
	free(a);
	free(b);
}

static struct learn_example *examples(size_t n, char ***texts)
{
	struct learn_example *ex = xcalloc(n, sizeof(*ex));
	*texts = xcalloc(n, sizeof(**texts));
	for (size_t i = 0; i < n; i++) {
		int easy = i % 3 == 0;
		(*texts)[i] = xasprintf("%s question number %zu about item %zu", easy ? "reverse" : "multiply", i, i * 7);
		ex[i].text = (*texts)[i];
		ex[i].label = easy;
	}
	return ex;
}

Test(router, fit_separates_and_round_trips)
{
	char **texts, path[] = "/tmp/ipw-test-router-XXXXXX";
	struct learn_example *ex = examples(120, &texts);
	struct learn_router r, back;
	double pe, ph;
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	close(fd);
	memset(&r, 0, sizeof(r));
	r.version = 1;
	r.nmodels = 1;
	r.models = xcalloc(1, sizeof(*r.models));
	r.models[0].tier_model = xstrdup("small");
	r.models[0].run_id = xstrdup("7");
	r.models[0].j_per_token = 0.25;
	r.cloud_run = xstrdup("8");
	r.threshold = 0.5;
	learn_fit(&r.models[0], ex, 80, ex + 80, 40, 1);
	pe = learn_predict(&r.models[0], "reverse question number 999 about item 5");
	ph = learn_predict(&r.models[0], "multiply question number 999 about item 5");
	cr_assert(pe > 0.5 && ph < 0.5, "easy %g, hard %g", pe, ph);
	cr_assert_eq(learn_router_save(&r, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(learn_router_load(&back, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(back.models[0].tier_model, "small");
	cr_assert_str_eq(back.cloud_run, "8");
	cr_assert_float_eq(learn_predict(&back.models[0], "reverse question number 999 about item 5"), pe, 1e-6);
	learn_router_release(&r);
	learn_router_release(&back);
	unlink(path);
	for (int i = 0; i < 120; i++)
		free(texts[i]);
	free(texts);
	free(ex);
}

static void config_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

Test(router, config_errors_name_the_field)
{
	char path[] = "/tmp/ipw-test-rconf-XXXXXX";
	struct router_config c;
	int fd = mkstemp(path);
	close(fd);
	config_write(path, "{\"tiers\":[{\"name\":\"a\",\"url\":\"http://x\",\"model\":\"m\"},"
			   "{\"name\":\"a\",\"url\":\"http://y\",\"model\":\"m\"}]}");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), -1);
	cr_assert(strstr(err, "two tiers are named 'a'"), "%s", err);
	config_write(path, "{\"tiers\":[{\"name\":\"a\",\"url\":\"http://x\",\"model\":\"m\"}],\"fallback\":[\"b\"]}");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), -1);
	cr_assert(strstr(err, "fallback[0] names no tier"), "%s", err);
	config_write(path, "{\"tiers\":[{\"name\":\"a\",\"url\":\"http://x\",\"model\":\"m\"}],\"policy\":\"learned\"}");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), -1);
	cr_assert(strstr(err, "needs \"learned\""), "%s", err);
	config_write(path, "{\"tiers\":[{\"name\":\"a\",\"url\":\"http://x\",\"model\":\"m\",\"measured\":1}]}");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), -1);
	cr_assert(strstr(err, "tiers[0].measured must be true or false"), "%s", err);
	config_write(path, "{\"tiers\":[{\"name\":\"a\",\"url\":\"http://x\",\"model\":\"m\"}],"
			   "\"cascade\":{\"logprob_min\":0.5}}");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), -1);
	cr_assert(strstr(err, "cascade.logprob_min"), "%s", err);
	config_write(path, "{\"tiers\":[{\"name\":\"a\",\"url\":\"http://x\",\"model\":\"m\"}],"
			   "\"cascade\":{\"logprob_min\":-1,\"logprob_stat\":\"median\"}}");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), -1);
	cr_assert(strstr(err, "cascade.logprob_stat"), "%s", err);
	config_write(path, "{\"tiers\":[{\"name\":\"a\",\"url\":\"http://x\",\"model\":\"m\"}],"
			   "\"cascade\":{\"pattern\":\"[0-9\"}}");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), -1);
	cr_assert(strstr(err, "cascade.pattern is not a valid PCRE2 pattern: missing terminating ] for character "
			      "class at offset 4"), "%s", err);
	config_write(path, "{\"tiers\":[{\"name\":\"a\",\"url\":\"http://x\",\"model\":\"m\"}],"
			   "\"cascade\":{\"pattern\":7}}");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), -1);
	cr_assert(strstr(err, "cascade.pattern must be a string"), "%s", err);
	config_write(path, "{\"tiers\":[{\"name\":\"a\",\"url\":\"http://x\",\"model\":\"m\"}],"
			   "\"cascade\":{\"pattern\":\"[0-9]+\"}}");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), 0, "%s", err);
	cr_assert(c.cascade_re != NULL);
	router_config_release(&c);
	config_write(path, "{\"tiers\":[{\"name\":\"a\",\"url\":\"http://x\",\"model\":\"m\"}],\"threads\":2.5}");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), -1);
	cr_assert(strstr(err, "\"threads\" must be 0..64"), "%s", err);
	config_write(path, "{\"tiers\":[{\"name\":\"a\",\"url\":\"http://x\",\"model\":\"m\"}],\"threads\":65}");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), -1);
	cr_assert(strstr(err, "\"threads\" must be 0..64"), "%s", err);
	config_write(path, "{\"tiers\":[{\"name\":\"a\",\"url\":\"http://x\",\"model\":\"m\"}],\"threads\":3}");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.threads, 3);
	router_config_release(&c);
	config_write(path, "{\"tiers\":[{\"name\":\"a\",\"url\":\"http://x\",\"model\":\"m\"}],"
			   "\"privacy\":{\"max_sessions\":0}}");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), -1);
	cr_assert(strstr(err, "\"privacy\" must be {\"max_sessions\""), "%s", err);
	config_write(path, "{\"tiers\":[{\"name\":\"a\",\"url\":\"http://x\",\"model\":\"m\"}],"
			   "\"budget\":{\"usd\":1,\"over\":\"cloud\"}}");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), -1);
	cr_assert(strstr(err, "budget.over must be \"local\" or \"refuse\""), "%s", err);
	config_write(path, "{\"tiers\":[{\"name\":\"a\",\"url\":\"http://x\",\"model\":\"m\"}],"
			   "\"budget\":{\"usd\":1,\"max_clients\":0}}");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), -1);
	cr_assert(strstr(err, "budget.max_clients"), "%s", err);
	config_write(path, "{\"tiers\":[{\"name\":\"a\",\"url\":\"http://x\",\"model\":\"m\"}],"
			   "\"budget\":{\"usd\":1,\"over\":\"refuse\"}}");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), 0, "%s", err);
	cr_assert(c.budget.refuse && c.budget.max_clients == 4096);
	router_config_release(&c);
	config_write(path, "{\"tiers\":[{\"name\":\"a\",\"url\":\"http://x\",\"model\":\"m\",\"measured\":true}],"
			   "\"cascade\":{\"logprob_min\":-1.5,\"logprob_stat\":\"min\"}}");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), 0, "%s", err);
	cr_assert(c.tiers[0].measured && c.cascade_logprob_use_min && c.cascade_logprob_min == -1.5);
	router_config_release(&c);
	config_write(path, "{\"tiers\":[{\"name\":\"a\",\"url\":\"http://x\",\"model\":\"m\"}]}");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), 0, "%s", err);
	cr_assert(!c.tiers[0].measured && isnan(c.cascade_logprob_min));
	router_config_release(&c);
	unlink(path);
}

static void two_tiers(struct router_config *c, const char *path)
{
	config_write(path, "{\"tiers\":[{\"name\":\"local\",\"url\":\"http://x\",\"model\":\"s\"},"
			   "{\"name\":\"cloud\",\"url\":\"http://y\",\"model\":\"l\",\"cloud\":true}],"
			   "\"rules\":{\"long_prompt_chars\":10,\"long_tier\":\"cloud\"}}");
	cr_assert_eq(router_config_load(c, path, err, sizeof(err)), 0, "%s", err);
}

Test(router, decisions_under_limits)
{
	char path[] = "/tmp/ipw-test-rconf-XXXXXX";
	struct router_config c;
	struct router_decision d;
	struct router_request_info ri;
	struct router_tier_live live[2] = {{0, NAN, NAN}, {3, 0.2, 1.0}};
	int fd = mkstemp(path);
	close(fd);
	two_tiers(&c, path);
	memset(&d, 0, sizeof(d));
	cr_assert_eq(router_policy_parse(&c, NULL, "ipw-router", &d.policy, &d.threshold, &d.tier, err, sizeof(err)), 0);
	cr_assert_eq(d.policy, POLICY_RULES);
	cr_assert_eq(router_policy_parse(&c, NULL, "ipw-router:learned", &d.policy, &d.threshold, &d.tier, err,
					 sizeof(err)), -1, "no learned router configured");
	cr_assert_eq(router_policy_parse(&c, NULL, "gpt-4", &d.policy, &d.threshold, &d.tier, err, sizeof(err)), -1);
	memset(&ri, 0, sizeof(ri));
	ri.text = "a long question indeed";
	ri.prompt_chars = 22;
	ri.max_ttft_s = ri.max_e2e_s = NAN;
	d.policy = POLICY_RULES;
	cr_assert_eq(router_decide(&c, NULL, live, &ri, &d, err, sizeof(err)), 0);
	cr_assert_eq(d.n, 2);
	cr_assert_eq(d.order[0], 1, "long prompt: the cloud first");
	ri.local_only = 1;
	cr_assert_eq(router_decide(&c, NULL, live, &ri, &d, err, sizeof(err)), 0);
	cr_assert_eq(d.n, 1);
	cr_assert_eq(d.order[0], 0);
	cr_assert_str_eq(d.first_skipped, "local-only");
	ri.local_only = 0;
	ri.max_ttft_s = 0.5; /* the cloud: 0.2 s x (1 + 3 in flight) = 0.8 s > 0.5 s */
	cr_assert_eq(router_decide(&c, NULL, live, &ri, &d, err, sizeof(err)), 0);
	cr_assert_eq(d.order[0], 0);
	cr_assert(strstr(d.reason, "skipped cloud: latency"), "%s", d.reason);
	ri.max_ttft_s = 1.0; /* 0.8 s fits */
	cr_assert_eq(router_decide(&c, NULL, live, &ri, &d, err, sizeof(err)), 0);
	cr_assert_eq(d.order[0], 1);
	ri.max_e2e_s = 3.0; /* the whole reply: 1 s x 4 = 4 s > 3 s */
	cr_assert_eq(router_decide(&c, NULL, live, &ri, &d, err, sizeof(err)), 0);
	cr_assert_eq(d.order[0], 0);
	ri.max_e2e_s = NAN;
	ri.local_only = 1;
	live[0].ttft_ewma_s = 2;
	ri.max_ttft_s = 0.5;
	cr_assert_eq(router_decide(&c, NULL, live, &ri, &d, err, sizeof(err)), -1, "nothing allowed");
	cr_assert(strstr(err, "local: latency") && strstr(err, "cloud: local-only"), "%s", err);
	router_config_release(&c);
	unlink(path);
}

Test(router, token_compare)
{
	cr_assert(router_token_equal("tok-alpha-123456", "tok-alpha-123456"));
	cr_assert(!router_token_equal("tok-alpha-123456", "tok-alpha-123457"), "last byte differs");
	cr_assert(!router_token_equal("tok-alpha-123456", "tok-alpha-12345"), "a prefix is not the token");
	cr_assert(!router_token_equal("tok-alpha-123456", "tok-alpha-1234567"), "nor a longer one");
	cr_assert(!router_token_equal("tok-alpha-123456", ""));
	cr_assert(router_token_equal("", ""));
}

/* A predictor that ignores the text: w = 0 and bias 0 give score 0, so p = sigmoid(platt_b). */
static void const_model(struct learn_model *m, const char *model, double p)
{
	memset(m, 0, sizeof(*m));
	m->tier_model = xstrdup(model);
	m->run_id = xstrdup("run-x");
	m->platt_a = 1;
	m->platt_b = log(p / (1 - p));
	m->j_per_token = NAN;
}

/*
 * A held-out curve by hand (threshold: local share, accuracy):
 * 0: 1.0, 0.70; 0.25: 0.8, 0.80; 0.5: 0.5, 0.88; 0.75: 0.3, 0.92; 1: 0.0, 0.95.
 * share=0.4 -> 0.5 (the last threshold whose share is still >= 0.4; 0.75 has 0.3);
 * acc=0.9 -> 0.75 (the first whose accuracy reaches 0.9); acc=0.8 -> 0.25 (equal counts).
 */
Test(router, learned_thresholds_and_choice)
{
	char path[] = "/tmp/ipw-test-rconf-XXXXXX";
	struct router_config c;
	struct learn_router lr;
	struct router_decision d;
	struct router_request_info ri;
	struct router_tier_live live[3] = {{0, NAN, NAN}, {0, NAN, NAN}, {0, NAN, NAN}};
	static const double thr[] = {0, 0.25, 0.5, 0.75, 1}, share[] = {1, 0.8, 0.5, 0.3, 0},
			    acc[] = {0.70, 0.80, 0.88, 0.92, 0.95};
	json_t *curve = json_array();
	int fd = mkstemp(path);
	close(fd);
	for (int i = 0; i < 5; i++)
		json_array_append_new(curve, json_pack("{s:f,s:f,s:f}", "threshold", thr[i], "local_share", share[i],
						       "accuracy", acc[i]));
	memset(&lr, 0, sizeof(lr));
	lr.version = 1;
	lr.threshold = 0.6;
	lr.nmodels = 2;
	lr.models = xcalloc(2, sizeof(*lr.models));
	const_model(&lr.models[0], "m-med", 0.8);
	const_model(&lr.models[1], "m-small", 0.6);
	lr.report = json_pack("{s:o}", "curve", curve);
	/* small: 0.5 J/token but 10 USD per 1M out; med: 2 J/token, 1 USD per 1M out */
	config_write(path, "{\"tiers\":[{\"name\":\"small\",\"url\":\"http://x\",\"model\":\"m-small\",\"joules_per_token\":0.5,"
			   "\"price\":{\"input\":0,\"output\":10}},"
			   "{\"name\":\"med\",\"url\":\"http://x\",\"model\":\"m-med\",\"joules_per_token\":2,"
			   "\"price\":{\"input\":0,\"output\":1}},"
			   "{\"name\":\"cloud\",\"url\":\"http://y\",\"model\":\"l\",\"cloud\":true}],"
			   "\"learned\":{\"router\":\"unused.json\"}}");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), 0, "%s", err);
	memset(&d, 0, sizeof(d));
#define PARSE(name) router_policy_parse(&c, &lr, name, &d.policy, &d.threshold, &d.tier, err, sizeof(err))
	cr_assert_eq(PARSE("ipw-router:learned"), 0, "%s", err);
	cr_assert_eq(d.policy, POLICY_LEARNED);
	cr_assert_float_eq(d.threshold, 0.6, 1e-12, "the file's default");
	cr_assert_eq(PARSE("ipw-router:learned:0.7"), 0, "%s", err);
	cr_assert_float_eq(d.threshold, 0.7, 1e-12);
	cr_assert_eq(PARSE("ipw-router:learned:share=0.4"), 0, "%s", err);
	cr_assert_float_eq(d.threshold, 0.5, 1e-12);
	cr_assert_eq(PARSE("ipw-router:learned:share=0.8"), 0, "%s", err);
	cr_assert_float_eq(d.threshold, 0.25, 1e-12, "share exactly 0.8 counts");
	cr_assert_eq(PARSE("ipw-router:learned:acc=0.9"), 0, "%s", err);
	cr_assert_float_eq(d.threshold, 0.75, 1e-12);
	cr_assert_eq(PARSE("ipw-router:learned:acc=0.8"), 0, "%s", err);
	cr_assert_float_eq(d.threshold, 0.25, 1e-12);
	cr_assert_eq(PARSE("ipw-router:learned:acc=0.99"), -1);
	cr_assert(strstr(err, "no threshold reaches acc=0.99"), "%s", err);
	cr_assert_eq(PARSE("ipw-router:learned:share=2"), -1);
	cr_assert(strstr(err, "the target is a fraction 0..1"), "%s", err);
	cr_assert_eq(PARSE("ipw-router:learned:share=abc"), -1);
	cr_assert_eq(PARSE("ipw-router:learned:1.5"), -1);
	cr_assert(strstr(err, "the threshold is a probability 0..1"), "%s", err);
#undef PARSE
	memset(&ri, 0, sizeof(ri));
	ri.text = "any question";
	ri.max_ttft_s = ri.max_e2e_s = NAN;
	d.policy = POLICY_LEARNED;
	d.threshold = 0.7; /* med (0.8) clears it, small (0.6) does not */
	cr_assert_eq(router_decide(&c, &lr, live, &ri, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(d.order[0], 1);
	cr_assert_float_eq(d.predicted, 0.8, 1e-9);
	cr_assert_str_eq(d.reason, "learned: p=0.800 >= 0.700 at med");
	d.threshold = 0.5; /* both clear it: the cheaper by energy, small */
	cr_assert_eq(router_decide(&c, &lr, live, &ri, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(d.order[0], 0);
	cr_assert_float_eq(d.predicted, 0.6, 1e-9);
	c.learned_by_cost = 1; /* ... and by price, med (1 USD per 1M against 10) */
	cr_assert_eq(router_decide(&c, &lr, live, &ri, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(d.order[0], 1);
	cr_assert_str_eq(d.reason, "learned: p=0.800 >= 0.500 at med (cheapest by price)");
	c.learned_by_cost = 0;
	d.threshold = 0.9; /* neither: the cloud, with the first model's prediction */
	cr_assert_eq(router_decide(&c, &lr, live, &ri, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(d.order[0], 2);
	cr_assert_str_eq(d.reason, "learned: p=0.800 < 0.900");
	router_config_release(&c);
	config_write(path, "{\"tiers\":[{\"name\":\"a\",\"url\":\"http://x\",\"model\":\"m\"}],"
			   "\"learned\":{\"router\":\"r.json\",\"by\":\"cost\"}}");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), 0, "%s", err);
	cr_assert(c.learned_by_cost);
	router_config_release(&c);
	config_write(path, "{\"tiers\":[{\"name\":\"a\",\"url\":\"http://x\",\"model\":\"m\"}],"
			   "\"learned\":{\"router\":\"r.json\",\"by\":\"speed\"}}");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), -1);
	cr_assert(strstr(err, "learned.by must be \"energy\" or \"cost\""), "%s", err);
	learn_router_release(&lr);
	unlink(path);
}

/* The TOML subset: the same tree as the JSON written by hand, and its syntax errors with their lines. */
Test(router, toml_subset)
{
	static const char toml[] =
		"# the router\n"
		"host = \"127.0.0.1\"   # where\n"
		"port = 8090\n"
		"retries = 1\n"
		"fallback = [\"small\", 'gpt',\n"
		"  # a comment inside\n"
		"]\n"
		"policy = \"learned\"\n"
		"max_body_bytes = 1_048_576\n"
		"\n"
		"[[tiers]]\n"
		"name = \"small\"\n"
		"url = 'http://127.0.0.1:8081'\n"
		"model = \"ref-s\"\n"
		"joules_per_token = 0.25\n"
		"\n"
		"[[tiers]]\n"
		"name = \"gpt\"\n"
		"url = \"https://api.example.com/v1\"\n"
		"cloud = true\n"
		"measured = false\n"
		"price = { input = 2.5, output = 10 }\n"
		"\n"
		"[learned]\n"
		"router = \"router.json\"\n"
		"threshold = 6e-1\n"
		"\n"
		"[rules]\n"
		"long_prompt_chars = 4000\n"
		"aliases.fast = \"small\"\n"
		"\"aliases\".\"big one\" = \"gpt\"\n"
		"\n"
		"[cascade]\n"
		"pattern = \"\\\\d+ \\u00e9\\t\\\"x\\\"\"\n"
		"logprob_min = -1.5\n";
	static const char json[] =
		"{\"host\":\"127.0.0.1\",\"port\":8090,\"retries\":1,\"fallback\":[\"small\",\"gpt\"],\"policy\":\"learned\","
		"\"max_body_bytes\":1048576,"
		"\"tiers\":[{\"name\":\"small\",\"url\":\"http://127.0.0.1:8081\",\"model\":\"ref-s\",\"joules_per_token\":0.25},"
		"{\"name\":\"gpt\",\"url\":\"https://api.example.com/v1\",\"cloud\":true,\"measured\":false,"
		"\"price\":{\"input\":2.5,\"output\":10}}],"
		"\"learned\":{\"router\":\"router.json\",\"threshold\":0.6},"
		"\"rules\":{\"long_prompt_chars\":4000,\"aliases\":{\"fast\":\"small\",\"big one\":\"gpt\"}},"
		"\"cascade\":{\"pattern\":\"\\\\d+ \\u00e9\\t\\\"x\\\"\",\"logprob_min\":-1.5}}";
	static const struct {
		const char *text, *err;
	} bad[] = {
		{"a = 1\nb = \n", "line 2: expected a value"},
		{"a = 1\na = 2\n", "line 2: a key is defined twice"},
		{"[t]\nx = 1\n[t]\n", "line 3: a [table] is defined twice"},
		{"s = \"open\n", "line 1: a string is not closed"},
		{"s = \"\"\"multi\"\"\"\n", "line 1: multi-line strings are not supported"},
		{"x = 0x1f\n", "line 1: only decimal numbers are supported"},
		{"x = inf\n", "line 1: inf and nan are not allowed"},
		{"x = 1 2\n", "line 1: unexpected text after the value"},
		{"x = [1,\n2\n", "line 3: expected ',' or ']' in an array"},
		{"a = 1\n[[a]]\n", "line 2: [[...]] names a key that is not an array of tables"},
		{"x = \"\\q\"\n", "line 1: an unknown escape in a string"},
		{"x = 99999999999999999999\n", "line 1: not an integer (or out of range)"},
		{"= 1\n", "line 1: expected a key"},
		/* found by tests/fuzz/fuzz_toml.c: a value or an escape at the very end of the text */
		{"x = ", "line 1: expected a value"},
		{"x = -", "line 1: not an integer"},
		{"s = \"a\\", "line 1: a string is not closed"},
	};
	char path[] = "/tmp/ipw-test-rconf-XXXXXX.toml";
	struct router_config c;
	json_t *got = router_toml_parse(toml, err, sizeof(err)), *want = json_loads(json, 0, NULL);
	int fd;
	cr_assert(got, "%s", err);
	cr_assert(want);
	{
		char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT), *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
		cr_assert(json_equal(got, want), "got  %s\nwant %s", g, w);
		free(g);
		free(w);
	}
	json_decref(got);
	json_decref(want);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_null(router_toml_parse(bad[i].text, err, sizeof(err)), "%s", bad[i].text);
		cr_assert(strstr(err, bad[i].err), "'%s': got '%s', want '%s'", bad[i].text, err, bad[i].err);
	}
	/* a .toml file goes through the same loaders as JSON: its field errors too */
	fd = mkstemps(path, 5);
	close(fd);
	config_write(path, "policy = \"cascade\"\n[[tiers]]\nname = \"a\"\nurl = \"http://x\"\nmodel = \"m\"\n"
			   "[[tiers]]\nname = \"c\"\nurl = \"http://y\"\nmodel = \"l\"\ncloud = true\n"
			   "[budget]\nusd = 1\nover = \"refuse\"\n");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.ntiers, 2);
	cr_assert(c.tiers[1].cloud && c.budget.refuse && !strcmp(c.default_policy, "cascade"));
	router_config_release(&c);
	config_write(path, "[[tiers]]\nname = \"a\"\nurl = \"ftp://x\"\nmodel = \"m\"\n");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), -1);
	cr_assert(strstr(err, "tiers[0].url must start with http://"), "%s", err);
	config_write(path, "[[tiers]]\nname = \"a\"\nurl = \"http://x\"\nmodel = m\n");
	cr_assert_eq(router_config_load(&c, path, err, sizeof(err)), -1);
	cr_assert(strstr(err, ".toml: line 4: expected a value"), "%s", err);
	unlink(path);
}

/* The body as the decision reads it: the scanner's view equals jansson's for every body it takes. */
static void view_eq(const struct body_view *a, const struct body_view *b, const char *body)
{
#define SEQ(f) cr_assert((!a->f && !b->f) || (a->f && b->f && !strcmp(a->f, b->f)), "%s: " #f " %s / %s", body, \
			 a->f ? a->f : "(null)", b->f ? b->f : "(null)")
	SEQ(model);
	SEQ(privacy);
	SEQ(session);
	SEQ(item_id);
	SEQ(text);
#undef SEQ
	cr_assert_eq(a->messages_ok, b->messages_ok, "%s", body);
	cr_assert_eq(a->stream, b->stream, "%s", body);
	cr_assert_eq(a->chars, b->chars, "%s: chars %zu / %zu", body, a->chars, b->chars);
	for (int k = 0; k < 2; k++) {
		cr_assert_eq(a->lim[k].present, b->lim[k].present, "%s", body);
		cr_assert_eq(a->lim[k].number, b->lim[k].number, "%s", body);
		if (a->lim[k].number)
			cr_assert_eq(a->lim[k].ms, b->lim[k].ms, "%s", body);
	}
}

static int view_both(const char *body, struct body_view *scan, struct body_view *full)
{
	struct rreq r;
	json_error_t je;
	int rc;
	memset(&r, 0, sizeof(r));
	memset(scan, 0, sizeof(*scan));
	memset(full, 0, sizeof(*full));
	buf_init(&r.body, 0);
	buf_append(&r.body, body, strlen(body));
	rc = body_scan(&r, scan);
	cr_assert_eq(body_json(&r, full, &je), 0, "%s: %s", body, je.text);
	json_decref(r.req);
	buf_release(&r.body);
	return rc;
}

Test(router, body_scan_equals_jansson)
{
	static const char *const taken[] = {
		"{\"model\":\"ipw-router\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
		"{\"messages\":[{\"content\":\"sys \\u00e9\",\"role\":\"system\"},{\"content\":\"late role\",\"role\":\"user\"}],"
		"\"model\":\"m\",\"stream\":true}",
		"{\"model\":\"m\",\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
		"{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}},{\"text\":\"b\\\"c\\n\"}]},{\"role\":\"assistant\","
		"\"content\":\"ok\"},7,null,{\"role\":1,\"content\":\"bad role\"},{\"role\":\"user\",\"content\":{\"x\":1}}]}",
		"{\"model\":\"m\",\"messages\":[],\"ipw\":{\"privacy\":\"local-only\",\"session\":\"s1\",\"item_id\":\"it\","
		"\"max_ttft_ms\":250,\"max_e2e_ms\":1.5e3,\"other\":[1,2]}}",
		"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"ipw\":{\"max_ttft_ms\":\"250\","
		"\"max_e2e_ms\":null,\"privacy\":3}}",
		"{\"model\":7,\"messages\":{\"role\":\"user\"},\"stream\":\"yes\",\"ipw\":[1]}",
		" { \"model\" : \"m\" , \"messages\" : [ { \"role\" : \"user\" , \"content\" : \"\xe2\x82\xac sp\" } ] } ",
	};
	/* outside the scanner's subset, or a key it reads given twice: jansson's path */
	static const char *const left[] = {
		"{\"model\":\"a\",\"model\":\"b\",\"messages\":[]}",
		"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"role\":\"system\",\"content\":\"x\"}]}",
		"{\"mod\\u0065l\":\"m\",\"messages\":[]}",
		"{\"model\":\"m\",\"messages\":[],\"ipw\":{\"session\":\"a\",\"session\":\"b\"}}",
	};
	struct body_view a, b;
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
		cr_assert_eq(view_both(taken[i], &a, &b), 0, "the scanner left %s", taken[i]);
		view_eq(&a, &b, taken[i]);
		body_view_release(&a);
		body_view_release(&b);
	}
	for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++) {
		cr_assert_eq(view_both(left[i], &a, &b), -1, "the scanner took %s", left[i]);
		cr_assert_null(a.model);
		body_view_release(&b);
	}
	/* hand-checked values of the third body: chars 1 + 4 + 2 + 8 (the parts, "ok", "bad role"), the last user text part */
	cr_assert_eq(view_both(taken[2], &a, &b), 0);
	cr_assert_eq(a.chars, 15);
	cr_assert_str_eq(a.text, "b\"c\n");
	body_view_release(&a);
	body_view_release(&b);
}
