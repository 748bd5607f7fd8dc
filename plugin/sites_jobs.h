/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The dump's copied-pointer sites scans, in worker processes beside CRIU's page dump (sites_jobs.c). */
#ifndef CPUPORT_PLUGIN_SITES_JOBS_H
#define CPUPORT_PLUGIN_SITES_JOBS_H

#include <stdbool.h>

#include "cpuport.h"

/* CHECKPOINT_DEVICES: a worker for @pid (frozen until fini), unless it has too little memory to be worth it */
void sites_jobs_start(struct cpuport_ctx *ctx, const struct cpuport_table *t, int pid, int timeout_ms);
/* fini(DUMP): each worker's sites file stored (@dump_ok) or the workers killed; every failure logged */
void sites_jobs_finish(bool dump_ok, int timeout_ms);

#endif
