// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Thread hazards: a thread stopped inside a variant that changes (or with a
 * return address into one near its stack pointer) finishes that variant
 * after the restore.  Fine if it runs on the target; otherwise refuse.
 */
#include <stdlib.h>
#include <string.h>

#include <inttypes.h>

#include "restore.h"

/*
 * How long the old variant of @s is: its symbol's size when the dump knew it,
 * else its extent from the object's unwind information (.eh_frame), so that
 * the hazard checks work without debug symbols (defect 8).  0: unknown.
 */
static uint64_t variant_len(struct restore *r, const Cpuport__Slot *s)
{
	const struct robj *o = &r->objs[s->target->object];
	uint64_t start, len;

	if (s->target->has_size && s->target->size)
		return s->target->size;
	if (!eh_frame_extent(o->fd, o->elf, s->target->offset, &start, &len) && start == s->target->offset)
		return len;
	return 0;
}

int collect_repoints(struct restore *r, struct repoint **out, size_t *n)
{
	struct repoint *v = NULL;
	size_t k = 0;

	for (size_t i = 0; i < r->img->n_slots; i++) {
		const Cpuport__Slot *s = r->img->slots[i];
		const struct sel_answer *a = slot_answer(r, i);
		struct repoint *nvv;
		uint64_t nv, live = 0;
		size_t j;

		if (!s->bound || !a || a->status != SEL_OK || !s->target || a->obj < 0)
			continue;
		/*
		 * The old value chooses which words the pointer scan replaces: it
		 * must be the recorded variant's address, code of its object, and
		 * what the slot holds in the restored process (defect 7).
		 */
		if (s->value != new_addr(r, s->target->object, s->target->offset) ||
		    !in_code(r, s->target->object, s->target->offset) ||
		    (!r->tgt->as_recorded &&
		     (pview_read(r->tgt, new_addr(r, s->object, s->offset), &live, 8) || live != s->value))) {
			log_err(r->ctx, "pid %d: image says slot %#" PRIx64 " of %s held %#" PRIx64 ", which is not its "
				"recorded variant's code or not what the process holds: the image is corrupt or was "
				"tampered with\n", r->pid, s->offset, obj_name(r, s->object), s->value);
			free(v);
			return -EBADMSG;
		}
		nv = new_addr(r, a->obj, a->off);
		if (nv == s->value)
			continue;
		for (j = 0; j < k && v[j].old != s->value; j++)
			;
		if (j < k) {
			v[j].ambiguous |= v[j].new_ != nv;
			continue;
		}
		nvv = realloc(v, (k + 1) * sizeof(*v));
		if (!nvv) {
			free(v);
			return -ENOMEM;
		}
		v = nvv;
		v[k++] = (struct repoint){ s->value, nv, variant_len(r, s), s->target->symbol ?: "variant", false };
	}
	*out = v;
	*n = k;
	return 0;
}

#define MAX_STACK (64u << 20)

/*
 * The whole used stack of a thread: from @sp to the end of the mapping
 * holding it (stacks grow down), malloc()ed in *out.  Words, or -errno:
 * a stack cpuport cannot read whole is not checked "partly" (defect 8).
 * 0 words: no process (cpuport check) or no mapping holds @sp.
 */
static ssize_t used_stack(const struct restore *r, uint64_t sp, uint64_t **out)
{
	uint64_t len = 0;

	*out = NULL;
	for (size_t i = 0; i < r->tgt->n_maps; i++) {
		const struct proc_map *m = &r->tgt->maps[i];

		if (sp >= m->start && sp < m->end)
			len = (m->end - sp) & ~7ULL;
	}
	if (!len)
		return 0;
	if (len > MAX_STACK)
		return -E2BIG;
	*out = malloc(len);
	if (!*out)
		return -ENOMEM;
	if (pview_read(r->tgt, sp, *out, len)) {
		free(*out);
		*out = NULL;
		return -EFAULT;
	}
	return len / 8;
}

/* A thread whose pc (or a return address near its sp) is inside a variant that changes. */
int check_threads(struct restore *r, const struct repoint *v, size_t n)
{
	for (size_t t = 0; t < r->img->n_threads; t++) {
		const Cpuport__Thread *th = r->img->threads[t];
		uint64_t *stack = NULL;
		ssize_t nstack = 0;

		if (!th->has_pc)
			continue;
		if (th->has_sp)
			nstack = used_stack(r, th->sp, &stack);
		if (nstack < 0) {
			log_err(r->ctx, "pid %d: cannot read the stack of thread %u at %#" PRIx64 " (%s) to check it for "
				"returns into variants that change: refusing\n", r->pid, th->tid, th->sp,
				strerror((int)-nstack));
			return (int)nstack == -ENOMEM ? -ENOMEM : -EFAULT;
		}
		for (size_t i = 0; i < n; i++) {
			struct featset missing;
			char miss[256];
			bool in_pc = v[i].len && th->pc >= v[i].old && th->pc < v[i].old + v[i].len;
			bool in_stack = false;

			/* no symbol size and no unwind entry: where it ends is unknown, so is whether a thread is in it */
			if (!v[i].len && !runs_on_target(r, v[i].old, 0, &missing)) {
				log_err(r->ctx, "pid %d: cannot tell where %s at %#" PRIx64 " ends (no symbol size, no unwind "
					"entry), so whether thread %u is inside it, and this CPU (%s) cannot run it: "
					"refusing; install the object's debug file or re-dump elsewhere\n", r->pid, v[i].name,
					v[i].old, th->tid, target_label(r));
				free(stack);
				return -EDEADLK;
			}

			for (ssize_t w = 0; w < nstack && !in_pc && !in_stack; w++)
				in_stack = v[i].len && stack[w] > v[i].old && stack[w] < v[i].old + v[i].len;
			if (!in_pc && !in_stack)
				continue;
			if (runs_on_target(r, v[i].old, v[i].len, &missing)) {
				log_warn(r->ctx, "pid %d: thread %u is inside %s, which still runs on this CPU: it finishes "
					 "there, later calls use the new variant\n", r->pid, th->tid, v[i].name);
				continue;
			}
			featset_str(&missing, miss, sizeof(miss));
			log_err(r->ctx, "pid %d: thread %u stopped %s %s, which needs %s that this CPU (%s) lacks: "
				"cannot make the process safe; re-dump it when the thread is elsewhere (e.g. idle "
				"in a system call)\n", r->pid, th->tid, in_pc ? "inside" : "with a return into", v[i].name,
				miss[0] ? miss : "instructions", target_label(r));
			free(stack);
			return -EDEADLK;
		}
		free(stack);
	}
	return 0;
}
