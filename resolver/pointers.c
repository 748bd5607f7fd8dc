// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Copied function pointers: a program that stored a variant's address
 * (memcpy = &memcpy in a table) keeps calling the old variant.  Every word
 * of private writable memory equal to a changed variant's entry is
 * re-pointed; a value two slots disagree about is refused if it cannot run
 * here.  Which mappings: see scan_mode_of().
 *
 * At 1-4 GiB this is bounded by copying the memory out (1 MiB at a time) and
 * an exact, vectorised filter (wordscan.c): a word is looked up only if it
 * lies in a 2 MiB granule where a changing variant lives.  With the dump's
 * sites (ptr_sites.c) only the chunks that held a candidate at dump, and
 * whatever the dump did not read whole, are read at all.
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
		       const struct repoint *v, size_t n, const struct wordscan *f)
{
	for (size_t w = 0; w < words; w++) {
		const struct repoint *p;
		struct featset missing;

		if (w % 8 == 0) {	/* skip blocks that cannot hold an old variant's entry */
			w += wordscan_next(buf + w, words - w, f);
			if (w >= words)
				break;
		}
		p = find_repoint(v, n, buf[w]);
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
			 size_t n, size_t n_planned, const struct wordscan *f)
{
	size_t first = SIZE_MAX, last = 0;
	int ret = 0;

	for (size_t w = 0; w < words && !ret; w++) {
		bool planned;

		/*
		 * Skip blocks that hold no old variant's entry, as the word-by-word
		 * loop would pass them: unless a run is open and a planned write
		 * lies in the skipped words (the run must end there).
		 */
		if (w % 8 == 0) {
			size_t skip = wordscan_next(buf + w, words - w, f);

			if (first == SIZE_MAX || !overlaps_planned(r->writes, n_planned, a + w * 8, skip * 8))
				w += skip;
			if (w >= words)
				break;
		}
		planned = overlaps_planned(r->writes, n_planned, a + w * 8, 8);
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

/* a thread stands in [a, a + len): criu's parasite may have borrowed bytes there during the dump */
static bool has_pc(const struct restore *r, uint64_t a, size_t len)
{
	for (size_t t = 0; t < r->img->n_threads; t++)
		if (r->img->threads[t]->has_pc && r->img->threads[t]->pc - a < len)
			return true;
	return false;
}

#define SCAN_READ (1u << 20)	/* bytes read from the process at once */

int scan_pointers(struct restore *r, struct repoint *v, size_t n)
{
	uint64_t t0 = now_ns(), *buf, *olds;
	size_t n_planned = r->n_writes;
	struct wordscan f;
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
		enum scan_mode mode = scan_mode_of(r, mp);
		uint64_t have = 0, have_len = 0;	/* [have, have + have_len) is in buf */

		for (uint64_t a = mp->start; mode != SCAN_SKIP && a < mp->end && !ret; a += WRITE_MAX) {
			size_t len = mp->end - a < WRITE_MAX ? mp->end - a : WRITE_MAX;
			uint64_t *chunk;

			if (r->sites && sites_skippable(r->sites, a, len) && !has_pc(r, a, len))
				continue;	/* the dump read it whole and found no candidate */
			if (!(a >= have && a + len <= have + have_len)) {	/* read up to 1 MiB at once */
				have = a;
				have_len = mp->end - a < SCAN_READ ? mp->end - a : SCAN_READ;
				if (r->sites || pview_read(r->tgt, have, buf, have_len))
					have_len = 0;	/* one chunk at a time (sites), or find the unreadable one */
			}
			if (a >= have && a + len <= have + have_len) {
				chunk = buf + (a - have) / 8;
				ret = 0;
			} else {
				have = have_len = 0;
				chunk = buf;
				ret = pview_read(r->tgt, a, buf, len);
			}
			if (ret) {
				/* never a silent end: memory not checked could hold a stale pointer */
				log_err(r->ctx, "pid %d: cannot read %#" PRIx64 " (%s %s) to check it for copied function "
					"pointers: %s; refusing\n", r->pid, a, mp->path ?: "anonymous", mp->perms,
					strerror(-ret));
				ret = -EFAULT;
				break;
			}
			ret = mode == SCAN_CHECK ? check_chunk(r, mp, a, chunk, len / 8, v, n, &f)
						 : repoint_chunk(r, a, chunk, len / 8, v, n, n_planned, &f);
		}
	}
	free(buf);
	r->st.scan_ns = now_ns() - t0;
	return ret;
}
