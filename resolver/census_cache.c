// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The ISA census cached on disk, as the kind "census" of the generic cache
 * (disk_cache.c: one entry per object build, keyed by build-id and checked
 * against the file's identity, owner, mode and checksum, written
 * atomically).  This file turns a census into an entry's bytes and back;
 * reading trusts nothing: every count fits the entry and every index in it
 * is in range, anything else and the census is built again, so a cache
 * never changes an outcome.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf_code.h"
#include "isa_census.h"

/* bump with any change to what isa_census_build() or isa.c compute, or to their structures */
#define CENSUS_VERSION 7	/* 7: census_guard.c's guards (was CPCENS06 before disk_cache.c) */
#define MAX_COUNT (256u << 20)

struct hdr {
	uint32_t n_resolvers, n_resolvers_unknown;
	uint64_t n_insns, n_undecodable;
	struct featset need;
	uint64_t n_funcs, n_ex, n_refs, n_readers, n_reads;
};

static bool valid(const struct isa_census *c)
{
	for (size_t i = 0; i < c->n_funcs; i++) {
		const struct census_func *f = &c->funcs[i];

		if ((uint64_t)f->ex_first + f->n_ex > c->n_ex || (uint64_t)f->ref_first + f->n_refs > c->n_refs ||
		    f->start > f->end)
			return false;
	}
	for (size_t i = 0; i < c->n_refs; i++)
		if (c->refs[i].from != UINT32_MAX && c->refs[i].from >= c->n_readers)
			return false;
	for (size_t i = 0; i < c->n_readers; i++)
		if ((uint64_t)c->readers[i].read_first + c->readers[i].n_reads > c->n_reads)
			return false;
	for (size_t i = 0; i < c->n_ex; i++)
		if (c->ex[i].feature > F_UNKNOWN_ISA || !memchr(c->ex[i].mnemonic, 0, sizeof(c->ex[i].mnemonic)))
			return false;
	return true;
}

/* An entry's bytes (without disk_cache's header) as a census of the file @id: 0, -EINVAL, -ENOMEM. */
static int census_from_blob(const uint8_t *buf, size_t len, const struct file_id *id, struct isa_census **out)
{
	struct isa_census *c = NULL;
	struct hdr h;
	size_t off, want;
	int ret = -EINVAL;

	*out = NULL;
	if (len < sizeof(h))
		return -EINVAL;
	memcpy(&h, buf, sizeof(h));
	if (h.n_funcs > MAX_COUNT || h.n_ex > MAX_COUNT || h.n_refs > MAX_COUNT || h.n_readers > MAX_COUNT ||
	    h.n_reads > MAX_COUNT)
		return -EINVAL;
	want = sizeof(h) + h.n_funcs * sizeof(struct census_func) + h.n_ex * sizeof(struct census_example) +
	       h.n_refs * sizeof(struct census_ref) + h.n_readers * sizeof(struct census_reader) +
	       h.n_reads * sizeof(struct census_read);
	if (want != len)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	memcpy(c->build_id, id->build_id, id->build_id_len);
	c->build_id_len = id->build_id_len;
	c->file_size = id->st.st_size;
	c->mtime_ns = (int64_t)id->st.st_mtim.tv_sec * 1000000000 + id->st.st_mtim.tv_nsec;
	c->n_insns = h.n_insns;
	c->n_undecodable = h.n_undecodable;
	c->n_resolvers = h.n_resolvers;
	c->n_resolvers_unknown = h.n_resolvers_unknown;
	c->need = h.need;
	off = sizeof(h);
#define TAKE(field, count)                                                        \
	do {                                                                      \
		size_t bytes = (count) * sizeof(*c->field);                       \
		c->field = malloc(bytes + 1);                                     \
		if (!c->field) {                                                  \
			ret = -ENOMEM;                                            \
			goto out;                                                 \
		}                                                                 \
		memcpy(c->field, buf + off, bytes);                               \
		off += bytes;                                                     \
		c->n_##field = (count);                                           \
	} while (0)
	TAKE(funcs, h.n_funcs);
	TAKE(ex, h.n_ex);
	TAKE(refs, h.n_refs);
	TAKE(readers, h.n_readers);
	TAKE(reads, h.n_reads);
#undef TAKE
	if (!valid(c)) {
		ret = -EINVAL;
		goto out;
	}
	c->from_cache = true;
	*out = c;
	c = NULL;
	ret = 0;
out:
	isa_census_free(c);
	return ret;
}

static int census_to_blob(const struct isa_census *c, uint8_t **blob, size_t *len)
{
	struct hdr h = {
		.n_resolvers = c->n_resolvers, .n_resolvers_unknown = c->n_resolvers_unknown,
		.n_insns = c->n_insns, .n_undecodable = c->n_undecodable, .need = c->need,
		.n_funcs = c->n_funcs, .n_ex = c->n_ex, .n_refs = c->n_refs, .n_readers = c->n_readers,
		.n_reads = c->n_reads,
	};
	const struct {
		const void *p;
		size_t len;
	} parts[] = {
		{ c->funcs, c->n_funcs * sizeof(*c->funcs) },	  { c->ex, c->n_ex * sizeof(*c->ex) },
		{ c->refs, c->n_refs * sizeof(*c->refs) },	  { c->readers, c->n_readers * sizeof(*c->readers) },
		{ c->reads, c->n_reads * sizeof(*c->reads) },
	};
	size_t n = sizeof(h);

	for (size_t i = 0; i < ARRAY_SIZE(parts); i++)
		n += parts[i].len;
	*blob = malloc(n);
	if (!*blob)
		return -ENOMEM;
	memcpy(*blob, &h, sizeof(h));
	*len = sizeof(h);
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
		if (parts[i].len)
			memcpy(*blob + *len, parts[i].p, parts[i].len);
		*len += parts[i].len;
	}
	return 0;
}

int isa_census_get(struct cpuport_ctx *ctx, const char *path, struct isa_census **out)
{
	struct elf_code c;
	struct file_id id = { 0 };
	void *blob = NULL;
	size_t len;
	int ret, fd = -1;

	*out = NULL;
	if (ctx && ctx->cache_dir && (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0 && !file_id_of(fd, &id) &&
	    !disk_cache_get(ctx, "census", CENSUS_VERSION, &id, &blob, &len)) {
		ret = census_from_blob(blob, len, &id, out);
		free(blob);
		blob = NULL;
		if (!ret || ret == -ENOMEM) {
			close(fd);
			return ret;
		}
		log_debug(ctx, "cache: census entry for %s does not hold together: building it\n", path);
	}
	if (fd >= 0)
		close(fd);
	ret = elf_code_open(path, &c);
	if (ret)
		return ret;
	ret = isa_census_build(&c, out);
	/* stored only for the very file identified above (not one renamed into its place since) */
	if (!ret && id.build_id_len && (*out)->build_id_len == id.build_id_len &&
	    !memcmp((*out)->build_id, id.build_id, id.build_id_len) && (*out)->file_size == (uint64_t)id.st.st_size &&
	    (*out)->mtime_ns == (int64_t)id.st.st_mtim.tv_sec * 1000000000 + id.st.st_mtim.tv_nsec &&
	    c.st.st_ino == id.st.st_ino && c.st.st_dev == id.st.st_dev && !census_to_blob(*out, (uint8_t **)&blob, &len)) {
		disk_cache_put(ctx, "census", CENSUS_VERSION, &id, blob, len);	/* a cache never changes an outcome */
		free(blob);
	}
	elf_code_close(&c);
	return ret;
}
