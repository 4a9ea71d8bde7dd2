/*
 * helper_golden.h - the golden-file runner shared by the grader tests.
 */
#ifndef IPW_TEST_HELPER_GOLDEN_H
#define IPW_TEST_HELPER_GOLDEN_H

struct grader;

/* Runs every case of tests/data/golden/NAME through g (asserting each); returns the number of cases. */
int run_golden(const char *name, const struct grader *g);

#endif
