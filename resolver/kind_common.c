// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What dispatcher kinds share: the slot kinds (ifunc, irelative) ask the
 * helper to call the resolver and re-point the slot; byte states (libgcc,
 * glibc_tuning, most of cpu_features) ask for the helper's copy and write it.
 */
#include <inttypes.h>
#include <string.h>

#include "restore.h"

int slot_bad(struct restore *r, const Cpuport__Slot *s)
{
	log_err(r->ctx, "pid %d: image names slot %#" PRIx64 " of %s, which that file does not have: the image "
		"is corrupt or was tampered with\n", r->pid, s->offset, obj_name(r, s->object));
	return -EBADMSG;
}

int state_bad(struct restore *r, const Cpuport__State *st)
{
	log_err(r->ctx, "pid %d: image names %s at %#" PRIx64 " in %s, which that file does not have there: the "
		"image is corrupt or was tampered with\n", r->pid, st->name ?: "a cached state", st->offset,
		obj_name(r, st->object));
	return -EBADMSG;
}

/* A named variable of the destination's file, at the recorded place and size. */
int state_verify_symbol(struct restore *r, size_t i)
{
	const Cpuport__State *st = r->img->states[i];
	const struct elf_symbol *sym = st->name ? elf_sym_named(r->objs[st->object].elf, st->name) : NULL;

	if (sym && sym->value == st->offset && sym->size == st->size)
		return 0;
	return state_bad(r, st);
}

int slot_ask(struct restore *r, size_t i)
{
	const Cpuport__Slot *s = r->img->slots[i];

	if (!s->bound || !s->target)
		return -1;
	return ask(r, ANS_CALL, s->resolver->object, s->resolver->offset, 0);
}

/* Plan one slot's write; a resolver that could not run keeps a variant that runs here. */
int slot_plan(struct restore *r, size_t i)
{
	const Cpuport__Slot *s = r->img->slots[i];
	const struct sel_answer *a = slot_answer(r, i);
	uint64_t slot = new_addr(r, s->object, s->offset), old = s->value, nv;
	struct featset missing;
	const char *why;
	char miss[256];
	int ok;

	if (!s->bound) {
		r->st.unbound++;
		return 0;
	}
	if (!s->target) {	/* not a code pointer (glibc's __x86_cacheinfo): leave it */
		r->st.unchanged++;
		return 0;
	}
	if (pview_read(r->tgt, slot, &old, 8))
		return -EIO;
	if (!a || a->status != SEL_OK) {
		uint64_t len = s->target->has_size ? s->target->size : 0;

		if (runs_on_target(r, old, len, &missing)) {
			log_warn(r->ctx, "pid %d: resolver of %s in %s could not run here; keeping %s, which runs on "
				 "this CPU\n", r->pid, s->symbol ?: "(IRELATIVE)", obj_name(r, s->object),
				 s->target->symbol ?: "its variant");
			r->st.unchanged++;
			return 0;
		}
		featset_str(&missing, miss, sizeof(miss));
		log_err(r->ctx, "pid %d: resolver of %s in %s could not run here (%s) and the bound variant %s "
			"needs %s: refusing\n", r->pid, s->symbol ?: "(IRELATIVE)", obj_name(r, s->object),
			!a ? "no answer" : a->status == SEL_FAULT ? "it faulted" : "answer outside any object",
			s->target->symbol ?: "?", miss[0] ? miss : "unknown features");
		return -EDEADLK;
	}
	if (!in_code(r, a->obj, a->off)) {
		log_err(r->ctx, "pid %d: new target of %s in %s is not code of %s: refusing\n", r->pid,
			s->symbol ?: s->resolver->symbol ?: "(IRELATIVE)", obj_name(r, s->object), obj_name(r, a->obj));
		return -EPROTO;
	}
	nv = new_addr(r, a->obj, a->off);
	ok = answer_in_variant_set(r, i, a->obj, a->off, &why);
	if (ok < 0 && ok != -EPROTO)
		return ok;
	if (ok && (ok < 0 || nv != old)) {
		log_err(r->ctx, "pid %d: the helper's new target of %s in %s, %s+%#" PRIx64 ", is not a variant "
			"its resolver can return (%s): refusing\n", r->pid,
			s->symbol ?: s->resolver->symbol ?: "(IRELATIVE)", obj_name(r, s->object), obj_name(r, a->obj),
			a->off, why);
		return -EPROTO;
	}
	if (nv == old) {
		r->st.unchanged++;
		return 0;
	}
	r->st.patched++;
	return add_write(r, slot, &nv, 8, s->symbol ?: s->resolver->symbol ?: "IRELATIVE slot");
}

