// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The ISA census of an object (see isa_census.h for what is decided and
 * how): one linear capstone sweep, the dispatch closure from the resolvers'
 * variant sets, and the references that reach needy code from elsewhere.
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elf_code.h"
#include "isa_census.h"
#include "variant_set.h"
#include "census_build.h"
#include "census_guard.h"
#include "x86_regs.h"

void *census_vec_push(struct vec *v)
{
	if (v->n == v->cap) {
		size_t nc = v->cap ? v->cap * 2 : 256;
		void *p = realloc(v->p, nc * v->sz);

		if (!p)
			return NULL;
		v->p = p;
		v->cap = nc;
	}
	return memset((char *)v->p + v->n++ * v->sz, 0, v->sz);
}


bool census_featset_empty(const struct featset *s)
{
	return !s->w[0] && !s->w[1];
}

uint32_t census_func_idx(const struct elf_code *c, uint64_t addr)
{
	const struct elf_code_func *f = elf_code_func_at(c, addr);

	return f ? (uint32_t)(f - c->funcs) : UINT32_MAX;
}

static int add_needs(struct build *b, uint32_t fi, const struct featset *need, uint64_t addr, const char *mnem)
{
	struct fwork *w = &b->fw[fi];

	for (uint32_t f = 0; f <= F_UNKNOWN_ISA; f++) {
		struct census_example *e;

		if (!featset_has(need, f) || featset_has(&w->need, f))
			continue;
		featset_set(&w->need, f);
		e = census_vec_push(&b->ex);
		if (!e)
			return -ENOMEM;
		if (!w->n_ex)
			w->ex_first = b->ex.n - 1;
		w->n_ex++;
		e->addr = addr;
		e->feature = f;
		snprintf(e->mnemonic, sizeof(e->mnemonic), "%s", mnem);
	}
	return 0;
}

static int add_edge(struct build *b, uint32_t from, uint64_t target, uint64_t site, uint32_t kind)
{
	uint32_t to = census_func_idx(b->c, target);
	struct edge *e;

	if (to == UINT32_MAX || to == from)
		return 0;
	e = census_vec_push(&b->edges);
	if (!e)
		return -ENOMEM;
	*e = (struct edge){ from, to, site, kind, site, 0, -1 };
	return 0;
}

/* add_edge() and *tag: the edge's tag for census_guard.c (-2 - its index), when one was added. */
static int add_edge_tag(struct build *b, uint32_t from, uint64_t target, uint64_t site, uint32_t kind, long *tag)
{
	size_t n = b->edges.n;
	int ret = add_edge(b, from, target, site, kind);

	if (!ret && b->edges.n > n)
		*tag = -2 - (long)n;
	return ret;
}

long census_add_read(struct build *b, uint32_t fi, uint64_t addr, int64_t disp, bool via_got, uint64_t site)
{
	struct rd *r = census_vec_push(&b->reads);

	if (!r)
		return -ENOMEM;
	*r = (struct rd){ fi, { addr, disp, via_got, 0 }, site, -1 };
	return (long)(b->reads.n - 1);
}

static int add_read(struct build *b, uint32_t fi, uint64_t addr, int64_t disp, bool via_got, uint64_t site,
		    long *idx)
{
	long r = census_add_read(b, fi, addr, disp, via_got, site);

	if (r < 0)
		return (int)r;
	*idx = r;
	return 0;
}

