/*
 * cmd/route_replay.c - 'ipw route replay --dataset D --url ROUTER': sends a
 * dataset's items through a running router (one at a time), scores the
 * answers with the offline graders and reports accuracy, energy, cost and
 * local share; with --local-tier / --cloud-tier the same items go to each tier
 * alone (all-local, all-cloud), giving a random router at the same local share
 * and, with --router FILE, the offline simulation of that router file on the
 * same answers. docs/router.md "Replay".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "../clock.h"
#include "../dataset.h"
#include "../grade.h"
#include "../router/router.h"
#include "../util.h"
#include "cmd.h"
#include "common.h"
#include "common_opts.h"

struct replay_args {
	struct cmd_common cc;
	const char *dataset, *url, *model, *local_tier, *cloud_tier, *out, *router, *token_env;
	int offset, limit, private_every, max_tokens;
	double threshold, energy_wait_s;
	long energy_pending; /* replies whose measured energy was still pending after energy_wait_s */
};

#define A(f) offsetof(struct replay_args, f)
static const struct opt_def replay_opts[] = {
	CMD_OPTDEF_JSON(struct replay_args, cc),
	{"dataset", 0, OPT_STRING, A(dataset), "D", "the items (a JSONL file, or ref / ref:N)", NULL, 0, 0, 0, NULL, NULL,
	 NULL},
	{"url", 0, OPT_STRING, A(url), "URL", "the router (ipw route serve)", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"model", 0, OPT_STRING, A(model), "POLICY", "the policy to replay (default ipw-router)", NULL, 0, 0, 0, NULL,
	 NULL, NULL},
	{"offset", 0, OPT_INT, A(offset), "K", "skip the first K items", NULL, 0, 1 << 30, OPT_BOUNDED, NULL,
	 "a count", NULL},
	{"limit", 0, OPT_INT, A(limit), "N", "at most N items (default all)", NULL, 1, 1 << 30, OPT_BOUNDED, NULL,
	 "a count", NULL},
	{"local-tier", 0, OPT_STRING, A(local_tier), "TIER", "also send every item to this tier alone (all-local)",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
	{"cloud-tier", 0, OPT_STRING, A(cloud_tier), "TIER", "also send every item to this tier alone (all-cloud)",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
	{"router", 0, OPT_STRING, A(router), "FILE", "offline simulation of this router file on the same answers "
	 "(needs both tiers)", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"threshold", 0, OPT_DOUBLE, A(threshold), "P", "the simulation's threshold (default: the file's)", NULL, 0, 1,
	 OPT_BOUNDED, NULL, "a probability 0..1", NULL},
	{"private-every", 0, OPT_INT, A(private_every), "K", "send every K-th item as x-ipw-privacy: local-only", NULL,
	 0, 1 << 30, OPT_BOUNDED, NULL, "a count", NULL},
	{"max-tokens", 0, OPT_INT, A(max_tokens), "N", "max_tokens of each request (default 64)", NULL, 1, 1 << 20,
	 OPT_BOUNDED, NULL, "a count", NULL},
	{"token-env", 0, OPT_STRING, A(token_env), "VAR", "the router's client token is in this variable", NULL, 0, 0,
	 0, NULL, NULL, NULL},
	{"energy-wait-s", 0, OPT_DOUBLE, A(energy_wait_s), "S", "wait up to S s per reply for a measured tier's "
	 "energy to be attributed (GET /v1/ipw/requests/ID; default 10)", NULL, 0, 3600, OPT_BOUNDED, NULL,
	 "seconds 0..3600", NULL},
	{"out", 0, OPT_STRING, A(out), "FILE", "one JSON line per item and policy (tier, answer, correct, energy, "
	 "cost)", NULL, 0, 0, 0, NULL, NULL, NULL},
};
#define NOPTS (sizeof(replay_opts) / sizeof(replay_opts[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw route replay --dataset D --url ROUTER [--model POLICY] [--offset K] [--limit N]\n"
		"                        [--local-tier T --cloud-tier T [--router FILE]] [--private-every K] [--out F]\n"
		"Sends each item through the router, grades the answers, and reports accuracy, energy (measured\n"
		"at measured tiers, else the router's estimates), cost and local share against all-local,\n"
		"all-cloud and a random router.\n\n");
	opt_usage(f, replay_opts, NOPTS);
}

