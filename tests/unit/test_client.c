/*
 * test_client.c - the streaming clients end to end against the loopback fake
 * server (build/fakes/fakellm): every scenario must end the way a user would
 * expect (text reassembled exactly, counts and their provenance, error kinds),
 * plus listing, API detection, discovery, concurrency and API-key hygiene;
 * messages and extra body as the server received them, non-streaming calls,
 * the retry policy, watched descriptors, the registry (selection by name,
 * unknown names) and an API that runs its requests itself.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "client/api.h"
#include "clock.h"

struct fake {
	pid_t pid;
	int port;
	int stdin_w;
	char dir[64];
	char url[64];
};

static struct fake F;

/* Starts fakellm with extra flags (NULL-terminated); it exits when this process does (stdin pipe). */
static void fake_start(struct fake *f, const char *const *extra)
{
	const char *b = getenv("IPW_BUILD");
	char path[512], pfile[128];
	const char *argv[32];
	int p[2], n = 0, i;
	FILE *fp;

	snprintf(path, sizeof path, "%s/fakes/fakellm", b ? b : "build");
	snprintf(f->dir, sizeof f->dir, "/tmp/ipwfake.XXXXXX");
	cr_assert_not_null(mkdtemp(f->dir));
	snprintf(pfile, sizeof pfile, "%s/port", f->dir);
	argv[n++] = path;
	argv[n++] = "--port";
	argv[n++] = "0";
	argv[n++] = "--port-file";
	argv[n++] = pfile;
	argv[n++] = "--lifetime-s";
	argv[n++] = "120";
	for (i = 0; extra && extra[i] && n < 30; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	cr_assert_eq(pipe(p), 0);
	f->pid = fork();
	cr_assert_geq(f->pid, 0);
	if (f->pid == 0) {
		dup2(p[0], 0);
		close(p[0]);
		close(p[1]);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	close(p[0]);
	f->stdin_w = p[1];
	f->port = 0;
	for (i = 0; i < 1000 && !f->port; i++) {
		fp = fopen(pfile, "r");
		if (fp) {
			if (fscanf(fp, "%d", &f->port) != 1)
				f->port = 0;
			fclose(fp);
		}
		if (!f->port)
			usleep(10000);
	}
	cr_assert_gt(f->port, 0, "fakellm (%s) did not start", path);
	snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d", f->port);
}

static void fake_stop(struct fake *f)
{
	char pfile[128];
	if (f->pid <= 0)
		return;
	close(f->stdin_w);
	kill(f->pid, SIGTERM);
	waitpid(f->pid, NULL, 0);
	snprintf(pfile, sizeof pfile, "%s/port", f->dir);
	unlink(pfile);
	rmdir(f->dir);
	f->pid = 0;
}

/* GET path from the fake server over a raw socket; returns the body (static buffer). */
static char *fake_get(const char *path)
{
	static char resp[16384];
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char req[256], *body;
	size_t n = 0;
	ssize_t k;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_port = htons((uint16_t)F.port);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
	cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (n < sizeof resp - 1 && (k = read(fd, resp + n, sizeof resp - 1 - n)) > 0)
		n += (size_t)k;
	resp[n] = 0;
	close(fd);
	body = strstr(resp, "\r\n\r\n");
	cr_assert_not_null(body);
	return body + 4;
}

/* The fake server's token i (see docs/client.md). */
static void token_text(int i, char *out, size_t n)
{
	if (i % 7 == 6)
		snprintf(out, n, "\"q%d\"\n", i);
	else if (i % 4 == 3)
		snprintf(out, n, "\xc3\xa9%d ", i);
	else
		snprintf(out, n, "t%d ", i);
}

static char *expected_answer(int n)
{
	static char s[8192];
	char t[64];
	s[0] = 0;
	for (int i = 0; i < n; i++) {
		token_text(i, t, sizeof t);
		strcat(s, t);
	}
	return s;
}

static char *expected_thinking(int n)
{
	static char s[4096];
	char t[32];
	s[0] = 0;
	for (int i = 0; i < n; i++) {
		snprintf(t, sizeof t, "r%d ", i);
		strcat(s, t);
	}
	return s;
}

static struct chat_request request(const char *model)
{
	struct chat_request q;
	memset(&q, 0, sizeof q);
	q.model = model;
	q.prompt = "hello there world";   /* 3 words: the fake counts 3 + 3 prompt tokens */
	q.s.max_tokens = 0;
	q.s.temperature = 0;
	q.s.top_p = NAN;
	q.timeout_s = 20;
	return q;
}

static struct client *client_for(const char *api)
{
	char err[IPW_ERRLEN] = "";
	struct client *c = client_new(F.url, api, err, sizeof err);
	cr_assert_not_null(c, "client_new: %s", err);
	return c;
}

/* Runs one chat with the given scenario model name against a fresh client. */
static void chat(const char *api, const char *model, struct chat_result *r)
{
	struct client *c = client_for(api);
	struct chat_request q = request(model);
	chat_result_init(r);
	client_chat(c, &q, r);
	client_free(c);
}

static void fini(void)
{
	fake_stop(&F);
}

static void start_default(void)
{
	const char *const a[] = { "--tokens", "12", NULL };
	fake_start(&F, a);
}

TestSuite(client, .init = start_default, .fini = fini, .timeout = 60);

Test(client, openai_normal_stream_reassembled_with_server_usage)
{
	struct chat_result r;
	chat("openai", "fake-model", &r);
	cr_assert_eq(r.err, ERR_NONE, "%s", r.errmsg);
	cr_assert_str_eq(r.answer.data, expected_answer(12));
	cr_assert_eq(r.thinking.len, 0);
	cr_assert_str_eq(r.finish_reason, "stop");
	cr_assert_str_eq(r.model, "fake-model");
	cr_assert_eq(r.http_status, 200);
	cr_assert_eq(r.completion_tokens, 12);
	cr_assert_eq(r.completion_src, COUNT_SERVER);
	cr_assert_eq(r.prompt_tokens, 6);
	cr_assert_eq(r.prompt_src, COUNT_SERVER);
	cr_assert_eq(r.reasoning_tokens, 0);
	cr_assert_eq(r.reasoning_src, COUNT_SERVER);
	cr_assert_eq(r.ntoken, 12);
	cr_assert(r.t_send_ns > 0 && r.t_send_ns <= r.t_first_ns);
	cr_assert_eq(r.t_first_ns, r.t_first_answer_ns);
	cr_assert_eq(r.token_ns[0], r.t_first_ns);
	for (size_t i = 1; i < r.ntoken; i++)
		cr_assert_geq(r.token_ns[i], r.token_ns[i - 1]);
	cr_assert_leq(r.token_ns[r.ntoken - 1], r.t_end_ns);
	cr_assert_gt(r.server_t_first_ns, r.t_send_ns);
	cr_assert_leq(r.server_t_first_ns, r.t_first_ns);
	cr_assert(isnan(r.server_total_s));
	chat_result_release(&r);
}

Test(client, max_tokens_gives_length_finish)
{
	struct client *c = client_for("openai");
	struct chat_request q = request("fake-model");
	struct chat_result r;
	q.s.max_tokens = 5;
	chat_result_init(&r);
	cr_assert_eq(client_chat(c, &q, &r), 0, "%s", r.errmsg);
	cr_assert_str_eq(r.answer.data, expected_answer(5));
	cr_assert_str_eq(r.finish_reason, "length");
	cr_assert_eq(r.completion_tokens, 5);
	chat_result_release(&r);
	client_free(c);
}

Test(client, split_events_reassembled_exactly)
{
	struct chat_result r;
	chat("openai", "fake-split", &r);
	cr_assert_eq(r.err, ERR_NONE, "%s", r.errmsg);
	cr_assert_str_eq(r.answer.data, expected_answer(12));
	cr_assert_eq(r.ntoken, 12);
	cr_assert_eq(r.completion_src, COUNT_SERVER);
	cr_assert_eq(r.completion_tokens, 12);
	chat_result_release(&r);
}

Test(client, no_usage_falls_back_to_event_count)
{
	struct chat_result r;
	chat("openai", "fake-no_usage", &r);
	cr_assert_eq(r.err, ERR_NONE, "%s", r.errmsg);
	cr_assert_str_eq(r.answer.data, expected_answer(12));
	cr_assert_eq(r.completion_tokens, 12);
	cr_assert_eq(r.completion_src, COUNT_EVENTS);
	cr_assert_eq(r.prompt_tokens, -1);
	cr_assert_eq(r.prompt_src, COUNT_NONE);
	chat_result_release(&r);
}

Test(client, reasoning_content_kept_apart_with_server_count)
{
	struct chat_result r;
	chat("openai", "fake-reasoning", &r);
	cr_assert_eq(r.err, ERR_NONE, "%s", r.errmsg);
	cr_assert_str_eq(r.thinking.data, expected_thinking(6));
	cr_assert_str_eq(r.answer.data, expected_answer(12));
	cr_assert_eq(r.reasoning_tokens, 6);
	cr_assert_eq(r.reasoning_src, COUNT_SERVER);
	cr_assert_eq(r.completion_tokens, 18);
	cr_assert_eq(r.ntoken, 18);
	cr_assert_lt(r.t_first_ns, r.t_first_answer_ns);
	cr_assert_eq(r.t_first_answer_ns, r.token_ns[6]);
	chat_result_release(&r);
}

Test(client, reasoning_field_variant_counted_from_events)
{
	struct chat_result r;
	chat("openai", "fake-reasoning2", &r);
	cr_assert_eq(r.err, ERR_NONE, "%s", r.errmsg);
	cr_assert_str_eq(r.thinking.data, expected_thinking(6));
	cr_assert_str_eq(r.answer.data, expected_answer(12));
	cr_assert_eq(r.reasoning_tokens, 6);
	cr_assert_eq(r.reasoning_src, COUNT_EVENTS);
	cr_assert_eq(r.completion_src, COUNT_SERVER);
	chat_result_release(&r);
}

Test(client, error_midstream_is_server_error_with_partial_answer)
{
	struct chat_result r;
	chat("openai", "fake-error_midstream", &r);
	cr_assert_eq(r.err, ERR_SERVER);
	cr_assert(strstr(r.errmsg, "fake failure mid-stream"), "%s", r.errmsg);
	cr_assert_str_eq(r.answer.data, expected_answer(3));
	cr_assert_eq(r.completion_tokens, 3);
	cr_assert_eq(r.completion_src, COUNT_EVENTS);
	cr_assert_gt(r.t_end_ns, 0);
	chat_result_release(&r);
}

Test(client, rate_limit_is_http_429_then_next_succeeds)
{
	struct chat_result r;
	chat("openai", "fake-429", &r);
	cr_assert_eq(r.err, ERR_HTTP);
	cr_assert_eq(r.http_status, 429);
	cr_assert(strstr(r.errmsg, "429") && strstr(r.errmsg, "fake rate limit: slow down"), "%s", r.errmsg);
	cr_assert_eq(r.retry_after_s, 1.0);
	cr_assert_eq(r.ntoken, 0);
	chat_result_release(&r);
	chat("openai", "fake-429", &r);
	cr_assert_eq(r.err, ERR_NONE, "%s", r.errmsg);
	cr_assert_str_eq(r.answer.data, expected_answer(12));
	chat_result_release(&r);
}

Test(client, http_500_carries_body_message)
{
	struct chat_result r;
	chat("openai", "fake-500", &r);
	cr_assert_eq(r.err, ERR_HTTP);
	cr_assert_eq(r.http_status, 500);
	cr_assert(strstr(r.errmsg, "fake internal error"), "%s", r.errmsg);
	cr_assert(isnan(r.retry_after_s));
	chat_result_release(&r);
}

Test(client, stall_past_timeout_is_timeout)
{
	struct client *c = client_for("openai");
	struct chat_request q = request("fake-stall");
	struct chat_result r;
	int64_t t0;
	double took;
	q.timeout_s = 1.0;
	chat_result_init(&r);
	t0 = clock_now_ns();
	cr_assert_neq(client_chat(c, &q, &r), 0);
	took = (double)(clock_now_ns() - t0) / 1e9;
	cr_assert_eq(r.err, ERR_TIMEOUT, "%s: %s", err_kind_name(r.err), r.errmsg);
	cr_assert_str_eq(r.answer.data, expected_answer(2));
	cr_assert(took >= 0.9 && took < 10, "took %.2f s", took);
	chat_result_release(&r);
	client_free(c);
}

Test(client, malformed_json_is_protocol_error)
{
	struct chat_result r;
	chat("openai", "fake-malformed", &r);
	cr_assert_eq(r.err, ERR_PROTOCOL, "%s: %s", err_kind_name(r.err), r.errmsg);
	cr_assert_str_eq(r.answer.data, expected_answer(2));
	chat_result_release(&r);
}

Test(client, connection_reset_is_reset)
{
	struct chat_result r;
	chat("openai", "fake-reset", &r);
	cr_assert_eq(r.err, ERR_RESET, "%s: %s", err_kind_name(r.err), r.errmsg);
	cr_assert_str_eq(r.answer.data, expected_answer(2));
	chat_result_release(&r);
}

Test(client, clean_end_without_finish_is_reset)
{
	struct chat_result r;
	chat("openai", "fake-truncate", &r);
	cr_assert_eq(r.err, ERR_RESET, "%s: %s", err_kind_name(r.err), r.errmsg);
	cr_assert_str_eq(r.answer.data, expected_answer(2));
	chat_result_release(&r);
}

Test(client, nothing_listening_is_connect_error)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char url[64], err[IPW_ERRLEN];
	struct client *c;
	struct chat_request q = request("m");
	struct chat_result r;

	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	close(fd); /* the port is now (very likely) closed */
	snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(sa.sin_port));
	c = client_new(url, "openai", err, sizeof err);
	cr_assert_not_null(c);
	chat_result_init(&r);
	cr_assert_neq(client_chat(c, &q, &r), 0);
	cr_assert_eq(r.err, ERR_CONNECT, "%s: %s", err_kind_name(r.err), r.errmsg);
	cr_assert(strstr(r.errmsg, url), "%s", r.errmsg);
	chat_result_release(&r);
	client_free(c);
	/* "auto" against nothing fails with a message naming the URL */
	cr_assert_null(client_new(url, "auto", err, sizeof err));
	cr_assert(strstr(err, url), "%s", err);
}

