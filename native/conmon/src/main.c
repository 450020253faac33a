/* crius-conmon: the per-container monitor of crius, a drop-in for the
 * subset of containers/conmon 2.x that runtime-svc uses (../README.md).
 * main only parses and validates; monitor.c does the work. */
#include "cli.h"
#include "monitor.h"

#include <stdio.h>

#ifndef CM_VERSION
#define CM_VERSION "0.1.0"
#endif

int main(int argc, char **argv)
{
	struct options opt;
	int rc = 1;
	if (cli_parse(argc, argv, &opt) < 0)
		goto out;
	if (opt.help || opt.version) {
		if (opt.help)
			cli_usage();
		else
			printf("crius-conmon version %s\nconmon-compatible: 2.1.6 subset\n", CM_VERSION);
		rc = 0;
		goto out;
	}
	if (cli_validate(&opt) < 0)
		goto out;
	rc = monitor_main(&opt);
out:
	cli_free(&opt);
	return rc & 0xff;
}
