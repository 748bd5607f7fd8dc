// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Resolvers' variant sets (variant_set.c) kept on disk across restores: a
 * fact about a file, so one entry per object build in <cache dir>/vset/
 * (disk_cache.c: keyed by build-id, checked against the file's identity,
 * owner, mode and checksum).  A restore then decodes no resolver it has
 * seen before and opens no object's code for them.
 *
 * Reading an entry trusts nothing: every count fits the entry, resolvers
 * are strictly increasing, each set's addresses strictly increasing (what
 * variant_set_has() needs), each reason ends inside its field; anything else
 * and the whole entry is ignored (the sets are computed again).  Only sets
 * variant_set_compute() finished (known or not) are stored, never an error.
 * Bump VSET_STORE_VERSION with any change to what variant_set_compute()
 * finds, so entries of an older analysis are never read.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "variant_set.h"

#define VSET_STORE_KIND "vset"
#define VSET_STORE_VERSION 1
#define MAX_ADDRS 4096

struct vset_rec {
	uint64_t resolver, n_addrs;
	uint8_t known, may_be_null, pad[6];
	char why[sizeof(((struct variant_set *)0)->why)];
};

int vset_store_load(struct cpuport_ctx *ctx, const struct file_id *id, struct variant_set_entry **out, size_t *n_out)
{
	struct variant_set_entry *ents = NULL;
	uint8_t *buf = NULL;
	size_t len, pos = sizeof(uint64_t), n = 0;
	uint64_t count;
	void *data;
	int ret = -ENOENT;

	*out = NULL;
	*n_out = 0;
	if (disk_cache_get(ctx, VSET_STORE_KIND, VSET_STORE_VERSION, id, &data, &len))
		return -ENOENT;
	buf = data;
	if (len < sizeof(count))
		goto out;
	memcpy(&count, buf, sizeof(count));
	if (count > len / sizeof(struct vset_rec) || !(ents = calloc(count + 1, sizeof(*ents)))) {
		ret = count > len / sizeof(struct vset_rec) ? -ENOENT : -ENOMEM;
		goto out;
	}
	for (n = 0; n < count; n++) {
		struct variant_set_entry *e = &ents[n];
		struct vset_rec rec;

		if (len - pos < sizeof(rec))
			goto out;
		memcpy(&rec, buf + pos, sizeof(rec));
		pos += sizeof(rec);
		if (rec.known > 1 || rec.may_be_null > 1 || rec.n_addrs > MAX_ADDRS ||
		    (len - pos) / sizeof(uint64_t) < rec.n_addrs || !memchr(rec.why, 0, sizeof(rec.why)) ||
		    (n && rec.resolver <= ents[n - 1].resolver))
			goto out;
		e->resolver = rec.resolver;
		e->set.known = rec.known;
		e->set.may_be_null = rec.may_be_null;
		memcpy(e->set.why, rec.why, sizeof(rec.why));
		e->set.n = rec.n_addrs;
		if (rec.n_addrs && !(e->set.addrs = malloc(rec.n_addrs * sizeof(uint64_t)))) {
			ret = -ENOMEM;
			goto out;
		}
		memcpy(e->set.addrs, buf + pos, rec.n_addrs * sizeof(uint64_t));
		pos += rec.n_addrs * sizeof(uint64_t);
		for (size_t k = 1; k < e->set.n; k++)
			if (e->set.addrs[k] <= e->set.addrs[k - 1])
				goto out;
	}
	if (pos != len)
		goto out;
	*out = ents;
	*n_out = n;
	ents = NULL;
	ret = 0;
out:
	if (ret == -ENOENT)
		log_debug(ctx, "cache: a variant-set entry does not hold together: computing the sets\n");
	for (size_t i = 0; ents && i <= n && i < count; i++)
		variant_set_free(&ents[i].set);
	free(ents);
	free(buf);
	return ret;
}

static int cmp_resolver(const void *a, const void *b)
{
	const struct variant_set_entry *x = *(const struct variant_set_entry *const *)a;
	const struct variant_set_entry *y = *(const struct variant_set_entry *const *)b;

	return x->resolver < y->resolver ? -1 : x->resolver > y->resolver;
}

int vset_store_save(struct cpuport_ctx *ctx, const struct file_id *id, const struct variant_set_entry *ents, size_t n)
{
	const struct variant_set_entry **order = calloc(n + 1, sizeof(*order));
	size_t len = sizeof(uint64_t), k = 0, pos;
	uint8_t *buf = NULL;
	uint64_t count;
	int ret = -ENOMEM;

	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!ents[i].err && ents[i].set.n <= MAX_ADDRS) {
			order[k++] = &ents[i];
			len += sizeof(struct vset_rec) + ents[i].set.n * sizeof(uint64_t);
		}
	qsort(order, k, sizeof(*order), cmp_resolver);
	buf = malloc(len);
	if (!buf)
		goto out;
	count = k;
	memcpy(buf, &count, sizeof(count));
	pos = sizeof(count);
	for (size_t i = 0; i < k; i++) {
		struct vset_rec rec = { .resolver = order[i]->resolver, .n_addrs = order[i]->set.n,
					.known = order[i]->set.known, .may_be_null = order[i]->set.may_be_null };

		memcpy(rec.why, order[i]->set.why, sizeof(rec.why));
		rec.why[sizeof(rec.why) - 1] = 0;
		memcpy(buf + pos, &rec, sizeof(rec));
		pos += sizeof(rec);
		if (rec.n_addrs)
			memcpy(buf + pos, order[i]->set.addrs, rec.n_addrs * sizeof(uint64_t));
		pos += rec.n_addrs * sizeof(uint64_t);
	}
	ret = disk_cache_put(ctx, VSET_STORE_KIND, VSET_STORE_VERSION, id, buf, len);
out:
	free(buf);
	free(order);
	return ret;
}