Test(client, ollama_ndjson_counts_and_durations)
{
	struct chat_result r;
	chat("ollama", "fake-model", &r);
	cr_assert_eq(r.err, ERR_NONE, "%s", r.errmsg);
	cr_assert_str_eq(r.answer.data, expected_answer(12));
	cr_assert_str_eq(r.finish_reason, "stop");
	cr_assert_eq(r.completion_tokens, 12);
	cr_assert_eq(r.completion_src, COUNT_SERVER);
	cr_assert_eq(r.prompt_tokens, 6);
	cr_assert_eq(r.prompt_src, COUNT_SERVER);
	cr_assert_eq(r.ntoken, 12);
	cr_assert_float_eq(r.server_load_s, 0.001234567, 1e-12);
	cr_assert_float_eq(r.server_prompt_s, 0.002345678, 1e-12);
	cr_assert_gt(r.server_total_s, r.server_load_s + r.server_prompt_s);
	cr_assert(r.server_eval_s >= 0);
	cr_assert_gt(r.server_t_first_ns, 0);
	chat_result_release(&r);
}

Test(client, ollama_thinking_kept_apart)
{
	struct chat_result r;
	chat("ollama", "fake-reasoning", &r);
	cr_assert_eq(r.err, ERR_NONE, "%s", r.errmsg);
	cr_assert_str_eq(r.thinking.data, expected_thinking(6));
	cr_assert_str_eq(r.answer.data, expected_answer(12));
	cr_assert_eq(r.completion_tokens, 18);
	cr_assert_eq(r.reasoning_tokens, 6);
	cr_assert_eq(r.reasoning_src, COUNT_EVENTS);
	chat_result_release(&r);
}

