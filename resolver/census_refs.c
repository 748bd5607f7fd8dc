// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The references part of an ISA census (see isa_census.h): pointers to code
 * in data tables tied to the code that takes the table's address, the
 * functions judged (needy code and what leads to it from outside dispatch),
 * their references and the data their referencers read.
 */
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "census_build.h"

static int cmp_edge_to(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;

	if (x->to != y->to)
		return (x->to > y->to) - (x->to < y->to);
	return (x->site > y->site) - (x->site < y->site);
}

struct tref {
	uint64_t addr;
	uint64_t site;		/* where the function takes it */
	long sel;		/* the read whose test selects it (cmov), or -1 */
	uint32_t func;
};

static int cmp_tref(const void *a, const void *b)
{
	const struct tref *x = a, *y = b;

	if (x->addr != y->addr)
		return (x->addr > y->addr) - (x->addr < y->addr);
	if (x->func != y->func)
		return (x->func > y->func) - (x->func < y->func);
	return (x->site > y->site) - (x->site < y->site);
}

/*
 * A pointer to code at @slot in data: an edge from each function that takes
 * the address of the table holding it (the nearest data address at or below
 * @slot that code materialises, within 1 KiB; its first instruction doing so
 * is the edge's take), or from nowhere known.
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
			if (lo > 0 && t[lo - 1].addr == base && t[lo - 1].func == t[lo].func)
				continue;	/* the same function again, later */
			e = census_vec_push(&b->edges);
			if (!e)
				return -ENOMEM;
			*e = (struct edge){ t[lo].func, to, slot, CREF_DATA, t[lo].site, base, t[lo].sel };
		}
		return 0;
	}
	e = census_vec_push(&b->edges);
	if (!e)
		return -ENOMEM;
	*e = (struct edge){ UINT32_MAX, to, slot, CREF_DATA, 0, 0, -1 };
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
			t[nt++] = (struct tref){ r[i].r.addr, r[i].site, r[i].sel, r[i].func };
	if (nt)
		qsort(t, nt, sizeof(*t), cmp_tref);
	for (size_t j = 0; j < c->n_rel && !ret; j++) {
		const struct elf_code_reloc *rl = &c->rel[j];
		uint64_t v;
		uint32_t to;

		if ((rl->type != R_X86_64_RELATIVE && rl->type != R_X86_64_64) || elf_code_slot_value(c, rl->off, &v))
			continue;
		to = census_func_idx(c, v);
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
			if (!elf_code_is_text(c, v) || (to = census_func_idx(c, v)) == UINT32_MAX || c->funcs[to].start != v)
				continue;
			ret = table_edges(b, t, nt, c->segs[s].vaddr + o, to);
		}
	}
	free(t);
	return ret;
}

/* Which references into needy functions come from outside dispatch; fill the output. */
int census_collect(struct build *b, struct isa_census *cen)
{
	const struct elf_code *c = b->c;
	struct edge *e;
	struct vec refs = { .sz = sizeof(struct census_ref) }, readers = { .sz = sizeof(struct census_reader) },
		   reads = { .sz = sizeof(struct census_read) };
	uint32_t *nidx = calloc(c->n_funcs + 1, sizeof(*nidx)), *ridx = calloc(c->n_funcs + 1, sizeof(*ridx));
	long *first_read = calloc(c->n_funcs + 1, sizeof(*first_read));
	const struct census_example *ex = b->ex.p;
	int ret = -ENOMEM;

	if (!nidx || !ridx || !first_read)
		goto out;
	for (size_t i = b->reads.n; i-- > 0;)	/* reads are in function order (the sweep's) */
		first_read[((const struct rd *)b->reads.p)[i].func] = (long)i;
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

		w->inter = !census_featset_empty(&w->need) && !((w->flags & CF_GAP) && !w->reached && !w->in_s);
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
		if (nidx[i] != UINT32_MAX && b->fw[i].n_ex)
			memcpy(&cen->ex[cen->funcs[nidx[i]].ex_first], &ex[b->fw[i].ex_first],
			       b->fw[i].n_ex * sizeof(*ex));
	/* exports: references from other objects */
	for (size_t j = 0; j < c->n_dynsym; j++) {
		const struct elf_code_sym *sy = &c->dynsym[j];
		uint32_t to = sy->defined && sy->type == STT_FUNC ? census_func_idx(c, sy->value) : UINT32_MAX;
		struct edge *d;

		if (to == UINT32_MAX || nidx[to] == UINT32_MAX)
			continue;
		d = census_vec_push(&b->edges);
		if (!d)
			goto out;
		*d = (struct edge){ UINT32_MAX, to, sy->value, CREF_EXPORT, 0, 0, -1 };
	}
	/* references, grouped by target function */
	e = b->edges.p;
	if (b->edges.n)
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
			r = census_vec_push(&refs);
			if (!r)
				goto out;
			*r = (struct census_ref){ e[k].site, e[k].take, e[k].table, e[k].from, e[k].kind, 0, 0 };
			if (e[k].from != UINT32_MAX && e[k].sel >= 0 && (size_t)e[k].sel < b->reads.n &&
			    ((const struct rd *)b->reads.p)[e[k].sel].func == e[k].from)
				r->sel = (uint32_t)(e[k].sel - first_read[e[k].from] + 1);
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
		rr = census_vec_push(&readers);
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
			struct census_read *o = census_vec_push(&reads);

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
	free(first_read);
	return ret;
}
