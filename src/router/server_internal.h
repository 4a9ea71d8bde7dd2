/*
 * router/server_internal.h - what the router's server files share: the
 * server's state, one routed request (struct rreq) and its life on the loop
 * (router/proxy.c), the metrics text and the store accounting (router/acct.c).
 * The server runs several loops (struct rloop), each on its own thread with
 * its own libmicrohttpd daemon on the shared listening socket and its own
 * libcurl multi: a request lives on the loop that accepted its connection and
 * only that thread touches it. What the loops share (the tiers' counters,
 * sessions, budgets, the records ring, the pending list) is behind s->mu.
 */
#ifndef IPW_ROUTER_SERVER_INTERNAL_H
#define IPW_ROUTER_SERVER_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "clock.h"
#include "router/meter.h"
#include "router/router.h"
#include "util.h"

#define SESSION_ID_MAX 256
#define RECORD_SLOTS 1024
#define MAX_ATTEMPTS 8

struct hist {
	unsigned long long bucket[ROUTER_HIST_BUCKETS]; /* cumulative: count of values <= bound */
	unsigned long long count;
	double sum;
};
void hist_add(struct hist *h, double v);

struct tier_stats {
	int inflight;
	double ttft_ewma_s, e2e_ewma_s;     /* NAN until one finished */
	unsigned long long requests, ok, failed, retried, cancelled;
	unsigned long long prompt_tokens, completion_tokens;
	double energy_j;                    /* estimated (J/token of the profile run) */
	unsigned long long energy_n;        /* requests whose energy is in energy_j */
	double energy_meas_j;               /* measured (telemetry, concurrent rule): accelerators, gross */
	unsigned long long energy_meas_n;
	double cost_usd;
	struct hist ttft, e2e;
};

/* The budget slot of a client key (create: a free or expired slot for a new key); NULL when none. */
struct budget_slot *budget_find(struct router_server *s, const char *key, int create);

struct budget_slot {
	char key[64];
	double window_start, spent;
};

enum rstate { RS_RECEIVING, RS_UPSTREAM, RS_ANSWERED };

/*
 * Work a loop puts off while its sockets have something ready, so that a
 * burst of new requests is dispatched upstream first (router/proxy.c
 * "deferred work"): a stream's closing comment and [DONE] once its upstream
 * sent [DONE], and the accounting of a request whose reply has ended. It
 * runs in slices of DEFER_SLICE_NS a loop turn: when the turn found nothing
 * ready, or while the oldest item has waited DEFER_MAX_NS.
 */
enum rdefer { DEFER_NONE, DEFER_DONE, DEFER_FINISH };
#define DEFER_MAX_NS (2 * NS_PER_MS)
#define DEFER_SLICE_NS (100 * NS_PER_MS / 1000)
#define EASY_KEEP 256

/* One attempt at one tier. */
struct attempt {
	int tier;
	long status;                        /* HTTP status (0: none) */
	int curl_rc;
	double t_send_s, t_first_s, t_end_s; /* seconds on the monotonic clock */
	long long prompt_tokens, completion_tokens; /* -1: not reported */
	double energy_j, cost_usd;          /* NAN: unknown (energy_j: the estimate; measured tiers: NAN) */
	struct meter_win *win;              /* the measured window (NULL: the tier is not measured) */
	char outcome[24];                   /* ok, http_429, http_500, connect, reset, rejected, cancelled */
};

struct rloop;

