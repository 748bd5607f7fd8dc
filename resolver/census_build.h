/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Building an ISA census (isa_census.c: the sweep and dispatch; census_refs.c: references).  Not installed. */
#ifndef CPUPORT_CENSUS_BUILD_H
#define CPUPORT_CENSUS_BUILD_H

#include "elf_code.h"
#include "isa_census.h"

struct edge {
	uint32_t from, to;
	uint64_t site;
	uint32_t kind;
};

struct rd {
	uint32_t func;
	struct census_read r;
};

struct vec {
	void *p;
	size_t n, cap, sz;
};

struct fwork {
	struct featset need;
	uint32_t flags;
	bool resolver, reached, in_s, reader, inter, inter_new;
	size_t ex_first, n_ex;
};

struct build {
	const struct elf_code *c;
	struct fwork *fw;
	struct vec ex, edges, reads;	/* census_example (+func in addr order), edge, rd */
	uint64_t n_insns, n_undecodable;
};

void *census_vec_push(struct vec *v);
bool census_featset_empty(const struct featset *s);
uint32_t census_func_idx(const struct elf_code *c, uint64_t addr);
/* Which references reach needy code from outside dispatch; fills @cen's arrays. */
int census_collect(struct build *b, struct isa_census *cen);

#endif
