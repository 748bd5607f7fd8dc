// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Which data a function's decisions test (part of the ISA census; see
 * census_guard.h): values are followed from the data they were loaded from
 * (or from the address of that data) through registers to the instruction
 * that sets flags, and a read counts as tested once a conditional jump, cmov
 * or setcc uses those flags.  A direct call to a straight-line leaf that only
 * loads data and returns (OpenSSL's rsaz_avx2_eligible(): load
 * OPENSSL_ia32cap_P, mask, cmov, ret) counts as reading that data into rax at
 * the call, and the call itself reaches no other code.
 */
#include <string.h>

#include "census_guard.h"
#include "elf_code.h"

void guard_track_reset(struct guard_track *t, uint64_t func_start)
{
	for (int i = 0; i < 16; i++)
		t->reg[i] = t->tag[i] = -1;
	t->flags = -1;
	t->flags_at = 0;
	t->func_start = func_start;
}

static bool consumes_flags(const cs_insn *in)
{
	if (x86_in_group(in, X86_GRP_JUMP))
		return in->id != X86_INS_JMP && in->id != X86_INS_LJMP;
	if (in->id >= X86_INS_CMOVA && in->id <= X86_INS_CMOVS)
		return in->id != X86_INS_FCMOVBE && in->id != X86_INS_FCMOVB && in->id != X86_INS_FCMOVE &&
		       in->id != X86_INS_FCMOVNBE && in->id != X86_INS_FCMOVNB && in->id != X86_INS_FCMOVNE &&
		       in->id != X86_INS_FCMOVNU && in->id != X86_INS_FCMOVU;
	return in->id >= X86_INS_SETAE && in->id <= X86_INS_SETS;
}

#define SETS_FLAGS (X86_EFLAGS_MODIFY_ZF | X86_EFLAGS_MODIFY_CF | X86_EFLAGS_MODIFY_SF | X86_EFLAGS_MODIFY_OF | \
		    X86_EFLAGS_RESET_CF | X86_EFLAGS_RESET_OF | X86_EFLAGS_SET_CF)

/* A cmov on flags derived from read @by chose the address register @g holds. */
static void selected(struct build *b, const struct guard_track *t, int g, long by)
{
	long tag = g >= 0 ? t->tag[g] : -1;

	if (tag >= 0 && (size_t)tag < b->reads.n)
		((struct rd *)b->reads.p)[tag].sel = by;
	else if (tag <= -2 && (size_t)(-2 - tag) < b->edges.n)
		((struct edge *)b->edges.p)[-2 - tag].sel = by;
}

static bool is_cmov(const cs_insn *in)
{
	return in->id >= X86_INS_CMOVA && in->id <= X86_INS_CMOVS && consumes_flags(in) &&
	       !x86_in_group(in, X86_GRP_JUMP);
}

void guard_track_insn(struct build *b, struct guard_track *t, const cs_insn *in, long mem_read, long tag)
{
	const cs_x86 *x = &in->detail->x86;
	struct rd *rd = b->reads.p;
	long src = mem_read;
	bool zeroing = (in->id == X86_INS_XOR || in->id == X86_INS_SUB) && x->op_count == 2 &&
		       x->operands[0].type == X86_OP_REG && x->operands[1].type == X86_OP_REG &&
		       x->operands[0].reg == x->operands[1].reg;

	if ((in->id == X86_INS_JMP) && x->op_count == 1 && x->operands[0].type == X86_OP_IMM) {
		/* a value handed on in a register to the code jumped to (perlasm's shared tails) */
		for (int g = 0; g < 16; g++)
			if (t->reg[g] >= 0 && (size_t)t->reg[g] < b->reads.n && !rd[t->reg[g]].r.tested &&
			    in->address >= t->func_start && in->address - t->func_start < UINT32_MAX)
				rd[t->reg[g]].r.tested = (uint32_t)(in->address - t->func_start + 1);
	}
	if (consumes_flags(in) && t->flags >= 0 && (size_t)t->flags < b->reads.n && !rd[t->flags].r.tested &&
	    t->flags_at >= t->func_start && t->flags_at - t->func_start < UINT32_MAX)
		rd[t->flags].r.tested = (uint32_t)(t->flags_at - t->func_start + 1);
	if (is_cmov(in) && t->flags >= 0 && x->op_count == 2 && x->operands[0].type == X86_OP_REG &&
	    x->operands[1].type == X86_OP_REG) {
		selected(b, t, x86_gpr(x->operands[0].reg), t->flags);
		selected(b, t, x86_gpr(x->operands[1].reg), t->flags);
	}
	/* the value this instruction computes: from the data it reads, or from a register holding such a value */
	for (uint8_t i = 0; i < x->op_count && src < 0 && !zeroing; i++) {
		const cs_x86_op *op = &x->operands[i];
		int g = -1;

		if (op->type == X86_OP_REG && (op->access & CS_AC_READ))
			g = x86_gpr(op->reg);
		else if (op->type == X86_OP_MEM && in->id != X86_INS_LEA)
			g = x86_gpr(op->mem.base);	/* [reg+disp] through the address of the data */
		if (g >= 0)
			src = t->reg[g];
	}
	if (in->id == X86_INS_CALL) {
		static const int clobber[] = { 0, 1, 2, 6, 7, 8, 9, 10, 11 };

		for (size_t i = 0; i < ARRAY_SIZE(clobber); i++)
			t->reg[clobber[i]] = t->tag[clobber[i]] = -1;
		t->flags = -1;
		return;
	}
	if (tag == -1 && in->id == X86_INS_MOV && x->op_count == 2 && x->operands[1].type == X86_OP_REG &&
	    x86_gpr(x->operands[1].reg) >= 0)
		tag = t->tag[x86_gpr(x->operands[1].reg)];	/* the address moves with the register */
	if (x->eflags & SETS_FLAGS) {
		t->flags = src;
		t->flags_at = in->address;
	}
	for (uint8_t i = 0; i < x->op_count; i++) {
		const cs_x86_op *op = &x->operands[i];
		int g;

		if (op->type == X86_OP_REG && (op->access & CS_AC_WRITE) && (g = x86_gpr(op->reg)) >= 0) {
			t->reg[g] = src;
			t->tag[g] = tag;
		}
	}
}

