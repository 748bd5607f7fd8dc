// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cpuport_restore() and cpuport_check(): the order of the steps.  Find the
 * recorded objects again and check every record against them (verify.c),
 * refuse what no record decides (policy.c), ask cpuport-select what this CPU
 * picks (ask.c), let each dispatcher kind plan its writes (kind_*.c), refuse
 * when a thread stands in code that must change and cannot run here
 * (hazards.c), re-point copied pointers (pointers.c), then write everything
 * and read each write back (writes.c).  restore.h lists the files.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "restore.h"

const char *obj_name(const struct restore *r, uint32_t i)
{
	return i < r->img->n_objects ? r->img->objects[i]->path : "?";
}

uint64_t new_addr(const struct restore *r, uint32_t obj, uint64_t off)
{
	return r->objs[obj].base + off;
}

const Cpuport__State *find_state(const Cpuport__Image *img, uint32_t obj, Cpuport__StateKind kind)
{
	for (size_t i = 0; i < img->n_states; i++)
		if (img->states[i]->object == obj && img->states[i]->kind == kind)
			return img->states[i];
	return NULL;
}

const struct sel_answer *slot_answer(const struct restore *r, size_t i)
{
	return r->slot_ans && r->slot_ans[i] >= 0 ? &r->sel.ans[r->slot_ans[i]] : NULL;
}

const struct sel_answer *state_answer(const struct restore *r, size_t i)
{
	return r->state_ans && r->state_ans[i] >= 0 ? &r->sel.ans[r->state_ans[i]] : NULL;
}

static void restore_free(struct restore *r)
{
	for (size_t i = 0; r->objs && i < r->img->n_objects; i++) {
		if (r->objs[i].fd >= 0)
			close(r->objs[i].fd);
	}
	free(r->objs);
	free(r->slot_ans);
	free(r->state_ans);
	free(r->keys);
	free_writes(r);
	sel_free(&r->sel);
	census_free(r);
	answer_store_free(r);
}

/* this thread's CPU time: the plan's split stays readable on a loaded machine */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Every kind's writes, record by record, in the image's order. */
static int plan_records(struct restore *r)
{
	const Cpuport__Image *img = r->img;
	int ret = 0;

	for (size_t i = 0; i < img->n_slots && !ret; i++) {
		const struct cpuport_kind *k = kind_of_slot(img->slots[i]->kind);

		ret = k && k->plan ? k->plan(r, i) : 0;
	}
	for (size_t i = 0; i < img->n_states && !ret; i++) {
		const struct cpuport_kind *k = kind_of_state(img->states[i]->kind);

		ret = k && k->plan ? k->plan(r, i) : 0;
	}
	for (const struct cpuport_kind *const *k = cpuport_kinds; *k && !ret; k++)
		if ((*k)->plan_all)
			ret = (*k)->plan_all(r);
	return ret;
}

/* Everything up to the writes: shared by restore and check. */
static int plan(struct restore *r)
{
	const Cpuport__Image *img = r->img;
	struct repoint *v = NULL;
	size_t nv = 0;
	uint64_t t[8];
	int ret;

	r->interp = -1;
	r->objs = calloc(img->n_objects + 1, sizeof(*r->objs));
	r->slot_ans = calloc(img->n_slots + 1, sizeof(int));
	r->state_ans = calloc(img->n_states + 1, sizeof(int));
	if (!r->objs || !r->slot_ans || !r->state_ans || sel_init(&r->sel, img->n_objects))
		return -ENOMEM;
	for (size_t i = 0; i < img->n_objects; i++) {
		r->objs[i].rec = img->objects[i];
		r->objs[i].fd = -1;
		if (img->objects[i]->is_interp)
			r->interp = i;
	}
	t[0] = cpu_ns();
	ret = verify_image(r);
	t[1] = cpu_ns();
	ret = ret ?: check_policies(r);
	t[2] = cpu_ns();
	if (ret)
		return ret;
	if (r->ctx->faults & FAULT_NOMEM) {
		log_err(r->ctx, "pid %d: out of memory (injected)\n", r->pid);
		return -ENOMEM;
	}
	ret = ask_all(r);
	t[3] = cpu_ns();
	/* stored answers that do not hold are asked again (restore_with_sites): not the user's error yet */
	r->ctx->log_demote = !ret && r->store.hit;
	ret = ret ?: plan_records(r);
	t[4] = cpu_ns();
	ret = ret ?: collect_repoints(r, &v, &nv);
	ret = ret ?: check_threads(r, v, nv);
	t[5] = cpu_ns();
	ret = ret ?: scan_pointers(r, v, nv);
	t[6] = cpu_ns();
	ret = ret ?: census_scan_pointers(r, v, nv);
	t[7] = cpu_ns();
	r->ctx->log_demote = false;
	free(v);
	log_debug(r->ctx, "pid %d: plan %.2f CPU ms: verify %.2f, policies %.2f, ask %.2f, records %.2f, threads %.2f, "
		  "pointers %.2f, census %.2f\n", r->pid, (t[7] - t[0]) / 1e6, (t[1] - t[0]) / 1e6, (t[2] - t[1]) / 1e6,
		  (t[3] - t[2]) / 1e6, (t[4] - t[3]) / 1e6, (t[5] - t[4]) / 1e6, (t[6] - t[5]) / 1e6, (t[7] - t[6]) / 1e6);
	return ret;
}