struct rreq {
	struct rreq *next, *prev;           /* its loop's active list */
	struct router_server *srv;
	struct rloop *lp;                   /* the loop that owns it */
	struct MHD_Connection *con;
	char id[24];
	enum rstate state;
	struct buf body;                    /* the client's upload */
	int too_big;
	json_t *req;                        /* the parsed body, "ipw" removed */
	char *policy_name, *text, *session, *item_id;
	int stream, local_only;
	char budget_key[64];                /* the client key its budget is kept under ("": no budget) */
	int budget_full;                    /* the budget table had no slot for this client: cloud refused */
	const char *refused;                /* refused before any attempt: no_tier, budget, sessions_full (NULL: not) */
	unsigned refused_status;            /* its HTTP status */
	struct router_decision d;
	int pos;                            /* next index into d.order */
	int tries;                          /* attempts at d.order[pos - 1] */
	struct attempt att[MAX_ATTEMPTS];
	int natt;
	/* the current upstream */
	CURL *easy;
	struct curl_slist *hdrs;
	char *up_body;
	int hold;                           /* cascade first stage: keep the bytes until verified */
	int committed;                      /* the client's response is queued */
	int suspended, paused;
	int up_done, done_seen, failed_all, gone;
	struct buf line;                    /* a partial SSE line from upstream */
	char *scratch;                      /* the upstream events' fast-path scratch and template (client/jscan.h) */
	size_t scratch_cap;
	struct buf out;                     /* bytes the client has not read */
	struct buf held;                    /* cascade: the first stage's bytes */
	struct buf kept;                    /* cascade: a rejected first answer, kept until the escalation answers */
	int kept_att;                       /* its attempt (-1: none kept) */
	int ans_att;                        /* the attempt that answers when not the last (-1: the last) */
	struct buf whole;                   /* non-streamed reply, or an error body */
	struct buf answer;                  /* the answer text (streamed deltas or the whole reply) */
	double lp_sum, lp_min;              /* the current attempt's token log-probabilities (nats) */
	long lp_n;
	char lp_check[96];                  /* the cascade's log-probability check ("" when not configured) */
	char errmsg[IPW_ERRLEN];
	double t_recv_s;
	int counted;                        /* its decision (or refusal) is in the counters */
	enum rdefer defer;                  /* what waits for the loop (DEFER_NONE: nothing) */
	struct rreq *dnext, *dprev;         /* the loop's deferred list */
	int64_t defer_ns;                   /* when it was deferred */
	int up_finished;                    /* DEFER_DONE: the upstream transfer has ended too */
	int pub_slot;                       /* the records ring slot its record was published in (-1: none) */
	json_t *pub_rec;                    /* the published record, and what it was built from: */
	char pub_outcome[24];               /* rreq_finish reuses it when none of that changed since */
	int pub_natt, pub_ans_att;
	size_t pub_reason_len;
	struct attempt pub_att[MAX_ATTEMPTS];
};

struct router_acct;

/* A finished request whose record waits for its measured windows (every one passes through here). */
struct pending {
	struct pending *next;
	json_t *rec;                        /* shared with the records ring: completed in place */
	char *id, *text, *answer;
	size_t answer_len;
	double t_recv_s, t_first_s, t_end_s;
	long http_status;
	int natt, tiers[MAX_ATTEMPTS];
	struct meter_win *wins[MAX_ATTEMPTS];
	int measured;                       /* some attempt has a window (counted in npending) */
	/* filled when complete: measured per-source energy summed over the attempts (NULL: none) */
	double *gross, *dyn;
};

/* A connection accepted by loop 0 for another loop, waiting in that loop's queue. */
struct inconn {
	int fd;
	struct sockaddr_in addr;
	socklen_t addrlen;
};

/*
 * One event loop: its thread, daemon, multi and epoll set, and the requests
 * on its connections. Loop 0 accepts every connection and gives it to the
 * loop with the fewest (itself included), which serves all its requests.
 */
struct rloop {
	struct router_server *srv;
	int idx;                            /* 0: the loop of the thread that called router_server_run */
	struct MHD_Daemon *d;
	CURLM *multi;
	int epoll_fd, kick, stopping;
	int ep;                             /* the loop's epoll set: MHD's epoll fd and libcurl's sockets (-1: none) */
	int64_t curl_due_ns;                /* libcurl's timer (CURLMOPT_TIMERFUNCTION); -1 none */
	int64_t last_hup_check_ns;
	struct rreq *active;
	int nactive, nsuspended;
	unsigned long long nrequests;       /* chat requests it accepted (atomic: /metrics reads it on any loop) */
	struct rreq *dhead, *dtail;         /* deferred work, oldest first */
	CURL *free_easy[EASY_KEEP];         /* reset easy handles for the next attempts */
	int nfree_easy;
	int nconns;                         /* client connections it serves or has queued (atomic) */
	int wake_fd;                        /* eventfd: connections wait in inq (-1: none) */
	pthread_mutex_t qmu;                /* guards inq */
	struct inconn *inq;
	int ninq, capinq;
	pthread_t th;
	int started;                        /* th runs */
};

