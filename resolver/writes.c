// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The writes a restore plans (slots, states, copied pointers), and applying
 * them: each one written, read back and compared.  Nothing is written until
 * every write is planned and no kind refused.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "restore.h"



int add_write(struct restore *r, uint64_t addr, const void *data, uint32_t len, const char *what)
{
	struct write *w;
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy)
		return -ENOMEM;
	w = realloc(r->writes, (r->n_writes + 1) * sizeof(*w));
	if (!w) {
		free(copy);
		return -ENOMEM;
	}
	r->writes = w;
	memcpy(copy, data, len);
	r->writes[r->n_writes++] = (struct write){ addr, copy, len, what };
	return 0;
}

static int cmp_write(const void *a, const void *b)
{
	const struct write *x = a, *y = b;

	return (x->addr > y->addr) - (x->addr < y->addr);
}

void sort_writes(struct restore *r)
{
	if (r->n_writes)
		qsort(r->writes, r->n_writes, sizeof(*r->writes), cmp_write);
}

/* Is @addr inside a planned slot or state write?  (writes sorted by address) */
bool is_planned(const struct write *w, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (w[mid].addr + w[mid].len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && addr >= w[lo].addr;
}

/* Does [addr, addr+len) overlap a planned write?  (writes sorted by address, not overlapping) */
bool overlaps_planned(const struct write *w, size_t n, uint64_t addr, uint64_t len)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {	/* the first write ending after addr */
		size_t mid = (lo + hi) / 2;

		if (w[mid].addr + w[mid].len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && w[lo].addr < addr + len;
}

int apply_writes(struct restore *r)
{
	uint8_t *back = malloc(WRITE_MAX);
	int ret = back ? 0 : -ENOMEM;

	for (size_t i = 0; i < r->n_writes && !ret; i++) {
		const struct write *w = &r->writes[i];

		ret = (r->ctx->faults & FAULT_WRITE) && i == r->n_writes / 2 ? -EIO
		      : w->len > WRITE_MAX ? -E2BIG : pview_write(r->tgt, w->addr, w->data, w->len);
		ret = ret ?: pview_read(r->tgt, w->addr, back, w->len);
		if (!ret && memcmp(back, w->data, w->len))
			ret = -EIO;	/* read back differs */
		if (ret)
			log_err(r->ctx, "pid %d: writing %s at %#" PRIx64 " failed: %s (%zu of %zu writes done)\n", r->pid,
				w->what, w->addr, strerror(-ret), i, r->n_writes);
		else
			log_debug(r->ctx, "pid %d: wrote %s at %#" PRIx64 "\n", r->pid, w->what, w->addr);
	}
	free(back);
	return ret ? -EIO : 0;
}

void free_writes(struct restore *r)
{
	for (size_t i = 0; i < r->n_writes; i++)
		free(r->writes[i].data);
	free(r->writes);
	r->writes = NULL;
	r->n_writes = 0;
}
