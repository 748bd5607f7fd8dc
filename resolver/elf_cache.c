// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Parsed ELF files, shared for a context's lifetime (one CRIU dump or
 * restore): a tree of processes maps the same libc, ld.so and libraries,
 * so each file is read once.  Keyed by what identifies a file's contents:
 * device, inode, size and modification time.  Across runs, through the
 * on-disk cache (disk_cache.c, elf_blob.c).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

#define MAX_FACTS 2
#define MAX_FACT 32

struct elf_cache_entry {
	struct elf_cache_entry *next;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	bool debug_tried;
	struct cpuport_ctx *ctx;	/* for the debug-file lookup, on first need */
	char *debug_root;
	bool has_id;		/* id: read from the file when it was loaded (the on-disk cache's key) */
	struct file_id id;
	struct {		/* elf_fact_get/put: small facts about the file, for this context */
		char kind[16];
		uint32_t version;
		size_t len;
		uint8_t data[MAX_FACT];
	} facts[MAX_FACTS];
	size_t n_facts;
	struct elf_info info;
};

/*
 * Through the on-disk cache (disk_cache.c) when the file has a build-id: an
 * entry checked against the file now, or the file parsed and stored.  What
 * does not come from the file (debug-file names) is looked up every time.
 */
static int load(struct cpuport_ctx *ctx, int fd, const char *path, struct elf_info *info, struct file_id *idp,
		bool *has_id)
{
	struct file_id id;
	char self[64];
	struct stat st;
	void *blob = NULL;
	size_t len;
	int ret;

	if (!ctx->cache_dir || file_id_of(fd, &id))
		return elf_info_load(ctx, path, info);
	*idp = id;
	*has_id = true;
	if (!disk_cache_get(ctx, "elf", ELF_BLOB_VERSION, &id, &blob, &len)) {
		ret = elf_info_from_blob(blob, len, info);
		free(blob);
		if (!ret && info->build_id_len == id.build_id_len &&
		    !memcmp(info->build_id, id.build_id, id.build_id_len)) {
			elf_info_finish(ctx, info);
			return 0;
		}
		if (!ret)
			elf_info_free(info);
		log_debug(ctx, "cache: entry for %s does not hold together: parsing the file\n", path);
	}
	/* the very file @fd is open on, not whatever @path names by now */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	ret = elf_info_parse(ctx, self, info);
	if (ret)
		return elf_info_load(ctx, path, info);	/* no /proc: as without a cache */
	if (info->build_id_len == id.build_id_len && !memcmp(info->build_id, id.build_id, id.build_id_len) &&
	    !fstat(fd, &st) && st.st_size == id.st.st_size && st.st_mtim.tv_sec == id.st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == id.st.st_mtim.tv_nsec && !elf_info_to_blob(info, &blob, &len)) {
		disk_cache_put(ctx, "elf", ELF_BLOB_VERSION, &id, blob, len);
		free(blob);
	}
	elf_info_finish(ctx, info);
	return 0;
}

/*
 * A debug file (same build-id) parsed for its .symtab, through the disk
 * cache like any file; its names move into @info.  What load_debug_symbols()
 * reads from it, as elf_info_parse() reads a .symtab.
 */
bool elf_debug_cached(struct cpuport_ctx *ctx, struct elf_info *info, int fd)
{
	struct elf_info d;
	struct file_id id;
	char self[64];
	void *blob = NULL;
	size_t len;
	bool ok = false;
	int ret = -ENOENT;

	if (!ctx || !ctx->cache_dir)	/* elf_info_load() without a context */
		return false;
	if (file_id_of(fd, &id) || id.build_id_len != info->build_id_len ||
	    memcmp(id.build_id, info->build_id, id.build_id_len))
		goto out;
	if (!disk_cache_get(ctx, "elfdebug", ELF_BLOB_VERSION, &id, &blob, &len)) {
		ret = elf_info_from_blob(blob, len, &d);
		free(blob);
		blob = NULL;
		if (!ret && (!d.has_symtab || d.build_id_len != id.build_id_len ||
			     memcmp(d.build_id, id.build_id, id.build_id_len))) {
			elf_info_free(&d);
			ret = -EINVAL;
		}
	}
	if (ret) {
		snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
		ret = elf_info_parse_debug(ctx, self, &d);
		if (ret)
			goto out;
		if (!elf_info_to_blob(&d, &blob, &len))
			disk_cache_put(ctx, "elfdebug", ELF_BLOB_VERSION, &id, blob, len);
		free(blob);
	}
	info->syms = d.syms;
	info->n_syms = d.n_syms;
	info->syms_from_debug = true;
	arena_adopt(&info->arena, &d.arena);
	ok = true;
out:
	return ok;
}

const struct elf_info *elf_cache_get(struct cpuport_ctx *ctx, const char *path, const char *debug_root,
				     int *err)
{
	return elf_cache_get_fd(ctx, path, debug_root, err, NULL);
}

