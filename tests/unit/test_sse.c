/*
 * test_sse.c - the stream parsers alone (src/client/api.h), without a
 * network: SSE and NDJSON fed byte by byte and in odd splits, line endings,
 * comments, [DONE], usage, error objects, malformed input and the size cap;
 * the fast path (client/jscan.h) against jansson alone on every recorded
 * stream (tests/data/streams/) and the fuzz corpus.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "client.h"
#include "client/api.h"
#include "client/jscan.h"
#include "../fuzz/stream_agree.h"
#include "util.h"

static const char *SSE =
	": a comment\n"
	"data: {\"model\":\"m1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\n"
	"\n"
	"data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"think \"}}]}\r\n"
	"\r\n"
	"event: message\n"
	"id: 3\n"
	"data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\r\r"
	"data:{\"choices\":[{\"delta\":{\"content\":\"lo \\u00e9\\n\\\"x\\\"\"}}]}\n\n"
	"data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
	"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":3,\"total_tokens\":14,"
	"\"completion_tokens_details\":{\"reasoning_tokens\":1}}}\n\n"
	"data: [DONE]\n\n";

static void check_sse_result(struct chat_result *r)
{
	cr_assert_eq(r->err, ERR_NONE, "%s", r->errmsg);
	cr_assert_str_eq(r->answer.data, "Hello \xc3\xa9\n\"x\"");
	cr_assert_str_eq(r->thinking.data, "think ");
	cr_assert_str_eq(r->model, "m1");
	cr_assert_str_eq(r->finish_reason, "stop");
	cr_assert_eq(r->ntoken, 3);
	cr_assert_eq(r->prompt_tokens, 11);
	cr_assert_eq(r->completion_tokens, 3);
	cr_assert_eq(r->reasoning_tokens, 1);
	cr_assert_eq(r->prompt_src, COUNT_SERVER);
	cr_assert_eq(r->completion_src, COUNT_SERVER);
	cr_assert_eq(r->reasoning_src, COUNT_SERVER);
}

/* Feeds s in pieces of size step (time = byte offset + 1), then finishes. */
static int feed(const struct http_wire *ops, const char *s, size_t step, struct chat_result *r)
{
	struct stream_parser p;
	size_t n = strlen(s), i;
	int rc = 0;

	stream_parser_init(&p, ops, r, CLIENT_MAX_RESPONSE);
	for (i = 0; i < n && !rc; i += step)
		rc = stream_parser_feed(&p, s + i, i + step <= n ? step : n - i, (int64_t)i + 1);
	if (!rc)
		rc = stream_parser_finish(&p, (int64_t)n + 1);
	stream_parser_release(&p);
	return rc;
}

Test(sse, byte_by_byte_equals_whole)
{
	size_t steps[] = { 1, 2, 3, 7, 64, 100000 };
	for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
		struct chat_result r;
		chat_result_init(&r);
		cr_assert_eq(feed(api_openai.wire, SSE, steps[k], &r), 0, "step %zu: %s", steps[k], r.errmsg);
		check_sse_result(&r);
		chat_result_release(&r);
	}
}

Test(sse, event_times_are_when_the_event_completed)
{
	struct chat_result r;
	const char *think = strstr(SSE, "\r\n\r\n") + 2; /* the blank line ending the reasoning event */
	chat_result_init(&r);
	cr_assert_eq(feed(api_openai.wire, SSE, 1, &r), 0);
	/* fed byte by byte with time = offset + 1: the event fires on its blank line's byte */
	cr_assert_eq(r.t_first_ns, (int64_t)(think - SSE) + 1);
	cr_assert_gt(r.t_first_answer_ns, r.t_first_ns);
	cr_assert_eq(r.token_ns[1], r.t_first_answer_ns);
	chat_result_release(&r);
}

Test(sse, all_in_one_read)
{
	struct chat_result r;
	chat_result_init(&r);
	cr_assert_eq(feed(api_openai.wire, SSE, strlen(SSE), &r), 0);
	check_sse_result(&r);
	/* one read: every event carries the same arrival time */
	cr_assert_eq(r.token_ns[0], r.token_ns[2]);
	chat_result_release(&r);
}

