// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The helper's answers against the destination's own files: a resolver's
 * answer may re-point a slot only to an address that resolver's own code can
 * return (its variant set, variant_set.c), in the resolver's own object.
 * The sets are facts about files: computed once per object and resolver for
 * the context's lifetime (a CRIU restore of a process tree), keyed by the
 * shared elf_info of the file (elf_cache.c: device, inode, size, mtime), and
 * kept on disk across restores (vset_store.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elf_code.h"
#include "restore.h"
#include "variant_set.h"

struct vset_obj {
	struct vset_obj *next;
	const struct elf_info *elf;
	bool code_tried;	/* the object's code opened (lazily: not for sets from the disk) */
	int err;		/* elf_code_open() failed */
	struct elf_code code;
	struct file_id id;	/* the file the sets are about (vset_store.c); build_id_len 0: none */
	bool dirty;		/* sets computed here, not on disk yet */
	struct variant_set_entry *ents;
	size_t n, cap;
};

void vset_cache_free(struct cpuport_ctx *ctx)
{
	struct vset_obj *o, *next;

	for (o = ctx->vsets; o; o = next) {
		next = o->next;
		if (o->dirty && o->id.build_id_len)
			vset_store_save(ctx, &o->id, o->ents, o->n);	/* best effort */
		for (size_t i = 0; i < o->n; i++)
			variant_set_free(&o->ents[i].set);
		free(o->ents);
		if (o->code_tried && !o->err)
			elf_code_close(&o->code);
		free(o);
	}
	ctx->vsets = NULL;
}

static struct vset_obj *vset_obj(struct restore *r, uint32_t obj)
{
	const struct robj *ro = &r->objs[obj];
	struct vset_obj *o;

	for (o = r->ctx->vsets; o; o = o->next)
		if (o->elf == ro->elf)
			return o;
	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->elf = ro->elf;
	/* the very file verify.c matched by build-id: its sets from an earlier run, if they hold */
	if (ro->fd >= 0 && r->ctx->cache_dir && !file_id_of(ro->fd, &o->id)) {
		if (vset_store_load(r->ctx, &o->id, &o->ents, &o->n) == -ENOMEM) {
			free(o);
			return NULL;
		}
		o->cap = o->n;
	}
	o->next = r->ctx->vsets;
	r->ctx->vsets = o;
	return o;
}

/* The object's code, opened on first need: the very file verify.c matched, not the path again. */
static int vset_code(struct restore *r, uint32_t obj, struct vset_obj *o)
{
	const struct robj *ro = &r->objs[obj];
	char path[64];

	if (o->code_tried)
		return o->err;
	o->code_tried = true;
	if (ro->fd < 0) {
		o->err = -EBADF;
	} else {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", ro->fd);
		o->err = elf_code_open_mode(path, &o->code, ELF_CODE_NO_FUNCS);
	}
	return o->err;
}

/* The variant set of the resolver at @resolver in object @obj; NULL only on -ENOMEM. */
static const struct variant_set_entry *vset_get(struct restore *r, uint32_t obj, uint64_t resolver)
{
	struct vset_obj *o = vset_obj(r, obj);
	struct variant_set_entry *e;

	if (!o)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (o->ents[i].resolver == resolver)
			return &o->ents[i];
	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 16;
		struct variant_set_entry *n = realloc(o->ents, cap * sizeof(*n));

		if (!n)
			return NULL;
		o->ents = n, o->cap = cap;
	}
	e = &o->ents[o->n];
	memset(e, 0, sizeof(*e));
	e->resolver = resolver;
	e->err = vset_code(r, obj, o) ?: variant_set_compute(&o->code, resolver, &e->set);
	if (e->err == -ENOMEM)
		return NULL;
	if (e->err) {
		memset(&e->set, 0, sizeof(e->set));
		snprintf(e->set.why, sizeof(e->set.why), "cannot read its code: %s", strerror(-e->err));
	}
	o->n++;
	o->dirty = true;
	return e;
}

/*
 * May slot record @i be re-pointed to the answer (@obj, @off)?  0: yes (the
 * address is one the resolver's own code returns); 1: only if nothing is
 * written (the answer equals the slot's current value); -EPROTO: never
 * (another object, or not a value of the resolver's set); -ENOMEM.
 */
int answer_in_variant_set(struct restore *r, size_t i, int obj, uint64_t off, const char **why)
{
	const Cpuport__Slot *s = r->img->slots[i];
	const struct variant_set_entry *e;

	*why = NULL;
	if (obj < 0 || (uint32_t)obj != s->resolver->object) {
		*why = "it is not in the resolver's object";
		return 1;
	}
	e = vset_get(r, s->resolver->object, s->resolver->offset);
	if (!e)
		return -ENOMEM;
	if (variant_set_has(&e->set, off))
		return 0;	/* found on one of the resolver's paths, even if the set is incomplete */
	if (e->set.known) {
		*why = "the resolver's code cannot return it";
		return -EPROTO;
	}
	*why = e->set.why;	/* unknown: justified only by the value the slot already holds */
	return 1;
}
