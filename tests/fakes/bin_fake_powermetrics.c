/*
 * bin_fake_powermetrics.c - stands in for macOS powermetrics in the tests:
 * prints NUL-separated XML plist documents every -i ms from a scripted power
 * profile (or replays recorded documents), split across writes so readers see
 * partial documents. Environment:
 *   FAKE_PM_PROFILE  "cpu=2,gpu=8,ane=0.5" watts per rail (rails not named are
 *                    left out); "gpu=10/30" alternates per document
 *   FAKE_PM_KEYS     "both" (default), "power" (mW only) or "energy" (mJ only)
 *   FAKE_PM_MODE     "needroot": the superuser message on stderr, exit 1;
 *                    "crash": a message on stderr, exit 3
 *   FAKE_PM_REPLAY   a file of recorded documents (NUL-separated), sent in turn
 *   FAKE_PM_COUNT    stop sending after this many documents (then idle)
 *   FAKE_PM_FIRST_MS delay before the first document (default: the interval)
 *   FAKE_PM_PIDFILE  write our pid here
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "util.h"

#define MAX_RAILS 3
#define MAX_STEPS 8

static const char *const rails[MAX_RAILS] = {"cpu", "gpu", "ane"};

struct profile {
	int present[MAX_RAILS];
	double watts[MAX_RAILS][MAX_STEPS];
	int nsteps[MAX_RAILS];
};

static int parse_profile(const char *spec, struct profile *pr)
{
	int n;
	char **items = split_list(spec, ',', &n);
	memset(pr, 0, sizeof(*pr));
	for (int i = 0; i < n; i++) {
		char *eq = strchr(items[i], '='), *p;
		int r;
		if (!eq)
			goto bad;
		*eq = 0;
		for (r = 0; r < MAX_RAILS && strcmp(items[i], rails[r]); r++)
			;
		if (r == MAX_RAILS)
			goto bad;
		pr->present[r] = 1;
		p = eq + 1;
		while (*p && pr->nsteps[r] < MAX_STEPS) {
			char *end;
			pr->watts[r][pr->nsteps[r]++] = strtod(p, &end);
			if (end == p)
				goto bad;
			p = *end == '/' ? end + 1 : end;
			if (*end && *end != '/')
				goto bad;
		}
	}
	free_list(items);
	return 0;
bad:
	free_list(items);
	return -1;
}

static int write_all(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(1, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Sends one document plus its NUL in one of three ways, so that readers meet
 * a document split in two writes, a whole one, and one whose NUL comes late.
 */
static int send_doc(const char *doc, size_t len, int k, int *nul_pending)
{
	int rc = 0;
	if (*nul_pending) {
		rc |= write_all("", 1);
		*nul_pending = 0;
	}
	switch (k % 3) {
	case 0:
		rc |= write_all(doc, len / 2);
		clock_sleep_ns(2 * NS_PER_MS);
		rc |= write_all(doc + len / 2, len - len / 2);
		rc |= write_all("", 1);
		break;
	case 1:
		rc |= write_all(doc, len);
		rc |= write_all("", 1);
		break;
	default:
		rc |= write_all(doc, len);
		*nul_pending = 1;
		break;
	}
	return rc;
}

static void profile_doc(struct buf *b, const struct profile *pr, const char *keys, int k, int64_t elapsed,
			double *cum_mj, double *sent_mj)
{
	double combined = 0;
	buf_reset(b);
	buf_appendf(b,
		    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		    "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
		    "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
		    "<plist version=\"1.0\">\n<dict>\n"
		    "\t<key>is_delta</key>\n\t<true/>\n"
		    "\t<key>elapsed_ns</key>\n\t<integer>%lld</integer>\n"
		    "\t<key>hw_model</key>\n\t<string>FakeMac1,1</string>\n"
		    "\t<key>kern_osversion</key>\n\t<string>23A344</string>\n"
		    "\t<key>processor</key>\n\t<dict>\n"
		    "\t\t<key>clusters</key>\n\t\t<array>\n"
		    "\t\t\t<dict>\n\t\t\t\t<key>name</key>\n\t\t\t\t<string>E-Cluster</string>\n"
		    "\t\t\t\t<key>freq_hz</key>\n\t\t\t\t<real>972000000</real>\n"
		    "\t\t\t\t<key>cpu_power</key>\n\t\t\t\t<real>99999</real>\n"
		    "\t\t\t\t<key>cpus</key>\n\t\t\t\t<array>\n"
		    "\t\t\t\t\t<dict><key>cpu</key><integer>0</integer><key>idle_ratio</key>"
		    "<real>0.75</real></dict>\n"
		    "\t\t\t\t</array>\n\t\t\t</dict>\n\t\t</array>\n",
		    (long long)elapsed);
	for (int r = 0; r < MAX_RAILS; r++) {
		double w, mj;
		if (!pr->present[r])
			continue;
		w = pr->watts[r][k % pr->nsteps[r]];
		combined += w;
		cum_mj[r] += w * (double)elapsed / 1e6; /* W * ns / 1e6 = mJ */
		/* integer mJ like the real tool, carrying the remainder so sums stay exact */
		mj = (double)(long long)cum_mj[r] - sent_mj[r];
		sent_mj[r] += mj;
		if (strcmp(keys, "power"))
			buf_appendf(b, "\t\t<key>%s_energy</key>\n\t\t<integer>%lld</integer>\n", rails[r],
				    (long long)mj);
		if (strcmp(keys, "energy"))
			buf_appendf(b, "\t\t<key>%s_power</key>\n\t\t<real>%.6f</real>\n", rails[r], w * 1e3);
	}
	if (strcmp(keys, "energy"))
		buf_appendf(b, "\t\t<key>combined_power</key>\n\t\t<real>%.6f</real>\n", combined * 1e3);
	buf_appendf(b, "\t</dict>\n\t<key>gpu</key>\n\t<dict>\n"
		       "\t\t<key>freq_hz</key>\n\t\t<real>1398000000</real>\n"
		       "\t\t<key>idle_ratio</key>\n\t\t<real>0.5</real>\n\t</dict>\n"
		       "\t<key>thermal_pressure</key>\n\t<string>Nominal</string>\n"
		       "</dict>\n</plist>\n");
}

