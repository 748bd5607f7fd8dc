/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Building an ISA census (isa_census.c: the sweep and dispatch; census_refs.c: references).  Not installed. */
#ifndef CPUPORT_CENSUS_BUILD_H
#define CPUPORT_CENSUS_BUILD_H

#include "elf_code.h"
#include "isa_census.h"
#include "x86_regs.h"

struct edge {
	uint32_t from, to;
	uint64_t site;
	uint32_t kind;
	uint64_t take;		/* the instruction in @from that calls or takes the address (0: none) */
	uint64_t table;		/* CREF_DATA: the table's address as code takes it (0: none) */
	long sel;		/* the read (b->reads) whose test selects the taken address by cmov, or -1 */
};

struct rd {
	uint32_t func;
	struct census_read r;
	uint64_t site;		/* the instruction that reads (or takes the address of) it */
	long sel;		/* the read whose test selects this taken address by cmov, or -1 */
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
	csh h;			/* capstone, and a second instruction buffer for look-aheads (census_guard.c) */
	cs_insn *peek;
	uint8_t *not_pred;	/* per function: its start is known not to be a leaf predicate */
	struct fwork *fw;
	struct vec ex, edges, reads;	/* census_example (+func in addr order), edge, rd */
	uint64_t n_insns, n_undecodable;
};

void *census_vec_push(struct vec *v);
/* Append a read by function @fi at instruction @site; its index in b->reads, or -ENOMEM. */
long census_add_read(struct build *b, uint32_t fi, uint64_t addr, int64_t disp, bool via_got, uint64_t site);
bool census_featset_empty(const struct featset *s);
uint32_t census_func_idx(const struct elf_code *c, uint64_t addr);
/* Which references reach needy code from outside dispatch; fills @cen's arrays. */
int census_collect(struct build *b, struct isa_census *cen);

#endif
