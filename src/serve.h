/*
 * serve.h - an inference server run as ipw's child (--serve "CMD"): the port
 * checked free first, the command started in its own process group with its
 * output in a log file, health awaited with a timeout, and a clean stop
 * (SIGTERM to the group, a grace period, then SIGKILL). See docs/load.md.
 */
#ifndef IPW_SERVE_H
#define IPW_SERVE_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "client.h"

struct serve {
	pid_t pid;           /* 0 = not started; also the child's process group */
	int exited;          /* the child has been reaped */
	int status;          /* its wait status, when exited */
	char *log_path;
	pid_t guard;         /* the guard process (0 = none), see serve_start */
	int guard_fd;        /* our end of the guard's pipe (valid while guard > 0) */
};

/* How long the guard waits after SIGTERM before it SIGKILLs the group. */
#define SERVE_GUARD_GRACE_S 3

void serve_init(struct serve *s);

/*
 * 0 when nothing answers or is bound on url's port on its host; -1 with a
 * message naming the port otherwise (another server would be measured).
 */
int serve_port_free(const char *url, char *err, size_t errlen);

/*
 * Starts "/bin/sh -c cmd" in its own process group with stdout and stderr
 * appended to log_path, and a small guard process that holds a pipe from
 * ipw: should ipw end without serve_stop (a second Ctrl-C, kill -9, a
 * crash), the guard sees the pipe close and stops the group itself
 * (SIGTERM, SERVE_GUARD_GRACE_S, then SIGKILL), so the child is never left
 * behind. 0 or -1 (err).
 */
int serve_start(struct serve *s, const char *cmd, const char *log_path, char *err, size_t errlen);

/*
 * Waits until the server at url answers client_health, at most timeout_s.
 * api is a registry name; NULL or "auto" means OpenAI (a starting server
 * cannot be detected yet).
 * -1 (err) on timeout, when the child exits first (with the log's last
 * lines), or when *stop is set.
 */
int serve_wait_healthy(struct serve *s, const char *url, const char *api, double timeout_s,
		       volatile sig_atomic_t *stop, char *err, size_t errlen);

/* 1 while the child runs, 0 once it has exited (status kept). */
int serve_alive(struct serve *s);

/* Describes how the child ended ("exited with status 3", "killed by signal 9"). */
void serve_describe_exit(const struct serve *s, char *out, size_t n);

/*
 * For a signal handler about to end the process: SIGTERM to the group of the
 * child started last (the guard finishes the job). Async-signal-safe.
 */
void serve_signal_stop(void);

/* Stops the child: SIGTERM to its group, up to grace_s, then SIGKILL; reaps it; dismisses the guard. */
void serve_stop(struct serve *s, double grace_s);
void serve_release(struct serve *s);

#endif