Test(client, ollama_split_and_errors)
{
	struct chat_result r;
	chat("ollama", "fake-split", &r);
	cr_assert_eq(r.err, ERR_NONE, "%s", r.errmsg);
	cr_assert_str_eq(r.answer.data, expected_answer(12));
	chat_result_release(&r);
	chat("ollama", "fake-error_midstream", &r);
	cr_assert_eq(r.err, ERR_SERVER);
	cr_assert(strstr(r.errmsg, "fake failure mid-stream"), "%s", r.errmsg);
	cr_assert_str_eq(r.answer.data, expected_answer(3));
	chat_result_release(&r);
	chat("ollama", "fake-404", &r);
	cr_assert_eq(r.err, ERR_HTTP);
	cr_assert_eq(r.http_status, 404);
	cr_assert(strstr(r.errmsg, "not found, try pulling it first"), "%s", r.errmsg);
	chat_result_release(&r);
	chat("ollama", "fake-malformed", &r);
	cr_assert_eq(r.err, ERR_PROTOCOL, "%s", r.errmsg);
	chat_result_release(&r);
	chat("ollama", "fake-no_usage", &r);
	cr_assert_eq(r.err, ERR_NONE, "%s", r.errmsg);
	cr_assert_eq(r.completion_src, COUNT_EVENTS);
	cr_assert_eq(r.completion_tokens, 12);
	cr_assert_eq(r.prompt_src, COUNT_NONE);
	cr_assert(isnan(r.server_total_s));
	chat_result_release(&r);
}

Test(client, request_body_has_what_we_asked)
{
	struct client *c = client_for("openai");
	struct chat_request q = request("fake-model");
	struct chat_result r;
	json_t *o, *msgs;
	json_error_t je;

	q.s.system = "be brief";
	q.s.max_tokens = 7;
	q.s.temperature = 0.6;
	q.s.top_p = 0.95;
	q.s.top_k = 20;
	q.s.seed = 42;
	q.s.has_seed = 1;
	chat_result_init(&r);
	cr_assert_eq(client_chat(c, &q, &r), 0, "%s", r.errmsg);
	chat_result_release(&r);
	o = json_loads(fake_get("/x/last-request"), 0, &je);
	cr_assert_not_null(o);
	cr_assert_str_eq(json_string_value(json_object_get(o, "model")), "fake-model");
	cr_assert(json_is_true(json_object_get(o, "stream")));
	cr_assert(json_is_true(json_object_get(json_object_get(o, "stream_options"), "include_usage")));
	cr_assert_eq(json_integer_value(json_object_get(o, "max_tokens")), 7);
	cr_assert_float_eq(json_real_value(json_object_get(o, "temperature")), 0.6, 1e-9);
	cr_assert_float_eq(json_real_value(json_object_get(o, "top_p")), 0.95, 1e-9);
	cr_assert_eq(json_integer_value(json_object_get(o, "top_k")), 20);
	cr_assert_eq(json_integer_value(json_object_get(o, "seed")), 42);
	msgs = json_object_get(o, "messages");
	cr_assert_eq(json_array_size(msgs), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(msgs, 0), "role")), "system");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(msgs, 0), "content")), "be brief");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(msgs, 1), "content")), "hello there world");
	json_decref(o);

	/* top_k 0, no seed, no system: not sent */
	q = request("fake-model");
	chat_result_init(&r);
	cr_assert_eq(client_chat(c, &q, &r), 0, "%s", r.errmsg);
	chat_result_release(&r);
	o = json_loads(fake_get("/x/last-request"), 0, &je);
	cr_assert_not_null(o);
	cr_assert_null(json_object_get(o, "top_k"));
	cr_assert_null(json_object_get(o, "seed"));
	cr_assert_null(json_object_get(o, "top_p"));
	cr_assert_null(json_object_get(o, "max_tokens"));
	cr_assert_eq(json_array_size(json_object_get(o, "messages")), 1);
	json_decref(o);
	client_free(c);
}

Test(client, ollama_request_options)
{
	struct client *c = client_for("ollama");
	struct chat_request q = request("fake-model");
	struct chat_result r;
	json_t *o, *opt;
	json_error_t je;

	q.s.max_tokens = 4;
	q.s.top_k = 5;
	q.s.seed = 3;
	q.s.has_seed = 1;
	chat_result_init(&r);
	cr_assert_eq(client_chat(c, &q, &r), 0, "%s", r.errmsg);
	cr_assert_str_eq(r.finish_reason, "length");
	cr_assert_eq(r.completion_tokens, 4);
	chat_result_release(&r);
	o = json_loads(fake_get("/x/last-request"), 0, &je);
	cr_assert_not_null(o);
	opt = json_object_get(o, "options");
	cr_assert_eq(json_integer_value(json_object_get(opt, "num_predict")), 4);
	cr_assert_eq(json_integer_value(json_object_get(opt, "top_k")), 5);
	cr_assert_eq(json_integer_value(json_object_get(opt, "seed")), 3);
	cr_assert_float_eq(json_real_value(json_object_get(opt, "temperature")), 0.0, 1e-12);
	cr_assert(json_is_true(json_object_get(o, "stream")));
	json_decref(o);
	client_free(c);
}

Test(client, model_listing_and_health_both_apis)
{
	char err[IPW_ERRLEN], **m;
	int n;
	struct client *c = client_for("openai");
	cr_assert_eq(client_list_models(c, &m, &n, err, sizeof err), 0, "%s", err);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(m[0], "fake-model");
	cr_assert_null(m[1]);
	free_list(m);
	cr_assert_eq(client_health(c, err, sizeof err), 0, "%s", err);
	client_free(c);
	c = client_for("ollama");
	cr_assert_eq(client_list_models(c, &m, &n, err, sizeof err), 0, "%s", err);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(m[0], "fake-model");
	free_list(m);
	cr_assert_eq(client_health(c, err, sizeof err), 0, "%s", err);
	client_free(c);
}