Test(sse, multiline_data_joined_with_newline)
{
	/* data lines of one event join with "\n": here that splits the JSON over two lines */
	const char *s = "data: {\"choices\":[{\"delta\":\n"
			"data: {\"content\":\"ab\"},\"finish_reason\":\"stop\"}]}\n\n";
	struct chat_result r;
	chat_result_init(&r);
	cr_assert_eq(feed(api_openai.wire, s, 1, &r), 0, "%s", r.errmsg);
	cr_assert_str_eq(r.answer.data, "ab");
	cr_assert_eq(r.completion_src, COUNT_EVENTS);
	cr_assert_eq(r.completion_tokens, 1);
	cr_assert_eq(r.prompt_tokens, -1);
	chat_result_release(&r);
	/* the same with CRLF split between reads: a CR then LF is one line end, not two */
	s = "data: {\"choices\":[{\"delta\":\r\n"
	    "data: {\"content\":\"cd\"},\"finish_reason\":\"stop\"}]}\r\n\r\n";
	chat_result_init(&r);
	cr_assert_eq(feed(api_openai.wire, s, 1, &r), 0, "%s", r.errmsg);
	cr_assert_str_eq(r.answer.data, "cd");
	chat_result_release(&r);
}

Test(sse, finish_without_done_is_complete_last_event_without_blank_line_flushed)
{
	const char *s = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
			"data: {\"choices\":[{\"delta\":{\"content\":\"b\"},\"finish_reason\":\"length\"}]}";
	struct chat_result r;
	chat_result_init(&r);
	cr_assert_eq(feed(api_openai.wire, s, 5, &r), 0, "%s", r.errmsg);
	cr_assert_str_eq(r.answer.data, "ab");
	cr_assert_str_eq(r.finish_reason, "length");
	chat_result_release(&r);
}

Test(sse, no_finish_no_done_is_reset)
{
	const char *s = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n";
	struct chat_result r;
	chat_result_init(&r);
	cr_assert_neq(feed(api_openai.wire, s, 1, &r), 0);
	cr_assert_eq(r.err, ERR_RESET);
	cr_assert_str_eq(r.answer.data, "a");
	chat_result_release(&r);
}

Test(sse, error_object_is_server_error)
{
	const char *s = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
			"data: {\"error\":{\"message\":\"out of memory\",\"code\":500}}\n\n";
	struct chat_result r;
	chat_result_init(&r);
	cr_assert_neq(feed(api_openai.wire, s, 3, &r), 0);
	cr_assert_eq(r.err, ERR_SERVER);
	cr_assert(strstr(r.errmsg, "out of memory"), "%s", r.errmsg);
	cr_assert_str_eq(r.answer.data, "a");
	chat_result_release(&r);
	/* vLLM's {"object":"error","message":...} form */
	chat_result_init(&r);
	cr_assert_neq(feed(api_openai.wire, "data: {\"object\":\"error\",\"message\":\"bad request\"}\n\n", 1, &r), 0);
	cr_assert_eq(r.err, ERR_SERVER);
	cr_assert(strstr(r.errmsg, "bad request"), "%s", r.errmsg);
	chat_result_release(&r);
}

Test(sse, malformed_json_is_protocol_error)
{
	struct chat_result r;
	chat_result_init(&r);
	cr_assert_neq(feed(api_openai.wire, "data: {\"choices\":[oops\n\n", 1, &r), 0);
	cr_assert_eq(r.err, ERR_PROTOCOL);
	chat_result_release(&r);
	/* a plain JSON body where events were expected */
	chat_result_init(&r);
	cr_assert_neq(feed(api_openai.wire, "{\"id\":\"x\",\"choices\":[]}\n", 4, &r), 0);
	cr_assert_eq(r.err, ERR_PROTOCOL);
	chat_result_release(&r);
}

