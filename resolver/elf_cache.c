// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Parsed ELF files, shared for a context's lifetime (one CRIU dump or
 * restore): a tree of processes maps the same libc, ld.so and libraries,
 * so each file is read once.  Keyed by what identifies a file's contents:
 * device, inode, size and modification time.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

struct elf_cache_entry {
	struct elf_cache_entry *next;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	bool debug_tried;
	struct elf_info info;
};

const struct elf_info *elf_cache_get(struct cpuport_ctx *ctx, const char *path, const char *debug_root,
				     int *err)
{
	struct elf_cache_entry *e;
	struct stat st;

	if (stat(path, &st)) {
		*err = -errno;
		return NULL;
	}
	for (e = ctx->elf_cache; e; e = e->next)
		if (e->dev == st.st_dev && e->ino == st.st_ino && e->size == st.st_size &&
		    e->mtime.tv_sec == st.st_mtim.tv_sec && e->mtime.tv_nsec == st.st_mtim.tv_nsec)
			goto found;
	e = calloc(1, sizeof(*e));
	if (!e) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = elf_info_load(ctx, path, &e->info);
	if (*err) {
		free(e);
		return NULL;
	}
	e->dev = st.st_dev, e->ino = st.st_ino, e->size = st.st_size, e->mtime = st.st_mtim;
	e->next = ctx->elf_cache;
	ctx->elf_cache = e;
found:
	if (debug_root && !e->debug_tried) {
		e->debug_tried = true;
		elf_info_debug_from(ctx, &e->info, debug_root);
	}
	*err = 0;
	return &e->info;
}

void elf_cache_free(struct cpuport_ctx *ctx)
{
	struct elf_cache_entry *e = ctx->elf_cache, *next;

	for (; e; e = next) {
		next = e->next;
		elf_info_free(&e->info);
		free(e);
	}
	ctx->elf_cache = NULL;
}
