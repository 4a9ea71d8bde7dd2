/*
 * cmd/runs.c - placeholder for 'ipw runs' until it lands.
 */
#include <stdio.h>

#include "cmd.h"

int cmd_runs(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ipw runs: not available in this build yet\n");
	return EXIT_ENV;
}
