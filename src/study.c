/*
 * study.c - the study queue's back-end-independent part: dispatch to the
 * store's study ops, the one "needs PostgreSQL" message, --config specs and
 * lease tokens. The queue's SQL lives in the back-end (src/store/postgres.c).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "clock.h"
#include "study.h"
#include "util.h"

void study_config_release(struct study_config *c)
{
	free(c->name);
	free(c->model);
	free(c->server);
	free(c->accelerator);
	free(c->options_json);
	memset(c, 0, sizeof(*c));
}

void study_release(struct study *st)
{
	free(st->id);
	free(st->name);
	free(st->dataset_path);
	free(st->dataset_sha256);
	free(st->dataset_format);
	for (int i = 0; i < st->nconfigs; i++)
		study_config_release(&st->configs[i]);
	free(st->configs);
	memset(st, 0, sizeof(*st));
}

int study_supported(struct store *s, char *err, size_t errlen)
{
	if (s->ops->study)
		return 0;
	return err_set(err, errlen, "store '%s' is a %s store: the study queue (study, worker) needs a PostgreSQL "
		       "store that every worker reaches (--store postgresql://HOST/DB; docs/fleet.md); merge "
		       "offline runs into it with ipw merge", s->path, s->ops->name);
}

#define NEEDS(s, err, errlen) do { if (study_supported(s, err, errlen) < 0) return -1; } while (0)

int study_create(struct store *s, struct study *st, char *const *item_ids, size_t n, char *err, size_t errlen)
{
	NEEDS(s, err, errlen);
	return s->ops->study->create(s, st, item_ids, n, err, errlen);
}

int study_get(struct store *s, const char *name, struct study *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	NEEDS(s, err, errlen);
	return s->ops->study->get(s, name, out, err, errlen);
}

int study_claim(struct store *s, const char *study_id, const char *config, const struct study_lease *l, int max,
		char ***ids, size_t *n, long long *left, char *err, size_t errlen)
{
	*ids = NULL;
	*n = 0;
	*left = 0;
	NEEDS(s, err, errlen);
	return s->ops->study->claim(s, study_id, config, l, max, ids, n, left, err, errlen);
}

int study_renew(struct store *s, const char *study_id, const struct study_lease *l, char *err, size_t errlen)
{
	NEEDS(s, err, errlen);
	return s->ops->study->renew(s, study_id, l, err, errlen);
}

int study_release_lease(struct store *s, const char *study_id, const struct study_lease *l, char *err,
			size_t errlen)
{
	NEEDS(s, err, errlen);
	return s->ops->study->release(s, study_id, l, err, errlen);
}

int study_commit(struct store *s, const char *study_id, const char *config, const struct study_lease *l,
		 const struct study_where *w, const char *run_id, const struct query_record *q,
		 char *err, size_t errlen)
{
	NEEDS(s, err, errlen);
	return s->ops->study->commit(s, study_id, config, l, w, run_id, q, err, errlen);
}

int study_commit_batch(struct store *s, const char *study_id, const char *config, const struct study_lease *l,
		       const struct study_where *w, const char *run_id, struct study_result *res, size_t n,
		       char *err, size_t errlen)
{
	NEEDS(s, err, errlen);
	if (s->ops->study->commit_batch)
		return s->ops->study->commit_batch(s, study_id, config, l, w, run_id, res, n, err, errlen);
	for (size_t i = 0; i < n; i++) {
		int rc = s->ops->study->commit(s, study_id, config, l, w, run_id, res[i].q, err, errlen);
		if (rc < 0 && rc != STUDY_ELOST)
			return -1;
		res[i].status = rc;
		if (rc == 0 && res[i].score && store_score_add(s, run_id, res[i].score, err, errlen) < 0)
			return -1;
	}
	return 0;
}

int study_status(struct store *s, const char *study_id,
		 int (*cb)(const struct study_status_row *r, void *ctx), void *ctx, char *err, size_t errlen)
{
	NEEDS(s, err, errlen);
	return s->ops->study->status(s, study_id, cb, ctx, err, errlen);
}

int study_server_clock(struct store *s, double *wall_s, char *err, size_t errlen)
{
	NEEDS(s, err, errlen);
	return s->ops->study->server_clock(s, wall_s, err, errlen);
}

/* Labels a config spec may set before its profile options. */
static int take_label(struct study_config *c, const char *w)
{
	static const char *const keys[] = {"model=", "server=", "accelerator="};
	char **slots[] = {&c->model, &c->server, &c->accelerator};
	for (size_t i = 0; i < 3; i++)
		if (!strncmp(w, keys[i], strlen(keys[i]))) {
			free(*slots[i]);
			*slots[i] = xstrdup(w + strlen(keys[i]));
			return 1;
		}
	return 0;
}

int study_config_parse(const char *spec, struct study_config *out, char *err, size_t errlen)
{
	char *copy = xstrdup(spec), *save = NULL, *w;
	json_t *opts = json_array();
	int rc = -1, labels = 1;

	memset(out, 0, sizeof(*out));
	for (w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (!out->name) {
			if (w[0] == '-' || strchr(w, '=') || strchr(w, '/')) {
				err_set(err, errlen, "--config '%s': it starts with the config's name (letters, "
					"digits, '-', '_', '.'), then model=M server=S accelerator=A and profile "
					"options", spec);
				goto out;
			}
			out->name = xstrdup(w);
			continue;
		}
		if (labels && take_label(out, w))
			continue;
		labels = 0;
		json_array_append_new(opts, json_string(w));
	}
	if (!out->name) {
		err_set(err, errlen, "--config '%s': no config name", spec);
		goto out;
	}
	out->options_json = json_dumps(opts, JSON_COMPACT);
	rc = 0;
out:
	if (rc < 0)
		study_config_release(out);
	json_decref(opts);
	free(copy);
	return rc;
}

void study_lease_token(struct study_lease *l)
{
	unsigned char b[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ssize_t got = fd >= 0 ? read(fd, b, sizeof(b)) : -1;

	if (fd >= 0)
		close(fd);
	if (got != (ssize_t)sizeof(b)) {
		/* no /dev/urandom: the owner, the clock and the pid still make the token unique enough */
		unsigned long long v = (unsigned long long)clock_now_ns() ^ ((unsigned long long)getpid() << 32);
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)(v >> ((i % 8) * 8)) ^ (unsigned char)i;
	}
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(l->token + 2 * i, 3, "%02x", b[i]);
}
