/*
 * telemetry/cputime.h - the "cputime" back-end's hook for the in-process
 * engine: the engine registers a function returning its CPU seconds so far,
 * and the back-end turns them into an estimated energy counter (CPU seconds x
 * watts per busy core). Not a measurement: runs using it are "estimated".
 */
#ifndef IPW_TELEMETRY_CPUTIME_H
#define IPW_TELEMETRY_CPUTIME_H

/* The default power of one busy core, in watts (docs/engine.md says where it comes from). */
#define CPUTIME_DEFAULT_WATTS_PER_CORE 4.0
/* The backend name that marks an estimated source (and run). */
#define CPUTIME_BACKEND "cputime"

typedef double (*cputime_fn)(void *arg);
/* Registers the in-process engine (one at a time; a second replaces the first). Thread-safe. */
void cputime_register(cputime_fn fn, void *arg);
/* Unregisters it if ARG is the one registered; after return FN is no longer called. */
void cputime_unregister(void *arg);

#endif
