/*
 * telemetry/apple.c - Apple Silicon CPU, GPU and Neural Engine energy from
 * powermetrics (run as a child: --format plist, one XML plist per sample,
 * NUL-separated). Each sample's interval energy is summed into a per-rail
 * counter stamped when the sample arrives. See docs/platform-apple.md.
 */
#include "../telemetry_backend.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../clock.h"

extern char **environ;

#define PM_DEFAULT_INTERVAL_MS 100
#define PM_MAX_DOC (8u << 20)    /* one plist document; real ones are 5-50 KiB */
#define PM_MAX_STDERR 2048
#define PM_FIRST_TIMEOUT_MS 5000 /* plus two intervals: how long the probe waits */

enum rail { RAIL_CPU, RAIL_GPU, RAIL_ANE, NRAILS };

static const char *const rail_names[NRAILS] = {"cpu", "gpu", "ane"};

/* What one plist document says; NAN where a key is absent. */
struct pm_doc {
	double elapsed_ns;
	double energy_mj[NRAILS]; /* energy over the interval, mJ */
	double power_mw[NRAILS];  /* mean power over the interval, mW */
	double combined_mw;
	char hw_model[64];
};

struct apple_priv {
	pid_t pid;               /* the child, 0 once reaped */
	int out_fd, err_fd;      /* its stdout and stderr, -1 once closed */
	int wake[2];             /* interrupt() writes here to end a blocking read() */
	int interval_ms;
	struct buf in;           /* stdout bytes not yet parsed */
	struct buf errtxt;       /* the start of its stderr, for messages */
	int src_of[NRAILS];      /* source index of each rail, -1 when the rail is absent */
	double cum_j[NRAILS];    /* energy summed over every document so far */
	double last_w[NRAILS];   /* the latest document's mean power */
	int seen[NRAILS];        /* rail present in the documents of this read() */
	int64_t t_recv;          /* when the latest stdout bytes arrived */
	int64_t t_doc;           /* arrival time of the latest document */
	int exit_status;         /* waitpid status once reaped */
	int eof;
	char err[IPW_ERRLEN];    /* a fatal stream error, repeated by read() */
};

/* ---- a small XML plist scanner: dicts, arrays, keys and scalar values ---- */

#define PL_DEPTH 16

struct pl_scan {
	const char *p, *end;
	/* open containers: 'd' dict or 'a' array, with the key each was opened under */
	char kind[PL_DEPTH];
	char name[PL_DEPTH][40];
	int depth;
	char key[40];
	int have_key;
};

static double pl_number(const char *s, size_t n)
{
	char tmp[64], *e;
	double v;
	if (n == 0 || n >= sizeof(tmp))
		return NAN;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	v = strtod(tmp, &e);
	while (isspace((unsigned char)*e))
		e++;
	return e == tmp || *e ? NAN : v;
}

/* Stores a scalar found at dict path "parent.key" (top-level keys have parent ""). */
static void pl_value(struct pm_doc *d, const char *parent, const char *key, const char *tag,
		     const char *text, size_t n)
{
	double v = (!strcmp(tag, "integer") || !strcmp(tag, "real")) ? pl_number(text, n) : NAN;
	if (!parent[0]) {
		if (!strcmp(key, "elapsed_ns"))
			d->elapsed_ns = v;
		else if (!strcmp(key, "hw_model") && !strcmp(tag, "string"))
			snprintf(d->hw_model, sizeof(d->hw_model), "%.*s", (int)(n < 63 ? n : 63), text);
	}
	for (int r = 0; r < NRAILS; r++) {
		char ek[24], pk[24];
		snprintf(ek, sizeof(ek), "%s_energy", rail_names[r]);
		snprintf(pk, sizeof(pk), "%s_power", rail_names[r]);
		/*
		 * processor.<rail>_energy / _power are the documented place; a
		 * top-level key or (GPU) the gpu sampler's dict are fallbacks,
		 * used only when the processor dict lacks the key.
		 */
		if (!strcmp(parent, "processor")) {
			if (!strcmp(key, ek))
				d->energy_mj[r] = v;
			else if (!strcmp(key, pk))
				d->power_mw[r] = v;
		} else if (!parent[0] || (r == RAIL_GPU && !strcmp(parent, "gpu"))) {
			if (!strcmp(key, ek) && isnan(d->energy_mj[r]))
				d->energy_mj[r] = v;
			else if (!strcmp(key, pk) && isnan(d->power_mw[r]))
				d->power_mw[r] = v;
		}
	}
	if (!strcmp(parent, "processor") && !strcmp(key, "combined_power"))
		d->combined_mw = v;
}

