/*
 * cmd/monitor.c - placeholder for 'ipw monitor' until it lands.
 */
#include <stdio.h>

#include "cmd.h"

int cmd_monitor(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ipw monitor: not available in this build yet\n");
	return EXIT_ENV;
}
