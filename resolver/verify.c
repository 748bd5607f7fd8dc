// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The image against the destination's files: find every recorded object
 * again, prove it is the same file (build-id), and let each record's kind
 * re-derive the record from that file, so a tampered image cannot aim a
 * write anywhere the file does not justify.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "restore.h"

static void build_id_hex(const uint8_t *b, size_t n, char *out, size_t len)
{
	size_t pos = 0;

	out[0] = 0;
	for (size_t i = 0; i < n && pos + 3 < len; i++)
		pos += snprintf(out + pos, len - pos, "%02x", b[i]);
}

/* The mapping holding @addr, or NULL (maps sorted by address). */
static const struct proc_map *map_at(const struct pview *v, uint64_t addr)
{
	size_t lo = 0, hi = v->n_maps;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (v->maps[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->n_maps && addr >= v->maps[lo].start ? &v->maps[lo] : NULL;
}

/* Is @e loaded at @base from @first's file: every PT_LOAD's file bytes mapped from it, at their offsets? */
static bool loaded_at(const struct pview *v, const struct proc_map *first, const struct elf_info *e, uint64_t base)
{
	for (size_t i = 0; i < e->n_segs; i++) {
		uint64_t pad = e->segs[i].vaddr & 0xfff, addr = base + e->segs[i].vaddr - pad;
		const struct proc_map *m = map_at(v, addr);

		if (!e->segs[i].filesz)
			continue;
		if (!m || m->dev != first->dev || m->ino != first->ino ||
		    m->off + (addr - m->start) != e->segs[i].offset - pad)
			return false;
	}
	return true;
}

/*
 * The recorded object in the process: the mapping of that path at offset 0
 * that starts exactly at the recorded load base, with every segment mapped
 * from the same file as ld.so maps it (CRIU restores memory where it was).
 * Another mapping of the same file (an unwinder's private read of it) is
 * never taken for it.  0: found; 1: no process (the image's base holds);
 * -ESTALE: not loaded there.
 */
static int locate(struct restore *r, struct robj *o, char *open_path, size_t len, int *err, int *fd)
{
	const struct pview *v = r->tgt;
	const Cpuport__Object *rec = o->rec;

	*err = 0;
	if (v->as_recorded) {
		snprintf(open_path, len, "%s%s", v->root, rec->path);
		o->elf = elf_cache_get_fd(r->ctx, open_path, v->root, err, fd);
		o->base = rec->load_base;
		return o->elf ? 1 : -ESTALE;
	}
	for (size_t i = 0; i < v->n_maps; i++) {
		const struct proc_map *m = &v->maps[i];
		const struct elf_info *e;

		if (!m->path || m->off != 0 || strcmp(m->path, rec->path))
			continue;
		v->ops->file_path(v->arg, m, open_path, len);
		/* debug files in the process's root, then ours: the same lookup as at dump (scan.c) */
		e = elf_cache_get_fd(r->ctx, open_path, v->root, err, fd);
		if (!e)
			continue;
		if (m->start != rec->load_base + elf_first_load_vaddr(e) || !loaded_at(v, m, e, rec->load_base)) {
			close(*fd);	/* a data mapping of the file, or another copy: not the object */
			*fd = -1;
			continue;
		}
		o->elf = e;
		o->base = rec->load_base;
		o->dev = m->dev;
		o->ino = m->ino;
		return 0;
	}
	return -ESTALE;
}

/* Find one recorded object again and prove it is the same file (build-id). */
static int match_object(struct restore *r, uint32_t i)
{
	struct robj *o = &r->objs[i];
	const Cpuport__Object *rec = o->rec;
	char path[4096], want[130], have[130];
	int ret, err, fd = -1;

	ret = locate(r, o, path, sizeof(path), &err, &fd);
	if (ret < 0 && err) {
		log_err(r->ctx, "pid %d: cannot read %s: %s\n", r->pid, rec->path, strerror(-err));
		return -ESTALE;
	}
	if (ret < 0) {
		log_err(r->ctx, "pid %d: %s is not loaded at its recorded address %#" PRIx64 " in the restored process\n",
			r->pid, rec->path, rec->load_base);
		return -ESTALE;
	}
	if (rec->has_build_id &&
	    (rec->build_id.len != o->elf->build_id_len || memcmp(rec->build_id.data, o->elf->build_id, o->elf->build_id_len))) {
		build_id_hex(rec->build_id.data, rec->build_id.len, want, sizeof(want));
		build_id_hex(o->elf->build_id, o->elf->build_id_len, have, sizeof(have));
		log_err(r->ctx, "pid %d: %s changed since the dump (build-id %s, now %s): restore where the same "
			"file is installed, or re-dump\n", r->pid, rec->path, want, have);
		if (fd >= 0)
			close(fd);
		return -ESTALE;
	}
	o->fd = fd;	/* the very file whose build-id was just compared */
	return 0;
}

/* Does object @obj hold a record (a write target, or a resolver or state cpuport asks about)? */
static bool has_records(const Cpuport__Image *img, uint32_t obj)
{
	for (size_t i = 0; i < img->n_slots; i++)
		if (img->slots[i]->object == obj || (img->slots[i]->resolver && img->slots[i]->resolver->object == obj))
			return true;
	for (size_t i = 0; i < img->n_states; i++)
		if (img->states[i]->object == obj)
			return true;
	return false;
}

/*
 * A write of @len bytes at object-relative @off of @obj lands in that
 * object: inside one of its PT_LOAD segments, on a mapping of its own file
 * at the matching offset (or, past the file bytes, its anonymous .bss).
 */
static int lands_in_object(struct restore *r, uint32_t obj, uint64_t off, uint64_t len)
{
	const struct robj *o = &r->objs[obj];
	const struct elf_info *e = o->elf;

	if (r->tgt->as_recorded)
		return 0;
	for (size_t i = 0; i < e->n_segs; i++) {
		const struct elf_segment *s = &e->segs[i];

		if (off < s->vaddr || off + len > s->vaddr + s->memsz || off + len < off)
			continue;
		for (uint64_t b = off; b < off + len; b = (b | 0xfff) + 1) {	/* each page it touches */
			const struct proc_map *m = map_at(r->tgt, o->base + b);
			bool file_part = b < s->vaddr + s->filesz;

			if (!m)
				return -EFAULT;
			if (m->dev == o->dev && m->ino == o->ino && m->off + (o->base + b - m->start) ==
								 s->offset + (b - s->vaddr))
				continue;
			if (file_part || m->path)	/* file bytes elsewhere, or another file: not this object */
				return -EFAULT;
		}
		return 0;
	}
	return -EFAULT;
}

static int check_landing(struct restore *r)
{
	const Cpuport__Image *img = r->img;

	for (size_t i = 0; i < img->n_objects; i++)
		if (!img->objects[i]->has_build_id && has_records(img, i)) {
			log_err(r->ctx, "pid %d: %s has no build-id: cpuport cannot prove it is the file of the dump; "
				"refusing to write into it (link it with --build-id)\n", r->pid, img->objects[i]->path);
			return -ESTALE;
		}
	for (size_t i = 0; i < img->n_slots; i++)
		if (lands_in_object(r, img->slots[i]->object, img->slots[i]->offset, 8)) {
			log_err(r->ctx, "pid %d: slot %#" PRIx64 " of %s is not in that object's own mapping: refusing\n",
				r->pid, img->slots[i]->offset, obj_name(r, img->slots[i]->object));
			return -ESTALE;
		}
	for (size_t i = 0; i < img->n_states; i++)
		if (lands_in_object(r, img->states[i]->object, img->states[i]->offset, img->states[i]->size)) {
			log_err(r->ctx, "pid %d: %s at %#" PRIx64 " of %s is not in that object's own mapping: refusing\n",
				r->pid, img->states[i]->name ?: "a cached state", img->states[i]->offset,
				obj_name(r, img->states[i]->object));
			return -ESTALE;
		}
	return 0;
}

int verify_image(struct restore *r)
{
	const Cpuport__Image *img = r->img;
	int ret = 0;

	for (size_t i = 0; i < img->n_objects && !ret; i++)
		ret = match_object(r, i);
	ret = ret ?: check_landing(r);
	for (size_t i = 0; i < img->n_slots && !ret; i++) {
		const struct cpuport_kind *k = kind_of_slot(img->slots[i]->kind);

		ret = !k ? slot_bad(r, img->slots[i]) : k->verify ? k->verify(r, i) : 0;
	}
	for (size_t i = 0; i < img->n_states && !ret; i++) {
		const struct cpuport_kind *k = kind_of_state(img->states[i]->kind);

		ret = !k ? state_bad(r, img->states[i]) : k->verify ? k->verify(r, i) : 0;
	}
	return ret;
}