Test(client, base_url_normalised)
{
	char err[IPW_ERRLEN], url[96];
	struct client *c;
	struct chat_request q = request("fake-model");
	struct chat_result r;

	snprintf(url, sizeof url, "%s/v1/", F.url);
	c = client_new(url, "openai", err, sizeof err);
	cr_assert_not_null(c, "%s", err);
	cr_assert_str_eq(client_url(c), F.url);
	chat_result_init(&r);
	cr_assert_eq(client_chat(c, &q, &r), 0, "%s", r.errmsg);
	chat_result_release(&r);
	client_free(c);
	c = client_new(F.url + strlen("http://"), "openai", err, sizeof err);
	cr_assert_not_null(c, "%s", err);
	cr_assert_str_eq(client_url(c), F.url);
	client_free(c);
	c = client_new("https://example.invalid/api/v1//", "openai", err, sizeof err);
	cr_assert_not_null(c, "%s", err);
	cr_assert_str_eq(client_url(c), "https://example.invalid/api");
	client_free(c);
}

Test(client, cancel_all_ends_streams_as_cancelled)
{
	struct client *c = client_for("openai");
	struct chat_request q = request("fake-stall");
	struct chat_result r;
	chat_result_init(&r);
	cr_assert_eq(client_submit(c, &q, &r, NULL, NULL), 0);
	while (r.ntoken < 2)
		client_poll(c, 100);
	client_cancel_all(c);
	cr_assert_eq(client_poll(c, 0), 0);
	cr_assert_eq(r.err, ERR_CANCELLED);
	cr_assert_str_eq(r.answer.data, expected_answer(2));
	cr_assert_gt(r.t_end_ns, 0);
	chat_result_release(&r);
	client_free(c);
}

static void count_done(void *arg, struct chat_result *res)
{
	(*(int *)arg)++;
}

Test(client, many_concurrent_streams_on_one_client)
{
	struct client *c;
	struct chat_request q;
	struct chat_result r[16];
	int ndone = 0, i, inflight;
	int64_t max_first = 0, min_end = INT64_MAX;
	const char *const a[] = { "--tokens", "20", "--token-delay-ms", "50", NULL };

	fake_stop(&F);
	fake_start(&F, a);
	c = client_for("openai");
	q = request("fake-model");
	for (i = 0; i < 16; i++) {
		chat_result_init(&r[i]);
		cr_assert_eq(client_submit(c, &q, &r[i], count_done, &ndone), 0);
	}
	inflight = client_poll(c, 0);
	cr_assert_eq(inflight, 16);
	while (client_poll(c, 1000) > 0)
		;
	cr_assert_eq(ndone, 16);
	for (i = 0; i < 16; i++) {
		cr_assert_eq(r[i].err, ERR_NONE, "stream %d: %s", i, r[i].errmsg);
		cr_assert_str_eq(r[i].answer.data, expected_answer(20), "stream %d", i);
		cr_assert_eq(r[i].completion_tokens, 20);
		if (r[i].t_first_ns > max_first)
			max_first = r[i].t_first_ns;
		if (r[i].t_end_ns < min_end)
			min_end = r[i].t_end_ns;
		chat_result_release(&r[i]);
	}
	/* they really overlapped: every stream had its first token before any stream ended */
	cr_assert_lt(max_first, min_end);
	client_free(c);
}

/* fakellm's count of the connections it accepted (GET /x/stats; that request's own included). */
static long fake_connections(void)
{
	const char *b = fake_get("/x/stats"), *k = strstr(b, "\"connections\":");
	cr_assert_not_null(k, "no connection count in %s", b);
	return atol(k + strlen("\"connections\":"));
}

/*
 * The client keeps every idle connection (CLIENT_MAX_IDLE_CONNS): two waves of
 * 16 streams, one after the other, open at most 16 connections in all, however
 * the streams of each wave happen to overlap. (libcurl's default cache keeps 4
 * idle connections per transfer still added, so as the first wave's transfers
 * ended and were removed it closed some of their connections, and the second
 * wave connected again: 17, 18 and 17 connections in three runs.)
 */
Test(client, idle_connections_kept_between_waves)
{
	struct client *c;
	struct chat_request q;
	struct chat_result r[16];
	int ndone = 0;
	long before, after;
	const char *const a[] = { "--tokens", "4", "--ttft-ms", "200", NULL };

	fake_stop(&F);
	fake_start(&F, a);
	before = fake_connections();
	c = client_for("openai");
	q = request("fake-model");
	for (int w = 0; w < 2; w++) {
		for (int i = 0; i < 16; i++) {
			chat_result_init(&r[i]);
			cr_assert_eq(client_submit(c, &q, &r[i], count_done, &ndone), 0);
		}
		while (client_poll(c, 1000) > 0)
			;
		for (int i = 0; i < 16; i++) {
			cr_assert_eq(r[i].err, ERR_NONE, "wave %d stream %d: %s", w, i, r[i].errmsg);
			chat_result_release(&r[i]);
		}
	}
	cr_assert_eq(ndone, 32);
	after = fake_connections();
	/* minus the two count requests' own connections */
	cr_assert_leq(after - before - 1, 16, "two waves of 16 opened %ld connections", after - before - 1);
	client_free(c);
}

/*
 * The send time is when libcurl starts on the request, not when it was
 * submitted: a request submitted while the loop is held up (here a 50 ms
 * sleep before the first poll) is sent after the hold-up, so its TTFT and
 * energy window leave it out; the wait is t_send_ns - t_submit_ns. The
 * first request opens its connection (the set-up counts in its window),
 * the second reuses it.
 */
Test(client, send_time_is_when_the_request_goes_out_not_its_submission)
{
	struct client *c = client_for("openai");
	struct chat_request q = request("fake-model");
	struct chat_result r;
	int64_t before;

	for (int k = 0; k < 2; k++) {
		chat_result_init(&r);
		before = clock_now_ns();
		cr_assert_eq(client_submit(c, &q, &r, NULL, NULL), 0);
		cr_assert_geq(r.t_submit_ns, before);
		clock_sleep_ns(50 * NS_PER_MS);
		while (client_poll(c, 1000) > 0)
			;
		cr_assert_eq(r.err, ERR_NONE, "%s", r.errmsg);
		cr_assert_geq(r.t_send_ns - r.t_submit_ns, 50 * NS_PER_MS, "request %d: sent %lld ns after submission", k,
			      (long long)(r.t_send_ns - r.t_submit_ns));
		cr_assert_lt(r.t_send_ns, r.server_t_first_ns, "request %d", k);
		cr_assert_leq(r.t_send_ns, r.t_first_ns);
		chat_result_release(&r);
	}
	client_free(c);
}

