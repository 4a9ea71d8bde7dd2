/*
 * judge.h - LLM judges on any OpenAI-compatible endpoint: one blocking,
 * non-streaming chat call per judgement (the client's client_complete under
 * its retry policy), cached in the store by the SHA-256
 * of the full prompt and the judge model; the reference judge
 * (NaturalReasoning style) and the pairwise judge (Arena-Hard verdicts,
 * positions swapped). See docs/scoring.md.
 */
#ifndef IPW_JUDGE_H
#define IPW_JUDGE_H

#include <stddef.h>

#include "client.h"
#include "grade.h"
#include "store.h"

#define JUDGE_KEY_ENV "IPW_JUDGE_API_KEY"

/* Prompt versions, recorded in each score's settings: a new wording gets a new id. */
#define JUDGE_REFERENCE_PROMPT_ID "ipw-reference-v1"
#define JUDGE_PAIRWISE_PROMPT_ID "ipw-pairwise-v1"

/* judge_ask() results besides 0 */
#define JUDGE_UNPARSED 1     /* the judge answered, but no verdict could be read (err says why) */
#define JUDGE_EREQUEST (-1)  /* the request failed after its retries (HTTP error, timeout, bad body) */
#define JUDGE_ECONNECT (-2)  /* the endpoint cannot be reached at all */
#define JUDGE_ESTORE (-3)    /* the cache could not be read or written */
#define JUDGE_EAUTH (-4)     /* the endpoint refused the key (HTTP 401/403) */

struct judge_opts {
	const char *url;          /* base URL: "http://host:port", with or without "/v1" */
	const char *model;        /* judge model name */
	const char *key_env;      /* variable holding the key; NULL = IPW_JUDGE_API_KEY */
	double timeout_s;         /* per request (default 300) */
	int max_attempts;         /* 1 + retries after 429, 5xx, timeouts, connection failures (default 3) */
	double backoff_s;         /* first retry delay, doubled each time (default 1; Retry-After honoured) */
	int max_tokens;           /* <= 0: not sent (default) */
};

void judge_opts_init(struct judge_opts *o);

struct judge {
	char *chat_url;           /* {base}/v1/chat/completions, for messages */
	char *model;              /* owned */
	struct judge_opts o;
	struct store *st;         /* the cache; NULL = none */
	struct client *client;    /* the OpenAI API, key from o.key_env (never printed, never stored) */
	struct retry_policy retry;
	long n_requests;          /* HTTP requests sent (retries included) */
	long n_cached;            /* judgements answered from the cache */
};

/*
 * Sets up a judge (no request is sent). st may be NULL (no cache). The key
 * is read from the variable o->key_env names (unset or empty: no key).
 * Returns 0, or -1 with err (no URL, no model).
 */
int judge_init(struct judge *j, const struct judge_opts *o, struct store *st, char *err, size_t errlen);
void judge_release(struct judge *j);

/*
 * Parses a judge reply into a verdict written to verdict (at most n bytes).
 * Returns 0, or -1 with the reason in verdict.
 */
typedef int (*judge_parse_fn)(const char *reply, char *verdict, size_t n);

/*
 * One judgement: the prompt is system + "\n\n" + user. A cached verdict for
 * (SHA-256 of the prompt, model) is returned without a request (*cached = 1);
 * else the judge is asked, and a reply that parses is cached. Returns 0 with
 * verdict set, JUDGE_UNPARSED (reply not cached; err says why), or
 * JUDGE_EREQUEST / JUDGE_ECONNECT / JUDGE_EAUTH / JUDGE_ESTORE with err set. The key never
 * appears in err.
 */
int judge_ask(struct judge *j, const char *system, const char *user, judge_parse_fn parse,
	      char *verdict, size_t vlen, int *cached, char *err, size_t errlen);

/* ---- the reference judge (src/grade/judge_reference.c) ---- */

extern const char judge_reference_system[];
/* The user message (caller frees). */
char *judge_reference_prompt(const char *question, const char *reference, const char *answer);
/* "TRUE" or "FALSE" from a reply ending in "VERDICT: TRUE|FALSE"; -1 with the reason otherwise. */
int judge_reference_parse(const char *reply, char *verdict, size_t n);
/*
 * Grades answer (thinking removed first) against reference. Fills out with
 * 1/0, or -1 (unscored) when the reply has no verdict or the request failed,
 * with the reason. Returns 0, or JUDGE_ECONNECT / JUDGE_EAUTH / JUDGE_ESTORE
 * (err set) when scoring should stop.
 */
int judge_reference_grade(struct judge *j, const char *question, const char *reference, const char *answer,
			  struct grade_result *out, char *err, size_t errlen);

/* ---- the pairwise judge (src/grade/judge_pairwise.c) ---- */

enum pairwise_rule {
	PAIRWISE_EITHER,  /* correct when the answer wins or ties in either order (the released harness) */
	PAIRWISE_BOTH,    /* correct only when it wins or ties in both orders */
};

int pairwise_rule_parse(const char *s, enum pairwise_rule *r);
const char *pairwise_rule_name(enum pairwise_rule r);

extern const char judge_pairwise_system[];
/* The user message with answer_a in position A (caller frees). */
char *judge_pairwise_prompt(const char *question, const char *answer_a, const char *answer_b);
/*
 * One of "A>>B", "A>B", "A=B", "B>A", "B>>A" from the [[...]] labels of a
 * reply; -1 with the reason when there is none or they conflict.
 */
int judge_pairwise_parse(const char *reply, char *verdict, size_t n);
/*
 * Judges answer against reference twice, the reference first in position A
 * and then in position B; the answer wins or ties a game when the verdict
 * does not favour the reference. rule combines the two games. Fills out as
 * judge_reference_grade does; both verdicts must parse.
 */
int judge_pairwise_grade(struct judge *j, const char *question, const char *reference, const char *answer,
			 enum pairwise_rule rule, struct grade_result *out, char *err, size_t errlen);

#endif