/* One reply. */
struct reply {
	int ok, correct, cloud, pending, measured;
	char tier[64], id[96];
	double energy_j, cost_usd;
	char *answer;
};

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n;
	char line[256];
	snprintf(line, sizeof(line), "%.*s", (int)(len < 255 ? len : 255), p);
	line[strcspn(line, "\r\n")] = 0;
	if (!strncasecmp(line, "x-ipw-tier: ", 12))
		snprintf(r->tier, sizeof(r->tier), "%.63s", line + 12);
	else if (!strncasecmp(line, "x-ipw-tier-kind: ", 17))
		r->cloud = !strcmp(line + 17, "cloud");
	else if (!strncasecmp(line, "x-ipw-energy-j: ", 16))
		r->energy_j = atof(line + 16);
	else if (!strncasecmp(line, "x-ipw-cost-usd: ", 16))
		r->cost_usd = atof(line + 16);
	else if (!strncasecmp(line, "x-ipw-request-id: ", 18))
		snprintf(r->id, sizeof(r->id), "%.95s", line + 18);
	else if (!strncasecmp(line, "x-ipw-energy-status: ", 21))
		r->pending = !strcmp(line + 21, "pending");
	else if (!strncasecmp(line, "x-ipw-energy-method: ", 21))
		r->measured = !strncmp(line + 21, "measured", 8);
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	return buf_append(arg, p, size * n) < 0 ? 0 : size * n;
}

static struct curl_slist *auth_header(const struct replay_args *a, struct curl_slist *h)
{
	if (a->token_env && getenv(a->token_env)) {
		char *t = xasprintf("Authorization: Bearer %s", getenv(a->token_env));
		h = curl_slist_append(h, t);
		free(t);
	}
	return h;
}

/* One request to the router, on a handle of its own: POST of post when it is non-NULL, else GET;
 * the body is appended to *body and, when r is non-NULL, the x-ipw-* reply headers go in *r.
 * Headers h stay the caller's. Returns the HTTP status, 0 when no reply came. */