/*
 * plan(), and once more without the answer store when its answers did not
 * hold (a damaged or forged entry): the outcome is the helper's own.
 */
static int plan_checked(struct restore *r)
{
	int ret = plan(r);

	if (ret && ret != -ENOMEM && r->store.hit) {
		struct restore again = { .ctx = r->ctx, .img = r->img, .pid = r->pid, .tgt = r->tgt, .sites = r->sites };

		log_warn(r->ctx, "pid %d: the stored selection answers did not hold (%s): removed, asking the helper\n",
			 r->pid, strerror(-ret));
		answer_store_drop(r);
		restore_free(r);
		*r = again;
		r->store.off = true;
		ret = plan(r);
	}
	if (!ret && r->store.hit)
		ret = ask_remember(r);
	else if (!ret)
		answer_store_save(r);	/* best effort: a restore does not fail for its cache */
	return ret;
}

int restore_through(struct cpuport_ctx *ctx, const Cpuport__Image *img, pid_t pid, struct pview *t,
		    struct cpuport_restore_stats *stats)
{
	return restore_with_sites(ctx, img, NULL, pid, t, stats);
}

int restore_with_sites(struct cpuport_ctx *ctx, const Cpuport__Image *img, const struct cpuport_sites *sites,
		       pid_t pid, struct pview *t, struct cpuport_restore_stats *stats)
{
	struct restore r = { .ctx = ctx, .img = img, .pid = pid, .tgt = t, .sites = sites };
	uint64_t t0 = now_ns(), t1;
	int ret;

	ret = plan_checked(&r);
	t1 = now_ns();
	ret = ret ?: apply_writes(&r);
	r.st.select_ns = r.sel.ns;
	r.st.answers_stored = r.store.hit;
	r.st.patch_ns = now_ns() - t1;
	r.st.total_ns = now_ns() - t0;
	r.st.sz = sizeof(r.st);
	if (!ret)
		out_copy(stats, &r.st, sizeof(r.st));
	restore_free(&r);
	return ret;
}

int check_through(struct cpuport_ctx *ctx, const Cpuport__Image *img, pid_t pid, struct pview *t, FILE *f,
		  bool json)
{
	struct restore r = { .ctx = ctx, .img = img, .pid = pid, .tgt = t };
	int ret = plan(&r);

	if (ret == -EDEADLK || ret == 0 || r.sel.done)
		report_check(&r, f, json, ret);
	restore_free(&r);
	return ret;
}

int cpuport_restore(struct cpuport_ctx *ctx, pid_t pid, const struct cpuport_table *table,
		    struct cpuport_restore_stats *stats)
{
	struct pview t;
	int ret;

	if (!out_valid(stats))
		return set_errno(-EINVAL);
	ret = pview_proc_open(&t, pid, true);
	if (ret) {
		log_err(ctx, "pid %d: cannot open its memory for writing: %s\n", pid, strerror(-ret));
		return set_errno(ret);
	}
	ret = restore_with_sites(ctx, table->img, table->sites, pid, &t, stats);
	pview_close(&t);
	return set_errno(ret);
}

int cpuport_check(struct cpuport_ctx *ctx, const struct cpuport_table *table, FILE *f, bool json)
{
	struct pview t;
	int ret;

	ret = pview_image_open(&t, ctx, table->img);
	ret = ret ?: check_through(ctx, table->img, cpuport_table__pid(table), &t, f, json);
	pview_close(&t);
	return set_errno(ret);
}