static void pm_doc_init(struct pm_doc *d)
{
	memset(d, 0, sizeof(*d));
	d->elapsed_ns = d->combined_mw = NAN;
	for (int r = 0; r < NRAILS; r++)
		d->energy_mj[r] = d->power_mw[r] = NAN;
}

/*
 * The name of the tag between lt and gt (its '>'), into name: whether it is
 * a closing tag (</x>) or an empty one (<x/>). -1 when it has no usable name.
 */
static int pl_tag_name(const char *lt, const char *gt, char *name, size_t namelen, int *closing, int *empty)
{
	const char *tag = lt + 1;
	size_t tl;
	*closing = *empty = 0;
	if (*tag == '/') {
		*closing = 1;
		tag++;
	}
	if (gt[-1] == '/')
		*empty = 1;
	for (tl = 0; tag + tl < gt && isalpha((unsigned char)tag[tl]); tl++)
		;
	if (!tl || tl >= namelen)
		return -1;
	memcpy(name, tag, tl);
	name[tl] = 0;
	return 0;
}

/* <dict>, </dict>, <array>, </array> or an empty <dict/>: the container stack. */
static int pl_container(struct pl_scan *s, const char *name, int closing, int empty, int *saw_dict, char *err,
			size_t errlen)
{
	if (closing) {
		if (!s->depth || s->kind[s->depth - 1] != name[0])
			return err_set(err, errlen, "unbalanced </%s>", name);
		s->depth--;
	} else if (!empty) {
		if (s->depth == PL_DEPTH)
			return err_set(err, errlen, "nested too deep");
		s->kind[s->depth] = name[0];
		snprintf(s->name[s->depth], sizeof(s->name[0]), "%s",
			 s->have_key && s->depth && s->kind[s->depth - 1] == 'd' ? s->key : "");
		s->depth++;
		*saw_dict |= name[0] == 'd';
	}
	s->have_key = 0;
	return 0;
}

/*
 * A scalar: <key>, <integer>, <real>, <string>, <date>, <data>, <true/>, <false/>.
 * Only values of dicts at most two deep and outside every array are stored.
 */
static int pl_scalar(struct pl_scan *s, struct pm_doc *d, const char *name, int empty, char *err, size_t errlen)
{
	const char *body = s->p, *stop = s->p;
	if (!empty) {
		stop = memchr(body, '<', (size_t)(s->end - body));
		if (!stop)
			return err_set(err, errlen, "unterminated <%s>", name);
		s->p = stop;
	}
	if (!strcmp(name, "key")) {
		size_t n = (size_t)(stop - body);
		snprintf(s->key, sizeof(s->key), "%.*s", (int)(n < 39 ? n : 39), body);
		s->have_key = 1;
		return 0;
	}
	if (s->have_key && s->depth >= 1 && s->depth <= 2 && s->kind[s->depth - 1] == 'd' &&
	    (s->depth == 1 || s->kind[0] == 'd'))
		pl_value(d, s->depth == 2 ? s->name[1] : "", s->key, name, body, (size_t)(stop - body));
	s->have_key = 0;
	return 0;
}

/*
 * Takes the next markup item from s->p: a comment, a declaration, or a tag and
 * what it holds. Returns 1 after an item, 0 when no '<' is left, -1 on an error.
 */
