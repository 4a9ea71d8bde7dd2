/*
 * test_report.c - the report's power timeline for a counter-only source: a flat
 * 45 W source whose counter steps every 100 ms, read every 20 ms, must come
 * out as 45 W (power over whole counter steps), not as spikes between 0 W
 * (reads within a step) and 225 W (4.5 J over one 20 ms read interval).
 */
#include <criterion/criterion.h>
#include <math.h>

#include "report.h"

Test(report, counter_only_power_is_taken_over_whole_steps)
{
	double ts = NAN, es = NAN;
	int steps = 0, finite = 0;

	for (int i = 0; i < 500; i++) {
		double t = 0.005 + 0.020 * i;                 /* reads at 5, 25, 45 ... ms */
		double e = 45.0 * 0.1 * floor(t / 0.1);       /* the counter: whole 100 ms steps */
		double p = report_counter_power(&ts, &es, t, e); /* evaluated once: the macros repeat it */
		if (i % 5 == 0 && i > 0)
			steps++;
		if (isfinite(p)) {
			finite++;
			cr_assert_float_eq(p, 45.0, 1e-9, "read %d at %.3f s: %.6f W", i, t, p);
		}
	}
	/* one power value per counter step after the first, none from reads within a step */
	cr_assert_eq(finite, steps, "%d power values for %d steps", finite, steps);
}

Test(report, counter_power_needs_two_readings)
{
	double ts = NAN, es = NAN;
	double p;
	cr_assert(isnan(report_counter_power(&ts, &es, 1.0, 10.0)), "one reading gives no power");
	p = report_counter_power(&ts, &es, 2.0, 30.0);
	cr_assert_float_eq(p, 20.0, 1e-12);
}
