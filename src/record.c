/*
 * record.c - releases run and query records (record.h): every string and
 * array a record holds is owned by it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

void run_record_release(struct run_record *r)
{
	if (!r)
		return;
	free(r->id);
	free(r->name);
	free(r->status);
	free(r->model);
	free(r->server_model);
	free(r->api);
	free(r->url);
	free(r->engine);
	free(r->config_json);
	free(r->dataset_path);
	free(r->dataset_sha256);
	free(r->dataset_format);
	free(r->hardware_json);
	free(r->version);
	free(r->group_name);
	free(r->summary_json);
	free(r->server_log);
	for (int i = 0; i < r->nsources; i++) {
		struct run_source *s = &r->sources[i];
		free(s->name);
		free(s->backend);
		free(s->kind);
		free(s->scope);
		free(s->model);
		free(s->uuid);
		free(s->pci_bus_id);
		free(s->driver);
	}
	free(r->sources);
	memset(r, 0, sizeof(*r));
}

void query_record_release(struct query_record *q)
{
	if (!q)
		return;
	free(q->item_id);
	free(q->subject);
	free(q->task);
	free(q->prompt);
	free(q->answer);
	free(q->thinking);
	free(q->finish_reason);
	free(q->status);
	free(q->reference);
	free(q->prompt_tokens_src);
	free(q->completion_tokens_src);
	free(q->reasoning_tokens_src);
	free(q->energy);
	free(q->error_kind);
	free(q->error_message);
	for (int i = 0; i < q->nattempts; i++) {
		free(q->attempts[i].error_kind);
		free(q->attempts[i].message);
	}
	free(q->attempts);
	free(q->extra_json);
	memset(q, 0, sizeof(*q));
}

const struct query_record *query_record_logprobs_norm(const struct query_record *q, struct query_record *tmp)
{
	if (q->logprob_tokens > 0 && isfinite(q->logprob_sum))
		return q;
	*tmp = *q;
	tmp->logprob_sum = NAN;
	tmp->logprob_tokens = -1;
	return tmp;
}
