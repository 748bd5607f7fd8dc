// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Thread hazards: a thread stopped inside a variant that changes (or with a
 * return address into one near its stack pointer) finishes that variant
 * after the restore.  Fine if it runs on the target; otherwise refuse.
 */
#include <stdlib.h>

#include "restore.h"

int collect_repoints(struct restore *r, struct repoint **out, size_t *n)
{
	struct repoint *v = NULL;
	size_t k = 0;

	for (size_t i = 0; i < r->img->n_slots; i++) {
		const Cpuport__Slot *s = r->img->slots[i];
		const struct sel_answer *a = slot_answer(r, i);
		struct repoint *nvv;
		uint64_t nv;
		size_t j;

		if (!s->bound || !a || a->status != SEL_OK || !s->target || a->obj < 0)
			continue;
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
		v[k++] = (struct repoint){ s->value, nv, s->target->has_size ? s->target->size : 0,
					   s->target->symbol ?: "variant", false };
	}
	*out = v;
	*n = k;
	return 0;
}

/*
 * The words at @sp, up to @max_words, but never past the end of the mapping
 * holding @sp: a thread stopped near the top of its stack is checked too.
 * 0 if none can be read (no process: cpuport check).
 */
static size_t stack_words(const struct restore *r, uint64_t sp, uint64_t *stack, size_t max_words)
{
	uint64_t len = max_words * 8;

	for (size_t i = 0; i < r->tgt->n_maps; i++) {
		const struct proc_map *m = &r->tgt->maps[i];

		if (sp >= m->start && sp < m->end && m->end - sp < len)
			len = (m->end - sp) & ~7ULL;
	}
	return len && !pview_read(r->tgt, sp, stack, len) ? len / 8 : 0;
}

/* A thread whose pc (or a return address near its sp) is inside a variant that changes. */
int check_threads(struct restore *r, const struct repoint *v, size_t n)
{
	for (size_t t = 0; t < r->img->n_threads; t++) {
		const Cpuport__Thread *th = r->img->threads[t];
		uint64_t stack[512] = { 0 };
		size_t nstack = 0;

		if (!th->has_pc)
			continue;
		if (th->has_sp)
			nstack = stack_words(r, th->sp, stack, ARRAY_SIZE(stack));
		for (size_t i = 0; i < n; i++) {
			struct featset missing;
			char miss[256];
			bool in_pc = v[i].len && th->pc >= v[i].old && th->pc < v[i].old + v[i].len;
			bool in_stack = false;

			for (size_t w = 0; w < nstack && !in_pc && !in_stack; w++)
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
			return -EDEADLK;
		}
	}
	return 0;
}
