// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The image against the destination's files: find every recorded object
 * again, prove it is the same file (build-id), and let each record's kind
 * re-derive the record from that file, so a tampered image cannot aim a
 * write anywhere the file does not justify.
 */
#include <fcntl.h>
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

/*
 * Where to open the object recorded as @path and, in a process, the start
 * of its offset-0 mapping.  1: mapped (*start set); 0: no process, the
 * image's load base holds; -ESTALE: not mapped.
 */
static int locate(const struct pview *v, const char *path, char *open_path, size_t len, uint64_t *start)
{
	if (v->as_recorded) {
		snprintf(open_path, len, "%s%s", v->root, path);
		return 0;
	}
	for (size_t i = 0; i < v->n_maps; i++)
		if (v->maps[i].path && v->maps[i].off == 0 && !strcmp(v->maps[i].path, path)) {
			v->ops->file_path(v->arg, &v->maps[i], open_path, len);
			*start = v->maps[i].start;
			return 1;
		}
	return -ESTALE;
}

/* Find one recorded object again and prove it is the same file (build-id). */
static int match_object(struct restore *r, uint32_t i)
{
	struct robj *o = &r->objs[i];
	const Cpuport__Object *rec = o->rec;
	char path[4096], want[130], have[130];
	uint64_t start = 0;
	int mapped, ret;

	mapped = locate(r->tgt, rec->path, path, sizeof(path), &start);
	if (mapped < 0) {
		log_err(r->ctx, "pid %d: %s is not mapped in the restored process\n", r->pid, rec->path);
		return -ESTALE;
	}
	o->elf = elf_cache_get(r->ctx, path, NULL, &ret);
	if (!o->elf) {
		log_err(r->ctx, "pid %d: cannot read %s: %s\n", r->pid, rec->path, strerror(-ret));
		return -ESTALE;
	}
	o->base = mapped ? start - elf_first_load_vaddr(o->elf) : rec->load_base;
	if (rec->has_build_id &&
	    (rec->build_id.len != o->elf->build_id_len || memcmp(rec->build_id.data, o->elf->build_id, o->elf->build_id_len))) {
		build_id_hex(rec->build_id.data, rec->build_id.len, want, sizeof(want));
		build_id_hex(o->elf->build_id, o->elf->build_id_len, have, sizeof(have));
		log_err(r->ctx, "pid %d: %s changed since the dump (build-id %s, now %s): restore where the same "
			"file is installed, or re-dump\n", r->pid, rec->path, want, have);
		return -ESTALE;
	}
	o->fd = open(path, O_RDONLY | O_CLOEXEC);
	return 0;
}

int verify_image(struct restore *r)
{
	const Cpuport__Image *img = r->img;
	int ret = 0;

	for (size_t i = 0; i < img->n_objects && !ret; i++)
		ret = match_object(r, i);
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
