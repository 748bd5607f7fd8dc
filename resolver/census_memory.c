// SPDX-License-Identifier: LGPL-2.1-or-later
/* The ISA census of code read from a process's memory (JIT code): one pseudo-function, no dispatch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstone/capstone.h>

#include "census_build.h"
#include "x86_regs.h"

int isa_census_of_memory(const uint8_t *code, size_t len, uint64_t addr, struct isa_census **out)
{
	struct isa_census *cen = calloc(1, sizeof(*cen));
	struct vec ex = { .sz = sizeof(struct census_example) };
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

			if (!featset_has(&need, ft) || featset_has(&f->need, ft))
				continue;
			featset_set(&f->need, ft);
			e = census_vec_push(&ex);
			if (!e)
				goto out;
			*e = (struct census_example){ addr + off, ft, "" };
			snprintf(e->mnemonic, sizeof(e->mnemonic), "%s", mn);
		}
		off = a - addr;
	}
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