/* The control-flow and data facts of one decoded instruction. */
static int facts(struct build *b, uint32_t fi, const cs_insn *in, uint64_t got_reg[16], struct guard_track *gt)
{
	const cs_x86 *x = &in->detail->x86;
	uint64_t a, v;
	long rd = -1, tag = -1;
	int ret = 0;

	if (in->id == X86_INS_CPUID)
		b->fw[fi].flags |= CF_CPUID;
	if ((in->id == X86_INS_CALL || x86_in_group(in, X86_GRP_JUMP)) && x->op_count == 1 &&
	    x->operands[0].type == X86_OP_IMM && elf_code_is_text(b->c, (uint64_t)x->operands[0].imm)) {
		uint64_t to = (uint64_t)x->operands[0].imm;
		long p = in->id == X86_INS_CALL ? census_leaf_predicate(b, fi, to, in->address) : -ENOENT;

		guard_track_insn(b, gt, in, -1, -1);
		if (p == -ENOMEM)
			return -ENOMEM;
		if (p >= 0) {	/* a test of data that returns: reaches nothing else */
			guard_track_call_result(gt, p);
			return 0;
		}
		return add_edge(b, fi, to, in->address, CREF_CALL);
	}
	for (uint8_t i = 0; i < x->op_count && !ret; i++) {
		const cs_x86_op *op = &x->operands[i];
		int g;

		if (op->type != X86_OP_MEM)
			continue;
		if (x86_rip_mem(in, op, &a)) {
			if (in->id == X86_INS_LEA && elf_code_is_text(b->c, a))
				ret = add_edge_tag(b, fi, a, in->address, CREF_ADDR, &tag);
			else if (in->id == X86_INS_LEA)	/* the address of state it then reads */
				ret = add_read(b, fi, a, 0, false, in->address, &rd);
			else if (op->size == 8 && !elf_code_slot_value(b->c, a, &v) && elf_code_is_text(b->c, v))
				ret = add_edge_tag(b, fi, v, in->address, CREF_ADDR, &tag);
			else if (!elf_code_is_text(b->c, a))
				ret = add_read(b, fi, a, 0, false, in->address, &rd);
		} else if ((g = x86_gpr(op->mem.base)) >= 0 && got_reg[g] && in->id != X86_INS_LEA) {
			ret = add_read(b, fi, got_reg[g], op->mem.disp, true, in->address, &rd);
		}
	}
	if (ret)
		return ret;
	if (in->id == X86_INS_LEA && rd >= 0)
		tag = rd;	/* the address of data (a table) taken */
	guard_track_insn(b, gt, in, rd, tag);
	/* registers holding a GOT slot's pointer */
	if ((in->id == X86_INS_MOV) && x->op_count == 2 && x->operands[0].type == X86_OP_REG &&
	    x86_is_gpr64(x->operands[0].reg) && x86_rip_mem(in, &x->operands[1], &a) &&
	    elf_code_reloc_at(b->c, a)) {
		got_reg[x86_gpr(x->operands[0].reg)] = a;
		return 0;
	}
	if (in->id == X86_INS_CALL) {
		static const int clobber[] = { 0, 1, 2, 6, 7, 8, 9, 10, 11 };

		for (size_t i = 0; i < ARRAY_SIZE(clobber); i++)
			got_reg[clobber[i]] = 0;
		return 0;
	}
	for (uint8_t i = 0; i < x->op_count; i++)
		if (x->operands[i].type == X86_OP_REG && (x->operands[i].access & CS_AC_WRITE)) {
			int g = x86_gpr(x->operands[i].reg);

			if (g >= 0)
				got_reg[g] = 0;
		}
	return 0;
}

/*
 * Where decoding at @addr (in function @fi, or between functions) must stop
 * and start again: the function's end, or the next function's start.  An
 * instruction decoded across it is data read as code (OpenSSL keeps tables in
 * .text); the next function is decoded from its own first byte.
 */