static int pl_next(struct pl_scan *s, struct pm_doc *d, const char *text, int *saw_plist, int *saw_dict,
		   char *err, size_t errlen)
{
	const char *lt = memchr(s->p, '<', (size_t)(s->end - s->p)), *gt;
	int closing, empty;
	char name[16];
	if (!lt)
		return 0;
	if (s->end - lt >= 4 && !memcmp(lt, "<!--", 4)) {
		const char *e = memmem(lt, (size_t)(s->end - lt), "-->", 3);
		if (!e)
			return err_set(err, errlen, "unterminated comment");
		s->p = e + 3;
		return 1;
	}
	gt = memchr(lt, '>', (size_t)(s->end - lt));
	if (!gt)
		return err_set(err, errlen, "unterminated tag at byte %zu", (size_t)(lt - text));
	s->p = gt + 1;
	if (lt[1] == '?' || lt[1] == '!')
		return 1; /* <?xml ...?>, <!DOCTYPE ...> */
	if (pl_tag_name(lt, gt, name, sizeof(name), &closing, &empty) < 0)
		return err_set(err, errlen, "unexpected tag at byte %zu", (size_t)(lt - text));
	if (!strcmp(name, "plist")) {
		*saw_plist = 1;
		return 1;
	}
	if (!strcmp(name, "dict") || !strcmp(name, "array"))
		return pl_container(s, name, closing, empty, saw_dict, err, errlen) < 0 ? -1 : 1;
	if (closing)
		return 1; /* the end of a scalar whose text we already took */
	return pl_scalar(s, d, name, empty, err, errlen) < 0 ? -1 : 1;
}

/*
 * Parses one XML plist document. Values inside arrays (per-cluster and
 * per-CPU data) are skipped. Returns 0, or -1 with the reason in err.
 */
static int pm_parse(const char *text, size_t len, struct pm_doc *d, char *err, size_t errlen)
{
	struct pl_scan s;
	int saw_plist = 0, saw_dict = 0, rc;
	memset(&s, 0, sizeof(s));
	pm_doc_init(d);
	s.p = text;
	s.end = text + len;
	if (len >= 6 && !memcmp(text, "bplist", 6))
		return err_set(err, errlen, "binary plist (ipw reads the XML form of --format plist)");
	for (rc = 1; rc > 0 && s.p < s.end;)
		rc = pl_next(&s, d, text, &saw_plist, &saw_dict, err, errlen);
	if (rc < 0)
		return -1;
	if (!saw_plist || !saw_dict)
		return err_set(err, errlen, "not a plist document");
	if (s.depth)
		return err_set(err, errlen, "document ends inside a <%s>", s.kind[s.depth - 1] == 'd' ? "dict" : "array");
	return 0;
}

/* For tests/fuzz/fuzz_plist.c: parses one document and drops its values. 0 or -1 (err). */
int apple_pm_parse(const char *text, size_t len, char *err, size_t errlen);
int apple_pm_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct pm_doc d;

	return pm_parse(text, len, &d, err, errlen);
}

/* ---- the child process ---- */

