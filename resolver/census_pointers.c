// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The function-pointer hazard scan of the ISA census (see census_check.h):
 * every pointer-aligned word in the process's writable memory is compared
 * with the entries of functions that need an extension the destination lacks
 * and with the addresses of the read-only tables holding pointers to them (as
 * code takes those addresses: one level of indirection, a context's
 * `ctx->hw = &aesni_table`).  Guards in code decide which function or table a
 * context gets when it is built; a context built before the dump keeps what
 * the source CPU chose, so such a word refuses the restore unless cpuport
 * itself re-points it.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "census_check.h"

struct entry {
	uint64_t addr;		/* the function's entry, or the table's address */
	uint32_t obj;
	bool table;
	const struct census_func *f;
};

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return (x->addr > y->addr) - (x->addr < y->addr);
}

struct entries {
	struct entry *e;
	size_t n, cap;
};

static int push(struct entries *v, struct entry e)
{
	if (v->n == v->cap) {
		struct entry *ne = realloc(v->e, (v->cap = v->cap ? v->cap * 2 : 256) * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		v->e = ne;
	}
	v->e[v->n++] = e;
	return 0;
}

/* Every needy function's entry and the tables pointing to it, of every object. */
static int collect(const struct census_proc *cp, const uint64_t *repointed, size_t n_repointed, struct entries *v)
{
	for (size_t i = 0; i < cp->n_objs; i++) {
		const struct isa_census *cen = cp->objs[i].cen;

		for (size_t k = 0; cen && k < cen->n_funcs; k++) {
			const struct census_func *f = &cen->funcs[k];
			uint64_t abs = cp->objs[i].base + f->start;

			if (!(f->need.w[0] & cp->missing.w[0]) && !(f->need.w[1] & cp->missing.w[1]))
				continue;
			if (f->flags & CF_CPUID)
				continue;	/* tests the CPU itself whenever it runs (a constructor's CPUID probe) */
			if (bsearch(&abs, repointed, n_repointed, sizeof(*repointed), census_cmp_u64))
				continue;	/* cpuport rewrites copies of it */
			if (push(v, (struct entry){ abs, (uint32_t)i, false, f }))
				return -ENOMEM;
			for (uint32_t r = 0; r < f->n_refs && f->ref_first + r < cen->n_refs; r++) {
				const struct census_ref *ref = &cen->refs[f->ref_first + r];

				if (ref->kind == CREF_DATA && ref->table &&
				    push(v, (struct entry){ cp->objs[i].base + ref->table, (uint32_t)i, true, f }))
					return -ENOMEM;
			}
		}
	}
	if (v->n)
		qsort(v->e, v->n, sizeof(*v->e), cmp_entry);
	return 0;
}

static int refuse(const struct census_proc *cp, const struct proc_map *mp, uint64_t at, const struct entry *hit)
{
	const struct census_proc_obj *o = &cp->objs[hit->obj];
	struct featset miss = { { hit->f->need.w[0] & cp->missing.w[0], hit->f->need.w[1] & cp->missing.w[1] } };
	char fn[160], need[256], what[64] = "";

	census_feats_str(&miss, need, sizeof(need));
	if (hit->table)
		snprintf(what, sizeof(what), "the table at %#" PRIx64 " holding a pointer to ", hit->addr - o->base);
	log_err(cp->ctx, "pid %d: a %spointer at %#" PRIx64 " (%s) points to %s%s in %s, which needs %s that %s lacks; "
		"cpuport cannot re-point it (the program chose it, e.g. in a context built before the dump). Restore "
		"on a CPU with %s, or re-dump on this CPU\n", cp->pid, hit->table ? "" : "function ", at,
		mp->path ? mp->path : "anonymous memory", what, census_func_name(o, hit->f->start, fn, sizeof(fn)),
		o->name, need, cp->target, need);
	return -EDEADLK;
}

#define CHUNK 65536

int census_proc_check_pointers(struct census_proc *cp, const struct pview *p, const uint64_t *repointed,
			       size_t n_repointed)
{
	struct entries v = { 0 };
	uint64_t *buf = NULL;
	struct wordscan f;
	int ret;

	ret = collect(cp, repointed, n_repointed, &v);
	if (ret || !v.n)
		goto out;
	buf = malloc(CHUNK > v.n * sizeof(uint64_t) ? CHUNK : v.n * sizeof(uint64_t));
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	/* the entries' granules: blocks of 8 words holding none are passed at memory speed */
	for (size_t i = 0; i < v.n; i++)
		buf[i] = v.e[i].addr;
	wordscan_init(&f, buf, v.n);
	for (size_t m = 0; m < p->n_maps && !ret; m++) {
		const struct proc_map *mp = &p->maps[m];

		if (mp->perms[1] != 'w' || (mp->path && !strncmp(mp->path, "[v", 2)))
			continue;
		for (uint64_t a = mp->start; a < mp->end && !ret; a += CHUNK) {
			size_t len = mp->end - a < CHUNK ? mp->end - a : CHUNK;

			if (pview_read(p, a, buf, len))
				break;
			for (size_t w = 0; w < len / 8 && !ret; w++) {
				if (w % 8 == 0) {
					w += wordscan_next(buf + w, len / 8 - w, &f);
					if (w >= len / 8)
						break;
				}
				struct entry key = { buf[w], 0, false, NULL }, *hit;
				uint64_t at = a + w * 8;

				if (buf[w] < v.e[0].addr || buf[w] > v.e[v.n - 1].addr ||
				    bsearch(&at, cp->written, cp->n_written, sizeof(*cp->written), census_cmp_u64))
					continue;	/* not a needy entry, or a slot cpuport rewrites */
				hit = bsearch(&key, v.e, v.n, sizeof(*v.e), cmp_entry);
				if (hit)
					ret = refuse(cp, mp, at, hit);
			}
		}
	}
out:
	free(buf);
	free(v.e);
	return ret;
}
