/*
 * lease.h - holding a run's lease while sending its items: acquired
 * atomically in the store (store_lease_acquire; owner host:pid), renewed by a
 * heartbeat thread on its own store connection, released at the end. A
 * second sender is refused while the holder lives; a stale lease (no
 * heartbeat for LEASE_STALE_S, or its process gone from this host) is taken
 * over. docs/store.md "Leases".
 */
#ifndef IPW_LEASE_H
#define IPW_LEASE_H

#include <pthread.h>
#include <stddef.h>

#include "store.h"
#include "util.h"

#define LEASE_HEARTBEAT_S 10.0  /* how often the holder renews (IPW_LEASE_HEARTBEAT_S overrides, > 0) */
#define LEASE_STALE_S 60.0      /* a lease without a heartbeat this long may be taken over */

struct lease {
	int held;
	char *uri, *run_id, *owner;
	double interval_s;
	pthread_t th;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	int lost;                  /* the heartbeat found another sender holding it (under mu) */
	char lost_why[IPW_ERRLEN];
};

void lease_init(struct lease *l);
/*
 * Takes the lease on run_id of the open store st (uri: the store as given
 * to store_open, for the heartbeat's own connection) and starts the
 * heartbeat. 0 with note empty, or with note saying whose stale lease was
 * taken over and why; -1 with err (naming the live holder and how old its
 * heartbeat is) when another sender holds it, or on a store error.
 */
int lease_take(struct lease *l, struct store *st, const char *uri, const char *run_id, char *note,
	       size_t notelen, char *err, size_t errlen);
/* 1 when the heartbeat found the lease taken by another sender (why in buf), else 0. */
int lease_lost(struct lease *l, char *why, size_t n);
/* Stops the heartbeat and releases the lease in st (if still ours); then releases l. */
void lease_drop(struct lease *l, struct store *st);

#endif