Test(sse, size_cap_gives_protocol_error)
{
	struct stream_parser p;
	struct chat_result r;
	char big[300];
	memset(big, 'x', sizeof big);
	chat_result_init(&r);
	stream_parser_init(&p, api_openai.wire, &r, 256);
	cr_assert_eq(stream_parser_feed(&p, "data: ", 6, 1), 0);
	cr_assert_neq(stream_parser_feed(&p, big, sizeof big, 2), 0);
	cr_assert_eq(r.err, ERR_PROTOCOL);
	cr_assert(strstr(r.errmsg, "response too large"), "%s", r.errmsg);
	/* further input is refused, the error stays */
	cr_assert_neq(stream_parser_feed(&p, "\n\n", 2, 3), 0);
	cr_assert_eq(r.err, ERR_PROTOCOL);
	stream_parser_release(&p);
	chat_result_release(&r);
}

static const char *NDJSON =
	"{\"model\":\"q\",\"created_at\":\"x\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"thinking\":\"hm \"},\"done\":false}\n"
	"{\"model\":\"q\",\"created_at\":\"x\",\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"done\":false}\r\n"
	"\n"
	"{\"model\":\"q\",\"created_at\":\"x\",\"message\":{\"role\":\"assistant\",\"content\":\" there\"},\"done\":false}\n"
	"{\"model\":\"q\",\"created_at\":\"x\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,"
	"\"done_reason\":\"stop\",\"total_duration\":5000000000,\"load_duration\":1000000000,"
	"\"prompt_eval_count\":26,\"prompt_eval_duration\":250000000,\"eval_count\":3,\"eval_duration\":1500000000}\n";

Test(ndjson, byte_by_byte_counts_and_durations)
{
	size_t steps[] = { 1, 5, 100000 };
	for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
		struct chat_result r;
		chat_result_init(&r);
		cr_assert_eq(feed(api_ollama.wire, NDJSON, steps[k], &r), 0, "%s", r.errmsg);
		cr_assert_str_eq(r.answer.data, "Hi there");
		cr_assert_str_eq(r.thinking.data, "hm ");
		cr_assert_str_eq(r.model, "q");
		cr_assert_str_eq(r.finish_reason, "stop");
		cr_assert_eq(r.ntoken, 3);
		cr_assert_eq(r.prompt_tokens, 26);
		cr_assert_eq(r.completion_tokens, 3);
		cr_assert_eq(r.completion_src, COUNT_SERVER);
		cr_assert_eq(r.reasoning_tokens, 1);
		cr_assert_eq(r.reasoning_src, COUNT_EVENTS);
		cr_assert_float_eq(r.server_total_s, 5.0, 1e-9);
		cr_assert_float_eq(r.server_load_s, 1.0, 1e-9);
		cr_assert_float_eq(r.server_prompt_s, 0.25, 1e-9);
		cr_assert_float_eq(r.server_eval_s, 1.5, 1e-9);
		chat_result_release(&r);
	}
}

Test(ndjson, error_line_and_truncation)
{
	struct chat_result r;
	chat_result_init(&r);
	cr_assert_neq(feed(api_ollama.wire, "{\"error\":\"model 'x' not found\"}\n", 1, &r), 0);
	cr_assert_eq(r.err, ERR_SERVER);
	cr_assert(strstr(r.errmsg, "model 'x' not found"), "%s", r.errmsg);
	chat_result_release(&r);
	chat_result_init(&r);
	cr_assert_neq(feed(api_ollama.wire, "{\"message\":{\"content\":\"a\"},\"done\":false}\n", 1, &r), 0);
	cr_assert_eq(r.err, ERR_RESET);
	cr_assert_eq(r.completion_tokens, 1);
	cr_assert_eq(r.completion_src, COUNT_EVENTS);
	chat_result_release(&r);
	chat_result_init(&r);
	cr_assert_neq(feed(api_ollama.wire, "{\"message\":{\"content\":\"a\"},\n", 1, &r), 0);
	cr_assert_eq(r.err, ERR_PROTOCOL);
	chat_result_release(&r);
}

