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
#include "x86_regs.h"

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

static void *vec_push(struct vec *v)
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

static bool featset_empty(const struct featset *s)
{
	return !s->w[0] && !s->w[1];
}

static uint32_t func_idx(const struct elf_code *c, uint64_t addr)
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
		e = vec_push(&b->ex);
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
	uint32_t to = func_idx(b->c, target);
	struct edge *e;

	if (to == UINT32_MAX || to == from)
		return 0;
	e = vec_push(&b->edges);
	if (!e)
		return -ENOMEM;
	*e = (struct edge){ from, to, site, kind };
	return 0;
}

static int add_read(struct build *b, uint32_t fi, uint64_t addr, int64_t disp, bool via_got)
{
	struct rd *r = vec_push(&b->reads);

	if (!r)
		return -ENOMEM;
	*r = (struct rd){ fi, { addr, disp, via_got, 0 } };
	return 0;
}

/* The control-flow and data facts of one decoded instruction. */
static int facts(struct build *b, uint32_t fi, const cs_insn *in, uint64_t got_reg[16])
{
	const cs_x86 *x = &in->detail->x86;
	uint64_t a, v;
	int ret = 0;

	if (in->id == X86_INS_CPUID)
		b->fw[fi].flags |= CF_CPUID;
	if ((in->id == X86_INS_CALL || x86_in_group(in, X86_GRP_JUMP)) && x->op_count == 1 &&
	    x->operands[0].type == X86_OP_IMM && elf_code_is_text(b->c, (uint64_t)x->operands[0].imm))
		return add_edge(b, fi, (uint64_t)x->operands[0].imm, in->address, CREF_CALL);
	for (uint8_t i = 0; i < x->op_count && !ret; i++) {
		const cs_x86_op *op = &x->operands[i];
		int g;

		if (op->type != X86_OP_MEM)
			continue;
		if (x86_rip_mem(in, op, &a)) {
			if (in->id == X86_INS_LEA && elf_code_is_text(b->c, a))
				ret = add_edge(b, fi, a, in->address, CREF_ADDR);
			else if (in->id == X86_INS_LEA)
				ret = add_read(b, fi, a, 0, false);	/* the address of state it then reads */
			else if (op->size == 8 && !elf_code_slot_value(b->c, a, &v) && elf_code_is_text(b->c, v))
				ret = add_edge(b, fi, v, in->address, CREF_ADDR);
			else if (!elf_code_is_text(b->c, a))
				ret = add_read(b, fi, a, 0, false);
		} else if ((g = x86_gpr(op->mem.base)) >= 0 && got_reg[g] && in->id != X86_INS_LEA) {
			ret = add_read(b, fi, got_reg[g], op->mem.disp, true);
		}
	}
	if (ret)
		return ret;
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

static int sweep(struct build *b, csh h, cs_insn *in)
{
	const struct elf_code *c = b->c;

	for (size_t t = 0; t < c->n_text; t++) {
		uint64_t addr = c->text[t].start, end = c->text[t].end;
		uint32_t cur = UINT32_MAX;
		uint64_t got_reg[16] = { 0 };

		while (addr < end) {
			const uint8_t *code = elf_code_bytes(c, addr, 1);
			size_t size = end - addr > 16 ? 16 : end - addr;
			uint64_t a = addr;
			uint32_t fi = func_idx(c, addr);
			struct featset need = { { 0, 0 } };
			int ret;

			if (!code)
				break;	/* NOBITS */
			while (size > 1 && !elf_code_bytes(c, addr, size))
				size--;
			if (fi != cur) {
				memset(got_reg, 0, sizeof(got_reg));
				cur = fi;
			}
			if (!cs_disasm_iter(h, &code, &size, &a, in)) {
				isa_undecodable(elf_code_bytes(c, addr, size), size, &need);
				b->n_undecodable++;
				ret = fi == UINT32_MAX ? 0 : add_needs(b, fi, &need, addr, "(undecodable)");
				size = isa_insn_length(elf_code_bytes(c, addr, 1), end - addr > 15 ? 15 : end - addr);
				addr += size ? size : 1;
			} else {
				b->n_insns++;
				isa_insn_needs(in, &need);
				ret = fi == UINT32_MAX ? 0 : facts(b, fi, in, got_reg);
				if (!ret && fi != UINT32_MAX && !featset_empty(&need))
					ret = add_needs(b, fi, &need, addr, in->mnemonic);
				addr = a;
			}
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

static int cmp_edge_to(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;

	if (x->to != y->to)
		return (x->to > y->to) - (x->to < y->to);
	return (x->site > y->site) - (x->site < y->site);
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
		uint32_t rf = func_idx(c, res[i]);
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
			uint32_t vf = func_idx(c, s.addrs[j]);

			if (vf != UINT32_MAX && !b->fw[vf].in_s) {
				b->fw[vf].in_s = true;
				queue[qn++] = vf;
			}
		}
		variant_set_free(&s);
	}
	/* closure over direct calls and jumps (edges sorted by from) */
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

struct tref {
	uint64_t addr;
	uint32_t func;
};

static int cmp_tref(const void *a, const void *b)
{
	const struct tref *x = a, *y = b;

	if (x->addr != y->addr)
		return (x->addr > y->addr) - (x->addr < y->addr);
	return (x->func > y->func) - (x->func < y->func);
}

/*
 * A pointer to code at @slot in data: an edge from each function that takes
 * the address of the table holding it (the nearest data address at or below
 * @slot that code materialises, within 1 KiB), or from nowhere known.
 */
static int table_edges(struct build *b, const struct tref *t, size_t nt, uint64_t slot, uint32_t to)
{
	size_t lo = 0, hi = nt;
	struct edge *e;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (t[mid].addr <= slot)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && slot - t[lo - 1].addr < 1024) {
		uint64_t base = t[lo - 1].addr;

		while (lo > 0 && t[lo - 1].addr == base)
			lo--;
		for (; lo < nt && t[lo].addr == base; lo++) {
			if (lo + 1 < nt && t[lo + 1].addr == base && t[lo + 1].func == t[lo].func)
				continue;
			e = vec_push(&b->edges);
			if (!e)
				return -ENOMEM;
			*e = (struct edge){ t[lo].func, to, slot, CREF_DATA };
		}
		return 0;
	}
	e = vec_push(&b->edges);
	if (!e)
		return -ENOMEM;
	*e = (struct edge){ UINT32_MAX, to, slot, CREF_DATA };
	return 0;
}

/* Every pointer to code in data (relocations; in ET_EXEC also plain words equal to a function's start). */
static int data_edges(struct build *b)
{
	const struct elf_code *c = b->c;
	const struct rd *r = b->reads.p;
	struct tref *t = malloc((b->reads.n + 1) * sizeof(*t));
	size_t nt = 0;
	int ret = 0;

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < b->reads.n; i++)
		if (!r[i].r.via_got)
			t[nt++] = (struct tref){ r[i].r.addr, r[i].func };
	qsort(t, nt, sizeof(*t), cmp_tref);
	for (size_t j = 0; j < c->n_rel && !ret; j++) {
		const struct elf_code_reloc *rl = &c->rel[j];
		uint64_t v;
		uint32_t to;

		if ((rl->type != R_X86_64_RELATIVE && rl->type != R_X86_64_64) || elf_code_slot_value(c, rl->off, &v))
			continue;
		to = func_idx(c, v);
		if (to != UINT32_MAX)
			ret = table_edges(b, t, nt, rl->off, to);
	}
	for (size_t s = 0; c->is_exec && s < c->n_segs && !ret; s++) {
		const uint8_t *p;

		if (c->segs[s].x || !(p = elf_code_bytes(c, c->segs[s].vaddr, c->segs[s].filesz)))
			continue;
		for (uint64_t o = (8 - (c->segs[s].vaddr & 7)) & 7; o + 8 <= c->segs[s].filesz && !ret; o += 8) {
			uint64_t v;
			uint32_t to;

			memcpy(&v, p + o, 8);
			if (!elf_code_is_text(c, v) || (to = func_idx(c, v)) == UINT32_MAX || c->funcs[to].start != v)
				continue;
			ret = table_edges(b, t, nt, c->segs[s].vaddr + o, to);
		}
	}
	free(t);
	return ret;
}

/* Which references into needy functions come from outside dispatch; fill the output. */
static int collect(struct build *b, struct isa_census *cen)
{
	const struct elf_code *c = b->c;
	struct edge *e;
	struct vec refs = { .sz = sizeof(struct census_ref) }, readers = { .sz = sizeof(struct census_reader) },
		   reads = { .sz = sizeof(struct census_read) };
	uint32_t *nidx = calloc(c->n_funcs + 1, sizeof(*nidx)), *ridx = calloc(c->n_funcs + 1, sizeof(*ridx));
	const struct census_example *ex = b->ex.p;
	int ret = -ENOMEM;

	if (!nidx || !ridx)
		goto out;
	for (size_t i = 0; i < c->n_funcs; i++) {	/* gaps count only when a direct call/jump reaches them */
		struct fwork *w = &b->fw[i];

		w->flags |= c->funcs[i].from_fde ? CF_FDE : 0;
		if (c->funcs[i].gap)
			w->flags |= CF_GAP;
	}
	e = b->edges.p;
	for (size_t i = 0; i < b->edges.n; i++)
		if (e[i].kind == CREF_CALL)
			b->fw[e[i].to].reached = true;
	if (data_edges(b))
		goto out;
	e = b->edges.p;
	/*
	 * The functions judged: those that need an extension, and the code that
	 * leads to them from outside dispatch (callers, address takers, tables'
	 * users), four levels up: a caller that only runs when a guard held
	 * guards what it calls.
	 */
	for (size_t i = 0; i < c->n_funcs; i++) {
		struct fwork *w = &b->fw[i];

		w->inter = !featset_empty(&w->need) && !((w->flags & CF_GAP) && !w->reached && !w->in_s);
	}
	for (int depth = 0; depth < 4; depth++) {
		for (size_t k = 0; k < b->edges.n; k++) {
			uint32_t fr = e[k].from;

			if (fr != UINT32_MAX && b->fw[e[k].to].inter && !b->fw[fr].inter && !b->fw[fr].in_s &&
			    !b->fw[fr].resolver && !((b->fw[fr].flags & CF_GAP) && !b->fw[fr].reached))
				b->fw[fr].inter_new = true;
		}
		for (size_t i = 0; i < c->n_funcs; i++)
			if (b->fw[i].inter_new) {
				b->fw[i].inter = true;
				b->fw[i].inter_new = false;
			}
	}
	cen->funcs = calloc(c->n_funcs + 1, sizeof(*cen->funcs));
	if (!cen->funcs)
		goto out;
	for (size_t i = 0; i < c->n_funcs; i++) {
		struct fwork *w = &b->fw[i];
		struct census_func *f;

		nidx[i] = UINT32_MAX;
		if (!w->inter)
			continue;
		nidx[i] = (uint32_t)cen->n_funcs;
		f = &cen->funcs[cen->n_funcs++];
		f->start = c->funcs[i].start;
		f->end = c->funcs[i].end;
		f->need = w->need;
		f->flags = w->flags | (w->in_s ? CF_DISPATCHED : 0);
		f->ex_first = (uint32_t)cen->n_ex;
		f->n_ex = (uint32_t)w->n_ex;
		cen->n_ex += w->n_ex;
		cen->need.w[0] |= w->need.w[0];
		cen->need.w[1] |= w->need.w[1];
	}
	cen->ex = calloc(cen->n_ex + 1, sizeof(*cen->ex));
	if (!cen->ex)
		goto out;
	for (size_t i = 0; i < c->n_funcs; i++)
		if (nidx[i] != UINT32_MAX)
			memcpy(&cen->ex[cen->funcs[nidx[i]].ex_first], &ex[b->fw[i].ex_first],
			       b->fw[i].n_ex * sizeof(*ex));
	/* exports: references from other objects */
	for (size_t j = 0; j < c->n_dynsym; j++) {
		const struct elf_code_sym *sy = &c->dynsym[j];
		uint32_t to = sy->defined && sy->type == STT_FUNC ? func_idx(c, sy->value) : UINT32_MAX;
		struct edge *d;

		if (to == UINT32_MAX || nidx[to] == UINT32_MAX)
			continue;
		d = vec_push(&b->edges);
		if (!d)
			goto out;
		*d = (struct edge){ UINT32_MAX, to, sy->value, CREF_EXPORT };
	}
	/* references, grouped by target function */
	e = b->edges.p;
	qsort(e, b->edges.n, sizeof(*e), cmp_edge_to);
	for (size_t i = 0; i < c->n_funcs; i++)
		ridx[i] = UINT32_MAX;
	for (size_t i = 0, k = 0; i < c->n_funcs; i++) {
		struct census_func *f = nidx[i] != UINT32_MAX ? &cen->funcs[nidx[i]] : NULL;

		while (k < b->edges.n && e[k].to < i)
			k++;
		if (f)
			f->ref_first = (uint32_t)refs.n;
		for (; k < b->edges.n && e[k].to == i; k++) {
			struct census_ref *r;

			if (f && e[k].from == UINT32_MAX)
				goto push;	/* data, export */
			if (!f || e[k].from == UINT32_MAX || b->fw[e[k].from].in_s || b->fw[e[k].from].resolver ||
			    ((b->fw[e[k].from].flags & CF_GAP) && !b->fw[e[k].from].reached))
				continue;	/* dispatch, or data between functions decoded as code */
push:
			r = vec_push(&refs);
			if (!r)
				goto out;
			*r = (struct census_ref){ e[k].site, e[k].from, e[k].kind };
			if (e[k].from != UINT32_MAX)
				b->fw[e[k].from].reader = true;
		}
		if (!f)
			continue;
		f->n_refs = (uint32_t)(refs.n - f->ref_first);
	}
	/* readers and what they read */
	for (size_t i = 0, k = 0; i < c->n_funcs; i++) {
		const struct rd *r = b->reads.p;
		struct census_reader *rr;

		if (!b->fw[i].reader)
			continue;
		rr = vec_push(&readers);
		if (!rr)
			goto out;
		ridx[i] = (uint32_t)(readers.n - 1);
		rr->flags = b->fw[i].flags & CF_CPUID;
		rr->start = c->funcs[i].start;
		rr->end = c->funcs[i].end;
		rr->read_first = (uint32_t)reads.n;
		while (k < b->reads.n && r[k].func < i)
			k++;
		for (; k < b->reads.n && r[k].func == i; k++) {
			struct census_read *o = vec_push(&reads);

			if (!o)
				goto out;
			*o = r[k].r;
		}
		rr->n_reads = (uint32_t)(reads.n - rr->read_first);
	}
	for (size_t i = 0; i < refs.n; i++) {
		struct census_ref *r = &((struct census_ref *)refs.p)[i];

		if (r->from != UINT32_MAX)
			r->from = ridx[r->from];
	}
	cen->refs = refs.p, cen->n_refs = refs.n, refs.p = NULL;
	cen->readers = readers.p, cen->n_readers = readers.n, readers.p = NULL;
	cen->reads = reads.p, cen->n_reads = reads.n, reads.p = NULL;
	ret = 0;
out:
	free(refs.p);
	free(readers.p);
	free(reads.p);
	free(nidx);
	free(ridx);
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
	if (!cen || !b.fw)
		goto out;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) {
		ret = -ENOSYS;
		goto out;
	}
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	in = cs_malloc(h);
	if (!in)
		goto out;
	memcpy(cen->build_id, c->build_id, c->build_id_len);
	cen->build_id_len = (uint32_t)c->build_id_len;
	cen->file_size = (uint64_t)c->st.st_size;
	cen->mtime_ns = (int64_t)c->st.st_mtim.tv_sec * 1000000000 + c->st.st_mtim.tv_nsec;
	ret = sweep(&b, h, in);
	ret = ret ?: mark_dispatch(&b, cen);
	ret = ret ?: collect(&b, cen);
	cen->n_insns = b.n_insns;
	cen->n_undecodable = b.n_undecodable;
out:
	if (in)
		cs_free(in, 1);
	if (h)
		cs_close(&h);
	free(b.fw);
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
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) {
		ret = -ENOSYS;
		goto out;
	}
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	in = cs_malloc(h);
	if (!in)
		goto out;
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
			e = vec_push(&ex);
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
	if (in)
		cs_free(in, 1);
	if (h)
		cs_close(&h);
	if (ret)
		isa_census_free(cen);
	else
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

int isa_census_get(const char *path, const char *cache_dir, struct isa_census **out)
{
	struct elf_code c;
	int ret;

	*out = NULL;
	if (cache_dir) {	/* the cache needs only the build-id, size and mtime */
		ret = elf_code_open_mode(path, &c, ELF_CODE_SECTIONS);
		if (ret)
			return ret;
		ret = census_cache_load(cache_dir, &c, out);
		elf_code_close(&c);
		if (!ret)
			return 0;
	}
	ret = elf_code_open(path, &c);
	if (ret)
		return ret;
	ret = isa_census_build(&c, out);
	if (!ret && cache_dir)
		census_cache_store(cache_dir, *out);	/* a cache never changes an outcome */
	elf_code_close(&c);
	return ret;
}