Test(client, api_auto_detection)
{
	char err[IPW_ERRLEN];
	struct client *c;
	const char *const ol[] = { "--api", "ollama", NULL }, *const oa[] = { "--api", "openai", NULL };

	c = client_new(F.url, "auto", err, sizeof err); /* serves both: Ollama wins */
	cr_assert_not_null(c, "%s", err);
	cr_assert_str_eq(client_api(c), "ollama");
	client_free(c);
	fake_stop(&F);
	fake_start(&F, oa);
	c = client_new(F.url, "auto", err, sizeof err);
	cr_assert_not_null(c, "%s", err);
	cr_assert_str_eq(client_api(c), "openai");
	client_free(c);
	fake_stop(&F);
	fake_start(&F, ol);
	c = client_new(F.url, "auto", err, sizeof err);
	cr_assert_not_null(c, "%s", err);
	cr_assert_str_eq(client_api(c), "ollama");
	client_free(c);
}

Test(client, discovery_finds_fake_server)
{
	struct discovered d;
	char env[64], err[IPW_ERRLEN];
	const char *const a[] = { "--api", "openai", "--model", "qwen-fake", NULL };

	fake_stop(&F);
	fake_start(&F, a);
	snprintf(env, sizeof env, "1:ollama,%d:vllm", F.port);
	setenv("IPW_DISCOVER_PORTS", env, 1);
	cr_assert_eq(client_discover(&d, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(d.url, F.url);
	cr_assert_str_eq(d.api, "openai");
	cr_assert_str_eq(d.engine, "vllm");
	cr_assert_str_eq(d.model, "qwen-fake");
}

Test(client, discovery_on_ollama_port_reports_ollama)
{
	struct discovered d;
	char env[64], err[IPW_ERRLEN];

	snprintf(env, sizeof env, "%d:sglang", F.port);
	setenv("IPW_DISCOVER_PORTS", env, 1);
	cr_assert_eq(client_discover(&d, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(d.api, "ollama");
	cr_assert_str_eq(d.engine, "ollama");
	cr_assert_str_eq(d.model, "fake-model");
}

Test(client, discovery_with_nothing_listening_says_how_to_start)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	struct discovered d;
	char env[64], err[IPW_ERRLEN] = "", want[16];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	close(fd);
	snprintf(env, sizeof env, "%d:vllm", ntohs(sa.sin_port));
	snprintf(want, sizeof want, "%d", ntohs(sa.sin_port));
	setenv("IPW_DISCOVER_PORTS", env, 1);
	cr_assert_eq(client_discover(&d, err, sizeof err), -1);
	cr_assert(strstr(err, want), "%s", err);
	cr_assert(strstr(err, "ollama serve && ollama pull qwen3:4b"), "%s", err);
	cr_assert(strstr(err, "vllm serve MODEL"), "%s", err);
	cr_assert(strstr(err, "llama-server -m model.gguf --port 8080"), "%s", err);
}

Test(client, discovery_ignores_other_web_servers)
{
	struct discovered d;
	char env[64], err[IPW_ERRLEN] = "";
	const char *const a[] = { "--api", "none", NULL }; /* answers 404 to every API path */

	fake_stop(&F);
	fake_start(&F, a);
	snprintf(env, sizeof env, "%d:llama.cpp", F.port);
	setenv("IPW_DISCOVER_PORTS", env, 1);
	cr_assert_eq(client_discover(&d, err, sizeof err), -1, "took %s for a server", d.url);
	cr_assert(strstr(err, "no inference server found"), "%s", err);
}

Test(client, api_key_sent_but_never_in_error_text)
{
	const char *key = "sk-test-SECRET-0123456789";
	struct chat_result r;
	char err[IPW_ERRLEN], url[64], **m;
	struct client *c;
	struct chat_request q;
	int n;

	setenv("IPW_API_KEY", key, 1);
	/* the server echoes the Authorization header into its 401 message */
	chat("openai", "fake-echo_auth", &r);
	cr_assert_eq(r.err, ERR_HTTP);
	cr_assert_eq(r.http_status, 401);
	cr_assert(strstr(r.errmsg, "Bearer [redacted]"), "the key was not sent: %s", r.errmsg);
	cr_assert_null(strstr(r.errmsg, "SECRET"), "%s", r.errmsg);
	chat_result_release(&r);
	chat("ollama", "fake-echo_auth", &r);
	cr_assert_eq(r.err, ERR_HTTP);
	cr_assert_null(strstr(r.errmsg, "SECRET"), "%s", r.errmsg);
	chat_result_release(&r);
	/* OPENAI_API_KEY is the fallback */
	unsetenv("IPW_API_KEY");
	setenv("OPENAI_API_KEY", key, 1);
	chat("openai", "fake-echo_auth", &r);
	cr_assert(strstr(r.errmsg, "Bearer [redacted]"), "%s", r.errmsg);
	chat_result_release(&r);
	/* other error paths: timeout, refused connection, listing, detection */
	c = client_for("openai");
	q = request("fake-stall");
	q.timeout_s = 0.5;
	chat_result_init(&r);
	client_chat(c, &q, &r);
	cr_assert_eq(r.err, ERR_TIMEOUT);
	cr_assert_null(strstr(r.errmsg, "SECRET"), "%s", r.errmsg);
	chat_result_release(&r);
	client_free(c);
	fake_stop(&F);
	c = client_new(F.url, "openai", err, sizeof err);
	cr_assert_not_null(c);
	q = request("m");
	chat_result_init(&r);
	client_chat(c, &q, &r);
	cr_assert_eq(r.err, ERR_CONNECT);
	cr_assert_null(strstr(r.errmsg, "SECRET"), "%s", r.errmsg);
	chat_result_release(&r);
	cr_assert_neq(client_list_models(c, &m, &n, err, sizeof err), 0);
	cr_assert_null(strstr(err, "SECRET"), "%s", err);
	client_free(c);
	snprintf(url, sizeof url, "%s", F.url);
	cr_assert_null(client_new(url, "auto", err, sizeof err));
	cr_assert_null(strstr(err, "SECRET"), "%s", err);
}

Test(client, names)
{
	cr_assert_str_eq(err_kind_name(ERR_TIMEOUT), "timeout");
	cr_assert_str_eq(err_kind_name(ERR_CANCELLED), "cancelled");
	cr_assert_str_eq(count_src_name(COUNT_EVENTS), "events");
	cr_assert_str_eq(count_src_name(COUNT_NONE), "none");
	cr_assert_str_eq(api_backend_name(&api_ollama), "ollama");
	cr_assert_str_eq(api_backend_name(NULL), "auto");
}

/* ---- messages, extra body, non-streaming calls ---- */

static json_t *last_request(void)
{
	json_error_t je;
	json_t *o = json_loads(fake_get("/x/last-request"), 0, &je);
	cr_assert_not_null(o, "last request: %s", je.text);
	return o;
}

static const char *msg_field(json_t *msgs, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(msgs, i), key));
}

Test(client, messages_array_and_extra_body_reach_openai_server)
{
	struct client *c = client_for("openai");
	struct chat_request q = request("fake-model");
	struct chat_message m[4] = {
		{ .role = "system", .content = "be brief" },
		{ .role = "user", .content = "weather in Paris?", .name = "ann" },
		{ .role = "assistant", .content = NULL,
		  .tool_calls_json = "[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
				     "\"arguments\":\"{}\"}}]" },
		{ .role = "tool", .content = "sunny", .tool_call_id = "call_1", .name = "get_weather" },
	};
	struct chat_result r;
	json_t *o, *msgs;

	q.messages = m;
	q.nmessages = 4;
	q.prompt = "ignored when messages are given";
	q.extra_body = "{\"temperature\":0.25,\"chat_template_kwargs\":{\"enable_thinking\":false}}";
	chat_result_init(&r);
	cr_assert_eq(client_chat(c, &q, &r), 0, "%s", r.errmsg);
	chat_result_release(&r);
	o = last_request();
	msgs = json_object_get(o, "messages");
	cr_assert_eq(json_array_size(msgs), 4);
	cr_assert_str_eq(msg_field(msgs, 0, "role"), "system");
	cr_assert_str_eq(msg_field(msgs, 1, "content"), "weather in Paris?");
	cr_assert_str_eq(msg_field(msgs, 1, "name"), "ann");
	cr_assert(json_is_null(json_object_get(json_array_get(msgs, 2), "content")));
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(
		json_object_get(json_array_get(msgs, 2), "tool_calls"), 0), "function"), "name")), "get_weather");
	cr_assert_str_eq(msg_field(msgs, 3, "role"), "tool");
	cr_assert_str_eq(msg_field(msgs, 3, "tool_call_id"), "call_1");
	cr_assert_str_eq(msg_field(msgs, 3, "name"), "get_weather");
	/* the extra body wins over a field ipw sets, and adds its own */
	cr_assert_float_eq(json_real_value(json_object_get(o, "temperature")), 0.25, 1e-12);
	cr_assert(json_is_false(json_object_get(json_object_get(o, "chat_template_kwargs"), "enable_thinking")));
	cr_assert(json_is_true(json_object_get(o, "stream")));
	json_decref(o);
	client_free(c);
}

