// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The ISA census cached on disk: <dir>/<build-id in hex>, one file per
 * object build.  A fact about a file: an entry is used only when its
 * build-id, the file's size and mtime match, its checksum holds and every
 * index in it is in range; anything else is ignored (and recomputed), so a
 * cache never changes an outcome.  The directory and the entry must belong
 * to root or to us and be writable by nobody else.  Entries are written to a
 * temporary file and renamed into place.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf_code.h"
#include "isa_census.h"

/* bump the version with any change to what isa_census_build() or isa.c compute, or to their structures */
#define MAGIC "CPCENS06"
#define MAX_ENTRY (256u << 20)

struct hdr {
	char magic[8];
	uint32_t build_id_len, n_resolvers, n_resolvers_unknown, pad;
	uint8_t build_id[64];
	uint64_t file_size;
	int64_t mtime_ns;
	uint64_t n_insns, n_undecodable;
	struct featset need;
	uint64_t n_funcs, n_ex, n_refs, n_readers, n_reads;
	uint64_t sum;		/* FNV-1a over everything after the header */
};

static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

static bool trusted(const struct stat *st)
{
	return (st->st_uid == 0 || st->st_uid == geteuid()) && !(st->st_mode & 022);
}

static void entry_path(const char *dir, const uint8_t *bid, size_t len, char *buf, size_t size)
{
	int pos = snprintf(buf, size, "%s/", dir);

	for (size_t i = 0; i < len && pos > 0 && (size_t)pos + 3 < size; i++)
		pos += snprintf(buf + pos, size - pos, "%02x", bid[i]);
}

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

int census_cache_load(const char *dir, const struct elf_code *ec, struct isa_census **out)
{
	char path[4096];
	struct stat st;
	struct hdr h;
	struct isa_census *c = NULL;
	uint8_t *buf = NULL;
	size_t off = 0, want;
	int fd = -1, ret = -ENOENT;

	*out = NULL;
	if (!ec->build_id_len)
		return -ENOENT;
	entry_path(dir, ec->build_id, ec->build_id_len, path, sizeof(path));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || !trusted(&st) || st.st_size < (off_t)sizeof(h) ||
	    st.st_size > MAX_ENTRY)
		goto out;
	buf = malloc(st.st_size);
	if (!buf || pread(fd, buf, st.st_size, 0) != st.st_size)
		goto out;
	memcpy(&h, buf, sizeof(h));
	ret = -EINVAL;
	if (memcmp(h.magic, MAGIC, 8) || h.build_id_len != ec->build_id_len ||
	    memcmp(h.build_id, ec->build_id, ec->build_id_len) || h.file_size != (uint64_t)ec->st.st_size ||
	    h.mtime_ns != (int64_t)ec->st.st_mtim.tv_sec * 1000000000 + ec->st.st_mtim.tv_nsec)
		goto out;
	if (h.n_funcs > MAX_ENTRY || h.n_ex > MAX_ENTRY || h.n_refs > MAX_ENTRY || h.n_readers > MAX_ENTRY ||
	    h.n_reads > MAX_ENTRY)
		goto out;
	want = sizeof(h) + h.n_funcs * sizeof(struct census_func) + h.n_ex * sizeof(struct census_example) +
	       h.n_refs * sizeof(struct census_ref) + h.n_readers * sizeof(struct census_reader) +
	       h.n_reads * sizeof(struct census_read);
	if (want != (size_t)st.st_size || fnv(buf + sizeof(h), want - sizeof(h)) != h.sum)
		goto out;
	c = calloc(1, sizeof(*c));
	if (!c) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(c->build_id, h.build_id, sizeof(c->build_id));
	c->build_id_len = h.build_id_len;
	c->file_size = h.file_size;
	c->mtime_ns = h.mtime_ns;
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
	free(buf);
	close(fd);
	return ret;
}

static int ensure_dir(const char *dir)
{
	char tmp[4096];
	struct stat st;

	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(tmp, 0755);
			*p = '/';
		}
	mkdir(tmp, 0755);
	if (lstat(dir, &st) || !S_ISDIR(st.st_mode) || !trusted(&st))
		return -EPERM;
	return 0;
}

int census_cache_store(const char *dir, const struct isa_census *c)
{
	char path[4096], tmp[4200];
	struct hdr h = { .magic = MAGIC };
	uint64_t sum = 1469598103934665603ULL;
	FILE *f = NULL;
	int fd = -1, ret;
	const struct {
		const void *p;
		size_t len;
	} parts[] = {
		{ c->funcs, c->n_funcs * sizeof(*c->funcs) },	  { c->ex, c->n_ex * sizeof(*c->ex) },
		{ c->refs, c->n_refs * sizeof(*c->refs) },	  { c->readers, c->n_readers * sizeof(*c->readers) },
		{ c->reads, c->n_reads * sizeof(*c->reads) },
	};

	if (!c->build_id_len)
		return -ENOENT;
	ret = ensure_dir(dir);
	if (ret)
		return ret;
	memcpy(h.build_id, c->build_id, sizeof(h.build_id));
	h.build_id_len = c->build_id_len;
	h.file_size = c->file_size;
	h.mtime_ns = c->mtime_ns;
	h.n_insns = c->n_insns;
	h.n_undecodable = c->n_undecodable;
	h.n_resolvers = c->n_resolvers;
	h.n_resolvers_unknown = c->n_resolvers_unknown;
	h.need = c->need;
	h.n_funcs = c->n_funcs, h.n_ex = c->n_ex, h.n_refs = c->n_refs, h.n_readers = c->n_readers;
	h.n_reads = c->n_reads;
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++)
		for (size_t k = 0; k < parts[i].len; k++)
			sum = (sum ^ ((const uint8_t *)parts[i].p)[k]) * 1099511628211ULL;
	h.sum = sum;
	entry_path(dir, c->build_id, c->build_id_len, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		ret = -errno;
		close(fd);
		unlink(tmp);
		return ret;
	}
	ret = fchmod(fd, 0644) || fwrite(&h, sizeof(h), 1, f) != 1 ? -EIO : 0;
	for (size_t i = 0; i < ARRAY_SIZE(parts) && !ret; i++)
		if (parts[i].len && fwrite(parts[i].p, parts[i].len, 1, f) != 1)
			ret = -EIO;
	if (fclose(f) && !ret)
		ret = -EIO;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

int isa_census_get(const char *path, const char *cache_dir, struct isa_census **out)
{
	struct elf_code c;
	int ret;

	*out = NULL;
	if (cache_dir) {	/* the cache needs only the build-id, size and mtime */
		ret = elf_code_open_mode(path, &c, ELF_CODE_SECTIONS);
		if (ret)
			return ret;
		ret = census_cache_load(cache_dir, &c, out);
		elf_code_close(&c);
		if (!ret)
			return 0;
	}
	ret = elf_code_open(path, &c);
	if (ret)
		return ret;
	ret = isa_census_build(&c, out);
	if (!ret && cache_dir)
		census_cache_store(cache_dir, *out);	/* a cache never changes an outcome */
	elf_code_close(&c);
	return ret;
}
