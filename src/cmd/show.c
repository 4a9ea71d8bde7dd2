/*
 * cmd/show.c - placeholder for 'ipw show' until it lands.
 */
#include <stdio.h>

#include "cmd.h"

int cmd_show(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ipw show: not available in this build yet\n");
	return EXIT_ENV;
}
