// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Copied-pointer sites: at dump, every word of the process's private
 * writable memory that holds a value a restore may re-point (the value a
 * recorded slot was bound to), found once at dump (the plugin, in
 * CHECKPOINT_DEVICES, the process frozen; in criu's own thread: a second
 * thread would make criu's later setns() into a mount namespace fail) for
 * processes with 64 MiB or more of it.  Stored beside the image as
 * cpuport-<id>.sites; at restore the copied-pointer scan then reads only
 * the WRITE_MAX chunks that hold a site, plus whatever the dump did not read
 * whole, instead of gigabytes: criu restores memory as it dumped it, so a
 * chunk without a candidate at dump has none at restore.
 *
 * A hint, never a fact the restore depends on for its writes: the scan still
 * reads every word it changes and changes only old-variant values to what
 * the destination's files select.  A sites file that is damaged, out of
 * order, or made for other candidates (a hash of the image's bound values) is
 * ignored and the whole memory scanned, as without it.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define SITES_MAGIC "CPSITES1"
#define SITES_READ (1u << 20)
#define SITES_CHUNK 65536u	/* = WRITE_MAX: the unit the restore skips */
#define MAX_SITES (16u << 20)
#define MAX_RANGES (1u << 20)
/*
 * Below this much private writable memory the restore's own scan is cheap
 * (a few ms at memory speed, and only when variants change): no sites then,
 * and no work for the dump.
 */
#define SITES_MIN_BYTES (64ull << 20)
/* a mapping larger than this (sanitizer shadows, reserved arenas) is left to the restore's own scan */
#define SITES_MAX_MAP (16ull << 30)

struct range {
	uint64_t start, end;
};

struct cpuport_sites {
	uint64_t *cand;		/* sorted, unique: the values looked for */
	size_t n_cand;
	uint64_t hash;		/* of cand */
	struct range *ranges;	/* read whole at dump, sorted, disjoint */
	size_t n_ranges, cap_ranges;
	uint64_t *sites;	/* sorted */
	size_t n_sites, cap_sites;
	bool overflow;		/* too many sites: no file (a full scan at restore) */
	uint64_t min_bytes;	/* less private writable memory than this: not worth it (-ENODATA) */
	uint64_t writable_hint;	/* the scan's count of private writable bytes: below min_bytes, nothing to do */
	uint64_t *sps;		/* the threads' stack pointers (the image's): stacks are not scanned */
	size_t n_sps;
	int watch_fd;		/* >= 0: stop (-EPIPE) once its reader is gone (sites_worker.c) */
};

struct sites_hdr {
	char magic[8];
	uint64_t hash, n_ranges, n_sites, sum;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* the values a restore may re-point: what bound slots with a known target held */
static int candidates(const Cpuport__Image *img, uint64_t **out, size_t *n, uint64_t *hash)
{
	uint64_t *c = malloc((img->n_slots + 1) * sizeof(*c));
	size_t k = 0;

	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < img->n_slots; i++)
		if (img->slots[i]->bound && img->slots[i]->target)
			c[k++] = img->slots[i]->value;
	qsort(c, k, sizeof(*c), cmp_u64);
	*n = 0;
	for (size_t i = 0; i < k; i++)
		if (!*n || c[*n - 1] != c[i])
			c[(*n)++] = c[i];
	*hash = disk_cache_sum(c, *n * sizeof(*c)) ^ *n;
	*out = c;
	return 0;
}

int cpuport_sites__new(const struct cpuport_table *t, struct cpuport_sites **out)
{
	struct cpuport_sites *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	ret = candidates(t->img, &s->cand, &s->n_cand, &s->hash);
	if (ret) {
		free(s);
		return ret;
	}
	s->min_bytes = SITES_MIN_BYTES;
	s->watch_fd = -1;
	s->writable_hint = t->writable_bytes ? t->writable_bytes : UINT64_MAX;	/* unknown: look */
	s->sps = calloc(t->img->n_threads + 1, sizeof(*s->sps));
	if (!s->sps) {
		cpuport_sites__free(s);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->img->n_threads; i++)
		if (t->img->threads[i]->has_sp)
			s->sps[s->n_sps++] = t->img->threads[i]->sp;
	*out = s;
	return 0;
}

void cpuport_sites__free(struct cpuport_sites *s)
{
	if (!s)
		return;
	free(s->cand);
	free(s->sps);
	free(s->ranges);
	free(s->sites);
	free(s);
}

static int add_range(struct cpuport_sites *s, uint64_t start, uint64_t end)
{
	if (start >= end)
		return 0;
	if (s->n_ranges && s->ranges[s->n_ranges - 1].end == start) {
		s->ranges[s->n_ranges - 1].end = end;
		return 0;
	}
	if (s->n_ranges == s->cap_ranges) {
		size_t cap = s->cap_ranges ? s->cap_ranges * 2 : 64;
		struct range *r;

		if (cap > MAX_RANGES) {
			s->overflow = true;
			return -E2BIG;
		}
		r = realloc(s->ranges, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		s->ranges = r, s->cap_ranges = cap;
	}
	s->ranges[s->n_ranges++] = (struct range){ start, end };
	return 0;
}

static int add_site(struct cpuport_sites *s, uint64_t addr)
{
	if (s->n_sites == s->cap_sites) {
		size_t cap = s->cap_sites ? s->cap_sites * 2 : 256;
		uint64_t *v;

		if (cap > MAX_SITES) {
			s->overflow = true;
			return -E2BIG;
		}
		v = realloc(s->sites, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->sites = v, s->cap_sites = cap;
	}
	s->sites[s->n_sites++] = addr;
	return 0;
}

static int scan_words(struct cpuport_sites *s, const struct wordscan *f, uint64_t a, const uint64_t *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i % 8 == 0) {
			i += wordscan_next(w + i, n - i, f);
			if (i >= n)
				break;
		}
		if (bsearch(&w[i], s->cand, s->n_cand, sizeof(*s->cand), cmp_u64)) {
			int ret = add_site(s, a + i * 8);

			if (ret)
				return ret;
		}
	}
	return 0;
}

/* As the restore's scan (pointers.c) leaves stacks to the thread hazards, so does this one. */
static bool is_stack(const struct cpuport_sites *s, const struct proc_map *m)
{
	if (m->path && (!strcmp(m->path, "[stack]") || !strncmp(m->path, "[v", 2)))
		return true;
	for (size_t t = 0; t < s->n_sps; t++)
		if (s->sps[t] >= m->start && s->sps[t] < m->end)
			return true;
	return false;
}

/*
 * The mappings the restore's scan reads: private, writable, not a stack; and
 * not huge.  Not writable and executable ones either (JIT code): CRIU's
 * parasite injection swaps a syscall instruction into the first executable
 * mapping while a worker (sites_worker.c) may be reading; the restore reads
 * those itself.
 */
static bool scanned(const struct cpuport_sites *s, const struct proc_map *m)
{
	return m->perms[1] == 'w' && m->perms[2] != 'x' && m->perms[3] == 'p' && m->end - m->start <= SITES_MAX_MAP &&
	       !is_stack(s, m);
}

int sites_worth(const struct cpuport_sites *s, const struct pview *v)
{
	uint64_t total = 0;

	for (size_t m = 0; m < v->n_maps; m++)
		if (scanned(s, &v->maps[m]))
			total += v->maps[m].end - v->maps[m].start;
	return total < s->min_bytes ? -ENODATA : 0;
}

void sites_watch(struct cpuport_sites *s, int fd)
{
	s->watch_fd = fd;
}

/* is the reader of watch_fd still there? */
static bool watched_gone(const struct cpuport_sites *s)
{
	struct pollfd p = { .fd = s->watch_fd, .events = 0 };

	return s->watch_fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP | POLLNVAL));
}

