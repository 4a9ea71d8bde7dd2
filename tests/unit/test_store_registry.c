/*
 * test_store_registry.c - choosing a store back-end by URI scheme: plain
 * paths, sqlite: and file: go to SQLite, schemes compare without case,
 * postgresql:/postgres: go to PostgreSQL (no password in the message), an unknown scheme
 * lists the known ones (and never prints the rest of the URI), IPW_STORE.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/ipw-test-storereg-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	unsetenv("IPW_STORE");
}

static void teardown(void)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

TestSuite(store_registry, .init = setup, .fini = teardown, .timeout = 30);

Test(store_registry, schemes_and_plain_paths_choose_the_back_end)
{
	const char *sqlite_uris[] = {"ipw.db", "/tmp/x.db", "./a:b.db", "dir/a:b", "sqlite:x.db", "SQLITE:x",
				     "file:x.db", "File:///tmp/x.db", "x", ".hidden:db", "1a:b"};
	char err[IPW_ERRLEN];

	for (size_t i = 0; i < sizeof(sqlite_uris) / sizeof(sqlite_uris[0]); i++) {
		const struct store_backend *b = store_backend_for(sqlite_uris[i], err, sizeof(err));
		cr_assert_not_null(b, "%s: %s", sqlite_uris[i], err);
		cr_assert_eq(b, &store_sqlite, "%s", sqlite_uris[i]);
	}
}

Test(store_registry, postgres_uris_go_to_postgres_and_no_password_in_the_message)
{
	/* port 1 on loopback: nothing listens there, the connection is refused at once */
	const char *uris[] = {"postgresql://u:hunter2@127.0.0.1:1/ipw", "postgres://u:hunter2@127.0.0.1:1/ipw",
			      "PostgreSQL://u:hunter2@127.0.0.1:1/db?password=hunter2"};
	char err[IPW_ERRLEN];
	struct store st;

	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		cr_assert_eq(store_backend_for(uris[i], err, sizeof(err)), &store_postgres, "%s", uris[i]);
		cr_assert_eq(store_open(&st, uris[i], STORE_CREATE, err, sizeof(err)), -1);
		cr_assert(strstr(err, "cannot connect to PostgreSQL"), "%s", err);
		cr_assert_null(strstr(err, "hunter2"), "the password was printed: %s", err);
		cr_assert_null(st.ops);
		store_close(&st);
	}
}

Test(store_registry, unknown_scheme_lists_the_known_ones)
{
	char err[IPW_ERRLEN];
	struct store st;

	cr_assert_null(store_backend_for("mysql://u:hunter2@h/db", err, sizeof(err)));
	cr_assert(strstr(err, "unknown store scheme 'mysql'"), "%s", err);
	cr_assert(strstr(err, "sqlite:, file: (sqlite)"), "%s", err);
	cr_assert(strstr(err, "a file path (sqlite)"), "%s", err);
	cr_assert(strstr(err, "./NAME"), "%s", err);
	cr_assert_null(strstr(err, "hunter2"), "%s", err);
	/* a relative path with ':' before any '/' reads as a scheme: nothing is created */
	cr_assert_eq(chdir(dir), 0);
	cr_assert_eq(store_open(&st, "my:file.db", STORE_CREATE, err, sizeof(err)), -1);
	cr_assert(strstr(err, "unknown store scheme 'my'"), "%s", err);
	cr_assert_neq(access("my:file.db", F_OK), 0);
	cr_assert_eq(store_open(&st, "./my:file.db", STORE_CREATE, err, sizeof(err)), 0, "%s", err);
	store_close(&st);
	cr_assert_eq(access("my:file.db", F_OK), 0);
}

