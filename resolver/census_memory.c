// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The ISA census of code read from a process's memory (JIT code): one
 * pseudo-function, no dispatch.  Its examples (one per extension) are the
 * extensions' last instructions in the mapping, most used extension first:
 * a JIT code cache starts with the stubs its runtime generated at start-up
 * (HotSpot's CPU-detection stub runs XGETBV and AVX once, behind its own
 * CPUID tests), while the code compiled from the program, which runs again
 * and again, comes later and is where most of those instructions are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstone/capstone.h>

#include "census_build.h"
#include "x86_regs.h"

/* Most used extension first (@arg: instructions per extension); ties by the order of the extensions. */
static int by_count(const void *a, const void *b, void *arg)
{
	const struct census_example *x = a, *y = b;
	const uint32_t *count = arg;

	if (count[x->feature] != count[y->feature])
		return count[x->feature] > count[y->feature] ? -1 : 1;
	return x->feature < y->feature ? -1 : x->feature > y->feature;
}

int isa_census_of_memory(const uint8_t *code, size_t len, uint64_t addr, struct isa_census **out)
{
	struct isa_census *cen = calloc(1, sizeof(*cen));
	struct vec ex = { .sz = sizeof(struct census_example) };
	uint32_t count[F__COUNT] = { 0 };
	size_t slot[F__COUNT];	/* index in ex of each extension's example */
	struct census_func *f;
	cs_insn *in = NULL;
	csh h = 0;
	int ret = -ENOMEM;

	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (!cen || !f)
		goto out;
	cen->funcs = f;
	cen->n_funcs = 1;
	f->start = addr;
	f->end = addr + len;
	ret = x86_cs_open(&h, &in);
	if (ret)
		goto out;
	ret = -ENOMEM;
	for (size_t off = 0; off < len;) {
		const uint8_t *p = code + off;
		size_t size = len - off > 16 ? 16 : len - off;
		uint64_t a = addr + off;
		struct featset need = { { 0, 0 } };
		const char *mn = "(undecodable)";

		if (cs_disasm_iter(h, &p, &size, &a, in)) {
			isa_insn_needs(in, &need);
			mn = in->mnemonic;
			cen->n_insns++;
		} else {
			/* JIT code caches hold data too: unknown bytes are not counted there */
			size_t l = isa_insn_length(code + off, len - off > 15 ? 15 : len - off);

			cen->n_undecodable++;
			a = addr + off + (l ? l : 1);
		}
		for (uint32_t ft = 0; ft < F__COUNT; ft++) {
			struct census_example *e;

			if (!featset_has(&need, ft))
				continue;
			count[ft]++;
			if (!featset_has(&f->need, ft)) {
				featset_set(&f->need, ft);
				e = census_vec_push(&ex);
				if (!e)
					goto out;
				slot[ft] = ex.n - 1;
			}
			e = (struct census_example *)ex.p + slot[ft];	/* the latest instruction */
			*e = (struct census_example){ addr + off, ft, "" };
			snprintf(e->mnemonic, sizeof(e->mnemonic), "%s", mn);
		}
		off = a - addr;
	}
	if (ex.n)
		qsort_r(ex.p, ex.n, ex.sz, by_count, count);
	f->n_ex = (uint32_t)ex.n;
	cen->need = f->need;
	cen->ex = ex.p, cen->n_ex = ex.n, ex.p = NULL;
	if (!cen->n_ex)
		cen->n_funcs = 0;
	ret = 0;
out:
	free(ex.p);
	x86_cs_close(&h, in);
	if (ret)
		isa_census_free(cen);
	else
		*out = cen;
	return ret;
}