struct router_server {
	struct router_config *c;
	struct learn_router *lr;
	int port, listen_fd;
	int accept_off;                     /* loop 0 stopped watching listen_fd (out of descriptors) */
	int64_t accept_retry_ns;            /* when it watches it again */
	unsigned rr;                        /* where the search for the least loaded loop starts */
	char **tokens;                      /* client bearer tokens (NULL: open) */
	char *model_json[ROUTER_MAX_TIERS]; /* each tier's model as a JSON string, for the upstream body */
	struct rloop *loops;
	int nloops;
	volatile sig_atomic_t *stop;        /* router_server_run's flag */
	unsigned long long next_id;         /* atomic */
	/* everything below is shared by the loops: taken under mu */
	pthread_mutex_t mu;
	struct tier_stats tier_stats[ROUTER_MAX_TIERS];
	unsigned long long decisions[4][ROUTER_MAX_TIERS]; /* policy x first tier */
	unsigned long long refusals[4][3];  /* policy x refusal before any attempt (no_tier, budget, sessions_full) */
	unsigned long long rejected, unauthorised, no_tier, cancelled;
	char **sessions;                    /* the local-only session ids: an open-addressing hash set, */
	size_t sessions_cap, nsessions;     /* never evicted; at most c->max_private_sessions (fails closed) */
	struct budget_slot *budgets;        /* c->budget.max_clients slots (NULL: no budget) */
	json_t *records[RECORD_SLOTS];      /* the last finished requests, for /v1/ipw/requests/ID */
	int record_next;
	struct router_acct *acct;
	struct router_meter *meter;         /* NULL: no tier measured */
	struct pending *pending;            /* finished requests waiting for measured energy (or the tick), */
	struct pending **pending_tail;      /* in the order they finished (NULL: empty) */
	int npending;                       /* of them, those with a measured attempt */
};

/*
 * What the decision reads from the body (router/server.c): the policy
 * (model), stream, the text the policies read (the last user message's
 * content, or its last text part) and every message's content length, and the
 * body extension "ipw" (never forwarded). Strings are owned (NULL: absent or
 * not a string).
 */
struct body_view {
	char *model, *privacy, *session, *item_id, *text;
	int messages_ok, stream;            /* messages is an array; stream is true */
	size_t chars;
	struct {
		int present, number;
		double ms;
	} lim[2];                           /* ipw.max_ttft_ms, ipw.max_e2e_ms */
};
/* By the client's scanner (client/jscan.h), in place: the same values as body_json for what it reads;
   -1 (nothing kept) for text outside its subset or a key these read given twice. */
int body_scan(const struct rreq *r, struct body_view *v);
/* By jansson (r->req parsed, "ipw" removed); -1 with je when the body is not a JSON object. */
int body_json(struct rreq *r, struct body_view *v, json_error_t *je);
void body_view_release(struct body_view *v);

/* router/proxy.c */
struct rreq *rreq_new(struct rloop *lp, struct MHD_Connection *con);
/* Starts the next attempt (retry or next tier); 0, or -1 with r->errmsg when none is left. */
int rreq_start_next(struct router_server *s, struct rreq *r);
void rreq_upstream_done(struct router_server *s, struct rreq *r, CURLcode rc);
enum MHD_Result rreq_respond(struct router_server *s, struct rreq *r);
void rreq_add_headers(struct rreq *r, struct MHD_Response *resp);
/* The client's request ended (gone: before its reply was complete): cancel, account, free. */
void rreq_finish(struct router_server *s, struct rreq *r, int gone);
/* The reply ended (normally): its accounting waits for the loop (deferred work). */
void rreq_completed(struct router_server *s, struct rreq *r);
/* Runs the deferred work that is due, oldest first, for at most DEFER_SLICE_NS (at least one item):
   when idle (nothing was ready this turn), or while the oldest has waited DEFER_MAX_NS; all of it when all. */
void rreq_defer_due(struct rloop *lp, int idle, int all);
/* The client hung up while its request waited: cancel the upstream, end the reply. */
void rreq_client_gone(struct router_server *s, struct rreq *r);
void rreq_cancel_all(struct rloop *lp);
void rreq_free_orphans(struct rloop *lp);
/* The request's record is in the records ring and its decision counted, before the client can see its
   reply end (a lookup or /metrics right after it sees them); takes rec's reference. Not under s->mu. */
void rreq_publish(struct router_server *s, struct rreq *r, json_t *rec, const char *outcome);
/* Its record with the given outcome (owned by the caller). */
json_t *rreq_record(struct router_server *s, const struct rreq *r, const char *outcome);
/* Completes the finished requests whose measured energy is in (all of them when final) and stores them;
   on loop 0's tick and at close. Not under s->mu. */
void pending_poll(struct router_server *s, int final);
/* The Prometheus text of /metrics (caller frees). */
char *router_metrics_text(struct router_server *s);

/* router/acct.c: the router run in the store */
int router_acct_open(struct router_acct **out, const char *uri, const struct router_config *c, const char *config_path,
		     char *err, size_t errlen);
const char *router_acct_run_id(const struct router_acct *a);
/* Records one finished request (its JSON record, see docs/router.md); 0 or -1 (err). */
int router_acct_add(struct router_acct *a, const struct pending *p, char *err, size_t errlen);
/* The run's sources from the meter's telemetry (so per-source energy rows name them). */
void router_acct_set_meter(struct router_acct *a, struct router_meter *mt);
void router_acct_close(struct router_acct *a);

#endif