int main(int argc, char **argv)
{
	const char *mode = getenv("FAKE_PM_MODE"), *keys = getenv("FAKE_PM_KEYS");
	const char *spec = getenv("FAKE_PM_PROFILE"), *replay = getenv("FAKE_PM_REPLAY");
	const char *count_s = getenv("FAKE_PM_COUNT"), *first_s = getenv("FAKE_PM_FIRST_MS");
	const char *pidfile = getenv("FAKE_PM_PIDFILE"), *format = NULL;
	double cum_mj[MAX_RAILS] = {0}, sent_mj[MAX_RAILS] = {0};
	char *rec = NULL, **docs = NULL;
	size_t rec_len = 0;
	int interval_ms = 5000, ndocs = 0, nul_pending = 0;
	long count = count_s ? atol(count_s) : -1;
	struct profile pr;
	struct buf b;
	int64_t prev, next;

	signal(SIGPIPE, SIG_DFL);
	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-i") || !strcmp(argv[i], "--sample-rate")) && i + 1 < argc)
			interval_ms = atoi(argv[++i]);
		else if ((!strcmp(argv[i], "-f") || !strcmp(argv[i], "--format")) && i + 1 < argc)
			format = argv[++i];
		else if ((!strcmp(argv[i], "-s") || !strcmp(argv[i], "--samplers")) && i + 1 < argc)
			i++;
		else {
			fprintf(stderr, "powermetrics: unrecognized option '%s'\n", argv[i]);
			return 64;
		}
	}
	if (pidfile) {
		FILE *f = fopen(pidfile, "w");
		if (f) {
			fprintf(f, "%d\n", (int)getpid());
			fclose(f);
		}
	}
	if (mode && !strcmp(mode, "needroot")) {
		fprintf(stderr, "powermetrics must be invoked as the superuser\n");
		return 1;
	}
	if (mode && !strcmp(mode, "crash")) {
		fprintf(stderr, "fake powermetrics: sampler cpu_power unavailable on this machine\n");
		return 3;
	}
	if (!format || strcmp(format, "plist")) {
		fprintf(stderr, "fake powermetrics: only --format plist is faked\n");
		return 64;
	}
	if (interval_ms <= 0) {
		fprintf(stderr, "fake powermetrics: bad -i\n");
		return 64;
	}
	if (parse_profile(spec ? spec : "cpu=1.5,gpu=6,ane=0.2", &pr) < 0) {
		fprintf(stderr, "fake powermetrics: bad FAKE_PM_PROFILE '%s'\n", spec);
		return 64;
	}
	if (!keys)
		keys = "both";
	if (replay) {
		char err[IPW_ERRLEN];
		size_t at = 0;
		if (read_file(replay, &rec, &rec_len, err, sizeof(err)) < 0) {
			fprintf(stderr, "fake powermetrics: %s\n", err);
			return 66;
		}
		while (at < rec_len) {
			size_t l = strlen(rec + at);
			if (l && strstr(rec + at, "<plist")) {
				docs = xrealloc(docs, (size_t)(ndocs + 1) * sizeof(*docs));
				docs[ndocs++] = rec + at;
			}
			at += l + 1;
		}
		if (!ndocs) {
			fprintf(stderr, "fake powermetrics: no documents in %s\n", replay);
			return 66;
		}
	}
	buf_init(&b, 0);
	prev = clock_now_ns();
	next = prev + (int64_t)(first_s ? atoi(first_s) : interval_ms) * NS_PER_MS;
	for (int k = 0;; k++) {
		int64_t now;
		if (count >= 0 && k >= count) {
			pause(); /* like a stalled tool: alive, silent */
			continue;
		}
		clock_sleep_until_ns(next);
		now = clock_now_ns();
		if (replay) {
			if (send_doc(docs[k % ndocs], strlen(docs[k % ndocs]), k, &nul_pending) < 0)
				break;
		} else {
			profile_doc(&b, &pr, keys, k, now - prev, cum_mj, sent_mj);
			if (send_doc(b.data, b.len, k, &nul_pending) < 0)
				break;
		}
		prev = now;
		next += (int64_t)interval_ms * NS_PER_MS;
		if (next < now)
			next = now;
	}
	buf_release(&b);
	free(docs);
	free(rec);
	return 0;
}
