// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Refusals no single record decides: a glibc whose CPU state cpuport cannot
 * find (only when the target lacks features the source had), then every
 * kind's own (kind_census.c: code that chooses its own instructions).
 */
#include <string.h>

#include "restore.h"

/*
 * Without ld.so's cpu_features (a glibc whose layout cpuport does not know),
 * later lazy binds, dlopen and the trampoline's XSAVE area would still follow
 * the source CPU: only safe when the destination has exactly its features.
 */
static int check_layout_known(struct restore *r)
{
	struct cpu_desc src;
	const Cpuport__Object *ld;

	if (r->interp < 0 || find_state(r->img, r->interp, CPUPORT__STATE_KIND__CPU_FEATURES))
		return 0;
	ld = r->img->objects[r->interp];
	if (!cpu_desc_from_image(r->img->source_cpu, &src) && !memcmp(&src.feat, &r->ctx->target.feat, sizeof(src.feat)))
		return 0;
	log_err(r->ctx, "pid %d: %s (glibc %s) keeps its CPU features where cpuport does not know: on a CPU other "
		"than the source its later lazy binds and dlopen would pick the source's variants; restore on "
		"the same CPU model, or use a glibc cpuport supports (2.36, 2.41)\n", r->pid, ld->path,
		ld->glibc_version ?: "unknown");
	return -EPROTONOSUPPORT;
}

/* These, then every kind's own (e.g. code no resolver chose that the target cannot run). */
int check_policies(struct restore *r)
{
	int ret = check_layout_known(r);

	for (const struct cpuport_kind *const *k = cpuport_kinds; *k && !ret; k++)
		if ((*k)->policy)
			ret = (*k)->policy(r);
	return ret;
}
