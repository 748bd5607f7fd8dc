// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Copied function pointers: a program that stored a variant's address
 * (memcpy = &memcpy in a table) keeps calling the old variant.  Every word
 * of private writable memory equal to a changed variant's entry is
 * re-pointed; a value two slots disagree about is refused if it cannot run
 * here.  Stacks are left to the thread hazards.
 *
 * At 1-4 GiB of heap this scan is bounded by copying the process's memory
 * out (process_vm_readv, 1 MiB at a time): a word is looked up (bsearch)
 * only if its 2 MiB granule is one where a changing variant lives, a test
 * the compiler vectorises (target_clones: AVX-512, AVX2, SSE2), so heap
 * data and heap pointers cost a compare each.  The filter is exact: a word
 * it skips cannot equal any old variant address.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "restore.h"

static int cmp_repoint(const void *a, const void *b)
{
	const struct repoint *x = a, *y = b;

	return (x->old > y->old) - (x->old < y->old);
}

static const struct repoint *find_repoint(const struct repoint *v, size_t n, uint64_t value)
{
	struct repoint key = { .old = value };

	return bsearch(&key, v, n, sizeof(*v), cmp_repoint);
}

/* Stacks hold return addresses, checked as hazards; copied pointers live elsewhere. */
static bool is_stack(const struct restore *r, const struct proc_map *m)
{
	if (m->path && (!strcmp(m->path, "[stack]") || !strncmp(m->path, "[v", 2)))
		return true;
	for (size_t t = 0; t < r->img->n_threads; t++)
		if (r->img->threads[t]->has_sp && r->img->threads[t]->sp >= m->start && r->img->threads[t]->sp < m->end)
			return true;
	return false;
}

#define SCAN_READ (1u << 20)	/* bytes read from the process at once */

/* a thread stands in [a, a + len): criu's parasite may have borrowed bytes there during the dump */
static bool has_pc(const struct restore *r, uint64_t a, size_t len)
{
	for (size_t t = 0; t < r->img->n_threads; t++)
		if (r->img->threads[t]->has_pc && r->img->threads[t]->pc - a < len)
			return true;
	return false;
}

/* One chunk: re-point every word equal to a changed variant entry; one write per chunk. */
static int repoint_chunk(struct restore *r, uint64_t a, uint64_t *buf, size_t words, const struct repoint *v,
			 size_t n, size_t n_planned, const struct wordscan *f)
{
	size_t first = words, last = 0;

	for (size_t w = 0; w < words; w++) {
		const struct repoint *p;
		struct featset missing;

		if (w % 8 == 0) {
			w += wordscan_next(buf + w, words - w, f);
			if (w >= words)
				break;
		}
		p = find_repoint(v, n, buf[w]);
		if (!p || is_planned(r->writes, n_planned, a + w * 8))
			continue;
		if (p->ambiguous) {
			r->st.pointers_ambiguous++;
			if (runs_on_target(r, p->old, p->len, &missing))
				continue;
			log_err(r->ctx, "pid %d: pointer at %#" PRIx64 " to %s, which cannot run here, could mean "
				"several functions: refusing\n", r->pid, a + w * 8, p->name);
			return -EDEADLK;
		}
		buf[w] = p->new_;
		r->st.pointers++;
		first = w < first ? w : first;
		last = w;
	}
	if (first > last)
		return 0;
	return add_write(r, a + first * 8, buf + first, (last - first + 1) * 8, "copied function pointers");
}

/* [a, a + len) of one mapping, read in one go, planned in WRITE_MAX chunks; -EFAULT: unreadable */
static int scan_range(struct restore *r, uint64_t a, size_t len, uint64_t *buf, const struct repoint *v, size_t n,
		      size_t n_planned, const struct wordscan *f)
{
	int ret = 0;

	if (pview_read(r->tgt, a, buf, len))
		return -EFAULT;
	for (size_t off = 0; off < len && !ret; off += WRITE_MAX) {
		size_t l = len - off < WRITE_MAX ? len - off : WRITE_MAX;

		ret = repoint_chunk(r, a + off, buf + off / 8, l / 8, v, n, n_planned, f);
	}
	return ret;
}

int scan_pointers(struct restore *r, struct repoint *v, size_t n)
{
	uint64_t t0 = now_ns(), *buf;
	size_t n_planned = r->n_writes;
	struct wordscan f;
	uint64_t *olds;
	int ret = 0;

	if (!n)		/* no variant changes: no copied pointer can be stale */
		return 0;
	buf = malloc(SCAN_READ);
	olds = malloc(n * sizeof(*olds));
	if (!buf || !olds) {
		free(buf);
		free(olds);
		return -ENOMEM;
	}
	sort_writes(r);
	qsort(v, n, sizeof(*v), cmp_repoint);
	for (size_t i = 0; i < n; i++)
		olds[i] = v[i].old;
	wordscan_init(&f, olds, n);
	free(olds);
	for (size_t m = 0; m < r->tgt->n_maps && !ret; m++) {
		const struct proc_map *mp = &r->tgt->maps[m];

		if (mp->perms[1] != 'w' || mp->perms[3] != 'p' || is_stack(r, mp))
			continue;
		/*
		 * With the dump's sites: only the WRITE_MAX chunks holding one are
		 * read (the dump read the others whole and found no candidate;
		 * criu restored them as they were).  Otherwise all of it.
		 */
		for (uint64_t a = mp->start; r->sites && a < mp->end && !ret; a += WRITE_MAX) {
			size_t len = mp->end - a < WRITE_MAX ? mp->end - a : WRITE_MAX;

			if (sites_skippable(r->sites, a, len) && !has_pc(r, a, len))
				continue;
			ret = scan_range(r, a, len, buf, v, n, n_planned, &f);
			if (ret == -EFAULT)	/* as below: the rest of this mapping is skipped */
				ret = 0, a = mp->end;
		}
		for (uint64_t a = mp->start; !r->sites && a < mp->end && !ret; a += SCAN_READ) {
			size_t len = mp->end - a < SCAN_READ ? mp->end - a : SCAN_READ;

			ret = scan_range(r, a, len, buf, v, n, n_planned, &f);
			if (ret == -EFAULT) {	/* as before: up to the first unreadable WRITE_MAX piece */
				ret = 0;
				for (size_t off = 0; off < len && !ret; off += WRITE_MAX)
					ret = scan_range(r, a + off, len - off < WRITE_MAX ? len - off : WRITE_MAX,
							 buf, v, n, n_planned, &f);
				if (ret == -EFAULT) {	/* the rest of this mapping is skipped */
					ret = 0;
					a = mp->end;
				}
			}
		}
	}
	free(buf);
	r->st.scan_ns = now_ns() - t0;
	return ret;
}