Test(errmsg, extracted_from_common_bodies)
{
	char out[128];
	const char *b1 = "{\"error\":{\"message\":\"The model `x` does not exist.\",\"type\":\"NotFoundError\"}}";
	const char *b2 = "{\"error\":\"model \\\"y\\\" not found\"}";
	const char *b3 = "{\"detail\":\"Not Found\"}";
	const char *b4 = "  <html>\n<body>Bad Gateway</body></html>\n";
	api_error_message(b1, strlen(b1), out, sizeof out);
	cr_assert_str_eq(out, "The model `x` does not exist.");
	api_error_message(b2, strlen(b2), out, sizeof out);
	cr_assert_str_eq(out, "model \"y\" not found");
	api_error_message(b3, strlen(b3), out, sizeof out);
	cr_assert_str_eq(out, "Not Found");
	api_error_message(b4, strlen(b4), out, sizeof out);
	cr_assert_str_eq(out, "<html> <body>Bad Gateway</body></html>");
	api_error_message("", 0, out, sizeof out);
	cr_assert_str_eq(out, "(empty body)");
	api_error_message(b4, strlen(b4), out, 12);
	cr_assert_str_eq(out, "<html> <...");
}

/* A small deterministic generator, so a failure can be replayed. */
static unsigned rnd(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (*s >> 16) & 0x7fff;
}

Test(sse, random_splits_always_give_the_same_result)
{
	unsigned seed = 1;
	size_t n = strlen(SSE);
	for (int round = 0; round < 300; round++) {
		struct stream_parser p;
		struct chat_result r;
		size_t i = 0;
		int rc = 0;
		chat_result_init(&r);
		stream_parser_init(&p, api_openai.wire, &r, CLIENT_MAX_RESPONSE);
		while (i < n && !rc) {
			size_t k = 1 + rnd(&seed) % 40;
			if (k > n - i)
				k = n - i;
			rc = stream_parser_feed(&p, SSE + i, k, (int64_t)i + 1);
			i += k;
		}
		cr_assert_eq(rc, 0, "round %d: %s", round, r.errmsg);
		cr_assert_eq(stream_parser_finish(&p, (int64_t)n + 1), 0, "round %d", round);
		check_sse_result(&r);
		stream_parser_release(&p);
		chat_result_release(&r);
	}
}

Test(sse, garbage_never_crashes_and_never_passes_as_complete)
{
	static const char alphabet[] = "data: {}[]\",:\\n\r\n0123456789abcdeDONE ";
	unsigned seed = 7;
	char junk[512];
	for (int round = 0; round < 500; round++) {
		const struct http_wire *ops = round % 2 ? api_ollama.wire : api_openai.wire;
		struct stream_parser p;
		struct chat_result r;
		size_t n = 1 + rnd(&seed) % sizeof junk, i;
		int rc;
		for (i = 0; i < n; i++)
			junk[i] = round % 3 ? alphabet[rnd(&seed) % (sizeof alphabet - 1)] : (char)rnd(&seed);
		chat_result_init(&r);
		stream_parser_init(&p, ops, &r, 4096);
		rc = stream_parser_feed(&p, junk, n, 1);
		if (!rc)
			rc = stream_parser_finish(&p, 2);
		/* either it failed with a reason, or it really saw an end of stream */
		if (rc)
			cr_assert(r.err != ERR_NONE && r.errmsg[0], "round %d", round);
		else
			cr_assert(p.done || p.finished, "round %d", round);
		cr_assert_leq(r.answer.len + r.thinking.len, n);
		stream_parser_release(&p);
		chat_result_release(&r);
	}
}

/* Every file in dir: fn(path, bytes, len); returns how many files. */
static int each_file(const char *dir, void (*fn)(const char *name, const char *data, size_t len, long long *nfast),
		     long long *nfast)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d, "cannot open %s", dir);
	while ((e = readdir(d))) {
		char *path, *data, err[256];
		size_t len;
		if (e->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, e->d_name);
		cr_assert_eq(read_file(path, &data, &len, err, sizeof err), 0, "%s", err);
		fn(e->d_name, data, len, nfast);
		free(data);
		free(path);
		n++;
	}
	closedir(d);
	return n;
}

static void agree_recorded(const char *name, const char *data, size_t len, long long *nfast)
{
	const struct http_wire *w = strstr(name, ".ndjson") ? api_ollama.wire : api_openai.wire;
	static const size_t steps[] = {1, 7, 64, 1u << 20};
	char why[1024];
	long long nf;

	for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
		cr_assert_eq(stream_paths_agree(w, data, len, steps[k], why, sizeof why, &nf), 0, "%s, pieces of %zu: %s",
			     name, steps[k], why);
		if (k == 0)
			*nfast += nf;
	}
}