static void set_cloexec(int fd)
{
	fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Waits up to ms for the child to exit, then kills it; always reaps. */
static void reap_child(struct apple_priv *p, int ms)
{
	int64_t deadline = clock_now_ns() + (int64_t)ms * NS_PER_MS;
	int status = 0;
	if (p->pid <= 0)
		return;
	while (1) {
		pid_t r = waitpid(p->pid, &status, WNOHANG);
		if (r == p->pid || (r < 0 && errno != EINTR))
			break;
		if (clock_now_ns() >= deadline) {
			/* the child leads its own process group (a "sudo" wrapper passes it on) */
			kill(-p->pid, SIGKILL);
			kill(p->pid, SIGKILL);
			while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		clock_sleep_ns(5 * NS_PER_MS);
	}
	p->exit_status = status;
	p->pid = 0;
}

static void stop_child(struct apple_priv *p)
{
	close_fd(&p->out_fd);
	if (p->pid > 0) {
		kill(-p->pid, SIGTERM);
		kill(p->pid, SIGTERM);
		reap_child(p, 1000);
	}
	close_fd(&p->err_fd);
}

static void priv_free(struct apple_priv *p)
{
	if (!p)
		return;
	stop_child(p);
	close_fd(&p->wake[0]);
	close_fd(&p->wake[1]);
	buf_release(&p->in);
	buf_release(&p->errtxt);
	free(p);
}

/* The child's stderr as one line, for messages. */
static const char *child_stderr(struct apple_priv *p)
{
	for (size_t i = 0; i < p->errtxt.len; i++)
		if (p->errtxt.data[i] == '\n' || p->errtxt.data[i] == '\r')
			p->errtxt.data[i] = ' ';
	while (p->errtxt.len && p->errtxt.data[p->errtxt.len - 1] == ' ')
		p->errtxt.data[--p->errtxt.len] = 0;
	return p->errtxt.len ? p->errtxt.data : "(nothing on stderr)";
}

static void drain_stderr(struct apple_priv *p)
{
	char tmp[1024];
	while (p->err_fd >= 0) {
		ssize_t n = read(p->err_fd, tmp, sizeof(tmp));
		if (n > 0) {
			size_t room = PM_MAX_STDERR - p->errtxt.len;
			buf_append(&p->errtxt, tmp, (size_t)n < room ? (size_t)n : room);
		} else if (n == 0) {
			close_fd(&p->err_fd);
		} else {
			break; /* EAGAIN: nothing more now */
		}
	}
}

/*
 * Waits up to timeout_ms (-1 = forever) for output. Returns 1 when stdout
 * bytes arrived, 0 on timeout or stderr-only activity, -1 at end of stdout,
 * -2 when interrupted, -3 on a read error or an oversized document.
 */
static int pump(struct apple_priv *p, int timeout_ms)
{
	struct pollfd fds[3] = {
		{.fd = p->out_fd, .events = POLLIN},
		{.fd = p->err_fd, .events = POLLIN},
		{.fd = p->wake[0], .events = POLLIN},
	};
	int rc = poll(fds, 3, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 0 : -3;
	if (rc == 0)
		return 0;
	if (fds[2].revents) {
		char tmp[64];
		while (read(p->wake[0], tmp, sizeof(tmp)) > 0)
			;
		return -2;
	}
	if (fds[1].revents)
		drain_stderr(p);
	if (fds[0].revents) {
		char tmp[65536];
		ssize_t n = read(p->out_fd, tmp, sizeof(tmp));
		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -3;
		p->t_recv = clock_now_ns();
		if (buf_append(&p->in, tmp, (size_t)n) < 0) {
			snprintf(p->err, sizeof(p->err), "powermetrics document over %u bytes", PM_MAX_DOC);
			return -3;
		}
		return 1;
	}
	return 0;
}

/*
 * Takes the next complete document off the input: it ends at "</plist>"
 * (documents are also separated by NUL bytes, which are skipped). Returns
 * a newly allocated copy and its length, or NULL when none is complete.
 */
static char *next_doc(struct apple_priv *p, size_t *len)
{
	size_t skip = 0;
	const char *d, *endtag, *nul;
	char *doc;
	while (skip < p->in.len && (p->in.data[skip] == 0 || isspace((unsigned char)p->in.data[skip])))
		skip++;
	buf_consume(&p->in, skip);
	if (!p->in.len)
		return NULL;
	d = p->in.data;
	endtag = memmem(d, p->in.len, "</plist>", 8);
	nul = memchr(d, 0, p->in.len);
	if (nul && (!endtag || nul < endtag))
		*len = (size_t)(nul - d); /* a document without its end tag: parsed to report it */
	else if (endtag)
		*len = (size_t)(endtag + 8 - d);
	else
		return NULL;
	doc = xmalloc(*len + 1);
	memcpy(doc, d, *len);
	doc[*len] = 0;
	buf_consume(&p->in, *len);
	return doc;
}

/* Adds one document's interval energy to the rail counters. 0 or -1 (err). */
static int take_doc(struct apple_priv *p, const char *text, size_t len, int64_t t_arrival, struct pm_doc *d,
		    char *err, size_t errlen)
{
	char why[256];
	double elapsed_s;
	if (pm_parse(text, len, d, why, sizeof(why)) < 0)
		return err_set(err, errlen, "cannot parse powermetrics output: %s", why);
	/* elapsed_ns is the interval the document covers; our own arrival gap is the fallback */
	elapsed_s = d->elapsed_ns > 0 ? d->elapsed_ns / 1e9
		    : p->t_doc ? (double)(t_arrival - p->t_doc) / 1e9 : p->interval_ms / 1e3;
	for (int r = 0; r < NRAILS; r++) {
		double e = NAN, w = NAN;
		if (!isnan(d->energy_mj[r]))
			e = d->energy_mj[r] / 1e3;
		else if (!isnan(d->power_mw[r]))
			e = d->power_mw[r] / 1e3 * elapsed_s;
		if (!isnan(d->power_mw[r]))
			w = d->power_mw[r] / 1e3;
		else if (!isnan(e) && elapsed_s > 0)
			w = e / elapsed_s;
		if (isnan(e) || e < 0)
			continue;
		p->cum_j[r] += e;
		p->last_w[r] = w;
		p->seen[r] = 1;
	}
	p->t_doc = t_arrival;
	return 0;
}

static int split_command(const char *cmd, char ***argv_out, int *argc_out)
{
	int n, k = 0;
	char **items = split_list(cmd, ' ', &n);
	for (int i = 0; i < n; i++) {
		if (items[i][0])
			items[k++] = items[i];
		else
			free(items[i]);
	}
	items[k] = NULL;
	*argv_out = items;
	*argc_out = k;
	return k ? 0 : -1;
}

static int spawn_child(struct apple_priv *p, const char *cmd, int from_env, char *err, size_t errlen)
{
	char **words = NULL, **argv = NULL, ival[16];
	int nw = 0, outp[2] = {-1, -1}, errp[2] = {-1, -1}, rc = -1, e;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, def;
	if (split_command(cmd, &words, &nw) < 0) {
		err_set(err, errlen, "IPW_POWERMETRICS is empty");
		goto out;
	}
	argv = xcalloc((size_t)nw + 8, sizeof(*argv));
	for (int i = 0; i < nw; i++)
		argv[i] = words[i];
	snprintf(ival, sizeof(ival), "%d", p->interval_ms);
	argv[nw] = "--samplers";
	argv[nw + 1] = "cpu_power,gpu_power,ane_power";
	argv[nw + 2] = "--format";
	argv[nw + 3] = "plist";
	argv[nw + 4] = "-i";
	argv[nw + 5] = ival;
	if (pipe(outp) < 0 || pipe(errp) < 0 || pipe(p->wake) < 0) {
		err_set(err, errlen, "cannot create a pipe for powermetrics: %s", strerror(errno));
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		set_cloexec(outp[i]);
		set_cloexec(errp[i]);
		set_cloexec(p->wake[i]);
		set_nonblock(p->wake[i]);
	}
	set_nonblock(errp[0]);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &def);
	/* its own process group: a Ctrl-C meant for ipw must not end the measurement first */
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	e = posix_spawnp(&p->pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (e) {
		p->pid = 0;
		if (e == ENOENT && !from_env)
			err_set(err, errlen, "powermetrics not found (macOS only; set IPW_POWERMETRICS to override)");
		else if (e == ENOENT)
			err_set(err, errlen, "%s not found (IPW_POWERMETRICS=%s): give a command on PATH or a full path",
				argv[0], cmd);
		else
			err_set(err, errlen, "cannot run %s: %s", argv[0], strerror(e));
		goto out;
	}
	p->out_fd = outp[0];
	p->err_fd = errp[0];
	outp[0] = errp[0] = -1;
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	free(argv);
	free_list(words);
	return rc;
}

/* Why the child ended before its first document. */
static void early_exit_reason(struct apple_priv *p, char *err, size_t errlen)
{
	const char *msg;
	int st;
	drain_stderr(p);
	reap_child(p, 2000);
	/* stderr may still hold text written just before exit */
	drain_stderr(p);
	msg = child_stderr(p);
	st = p->exit_status;
	if (strstr(msg, "superuser") || strstr(msg, "root") || strstr(msg, "ermission"))
		err_set(err, errlen,
			"powermetrics needs root: run ipw with sudo, or set IPW_POWERMETRICS=\"sudo -n "
			"powermetrics\" with a NOPASSWD sudoers rule for /usr/bin/powermetrics (see "
			"docs/platform-apple.md). powermetrics said: %s",
			msg);
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		err_set(err, errlen, "powermetrics could not be started (exit 127): %s", msg);
	else if (WIFSIGNALED(st))
		err_set(err, errlen, "powermetrics was killed by signal %d before its first sample: %s",
			WTERMSIG(st), msg);
	else
		err_set(err, errlen, "powermetrics exited with status %d before its first sample: %s",
			WIFEXITED(st) ? WEXITSTATUS(st) : -1, msg);
}

/* Waits for powermetrics' first document (it tells which rails exist); *doc is the caller's to free. */
static int first_doc(struct apple_priv *p, char **doc, size_t *len, char *err, size_t errlen)
{
	int64_t deadline = clock_now_ns() + (int64_t)(PM_FIRST_TIMEOUT_MS + 2 * p->interval_ms) * NS_PER_MS;
	while (!(*doc = next_doc(p, len))) {
		int64_t left = (deadline - clock_now_ns()) / NS_PER_MS;
		int r;
		if (left <= 0) {
			drain_stderr(p);
			return err_set(err, errlen, "powermetrics printed no sample within %d ms (stderr: %s)",
				       PM_FIRST_TIMEOUT_MS + 2 * p->interval_ms, child_stderr(p));
		}
		r = pump(p, (int)left);
		if (r == -1) {
			early_exit_reason(p, err, errlen);
			return -1;
		}
		if (r == -3)
			return err_set(err, errlen, "reading powermetrics output: %s",
				       p->err[0] ? p->err : strerror(errno));
	}
	return 0;
}

/* The source of rail r, on a Mac whose model is hw_model ("" when unknown). */
static void describe_rail(struct source_info *s, int r, const char *hw_model, int interval_ms)
{
	static const enum source_kind kinds[NRAILS] = {SOURCE_SOC_CPU, SOURCE_SOC_GPU, SOURCE_SOC_ANE};
	static const char *const labels[NRAILS] = {"CPU", "GPU", "Neural Engine"};
	snprintf(s->name, sizeof(s->name), "apple:%s", rail_names[r]);
	snprintf(s->backend, sizeof(s->backend), "apple");
	s->kind = kinds[r];
	/* inference runs on the unified SoC: CPU + GPU + ANE is the accelerator (docs/platform-apple.md) */
	s->scope = SCOPE_ACCELERATOR;
	s->caps = CAP_ENERGY | CAP_POWER;
	s->power_kind = POWER_INTERVAL;
	s->index = r;
	snprintf(s->model, sizeof(s->model), "%s%s%s", labels[r], hw_model[0] ? " of " : "", hw_model);
	snprintf(s->driver, sizeof(s->driver), "powermetrics");
	s->power_limit_w = NAN;
	s->mem_total_bytes = NAN;
	s->energy_wrap_j = 0;
	s->counter_update_s = 0; /* our own sum: exact when the document arrives */
	snprintf(s->notes, sizeof(s->notes),
		 "energy summed from powermetrics samples (-i %d ms): interval means, stamped on arrival",
		 interval_ms);
}

static int probe(struct backend_instance *inst, const struct telemetry_opts *opts, char *err, size_t errlen)
{
	const char *cmd = getenv("IPW_POWERMETRICS");
	struct apple_priv *p;
	struct pm_doc d;
	char *doc = NULL;
	size_t len;
	int rc = -1, n = 0, from_env = cmd && *cmd;
#ifndef __APPLE__
	if (!from_env)
		return err_set(err, errlen,
			       "powermetrics is macOS only (Apple Silicon); set IPW_POWERMETRICS to run a substitute");
#endif
	if (!from_env)
		cmd = "powermetrics";
	p = xcalloc(1, sizeof(*p));
	p->out_fd = p->err_fd = p->wake[0] = p->wake[1] = -1;
	buf_init(&p->in, PM_MAX_DOC);
	buf_init(&p->errtxt, 0);
	p->interval_ms = opts && opts->interval_ms > 0 ? opts->interval_ms : PM_DEFAULT_INTERVAL_MS;
	for (int r = 0; r < NRAILS; r++)
		p->src_of[r] = -1;
	if (spawn_child(p, cmd, from_env, err, errlen) < 0 || first_doc(p, &doc, &len, err, errlen) < 0 ||
	    take_doc(p, doc, len, p->t_recv, &d, err, errlen) < 0)
		goto out;
	inst->sources = xcalloc(NRAILS, sizeof(*inst->sources));
	for (int r = 0; r < NRAILS; r++) {
		if (!p->seen[r])
			continue;
		p->src_of[r] = n;
		describe_rail(&inst->sources[n], r, d.hw_model, p->interval_ms);
		n++;
	}
	if (!n) {
		err_set(err, errlen,
			"powermetrics output has no cpu/gpu/ane power or energy (processor.cpu_power, "
			"cpu_energy, ...): Apple Silicon is required (Intel Macs report other keys)");
		goto out;
	}
	inst->nsources = n;
	inst->priv = p;
	rc = 0;
out:
	free(doc);
	if (rc < 0) {
		free(inst->sources);
		inst->sources = NULL;
		inst->nsources = 0;
		inst->priv = NULL;
		priv_free(p);
	}
	return rc;
}

static void fill(struct backend_instance *inst, struct sample *out)
{
	struct apple_priv *p = inst->priv;
	for (int r = 0; r < NRAILS; r++) {
		struct sample *s;
		if (p->src_of[r] < 0 || !p->seen[r] || !inst->sources[p->src_of[r]].selected)
			continue;
		s = &out[p->src_of[r]];
		sample_stamp(s, p->t_doc, p->t_doc);
		s->energy_j = p->cum_j[r];
		s->valid = SAMPLE_ENERGY;
		if (!isnan(p->last_w[r])) {
			s->power_w = p->last_w[r];
			s->valid |= SAMPLE_POWER;
		}
	}
}

/*
 * Blocks until powermetrics sends the next document, then reports every
 * rail's summed energy as of that document's arrival. Documents that piled
 * up (the reader fell behind) are all summed and reported once, at the
 * latest arrival time.
 */
static int sample_read(struct backend_instance *inst, struct sample *out, char *err, size_t errlen)
{
	struct apple_priv *p = inst->priv;
	struct pm_doc d;
	int got = 0, rc = 0;
	for (int r = 0; r < NRAILS; r++)
		p->seen[r] = 0;
	while (!got) {
		char *doc;
		size_t len;
		int r;
		if (p->err[0]) {
			/* a dead stream: report it, but don't let the sampler spin */
			struct pollfd w = {.fd = p->wake[0], .events = POLLIN};
			poll(&w, 1, 200);
			return err_set(err, errlen, "%s", p->err);
		}
		while ((doc = next_doc(p, &len))) {
			char why[IPW_ERRLEN];
			int64_t t = p->t_recv;
			if (take_doc(p, doc, len, t, &d, why, sizeof(why)) < 0)
				rc = err_set(err, errlen, "%s", why); /* one bad document: skip it */
			else
				got = 1;
			free(doc);
		}
		if (got)
			break;
		r = pump(p, -1);
		if (r == -2)
			return rc; /* interrupted: nothing new */
		if (r == -1 || r == -3) {
			if (r == -1) {
				drain_stderr(p);
				reap_child(p, 500);
				snprintf(p->err, sizeof(p->err), "powermetrics exited (status %d): %.300s",
					 WIFEXITED(p->exit_status) ? WEXITSTATUS(p->exit_status) : -1, child_stderr(p));
			} else if (!p->err[0]) {
				snprintf(p->err, sizeof(p->err), "reading powermetrics output: %s", strerror(errno));
			}
		}
	}
	fill(inst, out);
	return rc;
}

static void interrupt(struct backend_instance *inst)
{
	struct apple_priv *p = inst->priv;
	if (p && p->wake[1] >= 0 && write(p->wake[1], "x", 1) < 0) {
		/* the pipe is full: a wake-up is already pending */
	}
}

static void release(struct backend_instance *inst)
{
	priv_free(inst->priv);
	inst->priv = NULL;
	free(inst->sources);
	inst->sources = NULL;
	inst->nsources = 0;
}

/*
 * default_interval_ms 0 and self_paced: powermetrics paces the samples
 * (-i, PM_DEFAULT_INTERVAL_MS unless --interval is given) and read() blocks
 * until each arrives; a sampler sleep on top would only delay the stamps.
 */
const struct telemetry_backend telemetry_apple = {
	.name = "apple",
	.description = "Apple Silicon CPU/GPU/ANE energy (powermetrics, needs root)",
	.default_interval_ms = 0,
	.probe = probe,
	.read = sample_read,
	.release = release,
	.interrupt = interrupt,
	.self_paced = 1,
};