Test(store_registry, every_registered_back_end_is_complete)
{
	size_t n = 0, plain = 0;

	for (const struct store_backend *b; (b = store_backend_at(n)); n++) {
		cr_assert(b->name && *b->name);
		cr_assert(b->schemes && b->schemes[0], "%s serves no scheme", b->name);
		plain += b->plain_path ? 1 : 0;
		cr_assert(b->open && b->close && b->run_create && b->run_set_sources && b->run_update &&
			  b->run_get && b->runs_list && b->query_insert && b->query_energy_set && b->queries_iter && b->items_done &&
			  b->samples_append && b->score_add && b->scores_latest && b->score_rows_latest &&
			  b->judgement_get && b->judgement_put && b->items_open && b->items_next &&
			  b->items_close && b->samples_iter, "%s lacks an op", b->name);
		/* each of its schemes leads back to it */
		for (const char *const *s = b->schemes; *s; s++) {
			char uri[64], err[IPW_ERRLEN];
			snprintf(uri, sizeof(uri), "%s:x", *s);
			cr_assert_eq(store_backend_for(uri, err, sizeof(err)), b, "%s", uri);
		}
	}
	cr_assert_geq(n, 1);
	cr_assert_eq(plain, 1, "exactly one back-end serves plain paths");
	cr_assert_eq(store_backend_at(0), &store_sqlite);
}

Test(store_registry, ipw_store_names_the_store_when_none_is_given)
{
	char err[IPW_ERRLEN], path[128];
	struct store st;

	snprintf(path, sizeof(path), "sqlite:%s/env.db", dir);
	setenv("IPW_STORE", path, 1);
	cr_assert_eq(store_open(&st, NULL, STORE_CREATE, err, sizeof(err)), 0, "%s", err);
	store_close(&st);
	snprintf(path, sizeof(path), "%s/env.db", dir);
	cr_assert_eq(access(path, F_OK), 0, "IPW_STORE was not used");
	/* a URI given wins over IPW_STORE; an empty one is an error */
	setenv("IPW_STORE", "mysql://nowhere", 1);
	cr_assert_eq(store_open(&st, path, 0, err, sizeof(err)), 0, "%s", err);
	store_close(&st);
	cr_assert_eq(store_open(&st, NULL, 0, err, sizeof(err)), -1);
	cr_assert(strstr(err, "unknown store scheme"), "%s", err);
	cr_assert_eq(store_open(&st, "", 0, err, sizeof(err)), -1);
	cr_assert(strstr(err, "empty store path"), "%s", err);
	/* an empty IPW_STORE means ./ipw.db */
	setenv("IPW_STORE", "", 1);
	cr_assert_eq(chdir(dir), 0);
	cr_assert_eq(store_open(&st, NULL, STORE_CREATE, err, sizeof(err)), 0, "%s", err);
	store_close(&st);
	cr_assert_eq(access("ipw.db", F_OK), 0);
	unsetenv("IPW_STORE");
}

/* What messages may show of a store URI: never its password. */
Test(store_registry, uri_shown_without_password)
{
	const char *cases[][2] = {
		{"postgresql://u:hunter2@h:5432/db?sslmode=require", "postgresql://u@h:5432/db?sslmode=require"},
		{"postgres://u@h/db?password=hunter2&sslmode=verify-full&sslrootcert=/etc/ca.pem",
		 "postgres://u@h/db?sslmode=verify-full&sslrootcert=/etc/ca.pem"},
		{"postgresql://u:p%40ss@w@h1:1,h2:2/db?passw%6Frd=hunter2", "postgresql://u@h1:1,h2:2/db"},
		{"postgresql:///db?host=/tmp/s&password=x&application_name=a", "postgresql:///db?host=/tmp/s&application_name=a"},
		{"postgresql://h/db?password", "postgresql://h/db"},
		{"/data/ipw.db", "/data/ipw.db"},
		{"sqlite:/a/b:c.db", "sqlite:/a/b:c.db"},
		{"file:///a.db", "file:///a.db"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = store_uri_shown(cases[i][0]);
		cr_assert_str_eq(s, cases[i][1], "%s", cases[i][0]);
		free(s);
	}
}
