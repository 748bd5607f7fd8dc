// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What an object's ISA census means for one destination: for each function
 * that needs a feature the destination lacks, is it reached only through
 * dispatch cpuport re-selects (re-selected), only from code that tests state
 * cpuport re-selects (guarded), or otherwise (self-dispatched: refuse)?
 */
#include <stdlib.h>
#include <string.h>

#include "isa_census.h"

/* The census function starting where reader @ri starts (a needy reader), or -1. */
static long reader_func(const struct isa_census *cen, uint32_t ri)
{
	size_t lo = 0, hi = cen->n_funcs;
	uint64_t start = cen->readers[ri].start;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (cen->funcs[mid].start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < cen->n_funcs && cen->funcs[lo].start == start ? (long)lo : -1;
}

/* What does not change while classifying: per reader "tests the CPU or re-selected state", per ref "live". */
struct memo {
	const struct isa_census *cen;
	const struct census_env *env;
	uint8_t *reader_state;	/* 0 unknown, 1 guarded by state/cpuid, 2 not */
	uint8_t *ref_live;	/* exports: 0 unknown, 1 imported, 2 not */
	long *reader_fn;	/* the census function a reader is, or -1; -2: not looked up yet */
};

/*
 * Does reader @ri test state cpuport re-selects (a value read from it sets
 * flags a conditional jump, cmov or setcc uses, or is handed on in a register
 * at a jump; census_guard.c)?  A reader running cpuid tests the CPU itself,
 * each time.  A read that is never tested (loaded and stored elsewhere, say)
 * guards nothing.  Where in the function the test is does not count: the
 * census has no control-flow graph (a reference taken on both sides of a test
 * counts as guarded).
 */
static bool state_guarded(struct memo *m, uint32_t ri)
{
	const struct census_reader *r = &m->cen->readers[ri];
	bool g = false;

	if (m->reader_state[ri])
		return m->reader_state[ri] == 1;
	if (r->flags & CF_CPUID)
		g = true;
	for (uint32_t i = 0; !g && m->env && m->env->reselected && i < r->n_reads; i++) {
		const struct census_read *d = &m->cen->reads[r->read_first + i];

		if (r->read_first + i < m->cen->n_reads && d->tested)
			g = m->env->reselected(d->addr, d->via_got, d->disp, m->env->arg);
	}
	m->reader_state[ri] = g ? 1 : 2;
	return g;
}

static bool ref_live(struct memo *m, size_t k)
{
	const struct census_ref *r = &m->cen->refs[k];

	if (r->kind != CREF_EXPORT || !m->env || !m->env->imported)
		return true;
	if (!m->ref_live[k])
		m->ref_live[k] = m->env->imported(r->site, m->env->arg) ? 1 : 2;
	return m->ref_live[k] == 1;
}

/*
 * A reference @ref is guarded when the code holding it tests the CPU itself
 * (cpuid), tests state cpuport re-selects, selects the taken address with a
 * cmov on such a test, or is
 * itself needy code that only runs when its own reaching conditions held (not
 * self-dispatched, per @cls).
 */
static bool reader_guarded(struct memo *m, const struct census_ref *ref, const enum census_class *cls)
{
	uint32_t ri = ref->from;
	const struct census_reader *r;

	if (ri >= m->cen->n_readers)
		return false;
	r = &m->cen->readers[ri];
	if (state_guarded(m, ri))
		return true;
	if (ref->sel && ref->sel <= r->n_reads && r->read_first + ref->sel - 1 < m->cen->n_reads && m->env &&
	    m->env->reselected) {	/* a cmov on a test of re-selected state chose the address */
		const struct census_read *d = &m->cen->reads[r->read_first + ref->sel - 1];

		if (d->tested && m->env->reselected(d->addr, d->via_got, d->disp, m->env->arg))
			return true;
	}
	if (m->reader_fn[ri] == -2)
		m->reader_fn[ri] = reader_func(m->cen, ri);
	return m->reader_fn[ri] >= 0 && cls[m->reader_fn[ri]] != CC_SELF_DISPATCHED;
}

/* How function @i is reached (ignoring what it needs); *unguarded: the reference that makes it unsafe. */
static enum census_class reach(struct memo *m, size_t i, const enum census_class *cls,
			       const struct census_ref **unguarded)
{
	const struct isa_census *cen = m->cen;
	const struct census_func *f = &cen->funcs[i];
	bool live = false;

	*unguarded = NULL;
	for (uint32_t k = 0; k < f->n_refs && !*unguarded && f->ref_first + k < cen->n_refs; k++) {
		const struct census_ref *r = &cen->refs[f->ref_first + k];

		if (!ref_live(m, f->ref_first + k))
			continue;	/* exported, but nobody binds to it */
		live = true;
		if (r->kind == CREF_EXPORT || r->from == UINT32_MAX || !reader_guarded(m, r, cls))
			*unguarded = r;	/* imported, a pointer in data, or called/taken without a guard */
	}
	if (f->flags & CF_DISPATCHED)
		return *unguarded ? CC_SELF_DISPATCHED : CC_RESELECTED;
	if (!live)
		return CC_NONE;		/* nothing reaches it */
	if (f->flags & CF_CPUID)
		return CC_GUARDED;	/* checks the CPU itself */
	return *unguarded ? CC_SELF_DISPATCHED : CC_GUARDED;
}

static int memo_init(struct memo *m, const struct isa_census *cen, const struct census_env *env)
{
	m->cen = cen;
	m->env = env;
	m->reader_state = calloc(cen->n_readers + 1, 1);
	m->ref_live = calloc(cen->n_refs + 1, 1);
	m->reader_fn = malloc((cen->n_readers + 1) * sizeof(*m->reader_fn));
	if (!m->reader_state || !m->ref_live || !m->reader_fn)
		return -ENOMEM;
	for (size_t i = 0; i < cen->n_readers; i++)
		m->reader_fn[i] = -2;
	return 0;
}

static void memo_free(struct memo *m)
{
	free(m->reader_state);
	free(m->ref_live);
	free(m->reader_fn);
}

/*
 * Which functions are reachable without a guard: the least fixpoint, from
 * "everything safe", of "some live reference to it is unguarded".  A
 * reference from needy code counts as guarded by that code's own class, so a
 * cycle (perlasm's shared tails jumping back and forth) entered only through
 * guarded references stays safe, and one entered otherwise becomes unsafe.
 * A class only ever moves to self-dispatched, so this ends; should it not
 * within n_funcs + 2 rounds, everything is self-dispatched (fail closed).
 */
static void classify(struct memo *m, enum census_class *cls)
{
	const struct census_ref *ug;
	bool changed = true;
	size_t round = 0;

	for (size_t i = 0; i < m->cen->n_funcs; i++)
		cls[i] = CC_GUARDED;
	for (; changed && round <= m->cen->n_funcs + 2; round++) {
		changed = false;
		for (size_t i = 0; i < m->cen->n_funcs; i++) {
			enum census_class c = reach(m, i, cls, &ug);

			if (c != cls[i]) {
				changed = changed || c == CC_SELF_DISPATCHED || cls[i] == CC_SELF_DISPATCHED;
				cls[i] = c;
			}
		}
	}
	if (changed)
		for (size_t i = 0; i < m->cen->n_funcs; i++)
			cls[i] = CC_SELF_DISPATCHED;
}

void isa_census_classify(const struct isa_census *cen, const struct census_env *env, enum census_class *cls)
{
	struct memo m = { 0 };

	if (memo_init(&m, cen, env)) {
		for (size_t i = 0; i < cen->n_funcs; i++)	/* fail closed */
			cls[i] = CC_SELF_DISPATCHED;
	} else {
		classify(&m, cls);
	}
	memo_free(&m);
}

void isa_census_judge(const struct isa_census *cen, const struct featset *missing, const struct census_env *env,
		      struct census_verdict *out)
{
	struct featset miss = *missing;
	enum census_class *cls = NULL;
	const struct census_ref *ug;
	struct memo memo = { 0 };

	memset(out, 0, sizeof(*out));
	if (!miss.w[0] && !miss.w[1])
		return;		/* upgrade direction: old code runs here */
	featset_set(&miss, F_UNKNOWN_ISA);
	cls = malloc((cen->n_funcs + 1) * sizeof(*cls));
	if (!cls || memo_init(&memo, cen, env)) {
		out->cls = CC_SELF_DISPATCHED;	/* fail closed */
		out->func = cen->n_funcs ? &cen->funcs[0] : NULL;
		goto out;
	}
	classify(&memo, cls);
	for (size_t i = 0; i < cen->n_funcs; i++) {
		const struct census_func *f = &cen->funcs[i];
		struct featset m = { { f->need.w[0] & miss.w[0], f->need.w[1] & miss.w[1] } };
		enum census_class c;

		if (!m.w[0] && !m.w[1])
			continue;
		c = reach(&memo, i, cls, &ug);
		if (c == CC_NONE) {
			out->n_unreached++;
			continue;
		}
		out->missing.w[0] |= m.w[0];
		out->missing.w[1] |= m.w[1];
		if (c == CC_RESELECTED)
			out->n_reselected++;
		else if (c == CC_GUARDED)
			out->n_guarded++;
		else
			out->n_self++;
		if (c > out->cls)
			out->cls = c;
		if (c == CC_SELF_DISPATCHED && !out->func) {
			out->func = f;
			out->ref = ug;
			for (uint32_t k = 0; k < f->n_ex && f->ex_first + k < cen->n_ex; k++)
				if (featset_has(&m, cen->ex[f->ex_first + k].feature)) {
					out->ex = &cen->ex[f->ex_first + k];
					break;
				}
		}
	}
out:
	memo_free(&memo);
	free(cls);
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