Test(client, messages_and_extra_body_reach_ollama_server)
{
	struct client *c = client_for("ollama");
	struct chat_request q = request("fake-model");
	struct chat_message m[3] = {
		{ .role = "user", .content = "weather?" },
		{ .role = "assistant", .content = NULL, .tool_calls_json = "[{\"function\":{\"name\":\"w\",\"arguments\":{}}}]" },
		{ .role = "tool", .content = "sunny", .name = "w" },
	};
	struct chat_result r;
	json_t *o, *msgs, *opt;

	q.messages = m;
	q.nmessages = 3;
	q.s.max_tokens = 5;
	q.extra_body = "{\"options\":{\"num_ctx\":4096},\"keep_alive\":\"5m\"}";
	chat_result_init(&r);
	cr_assert_eq(client_chat(c, &q, &r), 0, "%s", r.errmsg);
	chat_result_release(&r);
	o = last_request();
	msgs = json_object_get(o, "messages");
	cr_assert_eq(json_array_size(msgs), 3);
	cr_assert_str_eq(msg_field(msgs, 1, "content"), "", "Ollama gets \"\" for a null content");
	cr_assert(json_is_array(json_object_get(json_array_get(msgs, 1), "tool_calls")));
	cr_assert_str_eq(msg_field(msgs, 2, "tool_name"), "w");
	/* merged member by member: ipw's options stay, the extra ones join them */
	opt = json_object_get(o, "options");
	cr_assert_eq(json_integer_value(json_object_get(opt, "num_ctx")), 4096);
	cr_assert_eq(json_integer_value(json_object_get(opt, "num_predict")), 5);
	cr_assert_str_eq(json_string_value(json_object_get(o, "keep_alive")), "5m");
	json_decref(o);
	client_free(c);
}

Test(client, bad_extra_body_or_tool_calls_fail_before_sending)
{
	struct client *c = client_for("openai");
	struct chat_request q = request("fake-model");
	struct chat_message m = { .role = "assistant", .tool_calls_json = "{\"not\":\"an array\"}" };
	struct chat_result r;

	q.extra_body = "[1,2]";
	chat_result_init(&r);
	cr_assert_eq(client_submit(c, &q, &r, NULL, NULL), -1);
	cr_assert_eq(r.err, ERR_PROTOCOL);
	cr_assert(strstr(r.errmsg, "extra body is not a JSON object"), "%s", r.errmsg);
	chat_result_release(&r);
	q.extra_body = "{oops";
	chat_result_init(&r);
	cr_assert_eq(client_chat(c, &q, &r), -1);
	cr_assert(strstr(r.errmsg, "extra body"), "%s", r.errmsg);
	chat_result_release(&r);
	q.extra_body = NULL;
	q.messages = &m;
	q.nmessages = 1;
	chat_result_init(&r);
	cr_assert_eq(client_chat(c, &q, &r), -1);
	cr_assert(strstr(r.errmsg, "tool_calls is not a JSON array"), "%s", r.errmsg);
	chat_result_release(&r);
	cr_assert_eq(client_poll(c, 0), 0, "nothing was started");
	client_free(c);
}

Test(client, prompt_convenience_builds_system_and_user)
{
	struct chat_request q;
	struct chat_message m[2];

	memset(&q, 0, sizeof q);
	chat_request_set_prompt(&q, m, "sys", "hi");
	cr_assert_eq(q.nmessages, 2);
	cr_assert_str_eq(q.messages[0].role, "system");
	cr_assert_str_eq(q.messages[1].content, "hi");
	chat_request_set_prompt(&q, m, "", "hi");
	cr_assert_eq(q.nmessages, 1);
	cr_assert_str_eq(q.messages[0].role, "user");
}

static void complete_ok(const char *api, const char *model, struct chat_result *r)
{
	struct client *c = client_for(api);
	struct chat_request q = request(model);
	chat_result_init(r);
	cr_assert_eq(client_complete(c, &q, r), 0, "%s %s: %s", api, model, r->errmsg);
	client_free(c);
}

Test(client, non_streaming_call_returns_whole_answer_and_usage)
{
	const char *apis[] = { "openai", "ollama" };
	struct chat_result r;
	json_t *o;

	for (int i = 0; i < 2; i++) {
		complete_ok(apis[i], "fake-model", &r);
		cr_assert_str_eq(r.answer.data, expected_answer(12), "%s", apis[i]);
		cr_assert_eq(r.completion_tokens, 12);
		cr_assert_eq(r.completion_src, COUNT_SERVER);
		cr_assert_eq(r.prompt_tokens, 6);
		cr_assert_str_eq(r.finish_reason, "stop");
		cr_assert_str_eq(r.model, "fake-model");
		cr_assert_eq(r.http_status, 200);
		cr_assert_null(r.tool_calls_json);
		cr_assert_gt(r.t_end_ns, r.t_send_ns);
		chat_result_release(&r);
		o = last_request();
		cr_assert(json_is_false(json_object_get(o, "stream")), "%s: stream:false sent", apis[i]);
		cr_assert_null(json_object_get(o, "stream_options"));
		json_decref(o);
		/* reasoning comes back apart from the answer */
		complete_ok(apis[i], "fake-reasoning", &r);
		cr_assert_str_eq(r.thinking.data, expected_thinking(6), "%s", apis[i]);
		cr_assert_str_eq(r.answer.data, expected_answer(12));
		chat_result_release(&r);
		/* an assistant turn calling a tool: its tool_calls as raw JSON */
		complete_ok(apis[i], "fake-tools", &r);
		cr_assert_not_null(r.tool_calls_json, "%s", apis[i]);
		cr_assert(strstr(r.tool_calls_json, "\"get_weather\""), "%s", r.tool_calls_json);
		chat_result_release(&r);
	}
	complete_ok("openai", "fake-tools", &r);
	cr_assert_str_eq(r.finish_reason, "tool_calls");
	chat_result_release(&r);
}