/* Those mappings, read whole or up to a failure (what is not read stays uncovered: scanned at restore). */
int sites_scan(struct cpuport_sites *s, const struct pview *v)
{
	uint64_t *buf;
	struct wordscan f;
	int ret;

	s->n_ranges = s->n_sites = 0;
	ret = sites_worth(s, v);
	if (ret)
		return ret;
	if (!s->n_cand)
		return 0;	/* nothing to look for: every chunk is skippable once covered */
	buf = malloc(SITES_READ);
	if (!buf)
		return -ENOMEM;
	wordscan_init(&f, s->cand, s->n_cand);
	for (size_t m = 0; m < v->n_maps && !ret; m++) {
		const struct proc_map *mp = &v->maps[m];

		if (!scanned(s, mp))
			continue;	/* uncovered: scanned at restore if the restore scans it at all */
		for (uint64_t a = mp->start; a < mp->end && !ret;) {
			size_t len = mp->end - a < SITES_READ ? mp->end - a : SITES_READ;

			if (watched_gone(s)) {
				ret = -EPIPE;
				break;
			}

			if (pview_read(v, a, buf, len)) {
				len = len < SITES_CHUNK ? len : SITES_CHUNK;
				if (pview_read(v, a, buf, len))
					break;	/* the rest of this mapping stays uncovered: scanned at restore */
			}
			ret = scan_words(s, &f, a, buf, len / 8);
			ret = ret ?: add_range(s, a, a + len);
			a += len;
		}
	}
	free(buf);
	return ret;
}

