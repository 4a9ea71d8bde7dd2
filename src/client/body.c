/*
 * client/body.c - what every API's request body shares: the messages array
 * (from a chat_request's messages, or [system?, user] from a prompt) and the
 * caller's extra body fields merged on top.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/api.h"

json_t *api_jstr(const char *s)
{
	json_t *j = json_string(s ? s : "");
	return j ? j : json_string_nocheck(s ? s : "");
}

void chat_request_set_prompt(struct chat_request *req, struct chat_message msgs[2], const char *system,
			     const char *prompt)
{
	size_t n = 0;

	memset(msgs, 0, 2 * sizeof *msgs);
	if (system && *system) {
		msgs[n].role = "system";
		msgs[n++].content = system;
	}
	msgs[n].role = "user";
	msgs[n++].content = prompt;
	req->messages = msgs;
	req->nmessages = n;
}

/* One message as JSON, or NULL with err. */
static json_t *message_json(const struct chat_message *m, size_t i, int flags, char *err, size_t errlen)
{
	json_t *o = json_object(), *tc;
	json_error_t je;

	json_object_set_new(o, "role", api_jstr(m->role && *m->role ? m->role : "user"));
	if (m->content || (flags & API_MSG_OLLAMA))
		json_object_set_new(o, "content", api_jstr(m->content));
	else
		json_object_set_new(o, "content", json_null());
	if (m->name)
		json_object_set_new(o, (flags & API_MSG_OLLAMA) && m->role && !strcmp(m->role, "tool") ? "tool_name"
			: "name", api_jstr(m->name));
	if (m->tool_call_id)
		json_object_set_new(o, "tool_call_id", api_jstr(m->tool_call_id));
	if (m->tool_calls_json) {
		tc = json_loads(m->tool_calls_json, JSON_DECODE_ANY, &je);
		if (!json_is_array(tc)) {
			err_set(err, errlen, "message %zu: tool_calls is not a JSON array (%s): %.60s", i,
				tc ? "another JSON value" : je.text, m->tool_calls_json);
			json_decref(tc);
			json_decref(o);
			return NULL;
		}
		json_object_set_new(o, "tool_calls", tc);
	}
	return o;
}

json_t *api_messages_json(const struct chat_request *req, int flags, char *err, size_t errlen)
{
	struct chat_message one[2];
	const struct chat_message *msgs = req->messages;
	size_t n = req->nmessages, i;
	json_t *arr = json_array(), *m;
	struct chat_request tmp;

	if (!n || !msgs) {
		tmp = *req;
		chat_request_set_prompt(&tmp, one, req->s.system, req->prompt);
		msgs = tmp.messages;
		n = tmp.nmessages;
	}
	for (i = 0; i < n; i++) {
		m = message_json(&msgs[i], i, flags, err, errlen);
		if (!m) {
			json_decref(arr);
			return NULL;
		}
		json_array_append_new(arr, m);
	}
	return arr;
}

int api_body_finish(json_t *o, const struct chat_request *req, struct buf *out, char *err, size_t errlen)
{
	json_error_t je;
	json_t *x = NULL;
	char *txt;
	int rc = -1;

	if (req->extra_body && *req->extra_body) {
		x = json_loads(req->extra_body, JSON_DECODE_ANY, &je);
		if (!json_is_object(x)) {
			err_set(err, errlen, "the extra body is not a JSON object (%s): %.60s",
				x ? "another JSON value" : je.text, req->extra_body);
			goto out;
		}
		json_object_update_recursive(o, x);
	}
	txt = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15));
	buf_appends(out, txt ? txt : "{}");
	free(txt);
	rc = 0;
out:
	json_decref(x);
	json_decref(o);
	return rc;
}