Test(client, non_streaming_errors)
{
	struct client *c = client_for("openai");
	struct chat_request q = request("fake-500");
	struct chat_result r;

	chat_result_init(&r);
	cr_assert_eq(client_complete(c, &q, &r), -1);
	cr_assert_eq(r.err, ERR_HTTP);
	cr_assert_eq(r.http_status, 500);
	cr_assert(strstr(r.errmsg, "fake internal error"), "%s", r.errmsg);
	chat_result_release(&r);
	client_free(c);
	c = client_for("ollama");
	q = request("fake-404");
	chat_result_init(&r);
	cr_assert_eq(client_complete(c, &q, &r), -1);
	cr_assert_eq(r.http_status, 404);
	chat_result_release(&r);
	client_free(c);
}

/* ---- the retry policy ---- */

Test(client, retry_policy_delays_and_retriable_errors)
{
	struct retry_policy p;
	struct chat_result r;

	retry_policy_init(&p);
	cr_assert_eq(p.max_attempts, 3);
	chat_result_init(&r);
	p.backoff_base_s = 1;
	p.backoff_max_s = 5;
	cr_assert_float_eq(retry_delay_s(&p, 1, &r), 1, 1e-12);
	cr_assert_float_eq(retry_delay_s(&p, 2, &r), 2, 1e-12);
	cr_assert_float_eq(retry_delay_s(&p, 3, &r), 4, 1e-12);
	cr_assert_float_eq(retry_delay_s(&p, 4, &r), 5, 1e-12, "capped at backoff_max_s");
	r.retry_after_s = 30;
	cr_assert_float_eq(retry_delay_s(&p, 1, &r), 30, 1e-12, "Retry-After above the backoff wins");
	r.retry_after_s = 0.5;
	cr_assert_float_eq(retry_delay_s(&p, 2, &r), 2, 1e-12, "but never shortens it");
	r.retry_after_s = 1000;
	cr_assert_float_eq(p.retry_after_max_s, 60, 1e-12, "the default cap");
	cr_assert_float_eq(retry_delay_s(&p, 1, &r), 60, 1e-12, "capped at retry_after_max_s");
	/* the per-query budget: no budget allows anything; a wait that would pass it is refused */
	cr_assert(retry_within_budget(&p, clock_now_ns(), 1e6));
	p.budget_s = 5;
	cr_assert(retry_within_budget(&p, clock_now_ns(), 1));
	cr_assert_not(retry_within_budget(&p, clock_now_ns(), 60));
	cr_assert_not(retry_within_budget(&p, clock_now_ns() - 6 * NS_PER_S, 0));
	p.budget_s = 0;
	p.honour_retry_after = 0;
	cr_assert_float_eq(retry_delay_s(&p, 1, &r), 1, 1e-12);
	/* which errors are retried */
	r.err = ERR_CONNECT;
	cr_assert(retry_retriable(&p, &r));
	r.err = ERR_RESET;
	cr_assert(retry_retriable(&p, &r));
	r.err = ERR_TIMEOUT;
	cr_assert(retry_retriable(&p, &r));
	p.retry_on &= ~RETRY_ON_TIMEOUT;
	cr_assert_not(retry_retriable(&p, &r));
	r.err = ERR_HTTP;
	r.http_status = 429;
	cr_assert(retry_retriable(&p, &r));
	r.http_status = 503;
	cr_assert(retry_retriable(&p, &r));
	r.http_status = 400;
	cr_assert_not(retry_retriable(&p, &r));
	r.http_status = 401;
	cr_assert_not(retry_retriable(&p, &r));
	r.err = ERR_PROTOCOL;
	cr_assert_not(retry_retriable(&p, &r));
	r.err = ERR_CANCELLED;
	cr_assert_not(retry_retriable(&p, &r));
	/* attempts */
	r.err = ERR_HTTP;
	r.http_status = 500;
	cr_assert(retry_again(&p, 2, &r));
	cr_assert_not(retry_again(&p, 3, &r));
	r.err = ERR_NONE;
	cr_assert_not(retry_again(&p, 1, &r));
	chat_result_release(&r);
}

Test(client, retry_honours_retry_after_and_skips_other_4xx)
{
	struct client *c = client_for("openai");
	struct chat_request q = request("fake-429");
	struct chat_result r;
	struct retry_policy p;
	int64_t t0;
	int n = 0;

	retry_policy_init(&p);
	p.backoff_base_s = 0.01;
	p.max_attempts = 4;
	q.no_stream = 1;
	/* the fake answers the first request 429 with Retry-After: 1, the next one normally */
	t0 = clock_now_ns();
	cr_assert_eq(client_call_retry(c, &q, &p, NULL, &r, &n), 0, "%s", r.errmsg);
	cr_assert_eq(n, 2);
	cr_assert_geq(clock_now_ns() - t0, 950 * NS_PER_MS, "the second attempt came before Retry-After");
	cr_assert_str_eq(r.answer.data, expected_answer(12));
	chat_result_release(&r);
	/* 404: not retriable, one attempt */
	q = request("fake-404");
	cr_assert_eq(client_call_retry(c, &q, &p, NULL, &r, &n), -1);
	cr_assert_eq(n, 1);
	cr_assert_eq(r.http_status, 404);
	chat_result_release(&r);
	/* 500 (streaming): every attempt used */
	q = request("fake-500");
	cr_assert_eq(client_call_retry(c, &q, &p, NULL, &r, &n), -1);
	cr_assert_eq(n, 4);
	chat_result_release(&r);
	client_free(c);
}

/* ---- watching other descriptors ---- */

struct fdseen {
	int calls, last_fd, last_ev;
	char got;
	struct client *c;
	struct chat_result *res;   /* submit this from the callback when set */
	int submitted;
};

static void on_fd(void *arg, int fd, int ev)
{
	struct fdseen *s = arg;
	s->calls++;
	s->last_fd = fd;
	s->last_ev = ev;
	if ((ev & CLIENT_FD_READ) && read(fd, &s->got, 1) != 1)
		s->got = '?';
	if (s->res && !s->submitted) {
		struct chat_request q = request("fake-model");
		s->submitted = client_submit(s->c, &q, s->res, NULL, NULL) == 0;
	}
}

static void *write_later(void *arg)
{
	clock_sleep_ns(100 * NS_PER_MS);
	cr_assert_eq(write(*(int *)arg, "x", 1), 1);
	return NULL;
}

