// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Dispatcher kind "cpu_features": ld.so's CPU state inside _rtld_global_ro
 * (cpu_features, _dl_hwcap, _dl_platform, _dl_minsigstacksize), which later
 * lazy binds, dlopen and the trampoline's XSAVE area follow.  Where it lies
 * depends on the glibc build (glibc_layout.c); the helper's ld.so says where
 * its own is ("cpu_features") and what it holds here.
 */
#include <string.h>

#include "restore.h"

static int record(struct scan *s, int oi)
{
	const struct elf_info *e = scan_elf(s, oi);
	const struct glibc_layout *l;
	const struct elf_symbol *ro;
	int ret;

	if (!scan_is_interp(s, oi))
		return 0;
	l = glibc_layout_find(e->glibc_version);
	ro = elf_dynsym_find(e, "_rtld_global_ro", NULL);
	if (!l || !ro) {
		log_warn(scan_ctx(s), "pid %d: %s: glibc %s has no known layout; its cpu_features cannot be refreshed\n",
			 scan_pid(s), scan_path(s, oi), e->glibc_version[0] ? e->glibc_version : "(unknown)");
		return 0;
	}
	ret = scan_add_state(s, oi, CPUPORT__STATE_KIND__CPU_FEATURES, "cpu_features", ro->value + l->cpu_features,
			     l->cpu_features_size, false);
	ret = ret ?: scan_add_state(s, oi, CPUPORT__STATE_KIND__RTLD_HWCAP, "_dl_hwcap", ro->value + l->hwcap, 8, false);
	ret = ret ?: scan_add_state(s, oi, CPUPORT__STATE_KIND__RTLD_PLATFORM, "_dl_platform", ro->value + l->platform, 8,
				    true);
	ret = ret ?: scan_add_state(s, oi, CPUPORT__STATE_KIND__RTLD_MINSIGSTKSZ, "_dl_minsigstacksize",
				    ro->value + l->minsigstacksize, 8, false);
	return ret;
}

static int verify(struct restore *r, size_t i)
{
	const Cpuport__State *st = r->img->states[i];
	const Cpuport__Object *o = r->img->objects[st->object];
	const struct glibc_layout *l = glibc_layout_find(o->glibc_version);
	const struct elf_symbol *ro = elf_dynsym_find(r->objs[st->object].elf, "_rtld_global_ro", NULL);
	uint64_t want, size;

	if (!o->is_interp || !l || !ro)
		return state_bad(r, st);
	want = ro->value + (st->kind == CPUPORT__STATE_KIND__CPU_FEATURES ? l->cpu_features
			    : st->kind == CPUPORT__STATE_KIND__RTLD_HWCAP ? l->hwcap
			    : st->kind == CPUPORT__STATE_KIND__RTLD_PLATFORM ? l->platform
									      : l->minsigstacksize);
	size = st->kind == CPUPORT__STATE_KIND__CPU_FEATURES ? l->cpu_features_size : 8;
	if (want == st->offset && size == st->size)
		return 0;
	return state_bad(r, st);
}

static int ask_state(struct restore *r, size_t i)
{
	const Cpuport__State *s = r->img->states[i];

	if (s->kind == CPUPORT__STATE_KIND__RTLD_PLATFORM)	/* a pointer into ld.so's strings */
		return ask(r, ANS_PTR, s->object, s->offset, s->size);
	return state_ask_read(r, i);
}

/* The helper's bytes decode as this glibc's structure and agree with this CPU (cpu_features_check.c). */
static int bytes_consistent(struct restore *r, const Cpuport__State *s, const struct sel_answer *a)
{
	const struct glibc_layout *l = glibc_layout_find(r->img->objects[s->object]->glibc_version);
	char why[256];
	uint64_t v;
	int ret;

	if (!l)
		return -EPROTO;	/* verify() refused already */
	if (s->kind == CPUPORT__STATE_KIND__CPU_FEATURES) {
		ret = cpu_features_consistent(l, a->bytes, a->len, why, sizeof(why));
	} else {
		memcpy(&v, a->bytes, 8);
		ret = rtld_word_consistent(s->kind == CPUPORT__STATE_KIND__RTLD_HWCAP, v, why, sizeof(why));
	}
	if (ret)
		log_err(r->ctx, "pid %d: the helper's %s of %s does not decode as glibc %s's on this CPU (%s): "
			"refusing\n", r->pid, s->name, obj_name(r, s->object), l->version, why);
	return ret;
}

static int plan(struct restore *r, size_t i)
{
	const Cpuport__State *s = r->img->states[i];
	const struct sel_answer *a = state_answer(r, i);
	uint64_t v;
	int ret;

	if (s->kind == CPUPORT__STATE_KIND__CPU_FEATURES &&
	    (r->sel.cpu_features_obj != (int)s->object || r->sel.cpu_features_off != s->offset)) {
		log_err(r->ctx, "pid %d: ld.so's cpu_features is not where glibc %s keeps it: unsupported glibc build\n",
			r->pid, r->sel.glibc);
		return -EPROTO;
	}
	if (s->kind != CPUPORT__STATE_KIND__RTLD_PLATFORM) {
		ret = a && a->status == SEL_OK && a->len == s->size ? bytes_consistent(r, s, a) : 0;
		return ret ?: state_plan_bytes(r, i);
	}
	if (a && a->status == SEL_OUTSIDE) {
		/* AT_PLATFORM on the stack, not one of ld.so's names: the process's own is as good */
		log_debug(r->ctx, "pid %d: _dl_platform comes from AT_PLATFORM here: left as restored\n", r->pid);
		return 0;
	}
	if (!a || a->status != SEL_OK)
		return state_plan_bytes(r, i);	/* says why it refuses */
	r->st.states++;
	v = a->obj < 0 ? 0 : new_addr(r, a->obj, a->off);
	return add_write(r, new_addr(r, s->object, s->offset), &v, 8, s->name);
}

const struct cpuport_kind kind_cpu_features = {
	.name = "cpu_features",
	.table = KIND_STATES,
	.state_kinds = 1u << CPUPORT__STATE_KIND__CPU_FEATURES | 1u << CPUPORT__STATE_KIND__RTLD_HWCAP |
		       1u << CPUPORT__STATE_KIND__RTLD_PLATFORM | 1u << CPUPORT__STATE_KIND__RTLD_MINSIGSTKSZ,
	.max_size = SELP_MAX_READ,
	.record = record,
	.verify = verify,
	.ask = ask_state,
	.plan = plan,
};
