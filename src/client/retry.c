/*
 * client/retry.c - the one retry policy: which failures are worth another
 * attempt (refused or dropped connections, timeouts, HTTP 429 and 5xx), how
 * long to wait (doubling backoff, at least the server's Retry-After), and a
 * blocking call that applies it, within a per-query time budget. The runner
 * and the judge both use it.
 */
#include <math.h>
#include <string.h>

#include "client.h"
#include "clock.h"

void retry_policy_init(struct retry_policy *p)
{
	memset(p, 0, sizeof *p);
	p->max_attempts = 3;
	p->backoff_base_s = 1.0;
	p->backoff_max_s = 60.0;
	p->honour_retry_after = 1;
	p->retry_after_max_s = 60.0;
	p->retry_on = RETRY_ON_ALL;
}

int retry_retriable(const struct retry_policy *p, const struct chat_result *res)
{
	unsigned need = 0;

	switch (res->err) {
	case ERR_CONNECT: need = RETRY_ON_CONNECT; break;
	case ERR_RESET: need = RETRY_ON_RESET; break;
	case ERR_TIMEOUT: need = RETRY_ON_TIMEOUT; break;
	case ERR_HTTP:
		if (res->http_status == 429)
			need = RETRY_ON_429;
		else if (res->http_status >= 500 && res->http_status <= 599)
			need = RETRY_ON_5XX;
		break;
	default: break;
	}
	return need && (p->retry_on & need);
}

int retry_again(const struct retry_policy *p, int attempt, const struct chat_result *res)
{
	int max = p->max_attempts < 1 ? 1 : p->max_attempts;
	return res->err != ERR_NONE && attempt < max && retry_retriable(p, res);
}

double retry_delay_s(const struct retry_policy *p, int attempt, const struct chat_result *res)
{
	double d = p->backoff_base_s > 0 ? p->backoff_base_s : 0;

	for (int i = 1; i < attempt && d < p->backoff_max_s; i++)
		d *= 2;
	if (p->backoff_max_s > 0 && d > p->backoff_max_s)
		d = p->backoff_max_s;
	if (p->honour_retry_after && res && isfinite(res->retry_after_s) && res->retry_after_s > d)
		d = p->retry_after_max_s > 0 && res->retry_after_s > p->retry_after_max_s ? p->retry_after_max_s
											   : res->retry_after_s;
	return d;
}

int retry_within_budget(const struct retry_policy *p, int64_t t_first_ns, double delay_s)
{
	if (!(p->budget_s > 0) || !t_first_ns)
		return 1;
	return (double)(clock_now_ns() - t_first_ns) / 1e9 + delay_s < p->budget_s;
}

int retry_sleep(double s, volatile sig_atomic_t *stop)
{
	int64_t end = clock_now_ns() + (int64_t)(s * 1e9), now;

	while ((now = clock_now_ns()) < end) {
		if (stop && *stop)
			return 1;
		clock_sleep_ns(end - now < 20 * NS_PER_MS ? end - now : 20 * NS_PER_MS);
	}
	return stop && *stop ? 1 : 0;
}

int client_call_retry(struct client *c, const struct chat_request *req, const struct retry_policy *p,
		      volatile sig_atomic_t *stop, struct chat_result *res, int *attempts)
{
	int64_t t_first = 0;
	double d;
	int n = 0;

	for (;;) {
		n++;
		chat_result_init(res);
		if (req->no_stream)
			client_complete(c, req, res);
		else
			client_chat(c, req, res);
		if (n == 1)
			t_first = res->t_send_ns;
		d = retry_delay_s(p, n, res);
		if (!retry_again(p, n, res) || !retry_within_budget(p, t_first, d) || retry_sleep(d, stop))
			break;
		chat_result_release(res);
	}
	if (attempts)
		*attempts = n;
	return res->err == ERR_NONE ? 0 : -1;
}