Test(client, watched_fd_served_by_poll)
{
	struct client *c = client_for("openai");
	struct fdseen s = { 0 };
	int p[2];
	pthread_t th;
	int64_t t0;

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(client_watch_fd(c, -1, CLIENT_FD_READ, on_fd, &s), -1);
	cr_assert_eq(client_watch_fd(c, p[0], 0, on_fd, &s), -1);
	cr_assert_eq(client_unwatch_fd(c, p[0]), -1, "not watched yet");
	cr_assert_eq(client_watch_fd(c, p[0], CLIENT_FD_READ, on_fd, &s), 0);
	/* nothing ready: the callback does not run */
	cr_assert_eq(client_poll(c, 0), 0);
	cr_assert_eq(s.calls, 0);
	/* with no request in flight, poll still waits for the descriptor and wakes when it is ready */
	pthread_create(&th, NULL, write_later, &p[1]);
	t0 = clock_now_ns();
	while (!s.calls && clock_now_ns() - t0 < 20 * NS_PER_S)
		client_poll(c, 10000);
	pthread_join(th, NULL);
	cr_assert_eq(s.calls, 1);
	cr_assert_eq(s.last_fd, p[0]);
	cr_assert_eq(s.last_ev, CLIENT_FD_READ);
	cr_assert_eq(s.got, 'x');
	/* unwatched: a ready descriptor no longer calls back */
	cr_assert_eq(write(p[1], "y", 1), 1);
	cr_assert_eq(client_unwatch_fd(c, p[0]), 0);
	client_poll(c, 50);
	cr_assert_eq(s.calls, 1);
	close(p[0]);
	close(p[1]);
	client_free(c);
}

Test(client, watched_socket_shares_the_loop_with_streams)
{
	struct client *c = client_for("openai");
	struct chat_request q = request("fake-model");
	struct chat_result r1, r2;
	struct fdseen s = { 0 };
	int sv[2], ndone = 0;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s.c = c;
	s.res = &r2;
	chat_result_init(&r1);
	chat_result_init(&r2);
	cr_assert_eq(client_watch_fd(c, sv[0], CLIENT_FD_READ, on_fd, &s), 0);
	cr_assert_eq(client_submit(c, &q, &r1, count_done, &ndone), 0);
	cr_assert_eq(write(sv[1], "z", 1), 1);
	/* the callback (like a proxy accepting a client) starts a second request on the same loop */
	while (client_poll(c, 1000) > 0 || !s.submitted)
		;
	cr_assert_eq(ndone, 1);
	cr_assert_eq(s.got, 'z');
	cr_assert(s.submitted);
	cr_assert_eq(r1.err, ERR_NONE, "%s", r1.errmsg);
	cr_assert_eq(r2.err, ERR_NONE, "%s", r2.errmsg);
	cr_assert_str_eq(r2.answer.data, expected_answer(12));
	/* a hang-up reads as ready to read */
	close(sv[1]);
	s.res = NULL;
	client_poll(c, 1000);
	cr_assert_eq(s.calls, 2);
	cr_assert(s.last_ev & CLIENT_FD_READ);
	client_unwatch_fd(c, sv[0]);
	close(sv[0]);
	chat_result_release(&r1);
	chat_result_release(&r2);
	client_free(c);
}

/* ---- the registry ---- */

Test(client, api_selected_by_name)
{
	const struct api_backend *b = NULL;
	char err[IPW_ERRLEN] = "", names[128];
	struct client *c;

	cr_assert_eq(api_lookup("ollama", &b, err, sizeof err), 0);
	cr_assert_eq(b, &api_ollama);
	cr_assert_eq(api_lookup("openai", &b, err, sizeof err), 0);
	cr_assert_eq(b, &api_openai);
	cr_assert_eq(api_lookup("auto", &b, err, sizeof err), 0);
	cr_assert_null(b);
	cr_assert_eq(api_lookup(NULL, &b, err, sizeof err), 0);
	cr_assert_null(b);
	api_names(names, sizeof names, "|");
	cr_assert_str_eq(names, "ollama|openai|builtin|auto");
	c = client_new(F.url, "ollama", err, sizeof err);
	cr_assert_not_null(c, "%s", err);
	cr_assert_str_eq(client_api(c), "ollama");
	cr_assert_eq(client_backend(c), &api_ollama);
	client_free(c);
	c = client_new(F.url, "openai", err, sizeof err);
	cr_assert_not_null(c, "%s", err);
	cr_assert_str_eq(client_api(c), "openai");
	client_free(c);
}

Test(client, unknown_api_name_is_an_error)
{
	const struct api_backend *b = &api_openai;
	char err[IPW_ERRLEN] = "";

	cr_assert_eq(api_lookup("grpc", &b, err, sizeof err), -1);
	cr_assert_null(b);
	cr_assert(strstr(err, "unknown API 'grpc'"), "%s", err);
	cr_assert(strstr(err, "ollama, openai, builtin, auto"), "%s", err);
	err[0] = 0;
	cr_assert_null(client_new(F.url, "grpc", err, sizeof err));
	cr_assert(strstr(err, "unknown API 'grpc'"), "%s", err);
}

/* An API that runs requests itself (no HTTP): answers with the prompt reversed, completed by dispatch. */
struct echo_req {
	struct chat_result *res;
	chat_done_fn done;
	void *arg;
	char text[64];
};

struct echo_state {
	struct echo_req q[8];
	int n, opened;
};

static int echo_open(struct client *c, void **state, char *err, size_t errlen)
{
	struct echo_state *e = calloc(1, sizeof *e);
	e->opened = 1;
	*state = e;
	return 0;
}

static void echo_close(void *state)
{
	free(state);
}

static int echo_submit(void *state, const struct chat_request *req, struct chat_result *res, chat_done_fn done,
		       void *arg)
{
	struct echo_state *e = state;
	struct echo_req *q = &e->q[e->n++];
	size_t n = strlen(req->prompt);

	q->res = res;
	q->done = done;
	q->arg = arg;
	for (size_t i = 0; i < n && i < sizeof q->text - 1; i++)
		q->text[i] = req->prompt[n - 1 - i];
	res->t_send_ns = clock_now_ns();
	return 0;
}

static void echo_finish(struct echo_state *e, enum err_kind k)
{
	while (e->n > 0) {
		struct echo_req q = e->q[--e->n];
		q.res->err = k;
		buf_appends(&q.res->answer, q.text);
		q.res->t_end_ns = clock_now_ns();
		if (q.done)
			q.done(q.arg, q.res);
	}
}

static int echo_dispatch(void *state)
{
	echo_finish(state, ERR_NONE);
	return 0;
}

static void echo_cancel(void *state)
{
	echo_finish(state, ERR_CANCELLED);
}

static int echo_models(void *state, char ***models, int *n, char *err, size_t errlen)
{
	*models = calloc(2, sizeof(char *));
	(*models)[0] = strdup("echo-1");
	*n = 1;
	return 0;
}

static const struct api_backend echo_api = {
	.name = "echo", .summary = "test", .open = echo_open, .close = echo_close, .submit = echo_submit,
	.dispatch = echo_dispatch, .cancel_all = echo_cancel, .list_models = echo_models,
};

Test(client, an_api_of_its_own_runs_on_the_same_loop)
{
	struct client_opts o;
	struct client *c;
	struct chat_request q = request("m");
	struct chat_result r;
	char err[IPW_ERRLEN], **models;
	int n;

	client_opts_init(&o);
	o.backend = &echo_api;
	c = client_open("inproc://", &o, err, sizeof err);
	cr_assert_not_null(c, "%s", err);
	cr_assert_str_eq(client_api(c), "echo");
	q.prompt = "abc";
	chat_result_init(&r);
	cr_assert_eq(client_chat(c, &q, &r), 0);
	cr_assert_str_eq(r.answer.data, "cba");
	chat_result_release(&r);
	cr_assert_eq(client_list_models(c, &models, &n, err, sizeof err), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(models[0], "echo-1");
	free_list(models);
	cr_assert_eq(client_health(c, err, sizeof err), 0, "%s", err);
	client_free(c);
}