/* The fuzz corpus's format: the first byte picks the API and the piece size (fuzz_stream.c). */
static void agree_corpus(const char *name, const char *data, size_t len, long long *nfast)
{
	char why[1024];
	long long nf;

	if (len < 1)
		return;
	cr_assert_eq(stream_paths_agree(data[0] & 1 ? api_ollama.wire : api_openai.wire, data + 1, len - 1,
					(size_t)((unsigned char)data[0] >> 1) + 1, why, sizeof why, &nf),
		     0, "corpus %s: %s", name, why);
	*nfast += nf;
}

static char *tests_path(const char *rel)
{
	const char *t = getenv("IPW_TESTS");
	return xasprintf("%s/%s", t ? t : "tests", rel);
}

Test(fastpath, agrees_with_jansson_on_every_recorded_stream)
{
	char *dir = tests_path("data/streams");
	long long nfast = 0;
	int n = each_file(dir, agree_recorded, &nfast);

	cr_assert_geq(n, 30, "only %d recorded streams in %s", n, dir);
	/* the recorded fakellm streams are ordinary: the fast path must have taken most events */
	cr_assert_gt(nfast, 150, "the fast path took only %lld events", nfast);
	free(dir);
}

Test(fastpath, agrees_with_jansson_on_the_fuzz_corpus)
{
	char *dir = tests_path("fuzz/corpus/stream");
	long long nfast = 0;
	int n = each_file(dir, agree_corpus, &nfast);

	cr_assert_gt(n, 0, "no corpus in %s", dir);
	free(dir);
}

/* Ordinary events take the fast path, odd ones go to jansson, and both give the same record. */
Test(fastpath, ordinary_events_skip_jansson_and_odd_ones_use_it)
{
	static const char *ev_fast = "data: {\"model\":\"m\",\"choices\":[{\"delta\":{\"content\":\"a\\u00e9\"}}]}\n\n";
	static const char *ev_slow = "data: {\"model\":\"m\",\"choices\":[{\"delta\":{\"content\":\"a\\u0000\"}}]}\n\n";
	struct chat_result r;
	long long nf, ns;

	stream_agree_run(api_openai.wire, ev_fast, strlen(ev_fast), 1u << 20, 0, &r, &nf, &ns);
	cr_assert_eq(nf, 1);
	cr_assert_eq(ns, 0);
	cr_assert_str_eq(r.answer.data, "a\xc3\xa9");
	chat_result_release(&r);
	stream_agree_run(api_openai.wire, ev_slow, strlen(ev_slow), 1u << 20, 0, &r, &nf, &ns);
	cr_assert_eq(nf, 0);
	cr_assert_eq(ns, 1);
	cr_assert_eq(r.answer.len, 2);
	cr_assert_eq(memcmp(r.answer.data, "a\0", 2), 0);
	chat_result_release(&r);
}

/* After the first events the fast path allocates nothing: the scratch area stops growing. */
Test(fastpath, scratch_stops_growing)
{
	static const char *ev = "data: {\"model\":\"m\",\"choices\":[{\"delta\":{\"content\":\"t \\\"q\\\"\"}}]}\n\n";
	struct stream_parser p;
	struct chat_result r;
	size_t cap = 0;

	chat_result_init(&r);
	stream_parser_init(&p, api_openai.wire, &r, CLIENT_MAX_RESPONSE);
	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(stream_parser_feed(&p, ev, strlen(ev), i + 1), 0);
		if (i == 0)
			cap = p.scratch_cap;
	}
	cr_assert_eq(p.scratch_cap, cap);
	cr_assert_eq(p.nfast, 1000);
	cr_assert_eq(r.answer.len, 1000 * strlen("t \"q\""));
	stream_parser_release(&p);
	chat_result_release(&r);
}

