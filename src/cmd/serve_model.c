/*
 * cmd/serve_model.c - 'ipw serve MODEL.gguf': loads a GGUF file into the
 * built-in engine and serves it over an OpenAI-compatible HTTP API
 * (src/engine/http.h) on 127.0.0.1 unless --host says otherwise, until
 * SIGINT or SIGTERM. (The `profile --serve` child supervisor is src/serve.c.)
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/engine.h"
#include "../engine/http.h"
#include "../util.h"
#include "cmd.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	stop_flag = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: ipw serve MODEL.gguf [--port P] [--host H] [--threads N] [--name NAME]\n"
"                 [--chat-template NAME] [--ctx N] [--port-file FILE]\n"
"Serves a GGUF model with the built-in CPU engine over an OpenAI-compatible API:\n"
"POST /v1/chat/completions (streamed with \"stream\":true, usage in the last chunk),\n"
"GET /v1/models, GET /health. Stops on Ctrl-C or SIGTERM.\n\n"
"  --port P              port to listen on (default 8080; 0: any free port)\n"
"  --host H              numeric address to bind (default 127.0.0.1: this machine only)\n"
"  --threads N           engine threads (default: the CPUs online, at most 16)\n"
"  --name NAME           the model id the API lists (default: the file name without .gguf)\n"
"  --chat-template NAME  chatml, llama3 or ipw (default: detected from the model)\n"
"  --ctx N               context length (default: the model's, at most 4096)\n"
"  --port-file FILE      write the port listened on to FILE once serving (for scripts)\n");
}

/* "dir/ref-m.gguf" -> "ref-m" into out. */
static void model_name(const char *path, char *out, size_t n)
{
	const char *b = strrchr(path, '/');
	size_t len;

	b = b ? b + 1 : path;
	len = strlen(b);
	if (len > 5 && !strcmp(b + len - 5, ".gguf"))
		len -= 5;
	snprintf(out, n, "%.*s", (int)len, b);
}

static int write_port_file(const char *path, int port)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%d\n", port);
	if (fclose(f))
		return -1;
	return rename(tmp, path);
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

int cmd_serve_model(int argc, char **argv)
{
	static const struct option opts[] = {
		{"port", 1, 0, 'p'}, {"host", 1, 0, 'H'}, {"threads", 1, 0, 't'}, {"name", 1, 0, 'n'},
		{"chat-template", 1, 0, 'c'}, {"ctx", 1, 0, 'x'}, {"port-file", 1, 0, 'f'}, {"help", 0, 0, 'h'},
		{0, 0, 0, 0},
	};
	struct engine_server_opts so = {0};
	struct engine_opts eo = {0};
	struct engine_server *srv = NULL;
	struct engine *e = NULL;
	const char *port_file = NULL, *name = NULL;
	char err[IPW_ERRLEN] = "", mname[256];
	int ch, rc = EXIT_ENV, threads = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	so.port = 8080;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int bad = 0;
		switch (ch) {
		case 'p': bad = parse_int(optarg, 0, 65535, &so.port); break;
		case 'H': so.host = optarg; break;
		case 't': bad = parse_int(optarg, 1, 256, &threads); break;
		case 'n': name = optarg; break;
		case 'c': so.chat_template = optarg; break;
		case 'x': bad = parse_int(optarg, 16, 1 << 20, &eo.n_ctx); break;
		case 'f': port_file = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
		if (bad) {
			fprintf(stderr, "ipw serve: --%s: '%s' is out of range or not a number\n",
				ch == 'p' ? "port" : ch == 't' ? "threads" : "ctx", optarg);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "ipw serve: give one GGUF model file (ipw serve --help)\n");
		return EXIT_USAGE;
	}
	eo.n_threads = threads ? threads : ncpu < 1 ? 1 : ncpu > 16 ? 16 : (int)ncpu;
	if (engine_load(&e, argv[optind], &eo, err, sizeof err)) {
		fprintf(stderr, "ipw serve: %s\n", err);
		return EXIT_INPUT;
	}
	model_name(argv[optind], mname, sizeof mname);
	so.model_name = name ? name : mname;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (engine_server_start(&srv, e, &so, err, sizeof err)) {
		fprintf(stderr, "ipw serve: %s\n", err);
		goto out;
	}
	fprintf(stderr, "ipw serve: serving %s as '%s' on http://%s:%d (%d threads; Ctrl-C stops)\n", argv[optind],
		so.model_name, so.host ? so.host : "127.0.0.1", engine_server_port(srv), eo.n_threads);
	if (port_file && write_port_file(port_file, engine_server_port(srv))) {
		fprintf(stderr, "ipw serve: cannot write %s\n", port_file);
		goto out;
	}
	while (!stop_flag)
		usleep(100000);   /* a signal ends it early */
	fprintf(stderr, "ipw serve: stopping\n");
	rc = 0;
out:
	engine_server_stop(srv);
	engine_free(e);
	return rc;
}