void guard_track_call_result(struct guard_track *t, long read)
{
	t->reg[0] = read;
}

/* Decode the straight-line leaf at @target (see census_leaf_predicate); 0 and its reads, or -ENOENT. */
static long leaf_reads(struct build *b, uint64_t target, uint64_t reads[4], size_t *n_reads)
{
	const struct elf_code *c = b->c;
	uint64_t addr = target;

	*n_reads = 0;
	for (int k = 0; k < 24; k++) {
		const uint8_t *code = elf_code_bytes(c, addr, 1);
		size_t size = 15;
		uint64_t a = addr;
		struct featset need = { { 0, 0 } };
		const cs_x86 *x;

		while (size > 1 && !elf_code_bytes(c, addr, size))
			size--;
		if (!code || !cs_disasm_iter(b->h, &code, &size, &a, b->peek))
			return -ENOENT;
		x = &b->peek->detail->x86;
		isa_insn_needs(b->peek, &need);
		if (!census_featset_empty(&need))
			return -ENOENT;	/* the callee itself needs an extension: not a mere test */
		if (b->peek->id == X86_INS_RET) {
			if (!*n_reads)
				return -ENOENT;
			break;
		}
		if (x86_in_group(b->peek, X86_GRP_JUMP) || x86_in_group(b->peek, X86_GRP_CALL) ||
		    x86_in_group(b->peek, X86_GRP_INT) || x86_in_group(b->peek, X86_GRP_IRET) ||
		    b->peek->id == X86_INS_PUSH || b->peek->id == X86_INS_POP || b->peek->id == X86_INS_SYSCALL)
			return -ENOENT;
		for (uint8_t i = 0; i < x->op_count; i++) {
			const cs_x86_op *op = &x->operands[i];
			uint64_t m;

			if (op->type != X86_OP_MEM)
				continue;
			if (op->access & CS_AC_WRITE)
				return -ENOENT;	/* stores: more than a test */
			if (!x86_rip_mem(b->peek, op, &m))
				continue;	/* a load through a register (the data's address, from a lea) */
			if (elf_code_is_text(c, m) || *n_reads == 4)
				return -ENOENT;	/* the address of code: more than a test */
			reads[(*n_reads)++] = m;
		}
		addr = a;
	}
	if (addr == target || b->peek->id != X86_INS_RET)
		return -ENOENT;
	return 0;
}

long census_leaf_predicate(struct build *b, uint32_t fi, uint64_t target, uint64_t site)
{
	const struct elf_code *c = b->c;
	uint32_t tf = census_func_idx(c, target);
	bool at_start = tf != UINT32_MAX && c->funcs[tf].start == target;
	uint64_t reads[4];
	size_t n_reads = 0;
	long first;

	if (!b->peek || (at_start && b->not_pred && b->not_pred[tf]))
		return -ENOENT;
	first = leaf_reads(b, target, reads, &n_reads);
	if (first == -ENOENT && at_start && b->not_pred)
		b->not_pred[tf] = 1;	/* most calls go to a few functions: decode each once */
	if (first < 0)
		return first;
	first = -1;
	for (size_t i = 0; i < n_reads; i++) {
		long r = census_add_read(b, fi, reads[i], 0, false, site);

		if (r < 0)
			return r;
		if (first < 0)
			first = r;
	}
	return first;
}
