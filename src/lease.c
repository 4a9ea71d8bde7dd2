/*
 * lease.c - a run's lease while its items are sent: taken in the store,
 * renewed every interval by a thread with its own store connection (so a
 * 10-minute query does not let it go stale), released at the end.
 */
#include "lease.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

void lease_init(struct lease *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
}

static double heartbeat_interval(void)
{
	const char *e = getenv("IPW_LEASE_HEARTBEAT_S");
	double v = e ? strtod(e, NULL) : 0;
	return v > 0 && v <= LEASE_STALE_S / 2 ? v : LEASE_HEARTBEAT_S;
}

/* Waits one interval or until asked to stop: 1 to go on, 0 to stop. */
static int wait_interval(struct lease *l)
{
	struct timespec ts;
	int go;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)l->interval_s;
	ts.tv_nsec += (long)((l->interval_s - (double)(time_t)l->interval_s) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&l->mu);
	while (!l->stop && pthread_cond_timedwait(&l->cv, &l->mu, &ts) != ETIMEDOUT)
		;
	go = !l->stop;
	pthread_mutex_unlock(&l->mu);
	return go;
}

static void *heartbeat(void *arg)
{
	struct lease *l = arg;
	struct store st;
	char err[IPW_ERRLEN];
	int open = store_open(&st, l->uri, 0, err, sizeof(err)) == 0;

	while (wait_interval(l)) {
		int rc;
		if (!open && !(open = store_open(&st, l->uri, 0, err, sizeof(err)) == 0))
			continue; /* the store is unreachable now: try again next beat */
		rc = store_lease_renew(&st, l->run_id, l->owner, clock_wall_s(), err, sizeof(err));
		if (rc == STORE_ENOTFOUND) {
			pthread_mutex_lock(&l->mu);
			l->lost = 1;
			snprintf(l->lost_why, sizeof(l->lost_why), "%s", err);
			pthread_mutex_unlock(&l->mu);
			break;
		}
		/* another store error: the next beat tries again (a stale lease needs LEASE_STALE_S of them) */
	}
	if (open)
		store_close(&st);
	return NULL;
}

int lease_take(struct lease *l, struct store *st, const char *uri, const char *run_id, char *note,
	       size_t notelen, char *err, size_t errlen)
{
	char host[256] = "";
	int rc;

	note[0] = 0;
	gethostname(host, sizeof(host) - 1);
	rc = store_lease_acquire(st, run_id, host, (long long)getpid(), clock_wall_s(), LEASE_STALE_S, NULL, err,
				 errlen);
	if (rc < 0)
		return -1;
	if (rc == 1)
		snprintf(note, notelen, "%s", err);
	l->held = 1;
	l->uri = uri ? xstrdup(uri) : NULL;
	l->run_id = xstrdup(run_id);
	l->owner = xasprintf("%s:%lld", host, (long long)getpid());
	l->interval_s = heartbeat_interval();
	if (pthread_create(&l->th, NULL, heartbeat, l) == 0)
		l->started = 1;
	return 0;
}

int lease_lost(struct lease *l, char *why, size_t n)
{
	int lost;
	if (!l->held)
		return 0;
	pthread_mutex_lock(&l->mu);
	lost = l->lost;
	if (lost && why)
		snprintf(why, n, "%s", l->lost_why);
	pthread_mutex_unlock(&l->mu);
	return lost;
}

void lease_drop(struct lease *l, struct store *st)
{
	char err[IPW_ERRLEN];
	if (l->started) {
		pthread_mutex_lock(&l->mu);
		l->stop = 1;
		pthread_cond_signal(&l->cv);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->th, NULL);
		l->started = 0;
	}
	if (l->held && st)
		store_lease_release(st, l->run_id, l->owner, err, sizeof(err));
	l->held = 0;
	free(l->uri);
	free(l->run_id);
	free(l->owner);
	l->uri = l->run_id = l->owner = NULL;
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
}