static uint64_t resync_at(const struct elf_code *c, uint32_t fi, uint64_t addr)
{
	size_t lo = 0, hi = c->n_funcs;

	if (fi != UINT32_MAX)
		return c->funcs[fi].end;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (c->funcs[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < c->n_funcs ? c->funcs[lo].start : UINT64_MAX;
}

static int sweep(struct build *b, csh h, cs_insn *in)
{
	const struct elf_code *c = b->c;

	for (size_t t = 0; t < c->n_text; t++) {
		uint64_t addr = c->text[t].start, end = c->text[t].end;
		uint32_t cur = UINT32_MAX;
		uint64_t got_reg[16] = { 0 };
		struct guard_track gt;

		while (addr < end) {
			const uint8_t *code = elf_code_bytes(c, addr, 1);
			size_t size = end - addr > 16 ? 16 : end - addr;
			uint64_t a = addr, lim;
			uint32_t fi = census_func_idx(c, addr);
			struct featset need = { { 0, 0 } };
			int ret;

			if (!code)
				break;	/* NOBITS */
			while (size > 1 && !elf_code_bytes(c, addr, size))
				size--;
			if (fi != cur) {
				memset(got_reg, 0, sizeof(got_reg));
				guard_track_reset(&gt, fi == UINT32_MAX ? 0 : c->funcs[fi].start);
				cur = fi;
			}
			if (!cs_disasm_iter(h, &code, &size, &a, in)) {
				isa_undecodable(elf_code_bytes(c, addr, size), size, &need);
				b->n_undecodable++;
				ret = fi == UINT32_MAX ? 0 : add_needs(b, fi, &need, addr, "(undecodable)");
				size = isa_insn_length(elf_code_bytes(c, addr, 1), end - addr > 15 ? 15 : end - addr);
				a = addr + (size ? size : 1);
			} else {
				b->n_insns++;
				isa_insn_needs(in, &need);
				ret = fi == UINT32_MAX ? 0 : facts(b, fi, in, got_reg, &gt);
				if (!ret && fi != UINT32_MAX && !census_featset_empty(&need))
					ret = add_needs(b, fi, &need, addr, in->mnemonic);
			}
			lim = resync_at(c, fi, addr);
			addr = a > lim && lim > addr ? lim : a;
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int cmp_edge_from(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;

	return (x->from > y->from) - (x->from < y->from);
}

/* Resolvers' variant sets: roots of the dispatched set. */
static int mark_dispatch(struct build *b, struct isa_census *cen)
{
	const struct elf_code *c = b->c;
	size_t n = c->n_rel + c->n_dynsym + c->n_fsyms, k = 0;
	uint64_t *res = calloc(n + 1, sizeof(*res));
	uint32_t *queue = NULL;
	size_t qn = 0;
	struct edge *e = b->edges.p;
	int ret = 0;

	if (!res)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_rel; i++)
		if (c->rel[i].type == R_X86_64_IRELATIVE)
			res[k++] = (uint64_t)c->rel[i].addend;
	for (size_t i = 0; i < c->n_dynsym; i++)
		if (c->dynsym[i].type == STT_GNU_IFUNC && c->dynsym[i].defined)
			res[k++] = c->dynsym[i].value;
	for (size_t i = 0; i < c->n_fsyms; i++)
		if (c->fsyms[i].type == STT_GNU_IFUNC)
			res[k++] = c->fsyms[i].value;
	queue = calloc(c->n_funcs + 1, sizeof(*queue));
	if (!queue) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < k; i++) {
		struct variant_set s;
		uint32_t rf = census_func_idx(c, res[i]);
		bool dup = false;

		for (size_t j = 0; j < i && !dup; j++)
			dup = res[j] == res[i];
		if (dup || rf == UINT32_MAX)
			continue;
		cen->n_resolvers++;
		b->fw[rf].resolver = true;
		ret = variant_set_compute(c, res[i], &s);
		if (ret)
			goto out;
		if (!s.known)
			cen->n_resolvers_unknown++;
		for (size_t j = 0; j < s.n; j++) {	/* a partial set still marks what it found */
			uint32_t vf = census_func_idx(c, s.addrs[j]);

			if (vf != UINT32_MAX && !b->fw[vf].in_s) {
				b->fw[vf].in_s = true;
				queue[qn++] = vf;
			}
		}
		variant_set_free(&s);
	}
	/* closure over direct calls and jumps (edges sorted by from) */
	if (b->edges.n)
		qsort(e, b->edges.n, sizeof(*e), cmp_edge_from);
	for (size_t qi = 0; qi < qn; qi++) {
		uint32_t f = queue[qi];
		size_t lo = 0, hi = b->edges.n;

		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (e[mid].from < f)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < b->edges.n && e[lo].from == f; lo++)
			if (e[lo].kind == CREF_CALL && !b->fw[e[lo].to].in_s) {
				b->fw[e[lo].to].in_s = true;
				queue[qn++] = e[lo].to;
			}
	}
out:
	free(res);
	free(queue);
	return ret;
}

int isa_census_build(const struct elf_code *c, struct isa_census **out)
{
	struct build b = { .c = c };
	struct isa_census *cen = calloc(1, sizeof(*cen));
	cs_insn *in = NULL;
	csh h = 0;
	int ret = -ENOMEM;

	b.ex.sz = sizeof(struct census_example);
	b.edges.sz = sizeof(struct edge);
	b.reads.sz = sizeof(struct rd);
	b.fw = calloc(c->n_funcs + 1, sizeof(*b.fw));
	b.not_pred = calloc(c->n_funcs + 1, 1);
	if (!cen || !b.fw || !b.not_pred)
		goto out;
	ret = x86_cs_open(&h, &in);
	if (ret)
		goto out;
	ret = -ENOMEM;
	b.h = h;
	b.peek = cs_malloc(h);
	if (!b.peek)
		goto out;
	memcpy(cen->build_id, c->build_id, c->build_id_len);
	cen->build_id_len = (uint32_t)c->build_id_len;
	cen->file_size = (uint64_t)c->st.st_size;
	cen->mtime_ns = (int64_t)c->st.st_mtim.tv_sec * 1000000000 + c->st.st_mtim.tv_nsec;
	ret = sweep(&b, h, in);
	ret = ret ?: mark_dispatch(&b, cen);
	ret = ret ?: census_collect(&b, cen);
	cen->n_insns = b.n_insns;
	cen->n_undecodable = b.n_undecodable;
out:
	if (b.peek)
		cs_free(b.peek, 1);
	x86_cs_close(&h, in);
	free(b.fw);
	free(b.not_pred);
	free(b.ex.p);
	free(b.edges.p);
	free(b.reads.p);
	if (ret) {
		isa_census_free(cen);
		cen = NULL;
	}
	*out = cen;
	return ret;
}

void isa_census_free(struct isa_census *c)
{
	if (!c)
		return;
	free(c->funcs);
	free(c->ex);
	free(c->refs);
	free(c->readers);
	free(c->reads);
	free(c);
}