static void sym_name(const struct restore *r, uint32_t obj, uint64_t off, char *buf, size_t len)
{
	const struct elf_symbol *s = obj < r->img->n_objects ? elf_sym_at(r->objs[obj].elf, off) : NULL;

	if (s && s->value == off)
		snprintf(buf, len, "%s", s->name);
	else if (s)
		snprintf(buf, len, "%s+%#" PRIx64, s->name, off - s->value);
	else
		snprintf(buf, len, "%s+%#" PRIx64, obj_name(r, obj), off);
}

/* One row of the check report: what the slot is bound to, what that needs, what the target gets. */
void slot_explain(struct restore *r, size_t i, FILE *f, bool json, bool first)
{
	const Cpuport__Slot *s = r->img->slots[i];
	const struct sel_answer *a = slot_answer(r, i);
	const char *was = s->target && s->target->symbol ? s->target->symbol : s->bound ? "(not code)" : "(unbound)";
	const char *sym = s->symbol ?: s->resolver->symbol ?: "(IRELATIVE)";
	struct featset need = { 0 }, missing;
	char needs[128] = "", now[256];

	if (s->target && s->target->has_size &&
	    !code_needs(r, r->img->objects[s->target->object]->load_base + s->target->offset, s->target->size, &need)) {
		featset_str(&need, needs, sizeof(needs) - 2);
		missing.w[0] = need.w[0] & ~r->ctx->target.feat.w[0];
		missing.w[1] = need.w[1] & ~r->ctx->target.feat.w[1];
		if (missing.w[0] || missing.w[1])
			strcat(needs, " !");	/* the target lacks some of it */
	}
	if (a && a->status == SEL_OK)
		sym_name(r, a->obj, a->off, now, sizeof(now));
	else
		snprintf(now, sizeof(now), "%s", !s->bound ? "(binds lazily)" : s->target ? "(no answer)" : "(left alone)");
	if (!json) {
		fprintf(f, "%-24s %-34s %-22s %-34s %s\n", sym, was, needs[0] ? needs : "-", now, obj_name(r, s->object));
		return;
	}
	fprintf(f, "%s{\"symbol\":", first ? "" : ",");
	print_json_str(f, sym);
	fprintf(f, ",\"object\":");
	print_json_str(f, obj_name(r, s->object));
	fprintf(f, ",\"offset\":%" PRIu64 ",\"bound\":", s->offset);
	print_json_str(f, was);
	fprintf(f, ",\"needs\":");
	print_json_str(f, needs);
	fprintf(f, ",\"target\":");
	print_json_str(f, now);
	fprintf(f, ",\"changes\":%s}", strcmp(was, now) && s->bound ? "true" : "false");
}

int state_ask_read(struct restore *r, size_t i)
{
	const Cpuport__State *s = r->img->states[i];

	return ask(r, ANS_READ, s->object, s->offset, s->size);
}

/* Write the helper's copy of a state, of exactly the recorded size. */
int state_plan_bytes(struct restore *r, size_t i)
{
	const Cpuport__State *s = r->img->states[i];
	const struct sel_answer *a = state_answer(r, i);

	if (!a || a->status != SEL_OK) {
		log_err(r->ctx, "pid %d: helper could not read %s in %s\n", r->pid, s->name ?: "state",
			obj_name(r, s->object));
		return -ECHILD;
	}
	r->st.states++;
	if (a->len != s->size)
		return -EPROTO;
	return add_write(r, new_addr(r, s->object, s->offset), a->bytes, a->len, s->name);
}