int sites_worth_hint(const struct cpuport_sites *s)
{
	return s->writable_hint < s->min_bytes ? -ENODATA : 0;
}

int cpuport_sites__scan(struct cpuport_sites *s, pid_t pid)
{
	struct pview v;
	int ret;

	if (sites_worth_hint(s))	/* small: not even the maps are read */
		return -ENODATA;
	ret = pview_proc_open(&v, pid, false);
	if (ret)
		return ret;
	ret = sites_scan(s, &v);
	pview_close(&v);
	return ret;
}

int cpuport_sites__write_fd(const struct cpuport_sites *s, int fd)
{
	struct sites_hdr h = { .magic = SITES_MAGIC, .hash = s->hash, .n_ranges = s->n_ranges, .n_sites = s->n_sites };
	size_t rl = s->n_ranges * sizeof(*s->ranges), sl = s->n_sites * sizeof(*s->sites);

	if (s->overflow)
		return -E2BIG;
	h.sum = disk_cache_sum(s->ranges, rl) ^ disk_cache_sum(s->sites, sl);
	if (write(fd, &h, sizeof(h)) != (ssize_t)sizeof(h) || (rl && write(fd, s->ranges, rl) != (ssize_t)rl) ||
	    (sl && write(fd, s->sites, sl) != (ssize_t)sl))
		return -EIO;
	return 0;
}

/* sorted, disjoint ranges; sorted sites, each inside a range */
static bool sites_valid(const struct cpuport_sites *s)
{
	size_t r = 0;

	for (size_t i = 0; i < s->n_ranges; i++)
		if (s->ranges[i].start >= s->ranges[i].end || (i && s->ranges[i - 1].end > s->ranges[i].start))
			return false;
	for (size_t i = 0; i < s->n_sites; i++) {
		if ((i && s->sites[i - 1] >= s->sites[i]) || s->sites[i] % 8)
			return false;
		while (r < s->n_ranges && s->ranges[r].end <= s->sites[i])
			r++;
		if (r == s->n_ranges || s->sites[i] < s->ranges[r].start)
			return false;
	}
	return true;
}

int cpuport_table__read_sites_fd(struct cpuport_table *t, int fd)
{
	struct cpuport_sites *s;
	struct sites_hdr h;
	size_t rl, sl;
	int ret = cpuport_sites__new(t, &s);

	if (ret)
		return ret;
	ret = -EINVAL;
	if (read(fd, &h, sizeof(h)) != (ssize_t)sizeof(h) || memcmp(h.magic, SITES_MAGIC, 8) || h.hash != s->hash ||
	    h.n_ranges > MAX_RANGES || h.n_sites > MAX_SITES)
		goto bad;
	rl = h.n_ranges * sizeof(*s->ranges), sl = h.n_sites * sizeof(*s->sites);
	s->ranges = malloc(rl + 1);
	s->sites = malloc(sl + 1);
	if (!s->ranges || !s->sites) {
		ret = -ENOMEM;
		goto bad;
	}
	if (read(fd, s->ranges, rl) != (ssize_t)rl || read(fd, s->sites, sl) != (ssize_t)sl ||
	    read(fd, &h.magic, 1) != 0)	/* exactly that long */
		goto bad;
	s->n_ranges = h.n_ranges, s->n_sites = h.n_sites;
	if (h.sum != (disk_cache_sum(s->ranges, rl) ^ disk_cache_sum(s->sites, sl)) || !sites_valid(s))
		goto bad;
	cpuport_sites__free(t->sites);
	t->sites = s;
	return 0;
bad:
	cpuport_sites__free(s);
	return ret;
}

void sites_set_min(struct cpuport_sites *s, uint64_t bytes)
{
	s->min_bytes = bytes;
}

bool sites_skippable(const struct cpuport_sites *s, uint64_t a, size_t len)
{
	size_t lo = 0, hi = s->n_ranges;

	while (lo < hi) {	/* the last range starting at or before a */
		size_t mid = (lo + hi) / 2;

		if (s->ranges[mid].start <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || s->ranges[lo - 1].end < a + len)
		return false;	/* not read whole at dump */
	lo = 0, hi = s->n_sites;
	while (lo < hi) {	/* the first site at or after a */
		size_t mid = (lo + hi) / 2;

		if (s->sites[mid] < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == s->n_sites || s->sites[lo] >= a + len;
}
