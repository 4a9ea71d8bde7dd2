/*
 * serve.c - the --serve child: port check, fork/exec in its own process
 * group with output to a log, a guard process that stops the group should
 * ipw end without stopping it, health wait, clean stop. Library code: never
 * prints; reasons go to the caller's error buffer.
 */
#include "serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "util.h"

/* The process group of the child started last, for serve_signal_stop (0 = none). */
static volatile sig_atomic_t active_pgid;

void serve_init(struct serve *s)
{
	memset(s, 0, sizeof(*s));
}

void serve_signal_stop(void)
{
	pid_t pg = (pid_t)active_pgid;
	if (pg > 0)
		kill(-pg, SIGTERM);
}

/* The guard's life (a forked child; async-signal-safe calls only): wait for the pipe to close, then stop pg. */
static void guard_main(int fd, pid_t pg)
{
	char c;
	ssize_t n;
	struct timespec step = {0, 50 * 1000 * 1000};

	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 3; i < 1024; i++)
		if (i != fd)
			close(i);
	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		_exit(0); /* dismissed: ipw stopped the server itself */
	if (kill(-pg, SIGTERM) < 0)
		_exit(0);
	for (int i = 0; i < SERVE_GUARD_GRACE_S * 20 && kill(-pg, 0) == 0; i++)
		nanosleep(&step, NULL);
	kill(-pg, SIGKILL);
	_exit(0);
}

/* Starts the guard of group pg; 0 or -1 (err). */
static int guard_start(struct serve *s, pid_t pg, char *err, size_t errlen)
{
	int p[2];
	pid_t g;

	if (pipe2(p, O_CLOEXEC) < 0)
		return err_set(err, errlen, "cannot start the server's guard (pipe: %s)", strerror(errno));
	g = fork();
	if (g < 0) {
		close(p[0]);
		close(p[1]);
		return err_set(err, errlen, "cannot start the server's guard (fork: %s)", strerror(errno));
	}
	if (g == 0) {
		close(p[1]);
		guard_main(p[0], pg);
	}
	close(p[0]);
	s->guard = g;
	s->guard_fd = p[1];
	return 0;
}

/* Tells the guard the server is stopped and reaps it. */
static void guard_dismiss(struct serve *s)
{
	if (s->guard <= 0)
		return;
	if (write(s->guard_fd, "q", 1) < 0) {
		/* the guard is gone already */
	}
	close(s->guard_fd);
	while (waitpid(s->guard, NULL, 0) < 0 && errno == EINTR)
		;
	s->guard = 0;
}

/* Host and port of an http(s) URL; 0 or -1. */
static int url_host_port(const char *url, char *host, size_t hn, int *port)
{
	const char *p = strstr(url, "://"), *end, *colon;
	int https = !strncmp(url, "https", 5);
	p = p ? p + 3 : url;
	end = p + strcspn(p, "/");
	colon = memchr(p, ':', (size_t)(end - p));
	if (*p == '[')
		return -1; /* IPv6 literals: not supported for --serve */
	if ((size_t)((colon ? colon : end) - p) >= hn || (colon ? colon : end) == p)
		return -1;
	memcpy(host, p, (size_t)((colon ? colon : end) - p));
	host[(colon ? colon : end) - p] = 0;
	*port = colon ? atoi(colon + 1) : https ? 443 : 80;
	return *port > 0 && *port < 65536 ? 0 : -1;
}

int serve_port_free(const char *url, char *err, size_t errlen)
{
	char host[256], ps[16];
	int port, rc = 0;
	struct addrinfo hints, *ai = NULL;
	if (url_host_port(url, host, sizeof(host), &port) < 0)
		return err_set(err, errlen, "--serve needs --url http://HOST:PORT naming where the server will "
			       "listen (got '%s')", url);
	snprintf(ps, sizeof(ps), "%d", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, ps, &hints, &ai) != 0 || !ai)
		return err_set(err, errlen, "--serve: cannot resolve host '%s' of --url %s", host, url);
	for (struct addrinfo *a = ai; a && !rc; a = a->ai_next) {
		int fd = socket(a->ai_family, SOCK_STREAM, 0);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			rc = err_set(err, errlen, "port %d on %s is already in use (something answers there): "
				     "stop that server or give --url another port, so that ipw measures the one "
				     "it starts", port, host);
		close(fd);
		if (rc)
			break;
		/* bound but not listening yet (a server still starting) counts as busy too */
		fd = socket(a->ai_family, SOCK_STREAM, 0);
		if (fd < 0)
			continue;
		{
			int one = 1; /* a TIME_WAIT left by an earlier server is not "busy" */
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		}
		if (bind(fd, a->ai_addr, a->ai_addrlen) < 0 && errno == EADDRINUSE)
			rc = err_set(err, errlen, "port %d on %s is already bound by another process: stop it or "
				     "give --url another port", port, host);
		close(fd);
	}
	freeaddrinfo(ai);
	return rc;
}

