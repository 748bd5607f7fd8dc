// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What a resolver's own code can return (see variant_set.h for exactly
 * which instructions are understood).  A forward data-flow over basic
 * blocks: each block start keeps the join of every state that reached it;
 * a block is walked again only when its state grew.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elf_code.h"
#include "internal.h"
#include "variant_set.h"
#include "x86_regs.h"

#define MAX_VALS 64
#define MAX_INSNS 4096
#define MAX_VISITS 512
#define MAX_BLOCKS 256

struct regval {
	bool top;			/* unknown */
	uint8_t n;
	uint64_t v[MAX_VALS];
};

struct state {
	struct regval r[16];
};

struct block {
	uint64_t addr;
	struct state st;
	bool queued;
};

struct walk {
	const struct elf_code *c;
	csh h;
	cs_insn *insn;
	struct block *blocks;
	size_t n_blocks;
	size_t insns, visits;
	struct variant_set *out;
	size_t cap;
};

static void set_top(struct regval *r)
{
	r->top = true;
	r->n = 0;
}

static void set_one(struct regval *r, uint64_t v)
{
	r->top = false;
	r->n = 1;
	r->v[0] = v;
}

/* r |= o; true if r changed */
static bool join(struct regval *r, const struct regval *o)
{
	bool changed = false;

	if (r->top)
		return false;
	if (o->top) {
		set_top(r);
		return true;
	}
	for (uint8_t i = 0; i < o->n; i++) {
		uint8_t k;

		for (k = 0; k < r->n && r->v[k] != o->v[i]; k++)
			;
		if (k < r->n)
			continue;
		if (r->n == MAX_VALS) {
			set_top(r);
			return true;
		}
		r->v[r->n++] = o->v[i];
		changed = true;
	}
	return changed;
}

static bool fail(struct walk *w, const char *fmt, uint64_t addr)
{
	if (w->out->known) {
		w->out->known = false;
		snprintf(w->out->why, sizeof(w->out->why), fmt, (unsigned long long)addr);
	}
	return false;
}

static int add_result(struct walk *w, uint64_t v)
{
	for (size_t i = 0; i < w->out->n; i++)
		if (w->out->addrs[i] == v)
			return 0;
	if (w->out->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 16;
		uint64_t *a = realloc(w->out->addrs, nc * sizeof(*a));

		if (!a)
			return -ENOMEM;
		w->out->addrs = a;
		w->cap = nc;
	}
	w->out->addrs[w->out->n++] = v;
	return 0;
}

/* Merge @st into the block at @addr; queue it when new or grown. */
static bool enter_block(struct walk *w, uint64_t addr, const struct state *st)
{
	struct block *b = NULL;
	bool changed = false;

	if (!elf_code_is_text(w->c, addr))
		return fail(w, "a jump leaves the object's code at %#llx", addr);
	for (size_t i = 0; i < w->n_blocks; i++)
		if (w->blocks[i].addr == addr)
			b = &w->blocks[i];
	if (!b) {
		if (w->n_blocks == MAX_BLOCKS)
			return fail(w, "more than 256 blocks (at %#llx)", addr);
		b = &w->blocks[w->n_blocks++];
		b->addr = addr;
		b->st = *st;
		b->queued = true;
		return true;
	}
	for (int i = 0; i < 16; i++)
		changed |= join(&b->st.r[i], &st->r[i]);
	if (changed)
		b->queued = true;
	return true;
}

/* The value set of a source operand, or top. */
static void operand_value(struct walk *w, const struct state *st, const cs_x86_op *op, struct regval *out)
{
	uint64_t a, v;

	if (op->type == X86_OP_REG) {
		int g = x86_gpr(op->reg);

		if (g >= 0 && (x86_is_gpr64(op->reg) || x86_is_gpr32(op->reg))) {
			*out = st->r[g];
			if (x86_is_gpr32(op->reg) && !out->top)
				for (uint8_t i = 0; i < out->n; i++)
					if (out->v[i] >> 32)
						set_top(out);
			return;
		}
	} else if (op->type == X86_OP_IMM) {
		set_one(out, (uint64_t)op->imm);
		return;
	} else if (op->size == 8 && x86_rip_mem(w->insn, op, &a) && !elf_code_slot_value(w->c, a, &v)) {
		set_one(out, v);
		return;
	}
	set_top(out);
}

static const int caller_saved[] = { 0, 1, 2, 6, 7, 8, 9, 10, 11 };

