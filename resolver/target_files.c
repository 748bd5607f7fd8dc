// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The dumped process as its image records it, for `cpuport check`: no
 * process, files by path under the context's root, slot values as recorded,
 * code from the files at the recorded load bases.  Read only; no mappings,
 * so no copied-pointer scan.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "restore.h"

struct files_target {
	struct cpuport_ctx *ctx;
	const Cpuport__Image *img;
	char root[512];
};

static int files_read(void *arg, uint64_t addr, void *buf, size_t len)
{
	const struct files_target *t = arg;
	const Cpuport__Image *img = t->img;
	const Cpuport__Object *o;
	const struct elf_info *e;
	char path[4096];
	int64_t off;
	int oi, fd, ret;

	for (size_t i = 0; len == 8 && i < img->n_slots; i++) {	/* a slot: its value at the dump */
		const Cpuport__Slot *s = img->slots[i];

		if (img->objects[s->object]->load_base + s->offset == addr) {
			memcpy(buf, &s->value, 8);
			return 0;
		}
	}
	oi = table_object_at(img, addr);
	if (oi < 0)
		return -EFAULT;
	o = img->objects[oi];
	snprintf(path, sizeof(path), "%s%s", t->root, o->path);
	e = elf_cache_get(t->ctx, path, NULL, &ret);
	if (!e)
		return ret;
	off = elf_vaddr_to_offset(e, addr - o->load_base, len);
	if (off < 0)
		return -EFAULT;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = pread(fd, buf, len, off) == (ssize_t)len ? 0 : -EIO;
	close(fd);
	return ret;
}

static int files_write(void *arg, uint64_t addr, const void *buf, size_t len)
{
	(void)arg, (void)addr, (void)buf, (void)len;
	return -EROFS;
}

static int files_locate(void *arg, const char *path, char *open_path, size_t len, uint64_t *start)
{
	const struct files_target *t = arg;

	(void)start;
	snprintf(open_path, len, "%s%s", t->root, path);
	return 0;
}

/* the helper runs as whoever runs the check */
static int files_ids(void *arg, uid_t *uid, gid_t *gid)
{
	(void)arg;
	*uid = getuid();
	*gid = getgid();
	return 0;
}

static const struct target_ops files_ops = {
	.read = files_read,
	.write = files_write,
	.locate = files_locate,
	.ids = files_ids,
	.close = free,
};

int target_files_open(struct target *t, struct cpuport_ctx *ctx, const Cpuport__Image *img)
{
	struct files_target *ft = calloc(1, sizeof(*ft));

	memset(t, 0, sizeof(*t));
	if (!ft)
		return -ENOMEM;
	ft->ctx = ctx;
	ft->img = img;
	snprintf(ft->root, sizeof(ft->root), "%s", ctx->root);
	*t = (struct target){ .ops = &files_ops, .arg = ft };
	snprintf(t->root, sizeof(t->root), "%s", ctx->root);
	return 0;
}
