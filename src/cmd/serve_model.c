/*
 * cmd/serve_model.c - 'ipw serve MODEL.gguf': loads a GGUF file into the
 * built-in engine and serves it over an OpenAI-compatible HTTP API
 * (src/engine/http.h) on 127.0.0.1 unless --host says otherwise, until
 * SIGINT or SIGTERM. (The `profile --serve` child supervisor is src/serve.c.)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/engine.h"
#include "../engine/http.h"
#include "../util.h"
#include "cmd.h"
#include "common.h"
#include "common_opts.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	stop_flag = 1;
}

struct serve_args {
	struct engine_server_opts so;
	struct engine_opts eo;
	const char *name, *port_file;
};

#define A(f) offsetof(struct serve_args, f)
static const struct opt_def serve_opts[] = {
	{"port", 0, OPT_INT, A(so.port), "P", "port to listen on (default 8080; 0: any free port)", NULL, 0, 65535,
	 OPT_BOUNDED, NULL, "a port 0..65535", NULL},
	{"host", 0, OPT_STRING, A(so.host), "H", "numeric address to bind (default 127.0.0.1: this machine only)",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
	{"threads", 0, OPT_INT, A(eo.n_threads), "N", "engine threads (default: the CPUs online, at most 16)", NULL,
	 1, 256, OPT_BOUNDED, NULL, "a count in 1..256", NULL},
	{"name", 0, OPT_STRING, A(name), "NAME", "the model id the API lists (default: the file name without .gguf)",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
	{"chat-template", 0, OPT_STRING, A(so.chat_template), "NAME", "chatml, llama3 or ipw (default: detected "
	 "from the model)", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"ctx", 0, OPT_INT, A(eo.n_ctx), "N", "context length (default: the model's, at most 4096)", NULL, 16,
	 1 << 20, OPT_BOUNDED, NULL, "a length in 16..1048576", NULL},
	{"request-log", 0, OPT_STRING, A(so.request_log), "FILE", "append each chat request's body to FILE, one "
	 "line each (tests)", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"port-file", 0, OPT_STRING, A(port_file), "FILE", "write the port listened on to FILE once serving (for "
	 "scripts)", NULL, 0, 0, 0, NULL, NULL, NULL},
};
#define NOPTS (sizeof(serve_opts) / sizeof(serve_opts[0]))

static void usage(FILE *f)
{
	fprintf(f,
"usage: ipw serve MODEL.gguf [--port P] [--host H] [--threads N] [--name NAME]\n"
"                 [--chat-template NAME] [--ctx N] [--port-file FILE] [--request-log FILE]\n"
"Serves a GGUF model with the built-in CPU engine over an OpenAI-compatible API:\n"
"POST /v1/chat/completions (streamed with \"stream\":true, usage in the last chunk),\n"
"GET /v1/models, GET /health. Stops on Ctrl-C or SIGTERM.\n\n");
	opt_usage(f, serve_opts, NOPTS);
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

/* Options and the model operand (*first); 0, CMD_PARSE_HELP (usage printed) or EXIT_USAGE (said). */
static int parse_args(struct serve_args *a, int argc, char **argv, int *first)
{
	struct cmd_common cc;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int rc;

	cmd_common_init(&cc, "serve", OUT_TEXT, OUT_TEXT);
	a->so.port = 8080;
	if ((rc = cmd_opt_parse(&cc, serve_opts, NOPTS, a, argc, argv, first, NULL, usage))) {
		if (rc == EXIT_USAGE)
			usage(stderr);
		return rc;
	}
	if (*first != argc - 1) {
		fprintf(stderr, "ipw serve: give one GGUF model file (ipw serve --help)\n");
		return EXIT_USAGE;
	}
	if (!a->eo.n_threads)
		a->eo.n_threads = ncpu < 1 ? 1 : ncpu > 16 ? 16 : (int)ncpu;
	return 0;
}

int cmd_serve_model(int argc, char **argv)
{
	struct serve_args a = {0};
	struct engine_server *srv = NULL;
	struct engine *e = NULL;
	char err[IPW_ERRLEN] = "", mname[256];
	const char *model;
	int first, rc;

	if ((rc = parse_args(&a, argc, argv, &first)))
		return rc == CMD_PARSE_HELP ? 0 : rc;
	model = argv[first];
	rc = EXIT_ENV;
	if (engine_load(&e, model, &a.eo, err, sizeof err)) {
		fprintf(stderr, "ipw serve: %s\n", err);
		return EXIT_INPUT;
	}
	model_name(model, mname, sizeof mname);
	a.so.model_name = a.name ? a.name : mname;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (engine_server_start(&srv, e, &a.so, err, sizeof err)) {
		fprintf(stderr, "ipw serve: %s\n", err);
		goto out;
	}
	fprintf(stderr, "ipw serve: serving %s as '%s' on http://%s:%d (%d threads; Ctrl-C stops)\n", model,
		a.so.model_name, a.so.host ? a.so.host : "127.0.0.1", engine_server_port(srv), a.eo.n_threads);
	if (a.port_file && write_port_file(a.port_file, engine_server_port(srv))) {
		fprintf(stderr, "ipw serve: cannot write %s\n", a.port_file);
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
