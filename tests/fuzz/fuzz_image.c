// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: the cpuport image decoder and validator.  Any input must
 * either be rejected or decode into a table that prints, checks against
 * nothing (no files), and re-encodes, with no crash, leak or UB.
 */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

static struct cpuport_ctx *ctx;
static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ctx = cpuport_ctx__new(NULL);
	devnull = fopen("/dev/null", "w");
	return ctx && devnull ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cpuport_table *t = NULL;
	CPUPORT_OPTS(cpuport_table_stats, st);
	void *buf = NULL;
	size_t len;

	if (cpuport_table__decode(ctx, data, size, &t))
		return 0;
	cpuport_table__stats(t, &st);
	cpuport_table__print(t, devnull, false);
	cpuport_table__print(t, devnull, true);
	if (!cpuport_table__encode(t, &buf, &len))
		free(buf);
	cpuport_table__free(t);
	return 0;
}
