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

#include "internal.h"

struct image_view {
	struct cpuport_ctx *ctx;
	const Cpuport__Image *img;
	char root[512];
};

static int files_read(void *arg, uint64_t addr, void *buf, size_t len)
{
	const struct image_view *t = arg;
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
	e = elf_cache_get(t->ctx, path, t->ctx->root, &ret);
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

/* the helper runs as whoever runs the check */
static int files_ids(void *arg, pid_t *nspid, uid_t *uid, gid_t *gid)
{
	(void)arg;
	*nspid = 0;
	*uid = getuid();
	*gid = getgid();
	return 0;
}

static const struct pview_ops files_ops = {
	.read = files_read,
	.write = files_write,
	.ids = files_ids,
	.close = free,
};

int pview_image_open(struct pview *v, struct cpuport_ctx *ctx, const Cpuport__Image *img)
{
	struct image_view *ft = calloc(1, sizeof(*ft));

	memset(v, 0, sizeof(*v));
	if (!ft)
		return -ENOMEM;
	ft->ctx = ctx;
	ft->img = img;
	snprintf(ft->root, sizeof(ft->root), "%s", ctx->root);
	*v = (struct pview){ .ops = &files_ops, .arg = ft, .as_recorded = true };
	snprintf(v->root, sizeof(v->root), "%s", ctx->root);
	return 0;
}
