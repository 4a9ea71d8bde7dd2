/*
 * telemetry/fake.h - what the fake back-end exposes beyond its ops struct:
 * the exact energy of its synthetic profile (or trace), so tests can compare
 * the timelines' answers with the truth. See docs/fake-backend.md.
 */
#ifndef IPW_TELEMETRY_FAKE_H
#define IPW_TELEMETRY_FAKE_H

#include <stddef.h>
#include <stdint.h>

struct backend_instance;

/*
 * The exact energy in joules of fake source number `source` (an index into
 * inst->sources) over [t0_ns, t1_ns] (CLOCK_MONOTONIC): the integral of the
 * profile's power, or for a trace the trace's own account (its cumulative
 * energy column interpolated linearly, else its power column held from line
 * to line). NAN when inst is not a present fake instance, the index is out of
 * range, or the source has neither energy nor power.
 */
double fake_exact_energy_j(const struct backend_instance *inst, int source, int64_t t0_ns, int64_t t1_ns);

/*
 * Checks a --fake-profile spec (trace NULL) or a --fake-trace file (profile
 * NULL) as the back-end would read it: 0, or -1 with the reason in err.
 */
int fake_check_spec(const char *profile, const char *trace, char *err, size_t errlen);

/* The fake back-end's time origin (CLOCK_MONOTONIC ns at probe); -1 if inst is not fake. */
int64_t fake_origin_ns(const struct backend_instance *inst);

#endif
