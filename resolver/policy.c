// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Refusals no single record decides: a glibc whose CPU state cpuport cannot
 * find, and libraries that choose code from a private CPUID copy.  Both
 * only matter when the target lacks features the source had.
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

/*
 * Libraries that pick their code from a private CPUID copy, not through
 * IFUNCs (OpenSSL's OPENSSL_ia32cap_P, libgcrypt's hwfeatures, OpenBLAS's
 * core table): cpuport cannot re-select inside them.  On a CPU without some
 * of the source's features they may run instructions it lacks: refuse.
 */
static const char *const self_dispatching[] = {
	"libcrypto.so", "libgcrypt.so", "libopenblas", "libblis.so", "libmkl_", "libx264.so", "libdav1d.so",
	NULL,
};

static int check_self_dispatching(struct restore *r)
{
	struct cpu_desc src;
	struct featset missing;
	char miss[256];

	if (cpu_desc_from_image(r->img->source_cpu, &src))
		return 0;
	missing.w[0] = src.feat.w[0] & ~r->ctx->target.feat.w[0];
	missing.w[1] = src.feat.w[1] & ~r->ctx->target.feat.w[1];
	if (!missing.w[0] && !missing.w[1])
		return 0;	/* same or better CPU: such libraries keep working (on their old paths) */
	for (size_t i = 0; i < r->img->n_objects; i++) {
		const char *base = strrchr(r->img->objects[i]->path, '/');

		base = base ? base + 1 : r->img->objects[i]->path;
		for (const char *const *lib = self_dispatching; *lib; lib++) {
			if (strncmp(base, *lib, strlen(*lib)))
				continue;
			featset_str(&missing, miss, sizeof(miss));
			log_err(r->ctx, "pid %d: %s chooses its code from its own CPUID copy, which cpuport cannot "
				"re-select, and this CPU (%s) lacks %s that the source had: it could run instructions "
				"this CPU lacks. Restore on a CPU with the source's features, or re-dump here\n", r->pid,
				r->img->objects[i]->path, target_label(r), miss);
			return -EDEADLK;
		}
	}
	return 0;
}

/* These, then every kind's own (e.g. code no resolver chose that the target cannot run). */
int check_policies(struct restore *r)
{
	int ret = check_layout_known(r);

	ret = ret ?: check_self_dispatching(r);
	for (const struct cpuport_kind *const *k = cpuport_kinds; *k && !ret; k++)
		if ((*k)->policy)
			ret = (*k)->policy(r);
	return ret;
}
