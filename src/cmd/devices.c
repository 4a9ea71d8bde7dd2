/*
 * cmd/devices.c - placeholder for 'ipw devices' until it lands.
 */
#include <stdio.h>

#include "cmd.h"

int cmd_devices(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ipw devices: not available in this build yet\n");
	return EXIT_ENV;
}