const struct elf_info *elf_cache_get_fd(struct cpuport_ctx *ctx, const char *path, const char *debug_root,
					int *err, int *fd_out)
{
	struct elf_cache_entry *e;
	struct stat st;
	int fd;

	if (fd_out)
		*fd_out = -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		*err = -errno;
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	for (e = ctx->elf_cache; e; e = e->next)
		if (e->dev == st.st_dev && e->ino == st.st_ino && e->size == st.st_size &&
		    e->mtime.tv_sec == st.st_mtim.tv_sec && e->mtime.tv_nsec == st.st_mtim.tv_nsec)
			goto found;
	e = calloc(1, sizeof(*e));
	if (!e) {
		close(fd);
		*err = -ENOMEM;
		return NULL;
	}
	*err = load(ctx, fd, path, &e->info, &e->id, &e->has_id);
	if (*err) {
		close(fd);
		free(e);
		return NULL;
	}
	e->dev = st.st_dev, e->ino = st.st_ino, e->size = st.st_size, e->mtime = st.st_mtim;
	e->next = ctx->elf_cache;
	ctx->elf_cache = e;
found:
	if (fd_out)
		*fd_out = fd;	/* the very file read, for the caller */
	else
		close(fd);
	/* debug files in the first root asked for (as before), looked up when a name is first needed */
	if (debug_root && !e->debug_tried && !e->info.debug_pending) {
		e->ctx = ctx;
		e->debug_root = strdup(debug_root);
		e->info.debug_pending = e;
		if (!e->debug_root)
			elf_info_want_syms(&e->info);	/* no memory to defer: now */
	}
	*err = 0;
	return &e->info;
}

void elf_info_want_syms(const struct elf_info *info)
{
	struct elf_cache_entry *e = info->debug_pending;

	if (!e)
		return;
	e->info.debug_pending = NULL;
	e->debug_tried = true;
	elf_info_debug_from(e->ctx, &e->info, e->debug_root ?: "");
	free(e->debug_root);
	e->debug_root = NULL;
}

static struct elf_cache_entry *entry_of(struct cpuport_ctx *ctx, const struct elf_info *info)
{
	for (struct elf_cache_entry *e = ctx->elf_cache; e; e = e->next)
		if (&e->info == info)
			return e;
	return NULL;
}

static void remember(struct elf_cache_entry *e, const char *kind, uint32_t version, const void *buf, size_t len)
{
	size_t i;

	for (i = 0; i < e->n_facts; i++)
		if (!strcmp(e->facts[i].kind, kind))
			break;
	if (i == MAX_FACTS)
		return;
	e->n_facts += i == e->n_facts;
	snprintf(e->facts[i].kind, sizeof(e->facts[i].kind), "%s", kind);
	e->facts[i].version = version;
	e->facts[i].len = len;
	memcpy(e->facts[i].data, buf, len);
}

int elf_fact_get(struct cpuport_ctx *ctx, const struct elf_info *info, const char *kind, uint32_t version,
		 void *buf, size_t len)
{
	struct elf_cache_entry *e = entry_of(ctx, info);
	void *data = NULL;
	size_t n;

	if (!e || len > MAX_FACT)
		return -ENOENT;
	for (size_t i = 0; i < e->n_facts; i++)
		if (!strcmp(e->facts[i].kind, kind) && e->facts[i].version == version && e->facts[i].len == len) {
			memcpy(buf, e->facts[i].data, len);
			return 0;
		}
	if (!e->has_id || disk_cache_get(ctx, kind, version, &e->id, &data, &n))
		return -ENOENT;
	if (n != len) {
		free(data);
		return -ENOENT;
	}
	memcpy(buf, data, len);
	free(data);
	remember(e, kind, version, buf, len);
	return 0;
}

void elf_fact_put(struct cpuport_ctx *ctx, const struct elf_info *info, const char *kind, uint32_t version,
		  const void *buf, size_t len)
{
	struct elf_cache_entry *e = entry_of(ctx, info);

	if (!e || len > MAX_FACT)
		return;
	remember(e, kind, version, buf, len);
	if (e->has_id)
		disk_cache_put(ctx, kind, version, &e->id, buf, len);
}

/* The dump's name filter for @info (scan_find_definer()); the restore has no use for it. */
void elf_cache_want_filter(struct cpuport_ctx *ctx, const struct elf_info *info)
{
	for (struct elf_cache_entry *e = ctx->elf_cache; e; e = e->next)
		if (&e->info == info && !e->info.dynsym_bloom)
			elf_dynsym_bloom_build(&e->info);
}

void elf_cache_free(struct cpuport_ctx *ctx)
{
	struct elf_cache_entry *e = ctx->elf_cache, *next;

	for (; e; e = next) {
		next = e->next;
		elf_info_free(&e->info);
		free(e->debug_root);
		free(e);
	}
	ctx->elf_cache = NULL;
}
