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

#endif
