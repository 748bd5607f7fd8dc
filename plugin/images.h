/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every image cpuport writes into CRIU's images directory. */
#ifndef CPUPORT_PLUGIN_IMAGES_H
#define CPUPORT_PLUGIN_IMAGES_H

#include <stdbool.h>

#include "cpuport.h"

/*
 * The resolved callsite table of one process, keyed by its innermost NSpid:
 * CPUPORT_IMG_FMT, named by cpuport_image_name() (cpuport.h, shared with the
 * cpuport tool).
 */

int image_write(const struct cpuport_table *table, pid_t id);
/* How many cpuport images the images directory holds, or -errno. */
int image_count(void);
/* -ENOENT if the process has no image */
int image_read(struct cpuport_ctx *ctx, pid_t id, struct cpuport_table **table);

/* Copied-pointer sites found at dump (ptr_sites.c): a hint beside the image, checked against it. */
#define CPUPORT_SITES_FMT "cpuport-%d.sites"
/* the file a worker wrote (sites_jobs.c, cpuport_sites_job__write_fd), after a successful wait */
int image_write_sites_job(const struct cpuport_sites_job *job, pid_t id);
/* attach them to @t: 0, -ENOENT (none), -EINVAL (not for this image: ignored) */
int image_read_sites(struct cpuport_table *t, pid_t id);

#endif