/* Runs a recorded stream both ways; they must agree, and the fast path's record goes to *r. */
static void logprobs_of(const char *name, struct chat_result *r, long long *nfast)
{
	char *path = xasprintf("%s/data/streams/%s", getenv("IPW_TESTS") ? getenv("IPW_TESTS") : "tests", name), why[512];
	char *data, err[256];
	size_t len;
	long long nf, ns;

	cr_assert_eq(read_file(path, &data, &len, err, sizeof err), 0, "%s", err);
	cr_assert_eq(stream_paths_agree(api_openai.wire, data, len, 7, why, sizeof why, &nf), 0, "%s: %s", name, why);
	stream_agree_run(api_openai.wire, data, len, 1u << 20, 0, r, nfast, &ns);
	free(data);
	free(path);
}

/* choices[0].logprobs.content[].logprob summed per query, on the fast path and jansson's alike. */
Test(logprobs, sums_and_counts_the_tokens_of_every_event)
{
	struct chat_result r;
	long long nf;

	/* fakellm: -(i % 5 + 1) / 8 nats for token i, 6 tokens: -(1+2+3+4+5+1)/8 = -2 */
	logprobs_of("fakellm-logprobs.sse", &r, &nf);
	cr_assert_eq(r.logprob_n, 6);
	cr_assert_eq(r.logprob_sum, -2.0);
	cr_assert_gt(nf, 5, "the fast path took only %lld events", nf);
	chat_result_release(&r);
	/* the lowconf scenario: -4 for each of 4 tokens */
	logprobs_of("fakellm-lowconf.sse", &r, &nf);
	cr_assert_eq(r.logprob_n, 4);
	cr_assert_eq(r.logprob_sum, -16.0);
	chat_result_release(&r);
	/* exponents, an integer, a top_logprobs list not counted, a null and an empty content */
	logprobs_of("logprobs-numbers.sse", &r, &nf);
	cr_assert_eq(r.logprob_n, 4);
	cr_assert_eq(r.logprob_sum, ((0.0 + -0.15) + -2.0) + -2.5 + 0.0);
	cr_assert_eq(nf, 4, "every event of it is ordinary: %lld on the fast path", nf);
	chat_result_release(&r);
	/* a stream with no logprobs at all: not measured, never 0 */
	logprobs_of("fakellm-none.sse", &r, &nf);
	cr_assert_eq(r.logprob_n, -1);
	chat_result_release(&r);
}

Test(logprobs, whole_reply_and_the_request_body)
{
	static const char *whole = "{\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
		"\"content\":\"ab\"},\"finish_reason\":\"stop\",\"logprobs\":{\"content\":[{\"token\":\"a\","
		"\"logprob\":-0.5},{\"token\":\"b\",\"logprob\":-1.25}]}}]}";
	struct chat_request req;
	struct chat_message msgs[2];
	struct stream_parser p;
	struct chat_result r;
	struct buf body;
	char err[256];

	chat_result_init(&r);
	stream_parser_init(&p, api_openai.wire, &r, CLIENT_MAX_RESPONSE);
	cr_assert_eq(api_openai.wire->parse_whole(&p, whole, strlen(whole), 1), 0, "%s", r.errmsg);
	cr_assert_eq(r.logprob_n, 2);
	cr_assert_eq(r.logprob_sum, -1.75);
	stream_parser_release(&p);
	chat_result_release(&r);

	memset(&req, 0, sizeof req);
	chat_request_set_prompt(&req, msgs, NULL, "hi");
	req.model = "m";
	buf_init(&body, 1u << 20);
	cr_assert_eq(api_openai.wire->build_body(&req, &body, err, sizeof err), 0, "%s", err);
	cr_assert_null(strstr(body.data, "\"logprobs\""), "%s", body.data);
	buf_reset(&body);
	req.s.logprobs = 1;
	cr_assert_eq(api_openai.wire->build_body(&req, &body, err, sizeof err), 0, "%s", err);
	cr_assert_not_null(strstr(body.data, "\"logprobs\":true"), "%s", body.data);
	buf_release(&body);
}

/* Runs data through the parser whole (fast path on); returns how many events the template read (jscan_replay). */
static long long replays_of(const char *data, size_t len, struct chat_result *r)
{
	struct stream_parser p;
	long long n;

	chat_result_init(r);
	stream_parser_init(&p, api_openai.wire, r, CLIENT_MAX_RESPONSE);
	if (stream_parser_feed(&p, data, len, 1) == 0)
		stream_parser_finish(&p, 2);
	n = jscan_replays(p.scratch);
	stream_parser_release(&p);
	return n;
}

