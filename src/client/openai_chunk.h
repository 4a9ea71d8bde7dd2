/*
 * client/openai_chunk.h - what ipw reads of one OpenAI streaming chunk (the
 * JSON of a chat.completion.chunk event) on the fast path: in place, without
 * a tree (client/jscan.h), a stream's later chunks against the template of its
 * last whole one. The client's parser (client/openai.c) records from it, and
 * so does the router for its tiers' streams (router/proxy.c). docs/client.md
 * "Fast path".
 */
#ifndef IPW_CLIENT_OPENAI_CHUNK_H
#define IPW_CLIENT_OPENAI_CHUNK_H

#include <stddef.h>

#include "client/jscan.h"

/* What a chunk's delta (or message) carries: s[MSG_CONTENT], ... as the keys content,
   reasoning_content and reasoning. */
enum { MSG_CONTENT, MSG_REASONING_CONTENT, MSG_REASONING, NMSG };
struct oa_msg {
	struct jstr s[NMSG];
	int is_object;
};

/* What ipw records of one chunk, as jansson would have given it. */
struct oa_fields {
	struct jstr model, finish;          /* model; choices[0].finish_reason */
	struct jint server_t, prompt, completion, reasoning;  /* x_server_t_ns; usage's counts */
	int choices_array, c0_object;       /* choices was an array; its first element an object */
	struct oa_msg delta, message;       /* choices[0].delta, choices[0].message */
	/* choices[0].logprobs.content was an array: lp_n numeric logprobs summing to lp_sum */
	int lp_array;
	long long lp_n;
	double lp_sum;
};
_Static_assert(sizeof(struct oa_fields) <= JSCAN_MAX_FIELDS, "a chunk's fields must fit a template (jscan.h)");

/*
 * Reads the chunk data[0..len): against the template in *scratch (grown as
 * needed; one per stream, NULL at first) when every byte but the values
 * repeats, else by a full scan into *buf that becomes the template. Returns
 * the fields (in *scratch or *buf, valid until the next call), or NULL when
 * jansson must read the chunk: an error object, an escape the scanner does not
 * decode, a repeated key, invalid JSON.
 */
const struct oa_fields *oa_chunk_fields(const char *data, size_t len, char **scratch, size_t *scratch_cap,
					struct oa_fields *buf);

#endif
