/*
 * client_bench.c - how fast one ipw client streams: queries/s and streamed
 * tokens/s at a given concurrency against a server (the fake one, with ~0
 * delays, so the client is what is measured), and the latency the client adds
 * to time-to-first-token (client first-token time - server send time).
 * --server-ttft-ms T --extra adds, after the usual columns: TTFT minus the
 * server's configured T, p50/p99 (µs), CPU seconds per 1,000 tokens and the
 * process's peak RSS (KB).
 * --rate R: open loop instead of a closed one: requests arrive at R a second,
 * Poisson (exponential gaps from a fixed seed), whatever is in flight; with
 * streams of duration D about R x D are open at once, their starts spread
 * over time rather than in waves. --concurrency then only sizes the warm-up.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "client.h"
#include "clock.h"

struct bench {
	struct client *c;
	struct chat_request req;
	struct chat_result *res;
	int n, next, ndone, nfail;
	int open_loop;      /* --rate: arrivals are scheduled, a finished request starts none */
};

static void on_done(void *arg, struct chat_result *r);

static void submit_next(struct bench *b)
{
	struct chat_result *r = &b->res[b->next++];
	chat_result_init(r);
	if (client_submit(b->c, &b->req, r, on_done, b)) {
		b->ndone++;
		b->nfail++;
	}
}

static void on_done(void *arg, struct chat_result *r)
{
	struct bench *b = arg;
	b->ndone++;
	if (r->err != ERR_NONE) {
		if (b->nfail++ < 3)
			fprintf(stderr, "client_bench: %s: %s\n", err_kind_name(r->err), r->errmsg);
	}
	if (!b->open_loop && b->next < b->n)
		submit_next(b);
}

/* An exponential gap (s) at rate per second, from a fixed-seed xorshift: the same arrivals every run. */
static double next_gap(unsigned long long *s, double rate)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return -log(1.0 - (double)(*s >> 11) / 9007199254740992.0) / rate;
}

/* The open loop: submits on schedule, polls until every request is done. */
static void run_open_loop(struct bench *b, double rate)
{
	unsigned long long seed = 0x9e3779b97f4a7c15ULL;
	int64_t start = clock_now_ns(), due = start;
	int inflight = 0;

	while (b->next < b->n || inflight > 0) {
		int64_t now = clock_now_ns();
		long long wait_ms = 1000;
		while (b->next < b->n && due <= now) {
			submit_next(b);
			due += (int64_t)(next_gap(&seed, rate) * 1e9);
		}
		if (b->next < b->n)
			wait_ms = (due - now + 999999) / 1000000;
		inflight = client_poll(b->c, (int)(wait_ms < 1 ? 1 : wait_ms));
	}
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	const char *url = NULL, *api = "openai", *model = "fake-model";
	int n = 2000, conc = 1, i, k = 0, kt = 0, warm = 20, extra = 0;
	double server_ttft_ms = 0, rate = 0;
	long long *vs_cfg;
	struct bench b = { 0 };
	char err[IPW_ERRLEN];
	long long *added, tokens = 0;
	int64_t t0, t1;
	double wall, cpu0, cpu;

	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--url"))
			url = argv[i + 1];
		else if (!strcmp(argv[i], "--api"))
			api = argv[i + 1];
		else if (!strcmp(argv[i], "--n"))
			n = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--concurrency"))
			conc = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--model"))
			model = argv[i + 1];
		else if (!strcmp(argv[i], "--server-ttft-ms"))
			server_ttft_ms = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--extra"))
			extra = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--rate"))
			rate = atof(argv[i + 1]);
	}
	if (!url || n <= 0 || conc <= 0 || rate < 0) {
		fprintf(stderr, "usage: client_bench --url URL [--api openai|ollama] [--n N] [--concurrency C] [--model M]"
			" [--rate R]\n");
		return 2;
	}
	b.c = client_new(url, api, err, sizeof err);
	if (!b.c) {
		fprintf(stderr, "client_bench: %s\n", err);
		return 1;
	}
	b.req.model = model;
	b.req.prompt = "Say something.";
	b.req.s.temperature = 0;
	b.req.s.top_p = NAN;
	b.req.timeout_s = 60;

	/* warm-up: open connections */
	b.n = warm > conc ? warm : conc;
	b.res = calloc((size_t)b.n, sizeof *b.res);
	for (i = 0; i < conc; i++)
		submit_next(&b);
	while (client_poll(b.c, 1000) > 0)
		;
	for (i = 0; i < b.n; i++)
		chat_result_release(&b.res[i]);
	free(b.res);

	b.n = n;
	b.next = b.ndone = b.nfail = 0;
	b.res = calloc((size_t)n, sizeof *b.res);
	added = calloc((size_t)n, sizeof *added);
	vs_cfg = calloc((size_t)n, sizeof *vs_cfg);
	cpu0 = cpu_s();
	t0 = clock_now_ns();
	if (rate > 0) {
		b.open_loop = 1;
		run_open_loop(&b, rate);
	} else {
		for (i = 0; i < conc && i < n; i++)
			submit_next(&b);
		while (client_poll(b.c, 1000) > 0)
			;
	}
	t1 = clock_now_ns();
	cpu = cpu_s() - cpu0;
	for (i = 0; i < n; i++) {
		struct chat_result *r = &b.res[i];
		if (r->err == ERR_NONE) {
			tokens += r->completion_tokens > 0 ? r->completion_tokens : 0;
			if (r->server_t_first_ns > 0 && r->t_first_ns > 0)
				added[k++] = r->t_first_ns - r->server_t_first_ns;
			if (r->t_first_ns > 0 && r->t_send_ns > 0)
				vs_cfg[kt++] = r->t_first_ns - r->t_send_ns - (long long)(server_ttft_ms * 1e6);
		}
		chat_result_release(r);
	}
	qsort(added, (size_t)k, sizeof *added, cmp_ll);
	qsort(vs_cfg, (size_t)kt, sizeof *vs_cfg, cmp_ll);
	wall = (double)(t1 - t0) / 1e9;
	/* api | concurrency | queries | failed | queries/s | tokens/s | added TTFT p50 | p99 (us) | client CPU us/query */
	printf("| %s | %d | %d | %d | %.0f | %.0f | %.1f | %.1f | %.1f |\n", api, conc, n, b.nfail, n / wall,
	       tokens / wall, k ? added[k / 2] / 1e3 : NAN, k ? added[(size_t)((k - 1) * 0.99)] / 1e3 : NAN,
	       cpu / n * 1e6);
	if (extra) {
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		/* TTFT - configured p50 | p99 (us) | CPU s per 1,000 tokens | peak RSS (KB) */
		printf("extra | %.1f | %.1f | %.4f | %ld |\n", kt ? vs_cfg[kt / 2] / 1e3 : NAN,
		       kt ? vs_cfg[(size_t)((kt - 1) * 0.99)] / 1e3 : NAN, tokens ? cpu / (double)tokens * 1e3 : NAN,
		       ru.ru_maxrss);
	}
	free(vs_cfg);
	free(added);
	free(b.res);
	client_free(b.c);
	return b.nfail ? 1 : 0;
}