/*
 * After two events of one layout, a third that differs only in the values ipw
 * reads is read by the template; one that differs anywhere else (or has an odd
 * value) is read in full (and by jansson where the full scan gives up). Both
 * ways the record equals jansson's, in pieces of 1 and 7 bytes and whole.
 */
Test(fastpath, template_replay_agrees_with_jansson)
{
#define EV(obj, content, t) "data: {\"id\":\"c1\",\"object\":\"" obj "\",\"model\":\"m\",\"choices\":[{\"index\":0," \
	"\"delta\":{\"content\":" content "},\"finish_reason\":null}],\"x_server_t_ns\":" t "}\n\n"
#define BASE EV("chat.completion.chunk", "\"a\"", "17") EV("chat.completion.chunk", "\"b\"", "18")
	static const struct {
		const char *third;
		int replayed;   /* 1: the template read it */
	} cases[] = {
		{EV("chat.completion.chunk", "\"c d\"", "19"), 1},
		{EV("chat.completion.chunk", "\"\\\"q\\\"\\n\\u00e9\\ud83d\\ude00\"", "-20"), 1},
		{EV("chat.completion.chunk", "\"\xc3\xa9 long enough for eight-byte steps, \xe2\x82\xac\"", "123456789012345678"), 1},
		{EV("chat.completion.chunk", "\"\"", "0"), 1},
		{EV("chat.completion.chunk", "\"a\\u0000b\"", "19"), 0},
		{EV("chat.completion.chunk", "\"bad \xff byte\"", "19"), 0},
		{EV("chat.completion.chunk", "\"raw \x01 control\"", "19"), 0},
		{EV("chat.completion.chunk", "\"a\\qb\"", "19"), 0},
		{EV("chat.completion.chunk", "null", "19"), 0},
		{EV("chat.completion.chunk", "7", "19"), 0},
		{EV("chat.completion.chunk", "\"c\"", "1.5"), 0},
		{EV("chat.completion.chunk", "\"c\"", "1e3"), 0},
		{EV("chat.completion.chunk", "\"c\"", "012"), 0},
		{EV("chat.completion.chunk", "\"c\"", "1234567890123456789"), 0},
		{EV("chat.completion.chunk", "\"c\"", "-"), 0},
		{EV("chat.completion.chunk", "\"c\"", "\"19\""), 0},
		{EV("error", "\"c\"", "19"), 0},
		{EV("chat.completion.chunk", "\"c\",\"content\":\"d\"", "19"), 0},
		{EV("chat.completion.chunk", "\"c\"", "19 "), 0},
		{"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,"
		 "\"delta\":{\"content\":\"c\"},\"finish_reason\":null}],\"x_server_t_ns\":19\n\n", 0},
		{"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,"
		 "\"delta\":{\"content\":\"c\"},\"finish_reason\":null}],\"x_server_t_ns\":19}x\n\n", 0},
		{"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,"
		 "\"delta\":{\"content\":\"c", 0},
		{"data: {\"id\":\"c2\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,"
		 "\"delta\":{\"content\":\"c\"},\"finish_reason\":\"stop\"}],\"x_server_t_ns\":19}\n\n", 0},
		{"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m2\",\"choices\":[{\"index\":0,"
		 "\"delta\":{\"content\":\"c\"},\"finish_reason\":null}],\"x_server_t_ns\":19}\n\n", 1},
	};
	static const size_t steps[] = {1, 7, 1u << 20};
	char why[1024], *data;
	struct chat_result r;
	long long nf;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		data = xasprintf("%s%s%s", BASE, cases[i].third, EV("chat.completion.chunk", "\"z\"", "21"));
		for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++)
			cr_assert_eq(stream_paths_agree(api_openai.wire, data, strlen(data), steps[k], why, sizeof why, &nf),
				     0, "case %zu, pieces of %zu: %s", i, steps[k], why);
		free(data);
		/* the first event is the template, the second is replayed; then the third is or is not */
		data = xasprintf("%s%s", BASE, cases[i].third);
		cr_assert_eq(replays_of(data, strlen(data), &r), 1 + cases[i].replayed, "case %zu: %s", i, cases[i].third);
		chat_result_release(&r);
		free(data);
	}
