/*
 * cmd/export.c - placeholder for 'ipw export' until it lands.
 */
#include <stdio.h>

#include "cmd.h"

int cmd_export(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ipw export: not available in this build yet\n");
	return EXIT_ENV;
}
