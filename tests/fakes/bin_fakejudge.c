/*
 * fakejudge - a loopback OpenAI-compatible judge for the scoring tests
 * (non-streaming chat completions). It reads ipw's judge prompts and answers
 * with scripted verdicts decided by markers in the judged answers, counts the
 * requests it served (GET /x/count), and can fail every request (--fail).
 *
 *   fakejudge [--port-file F] [--lifetime-s S] [--fail] [--require-key K]
 *
 * Reference prompts: VERDICT: TRUE when the response contains the reference
 * (case-insensitive), else FALSE. Pairwise prompts: each answer's quality is
 * the digit after "Q=" (0 if none); the verdict follows the difference
 * (>= 2: A>>B, 1: A>B, 0: A=B, ...). Markers in an answer: JUDGE-MALFORMED (a
 * reply without a verdict), JUDGE-500 (HTTP 500), JUDGE-BIAS (always [[A>B]]:
 * favours position A), JUDGE-CONFLICT (two different labels), JUDGE-THINK (a
 * misleading verdict inside <think>...</think> before the real one), JUDGE-429
 * (every other such request: HTTP 429 with Retry-After: 1), JUDGE-400 (HTTP
 * 400). A request asking to stream is refused (HTTP 400): judges do not stream.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "util.h"

static long n_requests;
static int fail_all;
static const char *require_key;
static long n429;

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static void reply(int fd, int status, const char *body)
{
	char *s = xasprintf("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s"
			    "Connection: close\r\n\r\n%s", status, status == 200 ? "OK" : "Error", strlen(body),
			    status == 429 ? "Retry-After: 1\r\n" : "", body);
	send_all(fd, s, strlen(s));
	free(s);
}

static void reply_error(int fd, int status, const char *msg)
{
	json_t *o = json_pack("{s:{s:s, s:s}}", "error", "message", msg, "type", "fake");
	char *b = json_dumps(o, JSON_COMPACT);
	reply(fd, status, b);
	free(b);
	json_decref(o);
}

/* Copy of the text between start and end markers in s, or NULL. */
static char *between(const char *s, const char *start, const char *end)
{
	const char *a = strstr(s, start), *b;
	if (!a)
		return NULL;
	a += strlen(start);
	b = strstr(a, end);
	return b ? xasprintf("%.*s", (int)(b - a), a) : NULL;
}

static int quality(const char *s)
{
	const char *q = strstr(s, "Q=");
	return q && q[2] >= '0' && q[2] <= '9' ? q[2] - '0' : 0;
}

/* A reference verdict for resp against ref, or NULL with *status set for an HTTP error. */
static char *reference_text(const char *ref, const char *resp, int *status)
{
	int match = strcasestr(resp, ref) != NULL;

	if (strstr(resp, "JUDGE-429") && n429++ % 2 == 0)
		*status = 429;
	else if (strstr(resp, "JUDGE-400"))
		*status = 400;
	else if (strstr(resp, "JUDGE-500"))
		*status = 500;
	else if (strstr(resp, "JUDGE-MALFORMED"))
		return xstrdup("The response seems reasonable but I am unsure.");
	else if (strstr(resp, "JUDGE-THINK"))
		return xasprintf("<think>VERDICT: %s</think>The response %s the reference.\nVERDICT: %s",
				 match ? "FALSE" : "TRUE", match ? "matches" : "does not match", match ? "TRUE" : "FALSE");
	else
		return xasprintf("The response %s the reference.\n**VERDICT: %s**", match ? "matches" : "does not match",
				 match ? "TRUE" : "FALSE");
	return NULL;
}

static int either_has(const char *a, const char *b, const char *marker)
{
	return strstr(a, marker) || strstr(b, marker);
}

/* A pairwise verdict for answers a and b, or NULL with *status set for an HTTP error. */
static char *pairwise_text(const char *a, const char *b, int *status)
{
	static const char *const labels[] = {"B>>A", "B>A", "A=B", "A>B", "A>>B"};
	int d = quality(a) - quality(b);

	d = d < -2 ? -2 : d > 2 ? 2 : d;
	if (either_has(a, b, "JUDGE-500"))
		*status = 500;
	else if (either_has(a, b, "JUDGE-MALFORMED"))
		return xstrdup("Both answers have merits. Final verdict: A is good.");
	else if (either_has(a, b, "JUDGE-CONFLICT"))
		return xstrdup("At first [[A>B]], but on reflection [[B>A]].");
	else if (either_has(a, b, "JUDGE-BIAS"))
		return xstrdup("Assistant A is better.\nFinal verdict: [[A>B]]");
	else if (either_has(a, b, "JUDGE-THINK"))
		return xasprintf("<think>maybe [[%s]]</think>My final verdict: [[ %s ]]", labels[2 - d], labels[d + 2]);
	else
		return xasprintf("My final verdict: [[%s]]", labels[d + 2]);
	return NULL;
}

/* The judge's reply text for a user message, or NULL with *status set for an HTTP error. */
static char *judge_text(const char *user, int *status)
{
	char *ref = between(user, "### Reference answer\n", "\n\n### Response to grade\n");
	char *resp = between(user, "### Response to grade\n", "\n### End of response");
	char *a = between(user, "### Answer of assistant A\n", "\n### End of answer A");
	char *b = between(user, "### Answer of assistant B\n", "\n### End of answer B");
	char *out = NULL;

	*status = 200;
	if (ref && resp)
		out = reference_text(ref, resp, status);
	else if (a && b)
		out = pairwise_text(a, b, status);
	else
		*status = 400;
	free(ref);
	free(resp);
	free(a);
	free(b);
	return out;
}