int serve_start(struct serve *s, const char *cmd, const char *log_path, char *err, size_t errlen)
{
	int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	pid_t pid;
	if (fd < 0)
		return err_set(err, errlen, "cannot open the server log %s: %s", log_path, strerror(errno));
	pid = fork();
	if (pid < 0) {
		close(fd);
		return err_set(err, errlen, "cannot start the server (fork: %s)", strerror(errno));
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		setpgid(0, 0);
		if (nul >= 0)
			dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid); /* also from here, so the group exists whoever runs first */
	close(fd);
	s->pid = pid;
	s->exited = 0;
	active_pgid = pid;
	if (guard_start(s, pid, err, errlen) < 0) {
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		s->pid = 0;
		active_pgid = 0;
		return -1;
	}
	free(s->log_path);
	s->log_path = xstrdup(log_path);
	return 0;
}

int serve_alive(struct serve *s)
{
	int st;
	if (!s->pid || s->exited)
		return 0;
	if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
		s->exited = 1;
		s->status = st;
		return 0;
	}
	return 1;
}

void serve_describe_exit(const struct serve *s, char *out, size_t n)
{
	if (!s->exited)
		snprintf(out, n, "is running");
	else if (WIFEXITED(s->status))
		snprintf(out, n, "exited with status %d", WEXITSTATUS(s->status));
	else if (WIFSIGNALED(s->status))
		snprintf(out, n, "was killed by signal %d", WTERMSIG(s->status));
	else
		snprintf(out, n, "ended");
}

/* The log's last few lines, on one line, for an error message. */
static void log_tail(const char *path, char *out, size_t n)
{
	char *text = NULL, e[64];
	size_t len = 0;
	out[0] = 0;
	if (!path || read_file(path, &text, &len, e, sizeof(e)) < 0)
		return;
	{
		size_t start = len > 300 ? len - 300 : 0, k = 0;
		for (size_t i = start; i < len && k + 1 < n; i++)
			out[k++] = text[i] == '\n' ? '|' : text[i];
		out[k] = 0;
	}
	free(text);
}

int serve_wait_healthy(struct serve *s, const char *url, const char *api, double timeout_s,
		       volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	int64_t deadline = clock_now_ns() + (int64_t)(timeout_s * 1e9);
	char last[IPW_ERRLEN] = "no answer yet";
	struct client *c = client_new(url, api && *api && strcmp(api, "auto") ? api : "openai", err, errlen);
	int rc = -1;
	if (!c)
		return -1;
	for (;;) {
		char e[IPW_ERRLEN];
		if (!serve_alive(s)) {
			char how[64], tail[320];
			serve_describe_exit(s, how, sizeof(how));
			log_tail(s->log_path, tail, sizeof(tail));
			err_set(err, errlen, "the server %s before it became healthy (its log %s ends: %s)", how,
				s->log_path, tail[0] ? tail : "(empty)");
			break;
		}
		if (client_health(c, e, sizeof(e)) == 0) {
			rc = 0;
			break;
		}
		snprintf(last, sizeof(last), "%s", e);
		if (stop && *stop) {
			err_set(err, errlen, "interrupted while waiting for the server to become healthy");
			break;
		}
		if (clock_now_ns() > deadline) {
			err_set(err, errlen, "the server did not become healthy at %s within %.0f s (last: %s); "
				"its log is %s (raise --serve-timeout if it loads slowly)", url, timeout_s, last,
				s->log_path);
			break;
		}
		clock_sleep_ns(200 * NS_PER_MS);
	}
	client_free(c);
	return rc;
}

void serve_stop(struct serve *s, double grace_s)
{
	int64_t deadline;
	if (!s->pid || !serve_alive(s)) {
		/* the group may still hold children of a shell that exited */
		if (s->pid)
			kill(-s->pid, SIGKILL);
		guard_dismiss(s);
		return;
	}
	kill(-s->pid, SIGTERM);
	deadline = clock_now_ns() + (int64_t)(grace_s * 1e9);
	while (serve_alive(s) && clock_now_ns() < deadline)
		clock_sleep_ns(50 * NS_PER_MS);
	if (serve_alive(s)) {
		kill(-s->pid, SIGKILL);
		while (serve_alive(s))
			clock_sleep_ns(10 * NS_PER_MS);
	} else {
		kill(-s->pid, SIGKILL); /* stragglers of the group, if any */
	}
	guard_dismiss(s);
	if (active_pgid == s->pid)
		active_pgid = 0;
}

void serve_release(struct serve *s)
{
	guard_dismiss(s);
	free(s->log_path);
	memset(s, 0, sizeof(*s));
}
