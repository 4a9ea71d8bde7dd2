/*
 * cmd.h - the subcommands. Each lives in src/cmd/<name>.c, takes argc/argv
 * with argv[0] = the subcommand's name, and returns the process exit status.
 * What they share (--store, --format/--json, store opening, run lookup, the
 * table writer) is in cmd/common.h; main.c's table says which each one has.
 */
#ifndef IPW_CMD_H
#define IPW_CMD_H

int cmd_devices(int argc, char **argv);
int cmd_monitor(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_serve_model(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_coverage(int argc, char **argv);
int cmd_route(int argc, char **argv);
int cmd_route_serve(int argc, char **argv); /* src/cmd/route_serve.c, through cmd_route */
int cmd_route_train(int argc, char **argv); /* src/cmd/route_train.c, through cmd_route */
int cmd_route_simulate_router(int argc, char **argv); /* route simulate --router FILE */
int cmd_route_replay(int argc, char **argv); /* src/cmd/route_replay.c, through cmd_route */
int cmd_analyze(int argc, char **argv);
int cmd_attribute(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_compute(int argc, char **argv);
int cmd_levels(int argc, char **argv);
int cmd_trends(int argc, char **argv);
int cmd_ranks(int argc, char **argv);
int cmd_repeats(int argc, char **argv);
int cmd_localcloud(int argc, char **argv);
int cmd_gdi(int argc, char **argv);
int cmd_study(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_merge(int argc, char **argv);

/* Exit statuses shared by the commands. */
#define EXIT_USAGE 2    /* bad flags or arguments */
#define EXIT_INPUT 3    /* bad input: dataset, store, run id */
#define EXIT_ENV 4      /* missing server, library, permission */
#define EXIT_PARTIAL 5  /* finished, but some queries failed */
#define EXIT_INTERRUPTED 130

#endif
