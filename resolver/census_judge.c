// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What an object's ISA census means for one destination: for each function
 * that needs a feature the destination lacks, is it reached only through
 * dispatch cpuport re-selects (re-selected), only from code that tests state
 * cpuport re-selects (guarded), or otherwise (self-dispatched: refuse)?
 */
#include <string.h>

#include "isa_census.h"

static bool reader_guarded(const struct isa_census *cen, uint32_t ri, const struct census_env *env)
{
	const struct census_reader *r;

	if (ri >= cen->n_readers)
		return false;
	r = &cen->readers[ri];
	if (r->flags & CF_CPUID)
		return true;	/* tests the CPU itself, each time */
	if (!env || !env->reselected)
		return false;
	for (uint32_t i = 0; i < r->n_reads; i++) {
		const struct census_read *d = &cen->reads[r->read_first + i];

		if (r->read_first + i < cen->n_reads && env->reselected(d->addr, d->via_got, d->disp, env->arg))
			return true;
	}
	return false;
}

/* Is this reference live, and not guarded? */
static bool unguarded_ref(const struct isa_census *cen, const struct census_ref *r, const struct census_env *env)
{
	if (r->kind == CREF_EXPORT)
		return !env || !env->imported || env->imported(r->site, env->arg);
	if (r->from == UINT32_MAX)
		return true;	/* a pointer in data */
	return !reader_guarded(cen, r->from, env);
}

void isa_census_judge(const struct isa_census *cen, const struct featset *missing, const struct census_env *env,
		      struct census_verdict *out)
{
	struct featset miss = *missing;

	memset(out, 0, sizeof(*out));
	if (!miss.w[0] && !miss.w[1])
		return;		/* upgrade direction: old code runs here */
	featset_set(&miss, F_UNKNOWN_ISA);
	for (size_t i = 0; i < cen->n_funcs; i++) {
		const struct census_func *f = &cen->funcs[i];
		const struct census_ref *unguarded = NULL;
		bool live = false;
		struct featset m = { { f->need.w[0] & miss.w[0], f->need.w[1] & miss.w[1] } };
		enum census_class cls;

		if (!m.w[0] && !m.w[1])
			continue;
		for (uint32_t k = 0; k < f->n_refs && !unguarded; k++) {
			const struct census_ref *r = &cen->refs[f->ref_first + k];

			if (f->ref_first + k >= cen->n_refs)
				break;
			if (r->kind == CREF_EXPORT && env && env->imported && !env->imported(r->site, env->arg))
				continue;	/* exported, but nobody binds to it */
			live = true;
			if (unguarded_ref(cen, r, env))
				unguarded = r;
		}
		if (f->flags & CF_DISPATCHED)
			cls = unguarded ? CC_SELF_DISPATCHED : CC_RESELECTED;
		else if (!live)
			cls = CC_NONE;	/* nothing reaches it */
		else if (f->flags & CF_CPUID)
			cls = CC_GUARDED;	/* checks the CPU itself */
		else
			cls = unguarded ? CC_SELF_DISPATCHED : CC_GUARDED;
		if (cls == CC_NONE) {
			out->n_unreached++;
			continue;
		}
		out->missing.w[0] |= m.w[0];
		out->missing.w[1] |= m.w[1];
		if (cls == CC_RESELECTED)
			out->n_reselected++;
		else if (cls == CC_GUARDED)
			out->n_guarded++;
		else
			out->n_self++;
		if (cls > out->cls)
			out->cls = cls;
		if (cls == CC_SELF_DISPATCHED && !out->func) {
			out->func = f;
			out->ref = unguarded;
			for (uint32_t k = 0; k < f->n_ex && f->ex_first + k < cen->n_ex; k++)
				if (featset_has(&m, cen->ex[f->ex_first + k].feature)) {
					out->ex = &cen->ex[f->ex_first + k];
					break;
				}
		}
	}
}

const char *census_class_name(enum census_class c)
{
	switch (c) {
	case CC_NONE: return "runs";
	case CC_RESELECTED: return "re-selected";
	case CC_GUARDED: return "guarded";
	case CC_SELF_DISPATCHED: return "self-dispatched";
	}
	return "?";
}

const char *census_feature_name(uint32_t f)
{
	return f == F_UNKNOWN_ISA ? "an extension capstone cannot decode" : feature_name((enum feature)f);
}
