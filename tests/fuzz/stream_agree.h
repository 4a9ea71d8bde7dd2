/*
 * stream_agree.h - runs a stream through the parsers twice, with the fast path
 * (client/jscan.h) and with every event through jansson, and says whether the
 * two recorded the same thing. Shared by tests/unit/test_sse.c (every recorded
 * stream under tests/data/streams/ and the fuzz corpus) and the fuzz target.
 */
#ifndef IPW_STREAM_AGREE_H
#define IPW_STREAM_AGREE_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "client/api.h"

/* Feeds data in pieces of step (time = offset + 1) and finishes; the parser's counters go to *nfast / *nslow. */
static int stream_agree_run(const struct http_wire *w, const char *data, size_t n, size_t step, int no_fast,
			    struct chat_result *r, long long *nfast, long long *nslow)
{
	struct stream_parser p;
	size_t i;
	int rc = 0;

	chat_result_init(r);
	stream_parser_init(&p, w, r, 1u << 20);
	p.no_fast = no_fast;
	for (i = 0; i < n && rc == 0; i += step)
		rc = stream_parser_feed(&p, data + i, n - i < step ? n - i : step, (int64_t)i + 1);
	if (rc == 0)
		rc = stream_parser_finish(&p, (int64_t)n + 1);
	else
		stream_parser_counts(&p);
	*nfast = p.nfast;
	*nslow = p.nslow;
	stream_parser_release(&p);
	return rc;
}

static int same_double(double a, double b)
{
	return (isnan(a) && isnan(b)) || a == b;
}

/*
 * 0 when the fast path and jansson alone record the same result for data
 * (every field of struct chat_result a parser fills), else -1 with the first
 * difference in why. *nfast: events the fast path took.
 */
static int stream_paths_agree(const struct http_wire *w, const char *data, size_t n, size_t step, char *why,
			      size_t whylen, long long *nfast)
{
	struct chat_result a, b;
	long long fa, sa, fb, sb;
	int ra = stream_agree_run(w, data, n, step, 0, &a, &fa, &sa);
	int rb = stream_agree_run(w, data, n, step, 1, &b, &fb, &sb);
	const char *d = NULL;

	if (ra != rb)
		d = "return code";
	else if (a.err != b.err || strcmp(a.errmsg, b.errmsg))
		d = "error";
	else if (a.answer.len != b.answer.len || memcmp(a.answer.data, b.answer.data, a.answer.len))
		d = "answer";
	else if (a.thinking.len != b.thinking.len || memcmp(a.thinking.data, b.thinking.data, a.thinking.len))
		d = "thinking";
	else if (strcmp(a.model, b.model))
		d = "model";
	else if (strcmp(a.finish_reason, b.finish_reason))
		d = "finish reason";
	else if (a.ntoken != b.ntoken || (a.ntoken && memcmp(a.token_ns, b.token_ns, a.ntoken * sizeof *a.token_ns)))
		d = "event times";
	else if (a.t_first_ns != b.t_first_ns || a.t_first_answer_ns != b.t_first_answer_ns ||
		 a.server_t_first_ns != b.server_t_first_ns)
		d = "first-token times";
	else if (a.prompt_tokens != b.prompt_tokens || a.completion_tokens != b.completion_tokens ||
		 a.reasoning_tokens != b.reasoning_tokens || a.prompt_src != b.prompt_src ||
		 a.completion_src != b.completion_src || a.reasoning_src != b.reasoning_src)
		d = "token counts";
	else if (!same_double(a.server_load_s, b.server_load_s) || !same_double(a.server_prompt_s, b.server_prompt_s) ||
		 !same_double(a.server_eval_s, b.server_eval_s) || !same_double(a.server_total_s, b.server_total_s))
		d = "server timings";
	else if (a.logprob_n != b.logprob_n || (a.logprob_n >= 0 && a.logprob_sum != b.logprob_sum))
		d = "token log-probabilities";
	if (d)
		snprintf(why, whylen, "%s differs: fast rc %d err %s \"%.150s\" answer \"%.40s\" / jansson rc %d err %s "
			 "\"%.150s\" answer \"%.40s\"", d, ra, err_kind_name(a.err), a.errmsg, a.answer.data, rb,
			 err_kind_name(b.err), b.errmsg, b.answer.data);
	if (fb != 0 && !d) {
		d = "no_fast";
		snprintf(why, whylen, "with no_fast set the fast path still took %lld events", fb);
	}
	*nfast = fa;
	chat_result_release(&a);
	chat_result_release(&b);
	return d ? -1 : 0;
}

#endif