/* One instruction's effect on @st; false ends this path (ret, trap, or failure). */
static bool step(struct walk *w, struct state *st)
{
	const cs_insn *in = w->insn;
	const cs_x86 *x = &in->detail->x86;
	const cs_x86_op *op = x->operands;
	int g = x->op_count >= 1 && op[0].type == X86_OP_REG ? x86_gpr(op[0].reg) : -1;
	struct regval v;
	uint64_t a;

	switch (in->id) {
	case X86_INS_RET:
		if (st->r[0].top)
			return fail(w, "rax unknown at ret %#llx", in->address);
		for (uint8_t i = 0; i < st->r[0].n; i++) {
			if (!st->r[0].v[i]) {	/* glibc's cacheinfo "resolver" returns 0 */
				w->out->may_be_null = true;
				continue;
			}
			if (!elf_code_is_text(w->c, st->r[0].v[i]))
				return fail(w, "rax may hold a non-code value at ret %#llx", in->address);
			if (add_result(w, st->r[0].v[i]))
				return fail(w, "out of memory at %#llx", in->address);
		}
		return false;
	case X86_INS_INT3:
	case X86_INS_UD2:
	case X86_INS_HLT:
		return false;
	case X86_INS_LEA:
		if (g < 0)
			break;
		if (x86_is_gpr64(op[0].reg) && x86_rip_mem(in, &op[1], &a))
			set_one(&st->r[g], a);
		else
			set_top(&st->r[g]);
		return true;
	case X86_INS_MOV:
	case X86_INS_MOVABS:
		if (g < 0 || x->op_count != 2)
			break;
		if (!x86_is_gpr64(op[0].reg) && !x86_is_gpr32(op[0].reg)) {
			set_top(&st->r[g]);
			return true;
		}
		operand_value(w, st, &op[1], &v);
		if (x86_is_gpr32(op[0].reg) && !v.top)	/* writes zero-extend */
			for (uint8_t i = 0; i < v.n; i++)
				v.v[i] &= 0xffffffffu;
		st->r[g] = v;
		return true;
	case X86_INS_XOR:
		if (g >= 0 && x->op_count == 2 && op[1].type == X86_OP_REG && op[1].reg == op[0].reg &&
		    (x86_is_gpr32(op[0].reg) || x86_is_gpr64(op[0].reg))) {
			set_one(&st->r[g], 0);
			return true;
		}
		break;
	case X86_INS_CALL:
		for (size_t i = 0; i < ARRAY_SIZE(caller_saved); i++)
			set_top(&st->r[caller_saved[i]]);
		return true;
	default:
		if (g >= 0 && !strncmp(in->mnemonic, "cmov", 4) && x->op_count == 2 && x86_is_gpr64(op[0].reg)) {
			operand_value(w, st, &op[1], &v);
			join(&st->r[g], &v);
			return true;
		}
		break;
	}
	/* anything else: every general register it writes becomes unknown */
	{
		cs_regs rd, wr;
		uint8_t nrd, nwr;

		if (cs_regs_access(w->h, in, rd, &nrd, wr, &nwr) != CS_ERR_OK)
			return fail(w, "cannot tell what %#llx writes", in->address);
		for (uint8_t i = 0; i < nwr; i++) {
			int k = x86_gpr(wr[i]);

			if (k >= 0 && k != 4)
				set_top(&st->r[k]);
		}
	}
	return true;
}

static void walk_block(struct walk *w, struct block *b)
{
	struct state st = b->st;
	uint64_t addr = b->addr;

	b->queued = false;
	if (++w->visits > MAX_VISITS) {
		fail(w, "more than 512 block visits (at %#llx)", addr);
		return;
	}
	for (;;) {
		const uint8_t *code = elf_code_bytes(w->c, addr, 1);
		size_t size = 16;
		uint64_t a = addr;
		const cs_x86 *x;

		if (!code || !elf_code_is_text(w->c, addr)) {
			fail(w, "the path leaves the object's code at %#llx", addr);
			return;
		}
		while (size > 1 && !elf_code_bytes(w->c, addr, size))
			size--;
		if (++w->insns > MAX_INSNS) {
			fail(w, "more than 4096 instructions (at %#llx)", addr);
			return;
		}
		if (!cs_disasm_iter(w->h, &code, &size, &a, w->insn)) {
			fail(w, "undecodable instruction at %#llx", addr);
			return;
		}
		x = &w->insn->detail->x86;
		if (w->insn->id == X86_INS_JMP || (x86_in_group(w->insn, X86_GRP_JUMP) && w->insn->id != X86_INS_JMP)) {
			bool cond = w->insn->id != X86_INS_JMP;

			if (x->op_count != 1 || x->operands[0].type != X86_OP_IMM) {
				fail(w, "indirect jump at %#llx", addr);
				return;
			}
			if (!enter_block(w, (uint64_t)x->operands[0].imm, &st) || !cond)
				return;
			if (!enter_block(w, a, &st))
				return;
			return;
		}
		if (!step(w, &st))
			return;
		addr = a;
	}
}

int variant_set_compute(const struct elf_code *c, uint64_t resolver, struct variant_set *out)
{
	struct walk w = { .c = c };
	struct state st;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	out->known = true;
	ret = x86_cs_open(&w.h, &w.insn);
	if (ret)
		return ret;
	w.blocks = calloc(MAX_BLOCKS, sizeof(*w.blocks));
	w.out = out;
	if (!w.blocks) {
		ret = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < 16; i++)
		set_top(&st.r[i]);
	enter_block(&w, resolver, &st);
	for (bool again = true; again && out->known;) {
		again = false;
		for (size_t i = 0; i < w.n_blocks && out->known; i++)
			if (w.blocks[i].queued) {
				walk_block(&w, &w.blocks[i]);
				again = true;
			}
	}
	if (out->known && !out->n && !out->may_be_null)
		fail(&w, "no ret returns a code address (from %#llx)", resolver);
	for (size_t i = 1; i < out->n; i++)	/* sort (small) */
		for (size_t k = i; k > 0 && out->addrs[k - 1] > out->addrs[k]; k--) {
			uint64_t t = out->addrs[k];

			out->addrs[k] = out->addrs[k - 1];
			out->addrs[k - 1] = t;
		}
out:
	x86_cs_close(&w.h, w.insn);
	free(w.blocks);
	if (ret)
		variant_set_free(out);
	return ret;
}

int variant_set_of_file(const char *path, uint64_t resolver, struct variant_set *out)
{
	struct elf_code c;
	int ret = elf_code_open(path, &c);

	if (ret) {
		memset(out, 0, sizeof(*out));
		return ret;
	}
	ret = variant_set_compute(&c, resolver, out);
	elf_code_close(&c);
	return ret;
}

bool variant_set_has(const struct variant_set *s, uint64_t addr)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->addrs[mid] < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n && s->addrs[lo] == addr;
}

void variant_set_free(struct variant_set *s)
{
	free(s->addrs);
	s->addrs = NULL;
	s->n = 0;
}