static void handle_chat(int fd, const char *body, const char *auth)
{
	json_t *req = json_loads(body, 0, NULL), *msgs, *o;
	const char *user, *model;
	char *text, *s;
	int status;

	n_requests++;
	if (require_key && (!auth || strncmp(auth, "Bearer ", 7) || strcmp(auth + 7, require_key))) {
		char *m = xasprintf("Incorrect API key provided: %s", auth ? auth : "(none)");
		reply_error(fd, 401, m);
		free(m);
		goto out;
	}
	if (fail_all) {
		reply_error(fd, 500, "fake judge failure");
		goto out;
	}
	if (json_is_true(json_object_get(req, "stream"))) {
		reply_error(fd, 400, "fake judge: streaming is not supported");
		goto out;
	}
	msgs = json_object_get(req, "messages");
	user = json_string_value(json_object_get(json_array_get(msgs, json_array_size(msgs) - 1), "content"));
	model = json_string_value(json_object_get(req, "model"));
	if (!user || !model) {
		reply_error(fd, 400, "need a model and messages");
		goto out;
	}
	text = judge_text(user, &status);
	if (!text) {
		reply_error(fd, status, status == 500 ? "fake judge: scripted failure" : status == 429 ? "fake judge: slow down"
			    : "not a judge prompt");
		goto out;
	}
	o = json_pack("{s:s, s:s, s:s, s:[{s:i, s:{s:s, s:s}, s:s}]}", "id", "fake-judge", "object",
		      "chat.completion", "model", model, "choices", "index", 0, "message", "role", "assistant",
		      "content", text, "finish_reason", "stop");
	s = json_dumps(o, JSON_COMPACT);
	reply(fd, 200, s);
	free(s);
	free(text);
	json_decref(o);
out:
	json_decref(req);
}

static void serve(int fd)
{
	struct buf in;
	char tmp[4096], *hdr_end = NULL, auth[512] = "";
	long clen = 0;
	int have_auth = 0;

	buf_init(&in, 64u << 20);
	for (;;) {
		ssize_t k;
		struct pollfd pf = {fd, POLLIN, 0};
		if (poll(&pf, 1, 5000) <= 0)
			goto out;
		k = recv(fd, tmp, sizeof(tmp), 0);
		if (k <= 0 || buf_append(&in, tmp, (size_t)k) < 0)
			goto out;
		if (!hdr_end && (hdr_end = strstr(in.data, "\r\n\r\n"))) {
			const char *cl = strcasestr(in.data, "\r\nContent-Length:");
			const char *au = strcasestr(in.data, "\r\nAuthorization:");
			clen = cl && cl < hdr_end ? strtol(cl + 17, NULL, 10) : 0;
			if (au && au < hdr_end) {
				const char *v = au + 16, *e;
				while (*v == ' ')
					v++;
				e = strstr(v, "\r\n");
				snprintf(auth, sizeof(auth), "%.*s", (int)(e - v), v);
				have_auth = 1;
			}
		}
		if (hdr_end && in.len >= (size_t)(hdr_end - in.data) + 4 + (size_t)clen)
			break;
	}
	if (!strncmp(in.data, "POST /v1/chat/completions ", 26)) {
		handle_chat(fd, hdr_end + 4, have_auth ? auth : NULL);
	} else if (!strncmp(in.data, "GET /x/count ", 13)) {
		char b[64];
		snprintf(b, sizeof(b), "{\"requests\":%ld}", n_requests);
		reply(fd, 200, b);
	} else {
		reply_error(fd, 404, "not found");
	}
out:
	buf_release(&in);
	close(fd);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	const char *port_file = NULL;
	double lifetime = 300;
	time_t t0 = time(NULL);
	int ls;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--port-file") && i + 1 < argc)
			port_file = argv[++i];
		else if (!strcmp(argv[i], "--lifetime-s") && i + 1 < argc)
			lifetime = atof(argv[++i]);
		else if (!strcmp(argv[i], "--fail"))
			fail_all = 1;
		else if (!strcmp(argv[i], "--require-key") && i + 1 < argc)
			require_key = argv[++i];
		else {
			fprintf(stderr, "usage: fakejudge [--port-file F] [--lifetime-s S] [--fail] [--require-key K]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 16) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &alen) < 0) {
		perror("fakejudge");
		return 1;
	}
	if (port_file) {
		char *tmp = xasprintf("%s.tmp", port_file);
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%d\n", ntohs(a.sin_port)) < 0 || fclose(f) || rename(tmp, port_file)) {
			perror(port_file);
			return 1;
		}
		free(tmp);
	} else {
		printf("%d\n", ntohs(a.sin_port));
		fflush(stdout);
	}
	while (lifetime <= 0 || difftime(time(NULL), t0) < lifetime) {
		struct pollfd pf = {ls, POLLIN, 0};
		if (poll(&pf, 1, 200) > 0) {
			int fd = accept(ls, NULL, NULL);
			if (fd >= 0)
				serve(fd);
		}
	}
	close(ls);
	return 0;
}
