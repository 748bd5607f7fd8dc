// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Copied function pointers: a program that stored a variant's address
 * (memcpy = &memcpy in a table) keeps calling the old variant.  Every word
 * of private writable memory equal to a changed variant's entry is
 * re-pointed; a value two slots disagree about is refused if it cannot run
 * here.  Stacks are left to the thread hazards.
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

/* One chunk: re-point every word equal to a changed variant entry; one write per chunk. */
static int repoint_chunk(struct restore *r, uint64_t a, uint64_t *buf, size_t words, const struct repoint *v,
			 size_t n, size_t n_planned)
{
	size_t first = words, last = 0;

	for (size_t w = 0; w < words; w++) {
		const struct repoint *p = find_repoint(v, n, buf[w]);
		struct featset missing;

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

int scan_pointers(struct restore *r, struct repoint *v, size_t n)
{
	uint64_t t0 = now_ns(), *buf;
	size_t n_planned = r->n_writes;
	int ret = 0;

	if (!n)		/* no variant changes: no copied pointer can be stale */
		return 0;
	buf = malloc(WRITE_MAX);
	if (!buf)
		return -ENOMEM;
	sort_writes(r);
	qsort(v, n, sizeof(*v), cmp_repoint);
	for (size_t m = 0; m < r->tgt->n_maps && !ret; m++) {
		const struct proc_map *mp = &r->tgt->maps[m];

		if (mp->perms[1] != 'w' || mp->perms[3] != 'p' || is_stack(r, mp))
			continue;
		for (uint64_t a = mp->start; a < mp->end && !ret; a += WRITE_MAX) {
			size_t len = mp->end - a < WRITE_MAX ? mp->end - a : WRITE_MAX;

			if (pview_read(r->tgt, a, buf, len))
				break;
			ret = repoint_chunk(r, a, buf, len / 8, v, n, n_planned);
		}
	}
	free(buf);
	r->st.scan_ns = now_ns() - t0;
	return ret;
}
