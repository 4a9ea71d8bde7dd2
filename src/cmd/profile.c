/*
 * cmd/profile.c - placeholder for 'ipw profile' until it lands.
 */
#include <stdio.h>

#include "cmd.h"

int cmd_profile(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ipw profile: not available in this build yet\n");
	return EXIT_ENV;
}
