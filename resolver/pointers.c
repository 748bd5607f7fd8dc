// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Copied function pointers: a program that stored a variant's address
 * (memcpy = &memcpy in a table) keeps calling the old variant.  Every word
 * of private writable memory equal to a changed variant's entry is
 * re-pointed; a value two slots disagree about is refused if it cannot run
 * here.  Which mappings: see scan_mode_of().
 */
#include <inttypes.h>
#include <stdint.h>
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

/* How a mapping is scanned for copied pointers. */
enum scan_mode {
	SCAN_SKIP,	/* not readable, code, or the kernel's ([vvar], [vdso], [vsyscall]) */
	SCAN_REPOINT,	/* private: words equal to a changed variant's entry are re-pointed */
	SCAN_CHECK,	/* shared with processes cpuport does not restore: such words are refused unless they still run */
};

static bool of_recorded_object(const struct restore *r, const struct proc_map *m)
{
	for (size_t i = 0; i < r->img->n_objects; i++)
		if (r->objs[i].ino && r->objs[i].dev == m->dev && r->objs[i].ino == m->ino)
			return true;
	return false;
}

/*
 * Private writable memory (heap, .data, .bss, thread stacks: a word equal to
 * a function's entry is a pointer, never a return address, which follows a
 * call), and the read-only private mappings of recorded objects (.data.rel.ro
 * after RELRO: R_X86_64_64 and GLOB_DAT values of IFUNC symbols); shared
 * mappings (anonymous shared, shmem, files) are checked only.
 */
static enum scan_mode scan_mode_of(const struct restore *r, const struct proc_map *m)
{
	if (m->perms[0] != 'r' || m->perms[2] == 'x' ||
	    (m->path && (!strcmp(m->path, "[vvar]") || !strcmp(m->path, "[vdso]") || !strcmp(m->path, "[vsyscall]") ||
			 !strncmp(m->path, "[vvar", 5))))
		return SCAN_SKIP;
	if (m->perms[3] == 's')
		return SCAN_CHECK;
	if (m->perms[1] == 'w')
		return SCAN_REPOINT;
	return of_recorded_object(r, m) ? SCAN_REPOINT : SCAN_SKIP;
}

/* A shared mapping: a changed variant's entry there is left if it still runs here, else refused. */
static int check_chunk(struct restore *r, const struct proc_map *m, uint64_t a, const uint64_t *buf, size_t words,
		       const struct repoint *v, size_t n)
{
	for (size_t w = 0; w < words; w++) {
		const struct repoint *p = find_repoint(v, n, buf[w]);
		struct featset missing;

		if (!p)
			continue;
		if (runs_on_target(r, p->old, p->len, &missing)) {
			r->st.pointers_ambiguous++;
			continue;
		}
		log_err(r->ctx, "pid %d: pointer at %#" PRIx64 " to %s, which cannot run here, is in shared memory (%s, "
			"%s) that cpuport must not rewrite for other processes: refusing\n", r->pid, a + w * 8, p->name,
			m->path ?: "anonymous", m->perms);
		return -EDEADLK;
	}
	return 0;
}

/*
 * One chunk: re-point every word equal to a changed variant entry.  Runs of
 * changed words become one write each, but a run never spans a byte of a
 * planned slot or state write: it would carry that write's old bytes back
 * (and both read-backs would pass).
 */
static int repoint_chunk(struct restore *r, uint64_t a, uint64_t *buf, size_t words, const struct repoint *v,
			 size_t n, size_t n_planned)
{
	size_t first = SIZE_MAX, last = 0;
	int ret = 0;

	for (size_t w = 0; w < words && !ret; w++) {
		bool planned = overlaps_planned(r->writes, n_planned, a + w * 8, 8);
		const struct repoint *p = planned ? NULL : find_repoint(v, n, buf[w]);
		struct featset missing;

		if (planned && first != SIZE_MAX) {
			ret = add_write(r, a + first * 8, buf + first, (last - first + 1) * 8, "copied function pointers");
			first = SIZE_MAX;
		}
		if (!p)
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
		first = first == SIZE_MAX ? w : first;
		last = w;
	}
	if (!ret && first != SIZE_MAX)
		ret = add_write(r, a + first * 8, buf + first, (last - first + 1) * 8, "copied function pointers");
	return ret;
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
		enum scan_mode mode = scan_mode_of(r, mp);

		for (uint64_t a = mp->start; mode != SCAN_SKIP && a < mp->end && !ret; a += WRITE_MAX) {
			size_t len = mp->end - a < WRITE_MAX ? mp->end - a : WRITE_MAX;

			ret = pview_read(r->tgt, a, buf, len);
			if (ret) {
				/* never a silent end: memory not checked could hold a stale pointer */
				log_err(r->ctx, "pid %d: cannot read %#" PRIx64 " (%s %s) to check it for copied function "
					"pointers: %s; refusing\n", r->pid, a, mp->path ?: "anonymous", mp->perms,
					strerror(-ret));
				ret = -EFAULT;
				break;
			}
			ret = mode == SCAN_CHECK ? check_chunk(r, mp, a, buf, len / 8, v, n)
						 : repoint_chunk(r, a, buf, len / 8, v, n, n_planned);
		}
	}
	free(buf);
	r->st.scan_ns = now_ns() - t0;
	return ret;
}