#undef BASE
#undef EV
}

/* fakellm's recorded streams: all but a stream's first events are read by the template. */
Test(fastpath, recorded_stream_events_take_the_template)
{
	char *path = tests_path("data/streams/fakellm-say.sse"), *data, err[256];
	size_t len;
	struct chat_result r;
	long long n;

	cr_assert_eq(read_file(path, &data, &len, err, sizeof err), 0, "%s", err);
	n = replays_of(data, len, &r);
	/* its token events share one layout: every one after the first two is replayed */
	cr_assert_gt(n, 0, "no event of %s took the template", path);
	cr_assert_eq(r.err, ERR_NONE);
	chat_result_release(&r);
	free(data);
	free(path);
}

/* A line read where it lies is not NUL-terminated: what follows it in the read is not part of it. */
Test(sse, line_in_place_ends_at_its_terminator)
{
	static const char body[] = "{\"a\":1}\n\"error\"\n";
	struct stream_parser p;
	struct chat_result r;

	chat_result_init(&r);
	stream_parser_init(&p, api_openai.wire, &r, CLIENT_MAX_RESPONSE);
	cr_assert_eq(stream_parser_feed(&p, body, sizeof body - 1, 1), -1);
	cr_assert_eq(r.err, ERR_PROTOCOL, "%s", r.errmsg);
	cr_assert_not_null(strstr(r.errmsg, "expected server-sent events"), "%s", r.errmsg);
	stream_parser_release(&p);
	chat_result_release(&r);
}

/*
 * The OpenAI request body written directly is byte for byte what the jansson
 * path writes (an extra body of "{}" takes the jansson path and changes nothing).
 */
Test(request_body, direct_body_equals_jansson)
{
	static const double reals[] = {0, 0.7, 1, 1e-7, 123456789.123456789, 1e300, -0.0, 0.1 + 0.2, 2.5e-300, NAN};
	static const struct chat_message msgs[] = {
		{"system", "be \"brief\"\\ \x01\x1f\x7f\b\f\n\r\t/", NULL, NULL, NULL},
		{"", "who?", "alice", NULL, NULL},
		{"assistant", NULL, NULL, NULL, NULL},
		{"tool", "42", "calc", "call_1", NULL},
	};
	const struct http_wire *w = api_openai.wire;
	char err[256];

	for (int k = 0; k < 40; k++) {
		struct chat_request req;
		struct buf a, b;
		memset(&req, 0, sizeof req);
		req.model = k % 9 == 8 ? NULL : "org/model-1";
		req.prompt = k % 11 == 10 ? NULL : "Say \"hi\"\n\tnow.";
		req.no_stream = k % 3 == 1;
		req.s.max_tokens = k % 4 ? 64 * k : 0;
		req.s.temperature = k % 5 == 4 ? -1 : reals[k % 10];
		req.s.top_p = reals[(k + 3) % 10];
		req.s.top_k = k % 6 == 5 ? 40 : 0;
		req.s.has_seed = k % 7 == 3;
		req.s.seed = k % 2 ? -1234567890123LL : 7;
		req.s.system = k % 8 == 2 ? "sys" : NULL;
		req.s.logprobs = k % 5 == 1;
		if (k % 4 == 3) {
			req.messages = msgs;
			req.nmessages = sizeof msgs / sizeof msgs[0];
		}
		buf_init(&a, 0);
		buf_init(&b, 0);
		cr_assert_eq(w->build_body(&req, &a, err, sizeof err), 0, "%s", err);
		req.extra_body = "{}";
		cr_assert_eq(w->build_body(&req, &b, err, sizeof err), 0, "%s", err);
		cr_assert_eq(a.len, b.len, "case %d:\n%s\n%s", k, a.data, b.data);
		cr_assert_eq(memcmp(a.data, b.data, a.len), 0, "case %d:\n%s\n%s", k, a.data, b.data);
		buf_release(&a);
		buf_release(&b);
	}
}
