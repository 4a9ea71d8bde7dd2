/*
 * helper_store_conformance.h - the conformance suite every store back-end
 * passes, run through the store API on a URI the back-end's test provides.
 * A back-end's test file fills a struct store_factory, calls
 * store_conformance_setup/_teardown from its suite's fixtures, and expands
 * STORE_CONFORMANCE_TESTS(suite) once (tests/unit/test_store_sqlite.c).
 */
#ifndef IPW_HELPER_STORE_CONFORMANCE_H
#define IPW_HELPER_STORE_CONFORMANCE_H

#include <stddef.h>

#include <criterion/criterion.h>

/* How the suite reaches one back-end. */
struct store_factory {
	const char *name;
	/*
	 * Writes into uri (n bytes) the URI of a store that does not exist yet
	 * and that no other test uses; store_open with STORE_CREATE creates it.
	 * Called in the test's own process. 0, or -1 with the reason in uri.
	 */
	int (*new_store)(char *uri, size_t n);
	/* Removes what new_store and the test made (NULL: nothing to do). */
	void (*drop_store)(const char *uri);
	/*
	 * Runs one SQL statement on the store beside the API, as another client
	 * would (the schema is the same in every back-end, docs/store.md). 0 if
	 * it ran, -1 if the store refused it. With out non-NULL, the first
	 * column of the first row, an integer, goes there.
	 */
	int (*sql)(const char *uri, const char *sql, long long *out);
	/* The back-end's own consistency check of the whole store: 0 if sound (NULL: none). */
	int (*integrity)(const char *uri);
};

/* Fixtures: setup makes a fresh store URI for the test (and clears API-key variables); teardown drops it. */
void store_conformance_setup(const struct store_factory *f);
void store_conformance_teardown(void);

/* The cases; each uses the URI setup made. */
void sc_run_round_trip_every_field(void);
void sc_query_round_trip_every_field_with_nan_and_minus_one(void);
void sc_query_energy_set_after_insert(void);
void sc_items_done_in_seq_order_and_duplicate_refused(void);
void sc_runs_with_the_same_name_are_both_kept(void);
void sc_writer_killed_with_sigkill_leaves_consistent_store(void);
void sc_samples_append_in_one_batch_with_nulls(void);
void sc_samples_iter_by_source_then_time(void);
void sc_latest_scores_and_score_rows(void);
void sc_judgements_cached_once(void);
void sc_items_cursor_in_byte_order_with_latest_score(void);
void sc_items_cursor_matches_a_reference_on_generated_items(void);
void sc_run_sources_replaced(void);
void sc_unknown_run_is_not_found_everywhere(void);
void sc_open_without_create_fails_and_creates_nothing(void);
void sc_read_only_open_reads_and_never_writes(void);
void sc_reopen_migrates_nothing_and_newer_schema_refused(void);
void sc_refuses_to_store_an_api_key(void);
void sc_resend_supersedes_and_keeps_history(void);
void sc_lease_refuses_a_live_holder_and_takes_over_a_stale_one(void);

#define STORE_CONFORMANCE_CASE(suite, c) Test(suite, c) { sc_##c(); }
/* One Criterion test per case, in the given suite (whose fixtures call setup/teardown). */
#define STORE_CONFORMANCE_TESTS(suite) \
	STORE_CONFORMANCE_CASE(suite, run_round_trip_every_field) \
	STORE_CONFORMANCE_CASE(suite, query_round_trip_every_field_with_nan_and_minus_one) \
	STORE_CONFORMANCE_CASE(suite, query_energy_set_after_insert) \
	STORE_CONFORMANCE_CASE(suite, items_done_in_seq_order_and_duplicate_refused) \
	STORE_CONFORMANCE_CASE(suite, runs_with_the_same_name_are_both_kept) \
	STORE_CONFORMANCE_CASE(suite, writer_killed_with_sigkill_leaves_consistent_store) \
	STORE_CONFORMANCE_CASE(suite, samples_append_in_one_batch_with_nulls) \
	STORE_CONFORMANCE_CASE(suite, samples_iter_by_source_then_time) \
	STORE_CONFORMANCE_CASE(suite, latest_scores_and_score_rows) \
	STORE_CONFORMANCE_CASE(suite, judgements_cached_once) \
	STORE_CONFORMANCE_CASE(suite, items_cursor_in_byte_order_with_latest_score) \
	STORE_CONFORMANCE_CASE(suite, items_cursor_matches_a_reference_on_generated_items) \
	STORE_CONFORMANCE_CASE(suite, run_sources_replaced) \
	STORE_CONFORMANCE_CASE(suite, unknown_run_is_not_found_everywhere) \
	STORE_CONFORMANCE_CASE(suite, open_without_create_fails_and_creates_nothing) \
	STORE_CONFORMANCE_CASE(suite, read_only_open_reads_and_never_writes) \
	STORE_CONFORMANCE_CASE(suite, reopen_migrates_nothing_and_newer_schema_refused) \
	STORE_CONFORMANCE_CASE(suite, refuses_to_store_an_api_key) \
	STORE_CONFORMANCE_CASE(suite, resend_supersedes_and_keeps_history) \
	STORE_CONFORMANCE_CASE(suite, lease_refuses_a_live_holder_and_takes_over_a_stale_one)

#endif