static long router_request(const char *url, struct curl_slist *h, const char *post, long timeout_s,
			   struct reply *r, struct buf *body)
{
	CURL *c = curl_easy_init();
	long status = 0;
	if (!c)
		return 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (post)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
	if (r) {
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
	if (curl_easy_perform(c) != CURLE_OK || curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
		status = 0;
	curl_easy_cleanup(c);
	return status;
}

/* A measured tier's energy is attributed after the reply (docs/router.md "Energy and cost
 * afterwards"): asks GET /v1/ipw/requests/ID every 50 ms until its energy_status is final, at most
 * energy_wait_s; sets r->energy_j (NaN when the record says null) and clears r->pending. */
static void await_energy(struct replay_args *a, struct reply *r)
{
	char *url = xasprintf("%s/v1/ipw/requests/%s", a->url, r->id);
	struct curl_slist *h = auth_header(a, NULL);
	int64_t deadline = clock_now_ns() + (int64_t)(a->energy_wait_s * 1e9);
	for (;;) {
		struct buf body;
		const char *st = NULL;
		json_t *rec = NULL;
		buf_init(&body, 1 << 20);
		if (router_request(url, h, NULL, 30, NULL, &body) == 200 &&
		    (rec = json_loadb(body.data, body.len, 0, NULL)))
			st = json_string_value(json_object_get(rec, "energy_status"));
		if (st && strcmp(st, "pending")) {
			json_t *e = json_object_get(rec, "energy_j");
			r->energy_j = json_is_number(e) ? json_number_value(e) : NAN;
			r->pending = 0;
		}
		json_decref(rec);
		buf_release(&body);
		if (!r->pending || clock_now_ns() >= deadline)
			break;
		clock_sleep_ns(50 * 1000 * 1000);
	}
	if (r->pending) {
		r->energy_j = NAN;
		a->energy_pending++;
	}
	curl_slist_free_all(h);
	free(url);
}

static void send_one(struct replay_args *a, const struct item *it, const char *model, int private,
		     struct reply *r)
{
	struct curl_slist *h = NULL;
	struct buf body;
	char *prompt = item_prompt(it), *req, *url = xasprintf("%s/v1/chat/completions", a->url), *hid;
	json_t *o;
	memset(r, 0, sizeof(*r));
	r->energy_j = r->cost_usd = NAN;
	r->correct = -1;
	buf_init(&body, 16 << 20);
	o = json_pack("{s:s,s:[{s:s,s:s}],s:i,s:i,s:b}", "model", model, "messages", "role", "user", "content", prompt,
		      "max_tokens", a->max_tokens ? a->max_tokens : 64, "temperature", 0, "stream", 0);
	req = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	h = curl_slist_append(h, "Content-Type: application/json");
	hid = xasprintf("x-ipw-item-id: %s", it->id);
	h = curl_slist_append(h, hid);
	free(hid);
	if (private)
		h = curl_slist_append(h, "x-ipw-privacy: local-only");
	h = auth_header(a, h);
	if (router_request(url, h, req, 600, r, &body) == 200) {
		json_t *rep = json_loadb(body.data, body.len, 0, NULL);
		json_t *ct = json_object_get(json_object_get(json_array_get(json_object_get(rep, "choices"), 0),
							     "message"), "content");
		if (json_is_string(ct)) {
			struct grade_settings gs;
			struct grade_result gr;
			grade_settings_init(&gs);
			r->ok = 1;
			r->answer = xstrdup(json_string_value(ct));
			grade_item(it, r->answer, &gs, &gr);
			r->correct = gr.correct;
		}
		json_decref(rep);
		if (r->pending && r->id[0])
			await_energy(a, r);
	}
	buf_release(&body);
	curl_slist_free_all(h);
	free(req);
	free(url);
	free(prompt);
}

struct sums {
	const char *name;
	long n, ok, correct, scored, local, measured;
	double energy_j, cost_usd;
	int energy_known, cost_known;
};

static void sums_add(struct sums *s, const struct reply *r)
{
	s->n++;
	if (!r->ok)
		return;
	s->ok++;
	s->local += !r->cloud;
	s->measured += r->measured && isfinite(r->energy_j);
	if (r->correct >= 0) {
		s->scored++;
		s->correct += r->correct;
	}
	if (isfinite(r->energy_j))
		s->energy_j += r->energy_j;
	else
		s->energy_known = 0;
	if (isfinite(r->cost_usd))
		s->cost_usd += r->cost_usd;
	else
		s->cost_known = 0;
}

static double acc_of(const struct sums *s)
{
	return s->scored ? (double)s->correct / s->scored : NAN;
}

static json_t *sums_json(const struct sums *s)
{
	return json_pack("{s:s,s:I,s:I,s:I,s:o,s:o,s:o,s:o}", "policy", s->name, "items", (json_int_t)s->n,
			 "answered", (json_int_t)s->ok, "energy_measured_answers", (json_int_t)s->measured, "accuracy", isfinite(acc_of(s)) ? json_real(acc_of(s)) : json_null(),
			 "local_share", s->ok ? json_real((double)s->local / s->ok) : json_null(), "energy_j",
			 s->energy_known && s->ok ? json_real(s->energy_j) : json_null(), "cost_usd",
			 s->cost_known && s->ok ? json_real(s->cost_usd) : json_null());
}

static void sums_text(const struct sums *s)
{
	printf("  %-28s %6ld  %8.1f%%  %10.1f%%  ", s->name, s->ok, 100 * acc_of(s),
	       s->ok ? 100.0 * s->local / s->ok : NAN);
	if (s->energy_known && s->ok)
		printf("%12.4f  ", s->energy_j);
	else
		printf("%12s  ", "-");
	printf("%8ld  ", s->measured);
	if (s->cost_known && s->ok)
		printf("%12.6f\n", s->cost_usd);
	else
		printf("%12s\n", "-");
}

/* The expectation of a router that sends a random share of the items local. */
static struct sums random_router(const struct sums *l, const struct sums *c, double share)
{
	struct sums r;
	memset(&r, 0, sizeof(r));
	r.name = "random (same local share)";
	r.n = l->n;
	r.ok = l->ok < c->ok ? l->ok : c->ok;
	r.scored = 1000000;
	r.correct = (long)llround(1e6 * (share * acc_of(l) + (1 - share) * acc_of(c)));
	r.local = (long)llround(share * r.ok);
	r.energy_known = l->energy_known && c->energy_known;
	r.cost_known = l->cost_known && c->cost_known;
	r.energy_j = share * l->energy_j + (1 - share) * c->energy_j;
	r.cost_usd = share * l->cost_usd + (1 - share) * c->cost_usd;
	return r;
}

static void sums_init(struct sums *s, const char *name)
{
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->energy_known = s->cost_known = 1;
}

int cmd_route_replay(int argc, char **argv)
{
	struct replay_args a;
	struct dataset ds;
	struct learn_router lr;
	char err[IPW_ERRLEN];
	int rc, first = 0, have_lr = 0;
	struct sums pol, loc, clo, sim;
	FILE *out = NULL;
	char lname[160], cname[160];

	memset(&a, 0, sizeof(a));
	memset(&ds, 0, sizeof(ds));
	cmd_common_init(&a.cc, "route replay", OUT_TEXT | OUT_JSON, OUT_TEXT);
	a.threshold = NAN;
	a.energy_wait_s = 10;
	if ((rc = cmd_opt_parse(&a.cc, replay_opts, NOPTS, &a, argc, argv, &first, NULL, usage)))
		return rc == CMD_PARSE_HELP ? 0 : rc;
	if (!a.dataset || !a.url || first < argc) {
		fprintf(stderr, "ipw route replay: give --dataset D and --url ROUTER\n");
		return EXIT_USAGE;
	}
	if (a.router && !(a.local_tier && a.cloud_tier)) {
		fprintf(stderr, "ipw route replay: --router needs --local-tier and --cloud-tier (their answers)\n");
		return EXIT_USAGE;
	}
	if (!a.model)
		a.model = "ipw-router";
	if (dataset_load_format(&ds, a.dataset, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw route replay: %s\n", err);
		return EXIT_INPUT;
	}
	if (a.router) {
		if (learn_router_load(&lr, a.router, err, sizeof(err)) < 0) {
			fprintf(stderr, "ipw route replay: %s\n", err);
			rc = EXIT_INPUT;
			goto out;
		}
		have_lr = 1;
	}
	if (a.out && !(out = fopen(a.out, "w"))) {
		fprintf(stderr, "ipw route replay: cannot write %s\n", a.out);
		rc = EXIT_ENV;
		goto out;
	}
	snprintf(lname, sizeof(lname), "ipw-router:tier:%s", a.local_tier ? a.local_tier : "");
	snprintf(cname, sizeof(cname), "ipw-router:tier:%s", a.cloud_tier ? a.cloud_tier : "");
	sums_init(&pol, a.model);
	sums_init(&loc, "all-local");
	sums_init(&clo, "all-cloud");
	sums_init(&sim, "offline simulation");
	for (size_t i = (size_t)a.offset, k = 0; i < ds.n && (!a.limit || k < (size_t)a.limit); i++, k++) {
		const struct item *it = &ds.items[i];
		int private = a.private_every > 0 && k % (size_t)a.private_every == 0;
		struct reply r, rl, rc2;
		send_one(&a, it, a.model, private, &r);
		sums_add(&pol, &r);
		if (out) {
			char *pr = item_prompt(it);
			json_t *o = json_pack("{s:s,s:s,s:s,s:b,s:s,s:b,s:i,s:b,s:o,s:o}", "item_id", it->id, "prompt",
					      pr, "policy", a.model,
					      "private", private, "tier", r.tier, "cloud", r.cloud, "correct", r.correct,
					      "energy_measured", r.measured && isfinite(r.energy_j),
					      "energy_j", isfinite(r.energy_j) ? json_real(r.energy_j) : json_null(),
					      "cost_usd", isfinite(r.cost_usd) ? json_real(r.cost_usd) : json_null());
			char *t = json_dumps(o, JSON_COMPACT);
			fprintf(out, "%s\n", t);
			free(t);
			free(pr);
			json_decref(o);
		}
		if (a.local_tier && a.cloud_tier) {
			send_one(&a, it, lname, 0, &rl);
			send_one(&a, it, cname, 0, &rc2);
			sums_add(&loc, &rl);
			sums_add(&clo, &rc2);
			if (have_lr) {
				char *prompt = item_prompt(it);
				double p = learn_predict(&lr.models[0], prompt);
				double t = isfinite(a.threshold) ? a.threshold : lr.threshold;
				sums_add(&sim, p >= t ? &rl : &rc2);
				free(prompt);
			}
			free(rl.answer);
			free(rc2.answer);
		}
		free(r.answer);
	}
	if (a.cc.format == OUT_JSON) {
		json_t *o = json_pack("{s:s,s:s,s:o}", "dataset", a.dataset, "url", a.url, "router", sums_json(&pol));
		if (a.local_tier && a.cloud_tier) {
			struct sums rnd = random_router(&loc, &clo, pol.ok ? (double)pol.local / pol.ok : 0);
			json_object_set_new(o, "all_local", sums_json(&loc));
			json_object_set_new(o, "all_cloud", sums_json(&clo));
			json_object_set_new(o, "random", sums_json(&rnd));
			if (have_lr)
				json_object_set_new(o, "simulation", sums_json(&sim));
		}
		json_dumpf(o, stdout, JSON_COMPACT);
		printf("\n");
		json_decref(o);
	} else {
		printf("replay of %s (%ld items from %d) through %s; energy: measured at measured tiers (the router's "
		       "record, looked up by request id once attributed), else the router's estimates (J/token of "
		       "the tiers' profile runs); measured: answers whose energy was measured\n",
		       a.dataset, pol.n, a.offset, a.url);
		printf("  %-28s %6s  %9s  %11s  %12s  %8s  %12s\n", "policy", "items", "accuracy", "local share",
		       "energy J", "measured", "cost USD");
		sums_text(&pol);
		if (a.local_tier && a.cloud_tier) {
			struct sums rnd = random_router(&loc, &clo, pol.ok ? (double)pol.local / pol.ok : 0);
			sums_text(&loc);
			sums_text(&clo);
			sums_text(&rnd);
			if (have_lr)
				sums_text(&sim);
		}
	}
	if (a.energy_pending)
		fprintf(stderr, "ipw route replay: %ld replies' measured energy was still being attributed after %g s "
			"(--energy-wait-s): their energy is unknown, so the energy sums that include them are not "
			"given\n", a.energy_pending, a.energy_wait_s);
	rc = pol.ok == pol.n ? 0 : EXIT_PARTIAL;
out:
	if (out)
		fclose(out);
	if (have_lr)
		learn_router_release(&lr);
	dataset_release(&ds);
	return rc;
}
