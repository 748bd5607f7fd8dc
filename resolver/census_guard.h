/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which data a function's decisions test: the census records, per read, the
 * first instruction that tests the value read (census_read.tested), so that
 * judging can tell a reference taken after a test of state cpuport
 * re-selects (guarded) from one taken before it or without any (not).
 *
 * "Tests" means: the value loaded from the data (or through the address of
 * the data, or returned by a straight-line leaf predicate that loads it), kept
 * in registers through moves and arithmetic, sets flags that a conditional
 * jump, cmovcc or setcc of the same function then uses.  Order is address
 * order inside the function: a reference at an address before the first such
 * test is not guarded by it.  Not installed.
 */
#ifndef CPUPORT_CENSUS_GUARD_H
#define CPUPORT_CENSUS_GUARD_H

#include "census_build.h"

struct guard_track {
	long reg[16];		/* index in b->reads of the read a register's value derives from, or -1 */
	long tag[16];		/* the address a register holds: a read (>= 0: a table) or an edge (-2 - index) */
	long flags;		/* the read the flags derive from, or -1 */
	uint64_t flags_at;	/* the instruction that set them */
	uint64_t func_start;
};

/* At the start of each function (the sweep's linear order). */
void guard_track_reset(struct guard_track *t, uint64_t func_start);
/*
 * After the facts of @in were recorded (@mem_read: the index of the read its
 * memory operand made, or -1; @tag: the address it takes, see guard_track.tag):
 * mark a read tested when @in is a conditional using flags derived from it,
 * and the addresses a cmov on those flags selects between; then carry values
 * and addresses through @in.
 */
void guard_track_insn(struct build *b, struct guard_track *t, const cs_insn *in, long mem_read, long tag);
/* After a call to a leaf predicate: rax holds a value derived from read @read. */
void guard_track_call_result(struct guard_track *t, long read);
/*
 * Is the code at @target (a direct call's destination from function @fi at
 * @site) a straight-line leaf (at most 24 instructions: no jump, call, push,
 * pop, store or system call) that loads data (its RIP-relative addresses,
 * never code, are what it reads), computes with registers and returns,
 * needing no ISA extension?  Then its
 * reads are recorded as reads of @fi at @site and the first one's index is
 * returned; -ENOENT when it is not such a leaf, -ENOMEM.
 */
long census_leaf_predicate(struct build *b, uint32_t fi, uint64_t target, uint64_t site);

#endif
