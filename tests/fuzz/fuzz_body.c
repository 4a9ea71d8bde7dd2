/*
 * fuzz_body.c - libFuzzer target for the router's two readers of a request
 * body (src/router/server.c): whenever the scanner (body_scan, client/jscan.h)
 * takes a body, jansson (body_json) must take it too and give the decision
 * the same values; neither may crash, leak or read past the text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "router/server_internal.h"

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rreq r;
	struct body_view scan, full;
	json_error_t je;
	int s, f;

	memset(&r, 0, sizeof(r));
	memset(&scan, 0, sizeof(scan));
	memset(&full, 0, sizeof(full));
	buf_init(&r.body, 0);
	buf_append(&r.body, data, size);
	s = body_scan(&r, &scan);
	f = body_json(&r, &full, &je);
	if (s == 0) {
		if (f != 0)
			abort(); /* the scanner took what jansson refuses */
		if (!same(scan.model, full.model) || !same(scan.privacy, full.privacy) ||
		    !same(scan.session, full.session) || !same(scan.item_id, full.item_id) ||
		    !same(scan.text, full.text) || scan.messages_ok != full.messages_ok ||
		    scan.stream != full.stream || scan.chars != full.chars)
			abort();
		for (int k = 0; k < 2; k++)
			if (scan.lim[k].present != full.lim[k].present || scan.lim[k].number != full.lim[k].number ||
			    (scan.lim[k].number && scan.lim[k].ms != full.lim[k].ms))
				abort();
	}
	body_view_release(&scan);
	body_view_release(&full);
	json_decref(r.req);
	buf_release(&r.body);
	return 0;
}
